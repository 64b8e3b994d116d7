"""Tests of plugins/module_utils/antivirus_defender.py: Defender cases on the recorded fixtures."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from maint_utils import antivirus_decide as av
from maint_utils import antivirus_defender as defender

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "defender"
SCHEMA = json.loads((ROOT / "schemas" / "check_result.schema.json").read_text(encoding="utf-8"))


def by_check(results):
    out = {}
    for result in results:
        out.setdefault(result["check"], []).append(result)
    return {check: items[0] if len(items) == 1 else items for check, items in out.items()}


def statuses(results):
    return {r["check"] + ("/" + r["item"] if r["check"] == av.CHECK_UPDATE else ""): r["status"] for r in results}


def valid(results):
    for result in results:
        record = dict(result, client="c", host="h", run_id="r")
        jsonschema.validate(record, SCHEMA)
    return results


def evaluate_file(name):
    text = (FIXTURES / name).read_text(encoding="utf-8", errors="replace")
    return valid(defender.evaluate_defender_text(text, name))


# --------------------------------------------------------------------------- Defender, per fixture
HEALTHY_PLAIN = {
    "antivirus.product": "ok", "antivirus.protection": "ok", "antivirus.signature_age": "ok",
    "antivirus.scan_age": "ok", "antivirus.tamper_protection": "ok", "antivirus.threats": "unknown",
}

CASES = {
    "healthy_ps51.json": HEALTHY_PLAIN,
    "healthy_ps7.json": HEALTHY_PLAIN,
    "healthy_collector.json": dict(HEALTHY_PLAIN, **{"antivirus.threats": "ok"}),
    "realtime_off_ps51.json": dict(HEALTHY_PLAIN, **{"antivirus.protection": "critical"}),
    "signatures_9_days_ps7.json": dict(HEALTHY_PLAIN, **{"antivirus.signature_age": "critical"}),
    "never_scanned_ps51.json": dict(HEALTHY_PLAIN, **{"antivirus.scan_age": "critical"}),
    "never_scanned_ps7.json": dict(HEALTHY_PLAIN, **{"antivirus.scan_age": "critical"}),
    "tamper_off_ps7.json": dict(HEALTHY_PLAIN, **{"antivirus.tamper_protection": "warning"}),
    "passive_third_party_collector.json": {
        "antivirus.product": "ok", "antivirus.protection": "ok", "antivirus.signature_age": "ok",
        "antivirus.scan_age": "skipped", "antivirus.tamper_protection": "skipped", "antivirus.threats": "ok",
    },
    "passive_no_securitycenter_collector.json": {
        "antivirus.product": "unknown", "antivirus.protection": "unknown", "antivirus.signature_age": "ok",
        "antivirus.scan_age": "unknown", "antivirus.tamper_protection": "skipped", "antivirus.threats": "ok",
    },
    "passive_nothing_active_collector.json": {
        "antivirus.product": "critical", "antivirus.protection": "critical", "antivirus.signature_age": "ok",
        "antivirus.scan_age": "critical", "antivirus.tamper_protection": "skipped", "antivirus.threats": "ok",
    },
    "no_active_product_collector.json": {
        "antivirus.product": "critical", "antivirus.protection": "critical", "antivirus.signature_age": "ok",
        "antivirus.scan_age": "ok", "antivirus.tamper_protection": "ok", "antivirus.threats": "ok",
    },
    "active_threat_collector.json": dict(HEALTHY_PLAIN, **{"antivirus.threats": "critical"}),
    "remediated_threat_collector.json": dict(HEALTHY_PLAIN, **{"antivirus.threats": "warning"}),
    "updated_signatures_collector.json": dict(HEALTHY_PLAIN, **{"antivirus.threats": "ok",
                                                               "antivirus.update/signatures": "ok"}),
    "quick_scan_started_collector.json": dict(HEALTHY_PLAIN, **{"antivirus.threats": "ok",
                                                               "antivirus.scan_age": "warning",
                                                               "antivirus.update/quick_scan": "ok"}),
    "quick_scan_failed_collector.json": dict(HEALTHY_PLAIN, **{"antivirus.threats": "ok",
                                                              "antivirus.scan_age": "warning",
                                                              "antivirus.update/quick_scan": "warning"}),
    "update_failed_collector.json": dict(HEALTHY_PLAIN, **{"antivirus.threats": "ok",
                                                          "antivirus.signature_age": "critical",
                                                          "antivirus.update/signatures": "warning"}),
    # Platform 4.10 (1607 / Server 2016): no AMRunningMode and no IsTamperProtected.
    "platform_4_10_no_running_mode_ps51.json": dict(HEALTHY_PLAIN, **{"antivirus.tamper_protection": "unknown"}),
}


def test_every_fixture_has_a_case():
    names = {p.name for p in FIXTURES.glob("*.json")} - {"empty.json", "garbage.json", "not_defender.json"}
    assert names == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_defender_fixture_statuses(name):
    assert statuses(evaluate_file(name)) == CASES[name]


def test_ps51_and_ps7_give_the_same_results():
    for a, b in (("healthy_ps51.json", "healthy_ps7.json"), ("never_scanned_ps51.json", "never_scanned_ps7.json")):
        left = {r["check"]: (r["status"], r["summary"], r["observed"]) for r in evaluate_file(a)}
        right = {r["check"]: (r["status"], r["summary"], r["observed"]) for r in evaluate_file(b)}
        assert left == right


def test_ps51_dates_are_read():
    checks = by_check(evaluate_file("healthy_ps51.json"))
    assert checks["antivirus.signature_age"]["observed"]["AntivirusSignatureLastUpdated"] == "2024-06-04T08:06:27Z"
    assert checks["antivirus.scan_age"]["observed"]["QuickScanEndTime"] == "2024-06-04T20:00:00Z"


def test_never_scanned_reads_as_never():
    scan = by_check(evaluate_file("never_scanned_ps51.json"))["antivirus.scan_age"]
    assert scan["observed"]["QuickScanAge"] == "never"
    assert scan["observed"]["FullScanAge"] == "never"
    assert "never scanned" in scan["summary"]


def test_missing_scan_ages_mean_never():
    status = json.loads((FIXTURES / "healthy_ps7.json").read_text())
    del status["QuickScanAge"], status["FullScanAge"]
    scan = by_check(defender.evaluate_defender_text(json.dumps(status)))["antivirus.scan_age"]
    assert scan["status"] == "critical"
    assert "never" in scan["summary"]


def test_signatures_9_days_summary_and_threshold():
    sig = by_check(evaluate_file("signatures_9_days_ps7.json"))["antivirus.signature_age"]
    assert sig["observed"]["age_days"] == 9
    assert sig["threshold"] == {"warn_days": 3, "crit_days": 7}
    assert "out of date" in sig["summary"]


def test_signature_thresholds_come_from_the_policy():
    data = json.loads((FIXTURES / "signatures_9_days_ps7.json").read_text())
    facts, _ = defender.defender_facts_from_json(data)
    relaxed = {"signature_warn_days": 7, "signature_crit_days": 14}
    sig = by_check(defender.evaluate_defender(facts, relaxed))["antivirus.signature_age"]
    assert sig["status"] == "warning"
    facts["computer_status"]["DefenderSignaturesOutOfDate"] = False
    sig = by_check(defender.evaluate_defender(facts, {"signature_warn_days": 10, "signature_crit_days": 14}))[
        "antivirus.signature_age"]
    assert sig["status"] == "ok"


def test_passive_mode_with_third_party_names_it():
    checks = by_check(evaluate_file("passive_third_party_collector.json"))
    assert checks["antivirus.product"]["item"] == "third_party"
    assert "ESET Security" in checks["antivirus.product"]["summary"]
    assert "passive" in checks["antivirus.product"]["summary"]
    products = {p["name"]: p for p in checks["antivirus.product"]["observed"]["securitycenter_products"]}
    assert products["Windows Defender"]["scanner"] == "off"
    assert products["ESET Security"]["scanner"] == "on"


def test_active_threat_is_named():
    threats = by_check(evaluate_file("active_threat_collector.json"))["antivirus.threats"]
    assert "Virus:DOS/EICAR_Test_File" in threats["summary"]
    assert threats["observed"]["unremediated"][0]["status"] == "detected"


def test_updated_signatures_carry_changed():
    results = evaluate_file("updated_signatures_collector.json")
    update = by_check(results)["antivirus.update"]
    assert update["changed"] is True
    assert update["observed"] == {"before": "1.413.102.0", "after": "1.413.180.0", "duration_s": 14.2}
    assert [r for r in results if r["changed"]] == [update]


def test_quick_scan_is_reported_started_not_done():
    results = evaluate_file("quick_scan_started_collector.json")
    scan = by_check(results)["antivirus.update"]
    assert scan["item"] == "quick_scan" and scan["changed"] is True
    assert "started in the background (job Running)" in scan["summary"]
    assert "done" not in scan["summary"]
    assert scan["observed"]["started"] is True and scan["observed"]["job_state"] == "Running"
    failed = by_check(evaluate_file("quick_scan_failed_collector.json"))["antivirus.update"]
    assert failed["changed"] is False and "Access is denied" in failed["summary"]


def test_collector_starts_the_quick_scan_without_waiting_for_it():
    """Start-MpScan blocks until the scan ends (minutes): it must run as a job, bounded."""
    source = (ROOT / "plugins" / "modules" / "win_antivirus_defender.ps1").read_text(encoding="utf-8")
    calls = [line.strip() for line in source.splitlines() if re.search(r"^\s*(\$\w+ = )?Start-MpScan ", line)]
    assert calls, "no Start-MpScan call"
    for call in calls:
        # Parameters documented for Start-MpScan: ScanPath, ScanType, CimSession, ThrottleLimit, AsJob.
        assert "-AsJob" in call, call
    assert "Wait-Job -Job $job -Timeout $module.Params.scan_start_wait_seconds" in source
    assert "$action.after = $status.QuickScanEndTime" not in source


def test_update_failure_is_a_warning_with_the_error():
    update = by_check(evaluate_file("update_failed_collector.json"))["antivirus.update"]
    assert update["changed"] is False
    assert "0x8024402c" in update["summary"]


def test_check_mode_remediation_is_skipped():
    facts, _ = defender.defender_facts_from_json(json.loads((FIXTURES / "healthy_collector.json").read_text()))
    facts["remediation"] = {"signatures": {"skipped": "check mode"}}
    update = by_check(defender.evaluate_defender(facts))["antivirus.update"]
    assert update["status"] == "skipped"
    assert update["changed"] is False


@pytest.mark.parametrize("name, reason", [
    ("empty.json", "empty input"),
    ("garbage.json", "not JSON"),
    ("not_defender.json", "not Get-MpComputerStatus output"),
])
def test_empty_or_garbage_is_unknown_with_a_reason(name, reason):
    results = evaluate_file(name)
    assert len(results) == 1
    assert results[0]["status"] == "unknown"
    assert reason in results[0]["summary"]
    assert name in results[0]["summary"]


def test_utf16_file_read_as_utf8_still_parses():
    # Windows PowerShell 5.1's `> file` writes UTF-16LE with a BOM; maintctl reads UTF-8 with replacement.
    raw = (FIXTURES / "healthy_ps51.json").read_text(encoding="utf-8").encode("utf-16")
    text = raw.decode("utf-8", errors="replace")
    assert statuses(defender.evaluate_defender_text(text)) == HEALTHY_PLAIN


def test_utf8_bom_and_one_element_list():
    body = (FIXTURES / "healthy_ps7.json").read_text(encoding="utf-8")
    assert statuses(defender.evaluate_defender_text("\ufeff[" + body + "]")) == HEALTHY_PLAIN


def test_status_read_failure_is_unknown():
    results = defender.evaluate_defender({"computer_status": None, "error": "Get-MpComputerStatus failed: 0x800106ba",
                                    "products": None})
    assert statuses(results) == {"antivirus.product": "unknown"}
    assert "0x800106ba" in results[0]["summary"]


# --------------------------------------------------------------------------- Defender helpers
@pytest.mark.parametrize("value, expected", [
    ("/Date(1700000000000)/", 1700000000.0),
    ("/Date(1700000000000+0100)/", 1700000000.0),
    ({"value": "/Date(1700000000000)/", "DisplayHint": 2}, 1700000000.0),
    ("2023-11-14T22:13:20Z", 1700000000.0),
    ("2023-11-14T23:13:20.1234567+01:00", 1700000000.1234567),
    ("2023-11-14T22:13:20", 1700000000.0),
    ("/Date(-11644473600000)/", None),
    ("1600-12-31T16:00:00-08:00", None),
    ("", None),
    (None, None),
    ("yesterday", None),
])
def test_parse_ps_date(value, expected):
    got = defender.parse_ps_date(value)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=0.001)


@pytest.mark.parametrize("state, enabled, up_to_date, microsoft", [
    (397568, True, True, True),     # 0x61100 Windows Defender on
    (393472, False, True, True),    # 0x60100 Windows Defender off
    (397584, True, False, True),    # 0x61110 on, out of date
    (266240, True, True, False),    # 0x41000 third party on
    (262144, False, True, False),   # 0x40000 third party off
    ("0x41010", True, False, False),
])
def test_decode_product_state(state, enabled, up_to_date, microsoft):
    decoded = defender.decode_product_state(state)
    assert (decoded["enabled"], decoded["up_to_date"], decoded["microsoft"]) == (enabled, up_to_date, microsoft)


def test_decode_product_state_garbage():
    assert defender.decode_product_state("n/a") is None
    assert defender.decode_product_state(None) is None


@pytest.mark.parametrize("mode, expected", [
    ("Normal", "normal"), ("Passive Mode", "passive"), ("EDR Block Mode", "edr_block"),
    ("SxS Passive Mode", "sxs_passive"), (None, None), (1, None),
])
def test_running_mode(mode, expected):
    assert defender.running_mode(mode) == expected


def test_threat_status_by_name_or_number():
    facts, _ = defender.defender_facts_from_json(json.loads((FIXTURES / "healthy_collector.json").read_text()))
    facts["threats"] = [{"ThreatID": 1, "ThreatStatus": "Quarantined", "ActionSuccess": "True"},
                        {"ThreatID": 2, "ThreatStatusID": "104"}]
    threats = by_check(defender.evaluate_defender(facts))["antivirus.threats"]
    assert threats["status"] == "critical"
    assert [e["status"] for e in threats["observed"]["unremediated"]] == ["remove_failed"]
    assert [e["status"] for e in threats["observed"]["remediated"]] == ["quarantined"]


def test_remediation_args_follow_the_policy():
    assert defender.defender_remediation_args({}) == {"update_signatures": False, "update_if_age_days": 3,
                                                "quick_scan_after_days": 0, "threat_days": 30}
    args = defender.defender_remediation_args({"update_signatures": True, "signature_warn_days": 2,
                                         "quick_scan_after_days": 7, "threat_days": 14})
    assert args == {"update_signatures": True, "update_if_age_days": 2, "quick_scan_after_days": 7, "threat_days": 14}


# --------------------------------------------------------------------------- maintctl evaluate defender
def _evaluate_cli(*files):
    maintctl = Path(sys.executable).parent / "maintctl"
    return subprocess.run([str(maintctl), "evaluate", "defender", *files], capture_output=True, text=True,
                          check=False, timeout=60)


def test_cli_evaluates_files_and_exits_1_on_critical():
    proc = _evaluate_cli(str(FIXTURES / "healthy_ps7.json"), str(FIXTURES / "realtime_off_ps51.json"))
    assert proc.returncode == 1, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    valid(records)
    assert {r["host"] for r in records} == {"healthy_ps7.json", "realtime_off_ps51.json"}
    assert [r["status"] for r in records if r["host"] == "realtime_off_ps51.json"
            and r["check"] == "antivirus.protection"] == ["critical"]


def test_cli_garbage_is_unknown_and_exit_0():
    proc = _evaluate_cli(str(FIXTURES / "garbage.json"))
    assert proc.returncode == 0, proc.stderr
    [record] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert record["status"] == "unknown"


def test_cli_missing_file_is_exit_2():
    proc = _evaluate_cli(str(FIXTURES / "does_not_exist.json"))
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr


def _defender_status(**over):
    data = json.loads((FIXTURES / "healthy_ps7.json").read_text(encoding="utf-8"))
    data.update(over)
    return {"computer_status": data, "threats": [], "active_threats": [], "products": None}


@pytest.mark.parametrize("field, bad", [
    ("AntivirusSignatureAge", float("nan")), ("AntivirusSignatureAge", float("inf")),
    ("QuickScanAge", float("nan")), ("AntivirusSignatureLastUpdated", 1e300),
    ("AntivirusSignatureAge", [1, 2]), ("AMServiceEnabled", {"x": 1}),
])
def test_defender_nan_and_nested_values_never_raise(field, bad):
    results = valid(defender.evaluate_defender(_defender_status(**{field: bad})))
    got = statuses(results)
    assert set(got) >= {"antivirus.product", "antivirus.protection", "antivirus.signature_age",
                        "antivirus.scan_age", "antivirus.tamper_protection", "antivirus.threats"}
    assert got["antivirus.protection"] == "ok" and got["antivirus.threats"] == "ok"
    if field == "AntivirusSignatureAge" and bad == bad and bad != float("inf"):
        assert got["antivirus.signature_age"] == "unknown"
    if field == "AntivirusSignatureAge" and bad != bad:
        assert got["antivirus.signature_age"] == "unknown"  # NaN never graded ok


def test_defender_odd_products_and_threats_cost_their_own_check():
    facts = _defender_status()
    facts["products"] = ["ESET", None, {"displayName": "ESET Security", "productState": "not a number"}]
    facts["threats"] = 17  # not a list of detections
    results = valid(defender.evaluate_defender(facts))
    got = statuses(results)
    assert got["antivirus.product"] == "ok" and got["antivirus.protection"] == "ok"
    assert got["antivirus.threats"] == "unknown" and "unreadable" in by_check(results)["antivirus.threats"]["summary"]
    assert valid(defender.evaluate_defender("garbage"))[0]["status"] == "unknown"


# --------------------------------------------------------------------------- Defender platform 4.10
def test_defender_platform_4_10_without_running_mode_is_active():
    """Windows 10 1607 / Server 2016 platforms have no AMRunningMode: service and AV on is an active Defender."""
    results = evaluate_file("platform_4_10_no_running_mode_ps51.json")
    got = statuses(results)
    product = by_check(results)["antivirus.product"]
    assert product["status"] == "ok" and "no active antivirus" not in product["summary"]
    assert "no AMRunningMode" in product["summary"] and product["observed"]["defender_mode_inferred"] is True
    assert got["antivirus.protection"] == "ok"
    assert got["antivirus.signature_age"] == "ok"
    assert got["antivirus.scan_age"] == "ok"  # quick scan today, full scan never
    assert got["antivirus.tamper_protection"] == "unknown"  # not reported by this platform


@pytest.mark.parametrize("over, expected", [
    ({"AMServiceEnabled": False}, "critical"),
    ({"AntivirusEnabled": False}, "critical"),
    ({"AntivirusEnabled": None, "AMServiceEnabled": None}, "unknown"),
])
def test_defender_without_running_mode_needs_the_service_and_the_antivirus(over, expected):
    data = json.loads((FIXTURES / "platform_4_10_no_running_mode_ps51.json").read_text(encoding="utf-8"))
    data.update(over)
    product = by_check(valid(defender.evaluate_defender({"computer_status": data, "products": None})))["antivirus.product"]
    assert product["status"] == expected
