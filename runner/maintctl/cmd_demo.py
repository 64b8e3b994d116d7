"""``maintctl demo``: lab up, a full maintenance window on the demo client, then its report.

A lab already up and healthy (``make lab``, an earlier demo) is reused rather than set up again
(about a minute): every host and worker node running and answering SSH, its host key recorded
since it started (so its fixtures, laid down after the keys, are still there). Anything else runs
``maintctl lab up`` as before.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

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


def not_ready(rows: Sequence[Mapping[str, str]], known_hosts: str | None, started: Mapping[str, float | None],
              recorded_at: float | None) -> str | None:
    """Say why the lab cannot be reused as it is, or None when it is up and healthy.

    ``rows`` are :func:`maintctl.lab.status` (state and SSH of every host and worker node),
    ``known_hosts`` the host keys ``lab up`` recorded (None: no file), written at ``recorded_at``
    (epoch seconds), ``started`` each container's start time (None: unknown). A container started
    after the keys were recorded restarted since: its fixtures (tmpfs) may be gone.
    """
    if not rows:
        return "the lab has no host"
    for row in rows:
        if row.get("state") != "running":
            return f"{row.get('host')} is {row.get('state')}"
        if row.get("ssh") != "yes":
            return f"{row.get('host')} does not answer SSH"
    if known_hosts is None or recorded_at is None:
        return "no host key recorded"
    recorded = {line.split()[0] for line in known_hosts.splitlines() if line.strip() and not line.startswith("#")}
    for row in rows:
        if row.get("ip") not in recorded:
            return f"no host key recorded for {row.get('host')}"
        when = started.get(str(row.get("host")))
        if when is None:
            return f"start time of {row.get('host')} unknown"
        if when > recorded_at:
            return f"{row.get('host')} restarted since the lab was set up"
    return None


def _started_at(name: str) -> float | None:
    proc = lab.podman("container", "inspect", "--format", "{{.State.StartedAt.Unix}}", lab.PREFIX + name, check=False)
    try:
        return float(proc.stdout.strip()) if proc.returncode == 0 else None
    except ValueError:
        return None


def lab_not_ready() -> str | None:
    """Look at the running lab: why it cannot be reused, or None (see :func:`not_ready`)."""
    rows = lab.status()
    known: Path = lab.lab_home() / "ssh" / "known_hosts"
    try:
        text: str | None = known.read_text(encoding="utf-8")
        recorded_at: float | None = known.stat().st_mtime
    except OSError:
        text, recorded_at = None, None
    started = {row["host"]: _started_at(row["host"]) for row in rows if row.get("state") == "running"}
    return not_ready(rows, text, started, recorded_at)


def ensure_lab() -> None:
    """Reuse the lab when it is up and healthy, else bring it up (``maintctl lab up``)."""
    reason = lab_not_ready()
    if reason is None:
        doctor.require(("lab",), print, "maintctl demo")  # what lab up checks first, checked all the same
        lab.install_demo_vault_password()
        print("demo: the lab is up and healthy (every host answers SSH, none restarted since its set-up): "
              "reusing it ('maintctl lab up' sets it up again)")
        return
    print(f"demo: starting the lab ({reason})")
    lab.up(print)


def run(args: argparse.Namespace) -> int:
    """Bring the lab up (or reuse it), run every area on the demo client and write its report."""
    from maintreport.api import write_report

    # The controller's prerequisites first; lab.up checks the lab's own before it starts.
    doctor.require(("controller",), print, "maintctl demo")
    ensure_lab()
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
