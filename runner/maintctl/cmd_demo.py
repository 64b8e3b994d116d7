"""``maintctl demo``: lab up, a full maintenance window on the demo client, then its report."""

from __future__ import annotations

import argparse

from maint_utils import maint_clock
from maint_utils.checks import AREAS
from maintcore.store import Store

from . import doctor, lab
from .orchestrator import RunRequest
from .progress import execute_with_progress


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` subcommand."""
    parser = sub.add_parser("demo", help="start the lab, run a full maintenance window on it, write the report")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Bring the lab up, run every area on the demo client and write its report."""
    from maintreport.api import write_report

    # The controller's prerequisites first; lab.up checks the lab's own before it starts.
    doctor.require(("controller",), print, "maintctl demo")
    lab.up(print)
    with Store() as store:
        # The demo runs whenever you start it, so it ignores the window on purpose
        # (and says so); scheduled runs honour it.
        print("demo: running every area on client 'demo' (--ignore-window: the demo may run at any hour)")
        req = RunRequest(client="demo", areas=list(AREAS), ignore_window=True, kind="scheduled")
        outcome = execute_with_progress(req, store)
        print(f"run {outcome.run_id}: {outcome.status}, {len(outcome.results)} results")
        paths = write_report(store, "demo", run_id=outcome.run_id, formats=("html", "json"))
        period = f"{maint_clock.now():%Y-%m}"
        monthly = write_report(store, "demo", period=period, formats=("html", "json", "md"))
    for fmt, path in {**paths, **{f"monthly {k}": v for k, v in monthly.items()}}.items():
        print(f"report ({fmt}): {path}")
    # The demo succeeds when it produced its report; findings are the point of the demo.
    return 0
