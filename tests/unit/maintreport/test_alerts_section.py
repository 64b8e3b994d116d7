"""Alerts handled in the monthly report: counts, response and resolution against the SLA, links.

The month of test_availability_section.py (SLA P1: respond in 1 h, resolve in 12 h; P3: 24 h, 72 h):

* srv1's availability alert of each day opens at 08:01 (the second bad probe) and resolves at 18:00
  (the first good one): day 1 acknowledged by alice at 08:30 (met), day 2 by bob at 10:01 (response
  missed), day 3 never acknowledged (response = resolution = 9.98 h: missed);
* a watch's disk warning on srv2 (P3): acknowledged after 1 h, resolved by hand after 23 h (met);
* a backup alert opened on Oct 30 and resolved by hand on Nov 1 without acknowledgement (48 h:
  missed both), still active when the month began;
* srv3's outage opened an alert inside scheduled downtime: listed as such, not judged.
"""

from __future__ import annotations

from typing import Any

import pytest

from maintcore.store import Store
from maintreport import api, build
from tests.unit.maintreport.test_availability_section import CLIENT, Month, doc, month  # noqa: F401 - fixtures


def alert(doc: dict[str, Any], alert_id: int) -> dict[str, Any]:  # noqa: F811 - the fixture's name
    return next(a for a in doc["alerts"] if a["id"] == alert_id)


def test_alerts_of_the_period_and_those_still_active_from_before(doc: dict[str, Any], month: Month) -> None:  # noqa: F811
    ids = month.alerts
    assert [a["id"] for a in doc["alerts"]] == [ids["carried"], ids["srv1_day1"], ids["srv3"], ids["srv1_day2"],
                                                ids["disk"], ids["srv1_day3"]]
    carried = alert(doc, ids["carried"])
    assert carried["carried_over"] and carried["opened"] == "2026-10-30T10:00:00Z"
    assert carried["resolved_by"] == "dave" and carried["resolved_note"] == "restarted the backup job"
    sla = doc["sla"]
    assert (sla["alerts"], sla["opened_in_period"], sla["carried_over"], sla["in_downtime"], sla["active"]) == \
        (6, 5, 1, 1, 0)
    assert sla["by_state"] == {"open": 0, "acknowledged": 0, "resolved": 6}


def test_each_alert_with_who_when_and_its_evidence(doc: dict[str, Any], month: Month) -> None:  # noqa: F811
    day1 = alert(doc, month.alerts["srv1_day1"])
    assert (day1["host"], day1["check"], day1["item"], day1["severity"], day1["status"]) == \
        ("srv1", "service.tcp", "ssh:22", "P1", "critical")
    assert (day1["opened"], day1["acknowledged"], day1["resolved"]) == \
        ("2026-11-02T08:01:00Z", "2026-11-02T08:30:00Z", "2026-11-02T18:00:00Z")
    assert (day1["ack_by"], day1["ack_note"], day1["resolved_by"]) == ("alice", "on it", None)
    assert (day1["response_hours"], day1["resolution_hours"]) == (0.48, 9.98)
    assert (day1["response"], day1["resolution"], day1["sla"]) == ("met", "met", "met")
    # the results that opened and resolved it are linked, and are rows of the appendix
    appendix = doc["appendix"]
    rows = {r["id"]: r for h in appendix.hosts for r in appendix.host_objects(h)["results"]}
    opened, resolved = rows[day1["opened_result"]], rows[day1["resolved_result"]]
    assert (opened["status"], opened["time"]) == ("critical", "2026-11-02T08:01:00Z")
    assert (resolved["status"], resolved["time"]) == ("ok", "2026-11-02T18:00:00Z")
    assert day1["evidence"] == sorted({day1["opened_result"], day1["resolved_result"]})
    for a in doc["alerts"]:
        assert set(a["evidence"]) <= set(rows)
    day2, day3 = alert(doc, month.alerts["srv1_day2"]), alert(doc, month.alerts["srv1_day3"])
    assert (day2["response_hours"], day2["response"], day2["resolution"], day2["sla"]) == (2.0, "missed", "met",
                                                                                            "missed")
    assert (day3["acknowledged"], day3["response_hours"], day3["sla"]) == (None, 9.98, "missed")
    disk = alert(doc, month.alerts["disk"])
    assert (disk["severity"], disk["resolved_by"], disk["resolved_note"], disk["resolved_result"]) == \
        ("P3", "alice", "old logs removed", None)
    assert (disk["response_hours"], disk["resolution_hours"], disk["sla"]) == (1.0, 23.0, "met")


