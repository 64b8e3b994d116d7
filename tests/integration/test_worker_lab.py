"""--worker against a real second node: the lab's worker01, reached over ssh, runs the demo hosts.

worker01 (lab/hosts.yml, ``workers:``) has ansible-core and ansible-runner of the controller's
versions and the demo inventory's SSH key and known_hosts, nothing else of the project; the
controller reaches it with its own key and a checked host key (``lab.worker_command()``).
"""

from __future__ import annotations

import json
import os
import shlex
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
from maintctl import lab, orchestrator, worker
from tests.conftest import assert_valid_results
from tests.integration.conftest import Spawn, run_group

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
MAINTCTL = str(Path(sys.executable).parent / "maintctl")
HOSTS = {"web01", "db01", "files01", "app01", "web02"}
# Observed values read live from the hosts (the shared machine's load, free memory, the root
# filesystem's use, uptime, a scan's duration): they differ between any two runs, local or not.
LIVE = {"load1", "load5", "load15", "load15_per_cpu", "avail_mib", "avail_pct", "uptime_seconds",
        "duration_s", "avail_bytes", "used_bytes", "free_pct", "inodes_free"}
LIVE_STATUS = {"hardware.load"}  # its status follows the load average of the machine all tests share
ARGS = ["run", "--client", "demo", "--only", "hardware,antivirus", "--check"]


def _run_id(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.startswith("run ") and ":" in line:
            return line.split()[1].rstrip(":")
    raise AssertionError(f"no run id in output:\n{stdout}")


def _jsonl(run_id: str) -> list[dict[str, Any]]:
    return orchestrator.read_results(maint_home() / "runs" / "demo" / run_id / "results.jsonl")


def _secrets() -> list[str]:
    """The demo client's vault password and every string value of its vault, decrypted."""
    password = (vault_dir() / "demo.pass").read_text(encoding="utf-8").strip()
    found = [password]
    for path in (ROOT / "inventories" / "demo").rglob("*.yml"):
        if path.read_bytes().startswith(b"$ANSIBLE_VAULT;"):
            out = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "view",
                                  "--vault-password-file", str(vault_dir() / "demo.pass"), str(path)],
                                 capture_output=True, text=True, check=True).stdout
            data = yaml.safe_load(out) or {}
            found += [str(v) for v in data.values() if isinstance(v, str | int) and len(str(v)) >= 6]
    return found


