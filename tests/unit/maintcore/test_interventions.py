"""Interventions on record: linked to the client's own alerts and results, edits kept, deletion soft."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maintcore import interventions, supervision
from maintcore.errors import InvalidInput
from maintcore.store import Store

NOW = "2026-11-20T12:00:00Z"


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("MAINT_TEST_NOW", NOW)
    with Store(tmp_path / "store.db") as db:
        yield db


def run(store: Store, client: str, run_id: str, at: str, results: list[tuple[str, str, str]]) -> list[int]:
    """Store a run of (host, check, status) results and feed supervision; return the result ids."""
    store.start_run({"run_id": run_id, "client": client, "areas": "hardware", "started": at})
    rows: list[dict[str, Any]] = [
        {"run_id": run_id, "client": client, "host": host, "check": check, "status": status,
         "summary": f"{check} is {status}", "started": at, "finished": at,
         "severity": "P2" if status == "critical" else None}
        for host, check, status in results]
    with store.transaction() as db:
        ids = store.insert_results(db, rows)
    supervision.ingest_run(store, client, rows, ids, {})
    store.finish_run(run_id, "completed", 1, at)
    return ids


@pytest.fixture()
def alert(store: Store) -> int:
    run(store, "acme", "r1", "2026-11-10T20:00:00Z", [("srv01", "hardware.smart", "critical")])
    run(store, "other", "o1", "2026-11-10T20:00:00Z", [("db01", "hardware.smart", "critical")])
    rows = supervision.list_alerts(store, "acme")
    assert len(rows) == 1
    return int(rows[0]["id"])


def test_an_intervention_answers_the_clients_alert_and_takes_its_host(store: Store, alert: int) -> None:
    new = interventions.add(store, "acme", "  replaced the\n disk ", "alice", minutes=45,
                            at="2026-11-11T08:30:00Z", alert_id=alert)
    rec = interventions.get(store, "acme", new)
    assert (rec["host"], rec["kind"], rec["summary"], rec["minutes"], rec["at"], rec["who"], rec["alert_id"]) == (
        "srv01", "corrective", "replaced the disk", 45, "2026-11-11T08:30:00Z", "alice", alert)
    assert rec["created"] == NOW and rec["deleted"] is None and rec["edits"] == []


def test_another_clients_alert_or_result_is_refused(store: Store, alert: int) -> None:
    theirs = supervision.list_alerts(store, "other")[0]
    with pytest.raises(InvalidInput, match="no such alert for client acme"):
        interventions.add(store, "acme", "looked at it", "alice", alert_id=theirs["id"])
    with pytest.raises(InvalidInput, match="--result"):
        interventions.add(store, "acme", "looked at it", "alice", result_id=theirs["opened_result"])
    assert interventions.list_interventions(store, "acme", deleted=True) == []


def test_the_host_must_agree_with_the_alert_and_the_result(store: Store, alert: int) -> None:
    with pytest.raises(InvalidInput, match="--host: alert .* is about host srv01, not srv02"):
        interventions.add(store, "acme", "x", "alice", host="srv02", alert_id=alert)
    other_host = run(store, "acme", "r2", "2026-11-11T20:00:00Z", [("srv02", "hardware.raid", "ok")])[0]
    with pytest.raises(InvalidInput, match="--result: result .* is about host srv02, not srv01"):
        interventions.add(store, "acme", "x", "alice", alert_id=alert, result_id=other_host)
    new = interventions.add(store, "acme", "checked the array", "alice", result_id=other_host, kind="preventive")
    assert interventions.get(store, "acme", new)["host"] == "srv02"


@pytest.mark.parametrize(("changes", "option"), [
    ({"kind": "palliative"}, "--kind"),
    ({"minutes": -5}, "--minutes"),
    ({"minutes": 100_000}, "--minutes"),
    ({"at": "yesterday"}, "--at"),
    ({"at": "2026-11-21T12:00:00Z"}, "--at"),   # tomorrow: work is not done in the future
])
def test_bad_input_names_its_option(store: Store, changes: dict[str, Any], option: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{option}"):
        interventions.add(store, "acme", "x", "alice", **changes)
    with pytest.raises(InvalidInput, match="^--summary"):
        interventions.add(store, "acme", " \n ", "alice")


def test_an_edit_records_who_when_and_the_old_values(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    new = interventions.add(store, "acme", "rebooted", "alice", host="srv01", minutes=10, at="2026-11-12T10:00:00Z")
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-20T13:00:00Z")
    assert interventions.edit(store, "acme", new, "bob", minutes=25, kind="curative", summary="rebooted") == [
        "minutes", "kind"]
    rec = interventions.get(store, "acme", new)
    assert (rec["minutes"], rec["kind"], rec["edited"], rec["edited_by"]) == (
        25, "curative", "2026-11-20T13:00:00Z", "bob")
    assert [(e["field"], e["old_value"], e["new_value"], e["who"]) for e in rec["edits"]] == [
        ("minutes", "10", "25", "bob"), ("kind", "corrective", "curative", "bob")]
    assert interventions.edit(store, "acme", new, "bob", minutes=25) == [], "the same value is no edit"
    with pytest.raises(InvalidInput, match="at least one"):
        interventions.edit(store, "acme", new, "bob")
    with pytest.raises(InvalidInput, match="no such intervention for client other"):
        interventions.edit(store, "other", new, "bob", minutes=1)


def test_deletion_is_soft_hidden_and_kept(store: Store) -> None:
    keep = interventions.add(store, "acme", "patched", "alice", at="2026-11-05T10:00:00Z", minutes=30)
    gone = interventions.add(store, "acme", "typo", "alice", at="2026-11-06T10:00:00Z")
    with pytest.raises(InvalidInput, match="^--reason"):
        interventions.delete(store, "acme", gone, "bob", "  ")
    with pytest.raises(InvalidInput, match="no such intervention for client other"):
        interventions.delete(store, "other", gone, "bob", "not yours")
    interventions.delete(store, "acme", gone, "bob", "entered twice")
    assert [r["id"] for r in interventions.list_interventions(store, "acme")] == [keep]
    assert [r["id"] for r in interventions.for_period(store, "acme", "2026-11-01T00:00:00Z",
                                                      "2026-12-01T00:00:00Z")] == [keep]
    kept = interventions.list_interventions(store, "acme", deleted=True)
    assert [r["id"] for r in kept] == [gone, keep], "newest first, deleted included"
    assert (kept[0]["deleted"], kept[0]["deleted_by"], kept[0]["deleted_reason"]) == (NOW, "bob", "entered twice")
    with pytest.raises(InvalidInput, match="already deleted"):
        interventions.delete(store, "acme", gone, "bob", "again")
    with pytest.raises(InvalidInput, match="deleted"):
        interventions.edit(store, "acme", gone, "bob", minutes=3)


def test_list_filters(store: Store, alert: int) -> None:
    a = interventions.add(store, "acme", "a", "alice", host="srv01", at="2026-11-02T10:00:00Z", kind="preventive")
    b = interventions.add(store, "acme", "b", "alice", host="srv02", at="2026-11-03T10:00:00Z", kind="evolutive")
    c = interventions.add(store, "acme", "c", "alice", alert_id=alert, at="2026-11-11T10:00:00Z")
    interventions.add(store, "other", "d", "alice", at="2026-11-04T10:00:00Z")
    assert [r["id"] for r in interventions.list_interventions(store, "acme")] == [c, b, a]
    assert [r["id"] for r in interventions.list_interventions(store, "acme", host="srv01")] == [c, a]
    assert [r["id"] for r in interventions.list_interventions(store, "acme", kind="evolutive")] == [b]
    assert [r["id"] for r in interventions.list_interventions(
        store, "acme", since="2026-11-03T00:00:00Z", until="2026-11-11T10:00:00Z")] == [b]


def test_for_period_gives_the_report_its_rows_and_cost_prices_them(store: Store, alert: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-12-02T08:00:00Z")
    interventions.add(store, "acme", "before", "alice", at="2026-10-31T23:59:59Z", minutes=60)
    first = interventions.add(store, "acme", "disk swap", "alice", alert_id=alert, at="2026-11-11T08:00:00Z",
                              minutes=45)
    second = interventions.add(store, "acme", "review", "bob", at="2026-11-15T09:00:00Z", kind="preventive")
    interventions.add(store, "acme", "after", "alice", at="2026-12-01T00:00:00Z", minutes=60)
    rows = interventions.for_period(store, "acme", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
    assert rows == [
        {"id": first, "kind": "corrective", "host": "srv01", "summary": "disk swap", "minutes": 45,
         "at": "2026-11-11T08:00:00Z", "who": "alice", "alert_id": alert, "result_id": None},
        {"id": second, "kind": "preventive", "host": None, "summary": "review", "minutes": None,
         "at": "2026-11-15T09:00:00Z", "who": "bob", "alert_id": None, "result_id": None},
    ]
    assert interventions.cost(45, 80) == 60.0
    assert interventions.cost(20, 85) == 28.33
    assert interventions.cost(None, 80) is None and interventions.cost(45, None) is None
    total = interventions.totals(rows, 80)
    assert (total["count"], total["minutes"], total["cost"]) == (2, 45, 60.0)
    assert total["by_kind"]["corrective"] == {"count": 1, "minutes": 45, "cost": 60.0}
    assert total["by_kind"]["preventive"] == {"count": 1, "minutes": 0, "cost": 0.0}
    assert interventions.totals(rows, None)["cost"] is None
