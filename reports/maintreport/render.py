"""Render a report document (already built and validated) to HTML, PDF, Markdown and CSV.

Templates only loop and look up: every number comes from the document, every label from
the locale catalogue. The filters here format values (time in the client's timezone,
numbers in the locale); the charts are drawn from the document's trend series.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zoneinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from maintctl.clock import parse_iso
from markupsafe import Markup

from . import charts
from .i18n import catalogue, number

TEMPLATES = Path(__file__).with_name("templates")
CSV_COLUMNS = ("id", "run_id", "host", "check", "item", "status", "severity", "summary", "observed",
               "threshold", "remediation", "changed", "time")


def _env(doc: dict[str, Any], autoescape: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html.j2"]) if autoescape else False,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    locale = doc["locale"]
    zone = zoneinfo.ZoneInfo(doc.get("timezone") or "UTC")

    def when(value: str | None) -> str:
        if not value:
            return "-"
        return parse_iso(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def num(value: float | int | None, digits: int = 1) -> str:
        return number(value, locale, digits)

    def compact(value: Any) -> str:
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))

    env.filters.update(when=when, num=num, compact=compact)
    return env


def chart_markup(doc: dict[str, Any]) -> dict[str, Markup]:
    """Draw the trend charts of a client report as inline SVG."""
    labels = catalogue(doc["locale"])
    periods = doc["trends"]["periods"]
    months = [p["period"] for p in periods]
    n = len(periods)
    score_points = [((i / (n - 1) if n > 1 else 0.5), p["score"]) for i, p in enumerate(periods)
                    if p["score"] is not None]
    score = charts.line_chart(labels["chart.score"], months, [(labels["score"], score_points)], 100.0)
    areas = [a for a in ("hardware", "antivirus", "backup", "patch", "reachability")
             if any(p["findings"][a] for p in periods)] or ["hardware"]
    findings = charts.bar_chart(labels["chart.findings"], months,
                                [(labels[f"area.{a}"], [float(p["findings"][a]) for p in periods]) for a in areas])
    disk_series = doc["trends"]["disk_free"]
    times = [parse_iso(p["time"]).timestamp() for s in disk_series for p in s["points"]]
    lo, hi = (min(times), max(times)) if times else (0.0, 1.0)
    span = (hi - lo) or 1.0
    series = [(s["host"], [((parse_iso(p["time"]).timestamp() - lo) / span, p["free_pct"]) for p in s["points"]])
              for s in disk_series]
    zone = zoneinfo.ZoneInfo(doc.get("timezone") or "UTC")
    x_labels = [dt.datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d") for ts in (lo, hi)] if times else []
    disk = charts.line_chart(labels["chart.disk"], x_labels, series, 100.0, "%")
    return {"score": Markup(score), "findings": Markup(findings), "disk": Markup(disk)}


def render_html(doc: dict[str, Any]) -> str:
    """Render the self-contained HTML of a client report or a fleet overview."""
    env = _env(doc, autoescape=True)
    t = catalogue(doc["locale"])
    if doc["kind"] == "fleet_report":
        return env.get_template("fleet.html.j2").render(doc=doc, t=t)
    return env.get_template("report.html.j2").render(doc=doc, t=t, charts=chart_markup(doc))


def render_md(doc: dict[str, Any]) -> str:
    """Render the short Markdown version (ticket or email body)."""
    env = _env(doc, autoescape=False)
    name = "fleet.md.j2" if doc["kind"] == "fleet_report" else "report.md.j2"
    return env.get_template(name).render(doc=doc, t=catalogue(doc["locale"]))


def render_csv(doc: dict[str, Any]) -> str:
    """Render one CSV row per result (client report) or per client (fleet overview)."""
    out = io.StringIO()
    if doc["kind"] == "fleet_report":
        cols = ("client", "client_name", "runs", "hosts", "score", "open_critical", "last_run",
                "backup_test", "backup_test_age_days")
        writer = csv.writer(out)
        writer.writerow(cols)
        for row in doc["clients"]:
            writer.writerow(["" if row[c] is None else row[c] for c in cols])
        return out.getvalue()
    writer = csv.writer(out)
    writer.writerow(("client",) + CSV_COLUMNS)
    client = doc["client"]
    for group in doc["appendix"]:
        host = group["host"]
        for r in group["results"]:
            writer.writerow((
                client, r["id"], r["run_id"], host, r["check"], r["item"], r["status"], r["severity"] or "",
                r["summary"], _json_text(r["observed"]), _json_text(r["threshold"]), r["remediation"],
                "true" if r["changed"] else "false", r["time"],
            ))
    return out.getvalue()


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def render_pdf(html: str) -> bytes:
    """Render the HTML to PDF with weasyprint, refusing every external resource."""
    from weasyprint import HTML

    def no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"external resource refused: {url}")

    pdf: bytes = HTML(string=html, url_fetcher=no_fetch).write_pdf()
    return pdf
