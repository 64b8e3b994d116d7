"""Pure aggregation: runs and results in, the report's JSON document out.

Nothing here reads the store, the clock or a file: :mod:`maintreport.api` does that and
hands plain data in, so every number of the report can be unit-tested. The formulas are
documented in ``reports/README.md``.

Result rows are tuples in ``maintreport.query.REPORT_COLUMNS`` order (see :data:`COL`).
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from maint_utils.checks import AREAS
from maint_utils.maint_result import STATUS_RANK, STATUSES
from maintcore import interventions as intervention_store

from .costs import estimate_cost
from .messages import human_remediation, message_of

Row = Sequence[Any]
# Column positions in a result row (maintreport.query.REPORT_COLUMNS).
COL = {name: pos for pos, name in enumerate((
    "id", "run_id", "host", "check_id", "area", "item", "status", "severity", "summary",
    "observed", "threshold", "remediation", "changed", "finished", "message",
))}
ID, RUN, HOST, CHECK, AREA, ITEM, STATUS, SEV, SUMMARY, OBSERVED, THRESHOLD, REMEDIATION, CHANGED, FINISHED = range(14)
MESSAGE = 14  # the summary as a catalogue message (JSON text or None): what the client-facing parts render

SCORED_AREAS = (*AREAS, "reachability")
# The compliance score's components: the run-based area scores, time-based availability and the
# alerts handled within SLA (reports/README.md, "Compliance score").
COMPONENTS = (*SCORED_AREAS, "availability", "alerts")
SECTION_AREAS = AREAS
# Points per status in the score: unknown is not ok (nobody read the value), skipped is left out.
POINTS = {"ok": 1.0, "warning": 0.5, "unknown": 0.5, "critical": 0.0}
FINDING_STATUSES = ("warning", "critical")
_BAD = frozenset(FINDING_STATUSES)
_DECIDED = frozenset(("ok", "warning", "critical"))  # statuses that tell whether a finding is open
SEVERITIES = frozenset(("P1", "P2", "P3", "P4"))
SEVERITY_RANK = {"P1": 0, "P2": 1, "P3": 2, "P4": 3, None: 4}
# Traffic light: red below RED_BELOW or with an open critical, amber below AMBER_BELOW or
# with an open warning or unknown, green otherwise; grey when the area has no result.
RED_BELOW = 60.0
AMBER_BELOW = 85.0

# Keys of ``observed`` the report reads, in order of preference (the roles' decide code).
DISK_FREE_KEYS = ("free_pct", "pct_free", "free_percent", "avail_pct")
UPTIME_SECONDS_KEYS = ("uptime_s", "uptime_seconds", "seconds")
UPTIME_DAYS_KEYS = ("uptime_days", "days")


def bucket_of(check: str, area: str) -> str:
    """Return the score bucket of a result: its area, or ``reachability``."""
    return "reachability" if check == "run.reachability" else area


# -- score -----------------------------------------------------------------------------------
def area_scores(counts: Iterable[tuple[str, str, str, int]]) -> dict[str, float | None]:
    """Return each scored area's score (0-100) from ``(run_id, bucket, status, n)`` counts.

    A run's area score is the mean of the points of its results in that area (ok 1,
    warning 0.5, unknown 0.5, critical 0; skipped left out). The period's area score
    is the mean over the runs that have results in the area. None: no result.
    """
    per_run: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for run_id, bucket, status, n in counts:
        if status not in POINTS or bucket not in SCORED_AREAS:
            continue
        acc = per_run[(run_id, bucket)]
        acc[0] += POINTS[status] * n
        acc[1] += n
    by_area: dict[str, list[float]] = defaultdict(list)
    for (_run, bucket), (points, weight) in per_run.items():
        if weight:
            by_area[bucket].append(100.0 * points / weight)
    return {a: (round(sum(v) / len(v), 1) if (v := by_area.get(a)) else None) for a in SCORED_AREAS}


def compliance_score(scores: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """Return the weighted mean of the components that have a score (None when none has).

    ``scores`` maps components (:data:`COMPONENTS`: the areas, ``availability``, ``alerts``) to
    0-100 or None; a component without a score is left out of the mean, never counted as 100.
    """
    total = sum(weights.get(a, 0.0) for a, s in scores.items() if s is not None)
    if not total:
        return None
    return round(sum(weights.get(a, 0.0) * s for a, s in scores.items() if s is not None) / total, 1)


def score_components(scores: dict[str, float | None], weights: dict[str, float]) -> list[dict[str, Any]]:
    """Every component of the compliance score, its score and weight, and whether it counted.

    A component counts when it has a score and a weight above 0; the others are left out
    of the weighted mean (the report names them).
    """
    return [{"component": c, "score": scores.get(c), "weight": weights.get(c, 0.0),
             "counted": scores.get(c) is not None and weights.get(c, 0.0) > 0} for c in COMPONENTS]


def traffic_light(score: float | None, open_statuses: Iterable[str]) -> str:
    """Return green, amber, red or grey for an area (see RED_BELOW and AMBER_BELOW)."""
    if score is None:
        return "grey"
    statuses = set(open_statuses)
    if "critical" in statuses or score < RED_BELOW:
        return "red"
    if statuses & {"warning", "unknown"} or score < AMBER_BELOW:
        return "amber"
    return "green"


# -- findings and SLA ------------------------------------------------------------------------
def _worse_severity(a: str | None, b: str | None) -> str | None:
    return a if SEVERITY_RANK.get(a, 4) <= SEVERITY_RANK.get(b, 4) else b


def track(rows: Iterable[Row], carried: dict[tuple[str, str, str], tuple[str, Row]] | None = None,
          ) -> tuple[list[dict[str, Any]], dict[tuple[str, str, str], Row]]:
    """Follow every host/check/item through the maintenance runs, oldest first.

    A finding opens at the first warning or critical result of a key and stays open
    while later results are warning or critical; the first later ``ok`` result resolves
    it. unknown and skipped results neither extend nor resolve it (nobody could tell).
    ``carried`` maps the keys already open before the period to ``(first_seen, last
    row before the period)``: their finding keeps that first-seen time (``carried_over``).
    Findings carry no SLA: the SLA is judged on the alerts (:func:`alerts_section`).

    Returns the findings (in the order they opened) and the latest row per key.
    """
    latest: dict[tuple[str, str, str], Row] = {}
    open_: dict[tuple[str, str, str], dict[str, Any]] = {}
    findings: list[dict[str, Any]] = []
    pending = dict(carried or {})
    bad = _BAD
    for row in rows:
        key = (row[HOST], row[CHECK], row[ITEM])
        status = row[STATUS]
        latest[key] = row
        if pending and status in _DECIDED and key in pending:
            first_seen, before = pending.pop(key)
            finding = _open_finding(before, evidence=False)
            finding["first_seen"], finding["carried_over"] = first_seen, True
            open_[key] = finding
            findings.append(finding)
        if status in bad:
            current = open_.get(key)
            if current is None:
                current = open_[key] = _open_finding(row)
                findings.append(current)
            else:
                _extend(current, row)
        elif status == "ok" and open_:
            current = open_.pop(key, None)
            if current is not None:
                current["resolved"] = True
                current["resolved_at"] = row[FINISHED]
                current["resolved_by"] = row[ID]
                current["evidence"].append(row[ID])
    return findings, latest


def _open_finding(row: Row, evidence: bool = True) -> dict[str, Any]:
    return {
        "host": row[HOST], "check": row[CHECK], "item": row[ITEM],
        "area": bucket_of(row[CHECK], row[AREA]), "status": row[STATUS], "severity": row[SEV],
        "summary": row[SUMMARY], "message": message_of(_at(row, MESSAGE)), "remediation": row[REMEDIATION],
        "first_seen": row[FINISHED], "last_seen": row[FINISHED], "occurrences": 1 if evidence else 0,
        "carried_over": False, "resolved": False, "resolved_at": None, "resolved_by": None,
        "evidence": [row[ID]] if evidence else [],
    }


def _extend(finding: dict[str, Any], row: Row) -> None:
    """Add a later warning/critical result: keep the first, the worst and the latest."""
    finding["occurrences"] += 1
    finding["last_seen"] = row[FINISHED]
    finding["summary"] = row[SUMMARY]
    finding["message"] = message_of(_at(row, MESSAGE))
    finding["remediation"] = row[REMEDIATION] or finding["remediation"]
    if STATUS_RANK[row[STATUS]] > STATUS_RANK[finding["status"]]:
        finding["status"] = row[STATUS]
    finding["severity"] = _worse_severity(finding["severity"], row[SEV])
    evidence = finding["evidence"]
    if len(evidence) > 1:
        evidence[-1] = row[ID]
    else:
        evidence.append(row[ID])


# -- availability ----------------------------------------------------------------------------
def _number(observed: dict[str, Any], keys: Sequence[str]) -> float | None:
    for key in keys:
        value = observed.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def uptime_days(observed: dict[str, Any]) -> float | None:
    """Return the uptime in days from a ``hardware.uptime`` result's observed values."""
    seconds = _number(observed, UPTIME_SECONDS_KEYS)
    if seconds is not None:
        return seconds / 86400.0
    return _number(observed, UPTIME_DAYS_KEYS)


