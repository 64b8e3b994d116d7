"""The monthly report's interventions: people's (maintctl intervention) and the roles' own changes together.

November 2026 of client acme (Europe/Paris, technician rate 90 EUR/h):

* Nov 3: srv01's / is critical (an alert opens); patch.installed changed srv02 (automatic).
* Nov 4: alice answers the alert (corrective, 30 min). Nov 10: srv01's / is still critical.
* Nov 11: bob acts on that result (curative, 60 min): the recommendation to fix hardware.disk_free
  on srv01 is priced at their mean, 45 min, instead of the policy's planned_fix_hours (1 h).
* Nov 12: carol plans an upgrade of the whole client (evolutive, no time recorded); Nov 13: dave
  checks srv02's fans (preventive, 20 min); Nov 14: an intervention entered twice, deleted.
* Oct 28: an intervention of the month before, not in November's report.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from maintcore import interventions, supervision
from maintcore.store import Store
from maintreport import api, render
from maintreport.deliver import webhook_summary

CLIENT = "acme"
NOW = "2026-12-01T08:00:00Z"
RATE = 90
POLICY: dict[str, Any] = {
    "client_name": "Acme SA", "timezone": "Europe/Paris",
    "sla": {"response_hours": {"P1": 4, "P2": 8, "P3": 24, "P4": 72}},
    "report": {"currency": "EUR", "technician_rate": RATE},
}


@dataclass
class Month:
    """The stored month: ids of what the report must show."""

    store: Store
    inv: Path
    alert: int
    critical: int          # srv01's Nov 10 disk_free result, which bob acted on
    automatic: int         # srv02's patch.installed result with changed: true
    ids: dict[str, int]    # interventions by name


def _run(store: Store, run_id: str, at: str, results: list[dict[str, Any]]) -> list[int]:
    """Store one nightly run's results and feed them to the alert engine, as the orchestrator does."""
    store.start_run({"run_id": run_id, "client": CLIENT, "areas": "hardware,patch", "started": at})
    rows = [{"run_id": run_id, "client": CLIENT, "started": at, "finished": at, "item": "", "observed": {},
             "threshold": {}, "remediation": "", "changed": False, "severity": None, **r} for r in results]
    with store.transaction() as db:
        ids = store.insert_results(db, rows)
    supervision.ingest_run(store, CLIENT, rows, ids, POLICY)
    store.finish_run(run_id, "completed", 0, at)
    return ids


def _disk(host: str, status: str) -> dict[str, Any]:
    return {"host": host, "check": "hardware.disk_free", "item": "/", "status": status,
            "severity": "P2" if status == "critical" else None, "summary": f"/: {status}",
            "remediation": "Free space on / or grow the filesystem"}


def _write_policy(inv: Path, policy: dict[str, Any]) -> None:
    (inv / "group_vars" / "all" / "policy.yml").write_text(yaml.safe_dump({"maint_policy": policy}),
                                                           encoding="utf-8")


@pytest.fixture()
def month(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Month]:
    inv = tmp_path / "inventories" / CLIENT
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"srv01": {}, "srv02": {}}}}), encoding="utf-8")
    _write_policy(inv, POLICY)
    (tmp_path / "home").mkdir(mode=0o700)
    monkeypatch.setenv("MAINT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MAINT_INVENTORIES", str(tmp_path / "inventories"))
    monkeypatch.setenv("MAINT_TEST_NOW", NOW)
    with Store(tmp_path / "home" / "store.db") as store:
        _run(store, "r1", "2026-11-03T20:00:00Z", [
            _disk("srv01", "critical"), _disk("srv02", "ok"),
            {"host": "srv02", "check": "patch.installed", "status": "ok", "changed": True,
             "summary": "3 updates installed (openssl, curl, tzdata)"}])
        ids = _run(store, "r2", "2026-11-10T20:00:00Z", [_disk("srv01", "critical"), _disk("srv02", "ok")])
        (alert,) = [a["id"] for a in supervision.list_alerts(store, CLIENT)]
        automatic = int(store.db.execute("SELECT id FROM results WHERE changed=1").fetchone()[0])
        add = interventions.add
        names = {
            "alice": add(store, CLIENT, "Removed old logs from /var/log", "alice", minutes=30,
                         at="2026-11-04T09:00:00Z", kind="corrective", alert_id=alert),
            "bob": add(store, CLIENT, "Grew / by 20 GiB", "bob", minutes=60, at="2026-11-11T09:00:00Z",
                       kind="curative", result_id=ids[0]),
            "carol": add(store, CLIENT, "Planned the upgrade to the new release", "carol",
                         at="2026-11-12T14:00:00Z", kind="evolutive"),
            "dave": add(store, CLIENT, "Cleaned the fans", "dave", host="srv02", minutes=20,
                        at="2026-11-13T10:00:00Z", kind="preventive"),
            "typo": add(store, CLIENT, "Entered twice by mistake", "dave", host="srv02", minutes=600,
                        at="2026-11-14T10:00:00Z", kind="preventive"),
            "october": add(store, CLIENT, "Last month's work", "alice", host="srv01", minutes=15,
                           at="2026-10-28T10:00:00Z", kind="preventive"),
        }
        interventions.delete(store, CLIENT, names["typo"], "dave", "entered twice")
        yield Month(store, inv, int(alert), ids[0], automatic, names)


