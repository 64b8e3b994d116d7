"""Public API of the reports: read the store, build the JSON document, validate it, render it.

``write_report`` is what ``maintctl report`` and ``maintctl demo`` call. All computation
happens while the JSON document is built (:mod:`maintreport.build`); HTML, PDF, Markdown
and CSV are rendered from that document only (:mod:`maintreport.render`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import tempfile
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from maint_utils import maint_clock
from maintcore import availability as time_availability
from maintcore import interventions as intervention_store
from maintcore import supervision
from maintcore.config import PROJECT_DIR, atomic_write, ensure_dir, maint_home
from maintcore.errors import InvalidInput
from maintcore.store import Store

from . import brand, build, query, summary
from .i18n import LOCALES, Text
from .policy import (
    availability_target,
    client_name,
    client_redactor,
    insecure_transport,
    load_client_policy,
    one_line,
    report_settings,
    sla_hours,
)
from .secrets import Redactor

SCHEMA_PATH = PROJECT_DIR / "schemas" / "report.schema.json"
FORMATS = ("html", "pdf", "json", "csv", "md")
PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SCHEMA_VERSION = 1
# Up to this many results, validation parses every observed/threshold; above, it checks
# that each is a stored JSON object's text (the store only writes json.dumps of a dict).
PARSE_LIMIT = 50_000


# -- periods ---------------------------------------------------------------------------------
def check_period(period: str) -> tuple[int, int]:
    """Return (year, month) of a ``YYYY-MM`` period, or raise InvalidInput."""
    match = PERIOD_RE.match(period or "")
    if not match:
        raise InvalidInput(f"period {period!r} is malformed: use YYYY-MM, e.g. 2026-11")
    return int(match.group(1)), int(match.group(2))


def shift_month(period: str, months: int) -> str:
    """Return the period ``months`` away from ``period`` (negative: earlier)."""
    year, month = check_period(period)
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_bounds(period: str, tz: str) -> tuple[str, str]:
    """Return the UTC ISO bounds [since, until) of a calendar month in the client's timezone."""
    year, month = check_period(period)
    zone = zoneinfo.ZoneInfo(tz)
    start = dt.datetime(year, month, 1, tzinfo=zone)
    nyear, nmonth = check_period(shift_month(period, 1))
    end = dt.datetime(nyear, nmonth, 1, tzinfo=zone)
    return maint_clock.to_iso(start), maint_clock.to_iso(end)


def current_period() -> str:
    """Return the current month in UTC (``maint_clock.now()``) as ``YYYY-MM``."""
    month: str = maint_clock.now().strftime("%Y-%m")
    return month


def check_formats(formats: Sequence[str]) -> list[str]:
    """Return the formats in canonical order, or raise InvalidInput for an unknown one."""
    wanted = [f.strip().lower() for f in formats if f.strip()]
    bad = [f for f in wanted if f not in FORMATS]
    if bad or not wanted:
        raise InvalidInput(f"unknown format {', '.join(bad) or '(none)'}: use any of {','.join(FORMATS)}")
    return [f for f in FORMATS if f in wanted]


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@cache
def _validator(kind: str = "client_report") -> Any:
    schema = _schema()
    narrowed = {k: v for k, v in schema.items() if k != "oneOf"}
    return jsonschema_rs.Draft202012Validator({**narrowed, "$ref": f"#/$defs/{kind}"})


@cache
def _appendix_validator() -> Any:
    sub = _schema()["$defs"]["client_report"]["properties"]["appendix"]["items"]
    return jsonschema_rs.Draft202012Validator(sub)


