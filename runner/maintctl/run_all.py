"""``maintctl run --all``: every client's maintenance in one night, ``--jobs`` at a time.

Each client runs in its own process, ``maintctl run --client NAME ...`` (an argument list, never
a shell), in its own session and process group, so it keeps what ``run --client`` gives a run: its
private data dir, its client's vault and its client's lock. One client's failure, bad policy or
hang never stops the others:

- a child that outlives ``--timeout-per-client`` minutes gets SIGTERM on its whole process group
  (``maintctl run`` then records the run as interrupted), SIGKILL after :data:`GRACE_SECONDS`, and
  is reported as ``timeout`` (exit 3);
- whatever a child leaves behind in its process group when it exits is killed with it;
- SIGINT (Ctrl-C) or SIGTERM ends every running child's group the same way (a second one skips the
  grace), starts no other client, and the whole command exits 3.

Each child's output (stdout and stderr) goes to ``$MAINT_HOME/run-all/<id>/<client>.log`` (the
last :data:`KEEP_LOGS` folders are kept), never to a pipe a stray process could hold open. The
summary table is read from its lines ``run <id>: client X, N hosts, ...`` and
``run <id>: <status>, N results (...)`` (see :mod:`maintctl.cmd_run`).

The exit code is the worst of the clients', in the order that tells an operator what to look at
first: any invalid input 2, else any interrupted or timed out 3, else any findings 1, else any
client locked 4, else 0 (:func:`worst`).

The fan-out (:func:`run_clients`) takes the child command as an argument, so that it is tested
with a fake child and no Ansible.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from maint_utils import maint_clock
from maint_utils.maint_result import PolicyError
from maintcore import inventory
from maintcore.config import ensure_dir, maint_home, venv_bin
from maintcore.errors import INVALID_MESSAGE, InvalidInput, clip

from . import orchestrator

DEFAULT_TIMEOUT_MINUTES = 240.0
GRACE_SECONDS = 30.0  # between SIGTERM and SIGKILL: time for maintctl run to record the run as interrupted
KEEP_LOGS = 30
POLL_SECONDS = 0.05
CATCH_UP = dt.timedelta(minutes=60)  # maintctl tick's default --catch-up

# The options of ``maintctl run`` that belong to one client's run and are refused with --all.
CLIENT_ONLY = (("resume", "--resume"), ("worker", "--worker"), ("no_worker", "--no-worker"), ("limit", "--limit"),
               ("var", "--var"), ("ignore_window", "--ignore-window"), ("scheduled", "--scheduled"))
MEANINGS = {0: "ok", 1: "findings", 2: "invalid input", 3: "interrupted", 4: "client locked"}
# Worst first: what an operator must look at first (see the module's docstring and README).
ORDER = (2, 3, 1, 4, 0)

START_RE = re.compile(r"^run (\S+): client \S+, (\d+) hosts, folder ")
END_RE = re.compile(r"^run (\S+): (\w+), (\d+) results \((.*)\)$")


@dataclass
class Plan:
    """One client to run: its name and the options after ``run --client NAME``."""

    client: str
    options: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """How one client's run ended, as the summary shows it."""

    client: str
    code: int
    meaning: str
    seconds: float = 0.0
    run_id: str = ""
    hosts: int | None = None
    findings: str = ""
    status: str = ""  # the run's status (completed, interrupted, failed) from its last line
    line: str = ""  # the child's last meaningful line: its error, or its run line
    log: Path | None = None


def default_jobs(clients: int, cpus: int | None = None) -> int:
    """Clients run at the same time by default: min(4, the CPUs, the clients), at least 1."""
    return max(1, min(4, cpus if cpus is not None else (os.cpu_count() or 1), clients))


def rank(code: int) -> int:
    """Position of an exit code in :data:`ORDER` (0 is the worst); an unknown code counts as findings."""
    return ORDER.index(code) if code in ORDER else ORDER.index(1)


