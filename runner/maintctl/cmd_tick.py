"""``maintctl tick``: start the scheduled runs that fell due, for every client.

Meant to be called every few minutes by a systemd timer or cron (README, "Scheduled runs").
Each client's ``schedule`` (see :mod:`maintctl.schedule`) says what runs when, in its
timezone. A tick:

1. takes the dispatcher lock (``$MAINT_HOME/locks/tick.lock``; exit 4 if another tick holds it);
2. for each client, finds the slots due since its last tick, no older than ``--catch-up``
   minutes, and records this tick in ``$MAINT_HOME/schedule/<client>.json`` *before* starting
   anything, so that a tick that dies or a run that lasts for hours never starts twice;
3. claims each due slot in the store (:meth:`maintcore.store.Store.claim_slot`: one atomic
   INSERT of ``(client, entry, slot start)``), so that of several controllers ticking on one
   shared store (``MAINT_STORE=postgresql://...``) exactly one starts it; a slot another
   controller claimed is shown as ``skipped: claimed by <controller>``;
4. releases the lock, then starts one ``maintctl run --scheduled`` per due client (the slots
   due together are merged into one run), ``--jobs`` at a time, and waits for them.

A claim is for one slot: a controller that crashed after claiming blocks nothing later (the
next slot is free, and its run left ``running`` is recovered by the next run's
``recover_stale_runs``). A supervision cycle's slot is its interval's place on the clock
(``every 5 min``: 10:00, 10:05, ...; a tick up to the cycle's early slack before a boundary
counts for the next one), so two controllers never start the same client's probe or watch twice
in one interval.

Supervision cycles (``schedule.probe``, ``schedule.watch``: ``every N min``) are started the same
way: ``maintctl probe|watch --client X`` when the interval has passed since the last one started
(a quarter of the interval, at most 15 s, early is on time: a one-minute timer that fires a little
early still probes every minute). They run beside the scheduled runs, in their own processes and
under their own locks: a cycle still running when the next falls due makes that one skip (exit 4,
shown as "skipped", not an error), never queue. Then each client's overdue alerts are escalated
and its notification outbox is flushed.

Last, the monthly report: a client whose policy sets ``report.deliver_on`` and
``report.recipients`` gets the previous month's report e-mailed on its delivery day, once
(:func:`maintreport.deliver.deliver_month`: recorded in the store's ``report_deliveries``; a
failed send is recorded and retried by a later tick, and makes the exit code 1).

A scheduled patch run whose time falls on a window exception date only scans
(``--scan-only``). A client whose policy or inventory is invalid (even binary or hostile: see
:func:`maintcore.inventory.read_yaml`) is reported on one line and skipped; the others still
run. Exit code: 2 if a policy was invalid or a run refused its input, else 1 if a run ended
with findings, was interrupted or found its client locked, or a report was not delivered, else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maint_utils import maint_clock, maint_window
from maint_utils.checks import AREAS
from maint_utils.maint_result import PolicyError
from maintcore import inventory
from maintcore.config import atomic_write_json, maint_home, venv_bin
from maintcore.errors import INVALID_MESSAGE, InvalidInput, clip
from maintcore.store import Store, controller_id

from . import policy, schedule
from .orchestrator import exclusive_lock

EXIT_NAMES = {0: "ok", 1: "findings", 2: "invalid input", 3: "interrupted", 4: "client locked"}
# Slot claims older than the catch-up window plus this are deleted: no tick can see those slots due again.
CLAIMS_KEPT = dt.timedelta(days=2)


@dataclass
class Due:
    """The run one client gets from this tick."""

    client: str
    slots: list[schedule.Slot]
    tz: dt.tzinfo
    scan_only: bool = False
    areas: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """The ``maintctl run`` command line (an argument list: no shell)."""
        args = [venv_bin("maintctl"), "run", "--client", self.client, "--only", ",".join(self.areas), "--scheduled"]
        return args + (["--scan-only"] if self.scan_only else [])

    def describe(self) -> str:
        """One line: which entries, at what local time."""
        when = ", ".join(f"{s.entry.key} {s.at.astimezone(self.tz):%a %Y-%m-%d %H:%M %Z}" for s in self.slots)
        note = " (patch scan only: window exception date)" if self.scan_only else ""
        return f"{self.client}: {','.join(self.areas)}{note} due for {when}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``tick`` subcommand."""
    parser = sub.add_parser("tick", help="start the scheduled runs that are due (from a timer, every few minutes)")
    parser.add_argument("--client", action="append", metavar="NAME", help="only this client (repeatable)")
    parser.add_argument("--catch-up", type=int, default=60, metavar="MINUTES",
                        help="start a missed slot only if it is at most this old (default 60)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="clients run at the same time (default 2)")
    parser.add_argument("--dry-run", action="store_true", help="show what is due; record nothing, start nothing")
    parser.set_defaults(func=run)


@dataclass
class Cycle:
    """A supervision cycle one client gets from this tick."""

    client: str
    kind: str  # probe | watch

    def argv(self) -> list[str]:
        """The ``maintctl probe|watch`` command line."""
        return [venv_bin("maintctl"), self.kind, "--client", self.client]


def _state_path(client: str) -> Path:
    return maint_home() / "schedule" / f"{client}.json"


def _read_state(client: str) -> dict[str, Any]:
    path = _state_path(client)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: unreadable schedule state ({exc}); delete it to start afresh") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: unreadable schedule state (not a mapping); delete it to start afresh")
    return data


