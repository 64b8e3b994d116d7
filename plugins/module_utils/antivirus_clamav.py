# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Decide the antivirus checks of ClamAV (Linux) from the raw facts the module gathers.

Pure Python, no I/O and no Ansible import: the ``antivirus_clamav`` module runs it on the
host (inside AnsiballZ). The check ids, policy defaults and default remediations are the
catalogue's (``antivirus_decide.CHECKS``).
"""

from __future__ import annotations

import calendar
import re

try:
    from ansible.module_utils.antivirus_decide import (
        CHECK_DETECTION,
        CHECK_PRODUCT,
        CHECK_PROTECTION,
        CHECK_SCAN,
        CHECK_SIGNATURES,
        CHECK_TAMPER,
        CHECK_THREATS,
        CHECK_UPDATE,
        age_threshold,
        decide_one,
        effective_policy,
        grade_age,
        iso_utc,
        remediation,
    )
    from ansible.module_utils.maint_result import (
        DATA_ERRORS,
        M_,
        Msg,
        make_result,
        number,
        unreadable_result,
        worst,
    )
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils.antivirus_decide import (
        CHECK_DETECTION,
        CHECK_PRODUCT,
        CHECK_PROTECTION,
        CHECK_SCAN,
        CHECK_SIGNATURES,
        CHECK_TAMPER,
        CHECK_THREATS,
        CHECK_UPDATE,
        age_threshold,
        decide_one,
        effective_policy,
        grade_age,
        iso_utc,
        remediation,
    )
    from maint_utils.maint_result import DATA_ERRORS, M_, Msg, make_result, number, unreadable_result, worst


# --------------------------------------------------------------------------- parsing (real outputs)
def _days(seconds):
    return round(max(seconds, 0) / 86400.0, 2)


_SIGTOOL_KEYS = {
    "file": "file",
    "build time": "build_time_text",
    "version": "version",
    "signatures": "signatures",
    "functionality level": "functionality_level",
    "builder": "builder",
    "verification": "verification",
}
_MONTHS = {name: index for index, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}


def parse_sigtool_info(text):
    """Parse ``sigtool --info FILE`` output (a .cvd, .cld or .cud header).

    Returns a dict with ``version`` (int), ``signatures`` (int), ``build_time`` (UTC
    epoch seconds, from e.g. ``22 Nov 2026 21:19 +0000``), ``builder`` and
    ``verification`` when present; an empty dict when nothing could be read.
    """
    info = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        name = _SIGTOOL_KEYS.get(key.strip().lower())
        if not sep or not name:
            continue
        value = value.strip()
        if name in ("version", "signatures", "functionality_level"):
            info[name] = int(value) if value.isdigit() else None
        else:
            info[name] = value
    when = info.pop("build_time_text", None)
    if when:
        match = re.match(r"(\d{1,2}) (\w{3}) (\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))? ?([+-]\d{4})?", when)
        if match and match.group(2).lower() in _MONTHS:
            day, mon, year, hour, minute, sec, tz = match.groups()
            epoch = calendar.timegm((int(year), _MONTHS[mon.lower()], int(day), int(hour), int(minute),
                                     int(sec or 0), 0, 0, 0))
            if tz:
                sign = 1 if tz[0] == "+" else -1
                epoch -= sign * (int(tz[1:3]) * 3600 + int(tz[3:5]) * 60)
            info["build_time"] = epoch
    return info


def _local_to_epoch(year, month, day, hour, minute, second, utc_offset):
    """Convert a host-local wall-clock time to UTC epoch seconds given the host's UTC offset."""
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - int(utc_offset or 0)


_CTIME_RE = re.compile(r"^\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})")


def _parse_ctime(text, utc_offset):
    """Parse a ctime-style local date ("Sun Nov 22 21:20:41 2026") into UTC epoch seconds."""
    match = _CTIME_RE.match(text.strip())
    if not match or match.group(1).lower() not in _MONTHS:
        return None
    mon, day, hour, minute, sec, year = match.groups()
    return _local_to_epoch(int(year), _MONTHS[mon.lower()], int(day), int(hour), int(minute), int(sec),
                           utc_offset)