def worst(codes: list[int]) -> int:
    """The exit code of the whole: 2 before 3 before 1 before 4 before 0; 0 when there is none."""
    return min(codes, key=rank, default=0) if codes else 0


def meaning_of(code: int) -> str:
    """The meaning of a child's exit code (a negative code: killed by a signal)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return MEANINGS.get(code, "error")


def parse_output(text: str) -> dict[str, Any]:
    """Read a ``maintctl run --client`` output: run id, hosts, status, findings, last meaningful line."""
    out: dict[str, Any] = {"run_id": "", "hosts": None, "status": "", "findings": "", "line": ""}
    for raw in text.splitlines():
        line = raw.strip()
        if found := START_RE.match(line):
            out["run_id"], out["hosts"] = found.group(1), int(found.group(2))
        elif found := END_RE.match(line):
            out["run_id"], out["status"], out["line"] = found.group(1), found.group(2), line
            counts = [part.strip() for part in found.group(4).split(",") if part.strip()]
            kept = [part for part in counts if part.split(" ")[0] not in ("ok", "skipped", "none")]
            out["findings"] = ", ".join(kept) or "none"
        elif line.startswith("maintctl:"):
            out["line"] = line
    out["line"] = clip(out["line"])
    return out


class _Stop:
    """SIGINT/SIGTERM ask the fan-out to stop (in the main thread only: elsewhere nothing is installed)."""

    def __init__(self) -> None:
        self.signum = 0
        self.count = 0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.signum = signum
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class _Child:
    """One running client: its process group, its deadline and what was sent to it."""

    def __init__(self, plan: Plan, argv: list[str], log: Path, timeout: float | None, grace: float) -> None:
        self.plan, self.log, self.grace = plan, log, grace
        self.started = time.monotonic()
        self.timeout = timeout
        self.deadline = self.started + timeout if timeout else None
        self.reason = ""  # "timeout" or "interrupted" once asked to end
        self.term_at: float | None = None
        self.killed = False
        with open(log, "wb", buffering=0) as out:
            os.chmod(log, 0o600)
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True, close_fds=True)

    def end(self, reason: str) -> None:
        """SIGTERM the whole group now, SIGKILL after the grace (see :meth:`step`)."""
        if not self.reason:
            self.reason = reason
            self.term_at = time.monotonic()
            _killpg(self.proc.pid, signal.SIGTERM)

    def exited(self) -> bool:
        """True once the child has exited; it is not reaped yet, so its process group id stays its own."""
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None and info.si_pid == self.proc.pid

    def step(self, now: float) -> bool:
        """Advance: deadline, grace, exit. True when the child is done (and reaped, its group killed)."""
        if self.exited():
            # What the child left in its group (a stray grandchild) goes with it; then reap it.
            _killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return True
        if self.deadline is not None and now >= self.deadline:
            self.end("timeout")
        if self.term_at is not None and not self.killed and now >= self.term_at + self.grace:
            self.killed = True
            _killpg(self.proc.pid, signal.SIGKILL)
        return False

    def kill(self) -> None:
        """SIGKILL the group and reap the child (the fan-out is leaving)."""
        _killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def outcome(self) -> Outcome:
        """Read the child's log into its outcome."""
        code = self.proc.returncode
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.is_file() else ""
        seen = parse_output(text)
        if self.reason:
            # The child may have exited 3 itself, or died of the signal: either way the run was cut.
            code, meaning = orchestrator.EXIT_INTERRUPTED, self.reason
            if self.reason == "timeout":
                seen["line"] = f"ended after --timeout-per-client ({self.timeout:g} s); {seen['line'] or 'no output'}"
        else:
            meaning = meaning_of(code)
            code = code if code in MEANINGS else (orchestrator.EXIT_INTERRUPTED if code < 0 else 1)
        return Outcome(self.plan.client, code, meaning, time.monotonic() - self.started, seen["run_id"],
                       seen["hosts"], seen["findings"], seen["status"], seen["line"] or f"exit {self.proc.returncode}",
                       self.log)


