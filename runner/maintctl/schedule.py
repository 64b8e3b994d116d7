"""Scheduled runs: parse a client's ``schedule`` and answer "which runs fell due since then?".

Pure Python (standard library, ``maintcore.errors`` and the wall-clock rules of
``maint_utils.maint_window``). ``maintctl tick`` uses it to start each client's runs on time.

Format: the policy's ``schedule`` maps what to run to when, in the client's timezone::

    schedule:
      maintenance: "Mon-Fri 21:00"      # every area
      backup: "Sun 03:00"               # one area: hardware, antivirus, backup or patch
      hardware: "Mon-Sun 08:00; Mon-Sun 14:00"   # several times: separated by ';'

* Days use the window syntax (``Mon-Fri``, ``Mon,Wed``, ``Fri-Mon``); the time is ``HH:MM``.
* Times follow the wall clock, with the window rules for daylight saving time: a time that
  does not exist (spring forward) runs at the instant the clocks jump; a time that exists
  twice (fall back) runs once, at its first occurrence.
* A run that installs patches (``maintenance`` or ``patch``) must start inside a maintenance
  window: :func:`outside_windows` finds the times that do not, for ``maintctl validate``.

Supervision's cycles are the keys ``probe`` (availability probes, typically ``every 1 min``) and
``watch`` (health watch, typically ``every 5 min`` to ``every 15 min``): ``every N min`` or
``every N s``, from 10 seconds to 24 hours. :func:`cycles` reads them; a tick starts a cycle when
its interval has passed since the last one started (``maintctl tick``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from maint_utils import maint_window
from maintcore.errors import InvalidInput

_SPEC_RE = re.compile(r"^\s*(?P<days>\S+)\s+(?P<time>\d{1,2}:\d{2})\s*$")
_EVERY_RE = re.compile(
    r"^\s*every\s+(?P<n>\d{1,5})\s*(?P<unit>s|sec|second|seconds|min|mins|minute|minutes|h|hour|hours)\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
ALL_AREAS_KEY = "maintenance"
CYCLE_KEYS = ("probe", "watch")
CYCLE_RANGE = (10, 86400)


def parse_every(key: str, spec: Any) -> int:
    """Parse a cycle such as ``every 5 min`` into seconds (InvalidInput naming ``schedule.<key>``)."""
    where = f"schedule.{key}"
    match = _EVERY_RE.match(spec) if isinstance(spec, str) else None
    if not match:
        raise InvalidInput(f"{where}: expected 'every N min' or 'every N s', e.g. 'every 5 min'")
    seconds = int(match.group("n")) * _UNIT_SECONDS[match.group("unit")[0].lower()]
    if not CYCLE_RANGE[0] <= seconds <= CYCLE_RANGE[1]:
        raise InvalidInput(f"{where}: {spec.strip()!r}: the interval must be between 10 s and 24 h")
    return seconds


def cycles(policy: Mapping[str, Any]) -> dict[str, int]:
    """Return the supervision cycles of a policy: ``{"probe": seconds, "watch": seconds}`` (those set)."""
    sched = policy.get("schedule") or {}
    if not isinstance(sched, Mapping):
        return {}
    return {key: parse_every(key, sched[key]) for key in CYCLE_KEYS if key in sched}


@dataclass(frozen=True)
class Entry:
    """One scheduled time: ``key`` (an area or ``maintenance``) at ``minute`` on ``weekdays``."""

    key: str
    areas: tuple[str, ...]
    text: str
    weekdays: frozenset[int]
    minute: int


@dataclass(frozen=True)
class Slot:
    """One occurrence of an entry: the instant it falls due."""

    entry: Entry
    at: dt.datetime


def parse_entry(key: str, spec: str, areas: Sequence[str]) -> list[Entry]:
    """Parse one schedule item, such as ``("maintenance", "Mon-Fri 21:00")``.

    Raises:
        InvalidInput: with a one-line message naming the item and what is wrong.
    """
    where = f"schedule.{key}"
    if key == ALL_AREAS_KEY:
        run_areas = tuple(areas)
    elif key in areas:
        run_areas = (key,)
    else:
        raise InvalidInput(f"{where}: unknown key {key!r} (use {ALL_AREAS_KEY}, one of {', '.join(areas)},"
                           f" or a supervision cycle: {', '.join(CYCLE_KEYS)})")
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInput(f"{where}: expected a string such as 'Mon-Fri 21:00'")
    entries = []
    for part in spec.split(";"):
        match = _SPEC_RE.match(part)
        if not match:
            raise InvalidInput(f"{where}: {part.strip()!r}: expected 'DAYS HH:MM', e.g. 'Mon-Fri 21:00'")
        try:
            weekdays = maint_window.parse_days(match.group("days"))
            minute = maint_window.parse_clock(match.group("time"))
        except ValueError as exc:
            raise InvalidInput(f"{where}: {part.strip()!r}: {exc}") from None
        entries.append(Entry(key, run_areas, " ".join(part.split()), weekdays, minute))
    return entries


class RunSchedule:
    """A client's scheduled runs in its timezone."""

    def __init__(self, entries: Sequence[Entry], tz: ZoneInfo) -> None:
        self.entries = tuple(entries)
        self.tz = tz

    def slots(self, since: dt.datetime, until: dt.datetime) -> list[Slot]:
        """Return every slot with ``since < at <= until``, in time order."""
        if since.tzinfo is None or until.tzinfo is None:
            raise ValueError("since and until must be aware datetimes")
        found: list[Slot] = []
        day = since.astimezone(self.tz).date() - dt.timedelta(days=1)
        last = until.astimezone(self.tz).date() + dt.timedelta(days=1)
        while day <= last:
            for entry in self.entries:
                if day.weekday() in entry.weekdays:
                    at = maint_window.local_instant(day, entry.minute, self.tz)
                    if since < at <= until:
                        found.append(Slot(entry, at))
            day += dt.timedelta(days=1)
        return sorted(found, key=lambda s: (s.at, s.entry.key))

    def upcoming(self, now: dt.datetime, count: int = 5, days: int = 31) -> list[Slot]:
        """Return the next ``count`` slots after ``now`` (searched ``days`` ahead)."""
        return self.slots(now, now + dt.timedelta(days=days))[:count]


