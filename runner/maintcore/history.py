"""A host's whole history, or a client's: one timeline, newest first (``maintctl history``).

Five sources, each event with the id of its evidence:

* ``run``: every maintenance run that touched the host (it stored a result of the host), or
  every run of the client; probe and watch cycles (``runs.kind`` probe, watch) are not runs
  here, they show through their results' status changes;
* ``status``: result changes, computed from the results of each host/check/item in time
  order: the first result of a key and each change of its status (an ok after an ok is not
  an event; an ok after a critical is);
* ``change``: a result that changed something on the host (``changed``), status changed or not;
* ``alert``: every transition of the host's alerts (``alert_events``: opened, worsened,
  escalated, acknowledged, note, resolved);
* ``intervention``: the work people recorded (deleted interventions are left out).

Each query reads one host's rows through an index (``results (client, host, finished)``),
and the status changes come from SQL's ``LAG`` over those rows; with ``since``, the status
before the period is one indexed look-up per key. Sources are merged lazily, so ``limit``
stops reading once enough events are out.
"""

from __future__ import annotations

import fnmatch
import heapq
import itertools
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from .store import Store

CYCLES = ("probe", "watch")
TYPES = ("run", "status", "change", "alert", "intervention")
# Same instant: what follows from an event is shown above it (newest first).
_RANK = {"run": 0, "status": 1, "change": 1, "alert": 2, "intervention": 3}


def like_pattern(glob: str) -> str:
    """Return a LIKE pattern (escape: backslash) matching at least every check id ``glob`` matches.

    ``*`` and ``?`` become ``%`` and ``_``; a character class (``[...]``), which LIKE cannot say,
    matches anything from there on. The exact match is :func:`fnmatch.fnmatchcase`, in Python.
    """
    out = []
    for char in glob:
        if char == "[":
            out.append("%")
            break
        out.append({"*": "%", "?": "_", "%": "\\%", "_": "\\_", "\\": "\\\\"}.get(char, char))
    return "".join(out)


def _matches(check: str | None, glob: str | None) -> bool:
    return glob is None or (check is not None and fnmatch.fnmatchcase(check, glob))


def _run_covers(areas: str, glob: str | None) -> bool:
    """True when a run's areas may hold checks matching ``glob`` (every run makes ``run.*`` results)."""
    if glob is None:
        return True
    area = glob.split(".", 1)[0]
    return any(fnmatch.fnmatchcase(name, area) for name in ("run", *areas.split(",")))


def _where(column_prefix: str, client: str, host: str | None, since: str | None, until: str | None,
           time_column: str) -> tuple[str, list[Any]]:
    sql = f"{column_prefix}client=?"
    args: list[Any] = [client]
    if host is not None:
        sql += f" AND {column_prefix}host=?"
        args.append(host)
    if since:
        sql += f" AND {time_column}>=?"
        args.append(since)
    if until:
        sql += f" AND {time_column}<?"
        args.append(until)
    return sql, args


def _evidence(event: dict[str, Any]) -> dict[str, Any]:
    event["evidence"] = {
        "run": f"run {event.get('run_id')}", "status": f"result {event.get('result_id')}",
        "change": f"result {event.get('result_id')}", "alert": f"alert {event.get('alert_id')}",
        "intervention": f"intervention {event.get('intervention_id')}",
    }[event["type"]]
    return event


# -- the sources, each newest first ------------------------------------------------------------------
def runs(db: sqlite3.Connection, client: str, host: str | None, since: str | None, until: str | None,
         check: str | None) -> Iterator[dict[str, Any]]:
    """The runs (not probe or watch cycles) of the client, or those that stored a result of ``host``."""
    if host is None:
        where, args = _where("", client, None, since, until, "started")
        rows: Iterable[sqlite3.Row] = db.execute(
            f"SELECT *, NULL AS results, NULL AS not_ok, NULL AS changes FROM runs WHERE {where}"
            f" AND kind NOT IN ({', '.join('?' * len(CYCLES))}) ORDER BY started DESC, run_id DESC",
            [*args, *CYCLES])
    else:
        where, args = _where("", client, host, since, until, "finished")
        rows = db.execute(
            "SELECT runs.*, c.results, c.not_ok, c.changes FROM (SELECT run_id, COUNT(*) AS results,"
            " SUM(CASE WHEN status IN ('ok', 'skipped') THEN 0 ELSE 1 END) AS not_ok, SUM(changed) AS changes"
            f" FROM results WHERE {where} GROUP BY run_id) c JOIN runs ON runs.run_id=c.run_id"
            f" WHERE runs.kind NOT IN ({', '.join('?' * len(CYCLES))}) ORDER BY runs.started DESC, runs.run_id DESC",
            [*args, *CYCLES])
    for row in rows:
        if not _run_covers(row["areas"], check):
            continue
        counts = "" if row["results"] is None else (
            f": {row['results']} results, {row['not_ok']} not ok, {row['changes']} changed")
        yield _evidence({
            "at": row["started"], "type": "run", "kind": row["kind"], "host": host, "check": None, "item": None,
            "status": row["status"], "previous": None, "summary": f"{row['kind']} run ({row['areas']})"
            f" {row['status']}" + (" in check mode" if row["check_mode"] else "") + counts,
            "who": None, "run_id": row["run_id"], "result_id": None, "alert_id": None, "intervention_id": None,
            "finished": row["finished"], "areas": row["areas"], "results": row["results"],
            "not_ok": row["not_ok"], "changes": row["changes"], "_order": row["run_id"],
        })


