"""Patch decide code (plugins/module_utils/patch_decide.py) on recorded and reconstructed inputs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from maint_utils import patch_decide as pd

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "patch"
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "check_result.schema.json").read_text())
NOW = dt.datetime(2026, 11, 22, 21, 40, tzinfo=dt.UTC)

LAB_BASE = {"origin": "maintctl-lab", "label": "Lab-Base", "archive": "lab-base", "codename": "lab-base"}
LAB_UPD = {"origin": "maintctl-lab", "label": "Lab-Updates", "archive": "lab-updates", "codename": "lab-updates"}
LAB_SEC = {"origin": "maintctl-lab", "label": "Lab-Security", "archive": "lab-security", "codename": "lab-security"}
DEB_SEC = {"origin": "Debian", "label": "Debian-Security", "archive": "stable-security",
           "codename": "bookworm-security"}
RELEASES = [
    {"origin": "maintctl-lab", "label": "Lab-Security", "suite": "lab-security", "codename": "lab-security",
     "date": "Sun, 01 Nov 2026 08:00:00 UTC"},
    {"origin": "maintctl-lab", "label": "Lab-Updates", "suite": "lab-updates", "codename": "lab-updates",
     "date": "Sat, 21 Nov 2026 08:00:00 UTC"},
]


def valid(result: dict) -> dict:
    full = dict(result, client="c", host="h", run_id="r")
    jsonschema.validate(full, SCHEMA)
    return result


def lab_upgradable() -> list[dict]:
    """What apt_patch_facts reads on the lab's web02 after lab/setup_patch.yml (python3-apt origins)."""
    return [
        {"name": "lab-tool", "installed": "1.0", "candidate": "1.1",
         "versions": [{"version": "1.1", "origins": [LAB_UPD]}]},
        {"name": "lab-libsafe", "installed": "1.0", "candidate": "1.0+sec1",
         "versions": [{"version": "1.0+sec1", "origins": [LAB_SEC]}]},
        {"name": "lab-pinned", "installed": "1.0", "candidate": "1.0+sec1",
         "versions": [{"version": "1.0+sec1", "origins": [LAB_SEC]}]},
        {"name": "lab-kernel", "installed": "1.0", "candidate": "1.0+sec1",
         "versions": [{"version": "1.0+sec1", "origins": [LAB_SEC]}]},
    ]


def policy(**kw: object) -> dict:
    return pd.effective_policy(kw)


# -- policy --------------------------------------------------------------------------------

@pytest.mark.parametrize(("bad", "message"), [
    ({"mode": "everything"}, "mode 'everything'"),
    ({"reboot": "sometimes"}, "reboot 'sometimes'"),
    ({"exclude": "lab-*"}, "exclude: expected a list"),
    ({"min_free_mb": -1}, "min_free_mb"),
    ({"exclude_titles": ["(unclosed"]}, "regex '(unclosed'"),
])
def test_bad_policy_one_line(bad: dict, message: str) -> None:
    with pytest.raises(pd.PolicyError, match=message.replace("(", r"\(")):
        pd.effective_policy(bad)


def test_defaults_are_safe() -> None:
    p = pd.effective_policy(None)
    assert p["mode"] == "security" and p["reboot"] == "if_required" and p["exclude"] == []


# -- selection -------------------------------------------------------------------------------

def test_security_mode_selects_only_security_updates_and_never_held() -> None:
    out = {p["name"]: p for p in pd.classify(lab_upgradable(), ["lab-pinned"], policy())}
    assert out["lab-libsafe"]["target"] == "1.0+sec1" and out["lab-libsafe"]["security"]
    assert out["lab-kernel"]["target"] == "1.0+sec1"
    assert out["lab-tool"]["target"] is None and "not a security update" in out["lab-tool"]["reason"]
    assert out["lab-pinned"]["target"] is None and out["lab-pinned"]["reason"] == "held"
    assert pd.install_specs(list(out.values())) == ["lab-kernel=1.0+sec1", "lab-libsafe=1.0+sec1"]


def test_all_mode_installs_candidates_but_never_held_or_excluded() -> None:
    out = pd.classify(lab_upgradable(), ["lab-pinned"], policy(mode="all", exclude=["lab-kern*"]))
    assert pd.install_specs(out) == ["lab-libsafe=1.0+sec1", "lab-tool=1.1"]
    reasons = {p["name"]: p["reason"] for p in out}
    assert reasons["lab-kernel"] == "excluded by policy" and reasons["lab-pinned"] == "held"


