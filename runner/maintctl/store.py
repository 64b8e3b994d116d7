"""The store: runs, hosts and results in SQLite, with plain SQL (see schema.sql)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import maint_home

SCHEMA = (Path(__file__).with_name("schema.sql")).read_text(encoding="utf-8")
RESULT_COLUMNS = (
    "run_id", "client", "host", "check_id", "area", "item", "status", "severity", "summary",
    "observed", "threshold", "remediation", "changed", "started", "finished",
)
# Columns of Store.result_rows(), for reports (lean: no client, no started).
REPORT_COLUMNS = (
    "id", "run_id", "host", "check_id", "area", "item", "status", "severity", "summary",
    "observed", "threshold", "remediation", "changed", "finished",
)


def default_path() -> Path:
    """Return ``$MAINT_STORE`` if set, else ``$MAINT_HOME/store.db``.

    ``MAINT_STORE`` lets tests that stamp runs with past times keep them out of the
    lab's own history while still using the lab's key under ``MAINT_HOME``.
    """
    override = os.environ.get("MAINT_STORE")
    return Path(override) if override else maint_home() / "store.db"


class Store:
    """A thin wrapper over one SQLite database holding every client's history."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        new = not self.path.exists()
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.row_factory = sqlite3.Row
        if new:
            os.chmod(self.path, 0o600)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block in one transaction: all of it lands, or none."""
        with self.db:
            yield self.db

    # -- runs ------------------------------------------------------------------
    def start_run(self, run: dict[str, Any]) -> None:
        """Record a run that is starting."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (run_id, client, kind, areas, limit_hosts, check_mode, started,"
                " status, hosts_total, run_dir) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run["run_id"], run["client"], run.get("kind", "adhoc"), run["areas"],
                 run.get("limit_hosts"), int(bool(run.get("check_mode"))), run["started"],
                 "running", run.get("hosts_total", 0), run.get("run_dir")),
            )

    def finish_run(self, run_id: str, status: str, exit_code: int, finished: str) -> None:
        """Record how a run ended."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status=?, exit_code=?, finished=? WHERE run_id=?",
                (status, exit_code, finished, run_id),
            )

    def forget_run(self, run_id: str) -> None:
        """Remove a run that never started (no playbook ran, no result): it is not history."""
        with self.transaction() as db:
            db.execute("DELETE FROM runs WHERE run_id=? AND NOT EXISTS"
                       " (SELECT 1 FROM results WHERE results.run_id=runs.run_id)", (run_id,))

    def run(self, run_id: str) -> dict[str, Any] | None:
        """Return one run as a dict, or None."""
        row = self.db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return dict(row) if row else None

    def runs(self, client: str, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """Return a client's runs started in [since, until), oldest first."""
        sql = "SELECT * FROM runs WHERE client=?"
        args: list[Any] = [client]
        if since:
            sql += " AND started>=?"
            args.append(since)
        if until:
            sql += " AND started<?"
            args.append(until)
        return [dict(r) for r in self.db.execute(sql + " ORDER BY started", args)]

    def clients(self) -> list[str]:
        """Return every client that has runs."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT client FROM runs ORDER BY client")]

    # -- results ---------------------------------------------------------------
    def add_results(self, results: Iterable[dict[str, Any]]) -> int:
        """Insert results (in the result shape, ``severity`` optional) in one transaction."""
        rows = []
        hosts: dict[tuple[str, str], tuple[str, str]] = {}
        for res in results:
            check = res["check"]
            rows.append((
                res["run_id"], res["client"], res["host"], check, check.split(".", 1)[0],
                res.get("item", ""), res["status"], res.get("severity"), res["summary"],
                json.dumps(res.get("observed") or {}, sort_keys=True, ensure_ascii=False),
                json.dumps(res.get("threshold") or {}, sort_keys=True, ensure_ascii=False),
                res.get("remediation", ""), int(bool(res.get("changed"))),
                res["started"], res["finished"],
            ))
            key = (res["client"], res["host"])
            first, last = hosts.get(key, (res["finished"], res["finished"]))
            hosts[key] = (min(first, res["finished"]), max(last, res["finished"]))
        with self.transaction() as db:
            db.executemany(
                f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) VALUES ({', '.join('?' * len(RESULT_COLUMNS))})",
                rows,
            )
            for (client, host), (first, last) in hosts.items():
                db.execute(
                    "INSERT INTO hosts (client, host, first_seen, last_seen) VALUES (?,?,?,?)"
                    " ON CONFLICT (client, host) DO UPDATE SET"
                    " first_seen=MIN(first_seen, excluded.first_seen),"
                    " last_seen=MAX(last_seen, excluded.last_seen)",
                    (client, host, first, last),
                )
        return len(rows)

    def results(self, client: str, run_id: str | None = None, since: str | None = None,
                until: str | None = None) -> list[dict[str, Any]]:
        """Return results in the result shape (plus ``severity`` and ``area``), oldest first."""
        sql = "SELECT * FROM results WHERE client=?"
        args: list[Any] = [client]
        if run_id:
            sql += " AND run_id=?"
            args.append(run_id)
        if since:
            sql += " AND finished>=?"
            args.append(since)
        if until:
            sql += " AND finished<?"
            args.append(until)
        out = []
        for row in self.db.execute(sql + " ORDER BY finished, id", args):
            rec = dict(row)
            rec["check"] = rec.pop("check_id")
            rec["observed"] = json.loads(rec["observed"])
            rec["threshold"] = json.loads(rec["threshold"])
            rec["changed"] = bool(rec["changed"])
            rec.pop("id")
            out.append(rec)
        return out

    # -- read helpers for reports (maintreport) ---------------------------------
    def result_rows(self, client: str, run_ids: Iterable[str]) -> Iterator[tuple[Any, ...]]:
        """Yield the results of some runs as lean tuples, in ``REPORT_COLUMNS`` order.

        Reports read hundreds of thousands of rows: tuples with the JSON columns left
        as text keep memory low; ``id`` is kept so reports can link to each result.
        """
        ids = list(run_ids)
        cursor = self.db.cursor()
        cursor.row_factory = None  # plain tuples: smaller and faster than sqlite3.Row
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            yield from cursor.execute(
                f"SELECT {', '.join(REPORT_COLUMNS)} FROM results WHERE client=? AND run_id IN"
                f" ({', '.join('?' * len(chunk))}) ORDER BY finished, id",
                [client, *chunk],
            ).fetchall()

    def status_counts(self, client: str, since: str, until: str) -> list[tuple[str, str, str, int]]:
        """Return ``(run_id, bucket, status, count)`` for runs started in [since, until).

        ``bucket`` is the result's area, except ``run.reachability`` which is ``reachability``.
        """
        sql = (
            "SELECT r.run_id, CASE WHEN r.check_id='run.reachability' THEN 'reachability' ELSE r.area END,"
            " r.status, COUNT(*) FROM results r JOIN runs u ON u.run_id=r.run_id"
            " WHERE u.client=? AND u.started>=? AND u.started<? GROUP BY 1, 2, 3"
        )
        return [tuple(row) for row in self.db.execute(sql, (client, since, until))]

    def check_rows(self, client: str, check_id: str, since: str, until: str) -> list[tuple[Any, ...]]:
        """Return ``(id, run_id, host, item, status, observed, finished)`` of one check.

        Limited to runs started in [since, until), oldest first (``observed`` as JSON text).
        """
        sql = (
            "SELECT r.id, r.run_id, r.host, r.item, r.status, r.observed, r.finished FROM results r"
            " JOIN runs u ON u.run_id=r.run_id WHERE u.client=? AND u.started>=? AND u.started<?"
            " AND r.check_id=? ORDER BY r.finished, r.id"
        )
        return [tuple(row) for row in self.db.execute(sql, (client, since, until, check_id))]

    def open_before(self, client: str, before: str, since: str) -> list[tuple[Any, ...]]:
        """Return the findings still open at ``before``, looking back to ``since``.

        One ``(host, check_id, item, first_seen, last_id)`` per key whose latest warning
        or critical result in [since, before) has no ``ok`` result after it: ``first_seen``
        is the first warning/critical after the key's last ``ok`` (within the window),
        ``last_id`` its latest warning/critical result.
        """
        bad = "status IN ('warning', 'critical')"
        sql = (
            f"SELECT host, check_id, item, MIN(CASE WHEN {bad} THEN finished END),"
            f" MAX(CASE WHEN {bad} THEN finished END), MAX(CASE WHEN status='ok' THEN finished END),"
            f" MAX(CASE WHEN {bad} THEN id END) FROM results WHERE client=? AND finished>=? AND finished<?"
            f" GROUP BY host, check_id, item HAVING MAX(CASE WHEN {bad} THEN finished END) IS NOT NULL"
        )
        history = "SELECT status, finished FROM results WHERE client=? AND host=? AND check_id=? AND item=?"
        out = []
        rows = self.db.execute(sql, (client, since, before)).fetchall()
        for host, check_id, item, first_bad, last_bad, last_ok, last_id in rows:
            if last_ok is not None and last_ok > last_bad:
                continue  # resolved before the window's end
            if last_ok is not None and last_ok > first_bad:
                # it flapped: the first warning/critical after the last ok (equality only in the
                # WHERE, so that the (client, host, check_id, item) index serves it)
                first_bad = min(r[1] for r in self.db.execute(history, (client, host, check_id, item))
                                if r[0] in ("warning", "critical") and last_ok < r[1] < before)
            out.append((host, check_id, item, first_bad, last_id))
        return out

    def rows_by_id(self, ids: Iterable[int]) -> list[tuple[Any, ...]]:
        """Return results by id as tuples in ``REPORT_COLUMNS`` order."""
        wanted = list(ids)
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            out.extend(tuple(row) for row in self.db.execute(
                f"SELECT {', '.join(REPORT_COLUMNS)} FROM results WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk))
        return out
