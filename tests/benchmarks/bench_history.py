"""Benchmark of ``maintctl history`` on a big store: 10,000 hosts x 30 checks x 60 runs (18 M results).

Not collected by pytest (the file name does not start with ``test_``). Run it with
``python tests/benchmarks/bench_history.py [--hosts 1000] [--checks 30] [--runs 60] [--repeat 7]``.

The store is built in a temporary folder with plain SQL (``executemany`` in batches, the results
indexes dropped during the load and made again by the schema afterwards; the build time is printed
apart): nightly runs covering every host, about 5 % of results not ok in stretches (so each key
changes status a few times), a few changes made, an alert per critical stretch (opened, some
acknowledged, resolved by the next ok) and an intervention for one host in ten.

Then, for one host, the median of ``--repeat`` calls of each (page cache warm):

* references: ``SELECT COUNT(*)`` of the host's results through the index (index only), and
  ``SELECT id, status`` of them (every row read);
* ``maintcore.history.timeline`` for the host: all of it, its last 30 days (``since``), and
  ``--check 'hardware.*'``;
* ``maintctl history --client bench --host H --format json --limit 0`` end to end (a new process:
  Python, imports, the policy read, the query, JSON out), against ``maintctl history --help``.

The figures are printed and written as JSON to ``$MAINT_HOME/bench/history.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from maintcore import history
from maintcore.config import atomic_write_json, ensure_dir, maint_home
from maintcore.store import INSERT_RESULT, SCHEMA, Store

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CLIENT = "bench"
AREAS = ("hardware", "antivirus", "backup", "patch")
START = dt.datetime(2026, 9, 1, 20, 0, tzinfo=dt.UTC)
BATCH = 100_000


def iso(value: dt.datetime) -> str:
    """ISO UTC with a Z, as the store keeps times."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_ids(count: int) -> list[str]:
    """``count`` check ids over the four areas (``run.reachability`` first)."""
    return ["run.reachability"] + [f"{AREAS[i % len(AREAS)]}.check_{i:02d}" for i in range(count - 1)]


def status_of(run: int, host: int, check: int) -> str:
    """Not ok for 2 runs in 40, per key, at a phase of its own: a few transitions per key."""
    if (run + host * 7 + check * 13) % 40 >= 2:
        return "ok"
    return "critical" if check % 3 == 0 else "warning"


def build(path: Path, hosts: int, checks: int, runs: int) -> dict[str, Any]:
    """Fill a store; return how many rows of each kind and how long the load and the indexes took."""
    Store(path).close()   # the schema, as maintctl makes it
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    indexes = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='results' AND sql IS NOT NULL")]
    for name in indexes:
        db.execute(f"DROP INDEX {name}")
    ids = check_ids(checks)
    names = [f"host{h:05d}" for h in range(hosts)]
    summaries = {(c, s): f"{c} {s}" for c in ids for s in ("ok", "warning", "critical")}
    severity = {"ok": None, "warning": "P3", "critical": "P2"}
    open_alerts: dict[tuple[int, int], int] = {}
    alerts: list[list[Any]] = []
    events: list[tuple[Any, ...]] = []
    counts = {"results": 0}
    started = time.monotonic()

    def rows(run: int, run_id: str, stamp: str, first_id: int) -> Iterator[tuple[Any, ...]]:
        rid = first_id
        for h, host in enumerate(names):
            for c, check in enumerate(ids):
                status = status_of(run, h, c)
                changed = int(check.startswith("patch.") and (run + h) % 20 == 0)
                yield (rid, run_id, CLIENT, host, check, check.split(".", 1)[0], "", status, severity[status],
                       summaries[(check, status)], "{}", "{}", "", changed, stamp, stamp)
                key = (h, c)
                if status == "critical" and key not in open_alerts:
                    alert_id = len(alerts) + 1
                    open_alerts[key] = alert_id
                    alerts.append([alert_id, CLIENT, host, check, "", "open", "critical", "P2",
                                   summaries[(check, status)], stamp, rid])
                    events.append((alert_id, stamp, "opened", None, None, "critical", "P2", rid))
                    if h % 2 == 0:
                        events.append((alert_id, stamp.replace("T20:", "T21:"), "acknowledged", "alice",
                                       "on it", None, None, None))
                elif status == "ok" and key in open_alerts:
                    alert_id = open_alerts.pop(key)
                    alerts[alert_id - 1][5] = "resolved"
                    alerts[alert_id - 1].append((stamp, rid))
                    events.append((alert_id, stamp, "resolved", None, summaries[(check, status)], "ok", None, rid))
                rid += 1

    insert = INSERT_RESULT.replace("INSERT INTO results (", "INSERT INTO results (id, ").replace("VALUES (", "VALUES (?, ")
    next_id = 1
    for run in range(runs):
        stamp = iso(START + dt.timedelta(days=run))
        run_id = f"bench-{run:03d}"
        db.execute("INSERT INTO runs (run_id, client, kind, areas, started, finished, status, exit_code, hosts_total)"
                   " VALUES (?,?,?,?,?,?,?,?,?)",
                   (run_id, CLIENT, "scheduled", ",".join(AREAS), stamp, stamp, "completed", 1, hosts))
        source = rows(run, run_id, stamp, next_id)
        while True:
            batch = [row for _, row in zip(range(BATCH), source, strict=False)]
            if not batch:
                break
            db.executemany(insert, batch)
            counts["results"] += len(batch)
        next_id += hosts * len(ids)
        db.commit()
        print(f"\r  run {run + 1}/{runs}: {counts['results']:,} results", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    db.executemany("INSERT INTO hosts (client, host, first_seen, last_seen) VALUES (?,?,?,?)",
                   [(CLIENT, host, iso(START), iso(START + dt.timedelta(days=runs - 1))) for host in names])
    db.executemany(
        "INSERT INTO alerts (id, client, host, check_id, item, state, status, severity, summary, opened,"
        " opened_result, resolved, resolved_result) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(*a[:11], *(a[11] if len(a) > 11 else (None, None))) for a in alerts])
    db.executemany("INSERT INTO alert_events (alert_id, at, kind, who, note, status, severity, result_id)"
                   " VALUES (?,?,?,?,?,?,?,?)", events)
    db.executemany(
        "INSERT INTO interventions (client, host, kind, summary, minutes, at, who, alert_id, created)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        [(CLIENT, a[2], "corrective", f"replaced what alert {a[0]} found", 45, a[9].replace("T20:", "T22:"),
          "bob", a[0], a[9]) for a in alerts if int(a[2][4:]) % 10 == 0])
    db.commit()
    loaded = time.monotonic() - started
    db.executescript(SCHEMA)   # the dropped indexes, made again as maintctl makes them
    db.commit()
    indexed = time.monotonic() - started - loaded
    db.close()
    return {"results": counts["results"], "alerts": len(alerts), "alert_events": len(events),
            "load_seconds": round(loaded, 1), "index_seconds": round(indexed, 1)}