def test_accept_list_adds_a_non_security_update_and_exclusion_wins() -> None:
    out = pd.classify(lab_upgradable(), [], policy(accept=["lab-tool", "lab-libsafe"], exclude=["lab-libsafe"]))
    specs = pd.install_specs(out)
    assert "lab-tool=1.1" in specs and not any(s.startswith("lab-libsafe") for s in specs)


def test_security_mode_picks_the_security_version_not_a_newer_ordinary_candidate() -> None:
    # openssl: the candidate 3.0.15-1~deb12u1 comes from bookworm-updates; 3.0.14-1~deb12u2
    # from bookworm-security. Security-only mode must install the security version.
    pkg = {"name": "openssl", "installed": "3.0.13-1~deb12u1", "candidate": "3.0.15-1~deb12u1",
           "versions": [{"version": "3.0.15-1~deb12u1", "origins": [{"label": "Debian", "archive": "stable-updates"}]},
                        {"version": "3.0.14-1~deb12u2", "origins": [DEB_SEC]}]}
    (entry,) = pd.classify([pkg], [], policy())
    assert entry["target"] == "3.0.14-1~deb12u2"
    (entry_all,) = pd.classify([pkg], [], policy(mode="all"))
    assert entry_all["target"] == "3.0.15-1~deb12u1"


@pytest.mark.parametrize(("origin", "expected"), [
    (DEB_SEC, True), (LAB_SEC, True), (LAB_UPD, False), (LAB_BASE, False),
    ({"origin": "Ubuntu", "label": "Ubuntu", "archive": "jammy-security"}, True),
    ({"origin": "Ubuntu", "label": "Ubuntu", "archive": "jammy-updates"}, False),
])
def test_security_origins(origin: dict, expected: bool) -> None:
    assert pd.is_security_origin(origin) is expected


# -- scan results -------------------------------------------------------------------------------

def scan_facts(**kw: object) -> dict:
    pol = policy()
    pending = pd.classify(lab_upgradable(), ["lab-pinned"], pol)
    for p in pending:
        if p["security"]:
            p["security_origins"] = [LAB_SEC]
    facts = {"manager": "apt", "refresh_error": None, "pending": pending, "releases": RELEASES,
             "reboot_required": False, "reboot_required_pkgs": [], "last_upgrade": None, "logs_since": None}
    facts.update(kw)
    return facts


def by_check(results: list[dict]) -> dict[str, dict]:
    return {valid(r)["check"]: r for r in results}


def test_scan_results_count_exactly_and_grade() -> None:
    res = by_check(pd.scan_results(scan_facts(), policy(), NOW))
    assert res["patch.pending"]["observed"]["count"] == 3          # lab-tool, lab-libsafe, lab-kernel
    assert res["patch.pending"]["observed"]["held"] == ["lab-pinned"]
    assert res["patch.pending"]["status"] == "ok"                  # security mode: non-security pending is by policy
    sec = res["patch.pending_security"]
    assert sec["observed"]["count"] == 2 and sec["observed"]["packages"] == ["lab-kernel", "lab-libsafe"]
    assert sec["observed"]["held"] == ["lab-pinned"]
    assert sec["observed"]["oldest_age_days"] == 21.6              # Release date of lab-security, 1 Nov 08:00
    assert sec["status"] == "critical"                             # older than 14 days
    assert res["patch.reboot_required"]["status"] == "ok"
    assert res["patch.last_patched"]["status"] == "unknown"        # nobody read a date: never ok


def test_scan_results_recent_security_is_a_warning_and_stale_lists_unknown() -> None:
    res = by_check(pd.scan_results(scan_facts(), policy(security_max_age_days=30), NOW))
    assert res["patch.pending_security"]["status"] == "warning"
    stale = by_check(pd.scan_results(scan_facts(refresh_error="E: Failed to fetch"), policy(), NOW))
    assert stale["patch.pending"]["status"] == "unknown" and stale["patch.pending_security"]["status"] == "unknown"
    assert "could not be refreshed" in stale["patch.pending"]["summary"]


def test_all_mode_pending_is_a_warning_and_reboot_flag() -> None:
    res = by_check(pd.scan_results(scan_facts(reboot_required=True, reboot_required_pkgs=["lab-kernel"]),
                                   policy(mode="all"), NOW))
    assert res["patch.pending"]["status"] == "warning"
    assert res["patch.reboot_required"]["status"] == "warning"
    assert "lab-kernel" in res["patch.reboot_required"]["summary"]
    unknown = by_check(pd.scan_results(scan_facts(reboot_required=None), policy(), NOW))
    assert unknown["patch.reboot_required"]["status"] == "unknown"