def validate(doc: dict[str, Any]) -> None:
    """Validate a report document against ``schemas/report.schema.json``.

    The appendix is validated one host at a time, as the objects written to the JSON
    file, so that memory stays flat on large fleets. Raises ValueError on the first error.
    """
    appendix = doc.get("appendix")
    try:
        if isinstance(appendix, build.Appendix):
            _validator("client_report").validate({**doc, "appendix": []})
            item = _appendix_validator()
            parse = appendix.count <= PARSE_LIMIT
            for host in appendix.hosts:
                item.validate(appendix.host_objects(host, parse))
        else:
            _validator(doc.get("kind") if doc.get("kind") in ("client_report", "fleet_report") else "client_report"
                       ).validate(doc)
    except jsonschema_rs.ValidationError as exc:
        where = "/".join(str(p) for p in getattr(exc, "instance_path", []))
        raise ValueError(f"report document breaks schemas/report.schema.json at /{where}: "
                         f"{getattr(exc, 'message', str(exc))[:300]}") from None


def _lean_rows(store: Store, client: str, runs: list[dict[str, Any]]) -> list[build.Row]:
    """Fetch the period's results, sharing the strings that repeat (hosts, checks, times...).

    A row whose shape the store does not guarantee (a status outside the five, NaN in
    ``observed``, a number where text is expected...) is cleaned by :func:`build.clean_row`.
    """
    intern = sys.intern
    started = {r["run_id"]: str(r["started"]) for r in runs}
    out: list[build.Row] = []
    for r in query.result_rows(store, client, list(started)):
        if not build.is_clean(r):
            r = build.clean_row(r, started.get(r[1], "1970-01-01T00:00:00Z"))
        out.append((r[0], intern(r[1]), intern(r[2]), intern(r[3]), intern(r[4]), r[5], intern(r[6]), r[7],
                    r[8], r[9], intern(r[10]), intern(r[11]), r[12], intern(r[13]), r[14]))
    return out


def redact_document(doc: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """Return the document with every vault value replaced, the appendix's rows included."""
    if not redactor:
        return doc
    appendix = doc.get("appendix")
    out: dict[str, Any] = redactor.obj({k: v for k, v in doc.items() if k != "appendix"})
    if isinstance(appendix, build.Appendix):
        text, json_text = redactor.text, redactor.json_text
        rows = []
        for _host, group in appendix.groups():
            for r in group:
                rows.append((r[0], text(r[1]), text(r[2]), text(r[3]), text(r[4]), text(r[5]), r[6], r[7],
                             text(r[8]), json_text(r[9]), json_text(r[10]), text(r[11]), r[12], r[13],
                             json_text(r[14]) if len(r) > 14 and r[14] is not None else None))
        out["appendix"] = build.Appendix(rows)
    return out


# -- the client report -------------------------------------------------------------------------
def _supervision(store: Store, client: str, policy: dict[str, Any], since: str, until: str, as_of: str,
                 hosts: Iterable[str]) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]],
                                                list[dict[str, Any]]]:
    """Time-based availability and the alerts of [since, until), as they stood at ``as_of``.

    Nothing after ``as_of`` is measured (the rest of a month not over yet is not unknown
    time). Returns ``by_host``'s answer, the spans, the downtimes and the report's alerts.
    """
    end = max(since, min(until, as_of))
    spans = supervision.spans(store, client, since, end)
    downs = supervision.downtimes(store, client, since, end)
    measured = time_availability.by_host(spans, downs, hosts, maint_clock.parse_iso(since),
                                         maint_clock.parse_iso(end), availability_target(policy))
    alerts = []
    for row in supervision.list_alerts(store, client, supervision.STATES, since=since, until=end):
        if not (isinstance(row.get("opened"), str) and build.ISO_UTC.fullmatch(row["opened"])):
            continue  # garbage in the store: nothing to judge
        view = build.alert_as_of(supervision.get_alert(store, client, int(row["id"])), as_of)
        alerts.append(build.alert_entry(view, supervision.sla_view(view, policy, as_of), since))
    alerts.sort(key=lambda a: (a["opened"], a["id"]))
    return measured, spans, downs, alerts


