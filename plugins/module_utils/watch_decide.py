# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The health watch: its catalogue of checks (``CHECKS``) and decide code (pure Python, no I/O).

The watch (``playbooks/watch.yml``, every 5 to 15 minutes) is one module call per host:
``hardware_linux`` with ``watch: true`` (or ``win_hardware`` with ``watch: true`` and its action
plugin) returns the hardware results of ``hardware_decide``/``hardware_win`` (one check id, one
meaning, from the watch or the nightly window) plus the two checks of this file:

- ``service.systemd``: one result per critical service of the policy (item: the name as the
  policy writes it) and one aggregate result, item ``failed units``, whose item never changes so
  that its alert resolves when no unit is failed any more. Raw facts on Linux
  (``decide_systemd``): ``{"systemd": bool, "failed": [unit, ...] | None, "failed_error": str,
  "services": [{"name", "Id", "LoadState", "ActiveState", "SubState"} | {"name", "error"}]}``;
  on Windows (``decide_win_services``): ``{"services": [{"name", "found", "service_name",
  "display_name", "status", "start_type"}], "failed": [{"name", "display_name", "exit_code"}]}``.
- ``security.failed_logins``: failed logins since the last watch, grouped by source address and
  user. The module reads the journal (``journalctl -o json``) and hands the entries to
  ``journal_failures`` then ``summarize``; Windows events 4625 go through ``win_failures``. Both
  give ``{"readable": bool, "error": str, "since": ISO, "until": ISO, "count": int,
  "groups": [{"source", "user", "count"}], ...}`` to ``decide_failed_logins``.

