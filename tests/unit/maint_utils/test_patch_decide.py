"""Patch decide code shared by every engine (plugins/module_utils/patch_decide.py), on recorded and reconstructed inputs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from maint_utils import maint_result, patch_apt
from maint_utils import patch_decide as pd

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "patch"
SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "schemas" / "check_result.schema.json").read_text())
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
    """What patch_linux (manager apt) reads on the lab's web02 after lab/setup_patch.yml (python3-apt origins)."""
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
    assert patch_apt.install_specs(list(out.values())) == ["lab-kernel=1.0+sec1", "lab-libsafe=1.0+sec1"]


def test_all_mode_installs_candidates_but_never_held_or_excluded() -> None:
    out = pd.classify(lab_upgradable(), ["lab-pinned"], policy(mode="all", exclude=["lab-kern*"]))
    assert patch_apt.install_specs(out) == ["lab-libsafe=1.0+sec1", "lab-tool=1.1"]
    reasons = {p["name"]: p["reason"] for p in out}
    assert reasons["lab-kernel"] == "excluded by policy" and reasons["lab-pinned"] == "held"


def test_accept_list_adds_a_non_security_update_and_exclusion_wins() -> None:
    out = pd.classify(lab_upgradable(), [], policy(accept=["lab-tool", "lab-libsafe"], exclude=["lab-libsafe"]))
    specs = patch_apt.install_specs(out)
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
    assert patch_apt.install_specs(pending) == ["lab-kernel=1.0+sec1"]
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
    assert len(calls) == 1 and patch_apt.install_specs(pending) == ["lab-kernel=1.0+sec1", "lab-libsafe=1.0+sec1"]
    assert pd.guard_plan([], [], policy(), simulate) == [] and len(calls) == 1


def test_guard_plan_blocks_everything_when_only_the_combination_fails() -> None:
    pending = pd.classify(lab_upgradable(), ["lab-pinned"], policy())

    def simulate(targets: dict) -> dict:
        if len(targets) > 1:
            return {"error": "lab-kernel conflicts with lab-libsafe 1.0+sec1", "changes": []}
        return {"error": None, "changes": [_change(n, "upgrade", "1.0", v, [LAB_SEC]) for n, v in targets.items()]}

    assert pd.guard_plan(pending, ["lab-pinned"], policy(), simulate) == []
    assert patch_apt.install_specs(pending) == []
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




# -- the catalogue, the policy and the host-failed rule ------------------------------------------

def test_catalogue_has_one_entry_per_check_id_and_states_each_default_once() -> None:
    ids = [c.id for c in pd.CHECKS]
    assert ids == ["patch.pending", "patch.pending_security", "patch.reboot_required", "patch.last_patched",
                   "patch.precheck", "patch.installed", "patch.failed", "patch.rebooted", "patch.post_check",
                   "patch.deferred"]
    keys = [key for c in pd.CHECKS for key in c.policy]
    assert len(keys) == len(set(keys))
    assert dict(maint_result.policy_defaults(pd.CHECKS), **pd.ROLLOUT_DEFAULTS) == pd.DEFAULTS
    assert pd.effective_policy(None) == pd.effective_policy({}) == pd.DEFAULTS
    for check in pd.CHECKS:
        assert check.area == "patch" and check.decide.split(":")[0] in (
            "patch_decide", "patch_apt", "patch_dnf", "patch_win")
        assert check.unit_test.startswith("tests/unit/maint_utils/test_patch_")
        assert check.lab_test.startswith("tests/integration/test_patch_lab.py::")


def test_decide_code_uses_the_catalogue_remediation() -> None:
    res = pd.post_check(["sshd"], ["nginx"])
    assert res["remediation"] == pd.CHECK["patch.post_check"].remediation
    assert pd.deferred_result("closing")["remediation"] == pd.CHECK["patch.deferred"].remediation


def test_the_policy_error_is_the_one_of_maint_result() -> None:
    assert pd.PolicyError is maint_result.PolicyError
    with pytest.raises(maint_result.PolicyError, match="mapping"):
        pd.effective_policy(["mode", "all"])  # type: ignore[arg-type]


def test_validate_policy() -> None:
    assert pd.validate_policy({"security_pattern": "(?i)security", "exclude_titles": ["Preview"]}) == []
    problems = pd.validate_policy({"security_pattern": "(?i)secur(ity", "exclude_titles": ["ok", "[Feature"],
                                   "last_patched_warn_days": 120})
    assert [p.split(":")[0] for p in problems] == ["maint_policy.patch.security_pattern",
                                                    "maint_policy.patch.exclude_titles[1]",
                                                    "maint_policy.patch.last_patched_warn_days"]
    assert "is above the critical threshold 90 (last_patched_crit_days)" in problems[2]


def _result(check: str, status: str, summary: str = "s") -> dict:
    return {"check": check, "status": status, "summary": summary}


@pytest.mark.parametrize(("results", "failed"), [
    ([_result("patch.failed", "critical")], True),
    ([_result("patch.post_check", "critical")], True),
    ([_result("patch.rebooted", "critical")], True),
    ([_result("patch.failed", "ok"), _result("patch.post_check", "ok"), _result("patch.rebooted", "skipped")], False),
    ([_result("patch.pending_security", "critical"), _result("patch.precheck", "critical")], False),
    ([_result("patch.rebooted", "warning"), "garbage"], False),
    ([], False),
])
def test_host_failed(results: list, failed: bool) -> None:
    assert pd.host_failed(results) is failed


def test_host_failed_on_recorded_results_and_its_message() -> None:
    planned = [{"name": "lab-libsafe", "target": "1.0+sec1", "security": True}]
    verify = pd.install_results(planned, {"lab-libsafe": "1.0"}, {"lab-libsafe": "1.0"}, error="E: dpkg was interrupted",
                                before_all={}, after_all={}, policy=policy())
    final = [pd.post_check(["sshd"], ["sshd"]), pd.reboot_result("skip", "no reboot required")]
    assert pd.host_failed(verify) and pd.host_failed(verify + final)
    assert not pd.host_failed(final)
    assert pd.failure_message(verify + final) == by_check(verify)["patch.failed"]["summary"]
    action, reason = pd.reboot_decision(policy(), True, False, True, install_failed=pd.host_failed(verify))
    assert action == "skip" and "update failed" in reason


@pytest.mark.parametrize(("planned", "guard", "expected"), [
    (False, {"allowed": False, "reason": "only 10 min left"}, (False, "")),  # a scan is never deferred
    (True, {"allowed": True, "reason": ""}, (True, "")),
    (True, {"allowed": False, "reason": "only 10 min left"}, (False, "only 10 min left")),
    (True, {}, (True, "")),
])
def test_window_decision(planned: bool, guard: dict, expected: tuple) -> None:
    assert pd.window_decision(planned, guard) == expected
