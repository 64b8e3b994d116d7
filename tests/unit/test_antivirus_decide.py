"""Tests of plugins/module_utils/antivirus_decide.py: Defender cases on the fixtures, ClamAV on real outputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from maint_utils import antivirus_decide as av

ROOT = Path(__file__).resolve().parents[2]
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
    return valid(av.evaluate_defender_text(text, name))


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
    scan = by_check(av.evaluate_defender_text(json.dumps(status)))["antivirus.scan_age"]
    assert scan["status"] == "critical"
    assert "never" in scan["summary"]


def test_signatures_9_days_summary_and_threshold():
    sig = by_check(evaluate_file("signatures_9_days_ps7.json"))["antivirus.signature_age"]
    assert sig["observed"]["age_days"] == 9
    assert sig["threshold"] == {"warn_days": 3, "crit_days": 7}
    assert "out of date" in sig["summary"]


def test_signature_thresholds_come_from_the_policy():
    data = json.loads((FIXTURES / "signatures_9_days_ps7.json").read_text())
    facts, _ = av.defender_facts_from_json(data)
    relaxed = {"signature_warn_days": 7, "signature_crit_days": 14}
    sig = by_check(av.evaluate_defender(facts, relaxed))["antivirus.signature_age"]
    assert sig["status"] == "warning"
    facts["computer_status"]["DefenderSignaturesOutOfDate"] = False
    sig = by_check(av.evaluate_defender(facts, {"signature_warn_days": 10, "signature_crit_days": 14}))[
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
    source = (ROOT / "plugins" / "modules" / "win_defender_facts.ps1").read_text(encoding="utf-8")
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
    facts, _ = av.defender_facts_from_json(json.loads((FIXTURES / "healthy_collector.json").read_text()))
    facts["remediation"] = {"signatures": {"skipped": "check mode"}}
    update = by_check(av.evaluate_defender(facts))["antivirus.update"]
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
    assert statuses(av.evaluate_defender_text(text)) == HEALTHY_PLAIN


def test_utf8_bom_and_one_element_list():
    body = (FIXTURES / "healthy_ps7.json").read_text(encoding="utf-8")
    assert statuses(av.evaluate_defender_text("\ufeff[" + body + "]")) == HEALTHY_PLAIN


def test_status_read_failure_is_unknown():
    results = av.evaluate_defender({"computer_status": None, "error": "Get-MpComputerStatus failed: 0x800106ba",
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
    got = av.parse_ps_date(value)
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
    decoded = av.decode_product_state(state)
    assert (decoded["enabled"], decoded["up_to_date"], decoded["microsoft"]) == (enabled, up_to_date, microsoft)


def test_decode_product_state_garbage():
    assert av.decode_product_state("n/a") is None
    assert av.decode_product_state(None) is None


@pytest.mark.parametrize("mode, expected", [
    ("Normal", "normal"), ("Passive Mode", "passive"), ("EDR Block Mode", "edr_block"),
    ("SxS Passive Mode", "sxs_passive"), (None, None), (1, None),
])
def test_running_mode(mode, expected):
    assert av.running_mode(mode) == expected


def test_threat_status_by_name_or_number():
    facts, _ = av.defender_facts_from_json(json.loads((FIXTURES / "healthy_collector.json").read_text()))
    facts["threats"] = [{"ThreatID": 1, "ThreatStatus": "Quarantined", "ActionSuccess": "True"},
                        {"ThreatID": 2, "ThreatStatusID": "104"}]
    threats = by_check(av.evaluate_defender(facts))["antivirus.threats"]
    assert threats["status"] == "critical"
    assert [e["status"] for e in threats["observed"]["unremediated"]] == ["remove_failed"]
    assert [e["status"] for e in threats["observed"]["remediated"]] == ["quarantined"]


def test_remediation_args_follow_the_policy():
    assert av.defender_remediation_args({}) == {"update_signatures": False, "update_if_age_days": 3,
                                                "quick_scan_after_days": 0, "threat_days": 30}
    args = av.defender_remediation_args({"update_signatures": True, "signature_warn_days": 2,
                                         "quick_scan_after_days": 7, "threat_days": 14})
    assert args == {"update_signatures": True, "update_if_age_days": 2, "quick_scan_after_days": 7, "threat_days": 14}


# --------------------------------------------------------------------------- policy
@pytest.mark.parametrize("policy, message", [
    ({"signature_warn_days": "3"}, "must be a number"),
    ({"signature_warn_days": 9, "signature_crit_days": 7}, "must not exceed"),
    ({"detection_test": "yes"}, "true or false"),
    ({"linux_no_av_status": "fine"}, "must be one of"),
    ({"update_timeout_seconds": 0}, ">= 1"),
    ({"sigs_warn": 3}, "unknown antivirus policy key"),
])
def test_policy_errors(policy, message):
    with pytest.raises(av.PolicyError, match=message):
        av.effective_policy(policy)
    assert message in av.validate_policy(policy)[0]
    assert av.validate_policy(policy)[0].startswith("maint_policy.antivirus: ")


def test_policy_defaults_match_the_schema():
    schema = json.loads((ROOT / "schemas" / "policy" / "antivirus.schema.json").read_text())
    assert {k: v["default"] for k, v in schema["properties"].items()} == av.DEFAULTS
    assert av.validate_policy({}) == []


def test_demo_policy_is_valid():
    import yaml
    policy = yaml.safe_load((ROOT / "inventories" / "demo" / "group_vars" / "all" / "policy.yml").read_text())
    assert av.validate_policy(policy["maint_policy"]["antivirus"]) == []


# --------------------------------------------------------------------------- ClamAV parsing (real outputs)
# Recorded: `sigtool --info daily.cud` (sigtool 1.4.6) on an unsigned container built with
# `sigtool --build=daily.cud --unsigned` from the lab's lab.hdb/lab.ndb signatures.
SIGTOOL_CUD = """File: daily.cud
Build time: 22 Nov 2026 21:19 +0000
Version: 7
Signatures: 2
Functionality level: 216
Builder: labbuilder
Verification: Unsigned container
"""
# Documented shape for an official database (sigtool --info main.cvd).
SIGTOOL_CVD = """File: main.cvd
Build time: 16 Sep 2021 08:32 -0400
Version: 62
Signatures: 6647427
Functionality level: 90
Builder: sigmgr
MD5: 4ee0c6baf0e2b5c5a0de3a1a5d0a4b54
Digital signature: 1rCb5HMi9IYlMGUyfSSWXQzQuQz6cOaEJ5EnW9kHDvSf
Verification OK.
"""
# Recorded: `clamscan -d db --log=scan.log eicar.com clam.exe /etc/hostname` (ClamAV 1.4.6), then a clean scan.
SCAN_LOG = """
-------------------------------------------------------------------------------

