"""``maintctl evaluate KIND FILE...``: run the decide code on saved tool output, offline.

A customer can send a saved ``smartctl --json --xall`` or ``Get-MpComputerStatus |
ConvertTo-Json``; this prints one result per line (JSON), in the result shape, with
``host`` set to the file name. Exit 1 when any result is critical, 2 when a file
cannot be read.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maintcore.errors import InvalidInput

# kind -> "module:function"; the function takes (text, source) and returns results.
KINDS: dict[str, str] = {
    "smart": "maint_utils.hardware_decide:evaluate_smart_text",
    "defender": "maint_utils.antivirus_defender:evaluate_defender_text",
}


def _loader(kind: str) -> Callable[[str, str], list[dict[str, Any]]]:
    module, func = KINDS[kind].split(":")
    evaluate: Callable[[str, str], list[dict[str, Any]]] = getattr(importlib.import_module(module), func)
    return evaluate


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``evaluate`` subcommand."""
    parser = sub.add_parser("evaluate", help="evaluate saved tool output offline (JSON lines)")
    parser.add_argument("kind", choices=sorted(KINDS) or None, help="what the files hold")
    parser.add_argument("files", nargs="+", metavar="FILE", help="saved output ('-' for stdin)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate every file and print its results."""
    evaluate = _loader(args.kind)
    worst = 0
    for name in args.files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InvalidInput(f"{name}: cannot read: {exc.strerror}") from exc
        source = "stdin" if name == "-" else Path(name).name
        for result in evaluate(text, source):
            result.setdefault("client", "offline")
            result.setdefault("host", source)
            result.setdefault("run_id", "evaluate")
            print(json.dumps(result, sort_keys=True, ensure_ascii=False))
            if result["status"] == "critical":
                worst = 1
    return worst