def uptime_and_reboots(rows: Iterable[Row]) -> dict[str, dict[str, Any]]:
    """Per host, from the maintenance runs: the last uptime read and the reboots seen.

    A reboot is seen when ``hardware.uptime`` went down between two runs (the first
    evidence is the result after the reboot), or when ``patch.rebooted`` changed the host.
    """
    hosts: dict[str, dict[str, Any]] = {}

    def host(name: str) -> dict[str, Any]:
        if name not in hosts:
            hosts[name] = {"uptime_days": None, "uptime_id": None, "reboots": 0, "reboot_ids": []}
        return hosts[name]

    last_uptime: dict[str, float] = {}
    for row in rows:
        check = row[CHECK]
        if check == "hardware.uptime":
            days = uptime_days(_observed(row))
            if days is None:
                continue
            entry = host(row[HOST])
            previous = last_uptime.get(row[HOST])
            if previous is not None and days + 1e-6 < previous:
                entry["reboots"] += 1
                entry["reboot_ids"].append(row[ID])
            last_uptime[row[HOST]] = days
            entry["uptime_days"] = round(days, 2)
            entry["uptime_id"] = row[ID]
        elif check == "patch.rebooted" and row[CHANGED]:
            entry = host(row[HOST])
            entry["reboots"] += 1
            entry["reboot_ids"].append(row[ID])
    return hosts


_MEASURE_KEYS = ("rate", "target", "meets_target", "up_minutes", "down_minutes", "unknown_minutes",
                 "planned_minutes", "coverage", "outages", "longest_outage_minutes")