def _last(state: dict[str, Any], key: str) -> dt.datetime | None:
    if key not in state:
        return None
    try:
        last: dt.datetime = maint_clock.parse_iso(state[key])
        return last
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{_state_path('?').parent}: unreadable {key} ({exc}); delete the file to start afresh"
                           ) from exc


def _last_tick(client: str) -> dt.datetime | None:
    return _last(_read_state(client), "last_tick")


def _slack(seconds: int) -> dt.timedelta:
    """How early a cycle's tick is still on time: a quarter of the interval, at most 15 s."""
    return dt.timedelta(seconds=min(seconds / 4, 15))


def due_cycles(pol: dict[str, Any], state: dict[str, Any], now: dt.datetime) -> list[str]:
    """Return the supervision cycles due at ``now`` (``probe``, ``watch``), given their last starts."""
    due = []
    for kind, seconds in schedule.cycles(pol).items():
        last = _last(state, f"last_{kind}")
        if last is None or last > now or now - last + _slack(seconds) >= dt.timedelta(seconds=seconds):
            due.append(kind)
    return due


def cycle_slot(now: dt.datetime, seconds: int) -> str:
    """The slot (ISO UTC) of a cycle of ``seconds`` started at ``now``: its interval's start on the clock."""
    epoch = int((now + _slack(seconds)).timestamp())
    return str(maint_clock.to_iso(dt.datetime.fromtimestamp(epoch - epoch % seconds, dt.UTC)))


def claim(store: Store, client: str, due: Due | None, kinds: list[str], pol: dict[str, Any],
          now: dt.datetime, controller: str) -> tuple[Due | None, list[str], list[str]]:
    """Claim the slots of a client's run and cycles; return what is still ours, and one line per slot skipped."""
    stamp = maint_clock.to_iso(now)
    lines: list[str] = []
    if due is not None:
        mine = []
        for slot in due.slots:
            holder = store.claim_slot(client, slot.entry.key, maint_clock.to_iso(slot.at), controller, stamp)
            if holder is None:
                mine.append(slot)
            else:
                lines.append(f"{client}: {slot.entry.key} {slot.at.astimezone(due.tz):%a %Y-%m-%d %H:%M %Z}"
                             f" skipped: claimed by {holder}")
        if len(mine) != len(due.slots):
            wanted = {area for slot in mine for area in slot.entry.areas}
            due = Due(client, mine, due.tz, areas=[a for a in due.areas if a in wanted]) if mine else None
            if due is not None and "patch" in wanted:
                windows = maint_window.from_policy(pol)
                due.scan_only = not any(windows.current(s.at) for s in mine if schedule.needs_window(s))
    intervals = schedule.cycles(pol)
    ours = []
    for kind in kinds:
        holder = store.claim_slot(client, kind, cycle_slot(now, intervals[kind]), controller, stamp)
        if holder is None:
            ours.append(kind)
        else:
            lines.append(f"{client}: {kind} skipped: claimed by {holder}")
    return due, ours, lines


