"""Hardware checks on the real lab hosts, through `maintctl run --client demo --only hardware`.

db01's /srv/data is a 32 MiB tmpfs filled past 92 % (lab/setup_hardware.yml); no disk
answers SMART inside a container, and there are no hwmon sensors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from maintcore.config import maint_home
from tests.conftest import assert_valid_results
from tests.integration.conftest import run_group

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LAB_HOSTS = {"web01", "db01", "files01", "app01", "web02"}


def _maintctl(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return run_group([str(BIN / "maintctl"), *args], timeout=timeout)


@pytest.fixture(scope="module")
def hardware_run() -> list[dict[str, Any]]:
    """Reset the hardware fixture, run the hardware area once, return its results.jsonl."""
    setup = _maintctl("lab", "up", "--only", "hardware")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    proc = _maintctl("run", "--client", "demo", "--only", "hardware")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # db01 /srv/data is critical
    run_id = next(line.split()[1].rstrip(":") for line in proc.stdout.splitlines()
                  if line.startswith("run ") and ":" in line)
    path = maint_home() / "runs" / "demo" / run_id / "results.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _find(records: list[dict[str, Any]], host: str, check: str, item: str | None = None) -> list[dict[str, Any]]:
    return [r for r in records if r["host"] == host and r["check"] == check and (item is None or r["item"] == item)]


def test_results_validate_against_the_schema(hardware_run: list[dict[str, Any]]) -> None:
    assert_valid_results(hardware_run)
    hardware = [r for r in hardware_run if r["check"].startswith("hardware.")]
    assert {r["host"] for r in hardware} == LAB_HOSTS
    assert {r["client"] for r in hardware} == {"demo"}
    assert not [r for r in hardware_run if r["check"] in ("run.task_failed", "run.invalid_result")]


def test_db01_full_filesystem_is_critical(hardware_run: list[dict[str, Any]]) -> None:
    [data] = _find(hardware_run, "db01", "hardware.disk_free", "/srv/data")
    assert data["status"] == "critical", data
    assert data["observed"]["free_pct"] < 8
    assert data["observed"]["fstype"] == "tmpfs"
    assert data["threshold"]["crit_free_pct"] == 10
    assert data["remediation"]


def test_healthy_mounts_are_ok(hardware_run: list[dict[str, Any]]) -> None:
    for host in LAB_HOSTS:
        [root] = _find(hardware_run, host, "hardware.disk_free", "/")
        assert root["observed"]["free_pct"] > 20, "the lab machine's own disk is nearly full"
        assert root["status"] == "ok", root
        # A systemd host (db01, lab/hosts.yml) also has the tmpfs podman mounts for systemd: real, checked.
        systemd_tmpfs = {"/tmp", "/var/log/journal"} if host == "db01" else set()
        assert {r["item"] for r in _find(hardware_run, host, "hardware.disk_free")} <= {"/", "/srv/data"} | systemd_tmpfs
        # pseudo filesystems, read-only and file bind mounts are not checked
        items = {r["item"] for r in hardware_run if r["host"] == host and r["check"].startswith("hardware.")}
        assert not items & {"/proc", "/sys", "/dev", "/dev/shm", "/etc/hosts", "/srv/lab-apt", "/run/.containerenv"}


def test_smart_is_unknown_on_every_host(hardware_run: list[dict[str, Any]]) -> None:
    for host in LAB_HOSTS:
        smart = _find(hardware_run, host, "hardware.smart")
        assert [r["status"] for r in smart] == ["unknown"], smart
        assert "no disk answered" in smart[0]["summary"]


def test_host_wide_checks(hardware_run: list[dict[str, Any]]) -> None:
    for host in LAB_HOSTS:
        [temp] = _find(hardware_run, host, "hardware.temperature")
        assert temp["status"] == "unknown"  # no hwmon in the lab (LAB.md)
        [memory] = _find(hardware_run, host, "hardware.memory")
        assert memory["status"] == "ok" and memory["observed"]["total_mib"] > 0
        [load] = _find(hardware_run, host, "hardware.load")
        # The containers read this machine's load average: grade what was read, whatever the load.
        per_cpu = load["observed"]["load15_per_cpu"]
        assert load["status"] == ("critical" if per_cpu >= 4.0 else "warning" if per_cpu >= 2.0 else "ok"), load
        assert load["observed"]["cpus"] >= 1
        [raid] = _find(hardware_run, host, "hardware.raid")
        assert raid["status"] == "skipped"
        assert len(_find(hardware_run, host, "hardware.pending_reboot")) == 1


def test_inodes_and_uptime_are_read(hardware_run: list[dict[str, Any]]) -> None:
    for host in LAB_HOSTS:
        [inodes] = _find(hardware_run, host, "hardware.inode_free", "/")
        assert inodes["status"] in ("ok", "skipped"), inodes  # skipped: the lab machine's disk is btrfs
        if inodes["status"] == "ok":
            assert inodes["observed"]["inodes_total"] > 0 and inodes["threshold"]["crit_free_pct"] == 10
        [uptime] = _find(hardware_run, host, "hardware.uptime")
        assert uptime["status"] in ("ok", "warning"), uptime  # a container reads its host's uptime
        assert uptime["observed"]["uptime_days"] >= 0
    [data] = _find(hardware_run, "db01", "hardware.inode_free", "/srv/data")
    assert data["status"] != "unknown", data