eicar.com: Lab.Test.EICAR-1.UNOFFICIAL FOUND
/usr/share/clamav-testfiles/clam.exe: clam.exe.UNOFFICIAL FOUND

----------- SCAN SUMMARY -----------
Known viruses: 2
Engine version: 1.4.6
Scanned directories: 0
Scanned files: 3
Infected files: 2
Data scanned: 0.00 MB
Data read: 0.00 MB (ratio 0.00:1)
Time: 0.004 sec (0 m 0 s)
Start Date: 2026:11:22 21:19:49
End Date:   2026:11:22 21:19:49
"""
SCAN_LOG_CLEAN = """
-------------------------------------------------------------------------------


----------- SCAN SUMMARY -----------
Known viruses: 2
Engine version: 1.4.3
Scanned directories: 93
Scanned files: 177
Infected files: 0
Data scanned: 1.84 MB
Data read: 0.93 MB (ratio 1.98:1)
Time: 0.136 sec (0 m 0 s)
Start Date: 2026:11:23 02:00:01
End Date:   2026:11:23 02:00:05
"""
# Recorded on a lab host (ClamAV 1.4.3, no internet): the head and tail of one failed session.
FRESHCLAM_FAILED = """Sun Nov 22 21:20:41 2026 -> --------------------------------------
Sun Nov 22 21:20:41 2026 -> ClamAV update process started at Sun Nov 22 21:20:41 2026
Sun Nov 22 21:20:41 2026 -> WARNING: Can't query current.cvd.clamav.net
Sun Nov 22 21:20:41 2026 -> WARNING: Invalid DNS reply. Falling back to HTTP mode.
Sun Nov 22 21:20:41 2026 -> Trying to retrieve CVD header from https://database.clamav.net/daily.cvd
Sun Nov 22 21:21:01 2026 -> Giving up on https://database.clamav.net...
Sun Nov 22 21:21:21 2026 -> ERROR: Update failed for database: daily
Sun Nov 22 21:21:21 2026 -> ERROR: Database update process failed: HTTP GET failed
Sun Nov 22 21:21:21 2026 -> ERROR: Update failed.
"""
# Documented success format (freshclam 1.x with LogTime yes).
FRESHCLAM_OK = """Mon Nov  2 09:00:01 2026 -> --------------------------------------
Mon Nov  2 09:00:01 2026 -> ClamAV update process started at Mon Nov  2 09:00:01 2026
Mon Nov  2 09:00:01 2026 -> daily.cld database is up-to-date (version: 27465, sigs: 2068835, f-level: 90, builder: raynman)
Mon Nov  2 09:00:01 2026 -> main.cvd database is up-to-date (version: 62, sigs: 6647427, f-level: 90, builder: sigmgr)
"""


def test_parse_sigtool_info():
    info = av.parse_sigtool_info(SIGTOOL_CUD)
    assert info["version"] == 7
    assert info["signatures"] == 2
    assert info["build_time"] == 1795382340  # 2026-11-22T21:19:00Z
    cvd = av.parse_sigtool_info(SIGTOOL_CVD)
    assert cvd["version"] == 62
    assert cvd["build_time"] == 1631795520  # 2021-09-16T12:32:00Z (08:32 -0400)
    assert av.parse_sigtool_info("ERROR: cvdinfo: Can't read/parse CVD header") == {}


def test_parse_scan_log_last_summary_wins():
    infected = av.parse_scan_log(SCAN_LOG)
    assert infected["infected"] == 2
    assert infected["found"] == ["eicar.com: Lab.Test.EICAR-1.UNOFFICIAL",
                                 "/usr/share/clamav-testfiles/clam.exe: clam.exe.UNOFFICIAL"]
    both = av.parse_scan_log(SCAN_LOG + SCAN_LOG_CLEAN, utc_offset=3600)
    assert both["scans"] == 2
    assert both["infected"] == 0
    assert both["found"] == []
    assert both["last_scan_end"] == 1795399205 - 3600  # 2026-11-23 02:00:05 local at UTC+1
    assert av.parse_scan_log("") == {"scans": 0, "last_scan_end": None, "infected": None, "found": []}


def test_parse_freshclam_log():
    failed = av.parse_freshclam_log(FRESHCLAM_FAILED)
    assert failed["last_attempt_ok"] is False
    assert failed["last_success"] is None
    assert failed["last_error"] == "Update failed."
    both = av.parse_freshclam_log(FRESHCLAM_OK + FRESHCLAM_FAILED)
    assert both["sessions"] == 2
    assert both["last_success"] == 1793610001  # 2026-11-02T09:00:01Z
    assert both["last_attempt_ok"] is False
    assert av.parse_freshclam_log("")["sessions"] == 0


def test_parse_detection():
    assert av.parse_detection("/tmp/x/eicar.com: Lab.Test.EICAR-1.UNOFFICIAL FOUND\n") == \
        "Lab.Test.EICAR-1.UNOFFICIAL"
    assert av.parse_detection("/tmp/x/eicar.com: OK\n") is None


# --------------------------------------------------------------------------- ClamAV decide
NOW = 1795400000


def clamav_facts(**over):
    facts = {
        "installed": True, "engine_version": "1.4.3", "binaries": {"clamscan": "/usr/bin/clamscan"},
        "database_dir": "/var/lib/clamav", "daemon_running": False, "on_access_running": False,
        "databases": [
            {"file": "lab.hdb", "version": None, "signatures": 1, "build_time": NOW - 3600, "source": "mtime"},
            {"file": "lab.ndb", "version": None, "signatures": 1, "build_time": NOW - 3600, "source": "mtime"},
        ],
        "freshclam": {"sessions": 0, "last_success": None, "last_attempt": None, "last_attempt_ok": None},
        "scan_log": {"path": "/var/log/clamav/scan.log", "exists": True, "scans": 1,
                     "last_scan_end": NOW - 7200, "infected": 0, "found": []},
        "detection_test": {"ran": True, "scanner": "clamscan", "rc": 1, "detection": "Lab.Test.EICAR-1.UNOFFICIAL",
                           "removed": True, "path": "/tmp/maint-eicar-x/eicar.com"},
        "now": NOW,
    }
    facts.update(over)
    return facts


LAB_POLICY = {"linux_scan_log": "/var/log/clamav/scan.log", "detection_test": True}


def test_clamav_healthy():
    results = valid(av.evaluate_clamav(clamav_facts(), LAB_POLICY))
    assert statuses(results) == {
        "antivirus.product": "ok", "antivirus.protection": "ok", "antivirus.signature_age": "ok",
        "antivirus.scan_age": "ok", "antivirus.tamper_protection": "skipped", "antivirus.threats": "ok",
        "antivirus.detection_test": "ok",
    }
    sig = by_check(results)["antivirus.signature_age"]
    assert "modification time" in sig["observed"]["note"]
    assert "Lab.Test.EICAR-1.UNOFFICIAL" in by_check(results)["antivirus.detection_test"]["summary"]


@pytest.mark.parametrize("age_days, expected", [(1, "ok"), (3, "warning"), (6.9, "warning"), (7, "critical"),
                                                (20, "critical")])
def test_clamav_signature_age(age_days, expected):
    dbs = [{"file": "lab.hdb", "version": None, "build_time": NOW - age_days * 86400, "source": "mtime"}]
    sig = by_check(av.evaluate_clamav(clamav_facts(databases=dbs), LAB_POLICY))["antivirus.signature_age"]
    assert sig["status"] == expected


def test_clamav_daily_dates_the_signatures():
    dbs = [{"file": "main.cvd", "version": 62, "build_time": NOW - 400 * 86400, "source": "sigtool"},
           {"file": "daily.cld", "version": 27465, "build_time": NOW - 86400, "source": "sigtool"},
           {"file": "local.hdb", "version": None, "build_time": NOW - 10, "source": "mtime"}]
    sig = by_check(av.evaluate_clamav(clamav_facts(databases=dbs), LAB_POLICY))["antivirus.signature_age"]
    assert sig["status"] == "ok"
    assert sig["observed"]["newest"] == "daily.cld"
    assert "version 27465" in sig["summary"]


@pytest.mark.parametrize("status", ["ok", "warning", "critical"])
def test_clamav_not_installed_follows_the_policy(status):
    results = valid(av.evaluate_clamav({"installed": False, "now": NOW}, {"linux_no_av_status": status}))
    product = by_check(results)["antivirus.product"]
    assert product["status"] == status
    assert "no antivirus installed" in product["summary"]
    assert {r["status"] for r in results if r["check"] != "antivirus.product"} == {"skipped"}


def test_clamav_not_installed_default_is_critical():
    product = by_check(av.evaluate_clamav({"installed": False, "now": NOW}))["antivirus.product"]
    assert product["status"] == "critical"


def test_clamav_no_database():
    results = av.evaluate_clamav(clamav_facts(databases=[]), LAB_POLICY)
    assert by_check(results)["antivirus.product"]["status"] == "critical"
    assert by_check(results)["antivirus.signature_age"]["status"] == "critical"


def test_clamav_eicar_not_detected_is_critical():
    test = {"ran": True, "scanner": "clamscan", "rc": 0, "detection": None, "removed": True, "path": "/tmp/e"}
    det = by_check(av.evaluate_clamav(clamav_facts(detection_test=test), LAB_POLICY))["antivirus.detection_test"]
    assert det["status"] == "critical"
    test = {"ran": True, "scanner": "clamscan", "rc": 2, "detection": None, "removed": True, "path": "/tmp/e",
            "error": "LibClamAV Error: cli_loaddbdir(): No supported database files found"}
    det = by_check(av.evaluate_clamav(clamav_facts(detection_test=test), LAB_POLICY))["antivirus.detection_test"]
    assert det["status"] == "critical"
    assert "No supported database" in det["summary"]


def test_clamav_eicar_left_behind_is_reported():
    test = {"ran": True, "scanner": "clamscan", "rc": 1, "detection": "Eicar-Signature", "removed": False,
            "path": "/tmp/maint-eicar-x/eicar.com"}
    det = by_check(av.evaluate_clamav(clamav_facts(detection_test=test), LAB_POLICY))["antivirus.detection_test"]
    assert det["status"] == "warning"
    assert "/tmp/maint-eicar-x/eicar.com" in det["remediation"]


def test_clamav_detection_test_that_could_not_run_is_unknown():
    facts = clamav_facts(detection_test={"ran": False, "reason": "no clamscan or clamdscan on the host"})
    got = by_check(valid(av.evaluate_clamav(facts, {"detection_test": True})))["antivirus.detection_test"]
    assert got["status"] == "unknown"
    assert "no clamscan or clamdscan" in got["summary"]


def test_clamav_detection_test_disabled():
    det = by_check(av.evaluate_clamav(clamav_facts(), {}))["antivirus.detection_test"]
    assert det["status"] == "skipped"


def test_clamav_protection_required_by_policy():
    policy = dict(LAB_POLICY, linux_require_on_access=True)
    prot = by_check(av.evaluate_clamav(clamav_facts(), policy))["antivirus.protection"]
    assert prot["status"] == "critical"
    prot = by_check(av.evaluate_clamav(clamav_facts(daemon_running=True, on_access_running=True), policy))[
        "antivirus.protection"]
    assert prot["status"] == "ok"
    prot = by_check(av.evaluate_clamav(clamav_facts(daemon_running=None), LAB_POLICY))["antivirus.protection"]
    assert prot["status"] == "unknown"


def test_clamav_scan_log():
    never = {"path": "/var/log/clamav/scan.log", "exists": False, "scans": 0, "last_scan_end": None,
             "infected": None, "found": []}
    checks = by_check(av.evaluate_clamav(clamav_facts(scan_log=never), LAB_POLICY))
    assert checks["antivirus.scan_age"]["status"] == "critical"
    assert "never" in checks["antivirus.scan_age"]["summary"]
    assert checks["antivirus.threats"]["status"] == "unknown"
    infected = dict(clamav_facts()["scan_log"], infected=2, found=["/srv/x.exe: Win.Trojan.Agent-1"])
    threats = by_check(av.evaluate_clamav(clamav_facts(scan_log=infected), LAB_POLICY))["antivirus.threats"]
    assert threats["status"] == "critical"
    assert "Win.Trojan.Agent-1" in threats["summary"]
    old = dict(clamav_facts()["scan_log"], last_scan_end=NOW - 10 * 86400)
    assert by_check(av.evaluate_clamav(clamav_facts(scan_log=old), LAB_POLICY))["antivirus.scan_age"]["status"] \
        == "warning"
    skipped = by_check(av.evaluate_clamav(clamav_facts(), {}))
    assert skipped["antivirus.scan_age"]["status"] == "skipped"
    assert skipped["antivirus.threats"]["status"] == "skipped"


def test_clamav_needs_update():
    stale = [{"file": "lab.hdb", "version": None, "build_time": NOW - 20 * 86400, "source": "mtime"}]
    policy = av.effective_policy({"update_signatures": True})
    assert av.clamav_needs_update(clamav_facts(databases=stale), policy)
    assert not av.clamav_needs_update(clamav_facts(), policy)
    assert not av.clamav_needs_update(clamav_facts(databases=stale), av.effective_policy({}))


@pytest.mark.parametrize("update, status, changed", [
    ({"rc": None, "timed_out": True, "timeout_s": 20, "duration_s": 20.0}, "warning", False),
    ({"rc": 11, "timed_out": False, "error": "Update failed."}, "warning", False),
    ({"rc": 0, "timed_out": False, "changed": True}, "ok", True),
    ({"rc": 0, "timed_out": False, "changed": False}, "ok", False),
    ({"blocked": "a freshclam process (the update service?) is already running"}, "warning", False),
    ({"skipped": "check mode"}, "skipped", False),
])
def test_clamav_update_results(update, status, changed):
    result = by_check(av.evaluate_clamav(clamav_facts(update=update), LAB_POLICY))["antivirus.update"]
    assert (result["status"], result["changed"]) == (status, changed)
    if update.get("timed_out"):
        assert "20 s" in result["summary"]


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


# --------------------------------------------------------------------------- hostile input
HEALTHY_CLAMAV = {
    "antivirus.product": "ok", "antivirus.protection": "ok", "antivirus.signature_age": "ok",
    "antivirus.scan_age": "ok", "antivirus.tamper_protection": "skipped", "antivirus.threats": "ok",
    "antivirus.detection_test": "ok",
}


@pytest.mark.parametrize("build_time", ["yesterday", float("nan"), [1], {"t": 1}])
def test_clamav_unreadable_build_time_is_not_ok_and_keeps_the_other_checks(build_time):
    dbs = [{"file": "daily.cld", "version": 27000, "build_time": build_time, "source": "sigtool"}]
    results = valid(av.evaluate_clamav(clamav_facts(databases=dbs), LAB_POLICY))
    assert statuses(results) == dict(HEALTHY_CLAMAV, **{"antivirus.signature_age": "unknown"})
    assert av.clamav_signature_status(clamav_facts(databases=dbs), av.effective_policy(LAB_POLICY)) != "ok"


@pytest.mark.parametrize("over, check", [
    ({"now": float("nan")}, "antivirus.signature_age"),
    ({"now": "later"}, "antivirus.signature_age"),
    ({"scan_log": {"path": "/l", "exists": True, "scans": 1, "last_scan_end": float("nan"), "infected": 0}},
     "antivirus.scan_age"),
    ({"scan_log": {"path": "/l", "exists": True, "scans": 1, "last_scan_end": NOW, "infected": "three"}},
     "antivirus.threats"),
    ({"scan_log": ["not", "a", "dict"]}, "antivirus.scan_age"),
    ({"databases": ["daily.cld", None, {"file": "x.hdb", "build_time": NOW - 60, "source": "mtime"}]}, None),
    ({"freshclam": {"sessions": 3, "last_success": float("nan")}}, None),
])
def test_clamav_odd_facts_cost_one_check(over, check):
    results = valid(av.evaluate_clamav(clamav_facts(**over), LAB_POLICY))
    got = statuses(results)
    assert set(got) == set(HEALTHY_CLAMAV)  # every check still produced
    for name, status in got.items():
        if name == check:
            assert status == "unknown", name
    if check == "antivirus.signature_age":
        assert got["antivirus.scan_age"] == "unknown"  # the same clock is needed there
    assert got["antivirus.product"] == "ok" and got["antivirus.detection_test"] == "ok"
    assert sum(1 for s in got.values() if s == "ok") >= 3


def test_clamav_facts_not_a_mapping():
    results = valid(av.evaluate_clamav(["installed"], LAB_POLICY))
    assert [r["status"] for r in results] == ["unknown"]


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
    results = valid(av.evaluate_defender(_defender_status(**{field: bad})))
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
    results = valid(av.evaluate_defender(facts))
    got = statuses(results)
    assert got["antivirus.product"] == "ok" and got["antivirus.protection"] == "ok"
    assert got["antivirus.threats"] == "unknown" and "unreadable" in by_check(results)["antivirus.threats"]["summary"]
    assert valid(av.evaluate_defender("garbage"))[0]["status"] == "unknown"


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
    product = by_check(valid(av.evaluate_defender({"computer_status": data, "products": None})))["antivirus.product"]
    assert product["status"] == expected
