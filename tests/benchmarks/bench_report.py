"""Benchmark of the monthly report on a generated store: 10,000 hosts x 30 checks.

Not collected by pytest (the file name does not start with ``test_``); run it with
``make bench`` or ``python tests/benchmarks/bench_report.py [--hosts N] [--checks N]``.

The store holds one run in the previous month (for the trends) and one run (``--runs N``:
N weekly runs) in the reported month, each with one result per host and check (about 5 %
warnings and 1 % criticals, disk free space on every host, a few changes). The report (JSON + HTML, the
default formats) is built in a fresh process, so its peak memory (ru_maxrss of that child)
is the report's alone; then the PDF (the print variant: first page, bounded lists, the appendix of
what is not ok) is built and rendered by weasyprint in another fresh process, timed and measured
the same way, and quoted as a ratio of the JSON + HTML time of the same run. The figures are
printed and written as JSON to ``$MAINT_HOME/bench/report.json`` (or ``--out``). Results go to
reports/README.md, "Report benchmark".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
import sys, time, json, resource
from pathlib import Path
from maintcore.store import Store
from maintreport import api
t0 = time.perf_counter()
with Store(Path(sys.argv[1])) as store:
    paths = api.write_report(store, "bench", period="2026-11", formats=tuple(sys.argv[3].split(",")),
                             out_dir=Path(sys.argv[2]))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t0, "sizes": {k: p.stat().st_size for k, p in paths.items()},
                  "peak_mib": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime}))
"""


def pdf_pages(path: Path) -> int | None:
    """The PDF's page count (pdfinfo from poppler-utils), None when pdfinfo is missing."""
    try:
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in info.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    return None


def child(home: Path, env: dict[str, str], formats: str) -> tuple[dict[str, Any], float]:
    """Build the report in a fresh process; return what it measured and the wall time with interpreter start."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(home / "store.db"), str(home / "out"), formats],
                         env=env, check=True, capture_output=True, text=True)
    measured: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return measured, time.perf_counter() - t0


def main() -> int:
    """Generate the store, build the report in a child process, print time and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=30)
    parser.add_argument("--runs", type=int, default=1, help="runs in the reported month (default 1)")
    parser.add_argument("--out", type=Path, help="JSON record (default $MAINT_HOME/bench/report.json)")
    args = parser.parse_args()
    from maintcore.config import atomic_write_json, ensure_dir, maint_home

    record_path = args.out or ensure_dir(maint_home() / "bench") / "report.json"  # before MAINT_HOME moves
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
        full, wall = child(home, env, "json,html")
        pdf, pdf_wall = child(home, env, "pdf")
        pages = pdf_pages(home / "out" / "report.pdf")
        per_period = args.hosts * args.checks * args.runs
        load = os.getloadavg()[0]
        print(f"store: {results} results generated in {gen:.1f} s ({per_period} in the reported month)")
        print(f"report (json+html): {full['seconds']:.2f} s in the builder, {wall:.2f} s with interpreter start,"
              f" {full['cpu']:.2f} s CPU (load average {load:.1f}: other work on the machine slows the wall time)")
        print(f"peak memory of the report process: {full['peak_mib']:.0f} MiB")
        print("sizes: " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in full["sizes"].items()))
        ratio = pdf["seconds"] / full["seconds"]
        print(f"report (pdf, print variant): {pdf['seconds']:.2f} s in the builder ({ratio:.2f} x the json+html"
              f" time of this run), {pdf['cpu']:.2f} s CPU ({pdf['cpu'] / full['cpu']:.2f} x), peak memory {pdf['peak_mib']:.0f} MiB"
              f" ({pdf['peak_mib'] / full['peak_mib']:.2f} x), {pages} pages, {pdf['sizes']['pdf'] / 2**10:.0f} KiB")
        record = {
            "hosts": args.hosts, "checks": args.checks, "runs": args.runs, "results_in_month": per_period,
            "load_average": load, "generate_seconds": round(gen, 2),
            "json_html": {"seconds": round(full["seconds"], 2), "wall_seconds": round(wall, 2),
                          "cpu_seconds": round(full["cpu"], 2), "peak_mib": round(full["peak_mib"], 1),
                          "bytes": full["sizes"]},
            "pdf": {"seconds": round(pdf["seconds"], 2), "wall_seconds": round(pdf_wall, 2),
                    "cpu_seconds": round(pdf["cpu"], 2), "peak_mib": round(pdf["peak_mib"], 1),
                    "bytes": pdf["sizes"]["pdf"], "pages": pages},
            "pdf_over_json_html": {"seconds": round(ratio, 3), "cpu": round(pdf["cpu"] / full["cpu"], 3),
                                   "peak_memory": round(pdf["peak_mib"] / full["peak_mib"], 3)},
        }
        atomic_write_json(record_path, record)
        print(f"record: {record_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