def availability_section(measured: dict[str, Any], spans: Sequence[dict[str, Any]],
                         downtimes: Sequence[dict[str, Any]], uptime: dict[str, dict[str, Any]],
                         since: str, until: str) -> dict[str, Any]:
    """The availability section, time-based, from ``maintcore.availability.by_host``'s answer.

    Every minute of [since, until) of a host is up, down, planned (scheduled downtime) or
    unknown (not probed: never counted as available). ``rate`` is up / (up + down), None
    ("not measured") without probe data. Each outage links the probe results that saw it
    start (the down span's first stored result) and end (the next up span's first result).
    ``uptime`` adds the maintenance runs' last uptime and reboots per host.
    """
    by_host_spans: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        by_host_spans[span["host"]].append(span)
    hosts = []
    for name in sorted(set(measured["hosts"]) | set(uptime)):
        m = measured["hosts"].get(name)
        entry: dict[str, Any] = {"host": name}
        entry.update({k: m[k] for k in _MEASURE_KEYS} if m else {
            "rate": None, "target": measured["client"]["target"], "meets_target": None, "up_minutes": 0.0,
            "down_minutes": 0.0, "unknown_minutes": 0.0, "planned_minutes": 0.0, "coverage": None, "outages": 0,
            "longest_outage_minutes": 0.0})
        entry["measured"] = entry["rate"] is not None
        host_spans = by_host_spans.get(name, [])
        entry["outage_list"] = [{**o, "evidence": _outage_evidence(o, host_spans)}
                                for o in (m["outage_list"] if m else [])]
        entry["timeline"] = [{"start": a, "end": b, "state": k} for a, b, k in (m["timeline"] if m else [])]
        up = uptime.get(name) or {"uptime_days": None, "uptime_id": None, "reboots": 0, "reboot_ids": []}
        entry.update(up)
        hosts.append(entry)
    client = {k: measured["client"][k] for k in (*_MEASURE_KEYS, "hosts_meeting_target")}
    return {
        **client,
        "measured": client["rate"] is not None,
        "since": since, "until": until,
        "hosts_total": len(hosts),
        "hosts_measured": sum(1 for h in hosts if h["measured"]),
        "hosts_not_measured": [h["host"] for h in hosts if not h["measured"]],
        "downtimes": [_downtime_entry(d) for d in downtimes],
        "hosts": hosts,
    }