def result_changes(db: sqlite3.Connection, client: str, host: str | None, since: str | None,
                   until: str | None, check: str | None) -> Iterator[dict[str, Any]]:
    """Status changes (first result of a key, each change of status) and changes made, newest first."""
    where, args = _where("r.", client, host, since, until, "r.finished")
    if check is not None:
        where += " AND r.check_id LIKE ? ESCAPE '\\'"
        args.append(like_pattern(check))
    previous = "LAG(r.status) OVER w"
    prior: list[Any] = []
    if since:
        # The first result of a key in the period: the status before it is the key's last before the period.
        previous = (f"COALESCE({previous}, (SELECT p.status FROM results p WHERE p.client=r.client"
                    " AND p.host=r.host AND p.check_id=r.check_id AND p.item=r.item AND p.finished<?"
                    " ORDER BY p.finished DESC, p.id DESC LIMIT 1))")
        prior.append(since)
    sql = (
        "SELECT t.*, runs.kind AS source FROM (SELECT r.id, r.run_id, r.host, r.check_id, r.item, r.status,"
        f" r.severity, r.summary, r.changed, r.finished, {previous} AS previous"
        f" FROM results r WHERE {where}"
        " WINDOW w AS (PARTITION BY r.host, r.check_id, r.item ORDER BY r.finished, r.id)) t"
        " LEFT JOIN runs ON runs.run_id=t.run_id"
        " WHERE t.previous IS NULL OR t.previous<>t.status OR t.changed=1"
        " ORDER BY t.finished DESC, t.id DESC")
    for row in db.execute(sql, [*prior, *args]):
        if not _matches(row["check_id"], check):
            continue
        kind = "change" if row["changed"] else "status"
        yield _evidence({
            "at": row["finished"], "type": kind, "kind": row["source"], "host": row["host"],
            "check": row["check_id"], "item": row["item"], "status": row["status"],
            "previous": row["previous"], "summary": row["summary"], "severity": row["severity"], "who": None,
            "run_id": row["run_id"], "result_id": row["id"], "alert_id": None, "intervention_id": None,
            "_order": row["id"],
        })


def alert_events(db: sqlite3.Connection, client: str, host: str | None, since: str | None,
                 until: str | None, check: str | None) -> Iterator[dict[str, Any]]:
    """Every transition of the alerts of the client (or of ``host``), newest first."""
    where, args = _where("a.", client, host, since, until, "e.at")
    if check is not None:
        where += " AND a.check_id LIKE ? ESCAPE '\\'"
        args.append(like_pattern(check))
    rows = db.execute(
        "SELECT e.*, a.host, a.check_id, a.item, a.summary AS alert_summary FROM alert_events e"
        f" JOIN alerts a ON a.id=e.alert_id WHERE {where} ORDER BY e.at DESC, e.id DESC", args)
    for row in rows:
        if not _matches(row["check_id"], check):
            continue
        yield _evidence({
            "at": row["at"], "type": "alert", "kind": row["kind"], "host": row["host"], "check": row["check_id"],
            "item": row["item"], "status": row["status"], "previous": None,
            "summary": row["note"] or row["alert_summary"], "severity": row["severity"], "who": row["who"],
            "run_id": None, "result_id": row["result_id"], "alert_id": row["alert_id"], "intervention_id": None,
            "_order": row["id"],
        })


def interventions(db: sqlite3.Connection, client: str, host: str | None, since: str | None,
                  until: str | None, check: str | None) -> Iterator[dict[str, Any]]:
    """The interventions recorded (not deleted), newest first; with ``check``, those linked to it."""
    where, args = _where("i.", client, host, since, until, "i.at")
    rows = db.execute(
        "SELECT i.*, a.check_id AS alert_check, r.check_id AS result_check FROM interventions i"
        " LEFT JOIN alerts a ON a.id=i.alert_id LEFT JOIN results r ON r.id=i.result_id"
        f" WHERE {where} AND i.deleted IS NULL ORDER BY i.at DESC, i.id DESC", args)
    for row in rows:
        linked = row["alert_check"] or row["result_check"]
        if check is not None and not _matches(linked, check):
            continue
        minutes = f" ({row['minutes']} min)" if row["minutes"] is not None else ""
        yield _evidence({
            "at": row["at"], "type": "intervention", "kind": row["kind"], "host": row["host"], "check": linked,
            "item": None, "status": None, "previous": None, "summary": row["summary"] + minutes,
            "minutes": row["minutes"], "who": row["who"], "run_id": None, "result_id": row["result_id"],
            "alert_id": row["alert_id"], "intervention_id": row["id"], "_order": row["id"],
        })


def _key(event: dict[str, Any]) -> tuple[str, int, Any]:
    return (event["at"], _RANK[event["type"]], event["_order"])


def timeline(store: Store, client: str, host: str | None = None, since: str | None = None,
             until: str | None = None, check: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Return the client's (or ``host``'s) events in [since, until), newest first, at most ``limit``.

    ``check`` is a glob over check ids (``hardware.*``): results and alerts of matching checks,
    interventions linked to them, and the runs whose areas hold them.
    """
    sources = [source(store.db, client, host, since, until, check)
               for source in (runs, result_changes, alert_events, interventions)]
    merged: Iterable[dict[str, Any]] = heapq.merge(*sources, key=_key, reverse=True)
    out = list(itertools.islice(merged, limit) if limit else merged)
    for event in out:
        event.pop("_order")
    return out


def known_host(store: Store, client: str, host: str) -> bool:
    """True when the store holds anything of ``host``: a result, an alert or an intervention."""
    for table in ("hosts", "alerts", "interventions"):
        if store.db.execute(f"SELECT 1 FROM {table} WHERE client=? AND host=? LIMIT 1", (client, host)).fetchone():
            return True
    return False