def test_last_patched_from_recorded_history_and_dpkg_log() -> None:
    history = (FIX / "apt" / "history.log").read_text()
    when = pd.last_upgrade_from_history(history)
    assert when == dt.datetime(2026, 11, 22, 21, 31, 36)           # the Upgrade transaction, not the Install one
    assert pd.last_upgrade_from_dpkg_log((FIX / "apt" / "dpkg.log").read_text()) == dt.datetime(2026, 11, 22, 21, 31, 37)
    assert pd.last_upgrade_from_history("Start-Date: 2026-11-20  10:00:00\nInstall: a:amd64 (1)\n") is None
    failed = "Start-Date: 2026-11-21  10:00:00\nUpgrade: a:amd64 (1, 2)\nError: Sub-process returned an error\n"
    assert pd.last_upgrade_from_history(failed) is None
    res = by_check(pd.scan_results(scan_facts(last_upgrade=NOW - dt.timedelta(days=40)), policy(), NOW))
    assert res["patch.last_patched"]["status"] == "warning" and res["patch.last_patched"]["observed"]["days"] == 40.0


# -- pre-checks -----------------------------------------------------------------------------------

def test_precheck_lock_held_skips_the_host() -> None:
    facts = {"free_mb": {"/": 5000, "/var": 5000},
             "locks": {"/var/lib/dpkg/lock-frontend": {"held": True, "pid": 747}, "/var/lib/dpkg/lock": {"held": False}}}
    ok, res = pd.precheck(facts, policy())
    assert not ok and valid(res)["status"] == "critical"
    assert "lock-frontend is held by pid 747" in res["summary"]


def test_precheck_free_space_unread_lock_and_backup() -> None:
    ok, res = pd.precheck({"free_mb": {"/": 100, "/var": 5000}, "locks": {}}, policy(min_free_mb=200))
    assert not ok and "/ has 100 MB free (minimum 200)" in res["summary"]
    ok, res = pd.precheck({"free_mb": {"/": 900, "/var": None}, "locks": {"/var/lib/dpkg/lock": None}}, policy())
    assert not ok and "could not read free space on /var" in res["summary"] and "lock /var/lib/dpkg/lock" in res["summary"]
    good = {"free_mb": {"/": 900, "/var": 900}, "locks": {"/var/lib/dpkg/lock": {"held": False}}}
    assert pd.precheck(good, policy())[0] is True
    need = policy(require_backup_within_rpo=True)
    assert pd.precheck(good, need, backup_age_hours=None, rpo_hours=26)[0] is False
    assert pd.precheck(good, need, backup_age_hours=30, rpo_hours=26)[0] is False
    assert pd.precheck(good, need, backup_age_hours=3, rpo_hours=26)[0] is True


# -- install, reboot, post-check --------------------------------------------------------------------

def test_install_results_versions_and_failures() -> None:
    planned = [{"name": "lab-libsafe", "target": "1.0+sec1", "security": True},
               {"name": "lab-kernel", "target": "1.0+sec1", "security": True}]
    res = by_check(pd.install_results(planned, {"lab-libsafe": "1.0", "lab-kernel": "1.0"},
                                      {"lab-libsafe": "1.0+sec1", "lab-kernel": "1.0+sec1"}))
    assert res["patch.installed"]["changed"] is True
    assert res["patch.installed"]["observed"]["packages"][0] == {"name": "lab-libsafe", "from": "1.0",
                                                                 "to": "1.0+sec1", "security": True}
    assert res["patch.failed"]["status"] == "ok"
    bad = by_check(pd.install_results(planned, {"lab-libsafe": "1.0", "lab-kernel": "1.0"},
                                      {"lab-libsafe": "1.0+sec1", "lab-kernel": "1.0"}, "E: dpkg was interrupted"))
    assert bad["patch.failed"]["status"] == "critical"
    assert "lab-kernel (wanted 1.0+sec1, has 1.0)" in bad["patch.failed"]["summary"]
    none = by_check(pd.install_results([], {}, {}))
    assert none["patch.installed"]["changed"] is False and none["patch.installed"]["summary"] == "nothing to install"


