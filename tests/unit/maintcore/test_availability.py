"""Availability in minutes: gaps are unknown, downtime is planned, outages are measured."""

from __future__ import annotations

import datetime as dt

from maintcore import availability

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 1, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def span(host: str, status: str, start: float, end: float) -> dict:
    return {"host": host, "status": status, "start": at(start), "end": at(end)}


def test_down_from_eight_to_six_every_day_is_not_100_percent() -> None:
    spans = []
    for day in range(30):
        base = day * 1440
        spans += [span("srv", "ok", base, base + 480), span("srv", "critical", base + 480, base + 1080),
                  span("srv", "ok", base + 1080, base + 1440)]
    out = availability.by_host(spans, [], ["srv"], T0, T0 + dt.timedelta(days=30), 99.5)
    host = out["hosts"]["srv"]
    assert host["rate"] == round(100 * 14 / 24, 3)
    assert host["down_minutes"] == 30 * 600 and host["outages"] == 30 and host["longest_outage_minutes"] == 600
    assert host["meets_target"] is False and out["client"]["rate"] == host["rate"]


def test_a_gap_in_probing_is_unknown_never_available() -> None:
    spans = [span("srv", "ok", 0, 60), span("srv", "ok", 120, 180)]
    host = availability.by_host(spans, [], ["srv"], T0, T0 + dt.timedelta(minutes=180))["hosts"]["srv"]
    assert host["unknown_minutes"] == 60 and host["up_minutes"] == 120
    assert host["rate"] == 100.0 and host["coverage"] == round(100 * 120 / 180, 1)
    assert ("2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z", "unknown") in host["timeline"]


def test_a_host_never_probed_has_no_rate() -> None:
    host = availability.by_host([], [], ["quiet"], T0, T0 + dt.timedelta(days=1), 99.5)["hosts"]["quiet"]
    assert host["rate"] is None and host["meets_target"] is None and host["unknown_minutes"] == 1440


def test_scheduled_downtime_is_planned_not_unavailable() -> None:
    spans = [span("srv", "ok", 0, 60), span("srv", "critical", 60, 70), span("srv", "ok", 70, 120)]
    downs = [{"host": "srv", "start": at(55), "end": at(75)}]
    host = availability.by_host(spans, downs, ["srv"], T0, T0 + dt.timedelta(minutes=120))["hosts"]["srv"]
    assert host["down_minutes"] == 0 and host["planned_minutes"] == 20 and host["rate"] == 100.0
    # A downtime for every host ('*') counts too; one for another host does not.
    other = availability.by_host(spans, [{"host": "web", "start": at(55), "end": at(75)}], ["srv"], T0,
                                 T0 + dt.timedelta(minutes=120))["hosts"]["srv"]
    assert other["down_minutes"] == 10 and other["outages"] == 1
    star = availability.by_host(spans, [{"host": "*", "start": at(60), "end": at(65)}], ["srv"], T0,
                                T0 + dt.timedelta(minutes=120))["hosts"]["srv"]
    assert star["down_minutes"] == 5 and star["planned_minutes"] == 5


def test_spans_outside_the_period_are_clipped_and_down_wins_over_up() -> None:
    spans = [span("srv", "ok", -100, 50), span("srv", "critical", 40, 60), span("srv", "ok", 60, 200)]
    host = availability.by_host(spans, [], ["srv"], T0, T0 + dt.timedelta(minutes=100))["hosts"]["srv"]
    assert host["up_minutes"] == 80 and host["down_minutes"] == 20
    assert host["outage_list"] == [{"start": at(40), "end": at(60), "minutes": 20.0}]


def test_the_client_rate_weighs_hosts_by_measured_time() -> None:
    spans = [span("a", "ok", 0, 100), span("b", "critical", 0, 10), span("b", "ok", 10, 100)]
    client = availability.by_host(spans, [], ["a", "b"], T0, T0 + dt.timedelta(minutes=100), 95)["client"]
    assert client["rate"] == 95.0 and client["down_minutes"] == 10 and client["hosts_meeting_target"] == 1
