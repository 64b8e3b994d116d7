"""``maintctl lab up|down|status``: the local lab of podman hosts."""

from __future__ import annotations

import argparse

from . import lab


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``lab`` subcommand."""
    parser = sub.add_parser("lab", help="build, start, stop or show the local lab")
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--only", default="", metavar="AREAS",
                        help="with up: run only these areas' fixture playbooks (comma-separated)")
    parser.add_argument("--purge", action="store_true", help="with down: also remove the lab image")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Carry out a lab action."""
    if args.action == "up":
        only = [a for a in args.only.split(",") if a]
        lab.up(print, only)
        return 0
    if args.action == "down":
        lab.down(print, purge=args.purge)
        return 0
    rows = lab.status()
    for row in rows:
        print(f"{row['host']:<10} {row['ip']:<16} {row['state']:<10} ssh={row['ssh']}")
    return 0 if all(r["ssh"] == "yes" for r in rows) else 1
