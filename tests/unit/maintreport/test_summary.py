"""The first page's decisions (maintreport.summary): which sentence the data says, the score's change,
the order of the risks, and the month-over-month series with months without data.

Pure functions on plain data; the sentences are checked by their catalogue key and parameters, and
once rendered in both locales from the real catalogues.
"""

from __future__ import annotations

from typing import Any

import pytest

from maintreport import summary
from maintreport.i18n import Text


def avail(rate: float | None, hosts: int = 5, measured: int | None = None, meets: bool | None = True) -> dict[str, Any]:
    return {"rate": rate, "target": 99.5, "meets_target": meets if rate is not None else None,
            "hosts_total": hosts, "hosts_measured": hosts if measured is None else measured}


def sla(alerts: int, met: int = 0, missed: int = 0, pending: int = 0, in_downtime: int = 0) -> dict[str, Any]:
    return {"alerts": alerts, "met": met, "missed": missed, "pending": pending, "in_downtime": in_downtime}


def rec(rank: int, status: str, severity: str | None, hosts: list[str], avoided: float | None = None,
        early: float = 100.0, check: str = "hardware.disk_free") -> dict[str, Any]:
    cost = None if status == "unknown" else {"early": early, "late": None if avoided is None else early + avoided,
                                              "avoided": avoided, "currency": "EUR"}
    return {"rank": rank, "check": check, "area": check.split(".")[0], "status": status, "severity": severity,
            "hosts": hosts, "host_count": len(hosts), "cost": cost}


EN = Text("en")
FR = Text("fr")


# -- the three sentences ---------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "key"), [
    (avail(99.83), "fp.avail_met"),
    (avail(99.83, hosts=1), "fp.avail_met_one"),
    (avail(97.2, meets=False), "fp.avail_missed"),
    (avail(99.9, hosts=5, measured=4), "fp.avail_partial_one"),
    (avail(99.9, hosts=50, measured=40), "fp.avail_partial"),
    (avail(None, measured=0), "fp.avail_unknown"),
])
def test_the_availability_sentence_follows_the_data(data: dict[str, Any], key: str) -> None:
    said = summary.availability_sentence(data, EN)
    assert said["key"] == key
    if data["rate"] is None:  # not measured is said so, never as 100 %
        assert "100" not in said["text"] and "not measured" in said["text"]
    else:
        assert said["params"]["rate"] == data["rate"]


def test_the_availability_sentence_in_both_locales() -> None:
    en = summary.availability_sentence(avail(99.83), EN)["text"]
    fr = summary.availability_sentence(avail(99.83), FR)["text"]
    assert en == "Your 5 machines were available 99.8\u00a0%\u00a0of the time (target 99.5\u00a0%)."
    assert fr == "Vos 5 machines ont été disponibles 99,8\u00a0%\u00a0du temps (objectif 99,5\u00a0%)."


@pytest.mark.parametrize(("data", "key"), [
    (sla(0), "fp.alerts_none"),
    (sla(4, met=4), "fp.alerts_met"),
    (sla(1, met=1), "fp.alerts_met_one"),
    (sla(4, met=3, missed=1), "fp.alerts_mixed"),
    (sla(4, met=2, pending=2), "fp.alerts_mixed"),
    (sla(5, met=2, in_downtime=3), "fp.alerts_met_dt"),
    (sla(5, met=1, missed=1, in_downtime=3), "fp.alerts_mixed_dt"),
    (sla(3, in_downtime=3), "fp.alerts_downtime"),
    (sla(2), "fp.alerts_unjudged"),  # the contract sets no limit: not "within the contract's time"
])
def test_the_alerts_sentence_follows_the_data(data: dict[str, Any], key: str) -> None:
    said = summary.alerts_sentence(data, EN)
    assert said["key"] == key
    if key != "fp.alerts_met" and key != "fp.alerts_met_one":
        assert "all within" not in said["text"]


def test_four_alerts_all_within_the_contract() -> None:
    assert summary.alerts_sentence(sla(4, met=4), EN)["text"] == "We handled 4 alerts, all within the contract's time."
    assert summary.alerts_sentence(sla(4, met=4), FR)["text"] == \
        "Nous avons traité 4 alertes, toutes dans les délais du contrat."