Thresholds come from the client policy's ``supervision`` section merged with the table's defaults
by ``effective_policy``; ``CHECKS`` is the one place a default is stated
(``schemas/policy/supervision.schema.json`` documents them; unit tests keep them equal).
"""

from __future__ import annotations

import datetime
import re

try:
    from ansible.module_utils.maint_result import (
        M_,
        N_,
        Check,
        Msg,
        PolicyError,
        grade_high,
        guarded,
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
        grade_high,
        guarded,
        make_result,
        number,
        policy_defaults,
        unreadable_result,
        with_defaults,
    )

_UNIT = "tests/unit/maint_utils/test_watch_decide.py::"
_LAB = "tests/integration/test_watch_lab.py::"

# The catalogue of the health watch's own checks. ``remediation`` is the advice of a warning or
# critical finding (a message template: ``CHECK.fix(item=...)``).
CHECKS = (
    Check(
        id="service.systemd",
        measures="The policy's critical_services (systemd units on Linux, resolved through systemctl so that "
                 "aliases such as sshd work; Windows services by name or display name), one result each: "
                 "active/running, or not; and one aggregate result, item 'failed units': the units systemd "
                 "lists as failed (Linux) or the automatic services stopped with a non-zero exit code (Windows)",
        policy={"critical_services": []},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="watch_decide:decide_systemd",
        remediation=N_("See why %(item)s stopped (systemctl status %(item)s; journalctl -u %(item)s -b; on "
                       "Windows the System event log), fix the cause and start it again; clear an old failure "
                       "with systemctl reset-failed."),
        unit_test=_UNIT + "test_systemd_failed_units_and_critical_services",
        lab_test=_LAB + "test_a_failed_unit_warns_and_resolves",
    ),
    Check(
        id="security.failed_logins",
        measures="Failed logins since the last watch: sshd's journal lines (Failed password/publickey, Invalid "
                 "user, connection closed by an authenticating or invalid user, maximum authentication "
                 "attempts; one per attempt) and PAM authentication failures of other services on Linux, "
                 "Security events 4625 on Windows; grouped by source address and user",
        policy={"failed_logins_warn": 10, "failed_logins_crit": 50},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="watch_decide:decide_failed_logins",
        remediation=N_("Find who tries to log in from %(item)s: block the source at the firewall (or "
                       "fail2ban), check that password logins are off where keys are used, and that the accounts"
                       " tried exist only where they must."),
        unit_test=_UNIT + "test_failed_logins_on_recorded_journal",
        lab_test=_LAB + "test_a_burst_of_failed_logins_warns",
    ),
)
# The entries by the last part of their id, for the decide code: SYSTEMD.id, FAILED_LOGINS.remediation.
BY_NAME = {check.id.partition(".")[2]: check for check in CHECKS}
SYSTEMD, FAILED_LOGINS = BY_NAME["systemd"], BY_NAME["failed_logins"]

# Every key of the supervision section the watch reads, and its default.
DEFAULTS = policy_defaults(CHECKS)
# The aggregate result's item: stable, so that its alert resolves when no unit is failed any more.
FAILED_UNITS_ITEM = "failed units"
# The schema's pattern of a critical service's name.
SERVICE_NAME_RE = re.compile(r"^[A-Za-z0-9@_.:-]+$")
# Groups of failed logins kept in observed (the top ones by count), and in the raw facts.
TOP_GROUPS = 5
MAX_GROUPS = 200
# A service whose ActiveState is one of these runs (reloading: running and re-reading its configuration).
ACTIVE_STATES = ("active", "reloading")
# System.ServiceProcess.ServiceControllerStatus, as Get-Service returns it (numbers).
WIN_SERVICE_STATUS = {1: "Stopped", 2: "StartPending", 3: "StopPending", 4: "Running", 5: "ContinuePending",
                      6: "PausePending", 7: "Paused"}
WIN_RUNNING = 4
# sshd's programs: sshd, and sshd-session for each connection from OpenSSH 9.8 on.
SSHD_IDENTIFIERS = ("sshd", "sshd-session")

# sshd's lines of a failed login (OpenSSH auth.c, auth2.c, sshd.c, packet.c). Each carries the
# source address and port, which name the connection: one connection with failures counts as
# max(1, its "Failed <method>" lines), so that the "Invalid user" and "Connection closed" lines of
# one attempt do not count twice.
_ADDR = r"(?P<ip>[0-9A-Fa-f:.]+|UNKNOWN) port (?P<port>\d+)"
SSHD_FAILED_RE = re.compile(r"^Failed (?P<method>\S+) for (?:invalid user )?(?P<user>.*?) from " + _ADDR)
SSHD_INDICATOR_RES = (
    re.compile(r"^Invalid user (?P<user>.*?) from " + _ADDR),
    re.compile(r"^(?:Connection closed|Disconnected) by (?:authenticating|invalid) user (?P<user>.*?) ?" + _ADDR),
    re.compile(r"maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.*?) from " + _ADDR),
    re.compile(r"^Disconnecting (?:authenticating|invalid) user (?P<user>.*?) " + _ADDR
               + r": Too many authentication failures"),
)
# pam_unix's line of a failed authentication (modules/pam_unix/support.c):
# "pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=root"
PAM_FAILURE_RE = re.compile(r"pam_unix\((?P<service>[^:)]+):auth\): authentication failure;(?P<fields>.*)$")
PAM_FIELD_RE = re.compile(r"(\w+)=(\S*)")


def effective_policy(section=None):
    """Return the watch's keys of the supervision ``section`` merged with ``DEFAULTS``.

    The section also holds the probes' and the alerts' keys: they are left alone here.

    Raises:
        PolicyError: for a section that is not a mapping, a value of the wrong type (with the
            key named), or failed_logins_crit below failed_logins_warn.
    """
    section = with_defaults({}, section)
    mine = dict((key, value) for key, value in section.items() if key in DEFAULTS)
    merged = with_defaults(DEFAULTS, mine)
    for key, value in mine.items():
        if key == "critical_services":
            if not isinstance(value, list) or not all(isinstance(v, str) and SERVICE_NAME_RE.match(v)
                                                      for v in value):
                raise PolicyError("maint_policy.supervision.critical_services must be a list of unit or "
                                  "service names (letters, digits, @_.:-), got %r" % (value,))
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PolicyError("maint_policy.supervision.%s must be an integer >= 1, got %r" % (key, value))
    if merged["failed_logins_crit"] < merged["failed_logins_warn"]:
        raise PolicyError("maint_policy.supervision.failed_logins_crit (%s) must not be below "
                          "failed_logins_warn (%s)" % (merged["failed_logins_crit"], merged["failed_logins_warn"]))
    return merged


# -- service.systemd ------------------------------------------------------------
def _listed(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _unit_names(name):
    """The names a unit may be written with: ``sshd`` and ``sshd.service`` are one unit."""
    name = str(name)
    return {name, name + ".service"} if "." not in name else {name}


def _aggregate(failed, critical_ids, not_read_summary, remediation_hint):
    """The ``failed units`` result: ok with none, warning listing them, critical when one is critical."""
    if failed is None:
        return make_result(SYSTEMD.id, FAILED_UNITS_ITEM, "unknown", not_read_summary,
                           remediation=remediation_hint)
    names = sorted(set(str(name) for name in failed))
    observed = {"failed": names, "count": len(names)}
    if not names:
        return make_result(SYSTEMD.id, FAILED_UNITS_ITEM, "ok", M_("no failed unit"), observed=observed)
    critical = [name for name in names if _unit_names(name) & critical_ids]
    observed["critical"] = critical
    status = "critical" if critical else "warning"
    params = {"count": len(names), "units": ", ".join(names[:10])}
    if len(names) > 10:
        params["more"] = len(names) - 10
    if critical:
        params["critical"] = ", ".join(critical)
    template = {
        (False, False): N_("%(count)s failed unit(s): %(units)s"),
        (True, False): N_("%(count)s failed unit(s): %(units)s and %(more)s more"),
        (False, True): N_("%(count)s failed unit(s): %(units)s (critical: %(critical)s)"),
        (True, True): N_("%(count)s failed unit(s): %(units)s and %(more)s more (critical: %(critical)s)"),
    }[("more" in params, "critical" in params)]
    return make_result(SYSTEMD.id, FAILED_UNITS_ITEM, status, Msg(template, params), observed=observed,
                       remediation=SYSTEMD.fix(item=" ".join(names[:10])))


def _systemd_service(entry):
    """One critical service's result from ``systemctl show -p Id,LoadState,ActiveState,SubState``."""
    name = str(entry.get("name") or "?")
    if entry.get("error"):
        return make_result(SYSTEMD.id, name, "unknown", M_("%(service)s: state not read: %(error)s", service=name,
                                                           error=str(entry["error"])),
                           remediation=M_("Run systemctl status %(service)s on the host.", service=name))
    load, active = entry.get("LoadState"), entry.get("ActiveState")
    if not isinstance(load, str) or not isinstance(active, str) or not load or not active:
        return unreadable_result(SYSTEMD.id, name, "systemctl show output", value=entry)
    unit = str(entry.get("Id") or name)
    observed = {"unit": unit, "load_state": load, "active_state": active, "sub_state": entry.get("SubState")}
    remediation = SYSTEMD.fix(item=unit)
    if load == "not-found":
        return make_result(SYSTEMD.id, name, "critical", M_("%(service)s: no such unit on this host", service=name),
                           observed=observed, remediation=_install(name))
    sub = str(entry.get("SubState"))
    if active in ACTIVE_STATES:
        return make_result(SYSTEMD.id, name, "ok", M_("%(service)s (%(unit)s) is %(active)s (%(sub)s)", service=name,
                                                      unit=unit, active=active, sub=sub),
                           observed=observed)
    return make_result(SYSTEMD.id, name, "critical",
                       M_("%(service)s (%(unit)s) is %(active)s (%(sub)s, %(load)s)", service=name, unit=unit,
                          active=active, sub=sub, load=load),
                       observed=observed, remediation=remediation)