def load_run_schedule(schedule: Mapping[str, str] | None, timezone: str, areas: Sequence[str]) -> RunSchedule:
    """Parse a client's ``schedule`` mapping (absent or empty: nothing is scheduled)."""
    if schedule is None:
        schedule = {}
    if not isinstance(schedule, Mapping):
        raise InvalidInput("schedule: expected a mapping such as {maintenance: 'Mon-Fri 21:00'}")
    tz = maint_window.load_timezone(timezone)
    entries = [entry for key, spec in schedule.items() if str(key) not in CYCLE_KEYS
               for entry in parse_entry(str(key), spec, areas)]
    for key in CYCLE_KEYS:
        if key in schedule:
            parse_every(key, schedule[key])
    return RunSchedule(entries, tz)


def from_policy(policy: Mapping[str, Any], areas: Sequence[str]) -> RunSchedule:
    """Return the run schedule of a ``maint_policy`` mapping."""
    return load_run_schedule(policy.get("schedule"), policy.get("timezone") or "", areas)


def needs_window(slot: Slot) -> bool:
    """True when the slot's run installs patches, so it must start inside a window."""
    return "patch" in slot.entry.areas


def outside_windows(runs: RunSchedule, windows: maint_window.Schedule, start: dt.datetime | None = None) -> list[str]:
    """Return one line per scheduled patch time that falls outside every window.

    The check is made on the weekly pattern in wall-clock time (a run "Mon 21:00" against
    the windows' days and times), so its answer does not depend on the date it is made:
    daylight saving time is not looked at. On the night of a DST change, a run whose wall
    time does not exist, or a window edge that moves, can put the real start outside the
    window; the tick and the run check the real instant, and that night's run then only
    scans for patches (``--scan-only``) or is refused. Exception dates are ignored here too:
    on those days a scheduled run only scans for patches.

    ``start`` only chooses which failing day a line names first (the days are tried from
    its weekday on; Monday when it is None).
    """
    first = start.astimezone(runs.tz).weekday() if start is not None else 0
    problems: dict[str, str] = {}
    for entry in runs.entries:
        if "patch" not in entry.areas or entry.text in problems:
            continue
        for offset in range(7):
            day = (first + offset) % 7
            if day in entry.weekdays and not _in_weekly_windows(day, entry.minute, windows.specs):
                problems[entry.text] = (
                    f"schedule.{entry.key}: {entry.text!r}: {maint_window.DAYS[day].title()} "
                    f"{entry.minute // 60:02d}:{entry.minute % 60:02d} is outside every maintenance window, "
                    "and this run installs patches")
                break
    return list(problems.values())


def _in_weekly_windows(day: int, minute: int, specs: Sequence[maint_window.WindowSpec]) -> bool:
    """True when wall time ``minute`` of weekday ``day`` is inside a window (start in, end out)."""
    week = 7 * 1440
    at = day * 1440 + minute
    for spec in specs:
        length = (spec.end_min + (1440 if spec.crosses_midnight else 0)) - spec.start_min
        for start_day in spec.weekdays:
            if (at - (start_day * 1440 + spec.start_min)) % week < length:
                return True
    return False


def iter_due(runs: RunSchedule, last_tick: dt.datetime | None, now: dt.datetime,
             catch_up: dt.timedelta) -> Iterator[Slot]:
    """Yield the slots due at ``now``: after the last tick, and no older than ``catch_up``.

    A controller that was down longer than ``catch_up`` does not start last night's run in
    the morning; the next scheduled time runs as usual.
    """
    since = now - catch_up
    if last_tick is not None and last_tick > since:
        since = last_tick
    yield from runs.slots(since, now)
