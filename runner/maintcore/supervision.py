"""Supervision's memory: observations become check state, probe spans and alerts with a lifecycle.

Every result, whether a nightly run, a health watch or an availability probe made it, goes
through :func:`apply` (one check id, one meaning, whatever its source):

* ``check_state`` keeps the last status of each client/host/check/item and how many bad
  (warning or critical) observations came in a row;
* an alert opens after ``supervision.open_after`` bad observations in a row (2 for the probe
  that measures a host's availability, 1 otherwise: flap damping), one per key while it is not
  resolved; it worsens (status and severity raised) and resolves at the first ``ok``;
  ``unknown`` neither opens nor resolves anything: nobody read the value;
* while a host's availability alert is active, its other checks open no alert (the host is
  down: one alert, not ten);
* an alert opened in scheduled downtime (a downtime entered by hand, a maintenance window's
  reboot, or a patch run that installs) is ``suppressed``: recorded, never notified;
* each transition is an ``alert_events`` row with the result id that caused it, and the
  opening, escalation and recovery of an alert that is not suppressed put messages in the
  notification outbox (:mod:`maintcore.notify`), which ``flush`` sends and retries.

Probe results also extend ``probe_spans`` (:func:`extend_span`): an observation at ``t``
covers ``[t, t + interval)``; a late observation (beyond half an interval, and at least
10 s) starts a new span, and the time between is unknown.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from maint_utils import maint_clock

from . import notify
from .errors import InvalidInput
from .store import Store

BAD = ("warning", "critical")
STATUS_RANK = {"warning": 1, "critical": 2}
STATES = ("open", "acknowledged", "resolved")
ACTIVE = ("open", "acknowledged")
REACHABILITY = "run.reachability"


@dataclass
class Outcome:
    """What one batch of observations did: alert transitions, and results stored."""

    opened: list[int] = field(default_factory=list)
    worsened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)
    stored: int = 0

    def merge(self, other: Outcome) -> None:
        """Add another outcome's transitions to this one."""
        for name in ("opened", "worsened", "resolved", "suppressed"):
            getattr(self, name).extend(getattr(other, name))
        self.stored += other.stored

    def line(self) -> str:
        """One line for the terminal."""
        return (f"alerts: {len(self.opened)} opened ({len(self.suppressed)} in downtime), "
                f"{len(self.worsened)} worsened, {len(self.resolved)} resolved")


def supervision_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """Return the policy's supervision section (empty when absent)."""
    section = policy.get("supervision") or {}
    return section if isinstance(section, dict) else {}


def open_after(policy: dict[str, Any], availability: bool) -> int:
    """Return how many bad observations in a row open an alert (flap damping)."""
    damping = supervision_policy(policy).get("open_after") or {}
    return int(damping.get("availability", 2) if availability else damping.get("other", 1))


def _is_availability(res: dict[str, Any]) -> bool:
    observed = res.get("observed") or {}
    return bool(observed.get("availability")) or res["check"] == REACHABILITY


def _worse_severity(a: str | None, b: str | None) -> str | None:
    """P1 is the most urgent."""
    if a is None or b is None:
        return a or b
    return min(a, b)


# -- downtime ----------------------------------------------------------------------------------
def in_downtime(db: sqlite3.Connection, client: str, host: str, at: str) -> bool:
    """True when ``host`` is in scheduled downtime at ``at``.

    Scheduled downtime is a ``downtimes`` row (by hand, or a maintenance window's reboot)
    or a run of this client that is installing patches right now.
    """
    row = db.execute(
        'SELECT 1 FROM downtimes WHERE client=? AND host IN (?, \'*\') AND start<=? AND "end">? AND deleted IS NULL',
        (client, host, at, at)).fetchone()
    if row:
        return True
    row = db.execute(
        "SELECT 1 FROM runs WHERE client=? AND status='running' AND check_mode=0 AND kind NOT IN ('probe','watch')"
        " AND (',' || areas || ',') LIKE '%,patch,%' AND started<=?", (client, at)).fetchone()
    return row is not None


def add_downtime(store: Store, client: str, host: str, start: str, end: str, reason: str, who: str,
                 source: str = "manual", result_id: int | None = None) -> int:
    """Record a scheduled downtime and return its id."""
    if not end > start:
        raise InvalidInput(f"downtime: --to ({end}) must be after --from ({start})")
    if not reason.strip():
        raise InvalidInput("downtime: --reason must say why")
    with store.transaction() as db:
        cur = db.execute(
            'INSERT INTO downtimes (client, host, start, "end", reason, source, who, created, result_id)'
            " VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
            (client, host, start, end, " ".join(reason.split())[:500], source, who,
             maint_clock.to_iso(maint_clock.now()), result_id))
        return int(cur.fetchone()[0])


