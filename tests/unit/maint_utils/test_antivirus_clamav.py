"""Tests of plugins/module_utils/antivirus_clamav.py: ClamAV parsing and decisions on real outputs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from maint_utils import antivirus_clamav as clamav
from maint_utils import antivirus_decide as av

ROOT = Path(__file__).resolve().parents[3]
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
    info = clamav.parse_sigtool_info(SIGTOOL_CUD)
    assert info["version"] == 7
    assert info["signatures"] == 2
    assert info["build_time"] == 1795382340  # 2026-11-22T21:19:00Z
    cvd = clamav.parse_sigtool_info(SIGTOOL_CVD)
    assert cvd["version"] == 62
    assert cvd["build_time"] == 1631795520  # 2021-09-16T12:32:00Z (08:32 -0400)
    assert clamav.parse_sigtool_info("ERROR: cvdinfo: Can't read/parse CVD header") == {}


def test_parse_scan_log_last_summary_wins():
    infected = clamav.parse_scan_log(SCAN_LOG)
    assert infected["infected"] == 2
    assert infected["found"] == ["eicar.com: Lab.Test.EICAR-1.UNOFFICIAL",
                                 "/usr/share/clamav-testfiles/clam.exe: clam.exe.UNOFFICIAL"]
    both = clamav.parse_scan_log(SCAN_LOG + SCAN_LOG_CLEAN, utc_offset=3600)
    assert both["scans"] == 2
    assert both["infected"] == 0
    assert both["found"] == []
    assert both["last_scan_end"] == 1795399205 - 3600  # 2026-11-23 02:00:05 local at UTC+1
    assert clamav.parse_scan_log("") == {"scans": 0, "last_scan_end": None, "infected": None, "found": []}


def test_parse_freshclam_log():
    failed = clamav.parse_freshclam_log(FRESHCLAM_FAILED)
    assert failed["last_attempt_ok"] is False
    assert failed["last_success"] is None
    assert failed["last_error"] == "Update failed."
    both = clamav.parse_freshclam_log(FRESHCLAM_OK + FRESHCLAM_FAILED)
    assert both["sessions"] == 2
    assert both["last_success"] == 1793610001  # 2026-11-02T09:00:01Z
    assert both["last_attempt_ok"] is False
    assert clamav.parse_freshclam_log("")["sessions"] == 0


def test_parse_detection():
    assert clamav.parse_detection("/tmp/x/eicar.com: Lab.Test.EICAR-1.UNOFFICIAL FOUND\n") == \
        "Lab.Test.EICAR-1.UNOFFICIAL"
    assert clamav.parse_detection("/tmp/x/eicar.com: OK\n") is None


# --------------------------------------------------------------------------- ClamAV decide
NOW = 1795400000


def healthy_clamav(**over):
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
    results = valid(clamav.evaluate_clamav(healthy_clamav(), LAB_POLICY))
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
    sig = by_check(clamav.evaluate_clamav(healthy_clamav(databases=dbs), LAB_POLICY))["antivirus.signature_age"]
    assert sig["status"] == expected


def test_clamav_daily_dates_the_signatures():
    dbs = [{"file": "main.cvd", "version": 62, "build_time": NOW - 400 * 86400, "source": "sigtool"},
           {"file": "daily.cld", "version": 27465, "build_time": NOW - 86400, "source": "sigtool"},
           {"file": "local.hdb", "version": None, "build_time": NOW - 10, "source": "mtime"}]
    sig = by_check(clamav.evaluate_clamav(healthy_clamav(databases=dbs), LAB_POLICY))["antivirus.signature_age"]
    assert sig["status"] == "ok"
    assert sig["observed"]["newest"] == "daily.cld"
    assert "version 27465" in sig["summary"]


@pytest.mark.parametrize("status", ["ok", "warning", "critical"])
def test_clamav_not_installed_follows_the_policy(status):
    results = valid(clamav.evaluate_clamav({"installed": False, "now": NOW}, {"linux_no_av_status": status}))
    product = by_check(results)["antivirus.product"]
    assert product["status"] == status
    assert "no antivirus installed" in product["summary"]
    assert {r["status"] for r in results if r["check"] != "antivirus.product"} == {"skipped"}


def test_clamav_not_installed_default_is_critical():
    product = by_check(clamav.evaluate_clamav({"installed": False, "now": NOW}))["antivirus.product"]
    assert product["status"] == "critical"


def test_clamav_no_database():
    results = clamav.evaluate_clamav(healthy_clamav(databases=[]), LAB_POLICY)
    assert by_check(results)["antivirus.product"]["status"] == "critical"
    assert by_check(results)["antivirus.signature_age"]["status"] == "critical"


def test_clamav_eicar_not_detected_is_critical():
    test = {"ran": True, "scanner": "clamscan", "rc": 0, "detection": None, "removed": True, "path": "/tmp/e"}
    det = by_check(clamav.evaluate_clamav(healthy_clamav(detection_test=test), LAB_POLICY))["antivirus.detection_test"]
    assert det["status"] == "critical"
    test = {"ran": True, "scanner": "clamscan", "rc": 2, "detection": None, "removed": True, "path": "/tmp/e",
            "error": "LibClamAV Error: cli_loaddbdir(): No supported database files found"}
    det = by_check(clamav.evaluate_clamav(healthy_clamav(detection_test=test), LAB_POLICY))["antivirus.detection_test"]
    assert det["status"] == "critical"
    assert "No supported database" in det["summary"]


def test_clamav_eicar_left_behind_is_reported():
    test = {"ran": True, "scanner": "clamscan", "rc": 1, "detection": "Eicar-Signature", "removed": False,
            "path": "/tmp/maint-eicar-x/eicar.com"}
    det = by_check(clamav.evaluate_clamav(healthy_clamav(detection_test=test), LAB_POLICY))["antivirus.detection_test"]
    assert det["status"] == "warning"
    assert "/tmp/maint-eicar-x/eicar.com" in det["remediation"]


def test_clamav_detection_test_that_could_not_run_is_unknown():
    facts = healthy_clamav(detection_test={"ran": False, "reason": "no clamscan or clamdscan on the host"})
    got = by_check(valid(clamav.evaluate_clamav(facts, {"detection_test": True})))["antivirus.detection_test"]
    assert got["status"] == "unknown"
    assert "no clamscan or clamdscan" in got["summary"]


def test_clamav_detection_test_disabled():
    det = by_check(clamav.evaluate_clamav(healthy_clamav(), {}))["antivirus.detection_test"]
    assert det["status"] == "skipped"


def test_clamav_protection_required_by_policy():
    policy = dict(LAB_POLICY, linux_require_on_access=True)
    prot = by_check(clamav.evaluate_clamav(healthy_clamav(), policy))["antivirus.protection"]
    assert prot["status"] == "critical"
    prot = by_check(clamav.evaluate_clamav(healthy_clamav(daemon_running=True, on_access_running=True), policy))[
        "antivirus.protection"]
    assert prot["status"] == "ok"
    prot = by_check(clamav.evaluate_clamav(healthy_clamav(daemon_running=None), LAB_POLICY))["antivirus.protection"]
    assert prot["status"] == "unknown"


def test_clamav_scan_log():
    never = {"path": "/var/log/clamav/scan.log", "exists": False, "scans": 0, "last_scan_end": None,
             "infected": None, "found": []}
    checks = by_check(clamav.evaluate_clamav(healthy_clamav(scan_log=never), LAB_POLICY))
    assert checks["antivirus.scan_age"]["status"] == "critical"
    assert "never" in checks["antivirus.scan_age"]["summary"]
    assert checks["antivirus.threats"]["status"] == "unknown"
    infected = dict(healthy_clamav()["scan_log"], infected=2, found=["/srv/x.exe: Win.Trojan.Agent-1"])
    threats = by_check(clamav.evaluate_clamav(healthy_clamav(scan_log=infected), LAB_POLICY))["antivirus.threats"]
    assert threats["status"] == "critical"
    assert "Win.Trojan.Agent-1" in threats["summary"]
    old = dict(healthy_clamav()["scan_log"], last_scan_end=NOW - 10 * 86400)
    assert by_check(clamav.evaluate_clamav(healthy_clamav(scan_log=old), LAB_POLICY))["antivirus.scan_age"]["status"] \
        == "warning"
    skipped = by_check(clamav.evaluate_clamav(healthy_clamav(), {}))
    assert skipped["antivirus.scan_age"]["status"] == "skipped"
    assert skipped["antivirus.threats"]["status"] == "skipped"


def test_clamav_needs_update():
    stale = [{"file": "lab.hdb", "version": None, "build_time": NOW - 20 * 86400, "source": "mtime"}]
    policy = av.effective_policy({"update_signatures": True})
    assert clamav.clamav_needs_update(healthy_clamav(databases=stale), policy)
    assert not clamav.clamav_needs_update(healthy_clamav(), policy)
    assert not clamav.clamav_needs_update(healthy_clamav(databases=stale), av.effective_policy({}))


@pytest.mark.parametrize("update, status, changed", [
    ({"rc": None, "timed_out": True, "timeout_s": 20, "duration_s": 20.0}, "warning", False),
    ({"rc": 11, "timed_out": False, "error": "Update failed."}, "warning", False),
    ({"rc": 0, "timed_out": False, "changed": True}, "ok", True),
    ({"rc": 0, "timed_out": False, "changed": False}, "ok", False),
    ({"blocked": "a freshclam process (the update service?) is already running"}, "warning", False),
    ({"skipped": "check mode"}, "skipped", False),
])
def test_clamav_update_results(update, status, changed):
    result = by_check(clamav.evaluate_clamav(healthy_clamav(update=update), LAB_POLICY))["antivirus.update"]
    assert (result["status"], result["changed"]) == (status, changed)
    if update.get("timed_out"):
        assert "20 s" in result["summary"]


# --------------------------------------------------------------------------- hostile input
HEALTHY_CLAMAV = {
    "antivirus.product": "ok", "antivirus.protection": "ok", "antivirus.signature_age": "ok",
    "antivirus.scan_age": "ok", "antivirus.tamper_protection": "skipped", "antivirus.threats": "ok",
    "antivirus.detection_test": "ok",
}


@pytest.mark.parametrize("build_time", ["yesterday", float("nan"), [1], {"t": 1}])
def test_clamav_unreadable_build_time_is_not_ok_and_keeps_the_other_checks(build_time):
    dbs = [{"file": "daily.cld", "version": 27000, "build_time": build_time, "source": "sigtool"}]
    results = valid(clamav.evaluate_clamav(healthy_clamav(databases=dbs), LAB_POLICY))
    assert statuses(results) == dict(HEALTHY_CLAMAV, **{"antivirus.signature_age": "unknown"})
    assert clamav.clamav_signature_status(healthy_clamav(databases=dbs), av.effective_policy(LAB_POLICY)) != "ok"


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
    results = valid(clamav.evaluate_clamav(healthy_clamav(**over), LAB_POLICY))
    got = statuses(results)
    assert set(got) == set(HEALTHY_CLAMAV)  # every check still produced
    for name, status in got.items():
        if name == check:
            assert status == "unknown", name
    if check == "antivirus.signature_age":
        assert got["antivirus.scan_age"] == "unknown"  # the same clock is needed there
    assert got["antivirus.product"] == "ok" and got["antivirus.detection_test"] == "ok"
    assert sum(1 for s in got.values() if s == "ok") >= 3


def test_clamav_input_not_a_mapping():
    results = valid(clamav.evaluate_clamav(["installed"], LAB_POLICY))
    assert [r["status"] for r in results] == ["unknown"]