@pytest.mark.parametrize(("reboot", "required", "installed", "allowed", "action"), [
    ("never", True, True, True, "skip"),
    ("if_required", False, True, True, "skip"),
    ("if_required", True, True, True, "reboot"),
    ("if_required", True, False, True, "reboot"),      # flagged by an earlier run
    ("if_required", None, True, True, "skip"),         # unknown: no reboot on a guess
    ("always", False, True, True, "reboot"),
    ("always", False, False, True, "skip"),
    ("if_required", True, True, False, "defer"),       # the window is closing
])
def test_reboot_decision(reboot: str, required: bool | None, installed: bool, allowed: bool, action: str) -> None:
    got, reason = pd.reboot_decision(policy(reboot=reboot), required, installed, allowed, "only 10 min left")
    assert got == action
    res = valid(pd.reboot_result(got, reason, rebooted=True, elapsed=12))
    assert res["check"] == "patch.rebooted"
    if action == "defer":
        assert res["status"] == "warning" and "only 10 min left" in res["summary"]
    if reboot == "never" and required:
        assert res["status"] == "warning"


def test_post_check_uses_processes() -> None:
    procs = ["sshd", "sshd: /usr/sbin/sshd -D -e [listener] 0 of 10-100 startups", "bash", "/usr/sbin/cron -f"]
    assert valid(pd.post_check(procs, ["sshd", "cron"]))["status"] == "ok"
    res = pd.post_check(procs, ["sshd", "nginx"])
    assert res["status"] == "critical" and res["observed"]["missing"] == ["nginx"]


def test_deferred_result() -> None:
    res = valid(pd.deferred_result("only 12 min left in the window (minimum 30)"))
    assert res["check"] == "patch.deferred" and res["item"] == "install"


# -- dnf (reconstructed output format) -----------------------------------------------------------------

def test_dnf_parsing_and_classification() -> None:
    cu = (FIX / "dnf" / "check-update.txt").read_text()
    ul = (FIX / "dnf" / "updateinfo-list.txt").read_text()
    ui = (FIX / "dnf" / "updateinfo-info.txt").read_text()
    pending = pd.parse_dnf_check_update(cu)
    assert [p["name"] for p in pending] == ["curl", "libcurl", "openssl", "openssl-libs",
                                            "python3-setuptools-wheel", "tzdata", "vim-minimal"]
    assert pending[2]["version"] == "1:3.0.7-27.el9_4.2"
    advisories = pd.parse_dnf_updateinfo_list(ul)
    assert {a["name"] for a in advisories} == {"curl", "libcurl", "openssl", "openssl-libs"}
    assert advisories[0]["severity"] == "Important"
    issued = pd.parse_dnf_updateinfo_info(ui)
    assert issued["RLSA-2024:5654"] == dt.datetime(2024, 8, 20, tzinfo=dt.UTC)
    upgradable, locked = pd.dnf_pending(cu, ul, {"curl": "7.76.1-29.el9_4", "tzdata": "2024a-1.el9"}, ["vim-minimal"])
    out = {p["name"]: p for p in pd.classify(upgradable, locked, policy())}
    assert out["curl"]["target"] == "7.76.1-29.el9_4.1" and out["curl"]["security"]
    assert out["tzdata"]["target"] is None and out["vim-minimal"]["reason"] == "held"
    assert pd.dnf_security_age_days(ul, ui, NOW) == pytest.approx((NOW - dt.datetime(2024, 8, 20, tzinfo=dt.UTC)).days, abs=1)


def dnf_text(name: str) -> str:
    return (FIX / "dnf" / name).read_text()


def dnf_outputs(**over: object) -> dict:
    """What dnf_patch_facts reads on a Rocky 9 host (RECONSTRUCTED dnf 4 output, see fixtures README)."""
    outputs: dict = {
        "check_update": {"rc": 100, "out": dnf_text("check-update.txt"), "err": ""},
        "updateinfo_list": {"rc": 0, "out": dnf_text("updateinfo-list.txt"), "err": ""},
        "updateinfo_info": {"rc": 0, "out": dnf_text("updateinfo-info.txt"), "err": ""},
        "rpm": {"rc": 0, "out": dnf_text("rpm-qa.txt"), "err": ""},
        "versionlock": {"rc": 0, "out": dnf_text("versionlock-list.txt"), "err": ""},
        "needs_restarting": {"rc": 1, "out": dnf_text("needs-restarting-required.txt"), "err": ""},
        "rpm_log": dnf_text("dnf.rpm.log"),
        "logs_since": "2024-03-28T14:27:24+00 SUBDEBUG",
    }
    outputs.update(over)
    return outputs


