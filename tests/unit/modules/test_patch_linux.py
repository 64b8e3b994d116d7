"""patch_linux with manager dnf, and the shared patch_collect helpers, run on this (Debian) machine.

There is no RPM host here. The module is run for real through `ansible localhost`, but
`dnf`, `rpm` and `needs-restarting` are STAND-IN scripts that print the RECONSTRUCTED
dnf 4 output of tests/fixtures/patch/dnf and record their argv: this checks the module's
wiring (commands, return codes, phases), not dnf itself. The lock helpers run on real
files and real processes.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from maint_utils import patch_collect
from tests.conftest import assert_valid_results

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
FIX = ROOT / "tests" / "fixtures" / "patch" / "dnf"

FAKE = """#!/bin/sh
# Stand-in for {tool}: records its argv, prints a fixture chosen by the test.
echo "{tool} $*" >> "$FAKE_LOG"
case "$*" in
{cases}
esac
"""


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture()
def fake_tools(tmp_path: Path) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _write(bindir / "dnf", FAKE.format(tool="dnf", cases=f"""
  *check-update*) cat "{FIX}/check-update.txt"; exit 100 ;;
  *"updateinfo list --security"*) cat "{FIX}/updateinfo-list.txt"; exit 0 ;;
  *"updateinfo info --security"*) cat "{FIX}/updateinfo-info.txt"; exit 0 ;;
  *) echo "No such command: $*" >&2; exit 1 ;;"""))
    _write(bindir / "rpm", FAKE.format(tool="rpm", cases="""
  "-qa --qf"*) cat "$FAKE_RPM"; exit 0 ;;
  *) exit 1 ;;"""))
    _write(bindir / "needs-restarting", FAKE.format(tool="needs-restarting", cases=f"""
  "-r") cat "{FIX}/needs-restarting-required.txt"; exit 1 ;;"""))
    return bindir


def run_module(bindir: Path, args: dict[str, Any], rpm: str = "rpm-qa.txt") -> tuple[dict[str, Any], list[str]]:
    log = bindir.parent / "argv.log"
    log.unlink(missing_ok=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="json", PATH=f"{bindir}:{os.environ['PATH']}",
               FAKE_LOG=str(log), FAKE_RPM=str(FIX / rpm))
    env.pop("MAINT_RESULTS_FILE", None)
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-c", "local", "-m", "patch_linux", "-a",
                           json.dumps({"manager": "dnf", **args}), "-e", f"ansible_python_interpreter={sys.executable}"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    result: dict[str, Any] = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    calls = [c for c in log.read_text(encoding="utf-8").splitlines() if c] if log.exists() else []
    return result, calls


RPM_CALL = "rpm -qa --qf %{NAME} %{EPOCH} %{VERSION}-%{RELEASE} %{ARCH}"


def _valid(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    full = [dict(r, client="c", host="h", run_id="r") for r in results]
    assert_valid_results(full)
    return {r["check"]: r for r in results}


def test_scan_with_an_install_planned(fake_tools: Path) -> None:
    res, calls = run_module(fake_tools, {"phase": "scan", "install_planned": True, "policy": {"min_free_mb": 1}})
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is False
    assert calls[:4] == ["dnf -q check-update --refresh", "dnf -q updateinfo list --security",
                         "dnf -q updateinfo info --security", RPM_CALL]
    assert "needs-restarting -r" in calls
    plan = res["patch_plan"]
    assert plan["specs"] == ["curl-7.76.1-29.el9_4.1", "libcurl-7.76.1-29.el9_4.1",
                             "openssl-1:3.0.7-27.el9_4.2", "openssl-libs-1:3.0.7-27.el9_4.2"]
    assert plan["before"]["openssl"] == "1:3.0.7-25.el9_3" and plan["precheck_ok"] is True
    # Every installed package, from the same single rpm call, for the verify's full diff.
    assert calls.count(RPM_CALL) == 1
    assert plan["before_all"]["openssl:x86_64"] == ["1:3.0.7-25.el9_3"] and len(plan["before_all"]) == 10
    assert plan["held"] == [] and plan["blocked"] == []
    checks = _valid(res["maint_results"])
    assert list(checks) == ["patch.precheck"]  # the state results come after the install (final)
    assert set(checks["patch.precheck"]["observed"]["locks"]) == {"/var/lib/rpm/.rpm.lock",
                                                                   "/var/lib/dnf/rpmdb_lock.pid"}
    assert res["reboot_required"] is True


def test_scan_only_without_refresh(fake_tools: Path) -> None:
    res, calls = run_module(fake_tools, {"update_cache": False, "policy": {"mode": "all", "exclude": ["tzdata"]}})
    assert calls[0] == "dnf -q check-update"
    checks = _valid(res["maint_results"])
    assert set(checks) == {"patch.pending", "patch.pending_security", "patch.reboot_required", "patch.last_patched"}
    assert checks["patch.pending"]["observed"]["installable"] == 6  # all but the excluded tzdata
    assert checks["patch.pending"]["status"] == "warning"
    assert checks["patch.reboot_required"]["observed"]["packages"] == ["kernel", "systemd"]
    # No /var/log/dnf.rpm.log on this machine: never read, so unknown (never ok).
    assert checks["patch.last_patched"]["status"] == "unknown"


def test_verify_after_the_install(fake_tools: Path) -> None:
    scan, _ = run_module(fake_tools, {"install_planned": True, "policy": {"min_free_mb": 1}})
    plan = scan["patch_plan"]
    verify = {"phase": "verify", "planned": plan["planned"], "before": plan["before"],
              "before_all": plan["before_all"], "held": plan["held"], "blocked": plan["blocked"]}
    res, calls = run_module(fake_tools, dict(verify, policy={"reboot": "if_required"}), rpm="rpm-qa-after.txt")
    assert calls == [RPM_CALL, "needs-restarting -r"]
    checks = _valid(res["maint_results"])
    assert res["changed"] is True and checks["patch.installed"]["changed"] is True
    # Every change, the dependency the update pulled in (libbrotli) included; the plan apart.
    assert [(p["name"], p["change"], p["from"], p["to"], p["planned"])
            for p in checks["patch.installed"]["observed"]["packages"]] == [
        ("curl", "upgraded", "7.76.1-26.el9_3.3", "7.76.1-29.el9_4.1", True),
        ("libbrotli", "installed", None, "1.0.9-6.el9", False),
        ("libcurl", "upgraded", "7.76.1-26.el9_3.3", "7.76.1-29.el9_4.1", True),
        ("openssl", "upgraded", "1:3.0.7-25.el9_3", "1:3.0.7-27.el9_4.2", True),
        ("openssl-libs", "upgraded", "1:3.0.7-25.el9_3", "1:3.0.7-27.el9_4.2", True)]
    assert [p["name"] for p in checks["patch.installed"]["observed"]["planned"]] == [
        "curl", "libcurl", "openssl", "openssl-libs"]
    assert checks["patch.installed"]["status"] == "ok" and checks["patch.installed"]["observed"]["complete"]
    assert checks["patch.failed"]["status"] == "ok"
    assert res["reboot_action"] == "reboot" and res["host_failed"] is False
    # The same verify against the unchanged rpm database: every planned package failed.
    res, _ = run_module(fake_tools, dict(verify, install_error="Depsolve Error occurred"))
    checks = _valid(res["maint_results"])
    assert checks["patch.failed"]["status"] == "critical" and "Depsolve" in checks["patch.failed"]["summary"]
    assert checks["patch.installed"]["changed"] is False
    # needs-restarting still says a reboot is required, but a failed install is never rebooted.
    assert res["reboot_required"] is True and res["reboot_action"] == "skip"
    assert "update failed" in res["reboot_reason"]
    # The host fails on it (patch_decide.host_failed); the final phase sees it through earlier_results.
    assert res["host_failed"] is True and "Depsolve" in res["msg"]
    final, _ = run_module(fake_tools, {"phase": "final", "earlier_results": res["maint_results"]})
    assert final["host_failed"] is True and "Depsolve" in final["msg"]
    assert {r["check"] for r in final["maint_results"]} == {"patch.pending", "patch.pending_security",
                                                            "patch.reboot_required", "patch.last_patched",
                                                            "patch.post_check"}


def test_a_closing_window_defers_a_planned_install(fake_tools: Path) -> None:
    guard = {"allowed": False, "reason": "only 10 min left in the window (minimum 30)"}
    res, calls = run_module(fake_tools, {"install_planned": True, "window_guard": guard, "policy": {"min_free_mb": 1}})
    assert res["patch_plan"]["precheck_ok"] is False and res["patch_plan"]["before_all"] is None
    checks = _valid(res["maint_results"])
    assert checks["patch.deferred"]["summary"] == "install deferred: only 10 min left in the window (minimum 30)"
    assert "patch.precheck" not in checks and "patch.pending" in checks
    # A scan (no install planned) is never deferred, whatever the guard says.
    res, _ = run_module(fake_tools, {"window_guard": guard})
    assert "patch.deferred" not in _valid(res["maint_results"]) and res["host_failed"] is False


def test_the_module_fails_without_dnf(tmp_path: Path) -> None:
    bindir = tmp_path / "empty"
    bindir.mkdir()
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="json")
    if any((Path(d) / "dnf").exists() for d in os.environ["PATH"].split(":") + ["/sbin", "/usr/sbin"]):
        pytest.skip("this machine has a real dnf")
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-c", "local", "-m", "patch_linux",
                           "-a", "manager=dnf", "-e", f"ansible_python_interpreter={sys.executable}"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    res = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert res["failed"] and "dnf is not installed" in res["msg"]


# -- lock helpers, on real files and processes ----------------------------------------------------

def test_pid_lock_state(tmp_path: Path) -> None:
    lock = tmp_path / "rpmdb_lock.pid"
    assert patch_collect.pid_lock_state(str(lock)) == {"held": False, "pid": None}  # no file
    child = subprocess.Popen(["sleep", "30"])
    try:
        lock.write_text(str(child.pid))
        assert patch_collect.pid_lock_state(str(lock)) == {"held": True, "pid": child.pid}
    finally:
        child.kill()
        child.wait()
    assert patch_collect.pid_lock_state(str(lock)) == {"held": False, "pid": None}  # stale: dnf takes it over
    lock.write_text("garbage")
    assert patch_collect.pid_lock_state(str(lock)) is None  # unreadable: the pre-check fails on it


def test_fcntl_lock_state(tmp_path: Path) -> None:
    lock = tmp_path / ".rpm.lock"
    lock.write_text("")
    assert patch_collect.lock_state(str(lock)) == {"held": False, "pid": None}
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        f"h = open({str(lock)!r}, 'a'); fcntl.lockf(h, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert patch_collect.lock_state(str(lock)) == {"held": True, "pid": holder.pid}
    finally:
        holder.kill()
        holder.wait()
    assert patch_collect.lock_state(str(lock)) == {"held": False, "pid": None}
    # A lock this process holds is not reported as held to itself (F_GETLK), so test only others'.
    with open(lock, "a") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        assert patch_collect.lock_state(str(lock)) == {"held": False, "pid": None}


# -- dnf 5 ---------------------------------------------------------------------------------------
FIX5 = ROOT / "tests" / "fixtures" / "patch" / "dnf5"


def _dnf5_tools(tmp_path: Path, advisory_list: Path = FIX5 / "advisory-list.txt") -> Path:
    """dnf as Fedora 41 ships it: /usr/bin/dnf is a symlink to dnf5."""
    bindir = tmp_path / "bin5"
    bindir.mkdir()
    _write(bindir / "dnf5", FAKE.format(tool="dnf5", cases=f"""
  *check-upgrade*) cat "{FIX5}/check-upgrade.txt"; exit 100 ;;
  *"advisory list --security"*) cat "{advisory_list}"; exit 0 ;;
  *"advisory info --security"*) cat "{FIX5}/advisory-info.txt"; exit 0 ;;
  *) echo "Unknown argument: $*" >&2; exit 2 ;;"""))
    (bindir / "dnf").symlink_to("dnf5")
    _write(bindir / "rpm", FAKE.format(tool="rpm", cases="""
  "-qa --qf"*) cat "$FAKE_RPM"; exit 0 ;;
  *) exit 1 ;;"""))
    _write(bindir / "needs-restarting", FAKE.format(tool="needs-restarting", cases=f"""
  "-r") cat "{FIX}/needs-restarting-none.txt"; exit 0 ;;"""))
    return bindir


def test_dnf5_host_uses_the_dnf5_commands_and_reads_its_advisories(tmp_path: Path) -> None:
    bindir = _dnf5_tools(tmp_path)
    res, calls = run_module(bindir, {"update_cache": False}, rpm="../dnf5/rpm-qa.txt")
    assert not res.get("failed"), res.get("msg")
    assert calls[:3] == ["dnf5 -q check-upgrade", "dnf5 -q advisory list --security",
                         "dnf5 -q advisory info --security"]
    assert not any("updateinfo" in c for c in calls)
    checks = _valid(res["maint_results"])
    sec = checks["patch.pending_security"]
    # The rows end with a date and a time: a dnf 5 host never reads as "no pending security update".
    assert sec["status"] in ("warning", "critical") and sec["observed"]["packages"] == ["openssl", "openssl-libs"]
    assert sec["observed"]["age_basis"] == "advisory_issued_date" and sec["observed"]["oldest_age_days"] > 300
    assert res["patch_state"]["dnf_major"] == 5
    assert checks["patch.pending"]["observed"]["count"] == 3


def test_dnf5_output_nobody_understands_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "odd.txt").write_text("Advisory FEDORA-2024-abc123 is for openssl, severity Important\n",
                                      encoding="utf-8")
    bindir = _dnf5_tools(tmp_path, advisory_list=tmp_path / "odd.txt")
    res, _ = run_module(bindir, {"update_cache": False}, rpm="../dnf5/rpm-qa.txt")
    checks = _valid(res["maint_results"])
    assert checks["patch.pending_security"]["status"] == "unknown"
    assert checks["patch.pending"]["status"] == "unknown"
    assert "not understood" in checks["patch.pending_security"]["summary"]


def test_dnf_major_without_running_dnf(tmp_path: Path) -> None:
    from plugins.modules import patch_linux as mod  # noqa: PLC0415 - the module imports ansible

    script = tmp_path / "dnf-3"
    script.write_text("#!/usr/bin/python3\nimport dnf\n", encoding="utf-8")
    (tmp_path / "dnf").symlink_to("dnf-3")
    elf = tmp_path / "dnf5"
    elf.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 32)
    (tmp_path / "dnf-elf").write_bytes(elf.read_bytes())
    assert mod.dnf_major(str(tmp_path / "dnf")) == 4
    assert mod.dnf_major(str(elf)) == 5
    assert mod.dnf_major(str(tmp_path / "dnf-elf")) == 5  # a compiled dnf is dnf 5, whatever its name
    assert mod.dnf_major(str(tmp_path / "missing")) == 4
    cmds = mod.dnf_commands("/usr/bin/dnf", 5, True)
    assert cmds["check_update"] == ["/usr/bin/dnf", "-q", "check-upgrade", "--refresh"]
    assert cmds["updateinfo_list"] == ["/usr/bin/dnf", "-q", "advisory", "list", "--security"]
    assert mod.dnf_commands("/usr/bin/dnf", 4, False)["updateinfo_info"] == [
        "/usr/bin/dnf", "-q", "updateinfo", "info", "--security"]


class _Found:
    """What detect_manager needs of AnsibleModule: get_bin_path over one folder, fail_json raising."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get_bin_path(self, name: str) -> str | None:
        path = self.folder / name
        return str(path) if path.exists() else None

    def fail_json(self, msg: str) -> None:
        raise RuntimeError(msg)