def _install(name):
    return M_("Install the service %(service)s or correct critical_services in the supervision policy.",
              service=name)


def decide_systemd(facts, policy=None):
    """Return the ``service.systemd`` results of a Linux host (see the module docstring for ``facts``).

    Without systemd (no ``/run/systemd/system``) every result is ``unknown``, never ``ok``.

    Raises:
        PolicyError: when the policy holds an unusable value.
    """
    thr = effective_policy(policy)
    critical = thr["critical_services"]
    if not isinstance(facts, dict):
        return [unreadable_result(SYSTEMD.id, FAILED_UNITS_ITEM, "systemd facts", value=facts)]
    if facts.get("systemd") is not True:
        hint = M_("This host does not run systemd (no /run/systemd/system): supervise its services another way.")
        return [make_result(SYSTEMD.id, name, "unknown", M_("%(service)s: not read, the host does not run systemd",
                                                            service=name),
                            remediation=hint) for name in critical] + [
            make_result(SYSTEMD.id, FAILED_UNITS_ITEM, "unknown", M_("failed units not read: the host does not run "
                                                                     "systemd"), remediation=hint)]
    results, critical_ids = [], set()
    by_name = dict((str(e.get("name")), e) for e in _listed(facts.get("services")) if isinstance(e, dict))
    for name in critical:
        entry = by_name.get(name)
        if entry is None:
            results.append(make_result(SYSTEMD.id, name, "unknown", M_("%(service)s: state not read", service=name),
                                       remediation=M_("Run systemctl status %(service)s on the host.", service=name)))
            continue
        critical_ids |= _unit_names(name) | _unit_names(entry.get("Id") or name)
        results.extend(guarded(SYSTEMD.id, name, _systemd_service, entry))
    failed = facts.get("failed")
    if failed is not None and not isinstance(failed, list):
        results.append(unreadable_result(SYSTEMD.id, FAILED_UNITS_ITEM, "list of failed units", value=failed))
        return results
    reason = str(facts.get("failed_error") or "no answer")
    results.append(_aggregate(failed, critical_ids, M_("failed units not read: %(reason)s", reason=reason),
                              M_("Run systemctl --failed on the host.")))
    return results


