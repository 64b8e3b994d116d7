# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The availability probes: their catalogue (``CHECKS``) and decide code (pure Python, no I/O).

``maintcore.probes`` (the controller, asyncio, no Ansible) connects to each host's management
port and to the services of the client policy's ``supervision`` section, and hands each raw
observation to a decide function here:

- ``decide_tcp``: ``{"connected": bool, "error": str|None, "timed_out": bool, "elapsed_ms": float,
  "address": str, "port": int, ...}``;
- ``decide_http``: ``{"status_code": int|None, "error": ..., "timed_out": ..., "elapsed_ms": ...,
  "url": str, ...}``;
- ``decide_certificate`` (https only): ``{"handshake": bool, "verified": bool|None,
  "verify_error": str|None, "not_after": ISO UTC|None, "checked_at": ISO UTC, "error": ...}``.

Keys the decide code does not read (``address``, ``port``, ``url``, ``availability``...) are
carried into ``observed`` as they are. Thresholds come from the ``supervision`` section merged with
the table's defaults by ``effective_policy``; ``CHECKS`` is the one place a default is stated
(``schemas/policy/supervision.schema.json`` documents them; unit tests keep them equal).
"""

from __future__ import annotations

import datetime

try:
    from ansible.module_utils.maint_result import (
        M_,
        N_,
        Check,
        Msg,
        PolicyError,
        make_result,
        number,
        policy_defaults,
        unreadable_result,
        with_defaults,
    )
except ImportError:  # pragma: no cover - outside Ansible (maintctl, tests)
    from maint_utils.maint_result import (
        M_,
        N_,
        Check,
        Msg,
        PolicyError,
        make_result,
        number,
        policy_defaults,
        unreadable_result,
        with_defaults,
    )

_UNIT = "tests/unit/maint_utils/test_probe_decide.py::"

# The catalogue of the availability probes. ``remediation`` is the advice of a critical or warning
# finding, a message template (``CHECK.fix(target=...)``: the address:port or URL probed).
CHECKS = (
    Check(
        id="service.tcp",
        measures="A TCP connect from the controller to a host's management port (item ssh:22, winrm:5986, "
                 "psrp:5986, or the connection and its ansible_port such as ssh:2222) or to a tcp service "
                 "of the supervision policy (item: the service's name): connected, or refused, unreachable, timed out",
        policy={"probe_timeout_seconds": 5},
        statuses=("ok", "critical", "unknown"),
        decide="probe_decide:decide_tcp",
        remediation=N_("Nothing answers on %(target)s: check that the host is up and that the service listens "
                       "(ss -ltn, Get-NetTCPConnection -State Listen), and the firewalls between the controller "
                       "and the host."),
        unit_test=_UNIT + "test_tcp_connected_is_ok_and_refused_or_timed_out_is_critical",
        lab_test="tests/integration/test_supervision_lab.py::test_a_stopped_sshd_opens_one_alert_and_recovers",
    ),
    Check(
        id="service.http",
        measures="An HTTP(S) GET of a URL of the supervision policy from the controller (HTTP/1.1, status "
                 "line only): the status code is one of expect_status (default [200]); another code, a "
                 "connection or TLS failure or a timeout is critical",
        policy={"probe_timeout_seconds": 5},
        statuses=("ok", "critical", "unknown"),
        decide="probe_decide:decide_http",
        remediation=N_("%(target)s does not answer as expected: check the web service and its logs on the "
                       "host, and what sits in front of it (proxy, load balancer, firewall)."),
        unit_test=_UNIT + "test_http_status_in_expect_status_is_ok",
        lab_test="none yet: the lab has no web service (unit tests run real local servers: "
                 "tests/unit/maintcore/test_probes.py)",
    ),
    Check(
        id="service.certificate",
        measures="Days until the notAfter of the certificate an https URL of the supervision policy presents, "
                 "and whether it verifies (the system's CAs, or the service's ca_file); unknown when the "
                 "TLS handshake did not take place",
        policy={"cert_warn_days": 30, "cert_crit_days": 7},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="probe_decide:decide_certificate",
        remediation=N_("Renew the certificate of %(target)s (and install the full chain); if it is signed by "
                       "a private CA, give the service a ca_file in the supervision policy."),
        unit_test=_UNIT + "test_certificate_days_grade_at_the_boundaries",
        lab_test="none yet: the lab has no web service (unit tests run real local servers: "
                 "tests/unit/maintcore/test_probes.py)",
    ),
)
# The entries by the last part of their id: TCP.id, HTTP.remediation.
BY_NAME = {check.id.partition(".")[2]: check for check in CHECKS}
TCP, HTTP, CERTIFICATE = BY_NAME["tcp"], BY_NAME["http"], BY_NAME["certificate"]

# Every key of the supervision section the probes read, and its default: the thresholds of the
# table, and the settings of the probe run itself.
DEFAULTS = dict(policy_defaults(CHECKS), probe_concurrency=200, management_probe=True)
DEFAULT_EXPECT_STATUS = (200,)

# Raw keys the decide code reads itself; the others go to ``observed`` unchanged.
_READ_KEYS = frozenset(("item", "connected", "status_code", "handshake", "verified", "verify_error", "not_after",
                        "checked_at", "timed_out", "error"))


def effective_policy(section=None):
    """Return the probes' keys of the supervision ``section`` merged with ``DEFAULTS``.

    The section also holds the watch's and the alerts' keys: they are left alone here.

    Raises:
        PolicyError: for a section that is not a mapping, a value of the wrong type (with
            the key named), or cert_crit_days above cert_warn_days.
    """
    section = with_defaults({}, section)
    mine = dict((key, value) for key, value in section.items() if key in DEFAULTS)
    merged = with_defaults(DEFAULTS, mine)
    for key, value in mine.items():
        if key == "management_probe":
            if not isinstance(value, bool):
                raise PolicyError("maint_policy.supervision.management_probe must be true or false, got %r"
                                  % (value,))
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PolicyError("maint_policy.supervision.%s must be a number >= 0, got %r" % (key, value))
    if merged["probe_timeout_seconds"] <= 0:
        raise PolicyError("maint_policy.supervision.probe_timeout_seconds must be above 0")
    if merged["probe_concurrency"] < 1:
        raise PolicyError("maint_policy.supervision.probe_concurrency must be at least 1")
    if merged["cert_crit_days"] > merged["cert_warn_days"]:
        raise PolicyError("maint_policy.supervision.cert_crit_days (%s) must not exceed cert_warn_days (%s)"
                          % (merged["cert_crit_days"], merged["cert_warn_days"]))
    return merged


def _observed(raw):
    """The raw keys nobody grades (address, port, url, availability, elapsed_ms...), as observed."""
    out = dict((key, value) for key, value in raw.items() if key not in _READ_KEYS)
    elapsed = number(out.get("elapsed_ms"))
    if "elapsed_ms" in out:
        out["elapsed_ms"] = None if elapsed is None else round(elapsed, 1)
    return out


def _target(raw):
    if raw.get("url"):
        return str(raw["url"])
    if raw.get("address") and raw.get("port"):
        return "%s:%s" % (raw["address"], raw["port"])
    return str(raw.get("address") or "the target")


def _failure(raw, timeout):
    """One line for a connect/TLS/HTTP failure: the timeout, the error, or None when none is recorded."""
    if raw.get("timed_out") is True:
        return "no answer within %s s" % (timeout,)
    error = raw.get("error")
    if isinstance(error, str) and error.strip():
        return error.strip()
    return None


def _item(raw, item):
    return item if item else str(raw.get("item") or "")


def decide_tcp(raw, policy=None, item=""):
    """Grade one TCP connect: connected is ok; refused, unreachable or timed out is critical.

    ``raw`` is the collector's observation (see the module docstring); anything else gives unknown.
    """
    policy = effective_policy(policy)
    if not isinstance(raw, dict):
        return unreadable_result(TCP.id, item, "TCP probe observation", value=raw)
    item = _item(raw, item)
    target = _target(raw)
    observed = _observed(raw)
    threshold = {"timeout_seconds": policy["probe_timeout_seconds"]}
    connected = raw.get("connected")
    if connected is True:
        return make_result(TCP.id, item, "ok", M_("%(target)s accepts TCP connections", target=target),
                           observed=observed,
                           threshold=threshold)
    failure = _failure(raw, policy["probe_timeout_seconds"])
    if connected is False and failure:
        observed["error"] = failure
        return make_result(TCP.id, item, "critical", M_("%(target)s: TCP connect failed (%(reason)s)", target=target,
                                                                  reason=failure),
                           observed=observed, threshold=threshold,
                           remediation=TCP.fix(target=target))
    return unreadable_result(TCP.id, item, "TCP probe result", value=connected, observed=observed)


def _expect(expect_status):
    """Return ``expect_status`` as a tuple of ints, or None when it is not a list of status codes."""
    if expect_status is None:
        return DEFAULT_EXPECT_STATUS
    if isinstance(expect_status, (str, bytes, dict)) or not hasattr(expect_status, "__iter__"):
        return None
    codes = tuple(expect_status)
    if not codes or not all(isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in codes):
        return None
    return codes


def decide_http(raw, policy=None, item="", expect_status=None):
    """Grade one HTTP(S) answer: a status code in ``expect_status`` (default [200]) is ok.

    Another status code, a connection failure, a TLS failure or a timeout is critical; an
    observation with neither a status code nor a failure (or an odd ``expect_status``) is unknown.
    """
    policy = effective_policy(policy)
    if not isinstance(raw, dict):
        return unreadable_result(HTTP.id, item, "HTTP probe observation", value=raw)
    item = _item(raw, item)
    target = _target(raw)
    observed = _observed(raw)
    codes = _expect(expect_status)
    if codes is None:
        return unreadable_result(HTTP.id, item, "expect_status of the service", value=expect_status,
                                 observed=observed, remediation=M_("Give the service a list of HTTP status codes "
                                                                   "(expect_status: [200])."))
    threshold = {"expect_status": list(codes), "timeout_seconds": policy["probe_timeout_seconds"]}
    code = raw.get("status_code")
    remediation = HTTP.fix(target=target)
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 999:
        observed["status_code"] = code
        if code in codes:
            return make_result(HTTP.id, item, "ok", M_("%(target)s answered %(code)s", target=target, code=code),
                               observed=observed,
                               threshold=threshold)
        return make_result(HTTP.id, item, "critical", M_("%(target)s answered %(code)s, expected %(expected)s",
                                                              target=target, code=code,
                                                              expected=" or ".join(str(c) for c in codes)),
                           observed=observed, threshold=threshold, remediation=remediation)
    failure = _failure(raw, policy["probe_timeout_seconds"])
    if code is None and failure:
        observed.update(status_code=None, error=failure)
        return make_result(HTTP.id, item, "critical", M_("%(target)s: no HTTP answer (%(reason)s)", target=target,
                                                                   reason=failure),
                           observed=observed, threshold=threshold, remediation=remediation)
    return unreadable_result(HTTP.id, item, "HTTP status code", value=code, observed=observed)


def _parse_utc(value):
    """Parse an ISO 8601 UTC time (``Z`` allowed); None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _days(value):
    """A per-service day count (int >= 0), or None when unset; PolicyError when odd."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError("cert days must be an integer >= 0, got %r" % (value,))
    return value


# The certificate's summaries by (trusted, grade): grade as _cert_grade returns it, None without dates.
_CERT = {
    (True, "expired"): N_("%(target)s: certificate expired %(days)s days ago"),
    (True, "critical"): N_("%(target)s: certificate expires in %(days)s days (critical below %(limit)s)"),
    (True, "warning"): N_("%(target)s: certificate expires in %(days)s days (warning below %(limit)s)"),
    (True, "ok"): N_("%(target)s: certificate expires in %(days)s days"),
    (False, None): N_("%(target)s: certificate not trusted (%(reason)s)"),
    (False, "expired"): N_("%(target)s: certificate not trusted (%(reason)s), expired %(days)s days ago"),
    (False, "critical"): N_("%(target)s: certificate not trusted (%(reason)s), expires in %(days)s days "
                            "(critical below %(limit)s)"),
    (False, "warning"): N_("%(target)s: certificate not trusted (%(reason)s), expires in %(days)s days "
                           "(warning below %(limit)s)"),
    (False, "ok"): N_("%(target)s: certificate not trusted (%(reason)s), expires in %(days)s days"),
}


def _cert_grade(days_left, warn, crit):
    """Return (status, grade, params) of the days left: the grade picks the summary in ``_CERT``."""
    if days_left < 0:
        return "critical", "expired", {"days": round(-days_left, 1)}
    if days_left < crit:
        return "critical", "critical", {"days": round(days_left, 1), "limit": crit}
    if days_left < warn:
        return "warning", "warning", {"days": round(days_left, 1), "limit": warn}
    return "ok", "ok", {"days": int(round(days_left))}


def decide_certificate(raw, policy=None, item="", warn_days=None, crit_days=None):
    """Grade the certificate of one https URL: days until notAfter, and whether it is trusted.

    Expired, not trusted (verification failed) or fewer days than the critical threshold is
    critical, fewer than the warning threshold a warning. ``warn_days``/``crit_days`` (the
    service's own cert_warn_days/cert_crit_days) override the section's. Unknown when the TLS
    handshake did not take place (connection refused, timeout) or the dates cannot be read.
    """
    policy = effective_policy(policy)
    warn = _days(warn_days)
    crit = _days(crit_days)
    warn = policy["cert_warn_days"] if warn is None else warn
    crit = policy["cert_crit_days"] if crit is None else crit
    if not isinstance(raw, dict):
        return unreadable_result(CERTIFICATE.id, item, "certificate probe observation", value=raw)
    item = _item(raw, item)
    target = _target(raw)
    observed = _observed(raw)
    threshold = {"cert_warn_days": warn, "cert_crit_days": crit}
    if raw.get("handshake") is not True:
        failure = _failure(raw, policy["probe_timeout_seconds"]) or "no TLS handshake recorded"
        observed["error"] = failure
        return make_result(CERTIFICATE.id, item, "unknown", M_("%(target)s: certificate not read (%(reason)s)",
                                                               target=target, reason=failure),
                           observed=observed, threshold=threshold,
                           remediation=M_("See the website check of %(service)s: the TLS handshake did not take "
                                          "place.", service=item or target))
    verified = raw.get("verified")
    if not isinstance(verified, bool):
        return unreadable_result(CERTIFICATE.id, item, "certificate verification", value=verified,
                                 observed=observed)
    not_after, checked = _parse_utc(raw.get("not_after")), _parse_utc(raw.get("checked_at"))
    days_left = None
    if not_after is not None and checked is not None:
        days_left = (not_after - checked).total_seconds() / 86400.0
        observed.update(not_after=raw["not_after"], days_left=round(days_left, 1))
    observed["verified"] = verified
    remediation = CERTIFICATE.fix(target=target)
    if not verified:
        reason = str(raw.get("verify_error") or "verification failed").strip()
        observed["verify_error"] = reason
        grade, params = None, {}
        if days_left is not None:
            _, grade, params = _cert_grade(days_left, warn, crit)
        return make_result(CERTIFICATE.id, item, "critical", Msg(_CERT[(False, grade)], dict(params, target=target,
                                                                                             reason=reason)),
                           observed=observed, threshold=threshold, remediation=remediation)
    if days_left is None:
        return unreadable_result(CERTIFICATE.id, item, "certificate notAfter", value=raw.get("not_after"),
                                 observed=observed)
    status, grade, params = _cert_grade(days_left, warn, crit)
    return make_result(CERTIFICATE.id, item, status, Msg(_CERT[(True, grade)], dict(params, target=target)),
                       observed=observed, threshold=threshold,
                       remediation=remediation if status != "ok" else "")
