"""The ``maintctl`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds
a parser whose ``func`` default takes the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from maint_utils.maint_result import PolicyError
from maintcore.errors import INVALID_MESSAGE, MaintError, clip, exit_code

# Modules that register subcommands, in help order.
COMMANDS = (
    "maintctl.cmd_run",
    "maintctl.cmd_play",
    "maintctl.cmd_client",
    "maintctl.cmd_validate",
    "maintctl.cmd_lab",
    "maintctl.cmd_evaluate",
    "maintctl.cmd_report",
    "maintctl.cmd_demo",
    "maintctl.cmd_window",
    "maintctl.cmd_tick",
    "maintctl.cmd_supervise",
    "maintctl.cmd_intervention",
    "maintctl.cmd_history",
    "maintctl.cmd_doctor",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="maintctl",
        description="Agentless preventive maintenance for MSPs: run, validate, report.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run maintctl and return its exit code (see README: 0, 1, 2, 3, 4)."""
    parser = build_parser()
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