_FRESHCLAM_OK_RE = re.compile(r"(database is up[- ]to[- ]date|\bupdated \(version:|Database updated)", re.I)
_FRESHCLAM_FAIL_RE = re.compile(r"ERROR: (Update failed|Database update process failed|.*initiali[sz]ation)", re.I)


def parse_freshclam_log(text, utc_offset=0):
    """Find freshclam's last update attempt and last successful update in its log.

    freshclam starts every session with ``ClamAV update process started at <ctime>``;
    a session is successful when it reports a database ``up-to-date`` or ``updated``.
    Times are the host's local time, converted with ``utc_offset`` (seconds east of UTC).

    Returns:
        ``{"sessions": n, "last_attempt": epoch|None, "last_attempt_ok": bool|None,
        "last_success": epoch|None, "last_error": str|None}``.
    """
    sessions = []
    current = None
    for line in (text or "").splitlines():
        body = line.split(" -> ", 1)[1] if " -> " in line else line
        marker = "ClamAV update process started at "
        if marker in body:
            current = {"start": _parse_ctime(body.split(marker, 1)[1], utc_offset), "ok": False,
                       "failed": False, "error": None}
            sessions.append(current)
            continue
        if current is None:
            continue
        if _FRESHCLAM_OK_RE.search(body):
            current["ok"] = True
        if "ERROR:" in body:
            current["error"] = body.split("ERROR:", 1)[1].strip()[:200]
            if _FRESHCLAM_FAIL_RE.search(body):
                current["failed"] = True
    result = {"sessions": len(sessions), "last_attempt": None, "last_attempt_ok": None,
              "last_success": None, "last_error": None}
    if sessions:
        last = sessions[-1]
        result["last_attempt"] = last["start"]
        result["last_attempt_ok"] = last["ok"] and not last["failed"]
        result["last_error"] = last["error"]
    for session in reversed(sessions):
        if session["ok"] and not session["failed"] and session["start"] is not None:
            result["last_success"] = session["start"]
            break
    return result


_SCAN_DATE_RE = re.compile(r"^(Start|End) Date:\s+(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})")


def parse_scan_log(text, utc_offset=0):
    """Read the last scan summary of a ``clamscan --log`` file.

    Returns:
        ``{"scans": n, "last_scan_end": epoch|None, "infected": int|None, "found": [...]}``
        where ``found`` lists ``path: name`` of the last scan's detections (at most 20).
    """
    scans = []
    found = []
    current = None
    for line in (text or "").splitlines():
        line = line.rstrip()
        if line.endswith(" FOUND"):
            found.append(line[:-len(" FOUND")])
            continue
        if line.startswith("----------- SCAN SUMMARY"):
            current = {"infected": None, "start": None, "end": None, "found": found}
            found = []
            scans.append(current)
            continue
        if current is None:
            continue
        if line.startswith("Infected files:"):
            value = line.split(":", 1)[1].strip()
            current["infected"] = int(value) if value.isdigit() else None
        match = _SCAN_DATE_RE.match(line)
        if match:
            parts = [int(x) for x in match.groups()[1:]]
            current["start" if match.group(1) == "Start" else "end"] = _local_to_epoch(*parts, utc_offset)
    if not scans:
        return {"scans": 0, "last_scan_end": None, "infected": None, "found": []}
    last = scans[-1]
    return {"scans": len(scans), "last_scan_end": last["end"] or last["start"],
            "infected": last["infected"], "found": last["found"][:20]}


def parse_detection(output):
    """Return the signature name of the first ``FOUND`` line of clamscan/clamdscan output, or None."""
    for line in (output or "").splitlines():
        line = line.strip()
        if line.endswith(" FOUND") and ": " in line:
            return line[:-len(" FOUND")].rsplit(": ", 1)[1].strip()
    return None


