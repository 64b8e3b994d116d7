"""Benchmark of a check-only maintenance window against ``ansible -m ping`` over the same simulated hosts.

Not collected by pytest (the file name does not start with ``test_``). No lab: every host is this
machine, reached with ``ansible_connection: local`` under a distinct inventory name (the inventory of
``bench_run_all.write_client``), with ``ansible_python_interpreter: /usr/bin/python3`` set (no
interpreter discovery; the system Python has python3-apt). Run it with
``python tests/benchmarks/bench_window.py [--hosts 50,100,200] [--rounds 3] [--quick] [--out FILE]``.

In each round, for each host count, interleaved: the reference ``ansible all -m ansible.builtin.ping``
(same inventory, same forks as ``maintctl run``: ansible.cfg's), then the subject ``maintctl run
--client X --check --scan-only --only hardware,antivirus,patch`` (the window: no restore test, nothing
installed), then, at the ``--areas-at`` host count only, each area alone. Medians over the rounds are
printed as seconds, seconds per host (wall / hosts: the fixed start-up cost included, so the figure
falls as hosts grow when that cost is large) and ratios to ping of the same host count; flatness is
each host count's subject-per-host over that of the middle host count, and the marginal per-host cost
(the slope between the smallest and largest host counts) is given beside it.

What a simulated host cannot show: every "host" runs its modules on this controller's CPU, which a
real host does itself. The patch scan is where that weighs: python3-apt reads the package lists
(about 0.1 s CPU without lists, 1.5-2 s with Debian's full lists and a hundred pending updates on
this 2-core VM), then dry-runs each pending update. So the window's subjects run the patch scan with
``patch_update_cache=false`` (no hundred ``apt-get update`` against the mirror) and ``APT_CONFIG``
pointing at an empty lists folder: apt reads the installed packages only, and the figure is what
Ansible and maintctl cost. The scan on this controller's real lists is measured apart
(``patch_real_apt`` at ``--floor-hosts``), with its cost per host above ping's: that is the floor
the simulation adds and a real fleet spreads over its own hosts.

The figures are written as JSON to ``$MAINT_HOME/bench/window.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from bench_run import task_counts  # noqa: E402  (the benchmarks are scripts, not a package)
from bench_run_all import write_client  # noqa: E402

BIN = Path(sys.executable).parent
WINDOW = "hardware,antivirus,patch"
AREAS = ("hardware", "antivirus", "patch")


def forks() -> int:
    """The forks ``maintctl run`` gives ansible-playbook: ansible.cfg's (the reference uses the same)."""
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "ansible.cfg", encoding="utf-8")
    return cfg.getint("defaults", "forks", fallback=5)