def test_auto_finds_apt_or_dnf4_and_refuses_the_others(tmp_path: Path) -> None:
    from plugins.modules import patch_linux as mod  # noqa: PLC0415 - the module imports ansible

    apt_host, dnf_host, dnf5_host, zypper_host, bare = (tmp_path / n for n in ("apt", "dnf", "dnf5", "zypper", "bare"))
    for folder in (apt_host, dnf_host, dnf5_host, zypper_host, bare):
        folder.mkdir()
    _write(apt_host / "apt-get", "#!/bin/sh\n")
    _write(dnf_host / "dnf", "#!/usr/bin/python3\nimport dnf\n")
    (dnf5_host / "dnf5").write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 32)
    (dnf5_host / "dnf").symlink_to("dnf5")
    _write(zypper_host / "zypper", "#!/bin/sh\n")
    assert mod.detect_manager(_Found(apt_host)) == "apt"
    assert mod.detect_manager(_Found(dnf_host)) == "dnf"
    for folder, name in ((dnf5_host, "dnf5"), (zypper_host, "zypper"), (bare, "unknown")):
        with pytest.raises(RuntimeError, match=f"^package manager {name} is not supported"):
            mod.detect_manager(_Found(folder))


def test_an_unsupported_manager_given_is_refused(fake_tools: Path) -> None:
    res, calls = run_module(fake_tools, {"manager": "yum"})
    assert res["failed"] and res["msg"].startswith("package manager yum is not supported"), res
    assert calls == []
    res, _ = run_module(fake_tools, {"phase": "final", "policy": {}})
    assert res["manager"] == "dnf", res
