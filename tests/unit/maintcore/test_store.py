"""The store on both engines: round trips, migrations (an old store.db migrates without loss), slot claims.

Every test taking ``store_target`` runs twice: on an SQLite file and on a fresh database of a
real PostgreSQL server (tests/postgres.py) started on loopback for the session.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from maintcore import db as engines
from maintcore import store as store_mod
from maintcore.store import Store, migrations, statements

LATEST = migrations()[-1][0]


def _res(check: str, status: str, **kw: object) -> dict:
    base = {"client": "c", "host": "h", "run_id": "r", "check": check, "item": "", "status": status,
            "summary": "s", "observed": {}, "threshold": {}, "remediation": "", "changed": False,
            "started": "2026-11-01T00:00:00Z", "finished": "2026-11-01T00:00:00Z"}
    base.update(kw)
    return base


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_target(request: pytest.FixtureRequest, maint_home: Path) -> str | Path:
    """Where a new store goes: an SQLite path, or the URL of an empty PostgreSQL database."""
    if request.param == "sqlite":
        maint_home.mkdir(parents=True, exist_ok=True)
        return maint_home / "store.db"
    server = request.getfixturevalue("postgres")
    return str(server.new_database())


def test_store_round_trip(store_target: str | Path) -> None:
    with Store(store_target) as store:
        store.start_run({"run_id": "r", "client": "c", "areas": "hardware", "started": "2026-11-01T00:00:00Z"})
        store.add_results([_res("hardware.disk_free", "critical", severity="P2", observed={"free_pct": 3})])
        store.finish_run("r", "completed", 1, "2026-11-01T00:01:00Z")
        (res,) = store.results("c", run_id="r")
        assert (res["check"], res["area"], res["severity"], res["observed"]) == (
            "hardware.disk_free", "hardware", "P2", {"free_pct": 3})
        assert store.run("r")["exit_code"] == 1
        assert [r["run_id"] for r in store.runs("c", since="2026-11-01T00:00:00Z", exclude_kinds=("probe",))] == ["r"]


def test_sqlite_store_file_is_private(maint_home: Path) -> None:
    with Store():
        pass
    assert oct((maint_home / "store.db").stat().st_mode & 0o777) == "0o600"


def test_forget_run_removes_only_a_run_without_results(store_target: str | Path) -> None:
    with Store(store_target) as store:
        for run_id in ("empty", "full"):
            store.start_run({"run_id": run_id, "client": "c", "areas": "hardware", "started": "2026-11-01T00:00:00Z"})
        store.add_results([_res("hardware.disk_free", "ok", run_id="full")])
        store.forget_run("empty")
        store.forget_run("full")
        assert store.run("empty") is None
        assert store.run("full") is not None


def test_insert_results_returns_ids_and_hosts_keep_first_and_last_seen(store_target: str | Path) -> None:
    with Store(store_target) as store:
        store.start_run({"run_id": "r", "client": "c", "areas": "hardware", "started": "2026-11-01T00:00:00Z"})
        with store.transaction() as db:
            ids = store.insert_results(db, [_res("hardware.disk_free", "ok", finished="2026-11-02T00:00:00Z"),
                                            _res("hardware.smart", "ok", finished="2026-11-03T00:00:00Z")])
        store.add_results([_res("hardware.disk_free", "ok", finished="2026-11-01T00:00:00Z")])
        assert ids[1] == ids[0] + 1
        row = store.db.execute("SELECT first_seen, last_seen FROM hosts WHERE client='c' AND host='h'").fetchone()
        assert (row["first_seen"], row["last_seen"]) == ("2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z")
        assert dict(row) == {"first_seen": "2026-11-01T00:00:00Z", "last_seen": "2026-11-03T00:00:00Z"}


def test_a_transaction_lands_whole_or_not_at_all(store_target: str | Path) -> None:
    with Store(store_target) as store:
        with pytest.raises(sqlite3.IntegrityError), store.transaction() as db:
            db.execute("INSERT INTO runs (run_id, client, kind, areas, started, status) VALUES (?,?,?,?,?,?)",
                       ("a", "c", "adhoc", "hardware", "2026-11-01T00:00:00Z", "running"))
            db.execute("INSERT INTO runs (run_id, client, kind, areas, started, status) VALUES (?,?,?,?,?,?)",
                       ("a", "c", "adhoc", "hardware", "2026-11-01T00:00:00Z", "running"))
        assert store.run("a") is None
        # a literal % and a ? inside quotes are not placeholders
        assert store.db.execute("SELECT '50%', 'why?', ?", ("x",)).fetchone()[:] == ("50%", "why?", "x")


# -- migrations ----------------------------------------------------------------------------------
def test_migrations_are_numbered_and_split_into_statements() -> None:
    versions = [v for v, _, _ in migrations()]
    assert versions == list(range(1, LATEST + 1))
    assert statements("-- a; comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n-- tail\n") == [
        "-- a; comment\nCREATE TABLE a (x TEXT DEFAULT ';');"]
    assert store_mod.for_postgres("id INTEGER PRIMARY KEY, n INTEGER NOT NULL") == (
        "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL")


def test_a_store_made_before_migrations_opens_and_migrates_without_loss(maint_home: Path) -> None:
    # What today's code made before migrations: the former schema.sql (0001_initial.sql is that file,
    # its first comment line aside) run by executescript, with data in it.
    path = maint_home / "store.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = sqlite3.connect(path)
    old.executescript(migrations()[0][2])
    old.execute("INSERT INTO runs (run_id, client, kind, areas, started, status) VALUES"
                " ('r', 'c', 'scheduled', 'hardware', '2026-11-01T00:00:00Z', 'completed')")
    old.execute("INSERT INTO results (run_id, client, host, check_id, area, status, summary, started, finished)"
                " VALUES ('r', 'c', 'h', 'hardware.disk_free', 'hardware', 'critical', 'full',"
                " '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z')")
    old.execute("INSERT INTO alerts (client, host, check_id, state, status, summary, opened) VALUES"
                " ('c', 'h', 'hardware.disk_free', 'open', 'critical', 'full', '2026-11-01T00:00:00Z')")
    old.commit()
    old.close()
    with Store(path) as store:
        assert store.schema_version() == LATEST
        (res,) = store.results("c")
        assert (res["check"], res["status"], res["message"]) == ("hardware.disk_free", "critical", None)
        assert store.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 1
        assert store.claim_slot("c", "maintenance", "2026-11-02T20:00:00Z", "a", "2026-11-02T20:00:00Z") is None
        applied = [tuple(r) for r in store.db.execute("SELECT version, name FROM schema_version ORDER BY version")]
    assert applied == [(v, name) for v, name, _ in migrations()]
    with Store(path) as store:  # a second open applies nothing
        assert store.migrate() == []


def test_a_failed_migration_leaves_the_store_as_it_was(store_target: str | Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(store_target):
        pass
    folder = tmp_path / "migrations"
    shutil.copytree(store_mod.MIGRATIONS_DIR, folder)
    (folder / f"{LATEST + 1:04d}_broken.sql").write_text(
        "CREATE TABLE half (a TEXT);\nALTER TABLE no_such_table ADD COLUMN b TEXT;\n")
    monkeypatch.setattr(store_mod, "MIGRATIONS_DIR", folder)
    with pytest.raises(sqlite3.Error):
        Store(store_target)
    monkeypatch.setattr(store_mod, "MIGRATIONS_DIR", Path(store_mod.__file__).with_name("migrations"))
    with Store(store_target) as store:
        assert store.schema_version() == LATEST
        with pytest.raises(sqlite3.Error):
            store.db.execute("SELECT * FROM half")


def test_a_store_newer_than_this_code_is_refused(store_target: str | Path) -> None:
    with Store(store_target) as store, store.transaction() as db:
        db.execute("INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
                   (LATEST + 5, "future", "2027-01-01T00:00:00Z"))
    with pytest.raises(engines.StoreUnavailable, match=f"schema version {LATEST + 5} is newer"):
        Store(store_target)


@pytest.mark.postgres
def test_concurrent_opens_of_a_new_postgres_store_migrate_it_once(postgres: Any) -> None:
    url = postgres.new_database()
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Store(url).close()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with Store(url) as store:
        assert [r[0] for r in store.db.execute("SELECT version FROM schema_version ORDER BY version")] == list(
            range(1, LATEST + 1))


# -- the PostgreSQL URL --------------------------------------------------------------------------
def test_redact_hides_the_password_only() -> None:
    assert engines.redact("postgresql://maint:s3cr%40t@127.0.0.1:5432/db") == "postgresql://maint:***@127.0.0.1:5432/db"
    assert engines.redact("postgresql://maint@127.0.0.1/db?password=x&sslmode=disable") == (
        "postgresql://maint@127.0.0.1/db?password=***&sslmode=disable")
    assert engines.redact("postgresql://127.0.0.1/db") == "postgresql://127.0.0.1/db"


@pytest.mark.postgres
def test_a_wrong_password_is_one_line_without_the_password(postgres: Any, maint_home: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres.url().replace(postgres.password, "Wr0ngPassw0rdXYZ")
    monkeypatch.setenv("MAINT_STORE", url)
    with pytest.raises(engines.StoreUnavailable) as caught:
        Store()
    message = str(caught.value)
    assert "Wr0ngPassw0rdXYZ" not in message and postgres.password not in message
    assert message.startswith(f"store postgresql://maint:***@127.0.0.1:{postgres.port}/postgres: cannot connect")
    assert "\n" not in message


@pytest.mark.postgres
def test_maint_store_url_selects_postgres(postgres: Any, maint_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINT_STORE", postgres.new_database())
    with Store() as store:
        assert store.engine == "postgresql" and "***" in store.location
        assert postgres.password not in store.location
    assert not (maint_home / "store.db").exists()


# -- slot claims ---------------------------------------------------------------------------------
def test_a_slot_is_claimed_once(store_target: str | Path) -> None:
    with Store(store_target) as one, Store(store_target) as two:
        slot = ("acme", "maintenance", "2026-11-23T20:00:00Z")
        assert one.claim_slot(*slot, "ctl-a", "2026-11-23T20:05:00Z") is None
        assert two.claim_slot(*slot, "ctl-b", "2026-11-23T20:05:10Z") == "ctl-a"
        assert one.claim_slot(*slot, "ctl-a", "2026-11-23T20:06:00Z") == "ctl-a"  # even its own: once
        # the next slot is free: a controller that crashed after claiming blocks nothing later
        assert two.claim_slot("acme", "maintenance", "2026-11-24T20:00:00Z", "ctl-b", "2026-11-24T20:00:00Z") is None
        assert one.prune_claims("2026-11-24T00:00:00Z") == 1
        assert two.claim_slot(*slot, "ctl-b", "2026-11-25T00:00:00Z") is None


def test_racing_claims_have_exactly_one_winner(store_target: str | Path) -> None:
    with Store(store_target):
        pass
    results: list[str | None] = []
    barrier = threading.Barrier(6)

    def race(name: str) -> None:
        with Store(store_target) as store:
            barrier.wait(30)
            results.append(store.claim_slot("acme", "probe", "2026-11-23T20:05:00Z", name, "2026-11-23T20:05:00Z"))

    threads = [threading.Thread(target=race, args=(f"ctl-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 6
    winners = [r for r in results if r is None]
    assert len(winners) == 1
    assert len({r for r in results if r is not None}) == 1
