"""SMART decisions (plugins/module_utils/hardware_smart.py) on real and synthesised smartctl output."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from maint_utils import hardware_smart
from maint_utils.hardware_decide import SMART, effective_policy
from maint_utils.hardware_decide import evaluate_smart_text as evaluate_text
from maint_utils.hardware_smart import decode_exit_status
from maintctl.cli import main as maintctl_main
from tests.conftest import assert_valid_results

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "smartctl"
ALL_FILES = sorted(p.name for p in FIXTURES.glob("*.json"))


def evaluate_device(data: Any, policy: dict[str, Any] | None = None, item: str | None = None) -> dict[str, Any]:
    """One device's result, with the hardware policy merged with the catalogue's defaults."""
    result: dict[str, Any] = hardware_smart.evaluate_device(SMART, data, effective_policy(policy), item=item)
    return result

# Every fixture that must be flagged: file -> (status, text the summary must hold).
# Every other fixture must be "ok". Read from the files themselves (see the README
# of tests/fixtures/smartctl): smart_status, ATA 5/187/188/197/198, when_failed,
# NVMe critical_warning/media_errors/percentage_used, SCSI grown defects, exit_status.
FLAGGED = {
    "HGST_HUS724020ALE640_28.json": ("warning", "bit 6"),
    "MB0500EBNCR_13.json": ("warning", "1 reported uncorrectable (187)"),
    "SEAGATE_ST373453LC_26.json": ("critical", "260 grown defects"),
    "ST3500418AS_12.json": ("critical", "304 reallocated sectors (5)"),
    "sat-Intel_S3520_Series_SSDs-INTEL_SSDSC2BB016T7-sdc.json": ("warning", "1 reallocated sectors (5)"),
    "sat-Phison_Driven_SSDs-KINGSTON_SA400M8120G-sda.json": ("warning", "bit 2"),
    "sat-Phison_Driven_SSDs-KINGSTON_SKC400S371T-sda.json": ("warning", "1 reallocated sectors (5)"),
    "sat-Toshiba_MG05ACA..._Enterprise_Capacity_HDD-TOSHIBA_MG05ACA800E-sdw.json": ("warning", "bit 6"),
    "sat-Western_Digital_Ultrastar_DC_HC550-WDC__WUH721816ALE6L4-sdx.json": ("warning", "bit 6"),
}


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def _stamp(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for res in results:
        res.update(client="c", host="h", run_id="r")
    return results


def test_fixture_set_is_complete() -> None:
    assert len(ALL_FILES) == 84
    assert (FIXTURES / "README.md").read_text(encoding="utf-8").count("smartctl_exporter") == 1
    assert set(FLAGGED) <= set(ALL_FILES)


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_fixture_evaluates(name: str) -> None:
    results = evaluate_text((FIXTURES / name).read_text(encoding="utf-8"), name)
    assert len(results) == 1
    res = results[0]
    assert_valid_results(_stamp(results))
    assert res["check"] == "hardware.smart"
    assert res["item"].startswith("/dev/")
    expected_status, expected_text = FLAGGED.get(name, ("ok", "SMART PASSED, no problem found"))
    assert res["status"] == expected_status, res["summary"]
    assert expected_text in res["summary"]
    if expected_status == "ok":
        assert res["remediation"] == ""
        assert res["observed"]["smart_passed"] is True
    else:
        assert res["remediation"]


def test_observed_values_are_read() -> None:
    res = evaluate_device(_load("ST3500418AS_12.json"))
    assert res["observed"]["ata"]["reallocated_sectors"] == 304
    assert res["observed"]["temperature_c"] == 33
    nvme = evaluate_device(_load("nvme-null-INTEL_SSDPE2KX010T8-nvme1.json"))
    assert nvme["observed"]["nvme"]["percentage_used"] == 73
    assert nvme["status"] == "ok"
    scsi = evaluate_device(_load("SEAGATE_ST373453LC_26.json"))
    assert scsi["observed"]["scsi_uncorrected_errors"] == {"read": 1, "write": 535}
    assert scsi["observed"]["scsi_grown_defects"] == 260


def test_seagate_packed_command_timeouts_are_decoded() -> None:
    data = _load("sat-Seagate_Exos_X16-ST16000NM001G-2KK103-sda.json")
    res = evaluate_device(data)
    assert res["observed"]["ata"]["command_timeouts"] == 12  # raw 51540393996 = 12 12 12
    assert res["status"] == "ok"
    low = evaluate_device(data, {"smart_command_timeout_warn": 10})
    assert low["status"] == "warning" and "12 command timeouts (188)" in low["summary"]


def test_policy_overrides_thresholds() -> None:
    data = _load("sat-Intel_S3520_Series_SSDs-INTEL_SSDSC2BB016T7-sdc.json")
    assert evaluate_device(data)["status"] == "warning"
    assert evaluate_device(data, {"smart_reallocated_crit": 1})["status"] == "critical"
    nvme = _load("nvme-null-INTEL_SSDPE2KX010T8-nvme1.json")  # 73 % used
    assert evaluate_device(nvme, {"smart_wear_warn_pct": 70})["status"] == "warning"


# -- synthesised edge cases -------------------------------------------------------
def _healthy_ata() -> dict[str, Any]:
    return _load("Hitachi_HUA722020ALA330_29.json")


def _attr(data: dict[str, Any], attr_id: int) -> dict[str, Any]:
    for attr in data["ata_smart_attributes"]["table"]:
        if attr["id"] == attr_id:
            return dict(attr)
    raise KeyError(attr_id)


def test_failed_overall_status_is_critical() -> None:
    data = _healthy_ata()
    data["smart_status"]["passed"] = False
    data["smartctl"]["exit_status"] = 8
    res = evaluate_device(data)
    assert res["status"] == "critical"
    assert "overall health FAILED" in res["summary"]
    assert "bit 3" in res["summary"]


@pytest.mark.parametrize(("when", "status"), [("now", "critical"), ("past", "warning")])
def test_failing_attribute(when: str, status: str) -> None:
    data = _healthy_ata()
    data["ata_smart_attributes"]["table"][0]["when_failed"] = when
    res = evaluate_device(data)
    assert res["status"] == status
    assert res["observed"]["failing_attributes"]


@pytest.mark.parametrize(("attr_id", "raw", "status"), [
    (197, 3, "warning"), (197, 10, "critical"), (198, 1, "warning"), (5, 99, "warning"), (5, 100, "critical"),
])
def test_ata_counters(attr_id: int, raw: int, status: str) -> None:
    data = _healthy_ata()
    table = data["ata_smart_attributes"]["table"]
    for attr in table:
        if attr["id"] == attr_id:
            attr["raw"] = {"value": raw, "string": str(raw)}
    res = evaluate_device(data)
    assert res["status"] == status
    assert f"({attr_id})" in res["summary"]


def _nvme() -> dict[str, Any]:
    return _load("INTEL_SSDPE2KX080T8_3.json")


@pytest.mark.parametrize(("field", "value", "status", "text"), [
    ("critical_warning", 0x04, "critical", "reliability degraded"),
    ("critical_warning", 0x01, "critical", "available spare below threshold"),
    ("media_errors", 3, "warning", "3 NVMe media errors"),
    ("media_errors", 12, "critical", "12 NVMe media errors"),
    ("percentage_used", 85, "warning", "85 % of rated endurance"),
    ("percentage_used", 100, "critical", "100 % of rated endurance"),
])
def test_nvme_health(field: str, value: int, status: str, text: str) -> None:
    data = _nvme()
    data["nvme_smart_health_information_log"][field] = value
    res = evaluate_device(data)
    assert res["status"] == status
    assert text in res["summary"]


@pytest.mark.parametrize(("name", "temp", "status"), [
    ("INTEL_SSDPE2KX080T8_3.json", 72, "warning"),
    ("INTEL_SSDPE2KX080T8_3.json", 60, "ok"),
    ("Hitachi_HUA722020ALA330_29.json", 58, "warning"),
    ("Hitachi_HUA722020ALA330_29.json", 66, "critical"),
    ("HITACHI_H109060SESUN600G_9.json", 66, "critical"),
])
def test_temperature(name: str, temp: int, status: str) -> None:
    data = _load(name)
    data["temperature"]["current"] = temp
    assert evaluate_device(data)["status"] == status


def test_exit_status_bits_decoded() -> None:
    bits = decode_exit_status(0xC4)
    assert [b for b, _, _ in bits] == [2, 6, 7]
    assert bits[2][1] == "critical"
    assert decode_exit_status(None) == []


@pytest.mark.parametrize(("text", "needle"), [
    ("", "empty input"),
    ("   \n", "empty input"),
    ('{"json_format_version": [1, 0], "smartctl": {"version": [7, 3]', "truncated or damaged JSON"),
    ("smartctl 7.3 2022-02-28 r5338 [x86_64-linux] (local build)\n=== START OF INFORMATION", "text output"),
    ('{"foo": 1}', "not a smartctl JSON output"),
    ("[]", "empty JSON list"),
    ("42", "not a smartctl JSON output"),
    ('"smartctl"', "not a smartctl JSON output"),
    ("\x00\x01garbage\xff", "not valid JSON"),
])
def test_garbage_gives_one_unknown(text: str, needle: str) -> None:
    results = evaluate_text(text, "f.json")
    assert len(results) == 1
    assert results[0]["status"] == "unknown"
    assert needle in results[0]["summary"]
    assert_valid_results(_stamp(results))


def test_truncated_real_file() -> None:
    text = (FIXTURES / "ST3500418AS_12.json").read_text(encoding="utf-8")
    res = evaluate_text(text[: len(text) // 2], "cut.json")
    assert [r["status"] for r in res] == ["unknown"]


def test_scan_output_is_not_health() -> None:
    scan = {"json_format_version": [1, 0], "smartctl": {"exit_status": 0},
            "devices": [{"name": "/dev/sda", "type": "sat", "protocol": "ATA"}]}
    res = evaluate_text(json.dumps(scan), "scan.json")
    assert res[0]["status"] == "unknown" and "device list" in res[0]["summary"]


@pytest.mark.parametrize(("doc", "needle"), [
    ({"smartctl": {"exit_status": 0}}, "no health data"),
    ({"smartctl": {"exit_status": 2, "messages": [{"string": "/dev/sdb: Unable to detect device type"}]}},
     "Unable to detect device type"),
    ({"smartctl": {"exit_status": 4}, "device": {"name": "/dev/sda"}, "smart_support": {"available": False}},
     "does not support SMART"),
    ({"smartctl": {"exit_status": 0}, "smart_support": {"available": True, "enabled": False}}, "SMART is disabled"),
])
def test_missing_fields_give_unknown(doc: dict[str, Any], needle: str) -> None:
    res = evaluate_text(json.dumps(doc), "x.json")
    assert res[0]["status"] == "unknown"
    assert needle in res[0]["summary"]


def test_health_only_output() -> None:
    doc = {"smartctl": {"exit_status": 0}, "device": {"name": "/dev/sda", "protocol": "ATA"},
           "smart_status": {"passed": True}}
    assert evaluate_text(json.dumps(doc), "x.json")[0]["status"] == "ok"
    doc["smart_status"]["passed"] = False
    assert evaluate_text(json.dumps(doc), "x.json")[0]["status"] == "critical"


def test_json_list_gives_one_result_per_device() -> None:
    docs = [_load("ST3500418AS_12.json"), _nvme(), {"nope": True}]
    res = evaluate_text(json.dumps(docs), "many.json")
    assert [r["status"] for r in res] == ["critical", "ok", "unknown"]
    assert res[2]["item"] == "many.json[2]"


def test_wrong_types_never_crash() -> None:
    """Mutate real outputs at random (deterministic seed): every result is still valid."""
    rng = random.Random(20261122)
    junk: list[Any] = [None, "x", -1, 1.5, [], {}, True, 2**70]
    for name in ALL_FILES[::3]:
        base = _load(name)
        for _ in range(15):
            data = copy.deepcopy(base)
            target: Any = data
            path = []
            while isinstance(target, dict) and target and rng.random() < 0.7:
                key = rng.choice(sorted(target))
                path.append(key)
                if not isinstance(target[key], dict | list) or rng.random() < 0.3:
                    target[key] = rng.choice(junk)
                    break
                if isinstance(target[key], list):
                    if target[key] and isinstance(target[key][0], dict):
                        target = target[key][0]
                    else:
                        target[key] = rng.choice(junk)
                        break
                else:
                    target = target[key]
            res = evaluate_text(json.dumps(data), name)
            assert_valid_results(_stamp(res))


def test_defaults_only_in_python() -> None:
    assert hardware_smart.thresholds(SMART, effective_policy(None)) == SMART.policy
    assert hardware_smart.thresholds(SMART, effective_policy({"disk_temp_warn_c": 50}))["disk_temp_warn_c"] == 50


def test_maintctl_evaluate_smart(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(FIXTURES / name) for name in ALL_FILES]
    assert maintctl_main(["evaluate", "smart", *files]) == 1  # two critical disks among them
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 84
    assert_valid_results(lines)
    assert {r["host"] for r in lines} == set(ALL_FILES)
    assert sum(r["status"] == "critical" for r in lines) == 2
    healthy = str(FIXTURES / "INTEL_SSDPE2KX080T8_3.json")
    assert maintctl_main(["evaluate", "smart", healthy]) == 0
    capsys.readouterr()


def test_maintctl_evaluate_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert maintctl_main(["evaluate", "smart", str(tmp_path / "absent.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
