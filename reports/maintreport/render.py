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
import re
import zoneinfo
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from maint_utils.maint_clock import parse_iso
from maint_utils.maint_result import STATUSES

from . import brand, charts, summary
from .build import (
    CHANGED,
    CHECK,
    FINISHED,
    HOST,
    ID,
    ITEM,
    OBSERVED,
    REMEDIATION,
    RUN,
    SCORED_AREAS,
    SEV,
    STATUS,
    SUMMARY,
    THRESHOLD,
    Appendix,
)
from .i18n import Text, catalogue, number
from .messages import check_label, human_summary
from .secrets import neutralise_csv_cell

TEMPLATES = Path(__file__).with_name("templates")
CSV_COLUMNS = ("client", "id", "run_id", "host", "check", "item", "status", "severity", "summary", "observed",
               "threshold", "remediation", "changed", "time", "insecure_transport", "msp", "contract_ref")
FLEET_CSV_COLUMNS = ("client", "client_name", "runs", "hosts", "score", "open_critical", "last_run",
                     "backup_test", "backup_test_age_days", "insecure_transport", "error", "msp")
# Markdown: what would turn a value into markup, a link, an image or a broken table row.
_MD_SPECIAL = re.compile(r"[\\`\[\]|<>]")
_MD_ESCAPES = {"<": "&lt;", ">": "&gt;"}


def md_escape(value: Any) -> str:
    """Make a value plain text in Markdown: no HTML, link, image, code span or table cell break.

    ``<`` and ``>`` become entities (every Markdown flavour shows them as text); backslash,
    backtick, brackets and the table pipe are backslash-escaped; line breaks become spaces.
    """
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if "\n" in text or "\r" in text:
        text = " ".join(text.splitlines())
    return _MD_SPECIAL.sub(lambda m: _MD_ESCAPES.get(m.group(0), "\\" + m.group(0)), text)


def _env(doc: dict[str, Any], autoescape: bool, evidence: str = "#r") -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html.j2"]) if autoescape else False,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        # Markdown (autoescape off): every value printed is made plain text
        finalize=None if autoescape else md_escape,
    )
    locale = doc["locale"]
    zone = zoneinfo.ZoneInfo(doc.get("timezone") or "UTC")

    def when(value: str | None) -> str:
        if not value:
            return "-"
        try:
            shown: str = parse_iso(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")
            return shown
        except (ValueError, TypeError):
            return str(value)

    def num(value: float | int | None, digits: int = 1) -> str:
        return number(value, locale, digits)

    def compact(value: Any) -> str:
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))

    def human(result: dict[str, Any]) -> str:
        return human_summary(result, locale)

    def label(check: str) -> str:
        return check_label(check, locale)

    rows = _row_filters(catalogue(locale), lru_cache(maxsize=4096)(when), evidence, locale)
    env.filters.update(when=when, num=num, compact=compact, human=human, label=label, **rows)
    return env


def _row_filters(labels: dict[str, str], cached_when: Any, evidence_href: str = "#r",
                 locale: str = "en") -> dict[str, Any]:
    """Filters that format the long tables (appendix, findings) in Python, for speed."""
    shared: dict[str, str] = {}

    def esc(value: str) -> str:
        """Escape a value that repeats across rows (check, run, time...) once."""
        done = shared.get(value)
        if done is None:
            done = shared[value] = text(value)
        return done

    changed_mark = f' <em>{escape(labels["changed"])}</em>'
    fix_label = f'<br><small>{escape(labels["remediation"])}: '
    thr_label = f'<br><small>{escape(labels["threshold"])}: '
    status_label = {s: f'<span class="st st-{s}">{escape(labels["status." + s])}</span>' for s in STATUSES}
    unknown = status_label["unknown"]
    severity = {s: s for s in ("P1", "P2", "P3", "P4")}  # anything else from the store is not shown

    def appendix_rows(rows: list[Any]) -> Markup:
        """The <tr> rows of one host's appendix table, formatted in Python for speed."""
        out = []
        for r in rows:
            fix = r[REMEDIATION]
            out.append(_HTML_ROW % (
                r[ID], r[ID], esc(cached_when(r[FINISHED])), esc(r[RUN]), esc(r[CHECK]), esc(r[ITEM]),
                status_label.get(r[STATUS], unknown), severity.get(r[SEV], ""), changed_mark if r[CHANGED] else "",
                text(r[SUMMARY]),
                f"{fix_label}{esc(fix)}</small>" if fix else "", text(r[OBSERVED]), thr_label, esc(r[THRESHOLD]),
            ))
        return Markup("".join(out))

    carried = f'<br><small>({text(labels["carried_over"])})</small>'

    def finding_rows(findings: list[dict[str, Any]]) -> Markup:
        """The <tr> rows of the findings table (one per finding), formatted in Python for speed."""
        if not findings:
            return Markup(f'<tr><td colspan="8">{text(labels["none"])}</td></tr>')
        out = []
        for f in findings:
            item = f'<br><small>{text(f["item"])}</small>' if f["item"] else ""
            evidence = " ".join(f'<a class="ev" href="{evidence_href}{i}">#{i}</a>' for i in f["evidence"])
            out.append(_FINDING_ROW % (
                f["id"], esc(f["host"]), esc(check_label(f["check"], locale)), item, text(human_summary(f, locale)),
                status_label.get(f["status"], unknown), severity.get(f["severity"], "-"),
                esc(cached_when(f["first_seen"])), carried if f["carried_over"] else "",
                esc(cached_when(f["last_seen"])), esc(cached_when(f["resolved_at"])), evidence,
            ))
        return Markup("".join(out))

    return {"appendix_rows": appendix_rows, "finding_rows": finding_rows}


