"""``maintctl validate``: check clients' inventories and policies before anything runs."""

from __future__ import annotations

import argparse
import sys

from . import policy
from .errors import InvalidInput


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``validate`` subcommand."""
    parser = sub.add_parser("validate", help="validate inventories and policies (all clients by default)")
    parser.add_argument("--client", help="validate only this client")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print every problem (file: key: problem) and exit 2 if there is any."""
    names = [args.client] if args.client else policy.clients()
    if not names:
        raise InvalidInput("no client inventories found (inventories/<client>/hosts.yml)")
    problems: list[str] = []
    for name in names:
        try:
            found = policy.validate_policy(name)
            if not found:
                hosts = policy.list_hosts(name)
                print(f"{name}: ok ({len(hosts)} hosts)")
        except InvalidInput as exc:
            found = [str(exc)]
        problems += found
    for line in problems:
        print(line, file=sys.stderr)
    return 2 if problems else 0
