"""Patch deployment on the real lab: maintctl run --only patch, and the role through ansible-playbook.

Touches only the patch hosts (web01 canary, web02 reboot host, app01 dpkg lock held).
Each test starts from the state it needs, whatever ran before it: `fresh_lab` reads the
patch hosts (package versions, the hold, app01's lock holder, web02's reboot flag) and
runs `maintctl lab up --only patch` only when they are not in their fixture state, and
`installed_lab` re-creates the state after an install inside the window. In file order
the lab is reset three times (about 2 minutes in all).
"""

from __future__ import annotations

import datetime as dt
import json
import os
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
MAINTCTL = str(BIN / "maintctl")
HOSTS = "web01,web02,app01"
# Saturday 28 November 2026, 13:00 in Paris: inside the demo client's weekend window.
INSIDE = "2026-11-28T12:00:00Z"
# Sunday 29 November 2026, 23:50 in Paris: 10 minutes before the weekend window closes.
CLOSING = "2026-11-29T22:50:00Z"
# Tuesday 24 November 2026, 11:00 in Paris: outside every window.
OUTSIDE = "2026-11-24T10:00:00Z"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MAINT_TEST_NOW", None)
    env.update(extra)
    return env


def maintctl(*args: str, now: str | None = None) -> subprocess.CompletedProcess[str]:
    # Runs stamped with a fake time go to their own store, out of the lab's real history.
    fake_store = str(maint_home() / "test-patch-store.db")
    env = _env(MAINT_TEST_NOW=now, MAINT_STORE=fake_store) if now else _env()
    return run_group([MAINTCTL, *args], timeout=900, env=env)


def run_results(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    for line in proc.stdout.splitlines():
        if line.startswith("run ") and ":" in line:
            run_id = line.split()[1].rstrip(":")
            path = maint_home() / "runs" / "demo" / run_id / "results.jsonl"
            results = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
            assert_valid_results(results)
            return results
    raise AssertionError(f"no run id in maintctl output:\n{proc.stdout}\n{proc.stderr}")


def playbook(tmp_path: Path, extra: dict[str, Any], limit: str = HOSTS) -> tuple[int, list[dict[str, Any]]]:
    """Run playbooks/patch.yml directly (for policies maintctl cannot pass), collecting results."""
    out = tmp_path / f"results-{len(list(tmp_path.glob('results-*')))}.jsonl"
    vault = lab.install_demo_vault_password()
    env = _env(MAINT_RESULTS_FILE=str(out), MAINT_CLIENT="demo", MAINT_RUN_ID="pytest",
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventories" / "demo"), "--vault-password-file", str(vault),
         "--limit", limit, "-e", json.dumps(extra), str(ROOT / "playbooks" / "patch.yml")],
        capture_output=True, text=True, timeout=900, check=False, env=env, cwd=ROOT)
    results = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    assert_valid_results(results)
    return proc.returncode, results


def reset() -> None:
    proc = maintctl("lab", "up", "--only", "patch")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def version(host: str, package: str) -> str:
    proc = lab.podman("exec", lab.PREFIX + host, "dpkg-query", "-W", "-f", "${Version}", package, check=False)
    return proc.stdout.strip()


def started(host: str) -> str:
    return lab.podman("inspect", "--format", "{{.State.StartedAt}}", lab.PREFIX + host).stdout.strip()


def one(results: list[dict[str, Any]], host: str, check: str) -> dict[str, Any]:
    found = [r for r in results if r["host"] == host and r["check"] == check]
    assert len(found) == 1, f"{host} {check}: {len(found)} results"
    return found[0]


def window_end(minutes: int) -> str:
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    return end.replace(microsecond=0).isoformat().replace("+00:00", "Z")