def _doc(month: Month, locale: str = "en") -> dict[str, Any]:
    doc = api.build_document(month.store, CLIENT, period="2026-11", locale=locale)
    api.validate(doc)
    return doc


def test_manual_and_automatic_interventions_listed_together_oldest_first(month: Month) -> None:
    doc = _doc(month)
    entries = doc["interventions"]
    ids = month.ids
    assert [(e["source"], e["intervention_id"] or e["result_id"]) for e in entries] == [
        ("automatic", month.automatic), ("manual", ids["alice"]), ("manual", ids["bob"]),
        ("manual", ids["carol"]), ("manual", ids["dave"])]
    assert [e["time"] for e in entries] == sorted(e["time"] for e in entries)
    summaries = {e["summary"] for e in entries}
    assert "Entered twice by mistake" not in summaries, "a deleted intervention is left out"
    assert "Last month's work" not in summaries, "another month's intervention is left out"
    auto, alice, bob, carol, dave = entries
    assert (auto["kind"], auto["host"], auto["check"], auto["run_id"], auto["who"], auto["minutes"], auto["cost"]) == \
        ("automatic", "srv02", "patch.installed", "r1", None, None, None)
    assert auto["summary"] == "3 updates installed (openssl, curl, tzdata)" and auto["evidence"] == [month.automatic]
    assert (alice["kind"], alice["host"], alice["who"], alice["minutes"], alice["cost"]) == \
        ("corrective", "srv01", "alice", 30, 45.0)
    assert (alice["alert_id"], alice["alert_listed"], alice["check"]) == (month.alert, True, "hardware.disk_free")
    assert month.alert in {a["id"] for a in doc["alerts"]}
    assert (bob["kind"], bob["result_id"], bob["evidence"], bob["minutes"], bob["cost"]) == \
        ("curative", month.critical, [month.critical], 60, 90.0)
    assert (carol["kind"], carol["host"], carol["minutes"], carol["cost"]) == ("evolutive", None, None, None)
    assert (dave["kind"], dave["host"], dave["minutes"], dave["cost"]) == ("preventive", "srv02", 20, 30.0)
    # every result linked is a row of the appendix
    appendix = {r["id"] for h in doc["appendix"].hosts for r in doc["appendix"].host_objects(h)["results"]}
    assert {i for e in entries for i in e["evidence"]} <= appendix
    assert webhook_summary(doc, {})["interventions"] == 5


def test_totals_count_time_spent_and_cost_by_kind(month: Month) -> None:
    totals = _doc(month)["intervention_totals"]
    assert (totals["count"], totals["manual"], totals["automatic"], totals["without_minutes"]) == (5, 4, 1, 1)
    assert (totals["minutes"], totals["hours"], totals["cost"], totals["rate"], totals["currency"]) == \
        (110, 1.83, 165.0, RATE, "EUR")
    assert totals["by_kind"] == {
        "preventive": {"count": 1, "minutes": 20, "hours": 0.33, "cost": 30.0},
        "corrective": {"count": 1, "minutes": 30, "hours": 0.5, "cost": 45.0},
        "evolutive": {"count": 1, "minutes": 0, "hours": 0.0, "cost": 0.0},
        "curative": {"count": 1, "minutes": 60, "hours": 1.0, "cost": 90.0},
        "automatic": {"count": 1, "minutes": None, "hours": None, "cost": None},
    }