def run_clients(plans: list[Plan], jobs: int, command: list[str], log_dir: Path,
                timeout: float | None = None, grace: float | None = None,
                echo: Callable[[str], None] | None = None) -> tuple[list[Outcome], int]:
    """Run ``command + ["run", "--client", NAME, *options]`` per plan, ``jobs`` at a time.

    ``timeout`` and ``grace`` are in seconds (timeout None or 0: none; grace None:
    :data:`GRACE_SECONDS`). Return the outcomes (in the order of ``plans``) and the signal that
    stopped the fan-out (0 if none). Every child's process group is gone when this returns,
    however it returns.
    """
    say = echo or (lambda text: print(text, flush=True))
    grace = GRACE_SECONDS if grace is None else grace
    ensure_dir(log_dir)
    pending = deque(plans)
    running: list[_Child] = []
    done: dict[str, Outcome] = {}
    with _Stop() as stop:
        try:
            while pending or running:
                if stop.signum:
                    for child in running:
                        child.end("interrupted")
                        if stop.count > 1:  # a second Ctrl-C does not wait for the grace
                            child.term_at = 0.0
                    while pending:
                        plan = pending.popleft()
                        done[plan.client] = Outcome(plan.client, orchestrator.EXIT_INTERRUPTED, "not started",
                                                    line="not started: maintctl run --all was interrupted")
                while pending and len(running) < max(1, jobs):
                    plan = pending.popleft()
                    argv = [*command, "run", "--client", plan.client, *plan.options]
                    try:
                        running.append(_Child(plan, argv, log_dir / f"{plan.client}.log", timeout, grace))
                    except OSError as exc:
                        done[plan.client] = Outcome(plan.client, orchestrator.EXIT_INVALID, "cannot start",
                                                    line=clip(f"cannot start {argv[0]}: {exc}"))
                        continue
                    say(f"{plan.client}: started")
                now = time.monotonic()
                for child in list(running):
                    if child.step(now):
                        running.remove(child)
                        out = done[child.plan.client] = child.outcome()
                        say(f"{out.client}: exit {out.code} ({out.meaning}) in {_duration(out.seconds)}: {out.line}")
                if running:
                    time.sleep(POLL_SECONDS)
        finally:
            for child in running:  # only on an unexpected error: leave nothing behind
                child.kill()
    return [done[p.client] for p in plans if p.client in done], stop.signum


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def summary(outcomes: list[Outcome], code: int, wall: float) -> list[str]:
    """The summary table, one line per client, then the total."""
    header = ("client", "exit", "meaning", "duration", "run id", "hosts", "findings")
    rows = [(o.client, str(o.code), o.meaning, _duration(o.seconds) if o.seconds else "-", o.run_id or "-",
             "-" if o.hosts is None else str(o.hosts), o.findings or "-") for o in outcomes]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    tally: dict[str, int] = {}
    for o in outcomes:
        tally[o.meaning] = tally.get(o.meaning, 0) + 1
    lines.append(f"{len(outcomes)} clients in {_duration(wall)}: "
                 + ", ".join(f"{meaning} {count}" for meaning, count in sorted(tally.items()))
                 + f"; exit {code} ({MEANINGS.get(code, 'error')})")
    return lines


def child_options(areas: list[str] | None, check: bool, scan_only: bool) -> list[str]:
    """The options after ``run --client NAME`` (None: every area, so no --only)."""
    options = ["--only", ",".join(areas)] if areas else []
    return options + (["--check"] if check else []) + (["--scan-only"] if scan_only else [])


def maintctl_command() -> list[str]:
    """The command that starts a child: this venv's maintctl (tests replace it with a fake)."""
    return [venv_bin("maintctl")]