LAB_PACKAGES = ("lab-tool", "lab-libsafe", "lab-libsafe-data", "lab-pinned", "lab-kernel")
# What lab/setup_patch.yml leaves: "version selection" of each lab package.
FRESH = {
    "web01": {"lab-tool": "1.0 install", "lab-libsafe": "1.0 install", "lab-pinned": "1.0 hold"},
    "app01": {"lab-tool": "1.0 install", "lab-libsafe": "1.0 install", "lab-pinned": "1.0 hold"},
    "web02": {"lab-tool": "1.0 install", "lab-libsafe": "1.0 install", "lab-pinned": "1.0 hold",
              "lab-kernel": "1.0 install"},
}
# After the security-only install inside the window (test_install_inside_the_window).
# lab-libsafe 1.0+sec1 depends on lab-libsafe-data, a new package the install pulls in.
INSTALLED = {
    "web01": {"lab-tool": "1.0 install", "lab-libsafe": "1.0+sec1 install", "lab-pinned": "1.0 hold",
              "lab-libsafe-data": "1.0+sec1 install"},
    "web02": {"lab-tool": "1.0 install", "lab-libsafe": "1.0+sec1 install", "lab-pinned": "1.0 hold",
              "lab-kernel": "1.0+sec1 install", "lab-libsafe-data": "1.0+sec1 install"},
}


def packages(host: str) -> dict[str, str]:
    """Return package -> "version selection" of the lab packages installed on a host."""
    proc = lab.podman("exec", lab.PREFIX + host, "dpkg-query", "-W", "-f",
                      "${Package} ${Version} ${db:Status-Want} ${db:Status-Status}\n", *LAB_PACKAGES, check=False)
    out = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == "installed":
            out[parts[0]] = f"{parts[1]} {parts[2]}"
    return out


def host_flag(host: str, script: str) -> bool:
    return lab.podman("exec", lab.PREFIX + host, "sh", "-c", script, check=False).returncode == 0


def lab_matches(expected: dict[str, dict[str, str]]) -> bool:
    return all(packages(host) == want for host, want in expected.items())


def is_fresh() -> bool:
    """Whether the patch hosts are exactly as lab/setup_patch.yml leaves them."""
    return (lab_matches(FRESH)
            and host_flag("app01", 'kill -0 "$(cat /run/lab-dpkg-lock.pid)"')
            and host_flag("web02", "test ! -e /run/reboot-required"))


def run_install_inside_window() -> subprocess.CompletedProcess[str]:
    return maintctl("run", "--client", "demo", "--only", "patch", "--limit", HOSTS, now=INSIDE)


@pytest.fixture()
def fresh_lab() -> Iterator[None]:
    if not is_fresh():
        reset()
        assert is_fresh(), "maintctl lab up --only patch did not restore the patch fixtures"
    yield


@pytest.fixture()
def installed_lab() -> Iterator[None]:
    if not lab_matches(INSTALLED):
        if not is_fresh():
            reset()
        run_install_inside_window()
        assert lab_matches(INSTALLED), {h: packages(h) for h in INSTALLED}
    yield


# -- group 1: through maintctl -----------------------------------------------------------------

def test_scan_reports_exactly_the_pending_updates(fresh_lab: None) -> None:
    proc = maintctl("run", "--client", "demo", "--only", "patch", "--limit", HOSTS, "--scan-only", now=OUTSIDE)
    assert proc.returncode in (0, 1), proc.stderr  # scans run outside windows
    res = run_results(proc)
    for host, pending, security in (("web01", ["lab-libsafe", "lab-tool"], ["lab-libsafe"]),
                                    ("app01", ["lab-libsafe", "lab-tool"], ["lab-libsafe"]),
                                    ("web02", ["lab-kernel", "lab-libsafe", "lab-tool"], ["lab-kernel", "lab-libsafe"])):
        pend = one(res, host, "patch.pending")
        names = sorted(p["name"] for p in pend["observed"]["packages"] if p["name"] not in pend["observed"]["held"])
        assert names == pending and pend["observed"]["count"] == len(pending)
        assert pend["observed"]["held"] == ["lab-pinned"]
        sec = one(res, host, "patch.pending_security")
        assert sec["observed"]["packages"] == security and sec["observed"]["held"] == ["lab-pinned"]
        assert sec["status"] in ("warning", "critical")
        assert sec["observed"]["oldest_age_days"] is not None
        assert one(res, host, "patch.reboot_required")["status"] == "ok"
        assert not [r for r in res if r["host"] == host and r["check"] in ("patch.installed", "patch.precheck")]
    assert version("web01", "lab-libsafe") == "1.0"


def test_outside_the_window_the_install_is_refused(fresh_lab: None) -> None:
    proc = maintctl("run", "--client", "demo", "--only", "patch", "--limit", "web01", now=OUTSIDE)
    assert proc.returncode == 2
    assert "next window" in proc.stderr and "2026-11-24T19:00:00" in proc.stderr
    assert version("web01", "lab-libsafe") == "1.0"