def downtimes(store: Store, client: str, since: str | None = None, until: str | None = None,
              deleted: bool = False) -> list[dict[str, Any]]:
    """Return a client's downtimes overlapping [since, until), oldest first."""
    sql = "SELECT * FROM downtimes WHERE client=?"
    args: list[Any] = [client]
    if not deleted:
        sql += " AND deleted IS NULL"
    if until:
        sql += " AND start<?"
        args.append(until)
    if since:
        sql += ' AND "end">?'
        args.append(since)
    return [dict(r) for r in store.db.execute(sql + " ORDER BY start, id", args)]


def delete_downtime(store: Store, client: str, downtime_id: int, who: str) -> None:
    """Cancel a downtime (kept, marked deleted, with who)."""
    with store.transaction() as db:
        cur = db.execute("UPDATE downtimes SET deleted=?, deleted_by=? WHERE id=? AND client=? AND deleted IS NULL",
                         (maint_clock.to_iso(maint_clock.now()), who, downtime_id, client))
        if cur.rowcount != 1:
            raise InvalidInput(f"downtime {downtime_id}: no such active downtime for client {client}")


def reboot_downtimes(db: sqlite3.Connection, client: str, results: Sequence[dict[str, Any]],
                     ids: Sequence[int], margin_s: int = 120) -> int:
    """Record each patch reboot of a run as scheduled downtime of its host (from the results)."""
    added = 0
    for res, rid in zip(results, ids, strict=True):
        if res["check"] != "patch.rebooted" or not res.get("changed"):
            continue
        end = maint_clock.to_iso(maint_clock.parse_iso(res["finished"]) + dt.timedelta(seconds=margin_s))
        db.execute(
            'INSERT INTO downtimes (client, host, start, "end", reason, source, who, created, result_id)'
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (client, res["host"], res["started"], end, "reboot in the maintenance window", "window",
             None, res["finished"], rid))
        added += 1
    return added


# -- observations --------------------------------------------------------------------------------
def _state(db: sqlite3.Connection, client: str, res: dict[str, Any]) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM check_state WHERE client=? AND host=? AND check_id=? AND item=?",
        (client, res["host"], res["check"], res.get("item", ""))).fetchone()
    return row


def _active_alert(db: sqlite3.Connection, client: str, host: str, check: str, item: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM alerts WHERE client=? AND host=? AND check_id=? AND item=? AND state<>'resolved'",
        (client, host, check, item)).fetchone()
    return row


def _host_down(db: sqlite3.Connection, client: str, host: str, check: str) -> bool:
    """True when another availability alert of the host is active (its checks open no alert)."""
    for row in db.execute("SELECT check_id, item, opened_result FROM alerts WHERE client=? AND host=?"
                          " AND state<>'resolved'", (client, host)):
        if row["check_id"] == check:
            continue
        if row["check_id"] == REACHABILITY:
            return True
        result = db.execute("SELECT observed FROM results WHERE id=?", (row["opened_result"],)).fetchone()
        if result and json.loads(result["observed"] or "{}").get("availability"):
            return True
    return False


def _event(db: sqlite3.Connection, alert_id: int, at: str, kind: str, *, who: str | None = None,
           note: str | None = None, status: str | None = None, severity: str | None = None,
           result_id: int | None = None) -> None:
    db.execute("INSERT INTO alert_events (alert_id, at, kind, who, note, status, severity, result_id)"
               " VALUES (?,?,?,?,?,?,?,?)", (alert_id, at, kind, who, note, status, severity, result_id))


def alert_dict(db: sqlite3.Connection, alert_id: int) -> dict[str, Any]:
    """Return one alert row as a dict."""
    return dict(db.execute("SELECT * FROM alerts WHERE id=?", (alert_id,)).fetchone())


