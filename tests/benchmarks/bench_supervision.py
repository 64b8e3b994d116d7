"""Benchmark of supervision's cycles on the lab: what a probe and a watch cost per host.

Not collected by pytest. Start the lab first, then ``make bench-supervision`` or
``python tests/benchmarks/bench_supervision.py [--client demo] [--repeat 5]``.

Interleaved in one run, ``--repeat`` times each: ``ansible -m ping`` over the client's hosts
(the reference: Ansible's floor for one task per host), ``maintctl watch --client X`` (one
module call per host through ansible-runner, the collector and the store), and
``maintctl probe --client X`` (no Ansible: the inventory read by ``ansible-inventory``, then
asyncio connects). Medians are printed as seconds, seconds per host and ratios against ping,
and written as JSON to ``$MAINT_HOME/bench/supervision.json`` (or ``--out``). The cycles write
to a throw-away store (``MAINT_STORE``), so the client's alerts and report are not touched.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def timed(args: list[str], env: dict[str, str]) -> float:
    """Run a command; return its wall time (exit with its error when it failed)."""
    started = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=900)
    wall = time.monotonic() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"bench_supervision: {' '.join(args[:3])} exited {proc.returncode}: "
                 f"{(proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ['no output'])[-1]}")
    return wall


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", default="demo")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    home = Path(os.environ.get("MAINT_HOME") or ROOT / "var")
    inventory = Path(os.environ.get("MAINT_INVENTORIES") or ROOT / "inventories") / args.client
    vault = Path(os.environ.get("MAINT_VAULT_DIR") or Path.home() / ".config" / "maintctl" / "vault")
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "MAINT_STORE": str(Path(scratch) / "store.db"),
               "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
        hosts = json.loads(subprocess.run(
            [str(BIN / "ansible-inventory"), "-i", str(inventory / "hosts.yml"), "--list",
             "--vault-password-file", str(vault / f"{args.client}.pass")],
            capture_output=True, text=True, env=env, check=True).stdout)["_meta"]["hostvars"]
        commands = {
            "ping": [str(BIN / "ansible"), "all", "-i", str(inventory / "hosts.yml"), "-m", "ansible.builtin.ping",
                     "--vault-password-file", str(vault / f"{args.client}.pass"), "-o"],
            "watch": [str(BIN / "maintctl"), "watch", "--client", args.client],
            "probe": [str(BIN / "maintctl"), "probe", "--client", args.client],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, command in commands.items():
                walls[name].append(timed(command, env))
    med = {name: statistics.median(values) for name, values in walls.items()}
    count = len(hosts)
    record = {"client": args.client, "hosts": count, "repeat": args.repeat,
              "median_s": {k: round(v, 3) for k, v in med.items()},
              "per_host_s": {k: round(v / count, 3) for k, v in med.items()},
              "ratio_to_ping": {k: round(v / med["ping"], 2) for k, v in med.items()}}
    for name in commands:
        print(f"{name:>5}: median {med[name]:.2f} s over {count} hosts ({med[name] / count:.2f} s per host), "
              f"x{med[name] / med['ping']:.2f} ansible -m ping")
    out = args.out or home / "bench" / "supervision.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"record: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
