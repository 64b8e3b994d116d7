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
import math
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


class PolicyError(ValueError):
    """A policy section that decide code cannot apply (the one error every area raises)."""


class Check(object):
    """One entry of the catalogue of checks (see ``checks.py``): everything about one check id.

    ``policy`` maps each policy key the check reads to its default: the one place a
    threshold is stated (the schemas' and argument_specs' defaults are tested against it).
    ``decide`` is ``"<module_utils file>:<function>"``; ``unit_test`` and ``lab_test`` are
    pytest node ids (``lab_test`` may say why there is none, e.g. "Windows only: recorded data").
    """

    __slots__ = ("id", "measures", "policy", "statuses", "decide", "remediation", "unit_test", "lab_test")

    def __init__(self, id, measures, decide, remediation, unit_test, lab_test, policy=None,  # noqa: A002
                 statuses=("ok", "warning", "critical", "unknown")):
        if not CHECK_ID_RE.match(id):
            raise ResultError("check id %r is not a dotted lower-case id" % (id,))
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown:
            raise ResultError("check %s: statuses %s are not in %s" % (id, unknown, STATUSES))
        self.id = id
        self.measures = measures
        self.policy = dict(policy or {})
        self.statuses = tuple(statuses)
        self.decide = decide
        self.remediation = remediation
        self.unit_test = unit_test
        self.lab_test = lab_test

    def fix(self, **params):
        """Return the remediation as a ``Msg`` (the template written ``N_("... %(item)s ...")``)."""
        return Msg(self.remediation, params)

    @property
    def area(self):
        """The area, the first part of the id (``hardware`` for ``hardware.disk_free``)."""
        return self.id.split(".", 1)[0]

    def __repr__(self):
        return "Check(%r)" % self.id


def policy_defaults(checks):
    """Return the policy keys and defaults of ``checks`` merged into one dict."""
    out = {}
    for check in checks:
        out.update(check.policy)
    return out


def with_defaults(defaults, section):
    """Return ``defaults`` updated with the keys of the policy ``section`` that are set (not None)."""
    if section is not None and not isinstance(section, dict):
        raise PolicyError("the policy section must be a mapping, not %s" % type(section).__name__)
    merged = dict(defaults)
    merged.update({key: value for key, value in (section or {}).items() if value is not None})
    return merged


def utcnow_iso():
    """Return the current UTC time as an ISO 8601 string with a Z suffix."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def N_(template):  # noqa: N802 - the gettext marker name (make i18n: -k N_)
    """Mark an English message template for extraction into the report's catalogue; return it unchanged."""
    return template


PARAM_RE = re.compile(r"%\((\w+)\)s")


class Msg(object):
    """A result's message: an English template with ``%(name)s`` placeholders and its raw parameters.

    ``M_(template, **params)`` builds one (and marks the template for ``make i18n``). ``make_result``
    takes it as the summary: ``summary`` is its English rendering, ``message`` keeps ``{"id": template,
    "params": params}`` so that the report renders it in its own locale, with numbers formatted there.
    Parameters are raw values (numbers stay numbers, rounded where the English text rounds them), or a
    list of ``Msg`` (the parts of a sentence, such as each problem a disk shows): rendered each in turn
    and joined with ``"; "``, in English here and in the report's locale there.
    """

    __slots__ = ("id", "params")

    def __init__(self, template, params):
        if not isinstance(template, str) or not template.strip():
            raise ResultError("a message template must be a non-empty string")
        names = set(PARAM_RE.findall(template))
        if names != set(params):
            raise ResultError("message %r: parameters %s given, %s used" % (template, sorted(params), sorted(names)))
        if "%" in PARAM_RE.sub("", template).replace("%%", ""):
            raise ResultError("message %r: only %%(name)s placeholders (and %%%%)" % template)
        for name, value in params.items():
            if isinstance(value, list) and not all(isinstance(part, Msg) for part in value):
                raise ResultError("message %r: parameter %s is a list of other things than messages" % (template, name))
        self.id = template
        self.params = dict(params)

    def english(self):
        """Return the English text (the result's summary)."""
        return self.id % dict((name, "; ".join(part.english() for part in value) if isinstance(value, list)
                               else value) for name, value in self.params.items())

    def as_dict(self):
        """Return the ``message`` field of a result."""
        return {"id": self.id, "params": dict((name, [part.as_dict() for part in value]
                                               if isinstance(value, list) else value)
                                              for name, value in self.params.items())}

    def __repr__(self):
        return "Msg(%r)" % self.english()


def M_(template, **params):  # noqa: N802 - the gettext marker name (make i18n: -k M_)
    """Return the ``Msg`` of an English template and its raw parameters (the template is extracted)."""
    return Msg(template, params)


