"""Windows hardware decisions (plugins/module_utils/hardware_win.py).

The inputs are reconstructed from Microsoft's documentation (see
tests/fixtures/windows/hardware/README.md); the behaviour on a real Windows host is
verified only by roles/hardware/molecule/windows. The action plugin that runs this code
is tested in tests/unit/action/test_win_hardware.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from maint_utils import hardware_win as wd
from maint_utils.maint_result import PolicyError
from tests.conftest import assert_valid_results

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "windows" / "hardware"

# file -> {(check, item): status}: every result expected, no more, no less.
EXPECTED: dict[str, dict[tuple[str, str], str]] = {
    "healthy_server.json": {
        ("hardware.disk_free", "C:\\"): "ok",
        ("hardware.disk_free", "D:\\"): "ok",
        ("hardware.smart", "SAMSUNG MZVL2512HCJQ-00B00 S64KNX0T123456"): "ok",
        ("hardware.smart", "WDC WD20EFRX-68EUZN0 WD-WCC4M0000000"): "ok",
        ("hardware.pending_reboot", ""): "ok",
        ("hardware.memory", ""): "ok",
        ("hardware.uptime", ""): "ok",
    },
    "failing_disk.json": {
        ("hardware.disk_free", "C:\\"): "critical",
        ("hardware.disk_free", "C:\\Mount\\Archive\\"): "warning",
        ("hardware.smart", "ST1000DM003-1ER162 Z4Y00000"): "critical",
        ("hardware.pending_reboot", ""): "warning",
        ("hardware.memory", ""): "warning",
        ("hardware.uptime", ""): "ok",
    },
    "lost_disk.json": {
        ("hardware.disk_free", "C:\\"): "ok",
        ("hardware.smart", "HGST HUS726040ALA610 K4K00000"): "critical",
        ("hardware.smart", "Generic USB Disk"): "unknown",
        ("hardware.pending_reboot", ""): "warning",
        ("hardware.memory", ""): "unknown",
        ("hardware.uptime", ""): "unknown",
    },
    "vm_no_disks.json": {
        ("hardware.disk_free", ""): "unknown",
        ("hardware.smart", ""): "unknown",
        ("hardware.pending_reboot", ""): "unknown",
        ("hardware.memory", ""): "ok",
        ("hardware.uptime", ""): "warning",
    },
    "worn_ssd_maintenance.json": {
        ("hardware.disk_free", "C:\\"): "ok",
        ("hardware.smart", "INTEL SSDSC2KB480G8 PHYF000000"): "warning",
        ("hardware.smart", "INTEL SSDSC2KB480G8 PHYF000001"): "critical",
        ("hardware.pending_reboot", ""): "ok",
        ("hardware.memory", ""): "critical",
        ("hardware.uptime", ""): "ok",
    },
}


def _facts(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert "NOT recorded on a real host" in data["_source"]
    facts: dict[str, Any] = data["hardware_raw"]
    return facts


def _stamp(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for res in results:
        res.update(client="c", host="h", run_id="r")
    return results


def test_every_fixture_has_expectations() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str) -> None:
    results = wd.decide_windows(_facts(name), {})
    assert_valid_results(_stamp(results))
    got = {(r["check"], r["item"]): r["status"] for r in results}
    assert got == EXPECTED[name]
    for res in results:
        assert bool(res["remediation"]) == (res["status"] in ("warning", "critical", "unknown")), res


def test_summaries_say_why() -> None:
    by = {(r["check"], r["item"]): r for r in wd.decide_windows(_facts("failing_disk.json"))}
    disk = by[("hardware.smart", "ST1000DM003-1ER162 Z4Y00000")]
    assert "Predictive Failure" in disk["summary"]
    assert "12 uncorrected read/write errors" in disk["summary"]
    assert "health status Warning" in disk["summary"]
    reboot = by[("hardware.pending_reboot", "")]
    assert "Component Based Servicing" in reboot["summary"] and "OLDNAME -> WS17" in reboot["summary"]
    assert by[("hardware.disk_free", "C:\\")]["observed"]["free_pct"] == 8.0
    lost = {(r["check"], r["item"]): r for r in wd.decide_windows(_facts("lost_disk.json"))}
    assert "Lost Communication" in lost[("hardware.smart", "HGST HUS726040ALA610 K4K00000")]["summary"]
    worn = {(r["check"], r["item"]): r for r in wd.decide_windows(_facts("worn_ssd_maintenance.json"))}
    first = worn[("hardware.smart", "INTEL SSDSC2KB480G8 PHYF000000")]["summary"]
    assert "85 % of rated endurance" in first and "temperature 58 C (warning at 55 C)" in first
    second = worn[("hardware.smart", "INTEL SSDSC2KB480G8 PHYF000001")]["summary"]
    assert "code 0xD010 (In Maintenance Mode)" in second and "100 % of rated endurance" in second


def test_temperature_from_reliability_counters() -> None:
    facts = _facts("healthy_server.json")
    facts["physical_disks"][1]["reliability"]["temperature"] = 58
    by = {r["item"]: r for r in wd.decide_windows(facts) if r["check"] == "hardware.smart"}
    assert by["WDC WD20EFRX-68EUZN0 WD-WCC4M0000000"]["status"] == "warning"
    facts["physical_disks"][0]["reliability"]["temperature"] = 72  # NVMe: warning from 70
    by = {r["item"]: r for r in wd.decide_windows(facts) if r["check"] == "hardware.smart"}
    assert by["SAMSUNG MZVL2512HCJQ-00B00 S64KNX0T123456"]["status"] == "warning"


def test_missing_health_is_never_ok() -> None:
    facts = _facts("healthy_server.json")
    del facts["physical_disks"][0]["health_status"]
    by = {r["item"]: r for r in wd.decide_windows(facts) if r["check"] == "hardware.smart"}
    assert by["SAMSUNG MZVL2512HCJQ-00B00 S64KNX0T123456"]["status"] == "unknown"


def test_pending_file_rename_is_ignored() -> None:
    facts = _facts("healthy_server.json")
    facts["reboot"]["pending_file_rename_operations"] = ["\\??\\C:\\ProgramData\\AV\\x.tmp"]
    res = [r for r in wd.decide_windows(facts) if r["check"] == "hardware.pending_reboot"][0]
    assert res["status"] == "ok"


def test_policy_applies_and_is_checked() -> None:
    facts = _facts("healthy_server.json")  # C: 40.2 % free
    results = wd.decide_windows(facts, {"disk_warn_free_pct": 45, "disk_crit_free_pct": 10})
    assert [r["status"] for r in results if r["item"] == "C:\\"] == ["warning"]
    excluded = wd.decide_windows(facts, {"mount_exclude": ["D:*"]})
    assert "D:\\" not in {r["item"] for r in excluded}
    with pytest.raises(PolicyError):
        wd.decide_windows(facts, {"disk_free": 3})


def test_empty_facts_give_unknowns() -> None:
    results = wd.decide_windows({}, None)
    assert {r["status"] for r in results} == {"unknown"}
    assert_valid_results(_stamp(results))


# -- hostile input: one odd value costs one result, never the host's others ------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc", [1], {"v": 1}])
def test_one_odd_volume_or_disk_costs_only_its_own_result(bad: Any) -> None:
    facts = json.loads((FIXTURES / "healthy_server.json").read_text(encoding="utf-8"))
    facts = facts.get("hardware_raw", facts)
    good = wd.decide_windows(copy.deepcopy(facts))
    facts["volumes"][0]["free_space"] = bad
    facts["physical_disks"][0]["health_status"] = bad
    results = wd.decide_windows(facts)
    assert_valid_results([dict(r, client="c", host="h", run_id="r") for r in results])
    assert len(results) == len(good)
    before = {(r["check"], r["item"]): r["status"] for r in good}
    after = {(r["check"], r["item"]): r["status"] for r in results}
    changed = {key for key in before if before[key] != after[key]}
    assert all(after[key] == "unknown" for key in changed)
    assert len(changed) == 2  # the volume and the disk, nothing else
    assert after[("hardware.memory", "")] == before[("hardware.memory", "")]


def test_odd_entries_and_nan_os_values() -> None:
    facts = {"volumes": ["C:\\", None], "physical_disks": {"friendly_name": "one disk", "health_status": 0,
                                                           "operational_status": 2},
             "os": {"total_visible_memory_kb": float("nan"), "free_physical_memory_kb": 100,
                    "uptime_seconds": float("nan")}, "reboot": {"cbs_reboot_pending": False}}
    results = wd.decide_windows(facts)
    assert_valid_results([dict(r, client="c", host="h", run_id="r") for r in results])
    status = {(r["check"], r["item"]): r["status"] for r in results}
    assert status[("hardware.memory", "")] == "unknown" and status[("hardware.uptime", "")] == "unknown"
    assert status[("hardware.smart", "one disk")] == "ok"
    assert status[("hardware.pending_reboot", "")] == "ok"