# --------------------------------------------------------------------------- decide
def _databases(facts):
    """The database entries of the facts that are mappings (anything else is not a database)."""
    dbs = facts.get("databases")
    return [db for db in dbs if isinstance(db, dict)] if isinstance(dbs, list) else []


def _age_since(now, then):
    """Days from epoch ``then`` to epoch ``now``; ValueError when either is not a number."""
    now_n, then_n = number(now), number(then)
    if now_n is None or then_n is None:
        raise ValueError("time not a number: now %r, then %r" % (now, then))
    return _days(now_n - then_n)


def _newest_signatures(databases):
    """Pick the database that dates the signatures: ``daily`` if present, else the newest."""
    dated = [dict(db, build_time=number(db.get("build_time"))) for db in databases
             if isinstance(db, dict) and number(db.get("build_time")) is not None]
    if not dated:
        return None
    daily = [db for db in dated if str(db.get("file", "")).split(".")[0] == "daily"]
    return max(daily or dated, key=lambda db: db["build_time"])


def clamav_signature_status(facts, policy):
    """Grade the signature age alone (used to decide whether freshclam should run)."""
    newest = _newest_signatures(_databases(facts))
    if newest is None:
        return "critical" if facts.get("installed") else "unknown"
    try:
        return grade_age(_age_since(facts.get("now"), newest["build_time"]), policy, "signature")
    except ValueError:
        return "unknown"


def clamav_needs_update(facts, policy):
    """True when the policy allows freshclam and the signatures are stale or missing."""
    return bool(policy["update_signatures"] and facts.get("installed")
                and clamav_signature_status(facts, policy) in ("warning", "critical"))


def _clamav_product(facts, policy):
    dbs = _databases(facts)
    observed = {"engine": "ClamAV", "version": facts.get("engine_version"),
                "binaries": facts.get("binaries") or {}, "database_dir": facts.get("database_dir"),
                "databases": len(dbs)}
    if not facts.get("installed"):
        status = policy["linux_no_av_status"]
        summary = (M_("no antivirus installed (no ClamAV scanner found); accepted by the policy "
                      "(antivirus.linux_no_av_status: ok)") if status == "ok"
                   else M_("no antivirus installed (no ClamAV scanner found)"))
        return make_result(
            CHECK_PRODUCT, "clamav", status, summary, observed,
            {"linux_no_av_status": status},
            "" if status == "ok" else remediation(CHECK_PRODUCT))
    if not dbs:
        return make_result(
            CHECK_PRODUCT, "clamav", "critical",
            M_("ClamAV %(version)s installed but no signature database in %(folder)s",
               version=facts.get("engine_version") or "(version unknown)", folder=str(facts.get("database_dir"))),
            observed, {}, M_("Run freshclam or install the client's signature database."))
    return make_result(
        CHECK_PRODUCT, "clamav", "ok",
        M_("ClamAV %(version)s installed with %(databases)s signature database(s) in %(folder)s",
           version=facts.get("engine_version") or "(version unknown)", databases=len(dbs),
           folder=str(facts.get("database_dir"))),
        observed)


def _clamav_protection(facts, policy):
    daemon = facts.get("daemon_running")
    onacc = facts.get("on_access_running")
    observed = {"clamd_running": daemon, "clamonacc_running": onacc}
    threshold = {"linux_require_daemon": policy["linux_require_daemon"],
                 "linux_require_on_access": policy["linux_require_on_access"]}
    if daemon is None or onacc is None:
        return make_result(CHECK_PROTECTION, "clamav", "unknown",
                           M_("could not read the process list to find clamd and clamonacc"),
                           observed, threshold, M_("Check that /proc is readable by the maintenance user."))
    missing = []
    if policy["linux_require_daemon"] and not daemon:
        missing.append(M_("clamd is not running"))
    if policy["linux_require_on_access"] and not onacc:
        missing.append(M_("on-access scanning (clamonacc) is not active"))
    if missing:
        return make_result(CHECK_PROTECTION, "clamav", "critical",
                           M_("%(missing)s (required by the policy)", missing=missing), observed, threshold,
                           remediation(CHECK_PROTECTION))
    mode = []
    mode.append("clamd running" if daemon else "clamd not running")
    mode.append("on-access active" if onacc else "no on-access scanning")
    if not daemon and not onacc:
        summary = "on-demand scanning only (clamscan): clamd not running, no on-access scanning; " \
                  "not required by the policy"
    else:
        summary = ", ".join(mode)
    return make_result(CHECK_PROTECTION, "clamav", "ok", summary, observed, threshold)