def make_result(check, item, status, summary, observed=None, threshold=None,
                remediation="", changed=False, started=None, finished=None):
    """Return one check result as a plain dict.

    ``status`` must be one of ``STATUSES``. ``observed`` holds only values that
    were really measured; a value nobody read must give ``unknown``. ``summary`` is
    an English sentence, or a ``Msg`` (``M_(template, **params)``): then the result also
    carries ``message`` and its summary is the message's English rendering. ``remediation`` may be
    a ``Msg`` too (with a ``Msg`` summary): ``remediation`` is then its English rendering and the
    message keeps it as ``message["remediation"]`` (``{"id", "params"}``) for the report to render.
    """
    if not isinstance(check, str) or not CHECK_ID_RE.match(check):
        raise ResultError("check id %r is not a dotted lower-case id" % (check,))
    if status not in STATUSES:
        raise ResultError("status %r for %s is not one of %s" % (status, check, ", ".join(STATUSES)))
    message = None
    if isinstance(summary, Msg):
        message, summary = summary.as_dict(), summary.english()
    if isinstance(remediation, Msg):
        if message is None:
            raise ResultError("remediation of %s is a message but its summary is not" % check)
        message["remediation"], remediation = remediation.as_dict(), remediation.english()
    if not isinstance(summary, str) or not summary.strip():
        raise ResultError("summary for %s must be a non-empty string" % check)
    summary = " ".join(summary.split())
    finished = finished or utcnow_iso()
    result = {
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
    if message is not None:
        result["message"] = message
    return result


def worst(statuses, default="unknown"):
    """Return the worst of ``statuses`` by ``STATUS_RANK`` (``default`` if empty)."""
    statuses = [s for s in statuses if s in STATUS_RANK]
    if not statuses:
        return default
    return max(statuses, key=lambda s: STATUS_RANK[s])


def number(value, allow_inf=False):
    """Return ``value`` as a finite float, or None when it is not a readable number.

    Tool output arrives as JSON, text or PowerShell objects: a count may come as
    ``12``, ``12.0`` or ``"12"``. Rejected (None): bool, None, NaN, infinity (unless
    ``allow_inf``, for "never" ages), and anything else, such as ``"abc"``, lists or
    dicts. NaN never compares true, so a NaN that reached a ``value < crit`` test
    would grade ``ok``: callers grade only what this returns.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    elif isinstance(value, int):
        try:
            value = float(value)
        except OverflowError:
            return None
    elif not isinstance(value, float):
        return None
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        return None
    return value


# unreadable_result's messages, by (item given, value shown, error shown).
_UNREADABLE = {
    (True, True, False): N_("%(item)s: %(what)s unreadable (got %(got)s)"),
    (True, False, True): N_("%(item)s: %(what)s unreadable (%(error)s)"),
    (True, True, True): N_("%(item)s: %(what)s unreadable (got %(got)s) (%(error)s)"),
    (False, True, False): N_("%(what)s unreadable (got %(got)s)"),
    (False, False, True): N_("%(what)s unreadable (%(error)s)"),
    (False, True, True): N_("%(what)s unreadable (got %(got)s) (%(error)s)"),
}


def unreadable_result(check, item, what, value=None, error=None, observed=None, remediation=""):
    """Return one ``unknown`` result for a value of tool output that could not be read.

    ``what`` names the value (``"size of /srv"``), ``value`` is what was found (shown
    shortened), ``error`` an exception caught while deciding. Such a result is never
    ``ok``: nobody read the value.
    """
    params = {"what": what}
    if value is not None or error is None:
        params["got"] = _short(value)
    if error is not None:
        params["error"] = "%s: %s" % (type(error).__name__, _short(str(error), 100))
    if item:
        params["item"] = item
    summary = Msg(_UNREADABLE[(bool(item), "got" in params, "error" in params)], params)
    observed = dict(observed or {})
    observed.setdefault("error", "unreadable")
    return make_result(check, item, "unknown", summary, observed=observed,
                       remediation=remediation or M_("Run the tool by hand on the host and check its output; "
                                                     "report the output if it looks right."))


def _short(value, limit=60):
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# Errors that odd input data (a string for a number, a list for a dict, None) raises
# in decide code; what ``guarded`` turns into one unknown result.
DATA_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, ZeroDivisionError, OverflowError)


def guarded(check, item, func, *args, **kwargs):
    """Call ``func(*args, **kwargs)`` (returning a result or a list of them) and return a list.

    When the input data makes it raise (``DATA_ERRORS``), return one ``unknown`` result for
    ``check``/``item`` instead, so that one odd value costs one result, not every result of
    the host.
    """
    try:
        out = func(*args, **kwargs)
    except DATA_ERRORS as exc:
        return [unreadable_result(check, item, "collected facts for %s" % check, error=exc)]
    return list(out) if isinstance(out, list) else [out]


def grade_low(value, warn, crit):
    """Grade a value where low is bad (free space %): ok, warning or critical.

    ``None``, NaN and anything that is not a number give ``unknown``: a value nobody
    read is never ``ok``.
    """
    value = number(value, allow_inf=True)
    if value is None:
        return "unknown"
    if crit is not None and value <= crit:
        return "critical"
    if warn is not None and value <= warn:
        return "warning"
    return "ok"


def grade_high(value, warn, crit):
    """Grade a value where high is bad (age, temperature, load).

    Infinity (an age of "never") is critical; None, NaN and non-numbers are ``unknown``.
    """
    value = number(value, allow_inf=True)
    if value is None:
        return "unknown"
    if crit is not None and value >= crit:
        return "critical"
    if warn is not None and value >= warn:
        return "warning"
    return "ok"
