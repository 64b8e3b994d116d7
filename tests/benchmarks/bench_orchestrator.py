"""Benchmark of maintctl's own cost: ``maintctl run`` against ``ansible-playbook`` on the very same play.

Not collected by pytest (the file name does not start with ``test_``). No lab: every host is this
machine, reached with ``ansible_connection: local`` under a distinct inventory name (the simulated
clients of ``bench_run_all.py``). Run it with ``make bench-orchestrator`` or
``python tests/benchmarks/bench_orchestrator.py [--hosts 20,100] [--rounds 5] [--out FILE]``.

For each client size, one warm-up ``maintctl run --client X --only hardware --check`` gives a run
folder; the reference command is read back from it, as ansible-runner ran it: the
``artifacts/ansible/command`` argument list (play, inventory, ``--check``, the extra vars file, forks
if any) and the ``env/envvars`` environment (ansible.cfg, the collector callback writing its
results file). Then ``--rounds`` interleaved rounds (the order alternates, so drift on a shared
machine falls on all): ``maintctl run``, that ``ansible-playbook`` (its output read through a
pipe), and, to tell ansible-runner's share from maintctl's own, ``ansible_runner.run()`` alone with
the same play, inventory, options, extra vars and environment. Each figure is the median of the rounds, for the wall time and
for the CPU time of the process tree (user + system, from ``RUSAGE_CHILDREN``); the ratio is
maintctl / ansible-playbook (and maintctl / ansible-runner alone). Beside it, the startup of ``maintctl --version`` and
``maintctl validate --client X`` against ``ansible-playbook --version``.

The figures are printed and written as JSON to ``$MAINT_HOME/bench/orchestrator.json`` or ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_run_all import write_client  # noqa: E402 - the simulated clients, shared with bench_run_all

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MAINTCTL = str(BIN / "maintctl")
RUN = ["run", "--only", "hardware", "--check"]


def timed(argv: list[str], env: dict[str, str], check: Callable[[subprocess.CompletedProcess[str]], None],
          cwd: Path = ROOT) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``argv`` once; return (wall seconds, CPU seconds of its process tree, the process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=3600)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    check(proc)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def _exit_in(codes: tuple[int, ...], what: str) -> Callable[[subprocess.CompletedProcess[str]], None]:
    def check(proc: subprocess.CompletedProcess[str]) -> None:
        if proc.returncode not in codes:
            tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
            sys.exit(f"bench_orchestrator: {what} exited {proc.returncode}: {tail[0]}")
    return check


def reference_command(run_dir: Path, scratch: Path) -> tuple[list[str], dict[str, str]]:
    """The ansible-playbook command and environment ansible-runner used for ``run_dir``, runnable again.

    The extra vars file is copied (the run folder's own is scrubbed after the run) and the
    collector writes its results to a scratch file instead of the run's.
    """
    command = json.loads((run_dir / "artifacts" / "ansible" / "command").read_text(encoding="utf-8"))
    argv: list[str] = list(command["command"])
    extravars = scratch / "extravars.json"
    extravars.write_text((run_dir / "env" / "extravars").read_text(encoding="utf-8"), encoding="utf-8")
    argv = [f"@{extravars}" if arg.startswith("@") and arg.endswith("/env/extravars") else arg for arg in argv]
    argv[0] = str(BIN / Path(argv[0]).name)
    envvars: dict[str, str] = json.loads((run_dir / "env" / "envvars").read_text(encoding="utf-8"))
    envvars["MAINT_RESULTS_FILE"] = str(scratch / "results.jsonl")
    return argv, envvars


RUNNER_ONLY = """
import json, sys, tempfile
import ansible_runner
spec = json.loads(sys.argv[1])
with tempfile.TemporaryDirectory(dir=spec["scratch"]) as folder:
    runner = ansible_runner.run(private_data_dir=folder, project_dir=spec["project"], playbook=spec["playbook"],
                                inventory=spec["inventory"], extravars=spec["extravars"], cmdline=spec["cmdline"],
                                envvars=spec["envvars"], quiet=True, ident="ansible", rotate_artifacts=0)
sys.exit(0 if runner.status == "successful" else 2)
"""


def runner_command(run_dir: Path, scratch: Path, ref_argv: list[str], envvars: dict[str, str]) -> list[str]:
    """A Python process running only ``ansible_runner.run()`` with what ansible-runner got for ``run_dir``."""
    cmdline = (run_dir / "env" / "cmdline").read_text(encoding="utf-8") if (run_dir / "env" / "cmdline").exists() \
        else None
    spec = {"scratch": str(scratch), "project": str(ROOT), "playbook": ref_argv[-1],
            "inventory": ref_argv[ref_argv.index("-i") + 1], "cmdline": cmdline, "envvars": envvars,
            "extravars": json.loads((scratch / "extravars.json").read_text(encoding="utf-8"))}
    return [sys.executable, "-c", RUNNER_ONLY, json.dumps(spec)]


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def bench_size(inv: Path, home: Path, client: str, rounds: int) -> dict[str, Any]:
    """Interleaved rounds of maintctl run and its ansible-playbook on one client; medians and ratios."""
    env = dict(os.environ, MAINT_HOME=str(home), MAINT_INVENTORIES=str(inv), MAINT_VAULT_DIR=str(home / "vault"))
    env.pop("MAINT_STORE", None)
    run_argv = [MAINTCTL, *RUN, "--client", client]
    ok_run = _exit_in((0, 1), "maintctl run")
    _, _, warm = timed(run_argv, env, ok_run)
    found = re.search(r"^results: (.+)/results\.jsonl$", warm.stdout, re.MULTILINE)
    if not found:
        sys.exit("bench_orchestrator: maintctl run printed no results line")
    scratch = Path(tempfile.mkdtemp(prefix="ref-", dir=home))
    ref_argv, envvars = reference_command(Path(found.group(1)), scratch)
    ref_env = {**env, **envvars}
    ok_ref = _exit_in((0, 2), "ansible-playbook")  # 2: a host's check failed, as a run may report
    timed(ref_argv, ref_env, ok_ref)  # warm-up of the reference too
    runner_argv = runner_command(Path(found.group(1)), scratch, ref_argv, envvars)
    ok_runner = _exit_in((0, 2), "ansible_runner.run")
    walls: dict[str, list[float]] = {"maintctl": [], "ansible": [], "runner": []}
    cpus: dict[str, list[float]] = {"maintctl": [], "ansible": [], "runner": []}
    for index in range(rounds):
        order = [("maintctl", run_argv, env, ok_run), ("ansible", ref_argv, ref_env, ok_ref),
                 ("runner", runner_argv, env, ok_runner)]
        for name, argv, penv, check in order if index % 2 == 0 else order[::-1]:
            wall, cpu, _ = timed(argv, penv, check)
            walls[name].append(round(wall, 3))
            cpus[name].append(cpu)
        print(f"  round {index + 1}: maintctl {walls['maintctl'][-1]:.2f} s, ansible-playbook "
              f"{walls['ansible'][-1]:.2f} s, ansible_runner.run alone {walls['runner'][-1]:.2f} s", file=sys.stderr)
    wall_m, wall_a, wall_r = median(walls["maintctl"]), median(walls["ansible"]), median(walls["runner"])
    cpu_m, cpu_a = median(cpus["maintctl"]), median(cpus["ansible"])
    return {
        "maintctl_command": [Path(run_argv[0]).name, *run_argv[1:]],
        "reference_command": [Path(ref_argv[0]).name, *ref_argv[1:]],
        "wall_s": {"maintctl": wall_m, "ansible_playbook": wall_a, "ansible_runner_alone": wall_r,
                   "maintctl_runs": walls["maintctl"], "ansible_playbook_runs": walls["ansible"],
                   "ansible_runner_alone_runs": walls["runner"]},
        "cpu_s": {"maintctl": cpu_m, "ansible_playbook": cpu_a, "ansible_runner_alone": median(cpus["runner"])},
        "ratio_wall_maintctl_over_runner_alone": round(wall_m / wall_r, 3) if wall_r else None,
        "ratio_wall_runner_alone_over_ansible_playbook": round(wall_r / wall_a, 3) if wall_a else None,
        "ratio_wall": round(wall_m / wall_a, 3) if wall_a else None,
        "ratio_cpu": round(cpu_m / cpu_a, 3) if cpu_a else None,
        "overhead_wall_s": round(wall_m - wall_a, 3),
        "ratio_wall_per_round_median": median([m / a for m, a in zip(walls["maintctl"], walls["ansible"], strict=True)]),
    }


def bench_startup(inv: Path, home: Path, client: str, rounds: int) -> dict[str, Any]:
    """Medians of maintctl --version, maintctl validate --client X and ansible-playbook --version."""
    env = dict(os.environ, MAINT_HOME=str(home), MAINT_INVENTORIES=str(inv), MAINT_VAULT_DIR=str(home / "vault"))
    commands = {
        "maintctl --version": [MAINTCTL, "--version"],
        "maintctl --help": [MAINTCTL, "--help"],
        f"maintctl validate --client {client}": [MAINTCTL, "validate", "--client", client],
        "ansible-playbook --version": [str(BIN / "ansible-playbook"), "--version"],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            walls[name].append(timed(argv, env, _exit_in((0,), name))[0])
    out: dict[str, Any] = {name: median(values) for name, values in walls.items()}
    ref = out["ansible-playbook --version"]
    out["ratios_to_ansible_playbook_version"] = {name: round(out[name] / ref, 3) for name in commands if ref}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="20,100", help="client sizes, comma-separated (default 20,100)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per size (default 5)")
    parser.add_argument("--out", type=Path, help="JSON file (default $MAINT_HOME/bench/orchestrator.json)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "runner"))
    from maintcore.config import maint_home

    out_file = args.out or maint_home() / "bench" / "orchestrator.json"
    sizes = [int(n) for n in args.hosts.split(",") if n.strip()]
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()},
                              "rounds": args.rounds, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="bench-orchestrator-") as tmp:
        inv, home = Path(tmp) / "inventories", Path(tmp) / "home"
        for size in sizes:
            write_client(inv, f"sim{size}", size)
        for size in sizes:
            print(f"{size} hosts: maintctl run --only hardware --check vs its ansible-playbook, "
                  f"{args.rounds} interleaved rounds", file=sys.stderr)
            report["sizes"][str(size)] = bench_size(inv, home, f"sim{size}", args.rounds)
        report["startup"] = bench_startup(inv, home, f"sim{sizes[0]}", args.rounds)
    report["machine"]["load_after"] = os.getloadavg()
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("| hosts | maintctl run | ansible-playbook | ansible_runner.run alone | ratio (wall) | ratio (CPU) | "
          "maintctl / runner alone | overhead |\n|---|---|---|---|---|---|---|---|")
    for size, fig in report["sizes"].items():
        print(f"| {size} | {fig['wall_s']['maintctl']:.2f} s | {fig['wall_s']['ansible_playbook']:.2f} s | "
              f"{fig['wall_s']['ansible_runner_alone']:.2f} s | {fig['ratio_wall']} | {fig['ratio_cpu']} | "
              f"{fig['ratio_wall_maintctl_over_runner_alone']} | {fig['overhead_wall_s']:+.2f} s |")
    start = report["startup"]
    print("startup: " + ", ".join(f"{name} {value:.2f} s" for name, value in start.items() if isinstance(value, float)))
    print(f"JSON: {out_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
