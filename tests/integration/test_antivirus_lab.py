"""Antivirus checks on the real lab hosts, through `maintctl run --client demo --only antivirus`.

lab/setup_antivirus.yml lays down a real local ClamAV database (sigtool --md5 of clam.exe and
an EICAR .ndb signature): web01, app01 and web02 are healthy, db01's database is dated 20 days
back, files01 has no antivirus at all. The EICAR test scans a real file with the real engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from maint_utils.maint_result import grade_high
from maintcore.config import maint_home
from tests.conftest import assert_valid_results
from tests.integration.conftest import run_group

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LAB_HOSTS = {"web01", "db01", "files01", "app01", "web02"}
HEALTHY = ("web01", "app01", "web02")
LAB_IPS = {"web01": "198.51.100.11", "db01": "198.51.100.12"}


def _maintctl(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return run_group([str(BIN / "maintctl"), *args], timeout=timeout)


def _results(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    run_id = next(line.split()[1].rstrip(":") for line in proc.stdout.splitlines()
                  if line.startswith("run ") and ":" in line)
    path = maint_home() / "runs" / "demo" / run_id / "results.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _policy() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "inventories" / "demo" / "group_vars" / "all" / "policy.yml").read_text())
    section: dict[str, Any] = data["maint_policy"]["antivirus"]
    return section


def _one(records: list[dict[str, Any]], host: str, check: str) -> dict[str, Any]:
    found = [r for r in records if r["host"] == host and r["check"] == check]
    assert len(found) == 1, (host, check, found)
    return found[0]


def _ssh(host: str, command: str) -> str:
    ssh_dir = maint_home() / "lab" / "ssh"
    proc = subprocess.run(
        ["ssh", "-i", str(ssh_dir / "id_ed25519"), "-o", f"UserKnownHostsFile={ssh_dir / 'known_hosts'}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"maint@{LAB_IPS[host]}", command],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def antivirus_run() -> list[dict[str, Any]]:
    """Reset the antivirus fixtures, run the antivirus area once, return its results.jsonl."""
    setup = _maintctl("lab", "up", "--only", "antivirus")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    proc = _maintctl("run", "--client", "demo", "--only", "antivirus")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # db01's stale database is critical
    return _results(proc)


def test_results_validate_against_the_schema(antivirus_run: list[dict[str, Any]]) -> None:
    assert_valid_results(antivirus_run)
    antivirus = [r for r in antivirus_run if r["check"].startswith("antivirus.")]
    assert {r["host"] for r in antivirus} == LAB_HOSTS
    assert not [r for r in antivirus_run if r["check"] in ("run.task_failed", "run.invalid_result")]
    for host in LAB_HOSTS:
        for check in ("antivirus.product", "antivirus.protection", "antivirus.signature_age",
                      "antivirus.scan_age", "antivirus.tamper_protection", "antivirus.threats",
                      "antivirus.detection_test"):
            _one(antivirus_run, host, check)


@pytest.mark.parametrize("host", HEALTHY)
def test_healthy_hosts_are_ok(antivirus_run: list[dict[str, Any]], host: str) -> None:
    mine = [r for r in antivirus_run if r["host"] == host and r["check"].startswith("antivirus.")]
    assert {r["check"]: r["status"] for r in mine} == {
        "antivirus.product": "ok", "antivirus.protection": "ok", "antivirus.signature_age": "ok",
        "antivirus.scan_age": "ok", "antivirus.tamper_protection": "skipped", "antivirus.threats": "ok",
        "antivirus.detection_test": "ok",
    }
    signatures = _one(antivirus_run, host, "antivirus.signature_age")
    assert {db["file"] for db in signatures["observed"]["databases"]} == {"lab.hdb", "lab.ndb"}
    assert {db["source"] for db in signatures["observed"]["databases"]} == {"mtime"}
    assert "modification time" in signatures["observed"]["note"]
    assert not [r for r in mine if r["changed"]]


def test_eicar_is_detected_for_real_and_removed(antivirus_run: list[dict[str, Any]]) -> None:
    for host in ("web01", "db01"):
        test = _one(antivirus_run, host, "antivirus.detection_test")
        assert test["status"] == "ok", test
        assert test["observed"]["detection"] == "Lab.Test.EICAR-1.UNOFFICIAL"
        assert test["observed"]["scanner"] == "clamscan"
        assert test["observed"]["rc"] == 1
        assert test["observed"]["file_removed"] is True
        assert "Lab.Test.EICAR-1.UNOFFICIAL" in test["summary"]
        assert _ssh(host, "ls -d /tmp/maint-eicar-* 2>/dev/null | wc -l").strip() == "0"


def test_stale_host_follows_the_policy(antivirus_run: list[dict[str, Any]]) -> None:
    policy = _policy()
    signatures = _one(antivirus_run, "db01", "antivirus.signature_age")
    age = signatures["observed"]["age_days"]
    assert 19 <= age <= 22
    expected = grade_high(age, policy["signature_warn_days"], policy["signature_crit_days"])
    assert expected in ("warning", "critical")
    assert signatures["status"] == expected
    assert signatures["threshold"] == {"warn_days": policy["signature_warn_days"],
                                       "crit_days": policy["signature_crit_days"]}
    assert signatures["observed"]["freshclam_last_success"] is not None
    assert "freshclam last succeeded" in signatures["summary"]


def test_freshclam_failure_is_one_bounded_warning(antivirus_run: list[dict[str, Any]]) -> None:
    policy = _policy()
    assert policy["update_signatures"] is True
    update = _one(antivirus_run, "db01", "antivirus.update")
    assert update["status"] == "warning", update
    assert update["changed"] is False
    assert "freshclam" in update["summary"]
    assert update["observed"]["duration_s"] <= policy["update_timeout_seconds"] + 5
    assert [r for r in antivirus_run if r["check"] == "antivirus.update"] == [update]
    assert _ssh("db01", "ls -d /var/lib/clamav/tmp.* 2>/dev/null | wc -l").strip() == "0"


def test_host_without_antivirus_follows_the_policy(antivirus_run: list[dict[str, Any]]) -> None:
    product = _one(antivirus_run, "files01", "antivirus.product")
    assert product["status"] == _policy()["linux_no_av_status"]
    assert product["status"] != "ok"
    assert "no antivirus installed" in product["summary"]
    others = [r for r in antivirus_run if r["host"] == "files01" and r["check"].startswith("antivirus.")
              and r["check"] != "antivirus.product"]
    assert {r["status"] for r in others} == {"skipped"}


def test_check_mode_runs_no_freshclam(antivirus_run: list[dict[str, Any]]) -> None:
    proc = _maintctl("run", "--client", "demo", "--only", "antivirus", "--check", "--limit", "db01")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    records = _results(proc)
    update = _one(records, "db01", "antivirus.update")
    assert update["status"] == "skipped"
    assert "check mode" in update["summary"]
    assert "duration_s" not in update["observed"]
    assert _one(records, "db01", "antivirus.detection_test")["status"] == "ok"
    assert not [r for r in records if r["changed"]]