def _outage_evidence(outage: dict[str, Any], spans: Sequence[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for span in spans:
        first = span.get("first_result")
        if not isinstance(first, int):
            continue
        down = span["status"] not in ("ok", "unknown", "skipped")
        if (down and span["start"] < outage["end"] and span["end"] > outage["start"]) or \
                (span["status"] == "ok" and span["start"] == outage["end"]):
            ids.append(first)
    return sorted(set(ids))


def _downtime_entry(d: dict[str, Any]) -> dict[str, Any]:
    return {"id": int(d["id"]), "host": str(d["host"]), "start": str(d["start"]), "end": str(d["end"]),
            "reason": str(d.get("reason") or ""), "source": str(d.get("source") or ""),
            "who": None if d.get("who") is None else str(d["who"])}


def evidence_ids(availability: dict[str, Any], alerts: Sequence[dict[str, Any]]) -> set[int]:
    """Every result id the availability and alerts sections link to."""
    ids = {i for h in availability["hosts"] for o in h["outage_list"] for i in o["evidence"]}
    ids |= {i for a in alerts for i in a["evidence"]}
    return ids


def keep_evidence(availability: dict[str, Any], alerts: Sequence[dict[str, Any]], known: set[int]) -> None:
    """Drop the links to results the appendix does not hold (forgotten from the store)."""
    for h in availability["hosts"]:
        for o in h["outage_list"]:
            o["evidence"] = [i for i in o["evidence"] if i in known]
    for a in alerts:
        a["evidence"] = [i for i in a["evidence"] if i in known]
        for key in ("opened_result", "resolved_result"):
            if a[key] not in known:
                a[key] = None


def availability_score(rate: float | None, target: float | None) -> float | None:
    """The score's availability component: ``min(100, 100 x rate / target)``; None when not measured."""
    if rate is None:
        return None
    if not target:
        return round(min(100.0, rate), 1)
    return round(min(100.0, 100.0 * rate / target), 1)


# -- alerts handled --------------------------------------------------------------------------
ALERT_STATUSES = frozenset(("warning", "critical"))


def _outcome(within: bool | None, limit: Any) -> str:
    """met, missed, pending (no verdict yet) or none (the SLA sets no limit)."""
    if limit is None:
        return "none"
    if within is None:
        return "pending"
    return "met" if within else "missed"


def alert_as_of(alert: dict[str, Any], as_of: str) -> dict[str, Any]:
    """Return an alert as it stood at ``as_of``: later acknowledgements, escalations, resolutions unseen.

    A report of a past month shows what was true at its end, whatever happened since.
    """
    a = dict(alert)
    events = [e for e in alert.get("events") or [] if isinstance(e.get("at"), str) and e["at"] <= as_of]
    if not (isinstance(a.get("acknowledged"), str) and a["acknowledged"] <= as_of):
        a["acknowledged"], a["ack_by"] = None, None
    if not (isinstance(a.get("resolved"), str) and a["resolved"] <= as_of):
        a["resolved"], a["resolved_by"], a["resolved_result"] = None, None, None
    if not (isinstance(a.get("escalated"), str) and a["escalated"] <= as_of):
        a["escalated"] = None
    a["state"] = "resolved" if a["resolved"] else ("acknowledged" if a["acknowledged"] else "open")
    severities = [e["severity"] for e in events if e.get("severity") in SEVERITIES]
    if severities:
        a["severity"] = min(severities)
    statuses = [e["status"] for e in events if e.get("status") in ALERT_STATUSES]
    if statuses:
        a["status"] = "critical" if "critical" in statuses else "warning"
    a["events"] = events
    return a


def alert_entry(alert: dict[str, Any], sla: dict[str, Any], since: str) -> dict[str, Any]:
    """One alert of the report: who, when, against the SLA, and the results that opened and resolved it.

    ``alert`` is :func:`alert_as_of`'s view (with its events), ``sla`` the answer of
    ``maintcore.supervision.sla_view`` for it.
    """
    events = alert.get("events") or []
    ack = next((e for e in events if e.get("kind") == "acknowledged"), None)
    res = next((e for e in reversed(events) if e.get("kind") == "resolved"), None)
    evidence = [e["result_id"] for e in events if isinstance(e.get("result_id"), int)]
    for key in ("opened_result", "resolved_result"):
        if isinstance(alert.get(key), int):
            evidence.append(alert[key])
    suppressed = bool(alert.get("suppressed"))
    response = _outcome(sla["response_within_sla"], sla["response_limit_hours"])
    resolution = _outcome(sla["resolution_within_sla"], sla["resolution_limit_hours"])
    if suppressed:
        overall = "downtime"
    elif "missed" in (response, resolution):
        overall = "missed"
    elif "pending" in (response, resolution):
        overall = "pending"
    elif "met" in (response, resolution):
        overall = "met"
    else:
        overall = "none"
    severity = alert.get("severity")
    return {
        "id": int(alert["id"]), "host": str(alert["host"]), "check": str(alert["check_id"]),
        "item": str(alert.get("item") or ""),
        "status": alert["status"] if alert.get("status") in ALERT_STATUSES else "critical",
        "severity": severity if severity in SEVERITIES else None,
        "state": alert["state"], "summary": str(alert.get("summary") or ""),
        "opened": alert["opened"], "acknowledged": alert["acknowledged"],
        "ack_by": None if alert.get("ack_by") is None else str(alert["ack_by"]),
        "ack_note": ack.get("note") if ack else None,
        "escalated": alert.get("escalated"),
        "resolved": alert["resolved"],
        "resolved_by": None if alert.get("resolved_by") is None else str(alert["resolved_by"]),
        "resolved_note": res.get("note") if res else None,
        "suppressed": suppressed, "carried_over": alert["opened"] < since,
        **{k: _finite_or_none(sla[k]) for k in ("response_hours", "response_limit_hours", "resolution_hours",
                                                  "resolution_limit_hours")},
        "response": response, "resolution": resolution, "sla": overall,
        "opened_result": alert.get("opened_result") if isinstance(alert.get("opened_result"), int) else None,
        "resolved_result": alert.get("resolved_result") if isinstance(alert.get("resolved_result"), int) else None,
        "evidence": sorted(set(evidence)),
    }


def _finite_or_none(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _times(entries: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    """Median and worst of a measure (response or resolution) and its SLA verdicts."""
    hours = [e[f"{name}_hours"] for e in entries if e[f"{name}_hours"] is not None]
    counts = {k: sum(1 for e in entries if e[name] == k) for k in ("met", "missed", "pending", "none")}
    limits = sorted({e[f"{name}_limit_hours"] for e in entries if e[f"{name}_limit_hours"] is not None})
    decided = counts["met"] + counts["missed"]
    return {
        "median_hours": round(statistics.median(hours), 2) if hours else None,
        "worst_hours": round(max(hours), 2) if hours else None,
        "limit_hours": limits[0] if len(limits) == 1 else None,
        **counts,
        "within_rate": round(100.0 * counts["met"] / decided, 1) if decided else None,
    }


def alerts_summary(entries: Sequence[dict[str, Any]], response_hours: dict[str, float],
                   resolve_hours: dict[str, float]) -> dict[str, Any]:
    """Count the alerts handled and judge them against the SLA.

    Alerts opened in scheduled downtime (``suppressed``) are listed and counted
    (``in_downtime``) but not judged: nobody was called. An alert ``met`` its SLA when
    both its response and its resolution (those the SLA sets a limit for) were within
    their limit, ``missed`` when either was not; ``met_rate = met / (met + missed)``.
    """
    judged = [e for e in entries if not e["suppressed"]]
    outcomes = {k: sum(1 for e in entries if e["sla"] == k) for k in ("met", "missed", "pending", "none")}
    decided = outcomes["met"] + outcomes["missed"]
    per_severity = []
    for sev in (*sorted(SEVERITIES), None):
        mine = [e for e in entries if e["severity"] == sev]
        if not mine:
            continue
        judged_mine = [e for e in mine if not e["suppressed"]]
        per_severity.append({"severity": sev, "alerts": len(mine),
                             "in_downtime": len(mine) - len(judged_mine),
                             "response": _times(judged_mine, "response"),
                             "resolution": _times(judged_mine, "resolution")})
    return {
        **outcomes,
        "met_rate": round(100.0 * outcomes["met"] / decided, 1) if decided else None,
        "alerts": len(entries),
        "opened_in_period": sum(1 for e in entries if not e["carried_over"]),
        "carried_over": sum(1 for e in entries if e["carried_over"]),
        "in_downtime": len(entries) - len(judged),
        "active": sum(1 for e in entries if e["state"] != "resolved"),
        "by_state": {s: sum(1 for e in entries if e["state"] == s) for s in ("open", "acknowledged", "resolved")},
        "by_severity": per_severity,
        "response": _times(judged, "response"),
        "resolution": _times(judged, "resolution"),
        "response_hours": response_hours,
        "resolve_hours": resolve_hours,
    }


def alerts_score(summary: dict[str, Any]) -> float | None:
    """The score's alerts component: the share of judged alerts handled within SLA; None when none was judged."""
    rate: float | None = summary["met_rate"]
    return rate


def _observed(row: Row) -> dict[str, Any]:
    value = row[OBSERVED]
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else {}
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


# -- interventions ---------------------------------------------------------------------------
# The kinds of the report's interventions: a person's four (maintcore.interventions.KINDS) and the
# roles' own changes (results with changed: true).
INTERVENTION_KINDS = (*intervention_store.KINDS, "automatic")


def automatic_interventions(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Every result with ``changed: true`` (patches installed, signatures updated, reboots) as an intervention."""
    return [
        {"source": "automatic", "kind": "automatic", "intervention_id": None, "time": r[FINISHED],
         "host": r[HOST], "who": None, "summary": r[SUMMARY], "message": message_of(_at(r, MESSAGE)),
         "check": r[CHECK], "item": r[ITEM], "area": r[AREA], "run_id": r[RUN], "minutes": None, "cost": None,
         "alert_id": None, "alert_listed": False,
         "result_id": r[ID], "evidence": [r[ID]]}
        for r in rows if r[CHANGED]
    ]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def manual_interventions(rows: Iterable[dict[str, Any]], rate: float | None, since: str,
                         alert_keys: dict[int, tuple[str, str]], result_keys: dict[int, tuple[str, str]],
                         listed_alerts: set[int]) -> list[dict[str, Any]]:
    """The interventions people recorded (``maintcore.interventions.for_period`` rows), priced at ``rate``.

    ``alert_keys`` and ``result_keys`` map the linked alerts and results to their ``(host,
    check)`` (the entry's ``check`` is the alert's, else the result's); ``listed_alerts`` are the
    alert ids the report lists (a link lands). The store's values are not trusted: a kind outside
    the four is ``corrective`` (the default of ``maintctl intervention add``), minutes that are not
    a whole number from 0 to a week are unknown, a time that is not ISO UTC is ``since``.
    """
    out = []
    for row in rows:
        kind = row.get("kind") if row.get("kind") in intervention_store.KINDS else intervention_store.DEFAULT_KIND
        minutes = _int_or_none(row.get("minutes"))
        if minutes is not None and not 0 <= minutes <= intervention_store.MAX_MINUTES:
            minutes = None
        alert_id, result_id = _int_or_none(row.get("alert_id")), _int_or_none(row.get("result_id"))
        key = alert_keys.get(alert_id) if alert_id is not None else None
        if key is None and result_id is not None:
            key = result_keys.get(result_id)
        at = row.get("at")
        host = row.get("host")
        out.append({
            "source": "manual", "kind": kind, "intervention_id": int(row["id"]),
            "time": at if isinstance(at, str) and ISO_UTC.fullmatch(at) else since,
            "host": None if host is None else str(host), "who": str(row.get("who") or ""),
            "summary": str(row.get("summary") or ""), "check": key[1] if key else None, "item": None, "area": None,
            "run_id": None, "minutes": minutes, "cost": intervention_store.cost(minutes, rate),
            "alert_id": alert_id, "alert_listed": alert_id in listed_alerts,
            "result_id": result_id, "evidence": [] if result_id is None else [result_id],
        })
    return out


def interventions(manual: Sequence[dict[str, Any]], automatic: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Manual and automatic interventions together, oldest first (at the same time: the person's first)."""
    return sorted([*manual, *automatic], key=lambda i: (i["time"], i["source"] != "manual",
                                                         i["intervention_id"] or i["result_id"] or 0))


def intervention_totals(entries: Sequence[dict[str, Any]], rate: float | None, currency: str) -> dict[str, Any]:
    """Count, time spent and cost of the interventions, overall and by kind.

    Time and cost are the people's (``maintcore.interventions.totals``): the roles' automatic
    changes are counted, with no time spent and no cost of their own (``minutes`` and ``cost``
    null). ``cost`` is null without ``report.technician_rate``.
    """
    manual = [e for e in entries if e["source"] == "manual"]
    automatic = len(entries) - len(manual)
    sums = intervention_store.totals(manual, rate)
    by_kind = {k: {**b, "hours": round(b["minutes"] / 60, 2)} for k, b in sums["by_kind"].items()}
    by_kind["automatic"] = {"count": automatic, "minutes": None, "cost": None, "hours": None}
    return {
        "count": len(entries), "manual": len(manual), "automatic": automatic,
        "minutes": sums["minutes"], "hours": round(sums["minutes"] / 60, 2), "cost": sums["cost"],
        "without_minutes": sum(1 for e in manual if e["minutes"] is None),
        "rate": rate, "currency": currency, "by_kind": by_kind,
    }


def fix_minutes(manual: Sequence[dict[str, Any]], alert_keys: dict[int, tuple[str, str]],
                result_keys: dict[int, tuple[str, str]]) -> dict[tuple[str, str], dict[int, int]]:
    """The real minutes people spent per ``(host, check)``: ``{(host, check): {intervention id: minutes}}``.

    An intervention counts for the host and check of the alert it answered and of the result it
    acted on; one without minutes does not count.
    """
    out: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for e in manual:
        if e["minutes"] is None:
            continue
        for key in {alert_keys.get(e["alert_id"]), result_keys.get(e["result_id"])}:
            if key is not None:
                out[key][e["intervention_id"]] = e["minutes"]
    return dict(out)


def keep_intervention_evidence(entries: Sequence[dict[str, Any]], known: set[int]) -> None:
    """Drop the links to results the appendix does not hold (another client's, or forgotten)."""
    for e in entries:
        e["evidence"] = [i for i in e["evidence"] if i in known]


# -- per-area sections -------------------------------------------------------------------------
def area_sections(latest: dict[tuple[str, str, str], Row], rows_by_check: dict[str, list[Row]],
                  findings: Sequence[dict[str, Any]], hosts_total: int) -> list[dict[str, Any]]:
    """Return one section per area that has results.

    Each holds the counts of the latest status of each check, its open and resolved
    findings, and the area's own view (disks at risk, coverage, restore tests...).
    """
    area_rows: dict[str, list[Row]] = defaultdict(list)
    for row in latest.values():
        area_rows[row[AREA]].append(row)
    open_by_area: dict[str, int] = defaultdict(int)
    resolved_by_area: dict[str, int] = defaultdict(int)
    for f in findings:
        (resolved_by_area if f["resolved"] else open_by_area)[f["area"]] += 1
    out = []
    for area in SECTION_AREAS:
        rows = area_rows.get(area)
        if not rows:
            continue
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for row in rows:
            counts[(row[CHECK], row[STATUS])] += 1
        checks: dict[str, dict[str, int]] = {}
        for (check, status), n in counts.items():
            checks.setdefault(check, dict.fromkeys(STATUS_RANK, 0))[status] = n
        hosts = {row[HOST] for row in rows}
        section: dict[str, Any] = {
            "area": area,
            "hosts": len(hosts),
            "checks": [{"check": c, **n} for c, n in sorted(checks.items())],
            "open_findings": open_by_area[area],
            "resolved_findings": resolved_by_area[area],
        }
        section.update(_AREA_VIEWS[area](rows, rows_by_check, hosts, hosts_total))
        out.append(section)
    return out


def _brief(row: Row, **extra: Any) -> dict[str, Any]:
    return {"id": row[ID], "host": row[HOST], "check": row[CHECK], "item": row[ITEM],
            "status": row[STATUS], "summary": row[SUMMARY], "message": message_of(_at(row, MESSAGE)),
            "time": row[FINISHED], **extra}


def _at(row: Row, col: int) -> Any:
    """A column rows made before it existed (14 columns, no message) lack."""
    return row[col] if len(row) > col else None


def _hardware_view(latest: list[Row], _by_check: dict[str, list[Row]],
                   _hosts: set[str], _total: int) -> dict[str, Any]:
    risky = [
        _brief(r) for r in latest
        if (r[CHECK] in ("hardware.smart", "hardware.raid") and r[STATUS] in FINDING_STATUSES)
        or (r[CHECK] == "hardware.disk_free" and r[STATUS] == "critical")
    ]
    unread = sorted({r[HOST] for r in latest if r[CHECK] == "hardware.smart" and r[STATUS] == "unknown"})
    return {"disks_at_risk": sorted(risky, key=lambda b: (b["host"], b["item"])), "smart_unread_hosts": unread}


def _worst_by_host(rows: list[Row]) -> dict[str, str]:
    """Worst latest status per host, skipped results left out (nothing was checked)."""
    worst: dict[str, str] = {}
    for row in rows:
        status = row[STATUS]
        if status != "skipped" and STATUS_RANK[status] >= STATUS_RANK.get(worst.get(row[HOST], "ok"), 0):
            worst[row[HOST]] = status
    return worst


def _patch_view(latest: list[Row], _by_check: dict[str, list[Row]],
                hosts: set[str], _total: int) -> dict[str, Any]:
    pending = []
    for row in latest:
        if row[CHECK] == "patch.pending_security" and row[STATUS] != "ok":
            obs = _observed(row)
            pending.append(_brief(row, count=_number(obs, ("count", "pending")),
                                  oldest_days=_number(obs, ("oldest_age_days", "oldest_days", "age_days"))))
    worst = _worst_by_host(latest)
    patched = sorted(h for h in hosts if worst.get(h) == "ok")
    return {"hosts_fully_patched": len(patched), "hosts_checked": len(hosts),
            "fully_patched_hosts": patched, "pending_security": pending}


def _antivirus_view(latest: list[Row], _by_check: dict[str, list[Row]],
                    hosts: set[str], total: int) -> dict[str, Any]:
    worst = _worst_by_host(latest)
    protected = sorted(h for h in hosts if worst.get(h) == "ok")
    return {"hosts_protected": len(protected), "hosts_total": total,
            "coverage": round(100.0 * len(protected) / total, 1) if total else None,
            "protected_hosts": protected}


def _backup_view(_latest: list[Row], by_check: dict[str, list[Row]],
                 _hosts: set[str], _total: int) -> dict[str, Any]:
    tests = []
    for row in by_check.get("backup.restore_sample", []):
        obs = _observed(row)
        tests.append(_brief(
            row,
            files=_number(obs, ("files_restored", "files_sampled", "restored")),
            checksums_verified=_number(obs, ("checksum_verified", "sha256_verified", "checksums_verified")),
            restore_seconds=_number(obs, ("restore_seconds", "duration_s", "seconds")),
        ))
    return {"restore_tests": tests}


_AREA_VIEWS: dict[str, Callable[[list[Row], dict[str, list[Row]], set[str], int],
                                dict[str, Any]]] = {
    "hardware": _hardware_view, "patch": _patch_view, "antivirus": _antivirus_view, "backup": _backup_view,
}


# -- trends ----------------------------------------------------------------------------------
def disk_free_series(rows: Iterable[Sequence[Any]], max_hosts: int = 8) -> list[dict[str, Any]]:
    """Per host, the lowest free space (%) over its mounts at each run, for the hosts lowest now.

    ``rows`` are ``(id, run_id, host, item, status, observed, finished)`` of hardware.disk_free.
    """
    per_host: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for rid, run_id, host, item, _status, observed, finished in rows:
        try:
            obs = json.loads(observed) if isinstance(observed, str) else observed
        except ValueError:
            continue
        value = _number(obs if isinstance(obs, dict) else {}, DISK_FREE_KEYS)
        if value is None or not isinstance(finished, str) or not ISO_UTC.fullmatch(finished):
            continue
        host, item = str(host), str(item)
        point = per_host[host].get(run_id)
        if point is None or value < point[1]:
            per_host[host][run_id] = [finished, value, rid, item]
    series: list[dict[str, Any]] = []
    for host, points in per_host.items():
        pts = sorted(points.values())
        series.append({"host": host, "points": [
            {"time": t, "free_pct": round(v, 1), "id": rid, "item": item} for t, v, rid, item in pts
        ]})
    series.sort(key=lambda s: (s["points"][-1]["free_pct"], s["host"]))
    return series[:max_hosts]


# -- recommendations ---------------------------------------------------------------------------
def recommendations(findings: Sequence[dict[str, Any]], latest: dict[tuple[str, str, str], Row],
                    settings: dict[str, Any], text: Callable[..., str],
                    spent: dict[tuple[str, str], dict[int, int]] | None = None) -> list[dict[str, Any]]:
    """Prioritised recommendations from what is still open at the end of the period.

    One per check and status: open warning/critical findings, and values that could not be
    read (latest status unknown). Ordered by SLA severity, then status, then hosts affected.
    ``text(key, **params)`` returns a localised sentence from the catalogue. ``spent`` is
    :func:`fix_minutes`' answer: when people's interventions of the period on the same host and
    check recorded their time, the planned fix is estimated at their mean real minutes.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for f in findings:
        if f["resolved"]:
            continue
        g = groups.setdefault((f["check"], f["status"]), _group(f["check"], f["area"], f["status"]))
        g["hosts"].add(f["host"])
        g["evidence"].append(f["evidence"][-1])
        g["severity"] = _worse_severity(g["severity"], f["severity"])
        if not g["remediation"] and f["remediation"]:
            g["remediation"], g["message"] = f["remediation"], f["message"]
        g["count"] += 1
    for (host, check, _item), row in latest.items():
        if row[STATUS] != "unknown" or check == "run.task_failed":
            continue
        g = groups.setdefault((check, "unknown"), _group(check, bucket_of(check, row[AREA]), "unknown"))
        g["hosts"].add(host)
        g["evidence"].append(row[ID])
        g["severity"] = _worse_severity(g["severity"], row[SEV])
        if not g["remediation"] and row[REMEDIATION]:
            g["remediation"], g["message"] = row[REMEDIATION], message_of(_at(row, MESSAGE))
        g["count"] += 1
    recs = sorted(groups.values(), key=lambda g: (SEVERITY_RANK.get(g["severity"], 4),
                                                  -STATUS_RANK[g["status"]], -len(g["hosts"]), g["check"]))
    out = []
    for rank, g in enumerate(recs, 1):
        hosts = sorted(g["hosts"])
        real: dict[int, int] = {}
        for host in hosts:
            real.update((spent or {}).get((host, g["check"]), {}))
        params = {"check": _check_label(text, g["check"]), "count": g["count"], "hosts": len(hosts),
                  "host_list": ", ".join(hosts[:5]) + (" ..." if len(hosts) > 5 else "")}
        out.append({
            "rank": rank, "check": g["check"], "area": g["area"], "status": g["status"],
            "severity": g["severity"], "hosts": hosts[:50], "host_count": len(hosts), "count": g["count"],
            "title": text(f"rec.{g['status']}", **params),
            "action": human_remediation(g, getattr(text, "locale", "en")) or text("rec.no_remediation"),
            "evidence": sorted(g["evidence"])[:20],
            "cost": estimate_cost(g["check"], g["status"], len(hosts), settings, text, real),
        })
    return out


def _check_label(text: Callable[..., str], check: str) -> str:
    """The check's label in the report's locale (its id when the catalogue has none, e.g. a made-up test id)."""
    try:
        return text(f"check.{check}")
    except KeyError:
        return check


def _group(check: str, area: str, status: str) -> dict[str, Any]:
    return {"check": check, "area": area, "status": status, "hosts": set(), "evidence": [],
            "severity": None, "remediation": "", "message": None, "count": 0}


# -- appendix --------------------------------------------------------------------------------
APPENDIX_KEYS = ("id", "run_id", "check", "item", "status", "severity", "summary", "observed", "threshold",
                 "remediation", "changed", "time")


class Appendix:
    """Every result of the period, grouped by host (hosts sorted, results oldest first).

    The rows stay the store's lean tuples (``observed`` and ``threshold`` as the stored
    JSON text) so that a report of 300,000 results fits in memory; each host's results
    become JSON objects only when written or validated (:meth:`host_objects`).
    """

    def __init__(self, rows: Iterable[Row]) -> None:
        by_host: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            by_host[row[HOST]].append(row)
        self.hosts = sorted(by_host)
        self.by_host = by_host
        self.count = sum(len(v) for v in by_host.values())

    def groups(self) -> Iterable[tuple[str, list[Row]]]:
        """Yield ``(host, rows)`` in host order."""
        for host in self.hosts:
            yield host, self.by_host[host]

    def host_objects(self, host: str, parse: bool = True) -> dict[str, Any]:
        """Return one host's group as it appears in the JSON document.

        With ``parse=False`` (validation of large reports), ``observed`` and ``threshold``
        are only checked to be stored JSON objects and stand as ``{}``.
        """
        return {"host": host, "results": [row_object(r, parse) for r in self.by_host[host]]}


def row_object(r: Row, parse: bool = True) -> dict[str, Any]:
    """Return one appendix result as a JSON object (``observed``/``threshold`` parsed)."""
    return {
        "id": r[ID], "run_id": r[RUN], "check": r[CHECK], "item": r[ITEM], "status": r[STATUS],
        "severity": r[SEV], "summary": r[SUMMARY], "observed": _json(r[OBSERVED], parse),
        "threshold": _json(r[THRESHOLD], parse), "remediation": r[REMEDIATION], "changed": bool(r[CHANGED]),
        "time": r[FINISHED],
    }


def _json(value: Any, parse: bool = True) -> Any:
    if not isinstance(value, str):
        return value
    if parse:
        return json.loads(value)
    # the store writes json.dumps(dict): an object's text; anything else fails validation
    return {} if value.startswith("{") and value.endswith("}") else value


def status_totals(latest: dict[tuple[str, str, str], Row]) -> dict[str, int]:
    """Count the latest status of every host/check/item."""
    totals = {s: 0 for s in STATUS_RANK}
    for row in latest.values():
        totals[row[STATUS]] += 1
    return totals


# -- rows from the store ---------------------------------------------------------------------
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
_TEXT_COLS = (HOST, CHECK, AREA, ITEM, SUMMARY, REMEDIATION)


def _json_object_text(value: Any) -> str:
    """Return stored ``observed``/``threshold`` as a JSON object's text, without NaN or Infinity.

    The store writes ``json.dumps(dict)``, which lets NaN and Infinity through (not JSON);
    anything else that is not an object's text is kept as ``{"unparsed": text}``.
    """
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") \
            and "NaN" not in value and "Infinity" not in value:
        return value
    try:
        parsed = json.loads(value, parse_constant=lambda _c: None) if isinstance(value, str) else value
    except ValueError:
        parsed = {"unparsed": str(value)[:500]}
    if not isinstance(parsed, dict):
        parsed = {"unparsed": parsed if isinstance(parsed, str) else json.dumps(parsed)[:500]}
    return json.dumps(parsed, sort_keys=True, ensure_ascii=False)


def clean_row(r: Row, fallback_time: str) -> tuple[Any, ...]:
    """Return a store row that the report can trust the shape of.

    A status outside the five is ``unknown`` (nobody can tell what it meant), a severity
    outside P1-P4 is none, texts are text, ``observed``/``threshold`` are JSON objects'
    text without NaN, ``changed`` is 0 or 1 and a time that is not ISO UTC is ``fallback_time``.
    """
    row = list(r)
    for col in _TEXT_COLS:
        if not isinstance(row[col], str):
            row[col] = "" if row[col] is None else str(row[col])
    if not isinstance(row[RUN], str):
        row[RUN] = str(row[RUN])
    if row[STATUS] not in STATUSES:
        row[STATUS] = "unknown"
    if row[SEV] not in SEVERITIES:
        row[SEV] = None
    row[OBSERVED] = _json_object_text(row[OBSERVED])
    row[THRESHOLD] = _json_object_text(row[THRESHOLD])
    row[CHANGED] = 1 if row[CHANGED] and row[CHANGED] not in ("0", "false", "False") else 0
    if not (isinstance(row[FINISHED], str) and ISO_UTC.fullmatch(row[FINISHED])):
        row[FINISHED] = fallback_time
    if len(row) > MESSAGE and not (isinstance(row[MESSAGE], str) and message_of(row[MESSAGE]) is not None):
        row[MESSAGE] = None
    return tuple(row)


def is_clean(r: Row) -> bool:
    """True when :func:`clean_row` would return the row unchanged (the fast path)."""
    _id, run, host, check, area, item, status, sev, summary, obs, thr, fix, changed, finished = r[:14]
    if len(r) > MESSAGE and r[MESSAGE] is not None and not (isinstance(r[MESSAGE], str) and r[MESSAGE][:1] == "{"):
        return False
    if {type(run), type(host), type(check), type(area), type(item), type(summary), type(obs), type(thr),
            type(fix), type(finished)} != _STR_ONLY:
        return False
    return (status in STATUSES and (sev is None or sev in SEVERITIES) and (changed == 0 or changed == 1)
            and obs[:1] == "{" and obs[-1:] == "}" and thr[:1] == "{" and thr[-1:] == "}"
            and "NaN" not in obs and "Infinity" not in obs and "NaN" not in thr and "Infinity" not in thr
            and ISO_UTC.fullmatch(finished) is not None)


_STR_ONLY = {str}
