"""``maintctl history``: a host's whole history (or a client's), newest first.

``history --client X [--host H] [--since 2026-11-01] [--until ...] [--check 'hardware.*'] [--limit N]
[--format table|json]`` merges the runs that touched the host, its results' status changes (not
every ok), the changes made, its alerts' transitions and the interventions recorded, each with its
evidence id (see :mod:`maintcore.history`). A host no longer in the inventory keeps its history, so
``--host`` is looked up in the store, not in the inventory.
"""

from __future__ import annotations

import argparse
import json

from maintcore import history, inventory
from maintcore.errors import InvalidInput, clip
from maintcore.store import Store

from .cmd_intervention import WHEN_HELP, client_tz, local, when

DEFAULT_LIMIT = 200


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``history`` subcommand."""
    parser = sub.add_parser("history", help="a host's (or a client's) timeline: runs, status changes, alerts, "
                                            "interventions, changes made")
    parser.add_argument("--client", required=True)
    parser.add_argument("--host", help="one host (default: every host of the client)")
    parser.add_argument("--since", help=f"from: {WHEN_HELP}")
    parser.add_argument("--until", help="before, in the same forms")
    parser.add_argument("--check", metavar="GLOB", help="only these check ids, e.g. 'hardware.*'")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                        help=f"at most N events, newest first (default {DEFAULT_LIMIT}; 0: all)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run_history)


def run_history(args: argparse.Namespace) -> int:
    """Print the timeline as a table or JSON."""
    inventory.client_dir(args.client)
    if args.limit < 0:
        raise InvalidInput(f"--limit: {args.limit}: expected 0 (all) or more")
    if args.check is not None and not args.check.strip():
        raise InvalidInput("--check: an empty glob matches nothing")
    tz = client_tz(args.client)
    since, until = when(args.since, tz, "--since"), when(args.until, tz, "--until")
    if since and until and until <= since:
        raise InvalidInput(f"--until ({until}) must be after --since ({since})")
    with Store() as store:
        if args.host is not None and not history.known_host(store, args.client, args.host):
            raise InvalidInput(f"--host: nothing recorded of host {clip(args.host, 60)!r} for client {args.client}")
        events = history.timeline(store, args.client, args.host, since, until, args.check, args.limit or None)
    if args.format == "json":
        print(json.dumps(events, indent=2, ensure_ascii=False))
        return 0
    if not events:
        print(f"no history for host {args.host} of client {args.client}" if args.host
              else f"no history for client {args.client}")
        return 0
    print(f"{'AT':<22} {'HOST':<12} {'WHAT':<22} {'CHECK':<28} {'EVIDENCE':<18} DETAIL")
    for event in events:
        print(f"{local(event['at'], tz):<22} {clip(event['host'] or '*', 12):<12} {clip(_what(event), 22):<22} "
              f"{clip(_check(event), 28):<28} {clip(event['evidence'], 18):<18} {clip(_detail(event), 100)}")
    if args.limit and len(events) == args.limit:
        print(f"(the newest {args.limit}; --limit 0 shows all, --since narrows)")
    return 0


def _what(event: dict[str, object]) -> str:
    kind = event["type"]
    if kind == "status":
        return f"{event['previous'] or 'new'} -> {event['status']}"
    if kind == "change":
        return f"changed ({event['status']})"
    if kind == "alert":
        return f"alert {event['kind']}"
    if kind == "intervention":
        return f"{event['kind']} work"
    return f"run {event['status']}"


def _check(event: dict[str, object]) -> str:
    if not event["check"]:
        return "-"
    return f"{event['check']}" + (f" [{event['item']}]" if event.get("item") else "")


def _detail(event: dict[str, object]) -> str:
    who = f" (by {event['who']})" if event.get("who") else ""
    source = f"[{event['kind']}] " if event["type"] in ("status", "change") and event["kind"] else ""
    return f"{source}{event['summary'] or ''}{who}"