def _supervision_scores(store: Store, client: str, policy: dict[str, Any], since: str, until: str,
                        as_of: str) -> dict[str, Any]:
    """The availability and alerts components of a month of the trends (client level only)."""
    measured, spans, _downs, alerts = _supervision(store, client, policy, since, until, as_of, ())
    rate = measured["client"]["rate"]
    summary = build.alerts_summary(alerts, {}, {})
    return {"availability_rate": rate, "alerts_met_rate": summary["met_rate"],
            "alerts_count": len(alerts), "supervised": bool(spans or alerts),
            "availability": build.availability_score(rate, measured["client"]["target"]),
            "alerts": build.alerts_score(summary)}


def build_document(store: Store, client: str, *, period: str | None = None, run_id: str | None = None,
                   locale: str = "en") -> dict[str, Any]:
    """Build (and return) the report document of one client for a month or one run."""
    if locale not in LOCALES:
        raise InvalidInput(f"unknown locale {locale!r}: use one of {', '.join(LOCALES)}")
    policy = load_client_policy(client)
    settings = report_settings(policy)
    redactor = client_redactor(client)  # fails closed, before anything is read or written
    tz = str(policy.get("timezone") or "UTC")
    text = Text(locale)
    if run_id:
        run = store.run(run_id)
        if not run or run["client"] != client:
            raise InvalidInput(f"unknown run {run_id!r} for client {client!r}")
        runs = [run]
        month = dt.datetime.fromisoformat(run["started"].replace("Z", "+00:00")).astimezone(
            zoneinfo.ZoneInfo(tz)).strftime("%Y-%m")
        since, until = run["started"], run["finished"] or run["started"]
        label, kind = run_id, "run"
    else:
        month = period or current_period()
        since, until = month_bounds(month, tz)
        runs = query.nightly_runs(store, client, since, until)
        label, kind = month, "month"
    now = maint_clock.to_iso(maint_clock.now())
    as_of = min(now, month_bounds(month, tz)[1]) if kind == "month" else until
    rows = _lean_rows(store, client, runs)
    hosts: set[str] = {row[build.HOST] for row in rows}
    measured, spans, downs, alerts = _supervision(store, client, policy, since, until, as_of, hosts)
    if not runs and not spans and not alerts:
        raise InvalidInput(f"no runs for client {client!r} in period {month}")
    lookback = dt.timedelta(days=float(settings["findings_lookback_days"]))
    window = maint_clock.to_iso(maint_clock.parse_iso(since) - lookback)
    open_before = query.open_before(store, client, since, window)
    before_rows = {row[build.ID]: row if build.is_clean(row) else build.clean_row(row, since)
                   for row in query.rows_by_id(store, [o[4] for o in open_before])}
    carried: dict[tuple[str, str, str], tuple[str, build.Row]] = {
        (o[0], o[1], o[2]): (o[3], before_rows[o[4]]) for o in open_before if o[4] in before_rows
    }
    findings, latest = build.track(rows, carried)
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    by_check: dict[str, list[build.Row]] = defaultdict(list)
    for row in rows:
        counts[(row[build.RUN], build.bucket_of(row[build.CHECK], row[build.AREA]), row[build.STATUS])] += 1
        if row[build.CHECK] == "backup.restore_sample":
            by_check["backup.restore_sample"].append(row)
    avail = build.availability_section(measured, spans, downs, build.uptime_and_reboots(rows), since,
                                       max(since, min(until, as_of)))
    sla = build.alerts_summary(alerts, sla_hours(policy), sla_hours(policy, table_name="resolve_hours"))
    scores: dict[str, float | None] = {
        **build.area_scores((r, b, s, n) for (r, b, s), n in counts.items()),
        "availability": build.availability_score(avail["rate"], avail["target"]),
        "alerts": build.alerts_score(sla),
    }
    weights = {k: float(v) for k, v in settings["score_weights"].items()}
    score = build.compliance_score(scores, weights)
    components = build.score_components(scores, weights)
    manual, spent = _manual_interventions(store, client, settings, since, until, alerts)
    recs = build.recommendations(findings, latest, settings, text, spent)
    interventions = build.interventions(manual, build.automatic_interventions(rows))
    summary_areas = _summary_areas(scores, findings, latest, weights)
    current = {"availability_rate": avail["rate"], "alerts_count": sla["alerts"], "alerts_met_rate": sla["met_rate"],
               "patch": summary.patch_compliance([(r[build.HOST], r[build.STATUS]) for r in latest.values()
                                                  if r[build.AREA] == "patch"]),
               "backup": summary.backup_tests(_status_count(by_check["backup.restore_sample"]))}
    trends = _trends(store, client, policy, month, tz, settings, score, scores, counts, kind, current)
    wanted = build.evidence_ids(avail, alerts) | {i for e in manual for i in e["evidence"]}
    appendix_rows = _with_evidence(store, client, rows, wanted, since)
    known = {r[build.ID] for r in appendix_rows}
    build.keep_evidence(avail, alerts, known)
    build.keep_intervention_evidence(interventions, known)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": "client_report",
        "client": client,
        "client_name": client_name(policy, client),
        "insecure_transport": insecure_transport(policy),
        "msp": brand.for_client(policy),
        "locale": locale,
        "timezone": tz,
        "period": {"kind": kind, "label": label, "month": month, "since": since, "until": until},
        "generated_at": now,
        "as_of": as_of,
        "runs": [_run_entry(r) for r in runs],
        "summary": {
            "score": score,
            "weights": weights,
            "points": build.POINTS,
            "components": components,
            "left_out": [c["component"] for c in components if not c["counted"]],
            "areas": summary_areas,
            "hosts": avail["hosts_total"],
            "runs": len(runs),
            "results": len(rows),
            "latest_status": build.status_totals(latest),
            "open_findings": sum(1 for f in findings if not f["resolved"]),
            "open_critical": sum(1 for f in findings if not f["resolved"] and f["status"] == "critical"),
            "active_alerts": sla["active"],
            "top_recommendations": [{k: r[k] for k in ("rank", "title", "severity", "status")} for r in recs[:3]],
        },
        "availability": avail,
        "sla": sla,
        "alerts": alerts,
        "findings": _number_findings(findings),
        "interventions": interventions,
        "intervention_totals": build.intervention_totals(interventions, settings["technician_rate"],
                                                         settings["currency"]),
        "areas": build.area_sections(latest, by_check, findings, len(hosts)),
        "trends": trends,
        "recommendations": recs,
        "cost_settings": {k: settings[k] for k in (
            "currency", "technician_rate", "emergency_multiplier", "staff_cost_per_hour", "staff_count",
            "outage_hours", "emergency_hours", "planned_fix_hours", "disk_part_cost")},
        "appendix": build.Appendix(appendix_rows),
    }
    doc["first_page"] = summary.first_page(doc, text, lambda rec: _plain_label(text, rec["check"], rec["area"]),
                                           lambda c: text(f"component.{c}"))
    doc["not_ok"] = summary.not_ok(latest.values())
    return redact_document(doc, redactor)


