"""Benchmark of the restore tests: what a source costs beyond the backup tool's own time.

Not collected by pytest (the file name does not start with ``test_``). No lab: real restic and
borg repositories are built in a scratch folder on this machine, and one host named
``bench-files`` (``ansible_connection: local``) tests them through ``maintctl run --only backup``.
Run it with ``make bench-restore`` or
``python tests/benchmarks/bench_restore.py [--sources 1,6] [--files 400] [--repeat 3] [--out FILE]``.

The tool's own time is measured, not estimated: ``restic`` and ``borg`` are reached through a
shim folder put first on ``PATH``; each shim runs the real binary and appends its wall time
(bash's ``EPOCHREALTIME`` around the call, no extra process) to a log. So the tool time is every
invocation the module makes (snapshots, listing, restore, verification, check), as the module
runs them. Per run count::

    overhead = maintctl run wall - ansible -m ping wall (the same host, same run) - tool time

and, per source, ``overhead / sources``; the marginal figure between the smallest and the largest
source count (``(overhead_N - overhead_1) / (N - 1)``) is the cost of one more source, free of the
run's fixed costs (maintctl, the play, the plan task). Rounds are interleaved: ping, then each
source count, ``--repeat`` times; medians are printed and written as JSON to
``$MAINT_HOME/bench/restore.json`` or ``--out``. The issue's target: at most 1 s per source.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from maintcore.config import atomic_write_json, maint_home

BIN = Path(sys.executable).parent
MAINTCTL = str(BIN / "maintctl")
PASSWORD = "bench-restore-only-password"
SHIM = """#!/bin/bash
start=$EPOCHREALTIME
{real} "$@"
rc=$?
end=$EPOCHREALTIME
printf '%s %s %s\\n' {name} "$start" "$end" >> "$MAINT_BENCH_TOOL_LOG"
exit $rc
"""


def _run(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=1800)
    if proc.returncode != 0:
        sys.exit(f"bench_restore: {argv[0]} {argv[1]} exited {proc.returncode}: "
                 f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    return proc


def build_tree(folder: Path, files: int) -> None:
    """A source tree of ``files`` files (1 KiB to 256 KiB, random bytes) in nested folders."""
    rng = random.Random(20261202)
    for index in range(files):
        path = folder / f"d{index % 7}" / f"e{index % 13}" / f"file-{index:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.choice((1, 4, 16, 64, 256)) * 1024))


def build_repos(base: Path, sources: int, tree: Path, password_file: Path) -> list[dict[str, Any]]:
    """``sources`` repositories of the tree, restic and borg in turn; return the policy's sources."""
    out = []
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(password_file), "BORG_PASSPHRASE": PASSWORD,
           "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "no", "LC_ALL": "C.UTF-8"}
    for index in range(sources):
        kind = "restic" if index % 2 == 0 else "borg"
        repo = base / f"{kind}-{index}"
        if kind == "restic":
            _run(["restic", "init", "--repo", str(repo)], env)
            _run(["restic", "backup", "--repo", str(repo), "--host", "bench-files", str(tree)], env)
        else:
            _run(["borg", "init", "--encryption=repokey", str(repo)], env)
            _run(["borg", "create", f"{repo}::bench-{index}", str(tree)], env)
        out.append({"name": f"bench-{kind}-{index}", "host": "bench-files", "type": kind, "repository": str(repo),
                    "source": str(tree), "password_file": str(password_file)})
    return out


