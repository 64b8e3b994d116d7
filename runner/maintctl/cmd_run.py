"""``maintctl run``: run the maintenance roles on one client's hosts, or on every client (``--all``).

``--all`` is :mod:`maintctl.run_all`: one ``maintctl run --client NAME`` process per client,
``--jobs`` at a time, and a summary table.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from maint_utils.checks import AREAS
from maintcore.errors import InvalidInput
from maintcore.store import Store

from . import orchestrator, run_all, worker
from .orchestrator import RunRequest
from .progress import execute_with_progress


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``run`` subcommand."""
    parser = sub.add_parser(
        "run", help="run maintenance on one client's hosts, or on every client (--all)",
        epilog="--all runs each client in its own 'maintctl run --client NAME' process, --jobs at a time, "
               "and exits with the worst of their codes: any invalid input 2, else any interrupted or "
               "timed out 3, else any findings 1, else any client locked 4, else 0.")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--client", help="client (inventory) name")
    who.add_argument("--all", action="store_true",
                     help="every client, each in its own process (not with --resume, --worker, --limit, --var, "
                          "--ignore-window, --scheduled)")
    parser.add_argument("--only", metavar="AREAS", help="comma-separated: " + ",".join(AREAS))
    parser.add_argument("--limit", metavar="PATTERN", help="Ansible host pattern to restrict the run")
    parser.add_argument("--check", action="store_true", help="check mode: change nothing, only look")
    parser.add_argument("--scan-only", action="store_true", help="scan for patches without installing them")
    parser.add_argument("--ignore-window", action="store_true",
                        help="install patches even outside the client's maintenance window")
    parser.add_argument("--scheduled", action="store_true", help="mark the run as a scheduled window run")
    parser.add_argument("--resume", metavar="RUN_ID",
                        help="run again what an interrupted run left undone (on the worker that run used, "
                             "unless --worker or --no-worker)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--worker", metavar="COMMAND",
                       help="run on another machine: a command that starts 'ansible-runner worker' there, e.g. "
                            "'ssh -T maint@site-b ansible-runner worker --delete' (split, never run by a shell)")
    where.add_argument("--no-worker", action="store_true",
                       help="with --resume: not on the interrupted run's worker (the client's policy may still "
                            "name one)")
    parser.add_argument("--var", action="append", metavar="NAME=VALUE",
                        help="set a role input for this run, e.g. backup_seed=1234 to replay a sample")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="with --all: clients run at the same time (default min(4, CPUs, clients))")
    parser.add_argument("--timeout-per-client", type=float, metavar="MIN",
                        help="with --all: end a client's run after MIN minutes, reported as timeout "
                             f"(default {run_all.DEFAULT_TIMEOUT_MINUTES:g}; 0: none)")
    parser.add_argument("--due", action="store_true",
                        help="with --all: only the clients 'maintctl tick' would find due now, "
                             "their due areas unless --only (the tick is not recorded)")
    parser.set_defaults(func=run)


def request_from(args: argparse.Namespace, store: Store) -> RunRequest:
    """Build the run request, reusing an interrupted run's options with --resume."""
    req = RunRequest(
        client=args.client, areas=orchestrator.parse_areas(args.only), limit=args.limit, check=args.check,
        scan_only=args.scan_only, ignore_window=args.ignore_window,
        kind="scheduled" if args.scheduled else "adhoc", role_vars=orchestrator.parse_role_vars(args.var),
        worker=worker.parse_worker(args.worker),
    )
    if args.resume:
        old = store.run(args.resume)
        if not old or old["client"] != args.client:
            raise InvalidInput(f"--resume: no run {args.resume!r} for client {args.client!r}")
        if old["status"] != "interrupted":
            raise InvalidInput(f"--resume: run {args.resume} is {old['status']}, not interrupted")
        req.areas = old["areas"].split(",")
        req.limit = old["limit_hosts"]
        req.check = bool(old["check_mode"])
        req.kind = old["kind"]
        req.resume = args.resume
        if args.worker is None and not args.no_worker:
            req.worker = worker.parse_worker(worker_of(old))
    elif args.no_worker:
        raise InvalidInput("--no-worker goes with --resume")
    return req


def worker_of(run: dict[str, str]) -> str | None:
    """Return the ``--worker`` command a run went through (its run.json), None when it ran here.

    InvalidInput when run.json cannot tell: say --worker or --no-worker then.
    """
    meta = Path(run.get("run_dir") or "") / "run.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("worker"), (str, type(None))):
        raise InvalidInput(f"--resume: cannot tell whether run {run['run_id']} ran on a worker ({meta} "
                           "unreadable): add --worker COMMAND or --no-worker")
    found: str | None = data.get("worker")
    return found


def run(args: argparse.Namespace) -> int:
    """Run, show progress, print a summary and return the exit code."""
    if args.all:
        return run_all.run(args)
    if args.jobs is not None or args.timeout_per_client is not None or args.due:
        raise InvalidInput("--jobs, --timeout-per-client and --due go with --all")
    with Store() as store:
        outcome = execute_with_progress(request_from(args, store), store)
    counts = Counter(r["status"] for r in outcome.results)
    print(f"run {outcome.run_id}: {outcome.status}, {len(outcome.results)} results "
          f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items())) or 'none'})")
    for res in outcome.results:
        if res["status"] in ("critical", "warning"):
            print(f"  {res['status'].upper():8} {res['host']:<12} {res['check']} {res['item']}: {res['summary']}")
    print(f"results: {outcome.run_dir / 'results.jsonl'}")
    return outcome.exit_code
