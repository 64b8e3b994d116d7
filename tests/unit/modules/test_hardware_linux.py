"""The hardware_linux module, run for real on this machine (local connection), and its helpers."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from maint_utils import hardware_decide, maint_result
from tests.conftest import assert_valid_results

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
MODULE = ROOT / "plugins" / "modules" / "hardware_linux.py"


def _adhoc(module_args: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="json")
    env.pop("MAINT_RESULTS_FILE", None)
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-c", "local", "-m", "hardware_linux", "-a",
                           json.dumps(module_args), "-e", f"ansible_python_interpreter={sys.executable}"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    data = json.loads(proc.stdout)
    result: dict[str, Any] = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return result


@pytest.fixture(scope="module")
def local_run() -> dict[str, Any]:
    return _adhoc({"policy": {"disk_warn_free_pct": 20, "disk_crit_free_pct": 10}})


def test_module_returns_valid_results(local_run: dict[str, Any]) -> None:
    assert not local_run.get("failed"), local_run.get("msg")
    assert local_run["changed"] is False
    results = local_run["maint_results"]
    for res in results:
        res.update(client="c", host="localhost", run_id="r")
    assert_valid_results(results)
    checks = {r["check"] for r in results}
    assert checks >= {"hardware.disk_free", "hardware.smart", "hardware.temperature", "hardware.memory",
                      "hardware.load", "hardware.uptime", "hardware.pending_reboot", "hardware.raid"}


def test_module_reads_this_machine(local_run: dict[str, Any]) -> None:
    facts = local_run["hardware_raw"]
    mounts = {m["mount"]: m for m in facts["mounts"]}
    assert "/" in mounts and mounts["/"]["blocks"] > 0
    assert not set(mounts) & {"/proc", "/sys", "/dev", "/dev/shm", "/run"}
    statvfs = os.statvfs("/")
    assert mounts["/"]["blocks"] == statvfs.f_blocks
    assert facts["load"]["cpus"] == len(os.sched_getaffinity(0))
    assert facts["meminfo"]["MemTotal"] > 0
    assert facts["uptime_seconds"] > 0
    assert facts["reboot"]["running_kernel"] == os.uname().release
    # No disk of this VM answers SMART and it has no hwmon (LAB.md): both must be unknown.
    by_check = {r["check"]: r for r in local_run["maint_results"] if r["item"] == ""}
    if not facts["smart"]["devices"]:
        assert by_check["hardware.smart"]["status"] == "unknown"
    if not facts["sensors"]["readings"]:
        assert by_check["hardware.temperature"]["status"] == "unknown"


def test_module_fails_on_bad_policy() -> None:
    result = _adhoc({"policy": {"disk_warn_pct": 5}})
    assert result.get("failed") is True
    assert "unknown key 'disk_warn_pct'" in result["msg"]


def test_documentation_parses() -> None:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([str(BIN / "ansible-doc"), "-j", "hardware_linux"], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    doc = json.loads(proc.stdout)["hardware_linux"]
    assert set(doc["doc"]["options"]) == {"policy", "smartctl_timeout", "statvfs_timeout"}
    assert {"maint_results", "hardware_raw"} <= set(doc["return"])
    assert doc["examples"].strip()


def _load_module() -> Any:
    """Import the module file with its module_utils import pointed at maint_utils."""
    sys.modules.setdefault("ansible.module_utils.maint_result", maint_result)
    sys.modules.setdefault("ansible.module_utils.hardware_decide", hardware_decide)
    spec = importlib.util.spec_from_file_location("hardware_linux_module", MODULE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mount_escapes_and_statvfs_timeout() -> None:
    module = _load_module()
    assert module._unescape(r"/mnt/my\040disk") == "/mnt/my disk"
    assert module._unescape("/plain") == "/plain"
    st, error = module._statvfs("/", 5)
    assert st is not None and error is None
    st, error = module._statvfs("/nonexistent-path-for-test", 5)
    assert st is None and error