def test_the_risks_sentence_names_the_first_risk_or_what_could_not_be_checked() -> None:
    risks = summary.top_risks([rec(1, "critical", "P2", ["files01"], avoided=900.0)], EN, lambda r: "Latest backup")
    one = summary.risks_sentence(risks, 1, [], EN, lambda c: c)
    assert one["key"] == "fp.risks_one"
    assert one["text"] == "One risk needs your decision: Latest backup is critical on files01."
    assert summary.risks_sentence(risks, 4, [], EN, lambda c: c)["key"] == "fp.risks_many"
    assert summary.risks_sentence([], 0, [], EN, lambda c: c)["key"] == "fp.risks_none"
    # nothing found, but parts were not measured: never plain good news
    unchecked = summary.risks_sentence([], 0, ["backup", "availability"], EN, lambda c: EN(f"component.{c}"))
    assert unchecked["key"] == "fp.risks_none_unchecked" and "could not be checked" in unchecked["text"]


# -- the score's change ---------------------------------------------------------------------------------
def months(*scores: float | None) -> list[dict[str, Any]]:
    return [{"period": f"2026-{6 + i:02d}", "score": s} for i, s in enumerate(scores)]


def test_the_score_change_against_last_month() -> None:
    up = summary.score_change(82.0, months(70.0, 78.9, 82.0), "2026-08", EN)
    assert (up["direction"], up["change"], up["previous"], up["previous_period"]) == ("up", 3.1, 78.9, "2026-07")
    assert up["sentence"]["text"] == "Score 82/100, up 3.1 points since July 2026 (78.9/100)."
    down = summary.score_change(75.5, months(80.0, 75.5), "2026-07", FR)
    assert down["direction"] == "down" and down["change"] == -4.5
    assert down["sentence"]["text"] == "Score 75,5/100, en baisse de 4,5 points depuis juin 2026 (80/100)."
    assert summary.score_change(80.0, months(80.0, 80.0), "2026-07", EN)["direction"] == "same"


def test_no_score_last_month_is_not_a_change_from_zero() -> None:
    first = summary.score_change(82.0, months(90.0, None, 82.0), "2026-08", EN)
    assert first["direction"] == "first" and first["change"] is None and first["previous"] is None
    assert "no score for July 2026" in first["sentence"]["text"]
    none = summary.score_change(None, months(80.0, None), "2026-07", EN)
    assert none["direction"] == "none" and none["change"] is None
    assert summary.score_change(50.0, months(50.0), "2026-06", EN)["direction"] == "first"


# -- the three risks ---------------------------------------------------------------------------------
def test_the_top_three_risks_worst_first_with_their_cost() -> None:
    recs = [
        rec(1, "warning", "P1", ["a"], avoided=10_000.0),
        rec(2, "unknown", "P1", ["b", "c"]),
        rec(3, "critical", "P3", ["d"], avoided=100.0),
        rec(4, "critical", "P2", ["e"], avoided=50.0),
        rec(5, "critical", "P2", ["f", "g"], avoided=5_000.0, check="hardware.smart"),
    ]
    risks = summary.top_risks(recs, EN, lambda r: r["check"])
    # critical before warning before unread; then severity; then the downtime cost avoided
    assert [r["recommendation"] for r in risks] == [5, 4, 3]
    assert [r["rank"] for r in risks] == [1, 2, 3]
    assert risks[0]["cost"] == {"early": 100.0, "late": 5100.0, "avoided": 5000.0, "currency": "EUR"}
    assert risks[0]["cost_text"]["text"] == "Acting now costs about 100 EUR; if it fails first, about 5,100 EUR."
    assert risks[0]["what"]["text"] == "hardware.smart is critical on f, g"
    # with fewer critical ones, the warning and then the unread value follow
    rest = summary.top_risks(recs[:2], EN, lambda r: "x")
    assert [r["status"] for r in rest] == ["warning", "unknown"]
    assert rest[1]["cost"] is None and rest[1]["cost_text"]["key"] == "fp.cost_unread"


def test_many_hosts_are_counted_not_listed() -> None:
    hosts = [f"srv{n:02d}" for n in range(1, 8)]
    assert summary.hosts_phrase(hosts, 7, EN) == "srv01, srv02, srv03 and 4 others"
    assert summary.hosts_phrase(hosts[:4], 4, FR) == "srv01, srv02, srv03 et une autre"
    assert summary.hosts_phrase(hosts[:2], 2, EN) == "srv01, srv02"


def test_a_cost_without_a_rate_is_said_not_estimated() -> None:
    bare = {**rec(1, "critical", "P2", ["a"]), "cost": None}
    (risk,) = summary.top_risks([bare], FR, lambda r: "Espace disque")
    assert risk["cost_text"]["key"] == "fp.cost_none" and "non estimé" in risk["cost_text"]["text"]