def median_of(repeat: int, func: Callable[[], object]) -> tuple[float, object]:
    """Median wall time of ``repeat`` calls (after one warm-up call), and the last value."""
    value = func()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - began)
    return statistics.median(times), value


def write_client(inv: Path) -> None:
    """A one-host inventory for the client, enough for ``maintctl history`` (which reads its timezone)."""
    (inv / CLIENT / "group_vars" / "all").mkdir(parents=True)
    (inv / CLIENT / "hosts.yml").write_text("all:\n  hosts:\n    host00000:\n      ansible_host: 127.0.0.1\n")
    (inv / CLIENT / "group_vars" / "all" / "policy.yml").write_text(
        "maint_policy:\n  client_name: Bench\n  timezone: Europe/Paris\n  windows: ['Mon-Fri 20:00-06:00']\n")


def main() -> int:
    """Build the store, time the history of one host, print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=30)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--tmp", type=Path, help="where to build the store (default: the system's temp folder)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-history-", dir=args.tmp) as scratch:
        path = Path(scratch) / "store.db"
        print(f"building {args.hosts:,} hosts x {args.checks} checks x {args.runs} runs in {path}", file=sys.stderr)
        began = time.monotonic()
        built = build(path, args.hosts, args.checks, args.runs)
        built["build_seconds"] = round(time.monotonic() - began, 1)
        built["store_bytes"] = path.stat().st_size
        host = f"host{args.hosts // 2:05d}"
        since = iso(START + dt.timedelta(days=args.runs - 30))
        store = Store(path)
        plan = [row[3] for row in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT id, status FROM results WHERE client=? AND host=?", (CLIENT, host))]
        timings: dict[str, float] = {}
        figures: dict[str, Any] = {}
        for name, func in (
            ("ref_count_index", lambda: store.db.execute(
                "SELECT COUNT(*) FROM results WHERE client=? AND host=?", (CLIENT, host)).fetchone()[0]),
            ("ref_read_rows", lambda: len(store.db.execute(
                "SELECT id, status FROM results WHERE client=? AND host=?", (CLIENT, host)).fetchall())),
            ("timeline_all", lambda: len(history.timeline(store, CLIENT, host))),
            ("timeline_30_days", lambda: len(history.timeline(store, CLIENT, host, since=since))),
            ("timeline_check_hardware", lambda: len(history.timeline(store, CLIENT, host, check="hardware.*"))),
            ("timeline_limit_50", lambda: len(history.timeline(store, CLIENT, host, limit=50))),
        ):
            seconds, value = median_of(args.repeat, func)
            timings[name] = round(seconds, 5)
            figures[name] = value
        store.close()
        inv = Path(scratch) / "inventories"
        write_client(inv)
        env = {**os.environ, "MAINT_STORE": str(path), "MAINT_INVENTORIES": str(inv),
               "MAINT_HOME": str(Path(scratch) / "home")}
        cli = [str(BIN / "maintctl"), "history", "--client", CLIENT]
        for name, argv in (("cli_help", [*cli, "--help"]),
                           ("cli_history_host", [*cli, "--host", host, "--format", "json", "--limit", "0"])):
            def child(argv: list[str] = argv) -> int:
                proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=600)
                if proc.returncode != 0:
                    sys.exit(f"bench_history: {' '.join(argv[1:])} exited {proc.returncode}: {proc.stderr.strip()}")
                return len(proc.stdout)
            seconds, value = median_of(args.repeat, child)
            timings[name] = round(seconds, 4)
            figures[name + "_bytes"] = value
    record = {
        "benchmark": "history", "date": iso(dt.datetime.now(dt.UTC)),
        "hosts": args.hosts, "checks": args.checks, "runs": args.runs, "host": host, "since": since,
        "build": built, "median_seconds": timings, "figures": figures, "plan": plan,
        "repeat": args.repeat, "sqlite": sqlite3.sqlite_version, "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    out = args.out or ensure_dir(maint_home() / "bench") / "history.json"
    atomic_write_json(out, record)
    print(f"store: {built['results']:,} results, {built['alerts']:,} alerts, {built['store_bytes'] / 1e9:.2f} GB; "
          f"built in {built['build_seconds']} s (load {built['load_seconds']} s, indexes {built['index_seconds']} s)")
    print(f"history of {host} (median of {args.repeat}, warm cache):")
    for name, seconds in timings.items():
        extra = f"  ({figures[name]} events)" if name.startswith("timeline") else ""
        print(f"  {name:<26} {seconds * 1000:9.2f} ms{extra}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