def _on_worker(*command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``command`` on worker01 over the same ssh the --worker command uses."""
    ssh = worker.parse_worker(lab.worker_command()) or []
    login = ssh[: ssh.index("ansible-runner")]
    return subprocess.run([*login, shlex.join(command)], input=stdin, capture_output=True, text=True, timeout=60,
                          check=False)


def _left_on_worker() -> list[str]:
    """Files of worker01 (its temporary folders and maint's home) that hold a demo secret or inventory."""
    places = ["/tmp", "/var/tmp", "/home/maint"]
    # The secrets go through stdin (never on a command line), one fixed string per line.
    grep = _on_worker("grep", "-rlsF", "-f", "/dev/stdin", *places, stdin="\n".join(_secrets()) + "\n")
    assert grep.returncode in (0, 1), grep.stderr  # 1: nothing found
    found = _on_worker("find", *places, "-path", "*/inventory/group_vars/all/vault.yml")
    assert found.returncode == 0, found.stderr
    return grep.stdout.split() + found.stdout.split()


def _comparable(records: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple[str | None, dict[str, Any]]]:
    out = {}
    for r in records:
        observed = {k: v for k, v in r["observed"].items() if k not in LIVE}
        out[(r["host"], r["check"], r["item"])] = (None if r["check"] in LIVE_STATUS else r["status"], observed)
    return out


@pytest.fixture(scope="module")
def worker_up() -> str:
    """The --worker command of worker01, after checking the node answers with the controller's versions."""
    if "worker01" not in lab.workers():
        pytest.fail("lab/hosts.yml has no worker01")
    version = _on_worker("ansible-runner", "--version")
    assert version.returncode == 0, f"worker01 does not answer over ssh (maintctl lab up): {version.stderr}"
    from importlib.metadata import version as installed

    assert version.stdout.strip() == installed("ansible-runner")
    core = _on_worker("ansible-playbook", "--version")
    assert f"[core {installed('ansible-core')}]" in core.stdout
    return lab.worker_command()


def test_a_run_on_worker01_gives_the_results_of_a_local_run(worker_up: str) -> None:
    local = run_group([MAINTCTL, *ARGS], timeout=600)
    assert local.returncode == 1, local.stdout + local.stderr  # db01: full /srv/data, stale signatures
    remote = run_group([MAINTCTL, *ARGS, "--worker", worker_up], timeout=600)
    assert remote.returncode == 1, remote.stdout + remote.stderr
    here, there = _jsonl(_run_id(local.stdout)), _jsonl(_run_id(remote.stdout))
    assert_valid_results(there)
    assert {r["host"] for r in there if r["check"] == "run.reachability" and r["status"] == "ok"} == HOSTS
    # Same host/check/item set, same statuses, same observed values where they are not read live.
    assert len(there) == len(here) == len(_comparable(there))
    assert _comparable(there) == _comparable(here)
    db01 = [r for r in there if (r["host"], r["check"], r["item"]) == ("db01", "hardware.disk_free", "/srv/data")]
    assert [r["status"] for r in db01] == ["critical"]
    # The run ran on worker01 (the playbook's working folder is there), and it is stored.
    run_id = _run_id(remote.stdout)
    run_dir = maint_home() / "runs" / "demo" / run_id
    command = json.loads((run_dir / "artifacts" / "ansible" / "command").read_text())
    assert not Path(command["cwd"]).exists() and command["cwd"].endswith("/project")
    assert json.loads((run_dir / "run.json").read_text())["worker"] == worker_up
    with Store() as store:
        run = store.run(run_id)
        assert run is not None and (run["status"], run["exit_code"]) == ("completed", 1)
        assert len(store.results("demo", run_id=run_id)) == len(there)
    assert not (run_dir / "artifacts" / "ansible" / worker.RESULTS_NAME).exists()  # moved into results.jsonl
    # --delete: nothing of the client's is left on the worker, and no secret reached the run folder.
    assert _left_on_worker() == []
    secrets = _secrets()
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not any(s in text for s in secrets), path


def test_a_controller_killed_mid_worker_run_keeps_the_streamed_results_and_resumes(worker_up: str,
                                                                                   spawn: Spawn) -> None:
    runs = maint_home() / "runs" / "demo"
    before = set(runs.iterdir()) if runs.exists() else set()
    proc = spawn([MAINTCTL, *ARGS, "--worker", worker_up], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    killed: Path | None = None
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline and killed is None and proc.poll() is None:
        for path in set(runs.iterdir()) - before:
            seen = orchestrator.read_results(path / "results.jsonl")
            if seen:
                killed = path
        time.sleep(0.05)
    assert killed is not None, "no result reached results.jsonl before the run ended"
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)  # the controller only: its ssh to the worker dies of the broken pipe
    proc.wait()
    run_id = killed.name
    kept = _jsonl(run_id)
    # What was received before the kill is there, and it came from the stream: the worker's
    # artifacts (its own copy of the results) never arrived.
    assert len(kept) >= len(seen) >= 1 and kept[: len(seen)] == seen
    assert not (killed / "artifacts" / "ansible" / worker.RESULTS_NAME).exists()
    assert all(r["run_id"] == run_id and r["client"] == "demo" for r in kept)
    assert {r["check"] for r in kept} - {"run.reachability"}, "only collector-made results were kept"
    with Store() as store:
        assert store.run(run_id)["status"] == "running"  # type: ignore[index]
    # The next run of the client loads them into the store and marks the killed run interrupted.
    follow = run_group([MAINTCTL, "run", "--client", "demo", "--only", "hardware", "--check", "--limit", "web01"],
                       timeout=600)
    assert follow.returncode in (0, 1), follow.stdout + follow.stderr
    with Store() as store:
        run = store.run(run_id)
        assert run is not None and run["status"] == "interrupted"
        assert len(store.results("demo", run_id=run_id)) == len(_jsonl(run_id)) >= len(kept)
    # --resume completes it, on the worker again.
    resumed = run_group([MAINTCTL, "run", "--client", "demo", "--resume", run_id, "--worker", worker_up], timeout=600)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    again = _jsonl(_run_id(resumed.stdout))
    assert {r["host"] for r in again if r["check"] == "hardware.disk_free"} == HOSTS
    assert {r["host"] for r in again if r["check"] == "antivirus.product"} == HOSTS
    meta = json.loads((runs / _run_id(resumed.stdout) / "run.json").read_text())
    assert (meta["resume_of"], meta["worker"], meta["check_mode"]) == (run_id, worker_up, True)
    with Store() as store:
        done = store.run(_run_id(resumed.stdout))
        assert done is not None and done["status"] == "completed"
    # The orphaned job on the worker ends when its stream breaks, and --delete still removes its folder.
    deadline = time.monotonic() + 180
    left = _left_on_worker()
    while left and time.monotonic() < deadline:
        time.sleep(2)
        left = _left_on_worker()
    assert left == [], f"the killed run's job left the client's files on worker01: {left}"
