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

from maint_utils import hardware_decide, maint_result, watch_decide
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
    assert set(doc["doc"]["options"]) == {"policy", "smartctl_timeout", "statvfs_timeout", "watch", "supervision",
                                          "since"}
    assert doc["doc"]["options"]["watch"]["default"] is False
    assert {"maint_results", "hardware_raw", "watch_since", "watch_until"} <= set(doc["return"])
    assert doc["examples"].strip()


def _load_module() -> Any:
    """Import the module file with its module_utils import pointed at maint_utils."""
    sys.modules.setdefault("ansible.module_utils.maint_result", maint_result)
    sys.modules.setdefault("ansible.module_utils.hardware_decide", hardware_decide)
    sys.modules.setdefault("ansible.module_utils.watch_decide", watch_decide)
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


def test_nightly_run_has_no_watch_results(local_run: dict[str, Any]) -> None:
    """watch defaults to false: the nightly hardware run is unchanged."""
    assert not [r for r in local_run["maint_results"] if not r["check"].startswith("hardware.")]
    assert "services" not in local_run["hardware_raw"] and "watch_until" not in local_run


def test_watch_adds_services_and_failed_logins_unknown_without_systemd() -> None:
    """This machine runs no systemd (no /run/systemd/system): both watch checks are unknown, never ok."""
    result = _adhoc({"watch": True, "supervision": {"critical_services": ["sshd"], "failed_logins_warn": 3,
                                                     "services": [], "notify": {}},
                     "since": "2026-01-01T00:00:00Z"})
    assert not result.get("failed"), result.get("msg")
    results = result["maint_results"]
    for res in results:
        res.update(client="c", host="localhost", run_id="r")
    assert_valid_results(results)
    assert {"hardware.disk_free", "hardware.smart", "hardware.memory"} <= {r["check"] for r in results}
    systemd = {r["item"]: r for r in results if r["check"] == watch_decide.SYSTEMD.id}
    logins = [r for r in results if r["check"] == watch_decide.FAILED_LOGINS.id]
    assert result["watch_since"] == "2026-01-01T00:00:00Z" and result["watch_until"] > result["watch_since"]
    if os.path.isdir("/run/systemd/system"):  # pragma: no cover - a controller that runs systemd
        pytest.skip("this machine runs systemd: the lab test covers it")
    assert set(systemd) == {"sshd", "failed units"}
    assert {r["status"] for r in systemd.values()} == {"unknown"}
    [login] = logins
    assert login["status"] == "unknown" and login["threshold"] == {"warn": 3, "crit": 50}
    assert login["observed"]["since"] == "2026-01-01T00:00:00Z"


def test_watch_rejects_bad_since_and_bad_supervision() -> None:
    result = _adhoc({"watch": True, "since": "yesterday"})
    assert result.get("failed") is True and "ISO 8601" in result["msg"]
    result = _adhoc({"watch": True, "supervision": {"failed_logins_warn": 60, "failed_logins_crit": 50}})
    assert result.get("failed") is True and "failed_logins_crit" in result["msg"]


class _FakeModule:
    """Stands in for AnsibleModule: answers run_command from a table of argv prefixes."""

    def __init__(self, answers: dict[str, tuple[int, str, str]]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def get_bin_path(self, name: str, **_: Any) -> str:
        return "/usr/bin/" + name

    def run_command(self, argv: list[str]) -> tuple[int, str, str]:
        assert isinstance(argv, list), "commands are argument lists, never a shell string"
        self.calls.append(argv)
        for key, answer in self.answers.items():
            if key in " ".join(argv):
                return answer
        return 1, "", "unexpected command"


def test_collect_services_parses_systemctl(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load_module()
    monkeypatch.setattr(module.os.path, "isdir", lambda path: path == module.SYSTEMD_RUNNING)
    fake = _FakeModule({
        "list-units": (0, "lab-broken.service loaded failed failed Lab: a unit that fails\n", ""),
        "-- sshd": (0, "Id=ssh.service\nLoadState=loaded\nActiveState=active\nSubState=running\n", ""),
        "-- nosuch": (0, "Id=nosuch.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n", ""),
    })
    facts = module.collect_services(fake, ["sshd", "nosuch"])
    assert facts["systemd"] is True and facts["failed"] == ["lab-broken.service"]
    assert facts["services"][0] == {"name": "sshd", "Id": "ssh.service", "LoadState": "loaded",
                                    "ActiveState": "active", "SubState": "running"}
    results = watch_decide.decide_systemd(facts, {"critical_services": ["sshd", "nosuch"]})
    assert [(r["item"], r["status"]) for r in results] == [("sshd", "ok"), ("nosuch", "critical"),
                                                           ("failed units", "warning")]


def test_collect_failed_logins_reads_the_journal(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load_module()
    recorded = (ROOT / "tests" / "fixtures" / "watch" / "journal-db01-failed-logins.jsonl").read_text("utf-8")
    monkeypatch.setattr(module.glob, "glob", lambda pattern: ["/var/log/journal/id/system.journal"])
    monkeypatch.setattr(module.time, "time", lambda: 1796186900.5)
    fake = _FakeModule({"journalctl": (0, recorded, "")})
    facts = module.collect_failed_logins(fake, 1796186700.0)
    [argv] = fake.calls
    assert "--since=@1796186700" in argv and "--until=@1796186900" in argv and "--output=json" in argv
    assert facts["readable"] is True and facts["count"] == 8
    assert facts["since"] == "2026-12-02T04:45:00Z" and facts["until"] == "2026-12-02T04:48:20Z"
    # No journal file (a host without journald): unknown, journalctl is not even run.
    monkeypatch.setattr(module.glob, "glob", lambda pattern: [])
    fake = _FakeModule({})
    facts = module.collect_failed_logins(fake, None)
    assert facts["readable"] is False and not fake.calls
    assert module.parse_iso(facts["until"]) - module.parse_iso(facts["since"]) == 15 * 60
    # A journal the user may not read.
    monkeypatch.setattr(module.glob, "glob", lambda pattern: [pattern])
    fake = _FakeModule({"journalctl": (0, "", "No journal files were opened due to insufficient permissions.")})
    assert module.collect_failed_logins(fake, None)["readable"] is False
