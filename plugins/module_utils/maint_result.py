# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Build check results in the one shape everything in this project speaks.

Modules, decide code and the callback use these helpers so that no producer
can drift from ``schemas/check_result.schema.json``. The collector callback
adds ``client``, ``host`` and ``run_id``; everything else is set here.

This file is pure Python with no import outside the standard library, so it
works inside an AnsiballZ payload (as ``ansible.module_utils.maint_result``)
and from the ``maint_utils`` package used by ``maintctl``.
"""

from __future__ import annotations

import datetime
import re

STATUSES = ("ok", "warning", "critical", "unknown", "skipped")
# Higher is worse; used to aggregate several statuses into one.
STATUS_RANK = {"ok": 0, "skipped": 1, "unknown": 2, "warning": 3, "critical": 4}
CHECK_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
RESULT_KEYS = (
    "client", "host", "run_id", "check", "item", "status", "summary", "observed",
    "threshold", "remediation", "changed", "started", "finished",
)


class ResultError(ValueError):
    """Raised when a producer builds a result that breaks the contract."""


def utcnow_iso():
    """Return the current UTC time as an ISO 8601 string with a Z suffix."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def make_result(check, item, status, summary, observed=None, threshold=None,
                remediation="", changed=False, started=None, finished=None):
    """Return one check result as a plain dict.

    ``status`` must be one of ``STATUSES``. ``observed`` holds only values that
    were really measured; a value nobody read must give ``unknown``.
    """
    if not isinstance(check, str) or not CHECK_ID_RE.match(check):
        raise ResultError("check id %r is not a dotted lower-case id" % (check,))
    if status not in STATUSES:
        raise ResultError("status %r for %s is not one of %s" % (status, check, ", ".join(STATUSES)))
    if not isinstance(summary, str) or not summary.strip():
        raise ResultError("summary for %s must be a non-empty string" % check)
    summary = " ".join(summary.split())
    finished = finished or utcnow_iso()
    return {
        "check": check,
        "item": "" if item is None else str(item),
        "status": status,
        "summary": summary,
        "observed": dict(observed or {}),
        "threshold": dict(threshold or {}),
        "remediation": remediation or "",
        "changed": bool(changed),
        "started": started or finished,
        "finished": finished,
    }


def worst(statuses, default="unknown"):
    """Return the worst of ``statuses`` by ``STATUS_RANK`` (``default`` if empty)."""
    statuses = [s for s in statuses if s in STATUS_RANK]
    if not statuses:
        return default
    return max(statuses, key=lambda s: STATUS_RANK[s])


def grade_low(value, warn, crit):
    """Grade a value where low is bad (free space %): ok, warning or critical.

    ``None`` gives ``unknown``: a value nobody read is never ``ok``.
    """
    if value is None:
        return "unknown"
    if crit is not None and value <= crit:
        return "critical"
    if warn is not None and value <= warn:
        return "warning"
    return "ok"


def grade_high(value, warn, crit):
    """Grade a value where high is bad (age, temperature, load)."""
    if value is None:
        return "unknown"
    if crit is not None and value >= crit:
        return "critical"
    if warn is not None and value >= warn:
        return "warning"
    return "ok"
