"""``maintctl doctor``: one line per missing prerequisite, with its fix (exit 0 or 2)."""

from __future__ import annotations

import argparse

from . import doctor


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``doctor`` subcommand."""
    parser = sub.add_parser("doctor", help="check every prerequisite of the controller, the lab and the tests")
    parser.add_argument("--only", default=",".join(doctor.SCOPES), metavar="SCOPES",
                        help=f"comma-separated scopes to check (default: all of {','.join(doctor.SCOPES)})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per problem (exit 2), or a short ok summary (exit 0)."""
    scopes = [scope for scope in args.only.split(",") if scope]
    unknown = [scope for scope in scopes if scope not in doctor.SCOPES]
    if unknown or not scopes:
        print(f"maintctl: error: --only takes {', '.join(doctor.SCOPES)} (got {args.only!r})")
        return 2
    problems, ran = doctor.run(scopes)
    for problem in problems:
        print(problem.line())
    if problems:
        print(f"doctor: {len(problems)} problem(s) in {ran} checks ({', '.join(scopes)})")
        return 2
    print(f"doctor: ok, {ran} checks passed ({', '.join(scopes)})")
    return 0