def plan_client(client: str, now: dt.datetime, catch_up: dt.timedelta) -> Due | None:
    """Return the run due for ``client`` at ``now``, or None (InvalidInput for a bad policy)."""
    policy.require_valid(client)
    pol = inventory.load_policy(client)
    runs = schedule.from_policy(pol, AREAS)
    slots = list(schedule.iter_due(runs, _last_tick(client), now, catch_up))
    if not slots:
        return None
    wanted = {area for slot in slots for area in slot.entry.areas}
    due = Due(client, slots, runs.tz, areas=[a for a in AREAS if a in wanted])
    if "patch" in wanted:
        windows = maint_window.from_policy(pol)
        due.scan_only = not any(windows.current(s.at) for s in slots if schedule.needs_window(s))
    return due


def _execute(due: Due | Cycle) -> tuple[Due | Cycle, int, str]:
    proc = subprocess.run(due.argv(), capture_output=True, text=True, check=False)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if line.startswith(("run ", "maintctl:", "probe ", "watch "))]
    return due, proc.returncode, (lines[0] if lines else f"exit {proc.returncode}")


def _after_cycles(names: list[str]) -> None:
    """Escalate overdue alerts and flush each client's notification outbox (problems on stderr)."""
    from . import supervise

    with Store() as store:
        for name in names:
            try:
                pol = inventory.load_policy(name)
                for line in supervise.after_cycle(store, name, pol, supervise.Secrets(name)):
                    print(line, file=sys.stderr)
            except (PolicyError, OSError, ValueError) as exc:
                print(clip(f"{name}: notifications not flushed: {exc}"), file=sys.stderr)


def _deliver_reports(names: list[str], now: dt.datetime, dry_run: bool) -> int:
    """E-mail the previous month's report of each client whose delivery is due; return the failures.

    One client's failure (its policy, its report, the SMTP server) is one line on stderr and
    never stops the others'.
    """
    from maintreport import deliver

    wanted = []
    for name in names:
        try:
            pol = inventory.load_policy(name)
            if deliver.delivery_settings(pol, f"{name}/group_vars/all/policy.yml") is not None:
                wanted.append((name, pol))
        except (PolicyError, OSError, ValueError) as exc:
            print(clip(f"{name}: report not delivered: {exc}"), file=sys.stderr)
    if not wanted:
        return 0
    failures = 0
    with Store() as store:
        for name, pol in wanted:
            try:
                outcome = deliver.deliver_month(store, name, pol, now, dry_run=dry_run)
            except Exception as exc:  # noqa: BLE001 - one client's delivery never stops another's
                failures += 1
                print(clip(f"{name}: report not delivered: {type(exc).__name__}: {exc}"), file=sys.stderr)
                continue
            if outcome is not None:
                failures += outcome.failed
                print(outcome.line, file=sys.stderr if outcome.failed else sys.stdout)
    return failures


