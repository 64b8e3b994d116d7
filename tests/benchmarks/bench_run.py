"""Benchmark of real runs on the lab: wall time per area, and tasks run per host.

Not collected by pytest (the file name does not start with ``test_``). Start the lab
first, then run it with ``make bench-run`` or
``python tests/benchmarks/bench_run.py [--client demo] [--areas hardware,antivirus] [--repeat 3]``.

Each area runs ``--repeat`` times through ``maintctl run`` (patch with ``--scan-only``, so
nothing is installed). Results go to a throw-away store (``MAINT_STORE``), so the client's
monthly report is not touched; the run folders stay in ``$MAINT_HOME/runs/<client>`` like
any run's. From each run's ansible-runner job events it counts, per host, the tasks that
really ran (ok, changed, failed or unreachable) and the ones skipped: Ansible costs about
0.2 s per host per task, so that count is what the roles keep low by gathering everything
in one module call. Results go to README.md, "Performance".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from maint_utils.checks import AREAS

ROOT = Path(__file__).resolve().parents[2]
MAINTCTL = str(Path(sys.executable).parent / "maintctl")
RAN = {"runner_on_ok", "runner_on_failed", "runner_on_unreachable"}


def run_once(client: str, area: str, env: dict[str, str]) -> tuple[float, Path, int]:
    """Run one area once; return (wall seconds, run folder, exit code)."""
    args = [MAINTCTL, "run", "--client", client, "--only", area]
    if area == "patch":
        args.append("--scan-only")
    started = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=1800)
    wall = time.monotonic() - started
    found = re.search(r"^results: (.+)/results\.jsonl$", proc.stdout, re.MULTILINE)
    if proc.returncode not in (0, 1) or not found:
        sys.exit(f"bench_run: maintctl run --only {area} exited {proc.returncode}: "
                 f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    return wall, Path(found.group(1)), proc.returncode


def task_counts(run_dir: Path) -> tuple[Counter[str], Counter[str]]:
    """Per host: tasks that ran, tasks skipped (from the runner's job events)."""
    ran: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for path in (run_dir / "artifacts").glob("*/job_events/*.json"):
        event = json.loads(path.read_text(encoding="utf-8"))
        host = (event.get("event_data") or {}).get("host")
        if not host:
            continue
        if event.get("event") in RAN:
            ran[host] += 1
        elif event.get("event") == "runner_on_skipped":
            skipped[host] += 1
    return ran, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", default="demo")
    parser.add_argument("--areas", default=",".join(AREAS))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        env = dict(os.environ, MAINT_STORE=str(Path(tmp) / "store.db"))
        for area in args.areas.split(","):
            walls, ran, skipped = [], Counter[str](), Counter[str]()
            for _ in range(args.repeat):
                wall, run_dir, _code = run_once(args.client, area, env)
                walls.append(wall)
                ran, skipped = task_counts(run_dir)
            hosts = len(ran)
            rows.append((area, hosts, statistics.median(walls), min(walls), max(walls),
                         max(ran.values(), default=0), min(ran.values(), default=0),
                         max(skipped.values(), default=0)))
            print(f"{area}: median {rows[-1][2]:.1f} s over {args.repeat} runs, {hosts} hosts", file=sys.stderr)
    print("| area | hosts | wall median (min-max) | tasks run per host (max / min) | skipped per host (max) |")
    print("|---|---|---|---|---|")
    for area, hosts, median, low, high, most, least, skip in rows:
        print(f"| {area} | {hosts} | {median:.1f} s ({low:.1f}-{high:.1f}) | {most} / {least} | {skip} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
