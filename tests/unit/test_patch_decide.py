"""Patch decide code (plugins/module_utils/patch_decide.py) on recorded and reconstructed inputs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

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
    before_all = {"lab-libsafe:all": ["1.0"], "lab-kernel:all": ["1.0"], "bash:amd64": ["5.2.15-2+b8"]}
    after_all = {"lab-libsafe:all": ["1.0+sec1"], "lab-kernel:all": ["1.0+sec1"], "bash:amd64": ["5.2.15-2+b8"]}
    res = by_check(pd.install_results(planned, {"lab-libsafe": "1.0", "lab-kernel": "1.0"},
                                      {"lab-libsafe": "1.0+sec1", "lab-kernel": "1.0+sec1"},
                                      before_all=before_all, after_all=after_all, policy=policy()))
    inst = valid(res["patch.installed"])
    assert inst["changed"] is True and inst["status"] == "ok" and inst["observed"]["complete"] is True
    assert inst["observed"]["packages"][1] == {"name": "lab-libsafe", "arch": "all", "change": "upgraded",
                                               "from": "1.0", "to": "1.0+sec1", "planned": True, "security": True}
    assert [p["name"] for p in inst["observed"]["planned"]] == ["lab-libsafe", "lab-kernel"]
    assert all(p["done"] for p in inst["observed"]["planned"])
    assert res["patch.failed"]["status"] == "ok"
    bad = by_check(pd.install_results(planned, {"lab-libsafe": "1.0", "lab-kernel": "1.0"},
                                      {"lab-libsafe": "1.0+sec1", "lab-kernel": "1.0"}, "E: dpkg was interrupted",
                                      before_all=before_all, after_all=dict(after_all, **{"lab-kernel:all": ["1.0"]}),
                                      policy=policy()))
    assert bad["patch.failed"]["status"] == "critical"
    assert "lab-kernel (wanted 1.0+sec1, has 1.0)" in bad["patch.failed"]["summary"]
    assert [p["done"] for p in bad["patch.installed"]["observed"]["planned"]] == [True, False]
    none = by_check(pd.install_results([], {}, {}, before_all=before_all, after_all=before_all, policy=policy()))
    assert none["patch.installed"]["changed"] is False and none["patch.installed"]["summary"] == "nothing to install"
    assert none["patch.installed"]["status"] == "ok"


def test_install_results_report_every_change_not_only_the_plan() -> None:
    # A security update that pulls in a new package and upgrades a library it needs:
    # every change is in patch.installed, the plan is kept apart.
    planned = [{"name": "lab-libsafe", "target": "1.0+sec1", "security": True}]
    before_all = {"lab-libsafe:all": ["1.0"], "libfoo1:amd64": ["2.0"], "linux-image-6.1.0-26-amd64:amd64": ["6.1.112-1"]}
    after_all = {"lab-libsafe:all": ["1.0+sec1"], "lab-libsafe-data:all": ["1.0+sec1"], "libfoo1:amd64": ["2.1"],
                 "linux-image-6.1.0-26-amd64:amd64": ["6.1.112-1"]}
    res = by_check(pd.install_results(planned, {"lab-libsafe": "1.0"}, {"lab-libsafe": "1.0+sec1"},
                                      before_all=before_all, after_all=after_all, policy=policy()))
    inst = valid(res["patch.installed"])
    assert [(p["name"], p["change"], p["from"], p["to"], p["planned"]) for p in inst["observed"]["packages"]] == [
        ("lab-libsafe", "upgraded", "1.0", "1.0+sec1", True),
        ("lab-libsafe-data", "installed", None, "1.0+sec1", False),
        ("libfoo1", "upgraded", "2.0", "2.1", False)]
    assert inst["observed"]["count"] == 3 and inst["changed"] is True
    assert inst["observed"]["planned"] == [{"name": "lab-libsafe", "from": "1.0", "to": "1.0+sec1",
                                            "security": True, "done": True}]
    assert "2 pulled in or removed with the updates" in inst["summary"]
    assert "lab-libsafe-data 1.0+sec1 (new)" in inst["summary"] and "libfoo1 2.0 -> 2.1" in inst["summary"]
    assert res["patch.failed"]["status"] == "ok"


def test_install_results_flag_changes_the_policy_forbids() -> None:
    planned = [{"name": "lab-libsafe", "target": "1.0+sec1", "security": True}]
    before_all = {"lab-libsafe:all": ["1.0"], "lab-pinned:all": ["1.0"], "lab-tool:all": ["1.0"],
                  "lab-old:all": ["0.9"], "lab-x:all": ["1.0"]}
    after_all = {"lab-libsafe:all": ["1.0+sec1"], "lab-pinned:all": ["1.0+sec1"], "lab-tool:all": ["1.1"],
                 "lab-x:all": ["1.1 (half-configured)"]}
    res = by_check(pd.install_results(planned, {"lab-libsafe": "1.0"}, {"lab-libsafe": "1.0+sec1"},
                                      before_all=before_all, after_all=after_all,
                                      policy=policy(exclude=["lab-too*"]), held=["lab-pinned"]))
    failed = valid(res["patch.failed"])
    assert failed["status"] == "critical"
    assert failed["observed"]["outside_policy"] == [
        "lab-old 0.9 removed", "held package lab-pinned changed", "lab-tool changed (excluded by policy)",
        "lab-x left as 1.1 (half-configured)"]
    assert len(res["patch.installed"]["observed"]["packages"]) == 5


def test_install_results_without_the_full_lists_is_unknown() -> None:
    planned = [{"name": "lab-libsafe", "target": "1.0+sec1", "security": True}]
    res = by_check(pd.install_results(planned, {"lab-libsafe": "1.0"}, {"lab-libsafe": "1.0+sec1"},
                                      before_all=None, after_all={"lab-libsafe:all": ["1.0+sec1"]}, policy=policy()))
    inst = valid(res["patch.installed"])
    assert inst["status"] == "unknown" and inst["changed"] is True and inst["observed"]["complete"] is False
    assert "could not be read" in inst["summary"]
    assert [p["name"] for p in inst["observed"]["packages"]] == ["lab-libsafe"]


def test_install_results_show_blocked_updates() -> None:
    blocked = [{"name": "lab-libsafe", "reason": "blocked: would install lab-libsafe-data (excluded by policy)"}]
    res = by_check(pd.install_results([], {}, {}, before_all={}, after_all={}, policy=policy(), blocked=blocked))
    inst = valid(res["patch.installed"])
    assert inst["status"] == "warning" and inst["changed"] is False
    assert inst["observed"]["blocked"] == blocked and "1 update(s) blocked by policy" in inst["summary"]


# -- installed package snapshots (dpkg-query, rpm -qa) and their diff ----------------------------------

DPKG_QUERY = (  # dpkg-query -W -f '${Package}\t${Architecture}\t${Version}\t${db:Status-Status}\n' (format of dpkg 1.21)
    "bash\tamd64\t5.2.15-2+b8\tinstalled\n"
    "lab-libsafe\tall\t1.0+sec1\thalf-configured\n"
    "lab-kernel\tall\t1.0\tconfig-files\n"
    "lab-gone\tall\t\tnot-installed\n"
    "libc6\tamd64\t2.36-9+deb12u9\tinstalled\n"
    "libc6\ti386\t2.36-9+deb12u9\tinstalled\n"
    "man-db\tamd64\t2.11.2-2\ttriggers-pending\n"
)


def test_parse_dpkg_snapshot() -> None:
    snap = pd.parse_dpkg_snapshot(DPKG_QUERY)
    assert snap == {"bash:amd64": ["5.2.15-2+b8"], "lab-libsafe:all": ["1.0+sec1 (half-configured)"],
                    "libc6:amd64": ["2.36-9+deb12u9"], "libc6:i386": ["2.36-9+deb12u9"],
                    "man-db:amd64": ["2.11.2-2"]}
    assert pd.snapshot_version(snap, "bash", "amd64") == "5.2.15-2+b8"
    assert pd.snapshot_version(snap, "lab-libsafe", "amd64") == "1.0+sec1 (half-configured)"
    assert pd.snapshot_version(snap, "libc6:i386", "amd64") == "2.36-9+deb12u9"
    assert pd.snapshot_version(snap, "lab-kernel", "amd64") is None


def test_parse_rpm_snapshot_keeps_every_kernel() -> None:
    snap = pd.parse_rpm_snapshot((FIX / "dnf" / "rpm-qa.txt").read_text()
                                 + "kernel 0 5.14.0-362.8.1.el9_3 x86_64\nkernel 0 5.14.0-427.13.1.el9_4 x86_64\n")
    assert snap["openssl:x86_64"] == ["1:3.0.7-25.el9_3"] and snap["tzdata:noarch"] == ["2024a-1.el9"]
    assert snap["kernel:x86_64"] == ["5.14.0-362.8.1.el9_3", "5.14.0-427.13.1.el9_4"]


def test_package_diff() -> None:
    before = {"a:all": ["1.0"], "gone:amd64": ["3"], "kernel:x86_64": ["5.14.0-362"], "same:all": ["1"]}
    after = {"a:all": ["1.1"], "new:amd64": ["2"], "kernel:x86_64": ["5.14.0-362", "5.14.0-427"], "same:all": ["1"]}
    assert pd.package_diff(before, after) == [
        {"name": "a", "arch": "all", "change": "upgraded", "from": "1.0", "to": "1.1"},
        {"name": "gone", "arch": "amd64", "change": "removed", "from": "3", "to": None},
        {"name": "kernel", "arch": "x86_64", "change": "installed", "from": None, "to": "5.14.0-427"},
        {"name": "new", "arch": "amd64", "change": "installed", "from": None, "to": "2"},
    ]
    assert pd.package_diff(before, before) == []


def test_precheck_fails_without_the_installed_package_list() -> None:
    good = {"free_mb": {"/": 900, "/var": 900}, "locks": {"/var/lib/dpkg/lock": {"held": False}}}
    assert pd.precheck(dict(good, installed_list_read=True), policy())[0] is True
    ok, res = pd.precheck(dict(good, installed_list_read=False), policy())
    assert not ok and "could not read the list of installed packages" in res["summary"]


# -- the plan guard: an update's dependencies obey the policy too -------------------------------------

def _change(name: str, change: str, old: str | None, new: str | None, origins: list | None = None) -> dict:
    return {"name": name, "change": change, "from": old, "to": new, "origins": origins or []}


def test_plan_problems() -> None:
    targets = {"lab-libsafe": "1.0+sec1"}
    itself = _change("lab-libsafe", "upgrade", "1.0", "1.0+sec1", [LAB_SEC])
    assert pd.plan_problems({"changes": [itself]}, targets, [], policy()) == []
    # A new dependency, from any source, is allowed (a new kernel ABI package is normal).
    assert pd.plan_problems({"changes": [itself, _change("lab-libsafe-data", "install", None, "1", [LAB_UPD])]},
                            targets, [], policy()) == []
    cases = [
        (_change("lab-pinned", "upgrade", "1.0", "1.0+sec1", [LAB_SEC]), policy(),
         "would change the held package lab-pinned"),
        (_change("lab-libsafe-data", "install", None, "1", [LAB_SEC]), policy(exclude=["lab-libsafe-d*"]),
         "would install lab-libsafe-data (excluded by policy)"),
        (_change("lab-tool", "remove", "1.0", None), policy(), "would remove lab-tool"),
        (_change("lab-tool", "downgrade", "1.1", "1.0", [LAB_BASE]), policy(), "would downgrade lab-tool"),
        (_change("lab-tool", "upgrade", "1.0", "1.1", [LAB_UPD]), policy(),
         "would upgrade lab-tool to 1.1, not a security update"),
        (_change("lab-libsafe", "upgrade", "1.0", "1.1", [LAB_UPD]), policy(),
         "would install lab-libsafe 1.1 instead of 1.0+sec1"),
    ]
    for change, pol, problem in cases:
        assert pd.plan_problems({"changes": [change]}, targets, ["lab-pinned"], pol) == [problem], problem
    # The same non-security upgrade is fine in mode all, or for an accepted package.
    upd = _change("lab-tool", "upgrade", "1.0", "1.1", [LAB_UPD])
    assert pd.plan_problems({"changes": [upd]}, targets, [], policy(mode="all")) == []
    assert pd.plan_problems({"changes": [upd]}, targets, [], policy(accept=["lab-tool"])) == []
    assert pd.plan_problems({"error": "Broken packages", "changes": []}, targets, [], policy()) == [
        "dependencies cannot be resolved: Broken packages"]


def test_guard_plan_blocks_only_the_guilty_update() -> None:
    pending = pd.classify(lab_upgradable(), ["lab-pinned"], policy(exclude=["lab-libsafe-data"]))
    calls = []

    def simulate(targets: dict) -> dict:  # lab-libsafe 1.0+sec1 depends on a new lab-libsafe-data
        calls.append(dict(targets))
        changes = [_change(n, "upgrade", "1.0", v, [LAB_SEC]) for n, v in sorted(targets.items())]
        if "lab-libsafe" in targets:
            changes.append(_change("lab-libsafe-data", "install", None, "1.0+sec1", [LAB_SEC]))
        return {"error": None, "changes": changes}

    expected = pd.guard_plan(pending, ["lab-pinned"], policy(exclude=["lab-libsafe-data"]), simulate)
    by_name = {p["name"]: p for p in pending}
    assert by_name["lab-libsafe"]["target"] is None
    assert by_name["lab-libsafe"]["reason"] == "blocked: would install lab-libsafe-data (excluded by policy)"
    assert by_name["lab-kernel"]["target"] == "1.0+sec1" and "blocked" not in by_name["lab-kernel"]
    assert [c["name"] for c in expected] == ["lab-kernel"]
    assert calls[0] == {"lab-kernel": "1.0+sec1", "lab-libsafe": "1.0+sec1"} and calls[-1] == {"lab-kernel": "1.0+sec1"}
    assert pd.install_specs(pending) == ["lab-kernel=1.0+sec1"]
    # The scan shows it: not installable, still a pending security update.
    facts = {"manager": "apt", "pending": pending, "releases": RELEASES, "reboot_required": False}
    res = by_check(pd.scan_results(facts, policy(), NOW))
    assert res["patch.pending"]["observed"]["installable"] == 1
    assert res["patch.pending_security"]["observed"]["packages"] == ["lab-kernel", "lab-libsafe"]


def test_guard_plan_without_problems_simulates_once() -> None:
    pending = pd.classify(lab_upgradable(), ["lab-pinned"], policy())
    calls = []

    def simulate(targets: dict) -> dict:
        calls.append(targets)
        return {"error": None, "changes": [_change(n, "upgrade", "1.0", v, [LAB_SEC]) for n, v in targets.items()]}

    assert len(pd.guard_plan(pending, ["lab-pinned"], policy(), simulate)) == 2
    assert len(calls) == 1 and pd.install_specs(pending) == ["lab-kernel=1.0+sec1", "lab-libsafe=1.0+sec1"]
    assert pd.guard_plan([], [], policy(), simulate) == [] and len(calls) == 1


def test_guard_plan_blocks_everything_when_only_the_combination_fails() -> None:
    pending = pd.classify(lab_upgradable(), ["lab-pinned"], policy())

    def simulate(targets: dict) -> dict:
        if len(targets) > 1:
            return {"error": "lab-kernel conflicts with lab-libsafe 1.0+sec1", "changes": []}
        return {"error": None, "changes": [_change(n, "upgrade", "1.0", v, [LAB_SEC]) for n, v in targets.items()]}

    assert pd.guard_plan(pending, ["lab-pinned"], policy(), simulate) == []
    assert pd.install_specs(pending) == []
    assert all(p["reason"].startswith("blocked: together with the other updates: dependencies cannot be resolved")
               for p in pending if p.get("blocked"))


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


def test_no_reboot_after_a_failed_install() -> None:
    for reboot in ("if_required", "always"):
        action, reason = pd.reboot_decision(policy(reboot=reboot), True, True, True, install_failed=True)
        assert action == "skip" and "update failed" in reason
        assert valid(pd.reboot_result(action, reason))["status"] == "warning"
    assert pd.reboot_decision(policy(reboot="always"), False, False, True, install_failed=True)[0] == "skip"


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


# -- dnf 4 --all and dnf 5 advisory listings ---------------------------------------------------
DNF5_FIX = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "patch" / "dnf5"
DNF4_FIX = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "patch" / "dnf"


def test_dnf5_advisory_list_rows_end_with_a_date_and_a_time() -> None:
    text = (DNF5_FIX / "advisory-list.txt").read_text(encoding="utf-8")
    assert pd.parse_dnf_updateinfo_list(text) == [
        {"advisory": "FEDORA-2024-abc123", "severity": "Important", "name": "openssl", "version": "1:3.1.4-1.fc39"},
        {"advisory": "FEDORA-2024-abc123", "severity": "Important", "name": "openssl-libs",
         "version": "1:3.1.4-1.fc39"}]
    line = "FEDORA-2024-abc123  security  Important  openssl-3.1.4-1.fc39.x86_64  2024-01-10 03:12:44"
    assert pd.parse_dnf_updateinfo_list(line)[0]["name"] == "openssl"
    assert not pd.dnf_output_not_understood(text)


def test_dnf5_advisory_list_recorded_with_cut_columns() -> None:
    """A real dnf5 output (dnf5 issue #1501): types cut to 4 letters, severities to 8."""
    text = (DNF5_FIX / "advisory-list-issue1501.txt").read_text(encoding="utf-8")
    rows, unrecognised = pd.parse_dnf_advisory_rows(text)
    assert len(rows) == 8 and unrecognised == 0
    sec = pd.parse_dnf_updateinfo_list(text)
    assert [(a["name"], a["severity"]) for a in sec] == [("glib2-debuginfo", "Importan"),
                                                         ("glib2-debugsource", "Importan")]


def test_dnf4_updateinfo_list_all_skips_installed_rows() -> None:
    text = (DNF4_FIX / "updateinfo-list-all.txt").read_text(encoding="utf-8")
    pending = pd.parse_dnf_updateinfo_list(text)
    assert [(a["advisory"], a["name"]) for a in pending] == [
        ("RLSA-2024:5654", "curl"), ("RLSA-2024:5654", "libcurl"), ("RLSA-2024:6783", "openssl"),
        ("RLSA-2024:6783", "openssl-libs")]
    rows, _ = pd.parse_dnf_advisory_rows(text)
    assert [r["advisory"] for r in rows if r["installed"]] == ["RLSA-2024:3339", "RLSA-2024:2570"]
    # The same pending set as the plain --security listing.
    plain = pd.parse_dnf_updateinfo_list((DNF4_FIX / "updateinfo-list.txt").read_text(encoding="utf-8"))
    assert pending == plain


def test_dnf5_advisory_info_dates() -> None:
    issued = pd.parse_dnf_updateinfo_info((DNF5_FIX / "advisory-info.txt").read_text(encoding="utf-8"))
    assert issued["FEDORA-2024-abc123"] == dt.datetime(2024, 1, 10, 3, 12, 44, tzinfo=dt.UTC)


def _dnf_outputs(ul_out: str, cu_out: str = "openssl.x86_64  1:3.1.4-1.fc39  updates\n",
                 cu_rc: int = 100) -> dict[str, Any]:
    return {"check_update": {"rc": cu_rc, "out": cu_out, "err": ""},
            "updateinfo_list": {"rc": 0, "out": ul_out, "err": ""},
            "updateinfo_info": {"rc": 0, "out": "", "err": ""},
            "rpm": {"rc": 0, "out": "openssl 1 3.1.1-4.fc39 x86_64\n", "err": ""},
            "versionlock": None, "needs_restarting": None, "rpm_log": "", "logs_since": None}


@pytest.mark.parametrize("ul_out", [
    "Error: unknown option --security\n",
    "FEDORA-2024-abc123 | security | Important | openssl\n",
    '{"advisories": [{"name": "FEDORA-2024-abc123"}]}\n',
])
def test_dnf_listing_nobody_understood_is_unknown_never_no_update(ul_out: str) -> None:
    policy = pd.effective_policy({})
    now = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    facts = pd.dnf_state(_dnf_outputs(ul_out), policy, now)
    assert facts["refresh_error"] and "not understood" in facts["refresh_error"]
    results = {r["check"]: r for r in pd.scan_results(facts, policy, now)}
    assert results["patch.pending_security"]["status"] == "unknown"
    assert results["patch.pending"]["status"] == "unknown"


def test_dnf_empty_or_header_only_listing_is_nothing_pending() -> None:
    policy = pd.effective_policy({})
    now = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    for ul_out in ("", "\n", "Name Type Severity Package Issued\n",
                   "Last metadata expiration check: 0:01:02 ago on Thu Feb  1 00:00:00 2024.\n"):
        facts = pd.dnf_state(_dnf_outputs(ul_out), policy, now)
        assert facts["refresh_error"] is None, ul_out
        sec = {r["check"]: r for r in pd.scan_results(facts, policy, now)}["patch.pending_security"]
        assert sec["status"] == "ok"


def test_dnf_check_update_rc_100_without_a_row_is_unknown() -> None:
    policy = pd.effective_policy({})
    now = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    facts = pd.dnf_state(_dnf_outputs("", cu_out="Upgrades available, see the web console\n"), policy, now)
    assert "check-update output not understood" in (facts["refresh_error"] or "")


def test_dnf5_versionlock_list() -> None:
    text = ("# Added by 'versionlock add' command on 2024-05-10 10:00:00\nPackage name: bash\nevr = 5.2.26-3.fc40\n\n"
            "# Added by 'versionlock add' command on 2024-05-10 10:01:00\nPackage name: kernel\nevr = 6.8.9-300.fc40\n")
    assert pd.parse_dnf_versionlock(text) == ["bash", "kernel"]


# -- hostile input: odd facts never raise and never read as ok --------------------------------
def _scan_facts(**over: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "manager": "dnf", "refresh_error": None,
        "pending": [{"name": "openssl", "installed": "1", "candidate": "2", "security": True, "held": False,
                     "target": "2", "reason": "security update"}],
        "held": [], "reboot_required": False, "reboot_required_pkgs": [], "security_age_days": 3.0,
        "last_upgrade": dt.datetime(2024, 1, 20, tzinfo=dt.UTC), "logs_since": None,
    }
    facts.update(over)
    return facts


SCAN_NOW = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("over, check, status", [
    ({"pending": ["openssl", None]}, "patch.pending_security", "unknown"),
    ({"pending": {"name": "openssl"}}, "patch.pending", "warning"),
    ({"security_age_days": float("nan")}, "patch.pending_security", "warning"),
    ({"security_age_days": "old"}, "patch.pending_security", "warning"),
    ({"last_upgrade": "2024-01-20"}, "patch.last_patched", "unknown"),
    ({"last_upgrade": dt.datetime(2024, 1, 20)}, "patch.last_patched", "unknown"),
])
def test_scan_results_odd_facts(over: dict[str, Any], check: str, status: str) -> None:
    policy = pd.effective_policy({"mode": "all"} if "pending" in over and isinstance(over["pending"], dict) else {})
    results = {r["check"]: r for r in pd.scan_results(_scan_facts(**over), policy, SCAN_NOW)}
    assert set(results) == {"patch.pending", "patch.pending_security", "patch.reboot_required", "patch.last_patched"}
    assert results[check]["status"] == status
    assert results["patch.reboot_required"]["status"] == "ok"


@pytest.mark.parametrize("free", [float("nan"), "lots", [1], None])
def test_precheck_never_passes_on_unreadable_free_space(free: Any) -> None:
    ok, result = pd.precheck({"free_mb": {"/": free, "/var": 5000}, "locks": {"/var/lib/rpm/.rpm.lock": "?"}},
                             pd.effective_policy({}))
    assert ok is False and result["status"] == "critical" and "could not read free space on /" in result["summary"]


def test_windows_results_with_odd_update_entries() -> None:
    policy = pd.effective_policy({})
    ret = {"found_update_count": 3, "reboot_required": False,
           "updates": {"a": {"title": "2024-01 Security Update (KB5034122)", "kb": "5034122",
                             "categories": "Security Updates", "id": "a"},
                       "b": "garbage", "c": None}}
    results = {r["check"]: r for r in pd.windows_scan_results(ret, policy)}
    assert results["patch.pending_security"]["status"] == "warning"
    assert results["patch.pending_security"]["observed"]["kbs"] == ["5034122"]
    assert pd.windows_scan_results(["not", "a", "dict"], policy)[0]["status"] == "unknown"
    installed = {r["check"]: r for r in pd.windows_install_results(
        {"installed_update_count": 1, "failed_update_count": "x",
         "updates": [{"title": "KB1", "kb": ["1"], "installed": True}, 7]})}
    assert installed["patch.installed"]["status"] == "ok" and installed["patch.failed"]["status"] == "ok"
