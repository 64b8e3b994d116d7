"""Availability in minutes, from the probe spans and the scheduled downtime (pure: no I/O).

Over a period, every second of a host falls in exactly one bucket:

* ``planned``: inside a scheduled downtime (by hand, or a maintenance window's reboot);
* ``down``: its availability probe (management port, or primary service) did not answer;
* ``up``: it answered;
* ``unknown``: nobody probed it (the controller was down, the host was not yet supervised).
  A gap is never counted as available.

The rate is ``up / (up + down)``: the measured time outside scheduled downtime. It is
``None`` when nothing was measured. ``coverage`` says how much of the period outside
downtime was measured, so that a 100 % over two days of a month reads as what it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from maint_utils import maint_clock

UP, DOWN, UNKNOWN, PLANNED = "up", "down", "unknown", "planned"


def _clip(start: dt.datetime, end: dt.datetime, since: dt.datetime,
          until: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    lo, hi = max(start, since), min(end, until)
    return (lo, hi) if hi > lo else None


def timeline(spans: Iterable[dict[str, Any]], downtimes: Iterable[dict[str, Any]], since: dt.datetime,
             until: dt.datetime) -> list[tuple[dt.datetime, dt.datetime, str]]:
    """Return the period cut into ``(start, end, bucket)`` pieces, in order, adjacent pieces merged.

    ``spans`` have ``status``, ``start`` and ``end`` (ISO strings); a piece covered by a down span
    and an up span at once (two availability probes overlapping) is down. ``downtimes`` have
    ``start`` and ``end``.
    """
    marks: list[tuple[dt.datetime, int, str]] = []  # (time, +1/-1, kind)
    for span in spans:
        kind = UP if span["status"] == "ok" else (UNKNOWN if span["status"] in ("unknown", "skipped") else DOWN)
        piece = _clip(maint_clock.parse_iso(span["start"]), maint_clock.parse_iso(span["end"]), since, until)
        if piece and kind != UNKNOWN:
            marks += [(piece[0], 1, kind), (piece[1], -1, kind)]
    for down in downtimes:
        piece = _clip(maint_clock.parse_iso(down["start"]), maint_clock.parse_iso(down["end"]), since, until)
        if piece:
            marks += [(piece[0], 1, PLANNED), (piece[1], -1, PLANNED)]
    marks.sort(key=lambda m: m[0])
    active = {UP: 0, DOWN: 0, PLANNED: 0}
    pieces: list[tuple[dt.datetime, dt.datetime, str]] = []
    cursor = since
    index = 0
    while cursor < until:
        while index < len(marks) and marks[index][0] <= cursor:
            active[marks[index][2]] += marks[index][1]
            index += 1
        nxt = marks[index][0] if index < len(marks) else until
        nxt = min(nxt, until)
        if active[PLANNED] > 0:
            kind = PLANNED
        elif active[DOWN] > 0:
            kind = DOWN
        elif active[UP] > 0:
            kind = UP
        else:
            kind = UNKNOWN
        if nxt > cursor:
            if pieces and pieces[-1][2] == kind and pieces[-1][1] == cursor:
                pieces[-1] = (pieces[-1][0], nxt, kind)
            else:
                pieces.append((cursor, nxt, kind))
        cursor = nxt
    return pieces


def summarize(pieces: Sequence[tuple[dt.datetime, dt.datetime, str]],
              target_pct: float | None = None) -> dict[str, Any]:
    """Return minutes per bucket, the rate, outages (count, longest, list) and the target's verdict."""
    seconds = {UP: 0.0, DOWN: 0.0, UNKNOWN: 0.0, PLANNED: 0.0}
    outages = []
    for start, end, kind in pieces:
        seconds[kind] += (end - start).total_seconds()
        if kind == DOWN:
            outages.append({"start": maint_clock.to_iso(start), "end": maint_clock.to_iso(end),
                            "minutes": round((end - start).total_seconds() / 60, 1)})
    measured = seconds[UP] + seconds[DOWN]
    outside = measured + seconds[UNKNOWN]
    rate = round(100 * seconds[UP] / measured, 3) if measured else None
    return {
        "rate": rate,
        "target": target_pct,
        "meets_target": None if rate is None or target_pct is None else rate >= target_pct,
        "up_minutes": round(seconds[UP] / 60, 1),
        "down_minutes": round(seconds[DOWN] / 60, 1),
        "unknown_minutes": round(seconds[UNKNOWN] / 60, 1),
        "planned_minutes": round(seconds[PLANNED] / 60, 1),
        "coverage": round(100 * measured / outside, 1) if outside else None,
        "outages": len(outages),
        "longest_outage_minutes": max((o["minutes"] for o in outages), default=0.0),
        "outage_list": outages,
    }


def by_host(spans: Iterable[dict[str, Any]], downtimes: Iterable[dict[str, Any]], hosts: Iterable[str],
            since: dt.datetime, until: dt.datetime, target_pct: float | None = None) -> dict[str, Any]:
    """Return ``{"hosts": {host: summary}, "client": summary}`` for a period.

    A host with no span at all is entirely unknown. The client's rate is the sum of the hosts'
    up time over the sum of their measured time.
    """
    span_list = list(spans)
    down_list = list(downtimes)
    per_host: dict[str, Any] = {}
    names = sorted(set(hosts) | {s["host"] for s in span_list})
    for host in names:
        pieces = timeline([s for s in span_list if s["host"] == host],
                          [d for d in down_list if d["host"] in (host, "*")], since, until)
        per_host[host] = {**summarize(pieces, target_pct),
                          "timeline": [(maint_clock.to_iso(a), maint_clock.to_iso(b), k) for a, b, k in pieces]}
    totals = {k: sum(h[f"{k}_minutes"] for h in per_host.values()) for k in (UP, DOWN, UNKNOWN, PLANNED)}
    measured = totals[UP] + totals[DOWN]
    rate = round(100 * totals[UP] / measured, 3) if measured else None
    client = {
        "rate": rate, "target": target_pct,
        "meets_target": None if rate is None or target_pct is None else rate >= target_pct,
        **{f"{k}_minutes": round(v, 1) for k, v in totals.items()},
        "coverage": round(100 * measured / (measured + totals[UNKNOWN]), 1) if measured + totals[UNKNOWN] else None,
        "outages": sum(h["outages"] for h in per_host.values()),
        "longest_outage_minutes": max((h["longest_outage_minutes"] for h in per_host.values()), default=0.0),
        "hosts_meeting_target": sum(1 for h in per_host.values() if h["meets_target"]),
        "hosts": len(per_host),
    }
    return {"hosts": per_host, "client": client}