def test_rpm_query_writes_versions_as_dnf_does() -> None:
    installed = pd.parse_rpm_query(dnf_text("rpm-qa.txt"))
    assert installed["curl"] == "7.76.1-26.el9_3.3"  # (none): no epoch
    assert installed["openssl"] == "1:3.0.7-25.el9_3"  # epoch 1 kept, as check-update prints it
    assert installed["python3-setuptools-wheel"] == "53.0.0-12.el9"  # explicit epoch 0 left out
    assert installed["vim-minimal"] == "2:8.2.2637-20.el9_1"
    assert "package" not in installed and pd.parse_rpm_query("package foo is not installed\n") == {}


def test_versionlock_list_gives_the_locked_names_only() -> None:
    assert pd.parse_dnf_versionlock(dnf_text("versionlock-list.txt")) == ["vim-minimal"]  # "!tzdata" excludes
    assert pd.parse_dnf_versionlock("") == []


@pytest.mark.parametrize(("rc", "name", "expected"), [
    (1, "needs-restarting-required.txt", (True, ["kernel", "systemd"])),
    (0, "needs-restarting-none.txt", (False, [])),
    # The plugin missing: dnf prints "No such command" on stderr and exits 1: unknown, not "required".
    (1, None, (None, [])),
    (0, None, (None, [])),
])
def test_needs_restarting(rc: int, name: str | None, expected: tuple) -> None:
    assert pd.parse_needs_restarting(rc, dnf_text(name) if name else "") == expected


def test_last_upgrade_from_dnf_rpm_log() -> None:
    # 2026-11-02T03:15:41+0100 is the last Upgrade/Upgraded line; Installed and Erase are not upgrades.
    assert pd.last_upgrade_from_dnf_rpm_log(dnf_text("dnf.rpm.log")) == dt.datetime(2026, 11, 2, 2, 15, 41,
                                                                                     tzinfo=dt.UTC)
    assert pd.last_upgrade_from_dnf_rpm_log("2024-03-28T14:27:24+00 SUBDEBUG Upgraded: a-1-1.noarch") == \
        dt.datetime(2024, 3, 28, 14, 27, 24, tzinfo=dt.UTC)
    assert pd.last_upgrade_from_dnf_rpm_log("2026-11-05T03:00:00+0000 SUBDEBUG Erase: htop-3.3.0-1.el9.x86_64") is None


def test_dnf_state_security_mode() -> None:
    facts = pd.dnf_state(dnf_outputs(), policy(), NOW)
    assert facts["refresh_error"] is None and facts["manager"] == "dnf"
    out = {p["name"]: p for p in facts["pending"]}
    assert sorted(out) == ["curl", "libcurl", "openssl", "openssl-libs", "python3-setuptools-wheel", "tzdata",
                           "vim-minimal"]
    assert out["openssl"]["installed"] == "1:3.0.7-25.el9_3" and out["openssl"]["target"] == "1:3.0.7-27.el9_4.2"
    assert out["tzdata"]["target"] is None and out["tzdata"]["reason"] == "not a security update (mode security)"
    assert out["vim-minimal"]["held"] and out["vim-minimal"]["target"] is None  # versionlocked
    planned = [p for p in facts["pending"] if p["target"]]
    assert pd.dnf_install_specs(planned) == ["curl-7.76.1-29.el9_4.1", "libcurl-7.76.1-29.el9_4.1",
                                             "openssl-1:3.0.7-27.el9_4.2", "openssl-libs-1:3.0.7-27.el9_4.2"]
    assert facts["reboot_required"] is True and facts["reboot_required_pkgs"] == ["kernel", "systemd"]
    assert facts["last_upgrade"] == dt.datetime(2026, 11, 2, 2, 15, 41, tzinfo=dt.UTC)
    res = by_check([valid(r) for r in pd.scan_results(facts, policy(), NOW)])
    sec = res["patch.pending_security"]
    assert sec["observed"]["packages"] == ["curl", "libcurl", "openssl", "openssl-libs"]
    assert sec["observed"]["age_basis"] == "advisory_issued_date"
    assert sec["observed"]["oldest_age_days"] == pytest.approx((NOW - dt.datetime(2024, 8, 20, tzinfo=dt.UTC)).days,
                                                               abs=1)
    assert sec["status"] == "critical" and "issued" in sec["summary"]  # 2 years old > 14 days
    assert res["patch.pending"]["observed"]["manager"] == "dnf"
    assert res["patch.pending"]["observed"]["held"] == ["vim-minimal"]
    assert res["patch.reboot_required"]["status"] == "warning" and "kernel" in res["patch.reboot_required"]["summary"]
    assert res["patch.last_patched"]["status"] == "ok"


