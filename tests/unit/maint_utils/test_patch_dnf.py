"""Patch decide code for dnf 4 and dnf 5 (plugins/module_utils/patch_dnf.py) on reconstructed and recorded output."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from maint_utils import patch_decide as pd
from maint_utils import patch_dnf
from tests.unit.maint_utils.test_patch_decide import FIX, NOW, by_check, policy, valid


def test_parse_rpm_snapshot_keeps_every_kernel() -> None:
    snap = patch_dnf.parse_rpm_snapshot((FIX / "dnf" / "rpm-qa.txt").read_text()
                                 + "kernel 0 5.14.0-362.8.1.el9_3 x86_64\nkernel 0 5.14.0-427.13.1.el9_4 x86_64\n")
    assert snap["openssl:x86_64"] == ["1:3.0.7-25.el9_3"] and snap["tzdata:noarch"] == ["2024a-1.el9"]
    assert snap["kernel:x86_64"] == ["5.14.0-362.8.1.el9_3", "5.14.0-427.13.1.el9_4"]


# -- dnf (reconstructed output format) -----------------------------------------------------------------

def test_dnf_parsing_and_classification() -> None:
    cu = (FIX / "dnf" / "check-update.txt").read_text()
    ul = (FIX / "dnf" / "updateinfo-list.txt").read_text()
    ui = (FIX / "dnf" / "updateinfo-info.txt").read_text()
    pending = patch_dnf.parse_dnf_check_update(cu)
    assert [p["name"] for p in pending] == ["curl", "libcurl", "openssl", "openssl-libs",
                                            "python3-setuptools-wheel", "tzdata", "vim-minimal"]
    assert pending[2]["version"] == "1:3.0.7-27.el9_4.2"
    advisories = patch_dnf.parse_dnf_updateinfo_list(ul)
    assert {a["name"] for a in advisories} == {"curl", "libcurl", "openssl", "openssl-libs"}
    assert advisories[0]["severity"] == "Important"
    issued = patch_dnf.parse_dnf_updateinfo_info(ui)
    assert issued["RLSA-2024:5654"] == dt.datetime(2024, 8, 20, tzinfo=dt.UTC)
    upgradable, locked = patch_dnf.dnf_pending(cu, ul, {"curl": "7.76.1-29.el9_4", "tzdata": "2024a-1.el9"}, ["vim-minimal"])
    out = {p["name"]: p for p in pd.classify(upgradable, locked, policy())}
    assert out["curl"]["target"] == "7.76.1-29.el9_4.1" and out["curl"]["security"]
    assert out["tzdata"]["target"] is None and out["vim-minimal"]["reason"] == "held"
    assert patch_dnf.dnf_security_age_days(ul, ui, NOW) == pytest.approx((NOW - dt.datetime(2024, 8, 20, tzinfo=dt.UTC)).days, abs=1)


def dnf_text(name: str) -> str:
    return (FIX / "dnf" / name).read_text()


def dnf_outputs(**over: object) -> dict:
    """What patch_linux (manager dnf) reads on a Rocky 9 host (RECONSTRUCTED dnf 4 output, see fixtures README)."""
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
    installed = patch_dnf.parse_rpm_query(dnf_text("rpm-qa.txt"))
    assert installed["curl"] == "7.76.1-26.el9_3.3"  # (none): no epoch
    assert installed["openssl"] == "1:3.0.7-25.el9_3"  # epoch 1 kept, as check-update prints it
    assert installed["python3-setuptools-wheel"] == "53.0.0-12.el9"  # explicit epoch 0 left out
    assert installed["vim-minimal"] == "2:8.2.2637-20.el9_1"
    assert "package" not in installed and patch_dnf.parse_rpm_query("package foo is not installed\n") == {}


def test_versionlock_list_gives_the_locked_names_only() -> None:
    assert patch_dnf.parse_dnf_versionlock(dnf_text("versionlock-list.txt")) == ["vim-minimal"]  # "!tzdata" excludes
    assert patch_dnf.parse_dnf_versionlock("") == []


@pytest.mark.parametrize(("rc", "name", "expected"), [
    (1, "needs-restarting-required.txt", (True, ["kernel", "systemd"])),
    (0, "needs-restarting-none.txt", (False, [])),
    # The plugin missing: dnf prints "No such command" on stderr and exits 1: unknown, not "required".
    (1, None, (None, [])),
    (0, None, (None, [])),
])
def test_needs_restarting(rc: int, name: str | None, expected: tuple) -> None:
    assert patch_dnf.parse_needs_restarting(rc, dnf_text(name) if name else "") == expected


def test_last_upgrade_from_dnf_rpm_log() -> None:
    # 2026-11-02T03:15:41+0100 is the last Upgrade/Upgraded line; Installed and Erase are not upgrades.
    assert patch_dnf.last_upgrade_from_dnf_rpm_log(dnf_text("dnf.rpm.log")) == dt.datetime(2026, 11, 2, 2, 15, 41,
                                                                                     tzinfo=dt.UTC)
    assert patch_dnf.last_upgrade_from_dnf_rpm_log("2024-03-28T14:27:24+00 SUBDEBUG Upgraded: a-1-1.noarch") == \
        dt.datetime(2024, 3, 28, 14, 27, 24, tzinfo=dt.UTC)
    assert patch_dnf.last_upgrade_from_dnf_rpm_log("2026-11-05T03:00:00+0000 SUBDEBUG Erase: htop-3.3.0-1.el9.x86_64") is None


def test_dnf_state_security_mode() -> None:
    facts = patch_dnf.dnf_state(dnf_outputs(), policy(), NOW)
    assert facts["refresh_error"] is None and facts["manager"] == "dnf"
    out = {p["name"]: p for p in facts["pending"]}
    assert sorted(out) == ["curl", "libcurl", "openssl", "openssl-libs", "python3-setuptools-wheel", "tzdata",
                           "vim-minimal"]
    assert out["openssl"]["installed"] == "1:3.0.7-25.el9_3" and out["openssl"]["target"] == "1:3.0.7-27.el9_4.2"
    assert out["tzdata"]["target"] is None and out["tzdata"]["reason"] == "not a security update (mode security)"
    assert out["vim-minimal"]["held"] and out["vim-minimal"]["target"] is None  # versionlocked
    planned = [p for p in facts["pending"] if p["target"]]
    assert patch_dnf.dnf_install_specs(planned) == ["curl-7.76.1-29.el9_4.1", "libcurl-7.76.1-29.el9_4.1",
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
    facts = patch_dnf.dnf_state(dnf_outputs(versionlock=None), policy(mode="all", exclude=["openssl*"]), NOW)
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
    facts = patch_dnf.dnf_state(dnf_outputs(**{key: cmd}), policy(), NOW)
    assert fragment in facts["refresh_error"]
    assert facts["pending"] == []
    res = by_check(pd.scan_results(facts, policy(), NOW))
    assert res["patch.pending"]["status"] == "unknown" and res["patch.pending_security"]["status"] == "unknown"


def test_dnf_state_nothing_pending_and_no_needs_restarting() -> None:
    facts = patch_dnf.dnf_state(dnf_outputs(check_update={"rc": 0, "out": "", "err": ""},
                                     updateinfo_list={"rc": 0, "out": "", "err": ""},
                                     needs_restarting=None), policy(), NOW)
    assert facts["pending"] == [] and facts["security_age_days"] is None
    res = by_check(pd.scan_results(facts, policy(), NOW))
    assert res["patch.pending"]["status"] == "ok" and res["patch.pending_security"]["status"] == "ok"
    assert res["patch.reboot_required"]["status"] == "unknown"  # nobody read it: never ok


# -- dnf 4 --all and dnf 5 advisory listings ---------------------------------------------------
DNF5_FIX = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "patch" / "dnf5"
DNF4_FIX = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "patch" / "dnf"


def test_dnf5_advisory_list_rows_end_with_a_date_and_a_time() -> None:
    text = (DNF5_FIX / "advisory-list.txt").read_text(encoding="utf-8")
    assert patch_dnf.parse_dnf_updateinfo_list(text) == [
        {"advisory": "FEDORA-2024-abc123", "severity": "Important", "name": "openssl", "version": "1:3.1.4-1.fc39"},
        {"advisory": "FEDORA-2024-abc123", "severity": "Important", "name": "openssl-libs",
         "version": "1:3.1.4-1.fc39"}]
    line = "FEDORA-2024-abc123  security  Important  openssl-3.1.4-1.fc39.x86_64  2024-01-10 03:12:44"
    assert patch_dnf.parse_dnf_updateinfo_list(line)[0]["name"] == "openssl"
    assert not patch_dnf.dnf_output_not_understood(text)


def test_dnf5_advisory_list_recorded_with_cut_columns() -> None:
    """A real dnf5 output (dnf5 issue #1501): types cut to 4 letters, severities to 8."""
    text = (DNF5_FIX / "advisory-list-issue1501.txt").read_text(encoding="utf-8")
    rows, unrecognised = patch_dnf.parse_dnf_advisory_rows(text)
    assert len(rows) == 8 and unrecognised == 0
    sec = patch_dnf.parse_dnf_updateinfo_list(text)
    assert [(a["name"], a["severity"]) for a in sec] == [("glib2-debuginfo", "Importan"),
                                                         ("glib2-debugsource", "Importan")]


def test_dnf4_updateinfo_list_all_skips_installed_rows() -> None:
    text = (DNF4_FIX / "updateinfo-list-all.txt").read_text(encoding="utf-8")
    pending = patch_dnf.parse_dnf_updateinfo_list(text)
    assert [(a["advisory"], a["name"]) for a in pending] == [
        ("RLSA-2024:5654", "curl"), ("RLSA-2024:5654", "libcurl"), ("RLSA-2024:6783", "openssl"),
        ("RLSA-2024:6783", "openssl-libs")]
    rows, _ = patch_dnf.parse_dnf_advisory_rows(text)
    assert [r["advisory"] for r in rows if r["installed"]] == ["RLSA-2024:3339", "RLSA-2024:2570"]
    # The same pending set as the plain --security listing.
    plain = patch_dnf.parse_dnf_updateinfo_list((DNF4_FIX / "updateinfo-list.txt").read_text(encoding="utf-8"))
    assert pending == plain


def test_dnf5_advisory_info_dates() -> None:
    issued = patch_dnf.parse_dnf_updateinfo_info((DNF5_FIX / "advisory-info.txt").read_text(encoding="utf-8"))
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
    facts = patch_dnf.dnf_state(_dnf_outputs(ul_out), policy, now)
    assert facts["refresh_error"] and "not understood" in facts["refresh_error"]
    results = {r["check"]: r for r in pd.scan_results(facts, policy, now)}
    assert results["patch.pending_security"]["status"] == "unknown"
    assert results["patch.pending"]["status"] == "unknown"


def test_dnf_empty_or_header_only_listing_is_nothing_pending() -> None:
    policy = pd.effective_policy({})
    now = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    for ul_out in ("", "\n", "Name Type Severity Package Issued\n",
                   "Last metadata expiration check: 0:01:02 ago on Thu Feb  1 00:00:00 2024.\n"):
        facts = patch_dnf.dnf_state(_dnf_outputs(ul_out), policy, now)
        assert facts["refresh_error"] is None, ul_out
        sec = {r["check"]: r for r in pd.scan_results(facts, policy, now)}["patch.pending_security"]
        assert sec["status"] == "ok"


def test_dnf_check_update_rc_100_without_a_row_is_unknown() -> None:
    policy = pd.effective_policy({})
    now = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    facts = patch_dnf.dnf_state(_dnf_outputs("", cu_out="Upgrades available, see the web console\n"), policy, now)
    assert "check-update output not understood" in (facts["refresh_error"] or "")


def test_dnf5_versionlock_list() -> None:
    text = ("# Added by 'versionlock add' command on 2024-05-10 10:00:00\nPackage name: bash\nevr = 5.2.26-3.fc40\n\n"
            "# Added by 'versionlock add' command on 2024-05-10 10:01:00\nPackage name: kernel\nevr = 6.8.9-300.fc40\n")
    assert patch_dnf.parse_dnf_versionlock(text) == ["bash", "kernel"]