def apply(db: sqlite3.Connection, client: str, res: dict[str, Any], result_id: int | None,
          policy: dict[str, Any], out: Outcome) -> None:
    """Apply one observation (already stored as ``result_id``, or None) to state and alerts."""
    host, check, item, status = res["host"], res["check"], res.get("item", ""), res["status"]
    at = res["finished"]
    state = _state(db, client, res)
    if state is not None and state["last_seen"] > at:
        return  # an older observation arriving late changes nothing
    bad = status in BAD
    count = (state["bad_count"] + 1 if state is not None and state["status"] in BAD else 1) if bad else 0
    if status in ("unknown", "skipped") and state is not None:
        count = state["bad_count"]
    since = state["since"] if state is not None and state["status"] == status else at
    db.execute(
        "INSERT INTO check_state (client, host, check_id, item, status, since, last_seen, bad_count, last_result)"
        " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (client, host, check_id, item) DO UPDATE SET"
        " status=excluded.status, since=excluded.since, last_seen=excluded.last_seen,"
        " bad_count=excluded.bad_count, last_result=COALESCE(excluded.last_result, check_state.last_result)",
        (client, host, check, item, status, since, at, count, result_id))
    alert = _active_alert(db, client, host, check, item)
    if alert is not None and bad and STATUS_RANK[status] > STATUS_RANK.get(alert["status"], 0):
        severity = _worse_severity(alert["severity"], res.get("severity"))
        db.execute("UPDATE alerts SET status=?, severity=?, summary=? WHERE id=?",
                   (status, severity, res["summary"], alert["id"]))
        _event(db, alert["id"], at, "worsened", status=status, severity=severity, result_id=result_id)
        out.worsened.append(alert["id"])
    elif alert is not None and status == "ok":
        db.execute("UPDATE alerts SET state='resolved', resolved=?, resolved_result=? WHERE id=?",
                   (at, result_id, alert["id"]))
        _event(db, alert["id"], at, "resolved", status=status, result_id=result_id, note=res["summary"])
        out.resolved.append(alert["id"])
        if not alert["suppressed"]:
            notify.enqueue(db, alert_dict(db, alert["id"]), "recovered", policy, at)
    elif alert is None and bad and count >= open_after(policy, _is_availability(res)) \
            and not _host_down(db, client, host, check):
        suppressed = in_downtime(db, client, host, at)
        cur = db.execute(
            "INSERT INTO alerts (client, host, check_id, item, state, status, severity, summary, opened,"
            " suppressed, opened_result) VALUES (?,?,?,?,'open',?,?,?,?,?,?) RETURNING id",
            (client, host, check, item, status, res.get("severity"), res["summary"], at, int(suppressed), result_id))
        alert_id = int(cur.fetchone()[0])
        _event(db, alert_id, at, "opened", status=status, severity=res.get("severity"), result_id=result_id,
               note="in scheduled downtime: not notified" if suppressed else None)
        out.opened.append(alert_id)
        if suppressed:
            out.suppressed.append(alert_id)
        else:
            notify.enqueue(db, alert_dict(db, alert_id), "opened", policy, at)


def ingest_run(store: Store, client: str, results: Sequence[dict[str, Any]], ids: Sequence[int],
               policy: dict[str, Any]) -> Outcome:
    """Apply a run's stored results (``ids`` in the same order) to state, downtime and alerts."""
    out = Outcome()
    with store.transaction() as db:
        reboot_downtimes(db, client, results, ids)
        for res, rid in sorted(zip(results, ids, strict=True), key=lambda pair: pair[0]["finished"]):
            apply(db, client, res, rid, policy, out)
    return out


def _keep(db: sqlite3.Connection, client: str, res: dict[str, Any]) -> bool:
    """A watch or probe result is stored when it is not ok or its status changed."""
    if res["status"] != "ok":
        return True
    state = _state(db, client, res)
    return state is None or state["status"] != "ok"


def observe(store: Store, client: str, run: dict[str, Any], results: Sequence[dict[str, Any]],
            policy: dict[str, Any], interval_s: int | None = None) -> Outcome:
    """Record a probe or watch cycle: store what matters, update state, spans and alerts.

    Only results that are not ok, or whose status changed, are stored (a month of
    one-minute probes would otherwise be millions of ``ok`` rows); ``run`` (its run_id,
    kind, areas, started) gets a ``runs`` row only when at least one result is stored.
    Probe results (``interval_s`` given) extend the spans availability is measured on.
    """
    out = Outcome()
    ordered = sorted(results, key=lambda r: r["finished"])
    for res in ordered:
        res["run_id"] = run["run_id"]
    with store.transaction() as db:
        keep = [res for res in ordered if _keep(db, client, res)]
        if keep:
            db.execute(
                "INSERT INTO runs (run_id, client, kind, areas, limit_hosts, check_mode, started, finished,"
                " status, exit_code, hosts_total, run_dir) VALUES (?,?,?,?,?,0,?,?,?,?,?,?)"
                " ON CONFLICT (run_id) DO NOTHING",
                (run["run_id"], client, run["kind"], run.get("areas", run["kind"]), run.get("limit_hosts"),
                 run["started"], run.get("finished") or run["started"], run.get("status", "completed"),
                 run.get("exit_code", 0), run.get("hosts_total", 0), run.get("run_dir")))
        ids = dict(zip((id(r) for r in keep), store.insert_results(db, keep), strict=True))
        out.stored = len(keep)
        for res in ordered:
            rid = ids.get(id(res))
            if interval_s:
                extend_span(db, client, res, rid, interval_s)
            apply(db, client, res, rid, policy, out)
    return out