def test_dnf_state_all_mode_and_exclusions() -> None:
    facts = pd.dnf_state(dnf_outputs(versionlock=None), policy(mode="all", exclude=["openssl*"]), NOW)
    out = {p["name"]: p for p in facts["pending"]}
    assert out["tzdata"]["target"] == "2024b-2.el9" and out["vim-minimal"]["target"] == "2:8.2.2637-21.el9_4"
    assert out["openssl"]["target"] is None and out["openssl"]["reason"] == "excluded by policy"
    assert facts["held"] == []


@pytest.mark.parametrize(("key", "cmd", "fragment"), [
    ("check_update", {"rc": 1, "out": "", "err": "Error: Failed to download metadata for repo 'baseos'\n"},
     "dnf check-update failed (rc 1): Error: Failed to download metadata for repo 'baseos'"),
    ("check_update", {"rc": 200, "out": "", "err": ""}, "dnf check-update failed (rc 200)"),
    ("updateinfo_list", {"rc": 1, "out": "", "err": "Error: no such command\n"}, "updateinfo list --security"),
    ("rpm", {"rc": 1, "out": "", "err": "error: rpmdb open failed\n"}, "rpm -qa failed"),
])
def test_dnf_state_listing_errors_are_unknown_and_plan_nothing(key: str, cmd: dict, fragment: str) -> None:
    facts = pd.dnf_state(dnf_outputs(**{key: cmd}), policy(), NOW)
    assert fragment in facts["refresh_error"]
    assert facts["pending"] == []
    res = by_check(pd.scan_results(facts, policy(), NOW))
    assert res["patch.pending"]["status"] == "unknown" and res["patch.pending_security"]["status"] == "unknown"


def test_dnf_state_nothing_pending_and_no_needs_restarting() -> None:
    facts = pd.dnf_state(dnf_outputs(check_update={"rc": 0, "out": "", "err": ""},
                                     updateinfo_list={"rc": 0, "out": "", "err": ""},
                                     needs_restarting=None), policy(), NOW)
    assert facts["pending"] == [] and facts["security_age_days"] is None
    res = by_check(pd.scan_results(facts, policy(), NOW))
    assert res["patch.pending"]["status"] == "ok" and res["patch.pending_security"]["status"] == "ok"
    assert res["patch.reboot_required"]["status"] == "unknown"  # nobody read it: never ok


# -- Windows (reconstructed from win_updates RETURN) ----------------------------------------------------

def load(name: str) -> dict:
    return json.loads((FIX / "windows" / name).read_text())


def test_windows_update_args_from_policy() -> None:
    args = pd.windows_update_args(policy(exclude_kbs=["5046999", "KB890830"], exclude_titles=["Preview"],
                                         accept=[], categories=["SecurityUpdates", "UpdateRollups"]))
    assert args == {"category_names": ["SecurityUpdates"], "reject_list": ["KB5046999", "KB890830", "Preview"]}
    assert pd.windows_update_args(policy(mode="all"))["category_names"] == [
        "CriticalUpdates", "SecurityUpdates", "UpdateRollups"]


def test_windows_searched() -> None:
    res = by_check(pd.windows_scan_results(load("searched.json"), policy()))
    assert res["patch.pending"]["observed"]["count"] == 2
    assert res["patch.pending"]["observed"]["filtered"][0]["reasons"] == ["category_names"]
    assert res["patch.pending_security"]["observed"]["kbs"] == ["5046616"]
    assert res["patch.pending_security"]["status"] == "warning"
    assert res["patch.reboot_required"]["status"] == "ok"
    failed = by_check(pd.windows_scan_results(load("search_failed.json"), policy()))
    assert failed["patch.pending"]["status"] == "unknown" and "0x8024402C" in failed["patch.pending"]["summary"]


def test_windows_installed_with_a_failure_and_reboot() -> None:
    res = by_check(pd.windows_install_results(load("installed.json")))
    assert res["patch.installed"]["changed"] is True and "KB5046616" in res["patch.installed"]["summary"]
    assert res["patch.failed"]["status"] == "critical" and "WU_E_NO_INTERACTIVE_USER" in res["patch.failed"]["summary"]
    assert res["patch.reboot_required"]["status"] == "warning"
    clean = by_check(pd.windows_install_results(load("installed_clean.json")))
    assert clean["patch.installed"]["changed"] is False and clean["patch.failed"]["status"] == "ok"