def make_client(inv: Path, hosts: int) -> str:
    """A client of ``hosts`` simulated hosts, with the system Python named (no interpreter discovery)."""
    name = f"w{hosts:04d}"
    write_client(inv, name, hosts)
    (inv / name / "group_vars" / "all" / "python.yml").write_text(
        "ansible_python_interpreter: /usr/bin/python3\n", encoding="utf-8")
    return name


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run a command; return (wall seconds, stdout). Exit with its last line when it failed (not 0 or 1)."""
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=3600)
    wall = time.monotonic() - started
    if proc.returncode not in (0, 1):
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"bench_window: {' '.join(argv[:6])} exited {proc.returncode}: {last}")
    return wall, proc.stdout


def tasks_per_host(stdout: str) -> dict[str, int] | None:
    """Tasks run and skipped per host (max over hosts) of the run whose summary is ``stdout``."""
    found = re.search(r"^results: (.+)/results\.jsonl$", stdout, re.MULTILINE)
    if not found:
        return None
    ran, skipped = task_counts(Path(found.group(1)))
    return {"ran_max": max(ran.values(), default=0), "ran_min": min(ran.values(), default=0),
            "skipped_max": max(skipped.values(), default=0)}


def show(record: dict[str, Any], middle: int) -> None:
    """Print the record as a table and the flatness, marginal and floor figures."""
    print(f"forks {record['forks']}, medians of {record['rounds']} rounds; per host = wall / hosts")
    print("| subject | hosts | median (min-max) | per host | x ping | tasks run per host (max/min), skipped |")
    print("|---|---|---|---|---|---|")
    for row in record["results"]:
        tph = row["tasks_per_host"]
        shown = f"{tph['ran_max']}/{tph['ran_min']}, {tph['skipped_max']}" if tph else "-"
        print(f"| {row['subject']} | {row['hosts']} | {row['median_s']:.1f} s ({row['min_s']:.1f}-{row['max_s']:.1f}) "
              f"| {row['per_host_s']:.3f} s | {row['ratio_to_ping']:.2f} | {shown} |")
    flat, slope, sizes = record["window_flatness_vs_middle"], record["marginal_per_host_s"], record["hosts"]
    print(f"window per host vs {middle} hosts: " + ", ".join(f"{n}: {v:.2f}" for n, v in flat.items()))
    if slope:
        print(f"marginal per host ({sizes[0]} to {sizes[-1]} hosts): "
              + ", ".join(f"{k} {v:.3f} s" for k, v in slope.items()))
    print(f"patch scan on this controller's real apt lists: {record['patch_real_apt_extra_per_host_s']:.2f} s per "
          f"host above ping ({record['floor_hosts']} hosts); JSON: {record['out']} ({record['duration_s']:.0f} s)")


def subjects(sizes: list[int], areas_at: int, floor_hosts: int) -> list[tuple[str, int, bool]]:
    """One round's runs in order: (subject, hosts, on the controller's real apt lists)."""
    plan: list[tuple[str, int, bool]] = []
    for n in sorted({*sizes, areas_at}):
        plan += [("ping", n, False)] + ([("window", n, False)] if n in sizes else [])
        if n == areas_at:
            plan += [(area, n, False) for area in AREAS]
    # The patch scan on this controller's real package lists (the floor a simulated host adds).
    return plan + [("ping", floor_hosts, True), ("patch_real_apt", floor_hosts, True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="50,100,200", help="host counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--areas-at", type=int, help="host count at which each area runs alone (default: the middle one)")
    parser.add_argument("--floor-hosts", type=int, default=10, help="host count of the real-apt patch scan")
    parser.add_argument("--quick", action="store_true", help="--hosts 25,50 --floor-hosts 5 (rounds stay)")
    parser.add_argument("--out", type=Path, help="JSON file (default $MAINT_HOME/bench/window.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.hosts, args.floor_hosts = "25,50", 5
    sizes = sorted({int(n) for n in args.hosts.split(",") if n.strip()})
    middle = sizes[len(sizes) // 2]
    areas_at = args.areas_at or middle
    sys.path.insert(0, str(ROOT / "runner"))
    from maintcore.config import maint_home

    out_file = args.out or maint_home() / "bench" / "window.json"
    nforks = forks()
    walls: dict[tuple[str, int], list[float]] = {}
    tasks: dict[str, Any] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-window-") as tmp:
        inv, home = Path(tmp) / "inventories", Path(tmp) / "home"
        lists = Path(tmp) / "apt-lists"
        (lists / "partial").mkdir(parents=True)
        (Path(tmp) / "apt.conf").write_text(f'Dir::State::Lists "{lists}";\n', encoding="utf-8")
        base = dict(os.environ, MAINT_HOME=str(home), MAINT_INVENTORIES=str(inv), MAINT_VAULT_DIR=str(home / "vault"),
                    ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
        base.pop("MAINT_STORE", None)
        quiet_apt = dict(base, APT_CONFIG=str(Path(tmp) / "apt.conf"))
        clients = {n: make_client(inv, n) for n in sorted({*sizes, areas_at, args.floor_hosts})}

        def ping(n: int) -> list[str]:
            return [str(BIN / "ansible"), "all", "-i", str(inv / clients[n] / "hosts.yml"), "-m",
                    "ansible.builtin.ping", "-f", str(nforks)]

        def run(n: int, only: str) -> list[str]:
            return [str(BIN / "maintctl"), "run", "--client", clients[n], "--check", "--scan-only", "--only", only,
                    "--var", "patch_update_cache=false"]

        only = {"window": WINDOW, "patch_real_apt": "patch"}
        plan = [(name, n, ping(n) if name == "ping" else run(n, only.get(name, name)), base if real_apt else quiet_apt)
                for name, n, real_apt in subjects(sizes, areas_at, args.floor_hosts)]
        for rnd in range(args.rounds):
            for name, n, command, env in plan:
                wall, stdout = timed(command, env)
                walls.setdefault((name, n), []).append(wall)
                if name != "ping" and rnd == 0:
                    tasks[f"{name}@{n}"] = tasks_per_host(stdout)
                print(f"round {rnd + 1}/{args.rounds}: {name} over {n} hosts: {wall:.1f} s", file=sys.stderr)
    med = {key: statistics.median(values) for key, values in walls.items()}
    rows = []
    for (name, n), value in sorted(med.items(), key=lambda kv: (kv[0][1], kv[0][0] != "ping", kv[0][0])):
        rows.append({"subject": name, "hosts": n, "median_s": round(value, 2),
                     "min_s": round(min(walls[(name, n)]), 2), "max_s": round(max(walls[(name, n)]), 2),
                     "per_host_s": round(value / n, 4), "ratio_to_ping": round(value / med[("ping", n)], 2),
                     "tasks_per_host": tasks.get(f"{name}@{n}")})
    flat = {str(n): round((med[("window", n)] / n) / (med[("window", middle)] / middle), 3) for n in sizes}
    small, large = sizes[0], sizes[-1]
    slope = {name: round((med[(name, large)] - med[(name, small)]) / (large - small), 4)
             for name in ("ping", "window")} if large > small else {}
    floor_n = args.floor_hosts
    record = {
        "machine": {"cpus": os.cpu_count()}, "forks": nforks, "rounds": args.rounds, "hosts": sizes,
        "subject": f"maintctl run --check --scan-only --only {WINDOW} --var patch_update_cache=false "
                   "(APT_CONFIG: empty package lists)",
        "reference": f"ansible all -m ansible.builtin.ping -f {nforks}",
        "per_host": "wall / hosts (fixed start-up included); marginal_per_host_s is the slope between the "
                    "smallest and largest host counts",
        "results": rows,
        "window_flatness_vs_middle": flat,
        "marginal_per_host_s": slope,
        "patch_real_apt_extra_per_host_s": round(
            (med[("patch_real_apt", floor_n)] - med[("ping", floor_n)]) / floor_n, 3),
        "floor_hosts": floor_n,
        "duration_s": round(time.monotonic() - started, 1),
        "out": str(out_file),
    }
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    show(record, middle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
