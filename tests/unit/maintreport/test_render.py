"""Rendering of the report document: catalogues, templates, Markdown, CSV, HTML and charts."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from maintcore.store import Store
from maintreport import api, charts, render
from maintreport.i18n import LOCALES, Text, catalogue, number
from tests.unit.maintreport.test_availability_section import Month, month  # noqa: F401 - fixtures used by name
from tests.unit.maintreport.test_build import home, load_fixture  # noqa: F401 - the fixture is used by name

TEMPLATES = Path(render.__file__).with_name("templates")


@pytest.fixture()
def doc(home: Path) -> dict[str, Any]:  # noqa: F811 - pytest fixture from maintreport/test_build
    with Store(home / "home" / "store.db") as store:
        load_fixture(store)
        return api.build_document(store, "demo", period="2026-11")


def test_catalogues_have_the_same_labels_and_templates_use_only_known_ones() -> None:
    en, fr = catalogue("en"), catalogue("fr")
    assert set(en) == set(fr) and LOCALES == ("en", "fr")
    used: set[str] = set()
    for path in TEMPLATES.glob("*.j2"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\.([a-z_]+)\b", text))
        used |= set(re.findall(r'\bt\["([a-z_.]+)"\]', text))
        prefixes = set(re.findall(r'\bt\["([a-z_]+\.)" ~', text))
        for prefix in prefixes:
            assert any(k.startswith(prefix) for k in en), prefix
    missing = {k for k in used if k not in en}
    assert not missing, missing
    assert len(used) > 60


def test_numbers_follow_the_locale() -> None:
    assert number(1234.5, "en") == "1,234.5" and number(1234.5, "fr") == "1\u202f234,5"
    assert number(None, "fr") == "-" and number(80.0, "en") == "80"
    assert Text("fr")("cost.assume_hosts", hosts=3) == "machines concernées : 3"


def test_markdown_is_short_and_localised(doc: dict[str, Any]) -> None:
    md = render.render_md(doc)
    assert md.startswith("# Maintenance report: Demo SARL (2026-11)") and "| Hardware | red |" in md
    assert "1. Fix Disk space: critical on 1 host(s) (db01) (P2)" in md and "hardware.disk_free" not in md
    fr = render.render_md({**doc, "locale": "fr"})
    assert fr.startswith("# Rapport de maintenance\u202f: Demo SARL")  # French: a narrow no-break space before ":"
    assert "| Matériel | rouge |" in fr


def test_csv_has_one_row_per_result(doc: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(render.render_csv(doc))))
    # the appendix: the period's results and the earlier ones its alerts link to
    assert len(rows) == doc["appendix"].count == doc["summary"]["results"] + 1
    db01 = [r for r in rows if r["host"] == "db01" and r["check"] == "hardware.disk_free" and r["item"] == "/srv/data"]
    # October's result that opened the alert still active at the month's start, then November's three
    assert [(r["time"][:7], r["status"]) for r in db01] == [("2026-10", "critical"), ("2026-11", "critical"),
                                                            ("2026-11", "ok"), ("2026-11", "critical")]
    assert json.loads(db01[1]["observed"])["free_pct"] == 6.25 and db01[1]["severity"] == "P2"


def test_json_stream_is_the_document(doc: dict[str, Any]) -> None:
    parsed = json.loads("".join(render.json_chunks(doc)))
    assert parsed["summary"] == json.loads(json.dumps(doc["summary"]))
    groups = parsed["appendix"]
    assert [g["host"] for g in groups] == ["app01", "db01", "files01", "web01", "web02", "web03"]
    first = groups[1]["results"][0]
    assert set(first) == {"id", "run_id", "check", "item", "status", "severity", "summary", "observed", "threshold",
                          "remediation", "changed", "time"}
    assert isinstance(first["observed"], dict) and isinstance(first["changed"], bool)


def test_html_links_land_and_nothing_is_fetched(doc: dict[str, Any]) -> None:
    html = render.render_html(doc)
    refs = re.findall(r'(?:href|src)="([^"]*)"', html)
    assert refs and all(r.startswith("#") for r in refs)
    ids = set(re.findall(r' id="([^"]+)"', html))
    assert {r[1:] for r in refs} <= ids
    assert html.count('<svg class="chart"') == 2 + 6 and "<script" not in html
    assert "&lt;" not in html.split("<body>")[0]
    # no probe data: each host says "not measured" (never 100 %) and its timeline is all unknown
    assert html.count('<svg class="timeline"') == 6 and 'class="tl-' not in html
    availability = html.split('<section id="availability">')[1].split("</section>")[0]
    assert availability.count("not measured") >= 7 and "100 %" not in availability


@pytest.fixture()
def supervised(month: Month, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:  # noqa: F811
    return month.doc(monkeypatch)


def test_html_shows_availability_timelines_and_alerts_handled(supervised: dict[str, Any]) -> None:
    html = render.render_html(supervised)
    refs = re.findall(r'(?:href|src)="([^"]*)"', html)
    assert refs and all(r.startswith("#") for r in refs)
    assert {r[1:] for r in refs} <= set(re.findall(r' id="([^"]+)"', html)), "every evidence link lands"
    availability = html.split('<section id="availability">')[1].split("</section>")[0]
    assert '<table class="availability">' in availability and "58.333 %" in availability
    assert availability.count('<svg class="timeline"') == 4  # one per host, srv4 too
    srv1 = availability.split("<figcaption>srv1</figcaption>")[0].rsplit('<figure class="tl">', 1)[1]
    assert srv1.count('class="tl-down"') == 3 and 'class="tl-up"' in srv1
    assert "down: 2026-11-02 09:00 - 2026-11-02 19:00" in srv1  # tooltips in the client's timezone (CET)
    assert 'class="tl-planned"' in availability and "RAID controller firmware" in availability
    assert "<figcaption>srv4: not measured</figcaption>" in availability
    alerts = html.split('<section id="alerts">')[1].split("</section>")[0]
    assert '<table class="sla">' in alerts and '<table class="alerts">' in alerts
    assert alerts.count('<tr id="alert-') == 6 and "opened in scheduled downtime: not notified" in alerts
    assert "2026-11-02 09:01" in alerts and "by alice" in alerts and "old logs removed" in alerts
    assert "Alerts handled within SLA: 40 %" in alerts
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    assert "Left out of the score for lack of data: Antivirus, Backup, Patches." in summary
    fr = render.render_html({**supervised, "locale": "fr"})
    assert "Chronologie des coupures" in fr and "Alertes traitées" in fr and "non mesurée" in fr


def test_pdf_of_a_supervised_month_renders(supervised: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = render.render_pdf(render.render_html(supervised))
    assert pdf.startswith(b"%PDF-") and len(pdf) > 20_000
    assert not [r.getMessage() for r in caplog.records], [r.getMessage() for r in caplog.records]


def test_markdown_and_csv_of_a_supervised_month(supervised: dict[str, Any]) -> None:
    md = render.render_md(supervised)
    assert "Availability rate: 85.85 % (target 99.50 %, Downtime (min) 1,800)" in md
    assert "Alerts: 6" in md and "Alerts handled within SLA: 40 %" in md
    rows = list(csv.DictReader(io.StringIO(render.render_csv(supervised))))
    assert len(rows) == supervised["appendix"].count > supervised["summary"]["results"]
    assert {r["run_id"].split("-")[0] for r in rows} >= {"night", "probe", "watch"}


def test_html_escapes_what_hosts_report(doc: dict[str, Any]) -> None:
    group = doc["appendix"].by_host["db01"]
    row = list(group[0])
    row[9] = json.dumps({"note": "<script>alert(1)</script> & co"})
    group[0] = tuple(row)
    html = render.render_html(doc)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html


def test_pdf_renders_without_css_warnings(doc: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = render.render_pdf(render.render_html(doc))
    assert pdf.startswith(b"%PDF-") and len(pdf) > 20_000
    assert not [r.getMessage() for r in caplog.records], [r.getMessage() for r in caplog.records]


def test_charts_are_inline_svg() -> None:
    svg = charts.line_chart("Score", ["2026-10", "2026-11"], [("score", [(0.0, 80.0), (1.0, 90.0)])])
    assert svg.startswith('<svg class="chart"') and "<polyline" in svg and "http://www.w3.org/2000/svg" in svg
    bars = charts.bar_chart("Findings", ["a", "b"], [("hardware", [1.0, 3.0]), ("backup", [0.0, 2.0])])
    assert bars.count('class="bar"') == 4
    many = charts.line_chart("Disk", ["x", "y"], [(f"h{i}", [(0.0, 50.0), (1.0, 40.0)]) for i in range(6)])
    assert 'viewBox="0 0 640 266"' in many  # a second legend row
