"""Interventions: the work a person did for a client, on record (``maintctl intervention``).

An intervention is one of the four kinds of maintenance (:data:`KINDS`): préventive (done
before anything failed), corrective (a fault found and fixed), évolutive (an improvement or an
upgrade asked for) and curative (a repair after a breakdown). It may name one of the client's
hosts, the alert it answered (:func:`maintcore.supervision.get_alert` refuses another
client's) or the result it acted on, how many minutes it took and who did it.

Nothing is lost: an edit keeps the values it replaced (``intervention_edits``: who, when, which
field), and a deletion only marks the row (who, when, why); deleted interventions are left out of
listings and of the monthly report (:func:`for_period`) unless asked for.

The monthly report reads :func:`for_period` and prices the minutes with :func:`cost` at the
policy's ``report.technician_rate`` (:func:`totals` sums them by kind).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from maint_utils import maint_clock

from . import supervision
from .errors import InvalidInput, clip
from .store import Store

KINDS = ("preventive", "corrective", "evolutive", "curative")
DEFAULT_KIND = "corrective"
MAX_MINUTES = 7 * 24 * 60          # one intervention of more than a week is a typing error
MAX_SUMMARY = 2000
MAX_REASON = 500
FUTURE_GRACE = dt.timedelta(minutes=5)   # clocks differ a little; work is not done in the future
EDITABLE = ("summary", "minutes", "kind", "at", "host")
PERIOD_FIELDS = ("id", "kind", "host", "summary", "minutes", "at", "who", "alert_id", "result_id")


# -- validation ----------------------------------------------------------------------------------
def check_kind(kind: str) -> str:
    """Return ``kind`` if it is one of :data:`KINDS`, else raise InvalidInput naming --kind."""
    if kind not in KINDS:
        raise InvalidInput(f"--kind: {clip(kind, 40)!r} is not one of {', '.join(KINDS)}")
    return kind


def check_summary(summary: str) -> str:
    """Return the summary on one line; refuse an empty or too long one."""
    text = " ".join(str(summary).split())
    if not text:
        raise InvalidInput("--summary: say what was done")
    if len(text) > MAX_SUMMARY:
        raise InvalidInput(f"--summary: {len(text)} characters, at most {MAX_SUMMARY}")
    return text


def check_minutes(minutes: int | None) -> int | None:
    """Return the minutes spent (None when not given); refuse a negative or absurd number."""
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_MINUTES:
        raise InvalidInput(f"--minutes: {clip(minutes, 20)!r}: expected a whole number from 0 to {MAX_MINUTES}")
    return minutes


def check_at(at: str, now: dt.datetime | None = None) -> str:
    """Return ``at`` as an ISO UTC time; refuse an unreadable one or one in the future."""
    try:
        when = maint_clock.parse_iso(at)
    except (AttributeError, TypeError, ValueError):
        raise InvalidInput(f"--at: {clip(at, 60)!r} is not an ISO time") from None
    current = now or maint_clock.now()
    if when > current + FUTURE_GRACE:
        raise InvalidInput(f"--at: {maint_clock.to_iso(when)} is in the future: an intervention is work done")
    stamp: str = maint_clock.to_iso(when)
    return stamp


def _alert_host(store: Store, client: str, alert_id: int) -> str:
    return str(supervision.get_alert(store, client, alert_id)["host"])


def _result_host(store: Store, client: str, result_id: int) -> str:
    row = store.db.execute("SELECT host FROM results WHERE id=? AND client=?", (result_id, client)).fetchone()
    if row is None:
        raise InvalidInput(f"--result: {result_id}: no such result for client {client}")
    return str(row["host"])


def _links(store: Store, client: str, host: str | None, alert_id: int | None,
           result_id: int | None) -> str | None:
    """Check the alert and the result are the client's and about ``host``; return the host.

    Without ``host``, the host of the alert (else of the result) is taken.
    """
    alert_host = _alert_host(store, client, alert_id) if alert_id is not None else None
    result_host = _result_host(store, client, result_id) if result_id is not None else None
    if host is not None and alert_host is not None and alert_host != host:
        raise InvalidInput(f"--host: alert {alert_id} is about host {alert_host}, not {host}")
    host = host if host is not None else alert_host
    if host is not None and result_host is not None and result_host != host:
        raise InvalidInput(f"--result: result {result_id} is about host {result_host}, not {host}")
    return host if host is not None else result_host


# -- writing ---------------------------------------------------------------------------------------
def add(store: Store, client: str, summary: str, who: str, *, host: str | None = None,
        minutes: int | None = None, at: str | None = None, kind: str = DEFAULT_KIND,
        alert_id: int | None = None, result_id: int | None = None) -> int:
    """Record an intervention and return its id.

    ``host`` must already be known to be one of the client's hosts (the CLI checks the
    inventory); when it is not given, the host of the alert or result is taken.
    """
    text = check_summary(summary)
    check_kind(kind)
    spent = check_minutes(minutes)
    now = maint_clock.now()
    when = check_at(at, now) if at else maint_clock.to_iso(now)
    host = _links(store, client, host, alert_id, result_id)
    with store.transaction() as db:
        cur = db.execute(
            "INSERT INTO interventions (client, host, kind, summary, minutes, at, who, alert_id, result_id, created)"
            " VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (client, host, kind, text, spent, when, clip(who, 80), alert_id, result_id, maint_clock.to_iso(now)))
        return int(cur.fetchone()[0])


def _row(store: Store, client: str, intervention_id: int) -> dict[str, Any]:
    row = store.db.execute("SELECT * FROM interventions WHERE id=? AND client=?",
                           (intervention_id, client)).fetchone()
    if row is None:
        raise InvalidInput(f"intervention {intervention_id}: no such intervention for client {client}")
    return dict(row)


def get(store: Store, client: str, intervention_id: int) -> dict[str, Any]:
    """Return one of the client's interventions (deleted ones too) with its edits, oldest first."""
    rec = _row(store, client, intervention_id)
    rec["edits"] = [dict(r) for r in store.db.execute(
        "SELECT at, who, field, old_value, new_value FROM intervention_edits WHERE intervention_id=?"
        " ORDER BY at, id", (intervention_id,))]
    return rec


