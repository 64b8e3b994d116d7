"""Alerts with a lifecycle: flap damping, one alert per key, downtime, escalation, spans, people's actions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from maintcore import supervision
from maintcore.errors import InvalidInput
from maintcore.store import Store

T0 = dt.datetime(2026, 11, 10, 3, 0, tzinfo=dt.UTC)
POLICY: dict[str, Any] = {
    "client_name": "Acme", "timezone": "Europe/Paris",
    "sla": {"response_hours": {"P1": 1, "P3": 24}, "resolve_hours": {"P1": 4}},
    "supervision": {"open_after": {"availability": 2, "other": 1},
                    "notify": {"email": ["ops@msp.example"], "apprise": ["vault_hook"],
                               "escalation": {"email": ["boss@msp.example"]}}},
}


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def res(check: str, status: str, minute: float, host: str = "web01", item: str = "", run_id: str = "r1",
        availability: bool = False, severity: str | None = None) -> dict[str, Any]:
    observed: dict[str, Any] = {"availability": True} if availability else {"value": 1}
    return {"client": "acme", "host": host, "run_id": run_id, "check": check, "item": item, "status": status,
            "summary": f"{check} is {status}", "observed": observed, "threshold": {}, "remediation": "",
            "changed": False, "started": at(minute), "finished": at(minute),
            "severity": severity or {"critical": "P1", "warning": "P3"}.get(status)}


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "store.db") as db:
        yield db


def probe(store: Store, minute: float, status: str, host: str = "web01", interval: int = 60) -> supervision.Outcome:
    run = {"run_id": f"probe-{minute}", "kind": "probe", "started": at(minute)}
    return supervision.observe(store, "acme", run, [res("service.tcp", status, minute, host=host, item="ssh:22",
                                                         run_id=run["run_id"], availability=True)],
                               POLICY, interval_s=interval)


def notifications(store: Store) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in store.db.execute("SELECT event, channel, target FROM notifications ORDER BY id")]


def test_availability_alert_opens_after_two_bad_probes_and_recovers_once(store: Store) -> None:
    assert probe(store, 0, "ok").opened == []
    first = probe(store, 1, "critical")
    assert first.opened == [] and first.stored == 1, "one bad probe is damped"
    second = probe(store, 2, "critical")
    assert len(second.opened) == 1
    alert_id = second.opened[0]
    assert probe(store, 3, "critical").opened == [], "one alert per key, not one per observation"
    assert notifications(store) == [("opened", "email", "ops@msp.example"), ("opened", "apprise", "vault_hook")]
    back = probe(store, 4, "ok")
    assert back.resolved == [alert_id]
    alert = supervision.get_alert(store, "acme", alert_id)
    assert alert["state"] == "resolved" and alert["resolved"] == at(4) and alert["opened"] == at(2)
    kinds = [(e["kind"], e["result_id"] is not None) for e in alert["events"]]
    assert kinds == [("opened", True), ("resolved", True)], "each transition links its result"
    assert [n[0] for n in notifications(store)] == ["opened", "opened", "recovered", "recovered"]
    # ok probes after the recovery are not stored: only what is not ok or changed.
    assert probe(store, 5, "ok").stored == 0


def test_other_checks_open_at_once_worsen_and_resolve(store: Store) -> None:
    run = {"run_id": "w1", "kind": "watch", "started": at(0)}
    out = supervision.observe(store, "acme", run, [res("hardware.disk_free", "warning", 0, item="/srv")], POLICY)
    assert len(out.opened) == 1
    alert_id = out.opened[0]
    run2 = {"run_id": "w2", "kind": "watch", "started": at(5)}
    worse = supervision.observe(store, "acme", run2, [res("hardware.disk_free", "critical", 5, item="/srv",
                                                          run_id="w2")], POLICY)
    assert worse.worsened == [alert_id] and worse.opened == []
    alert = supervision.get_alert(store, "acme", alert_id)
    assert alert["status"] == "critical" and alert["severity"] == "P1"
    # unknown neither resolves nor opens anything: nobody read the value.
    unknown = supervision.observe(store, "acme", {"run_id": "w3", "kind": "watch", "started": at(10)},
                                  [res("hardware.disk_free", "unknown", 10, item="/srv", run_id="w3")], POLICY)
    assert unknown.resolved == [] and supervision.get_alert(store, "acme", alert_id)["state"] == "open"
    ok = supervision.observe(store, "acme", {"run_id": "w4", "kind": "watch", "started": at(15)},
                             [res("hardware.disk_free", "ok", 15, item="/srv", run_id="w4")], POLICY)
    assert ok.resolved == [alert_id]


def test_downtime_suppresses_notifications(store: Store) -> None:
    supervision.add_downtime(store, "acme", "web01", at(0), at(30), "disk swap", "alice")
    probe(store, 1, "critical")
    out = probe(store, 2, "critical")
    assert out.opened and out.suppressed == out.opened
    probe(store, 3, "ok")
    assert notifications(store) == [], "an alert in scheduled downtime notifies nobody, nor its recovery"
    # Another host is not in that downtime; '*' covers every host.
    probe(store, 1, "critical", host="db01")
    assert probe(store, 2, "critical", host="db01").suppressed == []
    supervision.add_downtime(store, "acme", "*", at(40), at(50), "site power work", "alice")
    probe(store, 41, "critical", host="app01")
    assert probe(store, 42, "critical", host="app01").suppressed


def test_a_patch_run_that_installs_is_scheduled_downtime(store: Store) -> None:
    store.start_run({"run_id": "night", "client": "acme", "kind": "scheduled", "areas": "patch",
                     "check_mode": False, "started": at(0)})
    probe(store, 1, "critical")
    assert probe(store, 2, "critical").suppressed
    supervision.ingest_run(store, "acme", [], [], POLICY)
    rebooted = res("patch.rebooted", "ok", 3, run_id="night")
    rebooted["changed"] = True
    with store.transaction() as db:
        ids = store.insert_results(db, [rebooted])
    supervision.ingest_run(store, "acme", [rebooted], ids, POLICY)
    downs = supervision.downtimes(store, "acme")
    assert [(d["host"], d["source"], d["result_id"]) for d in downs] == [("web01", "window", ids[0])]


def test_a_host_that_is_down_opens_one_alert_not_one_per_check(store: Store) -> None:
    probe(store, 0, "critical")
    probe(store, 1, "critical")
    out = supervision.observe(store, "acme", {"run_id": "w1", "kind": "watch", "started": at(2)},
                              [res("hardware.disk_free", "critical", 2, item="/")], POLICY)
    assert out.opened == []


def test_escalation_goes_to_the_escalation_contacts_once(store: Store) -> None:
    probe(store, 0, "critical")
    alert_id = probe(store, 1, "critical").opened[0]
    assert supervision.escalate_due(store, "acme", POLICY, T0 + dt.timedelta(minutes=30)) == []
    assert supervision.escalate_due(store, "acme", POLICY, T0 + dt.timedelta(minutes=62)) == [alert_id]
    assert supervision.escalate_due(store, "acme", POLICY, T0 + dt.timedelta(minutes=90)) == []
    assert notifications(store)[-1] == ("escalated", "email", "boss@msp.example")
    assert [n for n in notifications(store) if n[0] == "escalated"] == [("escalated", "email", "boss@msp.example")]


def test_an_acknowledged_alert_is_not_escalated_and_people_are_recorded(store: Store) -> None:
    probe(store, 0, "critical")
    alert_id = probe(store, 1, "critical").opened[0]
    supervision.acknowledge(store, "acme", alert_id, "alice", "on it", at=at(20))
    assert supervision.escalate_due(store, "acme", POLICY, T0 + dt.timedelta(hours=3)) == []
    with pytest.raises(InvalidInput, match="only an open alert"):
        supervision.acknowledge(store, "acme", alert_id, "bob", None)
    supervision.add_note(store, "acme", alert_id, "alice", "replaced the cable", at=at(25))
    supervision.resolve(store, "acme", alert_id, "alice", "cable replaced", at=at(30))
    alert = supervision.get_alert(store, "acme", alert_id)
    assert (alert["acknowledged"], alert["ack_by"], alert["resolved"], alert["resolved_by"]) == (
        at(20), "alice", at(30), "alice")
    assert [e["kind"] for e in alert["events"]] == ["opened", "acknowledged", "note", "resolved"]
    with pytest.raises(InvalidInput, match="no such alert for client other"):
        supervision.get_alert(store, "other", alert_id)
    with pytest.raises(InvalidInput, match="--note"):
        supervision.resolve(store, "acme", alert_id, "alice", " ")


def test_probe_spans_extend_change_and_leave_gaps_unknown(store: Store) -> None:
    for minute in (0, 1, 2):
        probe(store, minute, "ok")
    probe(store, 3, "critical")
    probe(store, 4, "ok")
    probe(store, 30, "ok")  # the controller was down from 5 to 30
    rows = supervision.spans(store, "acme", at(-10), at(60))
    assert [(r["status"], r["start"], r["end"]) for r in rows] == [
        ("ok", at(0), at(3)), ("critical", at(3), at(4)), ("ok", at(4), at(5)), ("ok", at(30), at(31))]


def test_a_late_observation_changes_nothing(store: Store) -> None:
    probe(store, 10, "ok")
    assert probe(store, 5, "critical").opened == []
    state = store.db.execute("SELECT status, last_seen FROM check_state").fetchone()
    assert tuple(state) == ("ok", at(10))


def test_downtime_input_is_checked(store: Store) -> None:
    with pytest.raises(InvalidInput, match="must be after"):
        supervision.add_downtime(store, "acme", "web01", at(10), at(5), "x", "alice")
    with pytest.raises(InvalidInput, match="--reason"):
        supervision.add_downtime(store, "acme", "web01", at(0), at(5), " ", "alice")
    new = supervision.add_downtime(store, "acme", "web01", at(0), at(5), "fan", "alice")
    supervision.delete_downtime(store, "acme", new, "bob")
    assert supervision.downtimes(store, "acme") == []
    assert supervision.downtimes(store, "acme", deleted=True)[0]["deleted_by"] == "bob"
    with pytest.raises(InvalidInput, match="no such active downtime"):
        supervision.delete_downtime(store, "acme", new, "bob")


def test_sla_view_measures_response_and_resolution_against_the_table() -> None:
    alert = {"opened": at(0), "acknowledged": at(30), "resolved": at(300), "severity": "P1"}
    view = supervision.sla_view(alert, POLICY, at(400))
    assert view["response_hours"] == 0.5 and view["response_within_sla"] is True
    assert view["resolution_hours"] == 5.0 and view["resolution_limit_hours"] == 4 and view["resolution_within_sla"] is False
    pending = supervision.sla_view({"opened": at(0), "severity": "P1"}, POLICY, at(30))
    assert pending["response_hours"] is None and pending["response_within_sla"] is None
    overdue = supervision.sla_view({"opened": at(0), "severity": "P1"}, POLICY, at(90))
    assert overdue["response_within_sla"] is False
    # No limit for P2 in this table: nothing to compare with.
    assert supervision.sla_view({"opened": at(0), "severity": "P2"}, POLICY, at(90))["response_within_sla"] is None
