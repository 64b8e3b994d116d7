"""The report's queries of the store: the SQL only reports run (plain SQL, see maintcore/schema.sql).

The store itself (connection, schema, the runs and results the orchestrator writes) is
``maintcore.store``; these functions read it for reports and take an open
:class:`maintcore.store.Store`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from maintcore.store import Store

# Runs that supervise between windows (maintctl probe, maintctl watch): they store only what is
# not ok or changed, so the run-based sections (scores, run counts, findings, latest state) leave
# them out; the report reads them through the probe spans and the alerts.
SUPERVISION_KINDS = ("probe", "watch")
_NIGHTLY = "kind NOT IN ('probe', 'watch')"

# Columns of result_rows(), for reports (lean: no client, no started). ``message`` (JSON text or NULL)
# is the summary as a catalogue message, for the client-facing parts (maintreport.messages).
REPORT_COLUMNS = (
    "id", "run_id", "host", "check_id", "area", "item", "status", "severity", "summary",
    "observed", "threshold", "remediation", "changed", "finished", "message",
)


def result_rows(store: Store, client: str, run_ids: Iterable[str]) -> Iterator[tuple[Any, ...]]:
    """Yield the results of some runs as lean tuples, in ``REPORT_COLUMNS`` order.

    Reports read hundreds of thousands of rows: tuples with the JSON columns left
    as text keep memory low; ``id`` is kept so reports can link to each result.
    """
    ids = list(run_ids)
    cursor = store.db.cursor()
    cursor.row_factory = None  # plain tuples: smaller and faster than sqlite3.Row
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        yield from cursor.execute(
            f"SELECT {', '.join(REPORT_COLUMNS)} FROM results WHERE client=? AND run_id IN"
            f" ({', '.join('?' * len(chunk))}) ORDER BY finished, id",
            [client, *chunk],
        ).fetchall()


def nightly_runs(store: Store, client: str, since: str | None, until: str | None) -> list[dict[str, Any]]:
    """Return a client's maintenance runs (not probe or watch) started in [since, until), oldest first."""
    return store.runs(client, since, until, exclude_kinds=("probe", "watch"))


def status_counts(store: Store, client: str, since: str, until: str) -> list[tuple[str, str, str, int]]:
    """Return ``(run_id, bucket, status, count)`` for maintenance runs started in [since, until).

    Probe and watch runs are left out. ``bucket`` is the result's area, except ``run.reachability``
    which is ``reachability``.
    """
    sql = (
        "SELECT r.run_id, CASE WHEN r.check_id='run.reachability' THEN 'reachability' ELSE r.area END,"
        " r.status, COUNT(*) FROM results r JOIN runs u ON u.run_id=r.run_id"
        " WHERE u.client=? AND u.started>=? AND u.started<? AND u.kind NOT IN ('probe', 'watch') GROUP BY 1, 2, 3"
    )
    return [tuple(row) for row in store.db.execute(sql, (client, since, until))]


def check_rows(store: Store, client: str, check_id: str, since: str, until: str) -> list[tuple[Any, ...]]:
    """Return ``(id, run_id, host, item, status, observed, finished)`` of one check.

    Limited to maintenance runs (not probe or watch) started in [since, until), oldest first
    (``observed`` as JSON text).
    """
    sql = (
        "SELECT r.id, r.run_id, r.host, r.item, r.status, r.observed, r.finished FROM results r"
        " JOIN runs u ON u.run_id=r.run_id WHERE u.client=? AND u.started>=? AND u.started<?"
        " AND u.kind NOT IN ('probe', 'watch') AND r.check_id=? ORDER BY r.finished, r.id"
    )
    return [tuple(row) for row in store.db.execute(sql, (client, since, until, check_id))]


