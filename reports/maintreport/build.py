"""Pure aggregation: runs and results in, the report's JSON document out.

Nothing here reads the store, the clock or a file: :mod:`maintreport.api` does that and
hands plain data in, so every number of the report can be unit-tested. The formulas are
documented in ``reports/README.md``.

Result rows are tuples in ``maintreport.query.REPORT_COLUMNS`` order (see :data:`COL`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from maint_utils.checks import AREAS
from maint_utils.maint_clock import parse_iso, to_iso
from maint_utils.maint_result import STATUS_RANK, STATUSES

from .costs import estimate_cost

Row = Sequence[Any]
# Column positions in a result row (maintreport.query.REPORT_COLUMNS).
COL = {name: pos for pos, name in enumerate((
    "id", "run_id", "host", "check_id", "area", "item", "status", "severity", "summary",
    "observed", "threshold", "remediation", "changed", "finished",
))}
ID, RUN, HOST, CHECK, AREA, ITEM, STATUS, SEV, SUMMARY, OBSERVED, THRESHOLD, REMEDIATION, CHANGED, FINISHED = range(14)

SCORED_AREAS = (*AREAS, "reachability")
SECTION_AREAS = AREAS
# Points per status in the score: unknown is not ok (nobody read the value), skipped is left out.
POINTS = {"ok": 1.0, "warning": 0.5, "unknown": 0.5, "critical": 0.0}
FINDING_STATUSES = ("warning", "critical")
_BAD = frozenset(FINDING_STATUSES)
_DECIDED = frozenset(("ok", "warning", "critical"))  # statuses that tell whether a finding is open
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
    """Return the weighted mean of the area scores that have data (None when none has)."""
    total = sum(weights.get(a, 0.0) for a, s in scores.items() if s is not None)
    if not total:
        return None
    return round(sum(weights.get(a, 0.0) * s for a, s in scores.items() if s is not None) / total, 1)


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


def track(rows: Iterable[Row], sla_hours: dict[str, float], as_of: str,
          carried: dict[tuple[str, str, str], tuple[str, Row]] | None = None,
          ) -> tuple[list[dict[str, Any]], dict[tuple[str, str, str], Row]]:
    """Follow every host/check/item through the runs, oldest first.

    A finding opens at the first warning or critical result of a key and stays open
    while later results are warning or critical; the first later ``ok`` result resolves
    it. unknown and skipped results neither extend nor resolve it (nobody could tell).
    ``carried`` maps the keys already open before the period to ``(first_seen, last
    row before the period)``: their finding keeps that first-seen time (``carried_over``).

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
    for finding in findings:
        _sla(finding, sla_hours, as_of)
    return findings, latest


def _open_finding(row: Row, evidence: bool = True) -> dict[str, Any]:
    return {
        "host": row[HOST], "check": row[CHECK], "item": row[ITEM],
        "area": bucket_of(row[CHECK], row[AREA]), "status": row[STATUS], "severity": row[SEV],
        "summary": row[SUMMARY], "remediation": row[REMEDIATION],
        "first_seen": row[FINISHED], "last_seen": row[FINISHED], "occurrences": 1 if evidence else 0,
        "carried_over": False, "resolved": False, "resolved_at": None, "resolved_by": None,
        "evidence": [row[ID]] if evidence else [],
    }


def _extend(finding: dict[str, Any], row: Row) -> None:
    """Add a later warning/critical result: keep the first, the worst and the latest."""
    finding["occurrences"] += 1
    finding["last_seen"] = row[FINISHED]
    finding["summary"] = row[SUMMARY]
    finding["remediation"] = row[REMEDIATION] or finding["remediation"]
    if STATUS_RANK[row[STATUS]] > STATUS_RANK[finding["status"]]:
        finding["status"] = row[STATUS]
    finding["severity"] = _worse_severity(finding["severity"], row[SEV])
    evidence = finding["evidence"]
    if len(evidence) > 1:
        evidence[-1] = row[ID]
    else:
        evidence.append(row[ID])


def _sla(finding: dict[str, Any], sla_hours: dict[str, float], as_of: str) -> None:
    """Set the SLA deadline and its outcome: met, missed, pending or none."""
    hours = sla_hours.get(finding["severity"] or "")
    if hours is None:
        finding["response_hours"] = None
        finding["deadline"] = None
        finding["sla"] = "none"
        return
    deadline = to_iso(parse_iso(finding["first_seen"]) + dt.timedelta(hours=hours))
    finding["response_hours"] = hours
    finding["deadline"] = deadline
    if finding["resolved"]:
        finding["sla"] = "met" if finding["resolved_at"] <= deadline else "missed"
    else:
        finding["sla"] = "missed" if as_of > deadline else "pending"