def _win_service(entry):
    """One critical Windows service's result from Get-Service."""
    name = str(entry.get("name") or "?")
    if entry.get("found") is False:
        return make_result(SYSTEMD.id, name, "critical", M_("%(service)s: no such service on this host", service=name),
                           observed={"found": False}, remediation=_install(name))
    status = entry.get("status")
    code = int(status) if isinstance(status, int) and not isinstance(status, bool) else None
    if code not in WIN_SERVICE_STATUS:
        return unreadable_result(SYSTEMD.id, name, "service status", value=status)
    service = str(entry.get("service_name") or name)
    observed = {"unit": service, "display_name": entry.get("display_name"), "status": WIN_SERVICE_STATUS[code],
                "start_type": entry.get("start_type")}
    if code == WIN_RUNNING:
        return make_result(SYSTEMD.id, name, "ok", M_("%(service)s (%(unit)s) is running", service=name,
                                                      unit=service), observed=observed)
    return make_result(SYSTEMD.id, name, "critical", M_("%(service)s (%(unit)s) is %(state)s", service=name,
                                                        unit=service, state=WIN_SERVICE_STATUS[code]),
                       observed=observed,
                       remediation=M_("See why %(unit)s stopped (the System event log, Get-Service %(unit)s), fix "
                                      "the cause and start it (Start-Service %(unit)s).", unit=service))