def open_before(store: Store, client: str, before: str, since: str) -> list[tuple[Any, ...]]:
    """Return the findings still open at ``before``, looking back to ``since``.

    One ``(host, check_id, item, first_seen, last_id)`` per key whose latest warning
    or critical result in [since, before) has no ``ok`` result after it: ``first_seen``
    is the first warning/critical after the key's last ``ok`` (within the window),
    ``last_id`` its latest warning/critical result. Only maintenance runs' results count (the
    findings are the nightly runs' view; probes and watches feed the alerts).
    """
    bad = "status IN ('warning', 'critical')"
    sql = (
        f"SELECT host, check_id, item, MIN(CASE WHEN {bad} THEN finished END),"
        f" MAX(CASE WHEN {bad} THEN finished END), MAX(CASE WHEN status='ok' THEN finished END),"
        f" MAX(CASE WHEN {bad} THEN id END) FROM results WHERE client=? AND finished>=? AND finished<?"
        f" AND run_id NOT IN (SELECT run_id FROM runs WHERE client=? AND kind IN ('probe', 'watch'))"
        f" GROUP BY host, check_id, item HAVING MAX(CASE WHEN {bad} THEN finished END) IS NOT NULL"
    )
    history = ("SELECT status, finished FROM results WHERE client=? AND host=? AND check_id=? AND item=?"
               " AND run_id NOT IN (SELECT run_id FROM runs WHERE client=? AND kind IN ('probe', 'watch'))")
    out = []
    rows = store.db.execute(sql, (client, since, before, client)).fetchall()
    for host, check_id, item, first_bad, last_bad, last_ok, last_id in rows:
        if last_ok is not None and last_ok > last_bad:
            continue  # resolved before the window's end
        if last_ok is not None and last_ok > first_bad:
            # it flapped: the first warning/critical after the last ok (equality only in the
            # WHERE, so that the (client, host, check_id, item) index serves it)
            first_bad = min(r[1] for r in store.db.execute(history, (client, host, check_id, item, client))
                            if r[0] in ("warning", "critical") and last_ok < r[1] < before)
        out.append((host, check_id, item, first_bad, last_id))
    return out


def rows_by_id(store: Store, ids: Iterable[int], client: str | None = None) -> list[tuple[Any, ...]]:
    """Return results by id as tuples in ``REPORT_COLUMNS`` order (only ``client``'s when given)."""
    wanted = list(ids)
    out: list[tuple[Any, ...]] = []
    only = " AND client=?" if client is not None else ""
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        out.extend(tuple(row) for row in store.db.execute(
            f"SELECT {', '.join(REPORT_COLUMNS)} FROM results WHERE id IN ({', '.join('?' * len(chunk))}){only}",
            [*chunk, *([client] if client is not None else [])]))
    return out


def alert_keys(store: Store, client: str, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Return ``{alert id: (host, check_id)}`` of some of the client's alerts (another client's are left out)."""
    wanted = sorted(set(ids))
    out: dict[int, tuple[str, str]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        out.update((int(r[0]), (str(r[1]), str(r[2]))) for r in store.db.execute(
            f"SELECT id, host, check_id FROM alerts WHERE client=? AND id IN ({', '.join('?' * len(chunk))})",
            [client, *chunk]))
    return out


def result_keys(store: Store, client: str, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Return ``{result id: (host, check_id)}`` of some of the client's results (another client's are left out)."""
    wanted = sorted(set(ids))
    out: dict[int, tuple[str, str]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        out.update((int(r[0]), (str(r[1]), str(r[2]))) for r in store.db.execute(
            f"SELECT id, host, check_id FROM results WHERE client=? AND id IN ({', '.join('?' * len(chunk))})",
            [client, *chunk]))
    return out


def latest_area_statuses(store: Store, client: str, area: str, since: str, until: str) -> list[tuple[str, str]]:
    """Return ``(host, status)`` of the latest result of every host/check/item of an area.

    Limited to maintenance runs (not probe or watch) started in [since, until): a month's
    state of that area (the month-over-month patch compliance).
    """
    sql = (
        "SELECT host, status FROM (SELECT r.host, r.status, ROW_NUMBER() OVER (PARTITION BY r.host, r.check_id,"
        " r.item ORDER BY r.finished DESC, r.id DESC) AS n FROM results r JOIN runs u ON u.run_id=r.run_id"
        " WHERE u.client=? AND u.started>=? AND u.started<? AND u.kind NOT IN ('probe', 'watch') AND r.area=?) latest"
        " WHERE n=1"
    )
    return [(str(h), str(s)) for h, s in store.db.execute(sql, (client, since, until, area))]


def check_status_counts(store: Store, client: str, check_id: str, since: str, until: str) -> dict[str, int]:
    """Return ``{status: count}`` of one check's results in maintenance runs started in [since, until)."""
    sql = (
        "SELECT r.status, COUNT(*) FROM results r JOIN runs u ON u.run_id=r.run_id WHERE u.client=?"
        " AND u.started>=? AND u.started<? AND u.kind NOT IN ('probe', 'watch') AND r.check_id=? GROUP BY 1"
    )
    return {str(s): int(n) for s, n in store.db.execute(sql, (client, since, until, check_id))}