def _clamav_signatures(facts, policy):
    dbs = _databases(facts)
    threshold = age_threshold(policy, "signature")
    freshclam = facts.get("freshclam") or {}
    observed = {
        "databases": [
            {"file": db.get("file"), "version": db.get("version"), "signatures": db.get("signatures"),
             "build_time": iso_utc(db.get("build_time")), "source": db.get("source")}
            for db in dbs
        ],
        "freshclam_last_success": iso_utc(freshclam.get("last_success")),
        "freshclam_last_attempt": iso_utc(freshclam.get("last_attempt")),
        "freshclam_last_attempt_ok": freshclam.get("last_attempt_ok"),
    }
    if any(db.get("source") == "mtime" for db in dbs):
        observed["note"] = ("build time of .hdb/.ndb/.cdb style databases is the file's modification "
                            "time: these files carry no header")
    newest = _newest_signatures(dbs)
    if newest is None:
        return make_result(CHECK_SIGNATURES, "clamav", "critical" if dbs == [] else "unknown",
                           M_("no signature database found") if dbs == []
                           else M_("no database build time could be read"),
                           observed, threshold, M_("Run freshclam, then check the database directory."))
    age = _age_since(facts.get("now"), newest["build_time"])
    observed.update(age_days=age, newest=newest.get("file"), newest_build_time=iso_utc(newest["build_time"]))
    status = grade_age(age, policy, "signature")
    if newest.get("version"):
        summary = M_("signatures %(days)s days old (%(file)s, version %(version)s)", days=round(age, 1),
                     file=str(newest.get("file")), version=str(newest["version"]))
    else:
        summary = M_("signatures %(days)s days old (%(file)s, file date)", days=round(age, 1),
                     file=str(newest.get("file")))
    if number(freshclam.get("last_success")) is not None:
        summary = M_("%(summary)s; freshclam last succeeded %(days)s days ago", summary=[summary],
                     days=round(_age_since(facts.get("now"), freshclam["last_success"]), 1))
    elif freshclam.get("sessions"):
        summary = M_("%(summary)s; freshclam has no successful update in its log", summary=[summary])
    return make_result(CHECK_SIGNATURES, "clamav", status, summary, observed, threshold,
                       "" if status == "ok" else
                       remediation(CHECK_SIGNATURES))


def _clamav_scan(facts, policy):
    scan = facts.get("scan_log") or {}
    threshold = dict(age_threshold(policy, "scan"), scan_log=policy["linux_scan_log"])
    if not policy["linux_scan_log"]:
        return make_result(CHECK_SCAN, "clamav", "skipped",
                           M_("no scan log set in the policy (antivirus.linux_scan_log)"), {}, threshold)
    observed = {"scan_log": scan.get("path"), "exists": scan.get("exists"), "scans": scan.get("scans")}
    if scan.get("error"):
        observed["error"] = scan["error"]
        return make_result(CHECK_SCAN, "clamav", "unknown",
                           M_("cannot read the scan log: %(error)s", error=str(scan["error"])),
                           observed, threshold, M_("Make the scan log readable by the maintenance user."))
    last = scan.get("last_scan_end")
    if last is not None and number(last) is None:
        return unreadable_result(CHECK_SCAN, "clamav", "time of the last scan in the scan log", value=last,
                                 observed=observed)
    if last is None:
        observed["last_scan"] = "never"
        return make_result(CHECK_SCAN, "clamav", "critical",
                           M_("no scan recorded in %(log)s (never scanned)", log=str(scan.get("path"))),
                           observed, threshold,
                           M_("Schedule clamscan with --log=%(log)s (for example a daily systemd timer).",
                              log=str(policy["linux_scan_log"])))
    age = _age_since(facts.get("now"), last)
    observed.update(last_scan=iso_utc(last), age_days=age)
    status = grade_age(age, policy, "scan")
    return make_result(CHECK_SCAN, "clamav", status,
                       M_("last scan %(days)s days ago (%(time)s)", days=round(age, 1), time=iso_utc(last)),
                       observed, threshold,
                       "" if status == "ok" else remediation(CHECK_SCAN))