def extend_span(db: sqlite3.Connection, client: str, res: dict[str, Any], result_id: int | None,
                interval_s: int) -> None:
    """Extend (or start) the probe span of one observation; see the module's docstring."""
    host, check, item = res["host"], res["check"], res.get("item", "")
    at = maint_clock.parse_iso(res["started"])
    end = maint_clock.to_iso(at + dt.timedelta(seconds=interval_s))
    start = maint_clock.to_iso(at)
    availability = int(bool((res.get("observed") or {}).get("availability")))
    last = db.execute('SELECT id, status, "end" FROM probe_spans WHERE client=? AND host=? AND check_id=? AND item=?'
                      ' ORDER BY "end" DESC LIMIT 1', (client, host, check, item)).fetchone()
    grace = dt.timedelta(seconds=max(interval_s / 2, 10))
    contiguous = last is not None and maint_clock.parse_iso(last["end"]) + grace >= at
    if contiguous and last["status"] == res["status"]:
        db.execute('UPDATE probe_spans SET "end"=CASE WHEN "end"<? THEN ? ELSE "end" END,'
                   " observations=observations+1, last_result=COALESCE(?, last_result), interval_s=? WHERE id=?",
                   (end, end, result_id, interval_s, last["id"]))
        return
    if contiguous:
        db.execute('UPDATE probe_spans SET "end"=? WHERE id=?', (start, last["id"]))
    db.execute('INSERT INTO probe_spans (client, host, check_id, item, availability, status, start, "end",'
               " interval_s, first_result, last_result) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
               (client, host, check, item, availability, res["status"], start, end, interval_s,
                result_id, result_id))


def spans(store: Store, client: str, since: str, until: str, availability_only: bool = True) -> list[dict[str, Any]]:
    """Return the probe spans overlapping [since, until), oldest first."""
    sql = 'SELECT * FROM probe_spans WHERE client=? AND start<? AND "end">?'
    if availability_only:
        sql += " AND availability=1"
    return [dict(r) for r in store.db.execute(sql + " ORDER BY host, start", (client, until, since))]


# -- people's actions ------------------------------------------------------------------------------
def get_alert(store: Store, client: str, alert_id: int) -> dict[str, Any]:
    """Return one of the client's alerts with its events (InvalidInput when it is not the client's)."""
    row = store.db.execute("SELECT * FROM alerts WHERE id=? AND client=?", (alert_id, client)).fetchone()
    if row is None:
        raise InvalidInput(f"alert {alert_id}: no such alert for client {client}")
    alert = dict(row)
    alert["events"] = [dict(r) for r in store.db.execute(
        "SELECT * FROM alert_events WHERE alert_id=? ORDER BY at, id", (alert_id,))]
    alert["notifications"] = [dict(r) for r in store.db.execute(
        "SELECT id, event, channel, target, state, attempts, last_error, created, sent FROM notifications"
        " WHERE alert_id=? ORDER BY id", (alert_id,))]
    return alert