def decide_win_services(facts, policy=None):
    """Return the ``service.systemd`` results of a Windows host (Get-Service, Win32_Service).

    A failed unit on Windows is an automatic service that is not running and whose last exit code is
    not 0 (``Win32_Service.ExitCode``): stopped by an error, not by an administrator or a trigger.

    Raises:
        PolicyError: when the policy holds an unusable value.
    """
    thr = effective_policy(policy)
    if not isinstance(facts, dict):
        return [unreadable_result(SYSTEMD.id, FAILED_UNITS_ITEM, "service facts", value=facts)]
    results, critical_ids = [], set()
    by_name = dict((str(e.get("name")).lower(), e) for e in _listed(facts.get("services")) if isinstance(e, dict))
    for name in thr["critical_services"]:
        entry = by_name.get(name.lower())
        if entry is None:
            error = str(facts.get("services_error") or "no answer")
            results.append(make_result(SYSTEMD.id, name, "unknown", M_("%(service)s: state not read: %(error)s",
                                                                       service=name, error=error),
                                       remediation=M_("Run Get-Service %(service)s on the host.", service=name)))
            continue
        critical_ids |= {name.lower(), str(entry.get("service_name") or name).lower()}
        results.extend(guarded(SYSTEMD.id, name, _win_service, entry))
    failed = facts.get("failed")
    if failed is None or not isinstance(failed, list):
        results.append(make_result(SYSTEMD.id, FAILED_UNITS_ITEM, "unknown",
                                   M_("failed services not read: %(reason)s",
                                      reason=str(facts.get("failed_error") or "no answer")),
                                   remediation=M_("Run Get-CimInstance Win32_Service on the host.")))
        return results
    names = []
    for entry in failed:
        if isinstance(entry, dict) and entry.get("name") and number(entry.get("exit_code")) not in (None, 0.0):
            names.append(str(entry["name"]))
    result = _aggregate(names, critical_ids, "", "")
    if result["observed"].get("failed"):
        critical = [n for n in result["observed"]["failed"] if n.lower() in critical_ids]
        result["observed"]["critical"] = critical
        if critical:
            result["status"] = "critical"
    results.append(result)
    return results


