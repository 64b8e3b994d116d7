"""The health watch on the lab's db01, through playbooks/watch.yml run directly.

db01 runs systemd as PID 1 (lab/hosts.yml ``systemd: true``): sshd is ssh.service, journald logs
it, and lab-broken.service (lab/setup_watch.yml) fails when started. The demo policy's supervision
section names sshd as a critical service. Each watch is one module call per host; its results are
read from the collector's results file, as maintctl would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maintcore.config import maint_home
from maintctl import lab
from tests.conftest import assert_valid_results
from tests.integration.conftest import run_group

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "db01"
ADDRESS = "198.51.100.12"
CONTROLLER = "198.51.100.1"  # the lab bridge's gateway: where the controller's connections come from


def watch(tmp_path: Path, since: str | None = None) -> list[dict[str, Any]]:
    """Run playbooks/watch.yml against db01 and return db01's results."""
    out = tmp_path / f"results-{len(list(tmp_path.glob('results-*')))}.jsonl"
    vault = lab.install_demo_vault_password()
    env = dict(lab.podman_env(), MAINT_RESULTS_FILE=str(out), MAINT_CLIENT="demo", MAINT_RUN_ID="pytest-watch",
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), MAINT_HOME=str(maint_home()))
    extra: dict[str, Any] = {"maint_client": "demo", "maint_run_id": "pytest-watch"}
    if since:
        extra["watch_since"] = {HOST: since}
    proc = run_group([str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventories" / "demo"),
                      "--vault-password-file", str(vault), "--limit", HOST, "-e", json.dumps(extra),
                      str(ROOT / "playbooks" / "watch.yml")], timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert_valid_results(results)
    return [r for r in results if r["host"] == HOST]


def one(results: list[dict[str, Any]], check: str, item: str = "") -> dict[str, Any]:
    found = [r for r in results if r["check"] == check and r["item"] == item]
    assert len(found) == 1, f"{check} {item!r}: {len(found)} results in {results}"
    return found[0]


def db01(*argv: str) -> subprocess.CompletedProcess[str]:
    return lab.podman("exec", lab.PREFIX + HOST, *argv, check=False)


@pytest.fixture()
def clean_units() -> Iterator[None]:
    """Leave db01 without a failed unit, however the test ended."""
    db01("systemctl", "reset-failed")
    yield
    db01("systemctl", "reset-failed")


def test_healthy_db01_one_call_gives_hardware_and_watch_results(tmp_path: Path, clean_units: None) -> None:
    results = watch(tmp_path)
    assert {"hardware.disk_free", "hardware.memory", "hardware.smart", "hardware.pending_reboot",
            "service.systemd", "security.failed_logins"} <= {r["check"] for r in results}
    assert one(results, "service.systemd", "failed units")["status"] == "ok"
    sshd = one(results, "service.systemd", "sshd")
    assert sshd["status"] == "ok" and sshd["observed"]["unit"] == "ssh.service", sshd
    # The nightly fixture holds in the watch too: one id, one meaning.
    data = one(results, "hardware.disk_free", "/srv/data")
    assert data["status"] == "critical" and data["observed"]["free_pct"] < 8
    logins = one(results, "security.failed_logins")
    assert logins["status"] != "unknown", logins  # journald runs on db01
    assert logins["observed"]["until"] > logins["observed"]["since"]


def test_a_failed_unit_warns_and_resolves(tmp_path: Path, clean_units: None) -> None:
    started = db01("systemctl", "start", "lab-broken.service")
    assert started.returncode != 0  # ExecStart=/bin/false
    failed = one(watch(tmp_path), "service.systemd", "failed units")
    assert failed["status"] == "warning", failed
    assert "lab-broken.service" in failed["summary"] and failed["observed"]["failed"] == ["lab-broken.service"]
    assert db01("systemctl", "reset-failed", "lab-broken.service").returncode == 0
    resolved = one(watch(tmp_path), "service.systemd", "failed units")
    assert resolved["status"] == "ok", resolved  # the same item: its alert resolves


def test_a_burst_of_failed_logins_warns(tmp_path: Path) -> None:
    # Start where a watch ends, so that only this burst is counted.
    since = one(watch(tmp_path), "security.failed_logins")["observed"]["until"]
    known_hosts = lab.lab_home() / "ssh" / "known_hosts"
    for _ in range(12):
        proc = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                               "-o", f"UserKnownHostsFile={known_hosts}", "-o", "ConnectTimeout=5",
                               f"nosuchuser@{ADDRESS}", "true"],
                              capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 255 and "Permission denied" in proc.stderr, proc.stderr
    logins = one(watch(tmp_path, since=since), "security.failed_logins")
    assert logins["status"] == "warning", logins
    assert 12 <= logins["observed"]["count"] < 50
    assert logins["observed"]["since"] == since
    top = logins["observed"]["top"][0]
    assert top["source"] == CONTROLLER and top["user"] == "nosuchuser" and top["count"] >= 12, logins
    assert CONTROLLER in logins["remediation"]