def edit(store: Store, client: str, intervention_id: int, who: str, **changes: Any) -> list[str]:
    """Change some of :data:`EDITABLE` of an intervention; keep who, when and the old values.

    ``changes`` maps field names to new values (None: unchanged). Returns the fields that
    changed (none when every value was already the same).
    """
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(f"intervention edit: {', '.join(unknown)} cannot be edited")
    wanted = {name: value for name, value in changes.items() if value is not None}
    if not wanted:
        raise InvalidInput("intervention edit: give at least one of --summary, --minutes, --kind, --at, --host")
    current = _row(store, client, intervention_id)
    if current["deleted"]:
        raise InvalidInput(f"intervention {intervention_id} was deleted: it cannot be edited")
    now = maint_clock.now()
    checked: dict[str, Any] = {}
    for name, value in wanted.items():
        if name == "summary":
            checked[name] = check_summary(value)
        elif name == "minutes":
            checked[name] = check_minutes(value)
        elif name == "kind":
            checked[name] = check_kind(value)
        elif name == "at":
            checked[name] = check_at(value, now)
        else:
            checked[name] = str(value)
            _links(store, client, checked[name], current["alert_id"], current["result_id"])
    changed = [name for name in EDITABLE if name in checked and checked[name] != current[name]]
    if not changed:
        return []
    stamp, by = maint_clock.to_iso(now), clip(who, 80)
    with store.transaction() as db:
        db.execute(f"UPDATE interventions SET {', '.join(f'{name}=?' for name in changed)}, edited=?, edited_by=?"
                   " WHERE id=? AND client=?",
                   (*(checked[name] for name in changed), stamp, by, intervention_id, client))
        db.executemany(
            "INSERT INTO intervention_edits (intervention_id, at, who, field, old_value, new_value)"
            " VALUES (?,?,?,?,?,?)",
            [(intervention_id, stamp, by, name, None if current[name] is None else str(current[name]),
              str(checked[name])) for name in changed])
    return changed