def _plan_all(names: list[str], now: dt.datetime, args: argparse.Namespace
              ) -> tuple[list[str], list[Due], list[Cycle], int]:
    """Under the dispatcher lock, plan each client, record its tick and claim its slots.

    Return (invalid clients, plans, cycles, clients whose claims the store failed).
    """
    invalid: list[str] = []
    plans: list[Due] = []
    cycles: list[Cycle] = []
    failed = 0
    with exclusive_lock("tick", "another maintctl tick is dispatching ({holder})"), contextlib.ExitStack() as stack:
        store = None if args.dry_run else stack.enter_context(Store())
        controller = controller_id()
        if store is not None:
            store.prune_claims(maint_clock.to_iso(now - dt.timedelta(minutes=args.catch_up) - CLAIMS_KEPT))
        for name in names:
            try:
                due = plan_client(name, now, dt.timedelta(minutes=args.catch_up))
                state = _read_state(name)
                pol = inventory.load_policy(name)
                kinds = due_cycles(pol, state, now)
            except PolicyError as exc:  # InvalidInput, or a window the policy got wrong
                invalid.append(name)
                print(f"{name}: skipped: {clip(exc, INVALID_MESSAGE)}", file=sys.stderr)
                continue
            except (OSError, ValueError, RecursionError, MemoryError) as exc:
                # Whatever one client's files do, the other clients still get their runs.
                invalid.append(name)
                print(clip(f"{name}: skipped: cannot be planned: {type(exc).__name__}: {exc}"), file=sys.stderr)
                continue
            if store is not None:
                stamp = maint_clock.to_iso(now)
                state.update({"last_tick": stamp}, **{f"last_{k}": stamp for k in kinds})
                atomic_write_json(_state_path(name), state)
                try:
                    due, kinds, lines = claim(store, name, due, kinds, pol, now, controller)
                except sqlite3.Error as exc:  # the store failed (on either engine): nothing of this client starts
                    failed += 1
                    print(clip(f"{name}: skipped: the store {store.location} failed: {exc}"), file=sys.stderr)
                    continue
                for line in lines:
                    print(line)
            cycles += [Cycle(name, kind) for kind in kinds]
            if due:
                plans.append(due)
    return invalid, plans, cycles, failed


def run(args: argparse.Namespace) -> int:
    """Dispatch the due runs and return the worst outcome (see the module's docstring)."""
    if args.catch_up < 1 or args.jobs < 1:
        raise InvalidInput("--catch-up and --jobs must be at least 1")
    names = args.client or inventory.clients()
    for name in names:
        inventory.client_dir(name)
    now = maint_clock.now()
    invalid, plans, cycles, store_failed = _plan_all(sorted(set(names)), now, args)
    for due in plans:
        print(("would start " if args.dry_run else "starting ") + due.describe())
    for cycle in cycles:
        print(("would start " if args.dry_run else "starting ") + f"{cycle.client}: {cycle.kind}")
    if not plans and not cycles:
        print(f"nothing due at {maint_clock.to_iso(now)}")
    codes = []
    if not args.dry_run and (plans or cycles):
        # Cycles are short and must not wait behind a long run: they get their own pool.
        with ThreadPoolExecutor(max_workers=args.jobs) as pool, \
                ThreadPoolExecutor(max_workers=max(2, args.jobs)) as fast:
            cycle_jobs = fast.map(_execute, cycles)
            run_jobs = pool.map(_execute, plans)
            for job, code, line in cycle_jobs:
                if code == 4:
                    print(f"{job.client}: {getattr(job, 'kind', 'run')} skipped: the previous one is still running")
                    continue
                codes.append(code)
                kind = getattr(job, "kind", "run")
                print(f"{job.client}: {kind} exit {code} ({EXIT_NAMES.get(code, 'error')}): {line}")
            for job, code, line in run_jobs:
                codes.append(code)
                print(f"{job.client}: exit {code} ({EXIT_NAMES.get(code, 'error')}): {line}")
    if not args.dry_run:
        _after_cycles(sorted({c.client for c in cycles} | {d.client for d in plans}))
    # after the runs: a run started before midnight belongs to the month delivered
    failed = _deliver_reports([n for n in sorted(set(names)) if n not in invalid], now, args.dry_run)
    if invalid or 2 in codes:
        return 2
    return 1 if any(codes) or failed or store_failed else 0
