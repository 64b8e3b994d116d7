"""Fixtures of the lab tests: processes that always end, and a demo lock that never cascades.

A lab test that starts ``maintctl run`` in the background must end it even when the test
fails: a run left behind holds the demo client's lock, and every later test would then
fail with "client 'demo' is locked". :func:`spawn` starts each process in its own session
and ends the whole group at teardown. :func:`demo_lock_free` makes each lab test wait for
the lock (a run of the previous test may still be writing its store rows) and fail alone,
with the holder's pid, when it does not come free.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maintcore.errors import LockHeld
from maintctl import orchestrator

LOCK_WAIT_S = 90.0
Spawn = Callable[..., "subprocess.Popen[str]"]


def end_process_group(proc: subprocess.Popen[Any], grace: float = 30.0) -> None:
    """SIGTERM the process's group, wait ``grace`` seconds, then SIGKILL it; close its pipes."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@pytest.fixture()
def spawn() -> Iterator[Spawn]:
    """Start a process in its own session; at teardown, end its whole group, however the test ended."""
    started: list[subprocess.Popen[str]] = []

    def _spawn(args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        kwargs.setdefault("text", True)
        proc = subprocess.Popen(args, start_new_session=True, **kwargs)
        started.append(proc)
        return proc

    yield _spawn
    for proc in started:
        end_process_group(proc)


@pytest.fixture(autouse=True)
def demo_lock_free(request: pytest.FixtureRequest) -> None:
    """Before each lab test: wait for the demo client's lock; fail this test alone if it stays held."""
    if request.node.get_closest_marker("lab") is None:
        return
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            with orchestrator.client_lock("demo"):
                return
        except LockHeld as exc:
            if time.monotonic() >= deadline:
                pytest.fail(f"{exc} for more than {LOCK_WAIT_S:.0f} s: a process outside this test holds it")
            time.sleep(0.5)


def complete_events(folder: Path) -> list[dict[str, Any]]:
    """Return the job events of ``folder`` that are completely written.

    ansible-runner writes each event file while the run goes on; a file being written is
    skipped (it is read whole on a later poll), never parsed half-way.
    """
    events = []
    for path in sorted(folder.glob("artifacts/*/job_events/*.json")):
        try:
            events.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return events


def run_group(args: list[str], timeout: float = 600, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Like ``subprocess.run(capture_output=True, text=True)``, but the process gets its own session and
    its whole group is ended when the call times out or is interrupted, so nothing it started survives."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        end_process_group(proc, grace=10)
        raise
    return subprocess.CompletedProcess(args, proc.returncode, out, err)