def delete(store: Store, client: str, intervention_id: int, who: str, reason: str) -> None:
    """Mark an intervention deleted (kept, with who, when and why)."""
    why = " ".join(str(reason).split())
    if not why:
        raise InvalidInput("--reason: say why the intervention is deleted")
    if len(why) > MAX_REASON:
        raise InvalidInput(f"--reason: {len(why)} characters, at most {MAX_REASON}")
    current = _row(store, client, intervention_id)
    if current["deleted"]:
        raise InvalidInput(f"intervention {intervention_id} is already deleted")
    with store.transaction() as db:
        db.execute("UPDATE interventions SET deleted=?, deleted_by=?, deleted_reason=? WHERE id=? AND client=?",
                   (maint_clock.to_iso(maint_clock.now()), clip(who, 80), why, intervention_id, client))


# -- reading ----------------------------------------------------------------------------------------
def list_interventions(store: Store, client: str, since: str | None = None, until: str | None = None,
                       host: str | None = None, kind: str | None = None,
                       deleted: bool = False) -> list[dict[str, Any]]:
    """Return a client's interventions done in [since, until), newest first (deleted ones with ``deleted``)."""
    sql = "SELECT * FROM interventions WHERE client=?"
    args: list[Any] = [client]
    if not deleted:
        sql += " AND deleted IS NULL"
    for column, value in (("host", host), ("kind", kind)):
        if value:
            sql += f" AND {column}=?"
            args.append(value)
    if since:
        sql += " AND at>=?"
        args.append(since)
    if until:
        sql += " AND at<?"
        args.append(until)
    return [dict(r) for r in store.db.execute(sql + " ORDER BY at DESC, id DESC", args)]


def for_period(store: Store, client: str, since: str, until: str) -> list[dict[str, Any]]:
    """Return the client's manual interventions done in [since, until), oldest first, for the report.

    Each is ``{id, kind, host, summary, minutes, at, who, alert_id, result_id}``; deleted
    interventions are left out. ``host`` is None for work on the client as a whole and
    ``minutes`` None when the time spent was not recorded.
    """
    rows = store.db.execute(
        f"SELECT {', '.join(PERIOD_FIELDS)} FROM interventions WHERE client=? AND deleted IS NULL"
        " AND at>=? AND at<? ORDER BY at, id", (client, since, until))
    return [dict(r) for r in rows]


def cost(minutes: int | None, rate: float | None) -> float | None:
    """Return what ``minutes`` of work cost at an hourly ``rate``, rounded to cents (None if either is None)."""
    if minutes is None or rate is None:
        return None
    return round(minutes / 60 * float(rate), 2)


def totals(rows: list[dict[str, Any]], rate: float | None) -> dict[str, Any]:
    """Sum interventions (as :func:`for_period` returns them): count, minutes and cost, overall and by kind.

    ``cost`` is None without a rate. Interventions without minutes count, and cost nothing.
    """
    def zero() -> dict[str, Any]:
        return {"count": 0, "minutes": 0, "cost": None if rate is None else 0.0}

    out = zero()
    out["by_kind"] = {kind: zero() for kind in KINDS}
    for row in rows:
        for bucket in (out, out["by_kind"][row["kind"]]):
            bucket["count"] += 1
            bucket["minutes"] += row["minutes"] or 0
    for bucket in (out, *out["by_kind"].values()):
        bucket["cost"] = cost(bucket["minutes"], rate)
    return out