# -- security.failed_logins --------------------------------------------------------
def iso_utc(epoch):
    """Return a POSIX time as ISO 8601 UTC with a Z (whole seconds)."""
    moment = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def parse_iso(text):
    """Return the POSIX time of an ISO 8601 time (``Z``, an offset, or none meaning UTC).

    Raises:
        ValueError: when ``text`` is not such a time.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("not an ISO 8601 time: %r" % (text,))
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _message(entry):
    """The MESSAGE of a journal entry: journalctl -o json gives non-UTF-8 text as a list of bytes."""
    message = entry.get("MESSAGE")
    if isinstance(message, list) and all(isinstance(b, int) and 0 <= b < 256 for b in message):
        return bytes(message).decode("utf-8", "replace")
    return message if isinstance(message, str) else ""


def _in_window(entry, since_us, until_us):
    stamp = number(entry.get("__REALTIME_TIMESTAMP"))
    if stamp is None:
        return True  # journalctl already bounded it by --since/--until
    return (since_us is None or stamp >= since_us) and (until_us is None or stamp < until_us)


def _sshd_match(message):
    """Return (the match of an sshd failure line, 1 for a "Failed <method>" line else 0), or (None, 0)."""
    match = SSHD_FAILED_RE.search(message)
    if match:
        return match, 1
    for regex in SSHD_INDICATOR_RES:
        match = regex.search(message)
        if match:
            return match, 0
    return None, 0


def journal_failures(entries, since=None, until=None):
    """Return one failure per failed login found in journal entries (``journalctl -o json``, parsed).

    Each failure is ``{"source": address or "local", "user": name, "via": "sshd" or "pam:<service>"}``.
    An sshd connection (source address and port) with failure lines counts max(1, its "Failed <method>"
    lines). pam_unix lines of sshd itself repeat its "Failed password" lines and are not counted again;
    those of other services (su, login, sudo, ...) count one each. Entries outside [since, until) (POSIX
    seconds, when given) are left out.
    """
    since_us = None if since is None else since * 1e6
    until_us = None if until is None else until * 1e6
    connections = {}
    order = []
    failures = []
    for entry in _listed(entries):
        if not isinstance(entry, dict) or not _in_window(entry, since_us, until_us):
            continue
        message = _message(entry)
        ident = str(entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or "")
        pam = PAM_FAILURE_RE.search(message)
        if pam:
            service = pam.group("service")
            if service in SSHD_IDENTIFIERS:
                continue
            fields = dict(PAM_FIELD_RE.findall(pam.group("fields")))
            failures.append({"source": fields.get("rhost") or "local",
                             "user": fields.get("user") or fields.get("ruser") or "?", "via": "pam:" + service})
            continue
        if ident not in SSHD_IDENTIFIERS:
            continue
        match, failed = _sshd_match(message)
        if not match:
            continue
        key = (match.group("ip"), match.group("port"), str(entry.get("_PID") or ""))
        if key not in connections:
            connections[key] = {"source": match.group("ip"), "user": "", "failed": 0}
            order.append(key)
        conn = connections[key]
        conn["failed"] += failed
        if match.group("user") and (failed or not conn["user"]):
            conn["user"] = match.group("user")
    for key in order:
        conn = connections[key]
        failures.extend([{"source": conn["source"], "user": conn["user"] or "?", "via": "sshd"}]
                        * max(1, conn["failed"]))
    return failures


def win_failures(events):
    """Return one failure per Security event 4625 (``IpAddress``, ``TargetUserName``, ``TargetDomainName``).

    ``IpAddress`` is ``-`` for a local logon: the source is then ``local``.
    """
    failures = []
    for event in _listed(events):
        if not isinstance(event, dict):
            continue
        address = str(event.get("IpAddress") or "").strip()
        user = str(event.get("TargetUserName") or "").strip() or "?"
        domain = str(event.get("TargetDomainName") or "").strip()
        if domain and domain != "-" and user != "?":
            user = "%s\\%s" % (domain, user)
        failures.append({"source": address if address and address != "-" else "local", "user": user,
                         "via": "4625"})
    return failures


def summarize(failures, readable=True, error="", since=None, until=None, truncated=False, **extra):
    """Return the raw facts of ``decide_failed_logins``: the count and the groups by source and user.

    ``since``/``until`` are POSIX times (given as ISO UTC in the result). ``truncated`` means the
    collector stopped reading at its limit: the count is a lower bound.
    """
    groups = {}
    for failure in failures:
        key = (failure["source"], failure["user"])
        groups[key] = groups.get(key, 0) + 1
    ranked = sorted(groups.items(), key=lambda item: (-item[1], item[0]))
    facts = dict(extra)
    facts.update(readable=bool(readable), error=error or "", count=len(failures), truncated=bool(truncated),
                 groups=[{"source": s, "user": u, "count": n} for (s, u), n in ranked[:MAX_GROUPS]],
                 group_count=len(ranked),
                 since=None if since is None else iso_utc(since), until=None if until is None else iso_utc(until))
    return facts


def decide_failed_logins(facts, policy=None):
    """Return one ``security.failed_logins`` result from ``summarize``'s facts.

    No readable journal (or Security log) gives ``unknown``.

    Raises:
        PolicyError: when the policy holds an unusable value.
    """
    thr = effective_policy(policy)
    threshold = {"warn": thr["failed_logins_warn"], "crit": thr["failed_logins_crit"]}
    if not isinstance(facts, dict):
        return [unreadable_result(FAILED_LOGINS.id, "", "failed-login facts", value=facts)]
    window = {"since": facts.get("since"), "until": facts.get("until")}
    if facts.get("readable") is not True:
        reason = str(facts.get("error") or "no readable journal")
        return [make_result(FAILED_LOGINS.id, "", "unknown", M_("failed logins not read: %(reason)s", reason=reason),
                            observed=window, threshold=threshold,
                            remediation=M_("Make the journal readable (journald running, the watch run as root) or, "
                                           "on Windows, the Security log (an administrator)."))]
    count = number(facts.get("count"))
    if count is None or count < 0:
        return [unreadable_result(FAILED_LOGINS.id, "", "failed-login count", value=facts.get("count"),
                                  observed=window)]
    count = int(count)
    groups = [g for g in _listed(facts.get("groups")) if isinstance(g, dict)]
    top = groups[:TOP_GROUPS]
    sources = sorted(set(str(g.get("source")) for g in groups))
    observed = dict(window, count=count, top=top, sources=len(sources), groups=number(facts.get("group_count")),
                    truncated=bool(facts.get("truncated")))
    status = grade_high(count, thr["failed_logins_warn"], thr["failed_logins_crit"])
    since = str(window["since"]) if window["since"] else None
    if not count:
        summary = (M_("no failed login since %(since)s", since=since) if since
                   else M_("no failed login since the last watch"))
        return [make_result(FAILED_LOGINS.id, "", "ok", summary, observed=observed, threshold=threshold)]
    shown = ", ".join("%s@%s x%s" % (g.get("user"), g.get("source"), g.get("count")) for g in top)
    params = {"count": count, "sources": len(sources), "shown": shown}
    if since:
        params["since"] = since
    template = {
        (False, True): N_("%(count)s failed login(s) since %(since)s from %(sources)s source(s): %(shown)s"),
        (False, False): N_("%(count)s failed login(s) since the last watch from %(sources)s source(s): %(shown)s"),
        (True, True): N_("at least %(count)s failed login(s) since %(since)s from %(sources)s source(s): "
                         "%(shown)s"),
        (True, False): N_("at least %(count)s failed login(s) since the last watch from %(sources)s source(s): "
                          "%(shown)s"),
    }[(bool(facts.get("truncated")), bool(since))]
    summary = Msg(template, params)
    remediation = ""
    if status in ("warning", "critical"):
        remediation = FAILED_LOGINS.fix(item=", ".join(sources[:5]))
    return [make_result(FAILED_LOGINS.id, "", status, summary, observed=observed, threshold=threshold,
                        remediation=remediation)]


def decide_watch_linux(facts, policy=None):
    """Return the watch's own results of a Linux host: ``service.systemd`` and ``security.failed_logins``.

    ``facts`` holds ``services`` (``decide_systemd``'s facts) and ``failed_logins`` (``summarize``'s).

    Raises:
        PolicyError: when the policy holds an unusable value.
    """
    effective_policy(policy)
    facts = facts if isinstance(facts, dict) else {}
    results = []
    results.extend(guarded(SYSTEMD.id, FAILED_UNITS_ITEM, decide_systemd, facts.get("services"), policy))
    results.extend(guarded(FAILED_LOGINS.id, "", decide_failed_logins, facts.get("failed_logins"), policy))
    return results


def decide_watch_windows(facts, policy=None, since=None, until=None):
    """Return the watch's own results of a Windows host from ``win_hardware``'s ``watch`` facts.

    ``facts`` holds ``services``, ``failed``, ``failed_error``, ``services_error`` (``decide_win_services``)
    and ``logon_failures``: ``{"readable", "error", "since", "until", "events", "truncated"}`` with
    ``since``/``until`` as ISO UTC (the host's clock) and ``events`` the 4625 records.

    Raises:
        PolicyError: when the policy holds an unusable value.
    """
    effective_policy(policy)
    facts = facts if isinstance(facts, dict) else {}
    results = list(guarded(SYSTEMD.id, FAILED_UNITS_ITEM, decide_win_services, facts, policy))
    raw = facts.get("logon_failures") if isinstance(facts.get("logon_failures"), dict) else {}
    try:
        since = parse_iso(raw["since"]) if raw.get("since") else since
        until = parse_iso(raw["until"]) if raw.get("until") else until
    except ValueError:
        since = until = None
    summary = summarize(win_failures(raw.get("events")), readable=raw.get("readable") is True,
                        error=raw.get("error") or "", since=since, until=until,
                        truncated=raw.get("truncated") is True)
    results.extend(guarded(FAILED_LOGINS.id, "", decide_failed_logins, summary, policy))
    return results