def test_without_a_rate_there_is_time_but_no_cost(month: Month) -> None:
    _write_policy(month.inv, {**POLICY, "report": {"currency": "EUR"}})
    doc = _doc(month)
    assert [e["minutes"] for e in doc["interventions"]] == [None, 30, 60, None, 20]
    assert all(e["cost"] is None for e in doc["interventions"])
    totals = doc["intervention_totals"]
    assert (totals["minutes"], totals["cost"], totals["rate"]) == (110, None, None)
    assert all(b["cost"] is None for b in totals["by_kind"].values())
    assert doc["recommendations"][0]["cost"] is None
    html = render.render_html(doc)
    assert "No technician rate in the client" in html


def test_the_planned_fix_is_priced_at_the_real_time_spent(month: Month) -> None:
    doc = _doc(month)
    rec = doc["recommendations"][0]
    assert (rec["check"], rec["status"], rec["hosts"]) == ("hardware.disk_free", "critical", ["srv01"])
    cost = rec["cost"]
    # alice (30 min, via the alert) and bob (60 min, via the result) worked on srv01's hardware.disk_free
    assert cost["fix_based_on"] == {"count": 2, "mean_minutes": 45.0,
                                    "interventions": sorted([month.ids["alice"], month.ids["bob"]])}
    assert cost["fix_hours"] == 0.75 and cost["early"] == 67.5  # 45 min at 90 EUR/h, not 1 h (90 EUR)
    assert cost["assumptions"][0] == "planned fix: based on 2 intervention(s), 45 min on average, per host at 90 EUR/h"
    fr = _doc(month, "fr")["recommendations"][0]["cost"]
    assert fr["assumptions"][0] == \
        "correction planifiée : d'après 2 intervention(s), 45 min en moyenne, par machine à 90 EUR/h"


def test_without_time_recorded_the_policy_guess_stands(month: Month) -> None:
    month.store.db.execute("UPDATE interventions SET minutes=NULL")
    month.store.db.commit()
    cost = _doc(month)["recommendations"][0]["cost"]
    assert (cost["fix_based_on"], cost["fix_hours"], cost["early"]) == (None, 1.0, 90.0)
    assert cost["assumptions"][0] == "planned fix: 1 h per host at 90 EUR/h"


def test_garbage_in_the_interventions_table_does_not_break_the_report(month: Month) -> None:
    month.store.db.execute("UPDATE interventions SET kind='repair', minutes='lots' WHERE id=?",
                           (month.ids["dave"],))
    month.store.db.commit()
    dave = next(e for e in _doc(month)["interventions"] if e["intervention_id"] == month.ids["dave"])
    assert (dave["kind"], dave["minutes"], dave["cost"]) == ("corrective", None, None)


def test_html_and_markdown_show_the_section_with_kinds_in_each_locale(month: Month) -> None:
    en, fr = _doc(month), _doc(month, "fr")
    html = render.render_html(en)
    assert '<h3 id="interventions">Interventions</h3>' in html
    assert f'id="intervention-{month.ids["alice"]}"' in html
    assert f'<a class="ev" href="#alert-{month.alert}">alert {month.alert}</a>' in html
    assert f'<a class="ev" href="#r{month.critical}">#{month.critical}</a>' in html
    assert f'<a class="ev" href="#intervention-{month.ids["bob"]}">' in html  # from the recommendation
    for label in ("Preventive", "Corrective", "Evolutive", "Curative", "Automatic", "whole client",
                  "2026-11-04 10:00", "165 EUR", "110 min"):
        assert label in html, label
    assert "Entered twice by mistake" not in html
    html_fr = render.render_html(fr)
    for label in ("Préventive", "Corrective", "Évolutive", "Curative", "Automatique", "tout le client",
                  "Temps passé", "165 EUR"):
        assert label in html_fr, label
    md = render.render_md(en)
    assert "**Interventions: 5** (Preventive 1, Corrective 1, Evolutive 1, Curative 1, Automatic 1)" \
           " · Time spent: 110 min · Cost: 165 EUR" in md
    assert "(Préventive 1, Corrective 1, Évolutive 1, Curative 1, Automatique 1)" in render.render_md(fr)


def test_the_pdf_shows_the_section(month: Month, tmp_path: Path) -> None:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler) is not installed")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render.render_pdf(render.render_html(_doc(month, "fr"))))
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert "Évolutive" in text and "Automatique" in text and "Cleaned the fans" in text