def _clamav_threats(facts, policy):
    scan = facts.get("scan_log") or {}
    if not policy["linux_scan_log"]:
        return make_result(CHECK_THREATS, "clamav", "skipped",
                           M_("no scan log set in the policy (antivirus.linux_scan_log): no scan to read threats "
                              "from"))
    observed = {"scan_log": scan.get("path"), "infected": scan.get("infected"), "found": scan.get("found") or []}
    if scan.get("last_scan_end") is None or scan.get("infected") is None:
        return make_result(CHECK_THREATS, "clamav", "unknown",
                           M_("no completed scan in the scan log: threats unknown"), observed, {},
                           M_("Schedule clamscan with --log and let it complete once."))
    infected = number(scan["infected"])
    if infected is None or infected < 0:
        return unreadable_result(CHECK_THREATS, "clamav", "infected file count of the last scan",
                                 value=scan["infected"], observed=observed)
    if infected > 0:
        return make_result(CHECK_THREATS, "clamav", "critical",
                           M_("last scan (%(time)s) found %(infected)s infected file(s): %(files)s",
                              time=iso_utc(scan["last_scan_end"]), infected=scan["infected"],
                              files="; ".join(observed["found"][:3])),
                           observed, {"infected_max": 0},
                           remediation(CHECK_THREATS))
    return make_result(CHECK_THREATS, "clamav", "ok",
                       M_("last scan (%(time)s) found no infected files", time=iso_utc(scan["last_scan_end"])),
                       observed, {"infected_max": 0})


def _clamav_detection(facts, policy):
    test = facts.get("detection_test") or {}
    if not policy["detection_test"]:
        return make_result(CHECK_DETECTION, "eicar", "skipped",
                           M_("EICAR detection test disabled by the policy (antivirus.detection_test)"))
    if not test.get("ran"):
        # The policy asked for the test: a test that could not run proved nothing.
        return make_result(CHECK_DETECTION, "eicar", "unknown",
                           M_("EICAR detection test asked for by the policy but not run: %(reason)s",
                              reason=str(test.get("reason") or "no scanner")),
                           {"reason": test.get("reason")}, {"expected": "FOUND (rc 1)"},
                           M_("Install clamscan (or clamdscan with clamd running) so that detection can be "
                              "tested."))
    observed = {"scanner": test.get("scanner"), "rc": test.get("rc"), "detection": test.get("detection"),
                "file_removed": test.get("removed"), "database_dir": test.get("database_dir"),
                "duration_s": test.get("duration_s")}
    if test.get("error"):
        observed["error"] = test["error"]
    if test.get("detection") and test.get("rc") == 1:
        status = "ok"
        summary = M_("EICAR test file detected by %(scanner)s as %(detection)s", scanner=str(test.get("scanner")),
                     detection=str(test["detection"]))
        fix: Msg | str = ""
    else:
        status = "critical"
        why = test.get("error") or ("no detection (rc %s)" % test.get("rc"))
        summary = M_("scanner did not detect the EICAR test file: %(reason)s", reason=str(why))
        fix = remediation(CHECK_DETECTION)
    if not test.get("removed"):
        status = worst([status, "warning"])
        path = str(test.get("path"))
        summary = M_("%(summary)s; the test file %(path)s could not be removed", summary=[summary], path=path)
        fix = (M_("%(fix)s Remove %(path)s by hand.", fix=[fix], path=path) if isinstance(fix, Msg)
               else M_("Remove %(path)s by hand.", path=path))
    return make_result(CHECK_DETECTION, "eicar", status, summary, observed, {"expected": "FOUND (rc 1)"},
                       fix)