def write_client(inv: Path, sources: list[dict[str, Any]]) -> None:
    folder = inv / "bench" / "group_vars" / "all"
    folder.mkdir(parents=True)
    hosts = {"all": {"hosts": {"bench-files": {"ansible_host": "127.0.0.1"}},
                     "vars": {"ansible_connection": "local", "ansible_become": False,
                              "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}
    (inv / "bench" / "hosts.yml").write_text(json.dumps(hosts), encoding="utf-8")
    policy = {"maint_policy": {"client_name": "bench", "timezone": "UTC", "windows": ["Mon-Sun 00:00-24:00"],
                               "backup": {"sample_size": 5, "rpo_hours": 48,
                                          "integrity": {"read_data_subset_pct": 10, "verify_data": False},
                                          "sources": sources}}}
    (folder / "policy.yml").write_text(json.dumps(policy), encoding="utf-8")


def make_shims(folder: Path) -> None:
    folder.mkdir()
    for name in ("restic", "borg"):
        real = shutil.which(name)
        if real is None:
            sys.exit(f"bench_restore: {name} is not installed (make deps installs it)")
        shim = folder / name
        shim.write_text(SHIM.format(real=real, name=name), encoding="utf-8")
        shim.chmod(0o755)


def tool_seconds(log: Path) -> tuple[float, int]:
    """Sum of the tool calls' wall times in the log, and their count; the log is then emptied."""
    total, calls = 0.0, 0
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            _name, start, end = line.split()
            total += float(end) - float(start)
            calls += 1
        log.unlink()
    return total, calls


def one_run(inv: Path, env: dict[str, str], log: Path) -> dict[str, Any]:
    started = time.monotonic()
    proc = subprocess.run([MAINTCTL, "run", "--client", "bench", "--only", "backup", "--check"], capture_output=True,
                          text=True, env={**env, "MAINT_INVENTORIES": str(inv)}, check=False, timeout=1800)
    wall = time.monotonic() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"bench_restore: maintctl run exited {proc.returncode}: "
                 f"{(proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ['no output'])[-1]}")
    tool, calls = tool_seconds(log)
    if calls == 0:
        sys.exit("bench_restore: the module ran no restic or borg call through the shims (PATH not honoured?)")
    return {"wall": wall, "tool": tool, "calls": calls, "exit": proc.returncode}


def ping(inv: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    _run([str(BIN / "ansible"), "-i", str(inv / "bench" / "hosts.yml"), "all", "-m", "ansible.builtin.ping"], env)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", default="1,6", help="source counts, comma-separated (default 1,6)")
    parser.add_argument("--files", type=int, default=400, help="files per source tree (default 400)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    counts = sorted({int(c) for c in args.sources.split(",")})
    with tempfile.TemporaryDirectory(prefix="bench-restore-") as tmp:
        base = Path(tmp)
        password = base / "repo.pass"
        password.write_text(PASSWORD + "\n", encoding="utf-8")
        password.chmod(0o600)
        tree = base / "tree"
        build_tree(tree, args.files)
        all_sources = build_repos(base / "repos", max(counts), tree, password)
        make_shims(base / "shims")
        log = base / "tools.log"
        invs = {}
        for count in counts:
            invs[count] = base / f"inv-{count}"
            write_client(invs[count], all_sources[:count])
        env = {**os.environ, "MAINT_HOME": str(base / "home"), "MAINT_STORE": str(base / "store.db"),
               "PATH": f"{base / 'shims'}:{os.environ.get('PATH', '')}", "MAINT_BENCH_TOOL_LOG": str(log),
               "ANSIBLE_CONFIG": str(Path(__file__).resolve().parents[2] / "ansible.cfg")}
        env.pop("MAINT_TEST_NOW", None)
        pings: list[float] = []
        runs: dict[int, list[dict[str, Any]]] = {c: [] for c in counts}
        one_run(invs[counts[0]], env, log)  # warm-up: caches, the store's creation
        for _ in range(args.repeat):
            pings.append(ping(invs[counts[0]], env))
            for count in counts:
                runs[count].append(one_run(invs[count], env, log))
    ping_s = statistics.median(pings)
    figures: dict[str, Any] = {"ping_s": round(ping_s, 3), "files_per_source": args.files, "repeat": args.repeat,
                               "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                               "sources": {}}
    print(f"ansible -m ping (reference): {ping_s:.2f} s")
    overhead: dict[int, float] = {}
    for count in counts:
        wall = statistics.median(r["wall"] for r in runs[count])
        tool = statistics.median(r["tool"] for r in runs[count])
        calls = runs[count][0]["calls"]
        overhead[count] = statistics.median(r["wall"] - ping_s - r["tool"] for r in runs[count])
        figures["sources"][str(count)] = {"wall_s": round(wall, 3), "tool_s": round(tool, 3), "tool_calls": calls,
                                          "overhead_s": round(overhead[count], 3),
                                          "overhead_per_source_s": round(overhead[count] / count, 3),
                                          "wall_vs_ping": round(wall / ping_s, 2)}
        print(f"{count} source(s): maintctl run {wall:.2f} s (x{wall / ping_s:.2f} ping), tools {tool:.2f} s"
              f" in {calls} calls, beyond ping and tools {overhead[count]:.2f} s"
              f" = {overhead[count] / count:.2f} s per source")
    if len(counts) > 1:
        low, high = counts[0], counts[-1]
        marginal = (overhead[high] - overhead[low]) / (high - low)
        figures["marginal_overhead_per_source_s"] = round(marginal, 3)
        print(f"one more source costs {marginal:.2f} s beyond its tool time (target: at most 1 s)")
    out = args.out or maint_home() / "bench" / "restore.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, figures)
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