_HTML_ROW = (
    '<tr id="r%d"><td>%d</td><td>%s<br><small>%s</small></td><td>%s<br><small>%s</small></td>'
    '<td>%s %s%s</td><td>%s%s</td><td class="obs">%s%s%s</small></td></tr>\n'
)
_FINDING_ROW = (
    '<tr id="%s"><td>%s</td><td>%s%s<br><small>%s</small></td><td>%s</td><td>%s</td><td>%s%s</td><td>%s</td>'
    '<td>%s</td><td>%s</td></tr>\n'
)


def text(value: str) -> str:
    """Escape text for an HTML element's content (not an attribute): &, < and >."""
    if "&" in value or "<" in value or ">" in value:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def chart_markup(doc: dict[str, Any]) -> dict[str, Markup]:
    """Draw the trend charts of a client report as inline SVG."""
    labels = catalogue(doc["locale"])
    periods = doc["trends"]["periods"]
    months = [p["period"] for p in periods]
    n = len(periods)
    score_points = [((i / (n - 1) if n > 1 else 0.5), p["score"]) for i, p in enumerate(periods)
                    if p["score"] is not None]
    score = charts.line_chart(labels["chart.score"], months, [(labels["score"], score_points)], 100.0)
    areas = [a for a in SCORED_AREAS
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
    return {"score": Markup(score), "findings": Markup(findings), "disk": Markup(disk), **month_charts(doc)}


def month_charts(doc: dict[str, Any]) -> dict[str, Markup]:
    """The month-over-month charts (``trends.series``): a month without data is drawn as no data, never 0."""
    labels = catalogue(doc["locale"])
    mom = doc["trends"]["series"]
    locale = doc["locale"]
    months = [summary.month_label(m, locale, short=True) for m in mom["months"]]
    no_data = labels["no_data"]
    avail = [v for v in mom["availability"] if v is not None]
    low = 90.0 if avail and min(avail) >= 90.0 else 0.0  # a 99.8 % month and a 97 % one look different

    def line(key: str, values: list[Any], y_min: float = 0.0) -> Markup:
        unit = "" if key == "chart.mom_score" else "%"
        return Markup(charts.month_line_chart(labels[key], months, values, no_data, 100.0, unit, y_min,
                                              lambda v: number(v, locale)))

    return {
        "mom_score": line("chart.mom_score", mom["score"]),
        "mom_availability": line("chart.mom_availability", mom["availability"], low),
        "mom_alerts": Markup(charts.month_bar_chart(labels["chart.mom_alerts"], months, mom["alerts"], no_data,
                                                    lambda v: number(v, locale, 0))),
        "mom_alerts_met": line("chart.mom_alerts_met", mom["alerts_met_rate"]),
        "mom_patch": line("chart.mom_patch", mom["patch_compliance"]),
        "mom_backup": line("chart.mom_backup", mom["backup_pass_rate"]),
    }


def timelines(doc: dict[str, Any], hosts: list[dict[str, Any]] | None = None) -> list[Markup]:
    """Draw each host's outage timeline (up, down, planned, unknown over the period) as inline SVG.

    One per entry of ``hosts`` (default: ``doc["availability"]["hosts"]``), in the same order.
    """
    labels = catalogue(doc["locale"])
    avail = doc["availability"]
    zone = zoneinfo.ZoneInfo(doc.get("timezone") or "UTC")
    lo, hi = parse_iso(avail["since"]), parse_iso(avail["until"])
    span = (hi - lo).total_seconds() or 1.0
    ticks = _timeline_ticks(lo, hi, zone)

    def shown(value: str) -> str:
        local: dt.datetime = parse_iso(value).astimezone(zone)
        return local.strftime("%Y-%m-%d %H:%M")

    out = []
    for host in avail["hosts"] if hosts is None else hosts:
        pieces = []
        for piece in host["timeline"]:
            a, b = parse_iso(piece["start"]), parse_iso(piece["end"])
            state = piece["state"]
            tip = f'{labels["tl." + state]}: {shown(piece["start"])} - {shown(piece["end"])}'
            pieces.append(((a - lo).total_seconds() / span, (b - lo).total_seconds() / span, state, tip))
        title = f'{labels["chart.timeline"]}: {host["host"]}'
        out.append(Markup(charts.timeline_chart(title, pieces, ticks)))
    return out


def _timeline_ticks(lo: dt.datetime, hi: dt.datetime, zone: zoneinfo.ZoneInfo) -> list[tuple[float, str]]:
    """Ticks under a timeline: local midnights (at most 8 labelled) over days, start and end otherwise."""
    span = (hi - lo).total_seconds()
    if span <= 0:
        return []
    if span < 2 * 86400:
        return [(0.02, lo.astimezone(zone).strftime("%H:%M")), (0.98, hi.astimezone(zone).strftime("%H:%M"))]
    local = lo.astimezone(zone)
    day = dt.datetime(local.year, local.month, local.day, tzinfo=zone)
    days = []
    while day < hi:
        if day >= lo:
            days.append(day)
        day = (day + dt.timedelta(days=1, hours=2)).replace(hour=0)  # DST-safe: the next local midnight
    step = max(1, -(-len(days) // 8))
    return [((d - lo).total_seconds() / span, d.strftime("%d") if i % step == 0 else "")
            for i, d in enumerate(days)]


def html_chunks(doc: dict[str, Any], printed: bool = False, files: dict[str, str] | None = None) -> Iterator[str]:
    """Render the self-contained HTML of a client report or a fleet overview, in chunks.

    ``printed``: the print variant the PDF is made from: the first page, the sections with
    their long lists bounded (:func:`maintreport.summary.print_view`) and the appendix of what
    is not ok instead of every result; its evidence links point into the full HTML beside it
    (``files``: the names of the HTML and CSV files, ``report.html`` and ``report.csv``).
    """
    doc = brand.branded(doc)
    names = {"html": "report.html", "csv": "report.csv", **(files or {})}
    env = _env(doc, autoescape=True, evidence=f'{names["html"]}#r' if printed else "#r")
    t = catalogue(doc["locale"])
    if doc["kind"] == "fleet_report":
        yield from env.get_template("fleet.html.j2").generate(doc=doc, t=t)
        return
    view = summary.print_view(doc, full=not printed)
    drawn = view["timelines"]["items"]  # the PDF draws only the hosts it shows
    by_host = dict(zip((h["host"] for h in drawn), timelines(doc, drawn), strict=True))
    stream = env.get_template("report.html.j2").stream(
        doc=doc, t=t, say=Text(doc["locale"]), charts=chart_markup(doc), timelines=by_host, view=view,
        printed=printed, files=names, ev=f'{names["html"]}#r' if printed else "#r", mail=False)
    stream.enable_buffering(1000)  # fewer, larger chunks
    yield from stream


def render_html(doc: dict[str, Any], printed: bool = False) -> str:
    """Render the HTML (``printed``: the PDF's print variant) as one string."""
    return "".join(html_chunks(doc, printed))


def render_md(doc: dict[str, Any]) -> str:
    """Render the short Markdown version (ticket or email body)."""
    doc = brand.branded(doc)
    env = _env(doc, autoescape=False)
    name = "fleet.md.j2" if doc["kind"] == "fleet_report" else "report.md.j2"
    return env.get_template(name).render(doc=doc, t=catalogue(doc["locale"]), say=Text(doc["locale"]))


def render_first_page(doc: dict[str, Any]) -> str:
    """The first page alone as a self-contained HTML document: the monthly e-mail's HTML body."""
    doc = brand.branded(doc)
    env = _env(doc, autoescape=True)
    return env.get_template("mail.html.j2").render(doc=doc, t=catalogue(doc["locale"]), say=Text(doc["locale"]),
                                                   mail=True)


def json_chunks(doc: dict[str, Any]) -> Iterator[str]:
    """Serialise the document; the appendix is written host by host from the stored rows."""
    doc = brand.branded(doc)
    appendix = doc.get("appendix")
    if not isinstance(appendix, Appendix):
        yield json.dumps(doc, ensure_ascii=False) + "\n"
        return
    head = json.dumps({k: v for k, v in doc.items() if k != "appendix"}, ensure_ascii=False)
    yield head[:-1] + ', "appendix": ['
    enc = json.encoder.encode_basestring  # the C encoder of json.dumps for one string
    for n, (host, rows) in enumerate(appendix.groups()):
        body = ", ".join(_JSON_ROW % (
            r[ID], enc(r[RUN]), enc(r[CHECK]), enc(r[ITEM]), enc(r[STATUS]),
            "null" if r[SEV] is None else enc(r[SEV]), enc(r[SUMMARY]), r[OBSERVED] or "{}", r[THRESHOLD] or "{}",
            enc(r[REMEDIATION]), "true" if r[CHANGED] else "false", enc(r[FINISHED]),
        ) for r in rows)
        yield f'{", " if n else ""}{{"host": {enc(host)}, "results": [{body}]}}'
    yield "]}\n"


_JSON_ROW = ('{"id": %d, "run_id": %s, "check": %s, "item": %s, "status": %s, "severity": %s, "summary": %s,'
             ' "observed": %s, "threshold": %s, "remediation": %s, "changed": %s, "time": %s}')


def csv_chunks(doc: dict[str, Any]) -> Iterator[str]:
    """Render one CSV row per result (client report) or per client (fleet overview).

    The MSP's brand is in columns of every row, as ``insecure_transport`` is, so that the file
    stays one header and one row per result: ``msp`` (its name, empty without msp.yml) and,
    for a client, ``contract_ref``.
    """
    doc = brand.branded(doc)
    msp = neutralise_csv_cell(doc["msp"]["name"]) if doc["msp"]["name"] else ""
    out = io.StringIO()
    writer = csv.writer(out)
    cell = neutralise_csv_cell  # every cell: no text a host or a policy wrote becomes a formula
    if doc["kind"] == "fleet_report":
        writer.writerow(FLEET_CSV_COLUMNS)
        for row in doc["clients"]:
            warn = row.get("insecure_transport")
            writer.writerow([cell(warn["reason"] if warn else None) if c == "insecure_transport"
                             else msp if c == "msp" else cell(row.get(c)) for c in FLEET_CSV_COLUMNS])
        yield out.getvalue()
        return
    writer.writerow(CSV_COLUMNS)
    client = cell(doc["client"])
    warning = cell(doc["insecure_transport"]["reason"]) if doc.get("insecure_transport") else ""
    contract = cell(doc["msp"]["contract_ref"]) if doc["msp"]["contract_ref"] else ""
    for _host, rows in doc["appendix"].groups():
        for r in rows:
            writer.writerow((client, r[ID], cell(r[RUN]), cell(r[HOST]), cell(r[CHECK]), cell(r[ITEM]), r[STATUS],
                             r[SEV] or "", cell(r[SUMMARY]), r[OBSERVED], r[THRESHOLD], cell(r[REMEDIATION]),
                             "true" if r[CHANGED] else "false", r[FINISHED], warning, msp, contract))
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def render_csv(doc: dict[str, Any]) -> str:
    """Render the CSV as one string."""
    return "".join(csv_chunks(doc))


def render_pdf(html: str) -> bytes:
    """Render the HTML to PDF with weasyprint, refusing every external resource.

    Only ``data:`` URIs are read (the MSP's logo), decoded locally: nothing is requested.
    """
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, url_fetcher=_data_only_fetcher()).write_pdf()
    return pdf


def _data_only_fetcher() -> Any:
    """A weasyprint URL fetcher that decodes ``data:`` URIs and refuses every other URL."""
    try:  # recent weasyprint (70 here): fetchers are URLFetcher objects
        from weasyprint.urls import URLFetcher
    except ImportError:  # older: a function returning a dict
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            if not url.startswith("data:"):
                raise ValueError(f"external resource refused: {url[:100]}")
            answer: dict[str, Any] = default_url_fetcher(url, *args, **kwargs)
            return answer

        return fetch
    return URLFetcher(allowed_protocols=("data",), allow_redirects=False)
