"""maintctl run against the lab: interruption, resume, lock, check mode, secrets, store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from maintcore.config import maint_home, vault_dir
from maintcore.store import Store
from maintctl import orchestrator
from tests.conftest import assert_valid_results
from tests.integration.conftest import Spawn, complete_events, run_group

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
MAINTCTL = str(Path(sys.executable).parent / "maintctl")


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return run_group([MAINTCTL, *args], timeout=timeout)


def _run_id(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.startswith("run ") and ":" in line:
            return line.split()[1].rstrip(":")
    raise AssertionError(f"no run id in output:\n{stdout}")


def _jsonl(run_id: str) -> list[dict[str, Any]]:
    """The run's results.jsonl; a last line still being written (the run was killed) is left out."""
    return orchestrator.read_results(maint_home() / "runs" / "demo" / run_id / "results.jsonl")


def _vault_secrets() -> list[str]:
    """Every string value of the demo client's vault, decrypted."""
    secrets: list[str] = []
    for path in (ROOT / "inventories" / "demo").rglob("*.yml"):
        if not path.read_bytes().startswith(b"$ANSIBLE_VAULT;"):
            continue
        out = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-vault"), "view", "--vault-password-file",
             str(vault_dir() / "demo.pass"), str(path)], capture_output=True, text=True, check=True).stdout
        data = yaml.safe_load(out) or {}
        secrets += [str(v) for v in data.values() if isinstance(v, str | int) and len(str(v)) >= 6]
    return secrets


def test_hardware_run_lands_in_run_folder_and_store() -> None:
    proc = _run("run", "--client", "demo", "--only", "hardware")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # db01's full filesystem is critical
    run_id = _run_id(proc.stdout)
    records = _jsonl(run_id)
    assert_valid_results(records)
    hosts = {r["host"] for r in records if r["check"] == "run.reachability" and r["status"] == "ok"}
    assert hosts == {"web01", "db01", "files01", "app01", "web02"}
    with Store() as store:
        stored = store.results("demo", run_id=run_id)
        run = store.run(run_id)
    assert run is not None and (run["status"], run["exit_code"]) == ("completed", 1)
    assert len(stored) == len(records)
    crit = [r for r in stored if r["status"] == "critical" and r["check"] == "hardware.disk_free"]
    assert crit and all(r["severity"] == "P2" for r in crit)
    run_dir = maint_home() / "runs" / "demo" / run_id
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in run_dir.rglob("*") if p.is_file())
    command = json.loads((run_dir / "artifacts" / "ansible" / "command").read_text())
    assert "env" not in command


def test_no_vault_secret_reaches_the_run_folder_or_store() -> None:
    secrets = _vault_secrets()
    if not secrets:
        pytest.skip("the demo client has no vault yet")
    # Every area, patches scanned only: this test must not depend on the hour it runs at.
    proc = _run("run", "--client", "demo", "--scan-only")
    run_id = _run_id(proc.stdout)
    run_dir = maint_home() / "runs" / "demo" / run_id
    blobs = [p.read_bytes() for p in run_dir.rglob("*") if p.is_file()]
    blobs.append((maint_home() / "store.db").read_bytes())
    for secret in secrets:
        assert not any(secret.encode() in blob for blob in blobs), "a vault secret leaked into the run folder"