def _plain_label(text: Text, check: str, area: str) -> str:
    """A check's label for the client (``check.<id>``), else its area's: never the raw id."""
    return text.labels.get(f"check.{check}") or text.labels.get(f"area.{area}") or area


def _status_count(rows: Iterable[build.Row]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for row in rows:
        out[row[build.STATUS]] += 1
    return out


def _manual_interventions(store: Store, client: str, settings: dict[str, Any], since: str, until: str,
                          alerts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                                 dict[tuple[str, str], dict[int, int]]]:
    """The interventions people recorded in [since, until), and their real minutes per host and check.

    Their links (the alert answered, the result acted on) are looked up among the client's own
    alerts and results; the minutes feed the recommendations' estimates (:func:`build.fix_minutes`).
    """
    stored = intervention_store.for_period(store, client, since, until)
    alert_links = query.alert_keys(store, client, [r["alert_id"] for r in stored if isinstance(r["alert_id"], int)])
    result_links = query.result_keys(store, client,
                                     [r["result_id"] for r in stored if isinstance(r["result_id"], int)])
    manual = build.manual_interventions(stored, settings["technician_rate"], since, alert_links, result_links,
                                        {a["id"] for a in alerts})
    return manual, build.fix_minutes(manual, alert_links, result_links)


def _with_evidence(store: Store, client: str, rows: list[build.Row], wanted: set[int],
                   since: str) -> list[build.Row]:
    """The period's results plus the results the availability, alerts and interventions link to.

    Those results belong to probe or watch runs, or to earlier months (not in the run-based
    sections); they join the appendix so that every link lands. Results of another client are
    never fetched.
    """
    have = {r[build.ID] for r in rows}
    missing = sorted(wanted - have)
    if not missing:
        return rows
    extra = [r if build.is_clean(r) else build.clean_row(r, since)
             for r in query.rows_by_id(store, missing, client)]
    return sorted([*rows, *extra], key=lambda r: (r[build.FINISHED], r[build.ID]))


def _number_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for n, f in enumerate(findings, 1):
        f["id"] = f"f{n}"
    return findings


def _run_entry(run: dict[str, Any]) -> dict[str, Any]:
    """One run as the report shows it; a value of the wrong type in the store shows as null."""
    entry: dict[str, Any] = {}
    for key in ("run_id", "started", "status"):
        entry[key] = str(run.get(key))
    for key in ("kind", "areas", "finished"):
        value = run.get(key)
        entry[key] = None if value is None else str(value)
    for key in ("exit_code", "hosts_total"):
        value = run.get(key)
        entry[key] = value if isinstance(value, int) and not isinstance(value, bool) else None
    entry["check_mode"] = bool(run.get("check_mode"))
    return entry


def _summary_areas(scores: dict[str, float | None], findings: list[dict[str, Any]],
                   latest: dict[tuple[str, str, str], build.Row], weights: dict[str, float]) -> list[dict[str, Any]]:
    open_st: dict[str, list[str]] = defaultdict(list)
    for f in findings:
        if not f["resolved"]:
            open_st[f["area"]].append(f["status"])
    unknown: dict[str, int] = defaultdict(int)
    for (_h, check, _i), row in latest.items():
        if row[build.STATUS] == "unknown":
            bucket = build.bucket_of(check, row[build.AREA])
            unknown[bucket] += 1
            open_st[bucket].append("unknown")
    return [{
        "area": a, "score": scores[a], "weight": weights.get(a, 0.0),
        "light": build.traffic_light(scores[a], open_st[a]),
        "open_critical": open_st[a].count("critical"), "open_warning": open_st[a].count("warning"),
        "unknown": unknown[a],
    } for a in build.SCORED_AREAS]


def _trends(store: Store, client: str, policy: dict[str, Any], month: str, tz: str, settings: dict[str, Any],
            score: float | None, scores: dict[str, float | None], counts: dict[tuple[str, str, str], int],
            kind: str, current: dict[str, Any]) -> dict[str, Any]:
    """Score, findings per area, availability and disk free space over this period and the previous ones.

    Each month's score has the same components as this one's: the run-based area scores,
    its time-based availability and its alerts handled within SLA. Each month also carries
    its availability rate, alerts count and share within SLA, patch compliance and restore
    tests (``current``: this month's, already computed); a month without data has None there
    (``series``: :func:`maintreport.summary.month_over_month`).
    """
    n = max(1, int(settings["trend_months"]))
    months = [shift_month(month, -i) for i in range(n - 1, -1, -1)]
    weights = {k: float(v) for k, v in settings["score_weights"].items()}
    now = maint_clock.to_iso(maint_clock.now())
    periods = []
    for m in months:
        since, until = month_bounds(m, tz)
        if m == month and kind == "month":
            cur = [(r, b, s, c) for (r, b, s), c in counts.items()]
            p_scores, p_score = scores, score
            extra = dict(current)
        else:
            cur = query.status_counts(store, client, since, until)
            sup = _supervision_scores(store, client, policy, since, until, min(now, until))
            p_scores = {**build.area_scores(cur), "availability": sup["availability"], "alerts": sup["alerts"]}
            p_score = build.compliance_score(p_scores, weights)
            extra = {"availability_rate": sup["availability_rate"],
                     "alerts_count": sup["alerts_count"] if sup["supervised"] or cur else None,
                     "alerts_met_rate": sup["alerts_met_rate"],
                     "patch": summary.patch_compliance(query.latest_area_statuses(store, client, "patch", since,
                                                                                  until)),
                     "backup": summary.backup_tests(query.check_status_counts(store, client, "backup.restore_sample",
                                                                              since, until))}
        findings: dict[str, int] = {a: 0 for a in build.SCORED_AREAS}
        runs = set()
        for run_id, bucket, status, c in cur:
            runs.add(run_id)
            if status in build.FINDING_STATUSES and bucket in findings:
                findings[bucket] += c
        periods.append({"period": m, "runs": len(runs), "score": p_score,
                        "areas": {a: p_scores[a] for a in build.SCORED_AREAS},
                        "availability": p_scores["availability"], "alerts": p_scores["alerts"],
                        "findings": findings, **extra})
    since = month_bounds(months[0], tz)[0]
    until = month_bounds(month, tz)[1]
    disk = build.disk_free_series(query.check_rows(store, client, "hardware.disk_free", since, until))
    return {"periods": periods, "disk_free": disk, "series": summary.month_over_month(periods)}


# -- writing ---------------------------------------------------------------------------------
def default_out_dir(client: str, label: str) -> Path:
    """Return ``$MAINT_HOME/reports/<client>/<label>/``."""
    return maint_home() / "reports" / client / label


def _write(doc: dict[str, Any], formats: Sequence[str], out: Path, stem: str) -> dict[str, Path]:
    from . import render, sign  # jinja2 and weasyprint are loaded only when rendering

    key = sign.report_key(formats=formats)  # before anything is written: an unusable key is an error
    ensure_dir(out)
    written: dict[str, Path] = {}
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        if fmt == "json":
            write_chunks(path, render.json_chunks(doc))
        elif fmt == "html":
            write_chunks(path, render.html_chunks(doc))
        elif fmt == "pdf":
            # the print variant: first page, bounded lists, the appendix of what is not ok; the
            # evidence links point into the full HTML written beside it
            printed = render.html_chunks(doc, printed=doc.get("kind") == "client_report",
                                         files={"html": f"{stem}.html", "csv": f"{stem}.csv"})
            atomic_write(path, render.render_pdf("".join(printed)))
        elif fmt == "csv":
            write_chunks(path, render.csv_chunks(doc))
        else:
            atomic_write(path, render.render_md(doc))
        written[fmt] = path
        if fmt in sign.SIGNED_FORMATS:  # proof of integrity: the complete file, then <file>.sig
            sign.after_write(path, key)
    return written


def write_chunks(path: Path, chunks: Iterable[str]) -> None:
    """Stream text to ``path`` atomically, mode 0600.

    The same temp-file-and-rename in the same folder as ``maintcore.config.atomic_write``,
    without holding the whole text in memory.
    """
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(store: Store, client: str, *, period: str | None = None, run_id: str | None = None,
                 formats: Sequence[str] = ("html", "json"), out_dir: Path | None = None,
                 locale: str = "en") -> dict[str, Path]:
    """Build, validate and write a client's report; return the paths written by format.

    Files are 0600 in folders 0700, written atomically, by default under
    ``$MAINT_HOME/reports/<client>/<period or run_id>/``.
    """
    return write_report_doc(store, client, period=period, run_id=run_id, formats=formats,
                            out_dir=out_dir, locale=locale)[1]


def write_report_doc(store: Store, client: str, *, period: str | None = None, run_id: str | None = None,
                     formats: Sequence[str] = ("html", "json"), out_dir: Path | None = None,
                     locale: str = "en") -> tuple[dict[str, Any], dict[str, Path]]:
    """Like :func:`write_report`, and also return the document (for delivery)."""
    if period and run_id:
        raise InvalidInput("give either --run or --period, not both")
    if period:
        check_period(period)
    wanted = check_formats(formats)
    doc = build_document(store, client, period=period, run_id=run_id, locale=locale)
    validate(doc)
    out = out_dir or default_out_dir(client, doc["period"]["label"])
    return doc, _write(doc, wanted, out, "report")


# -- the fleet overview ------------------------------------------------------------------------
def build_fleet(store: Store, clients: Sequence[str], *, period: str | None = None,
                locale: str = "en") -> dict[str, Any]:
    """One row per client: score, open criticals, last run and age of the last restore test."""
    month = period or current_period()
    check_period(month)
    now = maint_clock.now()
    rows = []
    for client in clients:
        try:
            rows.append(_fleet_row(store, client, month, now, locale))
        except Exception as exc:  # noqa: BLE001 - one client's bad input must not stop the others
            if os.environ.get("MAINT_DEBUG"):
                raise
            rows.append({"client": client, "client_name": client, "runs": 0, "score": None, "light": "grey",
                         "open_critical": 0, "hosts": 0, "last_run": None, "backup_test": None,
                         "backup_test_age_days": None, "insecure_transport": None, "error": one_line(exc)})
    return {"schema_version": SCHEMA_VERSION, "kind": "fleet_report", "locale": locale, "msp": brand.for_fleet(),
            "period": {"kind": "month", "label": month, "month": month},
            "generated_at": maint_clock.to_iso(now), "clients": rows}


def _fleet_row(store: Store, client: str, month: str, now: dt.datetime, locale: str) -> dict[str, Any]:
    """One client's row of the fleet overview (its vault values redacted)."""
    policy = load_client_policy(client)
    redactor = client_redactor(client)
    tz = str(policy.get("timezone") or "UTC")
    since, until = month_bounds(month, tz)
    row: dict[str, Any] = {"client": client, "client_name": client_name(policy, client),
                           "runs": 0, "score": None, "light": "grey", "open_critical": 0,
                           "hosts": 0, "last_run": None, "backup_test": None, "backup_test_age_days": None,
                           "insecure_transport": insecure_transport(policy), "error": None}
    earlier = query.nightly_runs(store, client, None, until)
    if earlier:
        row["last_run"] = _iso_or_none(earlier[-1]["started"])
    tests = [t for t in query.check_rows(store, client, "backup.restore_sample", "0000", until)
             if _iso_or_none(t[6])]
    if tests:
        last = tests[-1][6]
        row["backup_test"] = last
        as_of = min(now, maint_clock.parse_iso(until))
        row["backup_test_age_days"] = round((as_of - maint_clock.parse_iso(last)).total_seconds() / 86400, 1)
    if (query.nightly_runs(store, client, since, until) or supervision.spans(store, client, since, until)
            or supervision.list_alerts(store, client, supervision.STATES, since=since, until=until)):
        doc = build_document(store, client, period=month, locale=locale)
        summary = doc["summary"]
        row.update(runs=summary["runs"], score=summary["score"], open_critical=summary["open_critical"],
                   hosts=summary["hosts"], light=build.traffic_light(
                       summary["score"], ["critical"] if summary["open_critical"] else []))
    out: dict[str, Any] = redactor.obj(row)
    return out


def _iso_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and build.ISO_UTC.fullmatch(value) else None


def fleet_errors(doc: dict[str, Any]) -> list[str]:
    """Return one line per client of a fleet overview that could not be reported."""
    return [f"client {c['client']}: {c['error']}" for c in doc["clients"] if c.get("error")]


def write_fleet(store: Store, clients: Sequence[str], *, period: str | None = None,
                formats: Sequence[str] = ("html", "json"), out_dir: Path | None = None,
                locale: str = "en") -> tuple[dict[str, Any], dict[str, Path]]:
    """Build, validate and write the fleet overview under ``$MAINT_HOME/reports/_fleet/<period>/``.

    Returns the document and the paths written by format.
    """
    wanted = check_formats(formats)
    doc = build_fleet(store, clients, period=period, locale=locale)
    validate(doc)
    out = out_dir or maint_home() / "reports" / "_fleet" / doc["period"]["label"]
    return doc, _write(doc, wanted, out, "fleet")
