"""A host's history: runs, status transitions only, changes made, alert transitions, interventions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maintcore import history, interventions, supervision
from maintcore.store import Store

NOW = "2026-11-30T12:00:00Z"


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("MAINT_TEST_NOW", NOW)
    with Store(tmp_path / "store.db") as db:
        yield db


def result(client: str, run_id: str, at: str, host: str, check: str, status: str, item: str = "",
           changed: bool = False) -> dict[str, Any]:
    return {"run_id": run_id, "client": client, "host": host, "check": check, "item": item, "status": status,
            "summary": f"{check} is {status}", "started": at, "finished": at, "changed": changed,
            "severity": "P2" if status == "critical" else None}


def nightly(store: Store, run_id: str, at: str, rows: list[tuple[Any, ...]], client: str = "acme") -> list[int]:
    """A scheduled run of (host, check, status[, item[, changed]]) results, applied to supervision."""
    store.start_run({"run_id": run_id, "client": client, "areas": "hardware,patch", "started": at,
                     "kind": "scheduled"})
    results = [result(client, run_id, at, *row) for row in rows]
    with store.transaction() as db:
        ids = store.insert_results(db, results)
    supervision.ingest_run(store, client, results, ids, {})
    store.finish_run(run_id, "completed", 1, at)
    return ids


def watch(store: Store, run_id: str, at: str, rows: list[tuple[Any, ...]]) -> None:
    """A watch cycle: only what is not ok or changed status is stored, under a run of kind watch."""
    supervision.observe(store, "acme", {"run_id": run_id, "kind": "watch", "started": at},
                        [result("acme", run_id, at, *row) for row in rows], {})


def day(n: int, hour: int = 20) -> str:
    return f"2026-11-{n:02d}T{hour:02d}:00:00Z"


@pytest.fixture()
def filled(store: Store) -> dict[str, Any]:
    """srv01: disk ok, ok, critical (alert), watch critical again, ok; patch changed something; srv02 and
    another client alongside."""
    ids: dict[str, Any] = {}
    ids["r1"] = nightly(store, "r1", day(1), [("srv01", "hardware.disk_free", "ok", "/"),
                                             ("srv01", "patch.pending_security", "warning"),
                                             ("srv02", "hardware.disk_free", "ok", "/")])
    ids["r2"] = nightly(store, "r2", day(2), [("srv01", "hardware.disk_free", "ok", "/"),
                                             ("srv01", "patch.pending_security", "ok", "", True),
                                             ("srv02", "hardware.disk_free", "critical", "/")])
    ids["r3"] = nightly(store, "r3", day(3), [("srv01", "hardware.disk_free", "critical", "/"),
                                             ("srv01", "patch.pending_security", "ok")])
    watch(store, "w1", day(3, 21), [("srv01", "hardware.disk_free", "critical", "/")])
    ids["alert"] = supervision.list_alerts(store, "acme", host="srv01")[0]["id"]
    supervision.acknowledge(store, "acme", ids["alert"], "alice", "on it", at=day(3, 22))
    ids["work"] = interventions.add(store, "acme", "freed 20 GB", "alice", alert_id=ids["alert"], minutes=30,
                                    at=day(4, 9))
    watch(store, "w2", day(4, 10), [("srv01", "hardware.disk_free", "ok", "/")])
    ids["typo"] = interventions.add(store, "acme", "typo", "alice", host="srv01", at=day(4, 11))
    interventions.delete(store, "acme", ids["typo"], "alice", "entered by mistake")
    nightly(store, "x1", day(3), [("srv01", "hardware.disk_free", "critical", "/")], client="other")
    return ids


def brief(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["at"], e["type"], e["kind"], e["check"], e["previous"], e["status"]) for e in events]


def test_a_hosts_timeline_is_newest_first_with_transitions_only(store: Store, filled: dict[str, Any]) -> None:
    events = history.timeline(store, "acme", "srv01")
    assert brief(events) == [   # the intervention deleted at day 4, 11:00 is not there
        (day(4, 10), "alert", "resolved", "hardware.disk_free", None, "ok"),
        (day(4, 10), "status", "watch", "hardware.disk_free", "critical", "ok"),
        (day(4, 9), "intervention", "corrective", "hardware.disk_free", None, None),
        (day(3, 22), "alert", "acknowledged", "hardware.disk_free", None, None),
        (day(3), "alert", "opened", "hardware.disk_free", None, "critical"),
        (day(3), "status", "scheduled", "hardware.disk_free", "ok", "critical"),
        (day(3), "run", "scheduled", None, None, "completed"),
        (day(2), "alert", "resolved", "patch.pending_security", None, "ok"),
        (day(2), "change", "scheduled", "patch.pending_security", "warning", "ok"),
        (day(2), "run", "scheduled", None, None, "completed"),
        (day(1), "alert", "opened", "patch.pending_security", None, "warning"),
        (day(1), "status", "scheduled", "patch.pending_security", None, "warning"),
        (day(1), "status", "scheduled", "hardware.disk_free", None, "ok"),
        (day(1), "run", "scheduled", None, None, "completed"),
    ]
    stamps = [e["at"] for e in events]
    assert stamps == sorted(stamps, reverse=True)
    assert not [e for e in events if e["type"] == "status" and e["previous"] == e["status"]], "no ok -> ok"
    assert {e["run_id"] for e in events if e["type"] == "run"} == {"r1", "r2", "r3"}, \
        "watch cycles show only through their results, never as runs"
    json.dumps(events)


def test_each_event_names_its_evidence(store: Store, filled: dict[str, Any]) -> None:
    events = history.timeline(store, "acme", "srv01")
    by_type = {(e["type"], e["kind"]): e for e in events if e["check"] in (None, "hardware.disk_free")}
    by_type[("change", "scheduled")] = next(e for e in events if e["type"] == "change")
    opened = by_type[("alert", "opened")]
    assert opened["alert_id"] == filled["alert"] and opened["evidence"] == f"alert {filled['alert']}"
    assert opened["result_id"] == filled["r3"][0]
    critical = [e for e in events if e["type"] == "status" and e["status"] == "critical"][0]
    assert (critical["result_id"], critical["evidence"]) == (filled["r3"][0], f"result {filled['r3'][0]}")
    change = by_type[("change", "scheduled")]
    assert change["result_id"] == filled["r2"][1]
    work = by_type[("intervention", "corrective")]
    assert (work["intervention_id"], work["evidence"], work["alert_id"], work["minutes"], work["who"]) == (
        filled["work"], f"intervention {filled['work']}", filled["alert"], 30, "alice")
    run = by_type[("run", "scheduled")]
    assert run["evidence"] == f"run {run['run_id']}" and run["results"] == 2


def test_another_host_and_another_client_stay_out(store: Store, filled: dict[str, Any]) -> None:
    assert {e["host"] for e in history.timeline(store, "acme", "srv01") if e["type"] != "run"} == {"srv01"}
    client = history.timeline(store, "acme")
    assert {e["host"] for e in client if e["type"] != "run"} == {"srv01", "srv02"}
    assert not [e for e in client if e["run_id"] == "x1"]
    assert ("status", "hardware.disk_free", "ok", "critical") in [
        (e["type"], e["check"], e["previous"], e["status"]) for e in client if e["host"] == "srv02"]
    assert {e["host"] for e in history.timeline(store, "other") if e["type"] != "run"} == {"srv01"}


def test_check_glob_narrows_results_alerts_interventions_and_runs(store: Store, filled: dict[str, Any]) -> None:
    events = history.timeline(store, "acme", "srv01", check="patch.*")
    assert [(e["type"], e["check"], e["run_id"]) for e in events] == [
        ("run", None, "r3"), ("alert", "patch.pending_security", None), ("change", "patch.pending_security", "r2"),
        ("run", None, "r2"), ("alert", "patch.pending_security", None), ("status", "patch.pending_security", "r1"),
        ("run", None, "r1")]
    hardware = history.timeline(store, "acme", "srv01", check="hardware.disk_*")
    assert {e["check"] for e in hardware if e["type"] != "run"} == {"hardware.disk_free"}
    assert filled["work"] in [e["intervention_id"] for e in hardware], "linked to a hardware alert"
    assert [e for e in history.timeline(store, "acme", "srv01", check="Hardware.*") if e["type"] != "run"] == [], \
        "the glob is case-sensitive, as check ids are"
    assert [e for e in history.timeline(store, "acme", "srv01", check="backup.*") if e["type"] != "run"] == []


def test_since_compares_with_the_status_before_the_period(store: Store, filled: dict[str, Any]) -> None:
    events = history.timeline(store, "acme", "srv01", since=day(2, 12))
    assert [e["at"] for e in events][-1] >= day(2, 12)
    statuses = [(e["at"], e["check"], e["previous"], e["status"]) for e in events if e["type"] == "status"]
    # r3's patch ok follows r2's ok: no event; r3's disk critical follows r2's ok: an event.
    assert statuses == [(day(4, 10), "hardware.disk_free", "critical", "ok"),
                        (day(3), "hardware.disk_free", "ok", "critical")]
    until = history.timeline(store, "acme", "srv01", since=day(2), until=day(3))
    assert brief(until) == [(day(2), "alert", "resolved", "patch.pending_security", None, "ok"),
                            (day(2), "change", "scheduled", "patch.pending_security", "warning", "ok"),
                            (day(2), "run", "scheduled", None, None, "completed")]


def test_limit_keeps_the_newest(store: Store, filled: dict[str, Any]) -> None:
    full = history.timeline(store, "acme", "srv01")
    assert history.timeline(store, "acme", "srv01", limit=3) == full[:3]


def test_a_long_ok_streak_is_one_event(store: Store) -> None:
    for n in range(1, 11):
        nightly(store, f"r{n}", day(n), [("srv01", "hardware.smart", "critical" if n == 6 else "ok")])
    statuses = [(e["previous"], e["status"]) for e in history.timeline(store, "acme", "srv01")
                if e["type"] == "status"]
    assert statuses == [("critical", "ok"), ("ok", "critical"), (None, "ok")]


def test_like_pattern_is_a_superset_of_the_glob() -> None:
    assert history.like_pattern("hardware.*") == "hardware.%"
    assert history.like_pattern("patch.pending_?") == "patch.pending\\__"
    assert history.like_pattern("hardware.[rs]*") == "hardware.%"


def test_the_host_query_reads_its_index(store: Store) -> None:
    plan = " ".join(row[3] for row in store.db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM results WHERE client=? AND host=? AND finished>=?", ("a", "b", "c")))
    assert "results_client_host_finished" in plan
    assert history.known_host(store, "acme", "srv01") is False