def sla_summary(findings: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Count SLA outcomes, and the share met among those decided (met + missed)."""
    counts = {k: 0 for k in ("met", "missed", "pending", "none")}
    for f in findings:
        counts[f["sla"]] += 1
    decided = counts["met"] + counts["missed"]
    return {**counts, "met_rate": round(100.0 * counts["met"] / decided, 1) if decided else None}


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


def availability(rows: Iterable[Row]) -> dict[str, Any]:
    """Per host: share of runs in which it was reachable, last uptime and reboots seen.

    Reachability comes from ``run.reachability`` (ok: answered, critical: unreachable).
    A reboot is seen when ``hardware.uptime`` went down between two runs (the first
    evidence is the result after the reboot), or when ``patch.rebooted`` changed the host.
    """
    hosts: dict[str, dict[str, Any]] = {}

    def host(name: str) -> dict[str, Any]:
        if name not in hosts:
            hosts[name] = {"host": name, "runs": 0, "reachable": 0, "rate": None, "unreachable_ids": [],
                           "uptime_days": None, "uptime_id": None, "reboots": 0, "reboot_ids": [],
                           "last_seen": None}
        return hosts[name]

    last_uptime: dict[str, float] = {}
    for row in rows:
        check = row[CHECK]
        if check == "run.reachability":
            entry = host(row[HOST])
            entry["runs"] += 1
            if row[STATUS] == "ok":
                entry["reachable"] += 1
                entry["last_seen"] = row[FINISHED]
            else:
                entry["unreachable_ids"].append(row[ID])
        elif check == "hardware.uptime":
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
    total = reachable = 0
    for entry in hosts.values():
        if entry["runs"]:
            entry["rate"] = round(100.0 * entry["reachable"] / entry["runs"], 2)
        total += entry["runs"]
        reachable += entry["reachable"]
    return {
        "rate": round(100.0 * reachable / total, 2) if total else None,
        "checks": total, "reachable": reachable,
        "hosts": [hosts[h] for h in sorted(hosts)],
    }


def _observed(row: Row) -> dict[str, Any]:
    value = row[OBSERVED]
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else {}
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


# -- interventions ---------------------------------------------------------------------------
def interventions(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Every result with ``changed: true``: patches installed, signatures updated, reboots."""
    return [
        {"id": r[ID], "host": r[HOST], "check": r[CHECK], "item": r[ITEM], "area": r[AREA],
         "summary": r[SUMMARY], "time": r[FINISHED], "run_id": r[RUN]}
        for r in rows if r[CHANGED]
    ]


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
            "status": row[STATUS], "summary": row[SUMMARY], "time": row[FINISHED], **extra}


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
                    settings: dict[str, Any], text: Callable[..., str]) -> list[dict[str, Any]]:
    """Prioritised recommendations from what is still open at the end of the period.

    One per check and status: open warning/critical findings, and values that could not be
    read (latest status unknown). Ordered by SLA severity, then status, then hosts affected.
    ``text(key, **params)`` returns a localised sentence from the catalogue.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for f in findings:
        if f["resolved"]:
            continue
        g = groups.setdefault((f["check"], f["status"]), _group(f["check"], f["area"], f["status"]))
        g["hosts"].add(f["host"])
        g["evidence"].append(f["evidence"][-1])
        g["severity"] = _worse_severity(g["severity"], f["severity"])
        g["remediation"] = g["remediation"] or f["remediation"]
        g["count"] += 1
    for (host, check, _item), row in latest.items():
        if row[STATUS] != "unknown" or check == "run.task_failed":
            continue
        g = groups.setdefault((check, "unknown"), _group(check, bucket_of(check, row[AREA]), "unknown"))
        g["hosts"].add(host)
        g["evidence"].append(row[ID])
        g["severity"] = _worse_severity(g["severity"], row[SEV])
        g["remediation"] = g["remediation"] or row[REMEDIATION]
        g["count"] += 1
    recs = sorted(groups.values(), key=lambda g: (SEVERITY_RANK.get(g["severity"], 4),
                                                  -STATUS_RANK[g["status"]], -len(g["hosts"]), g["check"]))
    out = []
    for rank, g in enumerate(recs, 1):
        hosts = sorted(g["hosts"])
        params = {"check": g["check"], "count": g["count"], "hosts": len(hosts),
                  "host_list": ", ".join(hosts[:5]) + (" ..." if len(hosts) > 5 else "")}
        out.append({
            "rank": rank, "check": g["check"], "area": g["area"], "status": g["status"],
            "severity": g["severity"], "hosts": hosts[:50], "host_count": len(hosts), "count": g["count"],
            "title": text(f"rec.{g['status']}", **params),
            "action": g["remediation"] or text("rec.no_remediation"),
            "evidence": sorted(g["evidence"])[:20],
            "cost": estimate_cost(g["check"], g["status"], len(hosts), settings, text),
        })
    return out


def _group(check: str, area: str, status: str) -> dict[str, Any]:
    return {"check": check, "area": area, "status": status, "hosts": set(), "evidence": [],
            "severity": None, "remediation": "", "count": 0}


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
SEVERITIES = frozenset(("P1", "P2", "P3", "P4"))
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
    return tuple(row)


def is_clean(r: Row) -> bool:
    """True when :func:`clean_row` would return the row unchanged (the fast path)."""
    _id, run, host, check, area, item, status, sev, summary, obs, thr, fix, changed, finished = r
    if {type(run), type(host), type(check), type(area), type(item), type(summary), type(obs), type(thr),
            type(fix), type(finished)} != _STR_ONLY:
        return False
    return (status in STATUSES and (sev is None or sev in SEVERITIES) and (changed == 0 or changed == 1)
            and obs[:1] == "{" and obs[-1:] == "}" and thr[:1] == "{" and thr[-1:] == "}"
            and "NaN" not in obs and "Infinity" not in obs and "NaN" not in thr and "Infinity" not in thr
            and ISO_UTC.fullmatch(finished) is not None)


_STR_ONLY = {str}
