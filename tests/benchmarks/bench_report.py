"""Benchmark of the monthly report on a generated store: 10,000 hosts x 30 checks.

Not collected by pytest (the file name does not start with ``test_``); run it with
``make bench`` or ``python tests/benchmarks/bench_report.py [--hosts N] [--checks N]``.

The store holds one run in the previous month (for the trends) and one run (``--runs N``:
N weekly runs) in the reported month, each with one result per host and check (about 5 %
warnings and 1 % criticals, disk free space on every host, a few changes). The report (JSON + HTML, the
default formats) is built in a fresh process, so its peak memory (ru_maxrss of that child)
is the report's alone. Results go to reports/README.md, "Report benchmark".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from maint_utils.checks import AREAS

ROOT = Path(__file__).resolve().parents[2]


def runs_for(count: int) -> list[tuple[str, str]]:
    """One run in the previous month, then ``count`` weekly runs in the reported month."""
    return [("bench-prev", "2026-10-12T20:00:00Z")] + [
        (f"bench-{i + 1}", f"2026-11-{2 + 7 * i:02d}T20:00:00Z") for i in range(count)
    ]


def generate(db: Path, hosts: int, checks: int, runs: int) -> int:
    """Fill a store with RUNS x hosts x checks results; return the number of results."""
    from maintcore.store import Store

    rnd = random.Random(42)
    check_ids = ["run.reachability", "hardware.disk_free"] + [
        f"{AREAS[i % len(AREAS)]}.check_{i:02d}" for i in range(checks - 2)
    ]
    total = 0
    with Store(db) as store:
        for run_id, started in runs_for(runs):
            store.start_run({"run_id": run_id, "client": "bench", "areas": ",".join(AREAS), "started": started,
                             "hosts_total": hosts})
            batch = []
            for h in range(hosts):
                host = f"host{h:05d}"
                for check in check_ids:
                    roll = rnd.random()
                    status = "critical" if roll < 0.01 else "warning" if roll < 0.06 else "ok"
                    observed: dict[str, object] = {"value": round(rnd.random() * 100, 1)}
                    if check == "hardware.disk_free":
                        observed = {"free_pct": round(5 + rnd.random() * 80, 1), "size_bytes": 10**11}
                    batch.append({
                        "run_id": run_id, "client": "bench", "host": host, "check": check,
                        "item": "/" if check == "hardware.disk_free" else "", "status": status,
                        "severity": {"critical": "P2", "warning": "P3"}.get(status),
                        "summary": f"{check} on {host}: {status}", "observed": observed,
                        "threshold": {"warn": 20, "crit": 10}, "remediation": "Do the documented fix." if status != "ok"
                        else "", "changed": rnd.random() < 0.002, "started": started, "finished": started,
                    })
                if len(batch) >= 50_000:
                    total += store.add_results(batch)
                    batch = []
            total += store.add_results(batch)
            store.finish_run(run_id, "completed", 1, started)
    return total


CHILD = """
import sys, time, json
from pathlib import Path
from maintcore.store import Store
from maintreport import api
t0 = time.perf_counter()
with Store(Path(sys.argv[1])) as store:
    paths = api.write_report(store, "bench", period="2026-11", formats=("json", "html"), out_dir=Path(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - t0, "sizes": {k: p.stat().st_size for k, p in paths.items()}}))
"""


def main() -> int:
    """Generate the store, build the report in a child process, print time and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=30)
    parser.add_argument("--runs", type=int, default=1, help="runs in the reported month (default 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maint-bench-") as tmp:
        home = Path(tmp)
        inv = home / "inventories" / "bench" / "group_vars" / "all"
        inv.mkdir(parents=True)
        (inv.parents[1] / "hosts.yml").write_text("all:\n  hosts: {}\n", encoding="utf-8")
        (inv / "policy.yml").write_text(
            "maint_policy:\n  client_name: Bench Ltd\n  timezone: UTC\n  windows: ['Mon-Sun 00:00-24:00']\n"
            "  sla:\n    response_hours: {P1: 4, P2: 8, P3: 24, P4: 72}\n"
            "  report: {technician_rate: 80, staff_cost_per_hour: 40, staff_count: 20}\n", encoding="utf-8")
        env = {**os.environ, "MAINT_HOME": str(home), "MAINT_INVENTORIES": str(home / "inventories"),
               "MAINT_TEST_NOW": "2026-11-20T12:00:00Z"}
        os.environ.update(env)
        t0 = time.perf_counter()
        results = generate(home / "store.db", args.hosts, args.checks, args.runs)
        gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, str(home / "store.db"), str(home / "out")],
                             env=env, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        child = json.loads(out.stdout.strip().splitlines()[-1])
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mib = usage.ru_maxrss / 1024
        cpu = usage.ru_utime + usage.ru_stime
        per_period = args.hosts * args.checks * args.runs
        print(f"store: {results} results generated in {gen:.1f} s ({per_period} in the reported month)")
        print(f"report (json+html): {child['seconds']:.2f} s in the builder, {wall:.2f} s with interpreter start,"
              f" {cpu:.2f} s CPU (load average {os.getloadavg()[0]:.1f}: other work on the machine slows the wall time)")
        print(f"peak memory of the report process: {peak_mib:.0f} MiB")
        print("sizes: " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in child["sizes"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
