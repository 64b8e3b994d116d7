"""Benchmark of ``maintctl run --all``: many small clients against one big client, same host count.

Not collected by pytest (the file name does not start with ``test_``). No lab: every host is this
machine, reached with ``ansible_connection: local`` under a distinct inventory name. Run it with
``python tests/benchmarks/bench_run_all.py [--clients 20] [--hosts 50] [--jobs 4] [--out FILE]``.

Two runs, in this order, each ``maintctl run --all --only hardware --check --jobs N`` on its own
inventories folder and a throw-away ``MAINT_HOME`` (its own store):

1. the fleet: ``--clients`` clients of ``--hosts`` hosts;
2. one client of ``clients × hosts`` hosts.

For each: the wall time, and the controller's peak memory, measured as the sum of the resident
set sizes (RSS) of the whole process tree under ``maintctl run --all`` (maintctl, each client's
``maintctl run``, ansible-playbook and its forks), sampled from ``/proc`` every 0.2 s, and the same sum of the proportional set sizes (PSS, from ``smaps_rollup``: pages
shared between forks counted once in all), which is nearer what the machine really gives. Beside it,
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: the largest single process so far (cumulative,
so the second run's figure is the larger of both). The ratios (fleet / big client) are printed and
the figures written as JSON to ``$MAINT_HOME/bench/run_all.json`` or ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MAINTCTL = str(Path(sys.executable).parent / "maintctl")
PAGE = os.sysconf("SC_PAGE_SIZE")

HOSTS = """\
all:
  hosts:
{hosts}
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
"""
POLICY = """\
maint_policy:
  client_name: {name}
  timezone: Europe/Paris
  windows: ["Mon-Sun 00:00-24:00"]
"""


def write_client(inv: Path, name: str, hosts: int) -> None:
    """A client of ``hosts`` distinct inventory names, all this machine (connection local)."""
    folder = inv / name / "group_vars" / "all"
    folder.mkdir(parents=True)
    lines = "\n".join(f"    {name}-h{i:04d}:\n      ansible_host: 127.0.0.1" for i in range(hosts))
    (inv / name / "hosts.yml").write_text(HOSTS.format(hosts=lines), encoding="utf-8")
    (folder / "policy.yml").write_text(POLICY.format(name=name), encoding="utf-8")


def _pss(pid: int) -> int:
    """Proportional set size (bytes) of one process: shared pages split between their sharers."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss(root: int) -> tuple[int, int]:
    """Sums of the RSS and of the PSS (bytes) of ``root`` and every descendant, read from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(entry.name)
        parents[pid] = int(stat[1])  # fields after the command: state, ppid, ...
        rss[pid] = int(stat[21]) * PAGE  # rss in pages (field 24 of stat)
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(kids)
        frontier += kids
    return sum(rss.get(pid, 0) for pid in tree), sum(_pss(pid) for pid in tree)


def measure(inv: Path, home: Path, jobs: int) -> dict[str, Any]:
    """One ``maintctl run --all``: wall seconds, peak tree RSS, exit code, the summary's last line."""
    env = dict(os.environ, MAINT_HOME=str(home), MAINT_INVENTORIES=str(inv), MAINT_VAULT_DIR=str(home / "vault"))
    env.pop("MAINT_STORE", None)
    argv = [MAINTCTL, "run", "--all", "--only", "hardware", "--check", "--jobs", str(jobs),
            "--timeout-per-client", "120"]
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, peak_pss, samples = 0, 0, 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_pss, samples
        while not stop.is_set():
            rss, pss = tree_rss(proc.pid)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            samples += 1
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, _ = proc.communicate(timeout=7200)
    finally:
        stop.set()
        sampler.join()
        if proc.poll() is None:
            proc.terminate()  # run --all ends every child's group on SIGTERM
            proc.wait(timeout=60)
    wall = time.monotonic() - started
    lines = out.strip().splitlines()
    head = next((i for i, line in enumerate(lines) if line.split()[:3] == ["client", "exit", "meaning"]), len(lines))
    return {"wall_s": round(wall, 2), "peak_tree_rss_mb": round(peak / 2**20, 1),
            "peak_tree_pss_mb": round(peak_pss / 2**20, 1), "rss_samples": samples,
            "largest_process_mb_so_far": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            "exit": proc.returncode, "summary": lines[head:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=50, help="hosts per client")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--out", type=Path, help="JSON file (default $MAINT_HOME/bench/run_all.json)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "runner"))
    from maintcore.config import maint_home

    out_file = args.out or maint_home() / "bench" / "run_all.json"
    total = args.clients * args.hosts
    with tempfile.TemporaryDirectory(prefix="bench-run-all-") as tmp:
        fleet_inv, big_inv = Path(tmp) / "fleet", Path(tmp) / "big"
        for i in range(args.clients):
            write_client(fleet_inv, f"c{i:02d}", args.hosts)
        write_client(big_inv, "big", total)
        print(f"fleet: {args.clients} clients x {args.hosts} hosts, --jobs {args.jobs}", file=sys.stderr)
        fleet = measure(fleet_inv, Path(tmp) / "home-fleet", args.jobs)
        print("  " + "\n  ".join(fleet["summary"]), file=sys.stderr)
        print(f"big: 1 client x {total} hosts, --jobs {args.jobs}", file=sys.stderr)
        big = measure(big_inv, Path(tmp) / "home-big", args.jobs)
        print("  " + "\n  ".join(big["summary"]), file=sys.stderr)
    report = {
        "machine": {"cpus": os.cpu_count()},
        "memory_measure": "peak of the summed RSS (and PSS) of the maintctl run --all process tree, sampled "
                          "from /proc every 0.2 s; largest_process_mb_so_far is getrusage(RUSAGE_CHILDREN).ru_maxrss "
                          "(cumulative over this benchmark)",
        "fleet": {"clients": args.clients, "hosts_per_client": args.hosts, "jobs": args.jobs, **fleet},
        "big": {"clients": 1, "hosts_per_client": total, "jobs": args.jobs, **big},
        "ratios": {"wall_fleet_over_big": round(fleet["wall_s"] / big["wall_s"], 2) if big["wall_s"] else None,
                   "memory_fleet_over_big": round(fleet["peak_tree_rss_mb"] / big["peak_tree_rss_mb"], 2)
                   if big["peak_tree_rss_mb"] else None,
                   "pss_fleet_over_big": round(fleet["peak_tree_pss_mb"] / big["peak_tree_pss_mb"], 2)
                   if big["peak_tree_pss_mb"] else None},
    }
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("| run | hosts | wall | peak tree RSS | peak tree PSS | exit |\n|---|---|---|---|---|---|")
    for label, fig in ((f"{args.clients} clients x {args.hosts}, --jobs {args.jobs}", fleet), (f"1 client x {total}", big)):
        print(f"| {label} | {total} | {fig['wall_s']:.1f} s | {fig['peak_tree_rss_mb']:.0f} MB | "
              f"{fig['peak_tree_pss_mb']:.0f} MB | {fig['exit']} |")
    ratios = report["ratios"]
    print(f"ratios fleet/big: wall {ratios['wall_fleet_over_big']}, RSS {ratios['memory_fleet_over_big']}, "
          f"PSS {ratios['pss_fleet_over_big']}; JSON: {out_file}")
    return 0 if fleet["exit"] in (0, 1) and big["exit"] in (0, 1) else 1


if __name__ == "__main__":
    raise SystemExit(main())