def _clamav_update(facts, policy):
    update = facts.get("update")
    if not update:
        return None
    observed = {key: update.get(key) for key in ("command", "rc", "duration_s", "timeout_s", "error", "cleaned")
                if update.get(key) is not None}
    if update.get("skipped"):
        return make_result(CHECK_UPDATE, "signatures", "skipped",
                           M_("freshclam not run: %(reason)s", reason=str(update["skipped"])), observed)
    if update.get("blocked"):
        return make_result(CHECK_UPDATE, "signatures", "warning",
                           M_("freshclam not run: %(reason)s", reason=str(update["blocked"])), observed, {},
                           M_("Check the freshclam service and its log: the signatures are stale although it "
                              "runs."))
    if update.get("timed_out"):
        return make_result(CHECK_UPDATE, "signatures", "warning",
                           M_("freshclam did not finish within %(seconds)s s (no mirror reachable?); signatures "
                              "not updated", seconds=update.get("timeout_s")), observed, {},
                           remediation(CHECK_UPDATE))
    if update.get("rc") != 0:
        return make_result(CHECK_UPDATE, "signatures", "warning",
                           M_("freshclam failed (rc %(rc)s): %(error)s", rc=update.get("rc"),
                              error=str(update.get("error") or "no message")),
                           observed, {},
                           remediation(CHECK_UPDATE))
    changed = bool(update.get("changed"))
    return make_result(CHECK_UPDATE, "signatures", "ok",
                       M_("freshclam updated the signatures") if changed
                       else M_("freshclam ran: the signatures were already current"),
                       observed, {}, "", changed=changed)


def evaluate_clamav(facts, policy=None):
    """Turn the facts gathered by the ``antivirus_clamav`` module into antivirus results.

    Args:
        facts: the module's raw facts (``installed``, ``databases``, ``now``...).
        policy: the ``maint_policy.antivirus`` section (defaults filled in here).

    Returns:
        A list of results in the shape of ``schemas/check_result.schema.json``.
    """
    policy = effective_policy(policy)
    if not isinstance(facts, dict):
        return [unreadable_result(CHECK_PRODUCT, "clamav", "ClamAV facts", value=facts)]
    product = decide_one(CHECK_PRODUCT, "clamav", _clamav_product, facts, policy)
    if not facts.get("installed"):
        results = [product]
        for check in (CHECK_PROTECTION, CHECK_SIGNATURES, CHECK_SCAN, CHECK_TAMPER, CHECK_THREATS,
                      CHECK_DETECTION):
            results.append(make_result(check, "clamav" if check != CHECK_DETECTION else "eicar", "skipped",
                                       M_("no antivirus installed: %(check)s not checked",
                                          check=check.split(".", 1)[1])))
        return results
    # Each check is decided on its own: odd data in one costs that check, never the others.
    results = [
        product,
        decide_one(CHECK_PROTECTION, "clamav", _clamav_protection, facts, policy),
        decide_one(CHECK_SIGNATURES, "clamav", _clamav_signatures, facts, policy),
        decide_one(CHECK_SCAN, "clamav", _clamav_scan, facts, policy),
        make_result(CHECK_TAMPER, "clamav", "skipped", M_("ClamAV has no tamper protection: not applicable")),
        decide_one(CHECK_THREATS, "clamav", _clamav_threats, facts, policy),
        decide_one(CHECK_DETECTION, "eicar", _clamav_detection, facts, policy),
    ]
    try:
        update = _clamav_update(facts, policy)
    except DATA_ERRORS as exc:
        update = unreadable_result(CHECK_UPDATE, "signatures", "freshclam run facts", error=exc)
    if update:
        results.append(update)
    return results
