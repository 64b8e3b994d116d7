"""``maintctl window --client NAME``: show the client's current and next maintenance windows.

Times are shown in the client's timezone and in UTC. "Now" comes from ``maint_utils.maint_clock``
(``MAINT_TEST_NOW`` fixes it in tests). Exit 2 when the policy's windows are malformed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from maint_utils import maint_clock, maint_window
from maint_utils.checks import AREAS
from maintcore.errors import InvalidInput
from maintcore.inventory import load_policy

from . import schedule


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``window`` subcommand."""
    parser = sub.add_parser("window", help="show a client's next maintenance windows (local time and UTC)")
    parser.add_argument("--client", required=True, metavar="NAME", help="client (inventory) name")
    parser.add_argument("--count", type=int, default=5, metavar="N", help="how many windows to show (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run)


def _fmt(when: dt.datetime, tz: dt.tzinfo) -> str:
    local = when.astimezone(tz)
    return local.strftime("%a %Y-%m-%d %H:%M %Z")


def _span(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}"


def _as_dict(window: maint_window.Window, now: dt.datetime) -> dict[str, Any]:
    return {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "start_utc": maint_clock.to_iso(window.start),
        "end_utc": maint_clock.to_iso(window.end),
        "duration_minutes": int(window.duration.total_seconds() // 60),
        "remaining_minutes": int(window.remaining(now).total_seconds() // 60) if window.contains(now) else None,
        "sources": list(window.sources),
    }


def run(args: argparse.Namespace) -> int:
    """Print the client's current window (if any) and the next ``--count`` windows."""
    if args.count < 1:
        raise InvalidInput(f"--count {args.count}: must be at least 1")
    policy = load_policy(args.client)
    windows = maint_window.from_policy(policy)
    now = maint_clock.now()
    current = windows.current(now)
    upcoming = windows.next(now, args.count)
    runs = schedule.from_policy(policy, AREAS)
    slots = runs.upcoming(now, args.count)
    if args.json:
        print(json.dumps({
            "client": args.client,
            "timezone": str(windows.tz),
            "now": maint_clock.to_iso(now),
            "current": _as_dict(current, now) if current else None,
            "next": [_as_dict(w, now) for w in upcoming],
            "scheduled_runs": [{"key": s.entry.key, "areas": list(s.entry.areas), "at": s.at.isoformat(),
                                "at_utc": maint_clock.to_iso(s.at)} for s in slots],
        }, indent=2))
        return 0
    utc = dt.UTC
    print(f"client {args.client}: timezone {windows.tz}, now {_fmt(now, windows.tz)} ({_fmt(now, utc)})")
    print("windows: " + ("; ".join(s.text for s in windows.specs) or "none")
          + "; exceptions: " + (", ".join(sorted(str(d) for d in windows.exceptions)) or "none"))
    if current:
        print(f"now: inside a window until {_fmt(current.end, windows.tz)} ({_fmt(current.end, utc)}), "
              f"{_span(current.remaining(now))} left")
    else:
        print("now: outside any window")
    print("next windows:" + ("" if upcoming else " none"))
    for window in upcoming:
        print(f"  {_fmt(window.start, windows.tz)} -> {_fmt(window.end, windows.tz)}"
              f"   ({_fmt(window.start, utc)} -> {_fmt(window.end, utc)})   {_span(window.duration)}")
    print("next scheduled runs (maintctl tick):" + ("" if slots else " none (no schedule)"))
    for slot in slots:
        areas = ",".join(slot.entry.areas)
        print(f"  {_fmt(slot.at, windows.tz)}   ({_fmt(slot.at, utc)})   {slot.entry.key}: {areas}")
    return 0