def test_check_mode_changes_nothing_and_is_recorded() -> None:
    proc = _run("run", "--client", "demo", "--only", "hardware", "--check", "--limit", "web01")
    run_id = _run_id(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Store() as store:
        run = store.run(run_id)
    assert run is not None and run["check_mode"] == 1
    assert not any(r["changed"] for r in _jsonl(run_id))


def test_sigterm_interrupts_keeps_results_and_resumes(spawn: Spawn) -> None:
    env = dict(os.environ)
    proc = spawn([MAINTCTL, "run", "--client", "demo", "--only", "hardware"], stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, env=env)
    runs = maint_home() / "runs" / "demo"
    before = set(runs.iterdir()) if runs.exists() else set()
    deadline = time.monotonic() + 60
    new: set[Path] = set()
    while time.monotonic() < deadline and not new:
        new = {p for p in runs.iterdir() if (p / "run.json").exists()} - before if runs.exists() else set()
        time.sleep(0.05)
    assert new, "the run never started"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, out + err
    run_id = _run_id(out)
    with Store() as store:
        run = store.run(run_id)
        stored = store.results("demo", run_id=run_id)
    assert run is not None and run["status"] == "interrupted"
    assert len(stored) == len(_jsonl(run_id))  # nothing collected is lost
    resumed = _run("run", "--client", "demo", "--resume", run_id)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert any(r["check"] == "hardware.disk_free" for r in _jsonl(_run_id(resumed.stdout)))
    again = _run("run", "--client", "demo", "--resume", _run_id(resumed.stdout))
    assert again.returncode == 2 and "not interrupted" in again.stderr


def test_second_run_on_a_locked_client_exits_4() -> None:
    with orchestrator.client_lock("demo"):
        proc = _run("run", "--client", "demo", "--only", "hardware")
    assert proc.returncode == 4
    assert "locked by pid" in proc.stderr


def test_results_of_a_controller_killed_with_sigkill_reach_the_store(spawn: Spawn) -> None:
    proc = spawn([MAINTCTL, "run", "--client", "demo", "--only", "hardware,antivirus"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = maint_home() / "runs" / "demo"
    before = set(runs.iterdir())
    deadline = time.monotonic() + 120
    killed: Path | None = None
    while time.monotonic() < deadline and killed is None:
        for path in set(runs.iterdir()) - before:
            results = path / "results.jsonl"
            if results.exists() and results.stat().st_size:
                killed = path
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed is not None, "no result arrived before the kill"
    on_disk = _jsonl(killed.name)
    assert on_disk
    with Store() as store:
        assert store.run(killed.name)["status"] == "running"  # type: ignore[index]
    follow = _run("run", "--client", "demo", "--only", "hardware", "--limit", "web01")
    assert follow.returncode == 0, follow.stdout + follow.stderr
    with Store() as store:
        run = store.run(killed.name)
        stored = store.results("demo", run_id=killed.name)
    assert run is not None and run["status"] == "interrupted"
    assert len(stored) == len(_jsonl(killed.name)) >= len(on_disk)


def test_tick_starts_a_due_scheduled_run_once(tmp_path: Path) -> None:
    """maintctl tick on the lab: the slot due starts one real scheduled run, and only once."""
    inv = tmp_path / "inventories"
    shutil.copytree(ROOT / "inventories" / "demo", inv / "demo")
    policy_file = inv / "demo" / "group_vars" / "all" / "policy.yml"
    text = policy_file.read_text().replace('maintenance: "Mon-Fri 21:00"', 'hardware: "Mon 21:00"')
    # This test is about scheduled runs: the supervision cycles have their own (test_supervision_lab.py).
    policy_file.write_text(text.replace('    probe: "every 1 min"\n    watch: "every 5 min"\n', ""))
    state = maint_home() / "schedule" / "demo.json"
    state.unlink(missing_ok=True)
    env = dict(os.environ, MAINT_INVENTORIES=str(inv), MAINT_STORE=str(tmp_path / "store.db"),
               MAINT_TEST_NOW="2026-11-23T20:02:00Z")  # Mon 21:02 in Paris
    try:
        proc = run_group([MAINTCTL, "tick"], timeout=600, env=env)
        assert proc.returncode == 1, proc.stdout + proc.stderr  # db01's full filesystem is critical
        assert "starting demo: hardware due for hardware Mon 2026-11-23 21:00 CET" in proc.stdout
        assert "demo: exit 1 (findings): run " in proc.stdout
        assert json.loads(state.read_text()) == {"last_tick": "2026-11-23T20:02:00Z"}
        run_id = _run_id(proc.stdout.split("demo: exit 1 (findings): ", 1)[1])
        meta = json.loads((maint_home() / "runs" / "demo" / run_id / "run.json").read_text())
        assert meta["kind"] == "scheduled" and meta["areas"] == "hardware"
        with Store(tmp_path / "store.db") as store:
            assert store.run(run_id)["kind"] == "scheduled"
        hosts = {r["host"] for r in _jsonl(run_id) if r["check"] == "hardware.disk_free"}
        assert hosts == {"web01", "db01", "files01", "app01", "web02"}
        # The next tick, three minutes later: nothing new is due.
        env["MAINT_TEST_NOW"] = "2026-11-23T20:05:00Z"
        again = run_group([MAINTCTL, "tick"], timeout=600, env=env)
        assert again.returncode == 0 and "nothing due at 2026-11-23T20:05:00Z" in again.stdout, again.stdout
    finally:
        state.unlink(missing_ok=True)


def test_run_on_a_worker_through_transmit_worker_process(tmp_path: Path) -> None:
    """--worker: ansible-runner transmit | worker | process, with the worker in its own folder."""
    worker_dir = tmp_path / "worker"
    worker = f"{Path(sys.executable).parent / 'ansible-runner'} worker --private-data-dir {worker_dir} --delete"
    proc = _run("run", "--client", "demo", "--only", "hardware", "--worker", worker)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # db01's full filesystem is critical
    run_id = _run_id(proc.stdout)
    run_dir = maint_home() / "runs" / "demo" / run_id
    # The playbook ran in the worker's folder, not in the run folder, and the worker cleaned up.
    command = json.loads((run_dir / "artifacts" / "ansible" / "command").read_text())
    assert command["cwd"] == str(worker_dir / "project") and "--ask-vault-pass" in command["command"]
    assert not worker_dir.exists()
    assert json.loads((run_dir / "run.json").read_text())["worker"] == worker
    # The results came back with the worker's artifacts and reached the store.
    results = _jsonl(run_id)
    assert_valid_results(results)
    assert {r["host"] for r in results if r["check"] == "hardware.disk_free"} == {
        "web01", "db01", "files01", "app01", "web02"}
    assert any(r["host"] == "db01" and r["status"] == "critical" for r in results)
    with Store() as store:
        assert len(store.results("demo", run_id=run_id)) == len(results)
        assert store.run(run_id)["status"] == "completed"
    # The vault password went in the stream, never into a file of the run folder.
    secrets = [(vault_dir() / "demo.pass").read_text().strip(), *_vault_secrets()]
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not any(s in text for s in secrets), path
    assert not list(run_dir.rglob("passwords"))


@pytest.mark.parametrize(("worker", "message"), [
    ("sh -c 'cat >/dev/null'", "Worker did not produce events"),
    ("sh -c 'echo ansible-runner: command not found >&2; exit 127'", "ansible-runner: command not found"),
    ("/nonexistent/worker", "worker command '/nonexistent/worker' cannot start"),
])
def test_a_broken_worker_is_one_line_and_a_failed_run(worker: str, message: str) -> None:
    proc = _run("run", "--client", "demo", "--only", "hardware", "--worker", worker, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("maintctl: error: run ") and message in lines[0], lines
    run_id = lines[0].split()[3]
    with Store() as store:
        assert store.run(run_id)["status"] == "failed"


def test_sigterm_on_a_worker_run_brings_back_what_the_worker_collected(tmp_path: Path, spawn: Spawn) -> None:
    worker_dir = tmp_path / "worker"
    worker = f"{Path(sys.executable).parent / 'ansible-runner'} worker --private-data-dir {worker_dir} --delete"
    runs = maint_home() / "runs" / "demo"
    before = set(runs.iterdir()) if runs.exists() else set()
    proc = spawn([MAINTCTL, "run", "--client", "demo", "--only", "hardware,antivirus", "--worker", worker],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    done_hosts = 0
    while time.monotonic() < deadline and done_hosts < 5:
        time.sleep(0.2)
        events = [e for new in set(runs.iterdir()) - before for e in complete_events(new)]
        done_hosts = len({e["event_data"]["host"] for e in events
                          if e.get("event") == "runner_on_ok" and "hardware" in e["event_data"].get("task", "").lower()
                          and "facts" in e["event_data"].get("task", "").lower()})
    assert done_hosts == 5, "the worker never finished the hardware checks"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, out + err
    run_id = _run_id(out)
    results = _jsonl(run_id)
    assert {r["host"] for r in results if r["check"] == "hardware.disk_free"} == {
        "web01", "db01", "files01", "app01", "web02"}
    with Store() as store:
        assert store.run(run_id)["status"] == "interrupted"
        assert len(store.results("demo", run_id=run_id)) == len(results)
    assert not worker_dir.exists()


def test_the_policy_worker_is_used_by_default(tmp_path: Path) -> None:
    inv = tmp_path / "inventories"
    shutil.copytree(ROOT / "inventories" / "demo", inv / "demo")
    worker = f"{Path(sys.executable).parent / 'ansible-runner'} worker --private-data-dir {tmp_path / 'w'} --delete"
    policy_file = inv / "demo" / "group_vars" / "all" / "policy.yml"
    policy_file.write_text(policy_file.read_text().replace("  client_name: Demo SARL\n",
                                                           f"  client_name: Demo SARL\n  worker: {json.dumps(worker)}\n"))
    env = dict(os.environ, MAINT_INVENTORIES=str(inv), MAINT_STORE=str(tmp_path / "store.db"))
    proc = run_group([MAINTCTL, "run", "--client", "demo", "--only", "hardware"], timeout=600, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run_dir = maint_home() / "runs" / "demo" / _run_id(proc.stdout)
    assert json.loads((run_dir / "run.json").read_text())["worker"] == worker
    command = json.loads((run_dir / "artifacts" / "ansible" / "command").read_text())
    assert command["cwd"] == str(tmp_path / "w" / "project")


def _inventory_with_swapped_key(tmp_path: Path, ip: str) -> Path:
    """A copy of the demo inventory whose known_hosts holds a random key for ``ip`` (the others real)."""
    inv = tmp_path / "inventories"
    shutil.copytree(ROOT / "inventories" / "demo", inv / "demo")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "impostor")], check=True)
    impostor = " ".join((tmp_path / "impostor.pub").read_text().split()[:2])
    lines = (maint_home() / "lab" / "ssh" / "known_hosts").read_text().splitlines()
    assert any(line.split()[0] == ip for line in lines)
    known = tmp_path / "known_hosts"
    known.write_text("".join(f"{ip} {impostor}\n" if line.split()[0] == ip else line + "\n" for line in lines))
    conn = inv / "demo" / "group_vars" / "all" / "connection.yml"
    text = conn.read_text()
    assert "{{ maint_lab_dir }}/ssh/known_hosts" in text
    # Its own control sockets: a master connection of an earlier test must not stand in for a new one.
    conn.write_text(text.replace("{{ maint_lab_dir }}/ssh/known_hosts", str(known))
                    + f"ansible_control_path_dir: {tmp_path / 'cp'}\n")
    return inv


@pytest.mark.parametrize("where", ["local", "worker"])
def test_a_changed_host_key_is_refused_and_the_other_hosts_go_on(tmp_path: Path, where: str) -> None:
    inv = _inventory_with_swapped_key(tmp_path, "198.51.100.11")  # web01
    args = [MAINTCTL, "run", "--client", "demo", "--only", "hardware", "--check", "--limit", "web01,db01"]
    if where == "worker":
        args += ["--worker", f"{Path(sys.executable).parent / 'ansible-runner'} worker "
                             f"--private-data-dir {tmp_path / 'w'} --delete"]
    env = dict(os.environ, MAINT_INVENTORIES=str(inv), MAINT_STORE=str(tmp_path / "store.db"))
    proc = run_group(args, timeout=600, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    results = _jsonl(_run_id(proc.stdout))
    web01 = [r for r in results if r["host"] == "web01"]
    # Nothing ran on web01: its only result is the refusal, which says why and what to do.
    assert [(r["check"], r["status"]) for r in web01] == [("run.reachability", "critical")], web01
    assert web01[0]["summary"].startswith("host key changed") and "known_hosts" in web01[0]["remediation"]
    assert web01[0]["observed"]["host_key"] == "changed"
    db01 = {r["check"] for r in results if r["host"] == "db01"}
    assert {"hardware.disk_free", "run.reachability"} <= db01
    assert "host key changed" in proc.stdout
