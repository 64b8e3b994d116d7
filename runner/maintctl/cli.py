"""The ``maintctl`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds
a parser whose ``func`` default takes the parsed arguments and returns an exit code.

Only the module of the subcommand invoked is imported (the others cost a third of a second
of imports on every run): the rest of the subcommands get a placeholder parser with their
help line from :data:`COMMANDS`, so ``maintctl --help`` still lists every one.
``tests/unit/maintctl/test_cli.py`` checks that those lines are the modules' own.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from maint_utils.maint_result import PolicyError
from maintcore.errors import INVALID_MESSAGE, MaintError, clip, exit_code

from . import __version__

# (subcommand, module that registers it, its help line), in help order.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("run", "maintctl.cmd_run", "run maintenance on one client's hosts, or on every client (--all)"),
    ("play", "maintctl.cmd_play", "run a playbook ad hoc on one client's hosts (recorded as a run)"),
    ("adhoc", "maintctl.cmd_play", "run one module ad hoc on some of a client's hosts (recorded as a run)"),
    ("client", "maintctl.cmd_client", "create a client's inventory, or list the clients"),
    ("validate", "maintctl.cmd_validate", "validate inventories and policies (all clients by default)"),
    ("lab", "maintctl.cmd_lab", "build, start, stop or show the local lab"),
    ("evaluate", "maintctl.cmd_evaluate", "evaluate saved tool output offline (JSON lines)"),
    ("report", "maintctl.cmd_report",
     "write a client's report (HTML, PDF, JSON, CSV, Markdown) or the fleet overview"),
    ("demo", "maintctl.cmd_demo", "start the lab, run a full maintenance window on it, write the report"),
    ("window", "maintctl.cmd_window", "show a client's next maintenance windows (local time and UTC)"),
    ("tick", "maintctl.cmd_tick", "start the scheduled runs that are due (from a timer, every few minutes)"),
    ("probe", "maintctl.cmd_supervise", "run one availability probe cycle of a client now"),
    ("watch", "maintctl.cmd_supervise", "run one health watch of a client now (one module call per host)"),
    ("alerts", "maintctl.cmd_supervise", "list, show, acknowledge, resolve or annotate a client's alerts"),
    ("downtime", "maintctl.cmd_supervise", "scheduled downtime: no notification, excluded from unavailability"),
    ("intervention", "maintctl.cmd_intervention", "record, list, edit or delete the work people did for a client"),
    ("history", "maintctl.cmd_history",
     "a host's (or a client's) timeline: runs, status changes, alerts, interventions, changes made"),
    ("doctor", "maintctl.cmd_doctor", "check every prerequisite of the controller, the lab and the tests"),
)


def invoked_command(argv: Sequence[str]) -> str | None:
    """Return the subcommand ``argv`` names (its first word that is not an option), or None."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Return the top-level parser.

    Without ``argv`` every subcommand's module is imported and registered; with it, only the
    module of the subcommand ``argv`` invokes, and a help-only placeholder for each other one.
    """
    parser = argparse.ArgumentParser(
        prog="maintctl",
        description="Agentless preventive maintenance for MSPs: run, validate, report.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = invoked_command(argv) if argv is not None else None
    wanted_module = next((module for name, module, _ in COMMANDS if name == wanted), None)
    registered: set[str] = set()
    for name, module, helptext in COMMANDS:
        if name in registered:
            continue
        if argv is None or module == wanted_module:
            before = set(sub.choices)
            importlib.import_module(module).register(sub)
            registered |= set(sub.choices) - before
            if name in registered:
                continue
        sub.add_parser(name, help=helptext, add_help=False)
        registered.add(name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run maintctl and return its exit code (see README: 0, 1, 2, 3, 4)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except MaintError as exc:
        print(f"maintctl: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except PolicyError as exc:  # raised by the pure code under plugins/module_utils: invalid input
        print(f"maintctl: error: {clip(exc, INVALID_MESSAGE)}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        print("maintctl: interrupted", file=sys.stderr)
        return 3
    except Exception as exc:  # noqa: BLE001 - one line for the user; MAINT_DEBUG=1 for the traceback
        if os.environ.get("MAINT_DEBUG"):
            raise
        print(f"maintctl: internal error: {type(exc).__name__}: {exc} (MAINT_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