# -- month over month -----------------------------------------------------------------------------------
def test_month_over_month_keeps_months_without_data_as_none() -> None:
    periods: list[dict[str, Any]] = [
        {"period": "2026-06", "score": None, "availability_rate": None, "alerts_count": None, "alerts_met_rate": None,
         "patch": None, "backup": None},
        {"period": "2026-07", "score": 91.0, "availability_rate": 99.9, "alerts_count": 0, "alerts_met_rate": None,
         "patch": {"hosts": 4, "patched": 3, "rate": 75.0}, "backup": {"tests": 2, "rate": 50.0}},
        {"period": "2026-08", "score": 88.0, "availability_rate": None, "alerts_count": 3, "alerts_met_rate": 66.7,
         "patch": None, "backup": {"tests": 1, "rate": None}},
    ]
    mom = summary.month_over_month(periods)
    assert mom["months"] == ["2026-06", "2026-07", "2026-08"]
    assert mom["score"] == [None, 91.0, 88.0]
    assert mom["availability"] == [None, 99.9, None]
    assert mom["alerts"] == [None, 0, 3]  # a month with no alert is 0; a month nobody supervised is no data
    assert mom["patch_compliance"] == [None, 75.0, None]
    assert mom["backup_pass_rate"] == [None, 50.0, None]
    assert mom["backup_tests"] == [None, 2, 1]


def test_patch_compliance_and_restore_tests_of_a_month() -> None:
    pairs = [("a", "ok"), ("a", "ok"), ("b", "ok"), ("b", "warning"), ("c", "unknown"), ("d", "skipped")]
    assert summary.patch_compliance(pairs) == {"hosts": 3, "patched": 1, "rate": 33.3}
    assert summary.patch_compliance([("d", "skipped")]) is None
    assert summary.patch_compliance([]) is None
    assert summary.backup_tests({"ok": 3, "critical": 1}) == {"tests": 4, "passed": 3, "failed": 1, "unknown": 0,
                                                               "rate": 75.0}
    unread = summary.backup_tests({"unknown": 2})
    assert unread is not None and unread["rate"] is None  # none could be read: no pass rate
    assert summary.backup_tests({}) is None


def test_the_month_charts_draw_no_data_instead_of_zero() -> None:
    from maintreport import charts

    svg = charts.month_line_chart("Score", ["Jun", "Jul", "Aug", "Sep"], [80.0, None, 90.0, 95.0], "no data")
    assert svg.count("no data") == 1 and svg.count("<circle") == 3
    assert svg.count("<polyline") == 1  # Aug-Sep joined; Jun stands alone, not joined across the gap
    bars = charts.month_bar_chart("Alerts", ["Jun", "Jul"], [None, 0.0], "no data")
    assert bars.count("no data") == 1 and bars.count('class="bar"') == 1


# -- the bounded lists of the PDF -------------------------------------------------------------------------
def test_not_ok_groups_are_bounded_and_counted() -> None:
    rows = []
    for n in range(40):
        for host in ("h1", "h2"):
            status = "critical" if n < 2 else "warning" if n < 30 else "unknown"
            rows.append((n, "run", host, f"hardware.check_{n:02d}", "hardware", "", status, None, "", "{}", "{}", "",
                         0, "2026-11-01T00:00:00Z"))
    rows.append((99, "run", "h1", "hardware.ok", "hardware", "", "ok", None, "", "{}", "{}", "", 0,
                 "2026-11-01T00:00:00Z"))
    out = summary.not_ok(rows, limit=30)
    assert len(out["groups"]) == 30 and out["more_groups"] == 10 and out["more_results"] == 20
    assert out["total_results"] == 80
    assert [g["status"] for g in out["groups"][:3]] == ["critical", "critical", "warning"]
    assert all(g["check"] != "hardware.ok" for g in out["groups"])


def test_the_print_view_puts_what_needs_attention_first() -> None:
    hosts = [{"host": f"h{n:02d}", "measured": True, "meets_target": True, "outages": 0, "rate": 100.0}
             for n in range(20)]
    hosts[15] = {**hosts[15], "meets_target": False, "rate": 97.0, "outages": 2}
    hosts[18] = {**hosts[18], "measured": False, "meets_target": None, "rate": None}
    doc = {"availability": {"hosts": hosts}, "alerts": [], "findings": [], "interventions": [],
           "recommendations": [], "runs": [], "areas": []}
    view = summary.print_view(doc)
    assert [h["host"] for h in view["hosts"]["items"][:2]] == ["h18", "h15"]
    assert len(view["hosts"]["items"]) == summary.PRINT_LIMITS["hosts"] and view["hosts"]["more"] == 10
    full = summary.print_view(doc, full=True)
    assert full["hosts"]["items"] == hosts and full["hosts"]["more"] == 0