def _due_plans(names: list[str], args: argparse.Namespace, only: list[str] | None,
               stream: TextIO) -> tuple[list[Plan], list[Outcome]]:
    """With --due: the clients ``maintctl tick`` would start now, read-only (no tick recorded)."""
    from . import cmd_tick

    now = maint_clock.now()
    plans: list[Plan] = []
    invalid: list[Outcome] = []
    idle: list[str] = []
    for name in names:
        try:
            due = cmd_tick.plan_client(name, now, CATCH_UP)
        except PolicyError as exc:
            invalid.append(Outcome(name, orchestrator.EXIT_INVALID, "invalid input", line=clip(exc, INVALID_MESSAGE)))
            continue
        except (OSError, ValueError, RecursionError, MemoryError) as exc:
            invalid.append(Outcome(name, orchestrator.EXIT_INVALID, "invalid input",
                                   line=clip(f"cannot be planned: {type(exc).__name__}: {exc}")))
            continue
        if due is None:
            idle.append(name)
            continue
        print(f"due: {due.describe()}", file=stream)
        plans.append(Plan(name, child_options(only or due.areas, args.check, args.scan_only or due.scan_only)))
    if idle:
        print(f"not due at {maint_clock.to_iso(now)}: {', '.join(idle)}", file=stream)
    return plans, invalid


def _log_dir() -> Path:
    """A new folder for this fan-out's logs; the oldest beyond :data:`KEEP_LOGS` are removed."""
    root = ensure_dir(maint_home() / "run-all")
    for old in sorted(p for p in root.iterdir() if p.is_dir())[:-(KEEP_LOGS - 1)]:
        shutil.rmtree(old, ignore_errors=True)
    return ensure_dir(root / orchestrator.new_run_id(maint_clock.now()))


def run(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """``maintctl run --all``: check the options, run every (due) client, print the summary, return the worst code."""
    out = stream or sys.stdout
    refused = [flag for name, flag in CLIENT_ONLY if getattr(args, name, None)]
    if refused:
        raise InvalidInput(f"{', '.join(refused)}: not with --all; they belong to one client's run "
                           "(maintctl run --client NAME)")
    only = orchestrator.parse_areas(args.only) if args.only else None
    if args.jobs is not None and args.jobs < 1:
        raise InvalidInput("--jobs must be at least 1")
    minutes = DEFAULT_TIMEOUT_MINUTES if args.timeout_per_client is None else args.timeout_per_client
    if not minutes >= 0:  # also refuses nan
        raise InvalidInput("--timeout-per-client must be a number of minutes, 0 for none")
    names = inventory.clients()
    if not names:
        raise InvalidInput("no client: no inventories/<client>/hosts.yml (or $MAINT_INVENTORIES/<client>/hosts.yml)")
    if args.due:
        plans, outcomes = _due_plans(names, args, only, out)
    else:
        plans, outcomes = [Plan(n, child_options(only, args.check, args.scan_only)) for n in names], []
    started = time.monotonic()
    signum = 0
    if plans:
        jobs = min(args.jobs, len(plans)) if args.jobs else default_jobs(len(plans))
        log_dir = _log_dir()
        print(f"run --all: {len(plans)} clients, {jobs} at a time, logs in {log_dir}", file=out, flush=True)
        ran, signum = run_clients(plans, jobs, maintctl_command(), log_dir, timeout=minutes * 60 or None,
                                  echo=lambda text: print(text, file=out, flush=True))
        outcomes += ran
    elif not outcomes:
        print("nothing due", file=out)
        return 0
    outcomes.sort(key=lambda o: o.client)
    code = orchestrator.EXIT_INTERRUPTED if signum else worst([o.code for o in outcomes])
    for line in summary(outcomes, code, time.monotonic() - started):
        print(line, file=out)
    for o in outcomes:
        if o.line and (o.code not in (0, 1) or o.line.startswith("maintctl:")):
            print(f"  {o.client}: {o.line}", file=out)
    if signum:
        print(f"maintctl: run --all interrupted by {signal.Signals(signum).name}", file=sys.stderr)
    return code