def list_alerts(store: Store, client: str, states: Iterable[str] = ACTIVE, severity: str | None = None,
                host: str | None = None, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
    """Return a client's alerts in some states, newest first."""
    wanted = list(states)
    sql = f"SELECT * FROM alerts WHERE client=? AND state IN ({', '.join('?' * len(wanted))})"
    args: list[Any] = [client, *wanted]
    for column, value in (("severity", severity), ("host", host)):
        if value:
            sql += f" AND {column}=?"
            args.append(value)
    if since:
        sql += " AND (resolved IS NULL OR resolved>=?)"
        args.append(since)
    if until:
        sql += " AND opened<?"
        args.append(until)
    return [dict(r) for r in store.db.execute(sql + " ORDER BY opened DESC, id DESC", args)]


def acknowledge(store: Store, client: str, alert_id: int, who: str, note: str | None, at: str | None = None) -> None:
    """Acknowledge an open alert: who took it in charge, when, with a note."""
    at = at or maint_clock.to_iso(maint_clock.now())
    alert = get_alert(store, client, alert_id)
    if alert["state"] != "open":
        raise InvalidInput(f"alert {alert_id} is {alert['state']}: only an open alert can be acknowledged")
    with store.transaction() as db:
        db.execute("UPDATE alerts SET state='acknowledged', acknowledged=?, ack_by=? WHERE id=?", (at, who, alert_id))
        _event(db, alert_id, at, "acknowledged", who=who, note=note)


def resolve(store: Store, client: str, alert_id: int, who: str, note: str, at: str | None = None) -> None:
    """Resolve an alert by hand (a note says why)."""
    if not note.strip():
        raise InvalidInput("alerts resolve: --note must say how it was resolved")
    at = at or maint_clock.to_iso(maint_clock.now())
    alert = get_alert(store, client, alert_id)
    if alert["state"] == "resolved":
        raise InvalidInput(f"alert {alert_id} is already resolved")
    with store.transaction() as db:
        db.execute("UPDATE alerts SET state='resolved', resolved=?, resolved_by=? WHERE id=?", (at, who, alert_id))
        _event(db, alert_id, at, "resolved", who=who, note=note)


def add_note(store: Store, client: str, alert_id: int, who: str, note: str, at: str | None = None) -> None:
    """Add a note to an alert's history."""
    if not note.strip():
        raise InvalidInput("alerts note: the note is empty")
    get_alert(store, client, alert_id)
    with store.transaction() as db:
        _event(db, alert_id, at or maint_clock.to_iso(maint_clock.now()), "note", who=who, note=note)


def escalate_due(store: Store, client: str, policy: dict[str, Any], now: dt.datetime) -> list[int]:
    """Escalate the open alerts not acknowledged within the SLA response time; return their ids."""
    hours = (policy.get("sla") or {}).get("response_hours") or {}
    due: list[int] = []
    stamp = maint_clock.to_iso(now)
    with store.transaction() as db:
        rows = db.execute("SELECT * FROM alerts WHERE client=? AND state='open' AND escalated IS NULL"
                          " AND suppressed=0 AND severity IS NOT NULL", (client,)).fetchall()
        for row in rows:
            limit = hours.get(row["severity"])
            if limit is None:
                continue
            if maint_clock.parse_iso(row["opened"]) + dt.timedelta(hours=float(limit)) <= now:
                db.execute("UPDATE alerts SET escalated=? WHERE id=?", (stamp, row["id"]))
                _event(db, row["id"], stamp, "escalated", severity=row["severity"],
                       note=f"not acknowledged within {limit:g} h ({row['severity']})")
                notify.enqueue(db, alert_dict(db, row["id"]), "escalated", policy, stamp)
                due.append(row["id"])
    return due


# -- SLA --------------------------------------------------------------------------------------------
def _hours(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    delta: dt.timedelta = maint_clock.parse_iso(end) - maint_clock.parse_iso(start)
    return delta.total_seconds() / 3600


def sla_view(alert: dict[str, Any], pol: dict[str, Any], now: str) -> dict[str, Any]:
    """Response and resolution times of an alert against the client's SLA.

    Response is acknowledgement - opening (a resolution without acknowledgement counts as the
    response too). ``*_within_sla`` is True or False once known, False when still pending past
    the limit, and None while pending within it or when the SLA sets no limit.
    """
    sla = pol.get("sla") or {}
    ends = {"response": alert.get("acknowledged") or alert.get("resolved"), "resolution": alert.get("resolved")}
    out: dict[str, Any] = {}
    for name, table in (("response", "response_hours"), ("resolution", "resolve_hours")):
        limit = (sla.get(table) or {}).get(alert.get("severity") or "")
        took = _hours(alert["opened"], ends[name])
        out[f"{name}_hours"] = None if took is None else round(took, 2)
        out[f"{name}_limit_hours"] = limit
        if limit is None:
            within = None
        elif took is not None:
            within = took <= limit
        else:
            within = None if (_hours(alert["opened"], now) or 0) <= limit else False
        out[f"{name}_within_sla"] = within
    return out
