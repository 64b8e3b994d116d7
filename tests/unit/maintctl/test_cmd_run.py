"""``maintctl run --resume``: the interrupted run's options, and its worker, come back."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from maintcore.errors import InvalidInput
from maintcore.store import Store
from maintctl import cli, cmd_run
from maintctl.orchestrator import RunRequest

WORKER = "ssh -T -o BatchMode=yes maint@198.51.100.40 ansible-runner worker --delete"


def _interrupted(store: Store, home: Path, run_id: str, worker: str | None, write_meta: bool = True) -> None:
    run_dir = home / "runs" / "acme" / run_id
    run_dir.mkdir(parents=True)
    meta = {"run_id": run_id, "client": "acme", "kind": "scheduled", "areas": "hardware,backup",
            "limit_hosts": "web01", "check_mode": True, "started": "2026-11-23T20:05:00Z",
            "run_dir": str(run_dir), "worker": worker}
    if write_meta:
        (run_dir / "run.json").write_text(json.dumps(meta))
    store.start_run(meta)
    store.finish_run(run_id, "interrupted", 3, "2026-11-23T20:30:00Z")


def _request(store: Store, *argv: str) -> RunRequest:
    args = cli.build_parser(["run", *argv]).parse_args(["run", *argv])
    return cmd_run.request_from(args, store)


@pytest.fixture()
def store(maint_home: Path) -> Iterator[Store]:
    with Store() as opened:
        yield opened


def test_a_resume_goes_through_the_interrupted_runs_worker(store: Store, maint_home: Path) -> None:
    _interrupted(store, maint_home, "R1", WORKER)
    req = _request(store, "--client", "acme", "--resume", "R1")
    assert req.worker == shlex.split(WORKER)
    assert (req.resume, req.areas, req.limit, req.check, req.kind) == ("R1", ["hardware", "backup"], "web01", True,
                                                                        "scheduled")


def test_a_resume_of_a_run_made_here_stays_here(store: Store, maint_home: Path) -> None:
    _interrupted(store, maint_home, "R2", None)
    assert _request(store, "--client", "acme", "--resume", "R2").worker is None


def test_told_otherwise_a_resume_goes_elsewhere(store: Store, maint_home: Path) -> None:
    _interrupted(store, maint_home, "R3", WORKER)
    other = "ssh -T maint@198.51.100.41 ansible-runner worker"
    assert _request(store, "--client", "acme", "--resume", "R3", "--worker", other).worker == shlex.split(other)
    assert _request(store, "--client", "acme", "--resume", "R3", "--no-worker").worker is None


def test_a_resume_that_cannot_tell_the_worker_asks(store: Store, maint_home: Path) -> None:
    _interrupted(store, maint_home, "R4", WORKER, write_meta=False)
    with pytest.raises(InvalidInput, match="cannot tell whether run R4 ran on a worker.*--no-worker"):
        _request(store, "--client", "acme", "--resume", "R4")
    assert _request(store, "--client", "acme", "--resume", "R4", "--no-worker").worker is None


def test_no_worker_goes_with_resume_only(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidInput, match="--no-worker goes with --resume"):
        _request(store, "--client", "acme", "--no-worker")
    with pytest.raises(SystemExit):
        _request(store, "--client", "acme", "--worker", WORKER, "--no-worker")
    assert "not allowed with argument" in capsys.readouterr().err
