"""The first page in plain language, and the month-over-month series: pure functions.

Data in (the report document's sections, the trends' months), sentences out: every sentence
is a catalogue key with its parameters (``text(key, **params)``, :class:`maintreport.i18n.Text`),
chosen from the data here and rendered in the report's locale, never English built in code.
What was not measured is said as not measured, never as good news. Nothing here reads the
store, the clock or a file (reports/README.md, "The first page").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from babel.dates import format_date

from maint_utils.maint_result import STATUS_RANK

Say = Callable[..., str]
# The risks of the first page: the worst first (critical, then warning, then what could not be read).
RISK_STATUSES = ("critical", "warning", "unknown")
SEVERITY_ORDER = {"P1": 0, "P2": 1, "P3": 2, "P4": 3}
FIRST_PAGE_RISKS = 3
HOSTS_NAMED = 3  # hosts named in a risk's sentence; the rest are counted


def month_label(period: str, locale: str, short: bool = False) -> str:
    """``2026-10`` as the locale says a month: "October 2026", "octobre 2026" (``short``: "Oct 2026", "oct. 2026")."""
    year, month = (int(p) for p in period.split("-"))
    label: str = format_date(dt.date(year, month, 1), "LLL yyyy" if short else "LLLL yyyy", locale=locale)
    return label


def _locale(text: Say) -> str:
    return str(getattr(text, "locale", "en"))


def sentence(text: Say, key: str, **params: Any) -> dict[str, Any]:
    """One sentence of the first page: its catalogue key, its parameters and its text in the locale."""
    return {"key": key, "params": params, "text": text(key, **params)}


# -- the three sentences -------------------------------------------------------------------------
def availability_sentence(availability: dict[str, Any], text: Say) -> dict[str, Any]:
    """How available the machines were; "not measured" without probe data, never 100 %."""
    hosts = int(availability["hosts_total"])
    measured = int(availability["hosts_measured"])
    rate, target = availability["rate"], availability["target"]
    if rate is None or not measured:
        return sentence(text, "fp.avail_unknown")
    params = {"rate": float(rate), "target": float(target)}
    if measured < hosts:
        return sentence(text, "fp.avail_partial_one" if hosts - measured == 1 else "fp.avail_partial",
                        measured=measured, hosts=hosts, unmeasured=hosts - measured, **params)
    met = "met" if availability.get("meets_target") is not False else "missed"
    return sentence(text, f"fp.avail_{met}{'_one' if hosts == 1 else ''}", hosts=hosts, **params)


def alerts_sentence(sla: dict[str, Any], text: Say) -> dict[str, Any]:
    """The alerts handled and how many were within the contract's time.

    Alerts raised in scheduled downtime are not timed by the contract (nobody was called): they
    are counted apart, never as within the contract's time.
    """
    alerts = int(sla["alerts"])
    met, missed, pending = int(sla["met"]), int(sla["missed"]), int(sla["pending"])
    downtime = int(sla.get("in_downtime") or 0)
    if not alerts:
        return sentence(text, "fp.alerts_none")
    if not met + missed + pending:  # none judged: all in scheduled downtime, or no limit in the contract
        if downtime == alerts:
            return sentence(text, "fp.alerts_downtime", alerts=alerts)
        return sentence(text, "fp.alerts_unjudged_one" if alerts == 1 else "fp.alerts_unjudged", alerts=alerts)
    if met and not missed and not pending:
        if downtime:
            return sentence(text, "fp.alerts_met_dt", alerts=alerts, met=met, downtime=downtime)
        return sentence(text, "fp.alerts_met_one" if alerts == 1 else "fp.alerts_met", alerts=alerts)
    if downtime:
        return sentence(text, "fp.alerts_mixed_dt", alerts=alerts, met=met, missed=missed, pending=pending,
                        downtime=downtime)
    return sentence(text, "fp.alerts_mixed", alerts=alerts, met=met, missed=missed, pending=pending)


def hosts_phrase(hosts: Sequence[str], count: int, text: Say) -> str:
    """The first hosts by name and the rest as a count: "db01, web01 and 3 others"."""
    named = ", ".join(hosts[:HOSTS_NAMED])
    more = count - min(len(hosts), HOSTS_NAMED)
    if more <= 0:
        return named
    return text("fp.hosts_more_one" if more == 1 else "fp.hosts_more", hosts=named, more=more)


def risk_order(rec: dict[str, Any]) -> tuple[Any, ...]:
    """Worst first: status (critical, warning, unread), severity, the downtime cost avoided, hosts affected."""
    cost = rec.get("cost") or {}
    avoided = cost.get("avoided")
    return (RISK_STATUSES.index(rec["status"]) if rec["status"] in RISK_STATUSES else len(RISK_STATUSES),
            SEVERITY_ORDER.get(rec.get("severity") or "", 4),
            -(avoided if isinstance(avoided, int | float) else -1.0),
            -int(rec.get("host_count") or 0), int(rec["rank"]))


def top_risks(recommendations: Sequence[dict[str, Any]], text: Say, what: Callable[[dict[str, Any]], str],
              n: int = FIRST_PAGE_RISKS) -> list[dict[str, Any]]:
    """The ``n`` decisions or risks of the first page, worst first (:func:`risk_order`), each with its cost.

    ``what(rec)`` names the thing at risk in plain language (the check's label, not its id).
    The cost is the recommendation's estimate (:mod:`maintreport.costs`) in the client's
    currency, or said as not estimated.
    """
    out = []
    for rank, rec in enumerate(sorted(recommendations, key=risk_order)[:n], 1):
        status = rec["status"] if rec["status"] in RISK_STATUSES else "unknown"
        hosts = hosts_phrase(rec.get("hosts") or [], int(rec.get("host_count") or 0), text)
        cost = rec.get("cost")
        if cost and cost.get("late") is not None:
            cost_line = sentence(text, "fp.cost_late", early=float(round(cost["early"])),
                                 late=float(round(cost["late"])), currency=cost["currency"])
        elif cost:
            cost_line = sentence(text, "fp.cost_early", early=float(round(cost["early"])), currency=cost["currency"])
        else:
            cost_line = sentence(text, "fp.cost_unread" if status == "unknown" else "fp.cost_none")
        out.append({
            "rank": rank, "recommendation": rec["rank"], "check": rec["check"], "area": rec["area"],
            "status": status, "severity": rec.get("severity"), "hosts": list((rec.get("hosts") or [])[:HOSTS_NAMED]),
            "host_count": int(rec.get("host_count") or 0),
            "what": sentence(text, f"fp.risk_{status}", what=what(rec), hosts=hosts),
            "cost": None if not cost else {k: cost.get(k) for k in ("early", "late", "avoided", "currency")},
            "cost_text": cost_line,
        })
    return out


def risks_sentence(risks: Sequence[dict[str, Any]], total: int, left_out: Sequence[str], text: Say,
                   component: Callable[[str], str]) -> dict[str, Any]:
    """The decisions waiting for the client; without any, what could not be checked is named."""
    if not risks:
        if left_out:
            return sentence(text, "fp.risks_none_unchecked", what=", ".join(component(c) for c in left_out))
        return sentence(text, "fp.risks_none")
    first = risks[0]["what"]["text"]
    if total == 1:
        return sentence(text, "fp.risks_one", risk=first)
    return sentence(text, "fp.risks_many", count=total, risk=first)


# -- the score and its change ------------------------------------------------------------------------
def score_change(score: float | None, periods: Sequence[dict[str, Any]], month: str, text: Say) -> dict[str, Any]:
    """The month's score against the previous month's: up, down, same, or nothing to compare with.

    ``periods`` are the trends' months (oldest first, this month last). A previous month
    without a score (no data) is said so: the change is not computed against zero.
    """
    earlier = [p for p in periods if p["period"] < month]
    previous = earlier[-1] if earlier else None
    prev_score = previous["score"] if previous else None
    prev_label = month_label(previous["period"], _locale(text)) if previous else None
    out: dict[str, Any] = {"value": score, "previous": prev_score,
                           "previous_period": previous["period"] if previous else None, "change": None}
    if score is None:
        out["direction"] = "none"
        out["sentence"] = sentence(text, "fp.score_none")
        return out
    if prev_score is None:
        out["direction"] = "first"
        out["sentence"] = sentence(text, "fp.score_first", score=float(score), previous_period=prev_label or "-")
        return out
    change = round(float(score) - float(prev_score), 1)
    out["change"] = change
    out["direction"] = "up" if change > 0 else "down" if change < 0 else "same"
    out["sentence"] = sentence(text, f"fp.score_{out['direction']}", score=float(score), change=abs(change),
                               previous=float(prev_score), previous_period=prev_label)
    return out


def first_page(doc: dict[str, Any], text: Say, what: Callable[[dict[str, Any]], str],
               component: Callable[[str], str]) -> dict[str, Any]:
    """The first page of a client report: three sentences, the score and its change, three risks.

    ``doc`` holds the built sections (``availability``, ``sla``, ``recommendations``,
    ``summary``, ``trends``, ``period``); ``what`` names a recommendation's subject in plain
    language and ``component`` a score component (both from the catalogue).
    """
    recs = doc["recommendations"]
    risks = top_risks(recs, text, what)
    left_out = [c for c in doc["summary"]["left_out"]]
    return {
        "sentences": [availability_sentence(doc["availability"], text), alerts_sentence(doc["sla"], text),
                      risks_sentence(risks, len(recs), left_out, text, component)],
        "score": score_change(doc["summary"]["score"], doc["trends"]["periods"], doc["period"]["month"], text),
        "risks": risks,
        "risks_more": max(0, len(recs) - len(risks)),
    }


# -- month over month -----------------------------------------------------------------------------
def patch_compliance(host_statuses: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
    """Hosts fully patched among those checked, from ``(host, latest status)`` pairs of a month's patch results.

    A host is fully patched when every one of its latest patch results is ok (skipped left out,
    unknown is not ok). None: no patch result that month (no data, never 0 %).
    """
    worst: dict[str, str] = {}
    for host, status in host_statuses:
        if status == "skipped" or status not in STATUS_RANK:
            continue
        if STATUS_RANK[status] >= STATUS_RANK.get(worst.get(host, "ok"), 0):
            worst[host] = status
    if not worst:
        return None
    ok = sum(1 for s in worst.values() if s == "ok")
    return {"hosts": len(worst), "patched": ok, "rate": round(100.0 * ok / len(worst), 1)}


def backup_tests(status_counts: dict[str, int]) -> dict[str, Any] | None:
    """A month's restore tests: passed (ok), failed (warning, critical), not readable; None without any."""
    passed = int(status_counts.get("ok", 0))
    failed = int(status_counts.get("warning", 0)) + int(status_counts.get("critical", 0))
    unread = int(status_counts.get("unknown", 0))
    if not passed + failed + unread:
        return None
    return {"tests": passed + failed + unread, "passed": passed, "failed": failed, "unknown": unread,
            "rate": round(100.0 * passed / (passed + failed), 1) if passed + failed else None}


def month_over_month(periods: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """The series of the month-over-month charts, one value per month (oldest first), None for no data.

    ``periods`` are the trends' months, each with ``score``, ``availability_rate``, ``alerts``
    (the count, None when nothing supervised the month), ``alerts_met_rate``, ``patch`` and
    ``backup`` (:func:`patch_compliance`, :func:`backup_tests`). A month without data stays
    None, so a chart shows it as no data, never as zero.
    """
    def pick(p: dict[str, Any], key: str, sub: str | None = None) -> Any:
        value = p.get(key)
        if sub is not None:
            value = value.get(sub) if isinstance(value, dict) else None
        return value

    return {
        "months": [p["period"] for p in periods],
        "score": [pick(p, "score") for p in periods],
        "availability": [pick(p, "availability_rate") for p in periods],
        "alerts": [pick(p, "alerts_count") for p in periods],
        "alerts_met_rate": [pick(p, "alerts_met_rate") for p in periods],
        "patch_compliance": [pick(p, "patch", "rate") for p in periods],
        "backup_pass_rate": [pick(p, "backup", "rate") for p in periods],
        "backup_tests": [pick(p, "backup", "tests") for p in periods],
    }


# -- the bounded PDF ------------------------------------------------------------------------------
def not_ok(latest: Iterable[Sequence[Any]], limit: int = 30) -> dict[str, Any]:
    """The PDF's appendix of what is not ok: one row per check and status, the worst first, at most ``limit``.

    ``latest`` are the latest result rows (``maintreport.build`` columns) of every host, check
    and item; those not ok (warning, critical, unknown) are grouped by check and status. The
    rest is counted (``more_groups``, ``more_results``); every result stays in the JSON, CSV and HTML.
    """
    from .build import AREA, CHECK, HOST, STATUS

    groups: dict[tuple[str, str], list[Any]] = {}
    for row in latest:
        status = row[STATUS]
        if status in ("ok", "skipped"):
            continue
        g = groups.setdefault((row[CHECK], status), [row[CHECK], row[AREA], status, 0, set()])
        g[3] += 1
        g[4].add(row[HOST])
    ordered = sorted(groups.values(), key=lambda g: (-STATUS_RANK.get(g[2], 0), -len(g[4]), g[0]))
    shown = [{"check": c, "area": a, "status": s, "results": n, "host_count": len(h), "hosts": sorted(h)[:5]}
             for c, a, s, n, h in ordered[:limit]]
    rest = ordered[limit:]
    return {"groups": shown, "more_groups": len(rest), "more_results": sum(g[3] for g in rest),
            "total_results": sum(g[3] for g in ordered)}


def bounded(items: Sequence[Any], limit: int) -> dict[str, Any]:
    """The first ``limit`` items and how many more there are (the PDF's long lists)."""
    return {"items": list(items[:limit]), "more": max(0, len(items) - limit)}


# What the PDF shows of each long list: the ones that need attention first, the rest counted.
PRINT_LIMITS = {"hosts": 10, "timelines": 4, "alerts": 8, "findings": 8, "interventions": 10,
                "recommendations": 6, "runs": 8, "area_items": 6}
_SLA_ORDER = {"missed": 0, "pending": 1, "met": 2, "downtime": 3, "none": 4}


def print_view(doc: dict[str, Any], full: bool = False,
               limits: dict[str, int] | None = None) -> dict[str, dict[str, Any]]:
    """The lists the report shows, bounded for the PDF (``full``: every item, as the HTML shows them).

    Hosts not measured, below their target or with an outage come first; alerts late or
    pending first; open findings first; people's interventions before the automatic changes.
    Each list is ``{"items": [...], "more": n}``: ``more`` is said in the PDF with the file that
    holds every item.
    """
    lim = {**PRINT_LIMITS, **(limits or {})}
    big = 10**12

    def cut(items: Sequence[Any], key: str) -> dict[str, Any]:
        return bounded(items, big if full else lim[key])

    hosts = doc["availability"]["hosts"]
    if not full:
        hosts = sorted(hosts, key=lambda h: (bool(h["measured"] and h["meets_target"] is not False
                                                  and not h["outages"]), h["rate"] if h["rate"] is not None else -1,
                                             h["host"]))
    alerts = doc["alerts"] if full else sorted(doc["alerts"], key=lambda a: (_SLA_ORDER.get(a["sla"], 5), a["opened"]))
    findings = doc["findings"] if full else sorted(doc["findings"], key=lambda f: (f["resolved"], f["first_seen"]))
    interventions = doc["interventions"]
    if not full:
        manual = [i for i in interventions if i["source"] == "manual"]
        interventions = manual + [i for i in interventions if i["source"] != "manual"]
    timeline_hosts = cut(hosts, "timelines" if not full else "hosts")
    return {
        "hosts": cut(hosts, "hosts"), "timelines": timeline_hosts, "alerts": cut(alerts, "alerts"),
        "findings": cut(findings, "findings"), "interventions": cut(interventions, "interventions"),
        "recommendations": cut(doc["recommendations"], "recommendations"),
        "runs": cut(list(reversed(doc["runs"])) if not full else doc["runs"], "runs"),
        "areas": {sec["area"]: {k: cut(sec.get(k) or [], "area_items")
                                for k in ("disks_at_risk", "pending_security", "restore_tests")}
                  for sec in doc["areas"]},
    }
