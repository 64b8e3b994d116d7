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
    assert "1. Fix hardware.disk_free: critical on 1 host(s) (db01) (P2)" in md
    fr = render.render_md({**doc, "locale": "fr"})
    assert fr.startswith("# Rapport de maintenance : Demo SARL") or fr.startswith("# Rapport de maintenance: Demo SARL")
    assert "| Matériel | rouge |" in fr


def test_csv_has_one_row_per_result(doc: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(render.render_csv(doc))))
    assert len(rows) == doc["summary"]["results"] == doc["appendix"].count
    db01 = [r for r in rows if r["host"] == "db01" and r["check"] == "hardware.disk_free" and r["item"] == "/srv/data"]
    assert [r["status"] for r in db01] == ["critical", "ok", "critical"]
    assert json.loads(db01[0]["observed"])["free_pct"] == 6.25 and db01[0]["severity"] == "P2"


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
    assert html.count('<svg class="chart"') == 3 and "<script" not in html
    assert "&lt;" not in html.split("<body>")[0]


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