def test_closing_window_defers_every_host_and_exits_3(fresh_lab: None) -> None:
    proc = maintctl("run", "--client", "demo", "--only", "patch", "--limit", HOSTS, now=CLOSING)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    res = run_results(proc)
    for host in ("web01", "web02", "app01"):
        deferred = one(res, host, "patch.deferred")
        assert "only 10 min left" in deferred["summary"]
        assert one(res, host, "patch.pending")["status"] in ("ok", "warning")  # still scanned
    assert version("web01", "lab-libsafe") == "1.0" and version("web02", "lab-kernel") == "1.0"


def test_install_inside_the_window(fresh_lab: None) -> None:
    boot_before = started("web02")
    proc = run_install_inside_window()
    res = run_results(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # app01 is skipped with a critical pre-check
    # Security-only: exactly the security packages, never the held one, never the ordinary update.
    assert version("web01", "lab-libsafe") == "1.0+sec1" and version("web01", "lab-tool") == "1.0"
    assert version("web02", "lab-libsafe") == "1.0+sec1" and version("web02", "lab-kernel") == "1.0+sec1"
    for host in ("web01", "web02", "app01"):
        assert version(host, "lab-pinned") == "1.0"
    # Every change is reported, the dependency the security update pulled in included;
    # the plan is kept apart.
    inst = one(res, "web02", "patch.installed")
    assert inst["changed"] is True and inst["status"] == "ok" and inst["observed"]["complete"] is True
    assert [(p["name"], p["change"], p["from"], p["to"], p["planned"]) for p in inst["observed"]["packages"]] == [
        ("lab-kernel", "upgraded", "1.0", "1.0+sec1", True), ("lab-libsafe", "upgraded", "1.0", "1.0+sec1", True),
        ("lab-libsafe-data", "installed", None, "1.0+sec1", False)]
    assert [(p["name"], p["to"], p["done"]) for p in inst["observed"]["planned"]] == [
        ("lab-kernel", "1.0+sec1", True), ("lab-libsafe", "1.0+sec1", True)]
    assert "lab-libsafe-data 1.0+sec1 (new)" in inst["summary"]
    assert [(p["name"], p["change"]) for p in one(res, "web01", "patch.installed")["observed"]["packages"]] == [
        ("lab-libsafe", "upgraded"), ("lab-libsafe-data", "installed")]
    assert version("web01", "lab-libsafe-data") == "1.0+sec1"
    # web02 was restarted for real and its services came back.
    assert started("web02") != boot_before
    rebooted = one(res, "web02", "patch.rebooted")
    assert rebooted["status"] == "ok" and rebooted["changed"] is True
    assert one(res, "web02", "patch.post_check")["status"] == "ok"
    assert one(res, "web02", "patch.reboot_required")["status"] == "ok"
    assert one(res, "web01", "patch.rebooted")["status"] == "skipped"
    # app01: the dpkg lock is held, so it is skipped with a critical pre-check and left alone.
    pre = one(res, "app01", "patch.precheck")
    assert pre["status"] == "critical" and "lock-frontend is held" in pre["summary"]
    assert version("app01", "lab-libsafe") == "1.0"
    assert not [r for r in res if r["host"] == "app01" and r["check"] == "patch.installed"]
    # The state after the install: no security update left except on the held package.
    assert one(res, "web01", "patch.pending_security")["observed"]["count"] == 0
    assert one(res, "web01", "patch.last_patched")["status"] == "ok"


def test_second_run_is_idempotent(installed_lab: None) -> None:
    boot_before = started("web02")
    proc = maintctl("run", "--client", "demo", "--only", "patch", "--limit", "web01,web02", now=INSIDE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = run_results(proc)
    for host in ("web01", "web02"):
        inst = one(res, host, "patch.installed")
        assert inst["changed"] is False and inst["summary"] == "nothing to install"
        assert one(res, host, "patch.rebooted")["status"] == "skipped"
    assert not [r for r in res if r["changed"]]
    assert started("web02") == boot_before


# -- group 2: policies maintctl cannot pass (ansible-playbook with extra vars) -------------------

def test_excluded_package_is_not_touched(tmp_path: Path, fresh_lab: None) -> None:
    policy = {"mode": "security", "exclude": ["lab-kern*"], "reboot": "if_required", "critical_services": ["sshd"]}
    rc, res = playbook(tmp_path, {"patch_install": True, "maint_window_end": window_end(180), "patch_policy": policy},
                       limit="web02")
    assert rc == 0
    assert version("web02", "lab-kernel") == "1.0" and version("web02", "lab-libsafe") == "1.0+sec1"
    kernel = [p for p in one(res, "web02", "patch.pending")["observed"]["packages"] if p["name"] == "lab-kernel"]
    assert kernel[0]["reason"] == "excluded by policy"
    assert one(res, "web02", "patch.rebooted")["status"] == "skipped"


def test_update_whose_dependency_is_excluded_is_blocked(tmp_path: Path, fresh_lab: None) -> None:
    # lab-libsafe 1.0+sec1 needs the new lab-libsafe-data, which this policy excludes: apt
    # would install it anyway, so the dry run takes lab-libsafe out of the plan. lab-kernel
    # (no such dependency) is still installed.
    policy = {"mode": "security", "exclude": ["lab-libsafe-data"], "reboot": "never"}
    rc, res = playbook(tmp_path, {"patch_install": True, "maint_window_end": window_end(180), "patch_policy": policy},
                       limit="web02")
    assert rc == 0
    assert version("web02", "lab-libsafe") == "1.0" and version("web02", "lab-libsafe-data") == ""
    assert version("web02", "lab-kernel") == "1.0+sec1"
    inst = one(res, "web02", "patch.installed")
    assert inst["status"] == "warning" and inst["changed"] is True
    assert [(p["name"], p["change"]) for p in inst["observed"]["packages"]] == [("lab-kernel", "upgraded")]
    assert inst["observed"]["blocked"] == [
        {"name": "lab-libsafe", "reason": "blocked: would install lab-libsafe-data (excluded by policy)"}]
    assert one(res, "web02", "patch.failed")["status"] == "ok"
    # The state after the install still shows it as a pending security update, not installable.
    libsafe = [p for p in one(res, "web02", "patch.pending")["observed"]["packages"] if p["name"] == "lab-libsafe"]
    assert libsafe[0]["target"] is None and libsafe[0]["reason"].startswith("blocked: would install lab-libsafe-data")
    assert one(res, "web02", "patch.pending_security")["observed"]["packages"] == ["lab-libsafe"]


def test_a_failed_reboot_is_recorded_and_fails_the_host(tmp_path: Path, fresh_lab: None) -> None:
    # The reboot command fails (as when shutdown is refused): the host is not restarted,
    # the outcome is still recorded with the post-check, and the host fails.
    boot_before = started("web02")
    policy = {"mode": "security", "reboot": "if_required", "critical_services": ["sshd"]}
    rc, res = playbook(tmp_path, {"patch_install": True, "maint_window_end": window_end(180), "patch_policy": policy,
                                  "patch_reboot_command": "/bin/false"}, limit="web02")
    assert rc != 0
    assert version("web02", "lab-kernel") == "1.0+sec1" and started("web02") == boot_before
    rebooted = one(res, "web02", "patch.rebooted")
    assert rebooted["status"] == "critical" and "not confirmed" in rebooted["summary"]
    assert one(res, "web02", "patch.post_check")["status"] == "ok"
    assert one(res, "web02", "patch.reboot_required")["status"] == "warning"
    assert one(res, "web02", "patch.installed")["changed"] is True


def test_failing_canary_stops_the_rollout(tmp_path: Path, fresh_lab: None) -> None:
    # The canary (web01) patches, then its post-check fails: a service the policy calls
    # critical is not running. The rollout must stop before web02 (which still has a
    # pending security update, lab-kernel, that this policy would install).
    policy = {"mode": "security", "reboot": "if_required", "critical_services": ["sshd", "lab-no-such-daemon"]}
    rc, res = playbook(tmp_path, {"patch_install": True, "maint_window_end": window_end(180), "patch_policy": policy},
                       limit="web01,web02")
    assert rc != 0
    post = one(res, "web01", "patch.post_check")
    assert post["status"] == "critical" and post["observed"]["missing"] == ["lab-no-such-daemon"]
    # The host failed on the module's own verdict (host_failed), which the collector records.
    assert one(res, "web01", "run.task_failed")["status"] == "unknown"
    assert version("web01", "lab-libsafe") == "1.0+sec1"
    assert version("web02", "lab-kernel") == "1.0"
    assert not [r for r in res if r["host"] == "web02" and r["check"].startswith("patch.")]
