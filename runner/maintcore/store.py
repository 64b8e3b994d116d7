"""The store: runs, hosts and results in SQLite, with plain SQL (see schema.sql).

This module holds the connection, the schema and what the orchestrator writes and reads back
(runs, results). The queries only reports make live with them, in ``maintreport.query``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import maint_home

SCHEMA = (Path(__file__).with_name("schema.sql")).read_text(encoding="utf-8")
RESULT_COLUMNS = (
    "run_id", "client", "host", "check_id", "area", "item", "status", "severity", "summary",
    "observed", "threshold", "remediation", "changed", "started", "finished",
)


INSERT_RESULT = (f"INSERT INTO results ({', '.join(RESULT_COLUMNS)})"
                 f" VALUES ({', '.join('?' * len(RESULT_COLUMNS))})")


def result_row(res: dict[str, Any]) -> tuple[Any, ...]:
    """Return a result (in the result shape) as the values of ``INSERT_RESULT``."""
    check = res["check"]
    return (
        res["run_id"], res["client"], res["host"], check, check.split(".", 1)[0],
        res.get("item", ""), res["status"], res.get("severity"), res["summary"],
        json.dumps(res.get("observed") or {}, sort_keys=True, ensure_ascii=False),
        json.dumps(res.get("threshold") or {}, sort_keys=True, ensure_ascii=False),
        res.get("remediation", ""), int(bool(res.get("changed"))),
        res["started"], res["finished"],
    )


def touch_hosts(db: sqlite3.Connection, results: Iterable[dict[str, Any]]) -> None:
    """Record when each host of ``results`` was first and last seen."""
    hosts: dict[tuple[str, str], tuple[str, str]] = {}
    for res in results:
        key = (res["client"], res["host"])
        first, last = hosts.get(key, (res["finished"], res["finished"]))
        hosts[key] = (min(first, res["finished"]), max(last, res["finished"]))
    for (client, host), (first, last) in hosts.items():
        db.execute(
            "INSERT INTO hosts (client, host, first_seen, last_seen) VALUES (?,?,?,?)"
            " ON CONFLICT (client, host) DO UPDATE SET"
            " first_seen=MIN(first_seen, excluded.first_seen),"
            " last_seen=MAX(last_seen, excluded.last_seen)",
            (client, host, first, last),
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

    def runs(self, client: str, since: str | None = None, until: str | None = None,
             exclude_kinds: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Return a client's runs started in [since, until), oldest first, without ``exclude_kinds``."""
        sql = "SELECT * FROM runs WHERE client=?"
        args: list[Any] = [client]
        if exclude_kinds:
            sql += f" AND kind NOT IN ({', '.join('?' * len(exclude_kinds))})"
            args.extend(exclude_kinds)
        if since:
            sql += " AND started>=?"
            args.append(since)
        if until:
            sql += " AND started<?"
            args.append(until)
        return [dict(r) for r in self.db.execute(sql + " ORDER BY started", args)]

    # -- results ---------------------------------------------------------------
    def add_results(self, results: Iterable[dict[str, Any]]) -> int:
        """Insert results (in the result shape, ``severity`` optional) in one transaction."""
        batch = list(results)
        with self.transaction() as db:
            db.executemany(INSERT_RESULT, [result_row(res) for res in batch])
            touch_hosts(db, batch)
        return len(batch)

    def insert_results(self, db: sqlite3.Connection, results: Iterable[dict[str, Any]]) -> list[int]:
        """Insert results inside the caller's transaction and return their ids, in order."""
        batch = list(results)
        ids = [int(db.execute(INSERT_RESULT + " RETURNING id", result_row(res)).fetchone()[0]) for res in batch]
        touch_hosts(db, batch)
        return ids

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