def test_alerts_opened_in_downtime_are_listed_as_such(doc: dict[str, Any], month: Month) -> None:  # noqa: F811
    srv3 = alert(doc, month.alerts["srv3"])
    assert srv3["suppressed"] and srv3["sla"] == "downtime" and srv3["opened"] == "2026-11-03T02:01:00Z"


def test_counts_by_severity_median_worst_and_within_sla(doc: dict[str, Any]) -> None:  # noqa: F811
    sla = doc["sla"]
    by = {s["severity"]: s for s in sla["by_severity"]}
    assert set(by) == {"P1", "P3"}
    p1 = by["P1"]
    assert (p1["alerts"], p1["in_downtime"]) == (5, 1)
    # judged P1 responses: 0.48 h, 2 h, 9.98 h, 48 h
    assert p1["response"] == {"median_hours": 5.99, "worst_hours": 48.0, "limit_hours": 1.0, "met": 1, "missed": 3,
                              "pending": 0, "none": 0, "within_rate": 25.0}
    assert p1["resolution"] == {"median_hours": 9.98, "worst_hours": 48.0, "limit_hours": 12.0, "met": 3,
                                "missed": 1, "pending": 0, "none": 0, "within_rate": 75.0}
    assert by["P3"]["response"]["within_rate"] == 100.0 and by["P3"]["resolution"]["worst_hours"] == 23.0
    assert sla["response"]["within_rate"] == 40.0 and sla["resolution"]["within_rate"] == 80.0
    assert sla["response"]["limit_hours"] is None  # two severities, two limits
    assert (sla["met"], sla["missed"], sla["pending"], sla["none"], sla["met_rate"]) == (2, 3, 0, 0, 40.0)
    assert sla["response_hours"]["P1"] == 1.0 and sla["resolve_hours"]["P3"] == 72.0


def test_a_report_shows_alerts_as_they_stood_at_its_end(month: Month, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    # generated during the month (Nov 3, 09:30 UTC): day 2's alert is open, its acknowledgement is the future
    month.env["MAINT_TEST_NOW"] = "2026-11-03T09:30:00Z"
    try:
        early = month.doc(monkeypatch)
    finally:
        month.env["MAINT_TEST_NOW"] = "2026-12-01T08:00:00Z"
    assert early["as_of"] == "2026-11-03T09:30:00Z"
    day2 = alert(early, month.alerts["srv1_day2"])
    assert (day2["state"], day2["acknowledged"], day2["ack_by"], day2["resolved"]) == ("open", None, None, None)
    assert day2["response"] == "missed" and day2["resolution"] == "pending"  # 1.48 h, over the 1 h limit
    assert [a["id"] for a in early["alerts"]][-1] == month.alerts["srv1_day2"]
    assert early["availability"]["until"] == "2026-11-03T09:30:00Z"  # nothing after "now" is measured
    assert early["sla"]["active"] == 1 and early["summary"]["active_alerts"] == 1


def test_the_score_moves_with_the_alerts_handled() -> None:
    entries = [{"suppressed": False, "carried_over": False, "state": "resolved", "severity": "P1",
                "response_hours": 0.5, "response_limit_hours": 1.0, "resolution_hours": 2.0,
                "resolution_limit_hours": 4.0, "response": "met", "resolution": "met", "sla": sla}
               for sla in ("met", "met", "missed", "pending")]
    summary = build.alerts_summary(entries, {"P1": 1.0}, {"P1": 4.0})
    assert summary["met_rate"] == round(200 / 3, 1) and build.alerts_score(summary) == summary["met_rate"]
    weights = {"hardware": 25.0, "alerts": 10.0}
    better = build.alerts_summary([{**e, "sla": "met"} for e in entries], {}, {})
    assert build.compliance_score({"hardware": 80.0, "alerts": build.alerts_score(better)}, weights) > \
        build.compliance_score({"hardware": 80.0, "alerts": build.alerts_score(summary)}, weights)
    assert build.alerts_score(build.alerts_summary([], {}, {})) is None  # no alert: left out, not 100


def test_the_fleet_row_of_a_supervised_client(month: Month, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    for key, value in month.env.items():
        monkeypatch.setenv(key, value)
    with Store(month.db_path) as store:
        fleet = api.build_fleet(store, [CLIENT], period="2026-11")
    (row,) = fleet["clients"]
    assert row["error"] is None and row["runs"] == 3 and row["last_run"] == "2026-11-04T21:30:00Z"
