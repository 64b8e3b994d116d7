"""``maintctl validate``: check clients' inventories and policies before anything runs.

Each client is checked on its own: one client's broken, binary or hostile file is one line
(naming the file) and the other clients are still checked. The answer does not depend on
the date. Settings that turn host key checking or TLS certificate validation off are
errors, or ``warning:`` lines when the policy's ``insecure_transport.reason`` accepts them.
"""

from __future__ import annotations

import argparse
import sys

from maintcore import inventory
from maintcore.errors import InvalidInput, clip

from . import policy


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``validate`` subcommand."""
    parser = sub.add_parser("validate", help="validate inventories and policies (all clients by default)")
    parser.add_argument("--client", help="validate only this client")
    parser.set_defaults(func=run)


def check_client(name: str) -> tuple[list[str], list[str], int]:
    """Return (problems, warnings, host count) for one client; never raises for its input."""
    warnings: list[str] = []
    try:
        found = policy.validate_policy(name)
        if found:
            return found, warnings, 0
        warnings = policy.transport_warnings(name)
        hosts = policy.list_hosts(name, allow_empty=True)
        if not hosts:  # a new client (maintctl client new): valid, with nothing to run yet
            where = inventory.project_relative(inventory.client_dir(name) / "hosts.yml")
            warnings.append(f"{name}: no hosts yet: add them to {where}")
        return policy.host_problems(name, hosts), warnings, len(hosts)
    except InvalidInput as exc:
        return [str(exc)], warnings, 0
    except (OSError, ValueError, RecursionError, MemoryError) as exc:
        return [clip(f"{name}: cannot be checked: {type(exc).__name__}: {exc}")], warnings, 0


def run(args: argparse.Namespace) -> int:
    """Print every problem (file: key: problem) and exit 2 if there is any."""
    names = [args.client] if args.client else inventory.clients()
    if not names:
        raise InvalidInput("no client inventories found (inventories/<client>/hosts.yml)")
    problems: list[str] = []
    for name in names:
        found, warnings, count = check_client(name)
        for line in warnings:
            print(f"warning: {line}", file=sys.stderr)
        if not found:
            print(f"{name}: ok ({count} hosts)")
        problems += found
    for line in problems:
        print(line, file=sys.stderr)
    return 2 if problems else 0
