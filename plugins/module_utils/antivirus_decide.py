# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Decide antivirus check results from raw facts: ClamAV (Linux) and Microsoft Defender (Windows).

Pure Python, no I/O and no Ansible import: the same functions serve the ``clamav_facts``
module (on the host, inside AnsiballZ), the role's Defender action plugin (on the
controller) and ``maintctl evaluate defender`` (offline, on saved JSON).

Both engines produce the same check ids:

- ``antivirus.product``: is an antivirus product installed and active;
- ``antivirus.protection``: real-time / on-access protection;
- ``antivirus.signature_age``: age of the newest signatures, graded in days;
- ``antivirus.scan_age``: age of the last scan; 4294967295 or a missing value is "never";
- ``antivirus.tamper_protection``: Defender only (``skipped`` for ClamAV);
- ``antivirus.threats``: active or unremediated threats are critical;
- ``antivirus.detection_test``: the EICAR test (ClamAV);
- ``antivirus.update``: remediation (freshclam, Update-MpSignature, a quick scan).

Every threshold has its default in ``DEFAULTS``, documented in
``schemas/policy/antivirus.schema.json``. A value nobody read gives ``unknown``.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re

try:
    from ansible.module_utils.maint_result import (
        DATA_ERRORS,
        grade_high,
        guarded,
        make_result,
        number,
        unreadable_result,
        worst,
    )
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils.maint_result import (
        DATA_ERRORS,
        grade_high,
        guarded,
        make_result,
        number,
        unreadable_result,
        worst,
    )

# Defender reports "never" as the largest uint32; anything this large is not an age.
NEVER = 4294967295
_NEVER_FLOOR = 65535

DEFAULTS = {
    "signature_warn_days": 3,
    "signature_crit_days": 7,
    "scan_warn_days": 7,
    "scan_crit_days": 30,
    "threat_days": 30,
    "remediated_threat_status": "warning",
    "tamper_protection_off_status": "warning",
    "linux_no_av_status": "critical",
    "linux_require_daemon": False,
    "linux_require_on_access": False,
    "linux_scan_log": "",
    "detection_test": False,
    "update_signatures": False,
    "update_timeout_seconds": 60,
    "quick_scan_after_days": 0,
}
_MINIMUM = {"threat_days": 1, "update_timeout_seconds": 1}
_STATUS_CHOICES = {
    "remediated_threat_status": ("ok", "warning", "critical"),
    "tamper_protection_off_status": ("ok", "warning", "critical"),
    "linux_no_av_status": ("ok", "warning", "critical"),
}

CHECK_PRODUCT = "antivirus.product"
CHECK_PROTECTION = "antivirus.protection"
CHECK_SIGNATURES = "antivirus.signature_age"
CHECK_SCAN = "antivirus.scan_age"
CHECK_TAMPER = "antivirus.tamper_protection"
CHECK_THREATS = "antivirus.threats"
CHECK_DETECTION = "antivirus.detection_test"
CHECK_UPDATE = "antivirus.update"


class PolicyError(ValueError):
    """Raised when the antivirus policy section holds a value of the wrong type."""


# --------------------------------------------------------------------------- policy
def effective_policy(policy):
    """Return the policy section with defaults filled in, checking every value's type.

    Args:
        policy: the ``maint_policy.antivirus`` mapping (may be ``None`` or empty).

    Returns:
        A new dict holding every key of ``DEFAULTS``.

    Raises:
        PolicyError: on an unknown key or a value of the wrong type.
    """
    policy = dict(policy or {})
    unknown = sorted(set(policy) - set(DEFAULTS))
    if unknown:
        raise PolicyError("unknown antivirus policy key(s): %s" % ", ".join(unknown))
    merged = dict(DEFAULTS)
    for key, value in policy.items():
        default = DEFAULTS[key]
        if value is None:
            continue
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise PolicyError("antivirus.%s must be true or false, not %r" % (key, value))
        elif isinstance(default, int):
            minimum = _MINIMUM.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
                raise PolicyError("antivirus.%s must be a number >= %s, not %r" % (key, minimum, value))
        elif not isinstance(value, str):
            raise PolicyError("antivirus.%s must be a string, not %r" % (key, value))
        if key in _STATUS_CHOICES and value not in _STATUS_CHOICES[key]:
            raise PolicyError("antivirus.%s must be one of %s, not %r"
                              % (key, ", ".join(_STATUS_CHOICES[key]), value))
        merged[key] = value
    for low, high in (("signature_warn_days", "signature_crit_days"), ("scan_warn_days", "scan_crit_days")):
        if merged[low] > merged[high]:
            raise PolicyError("antivirus.%s (%s) must not exceed antivirus.%s (%s)"
                              % (low, merged[low], high, merged[high]))
    return merged


def _age_threshold(policy, prefix):
    return {"warn_days": policy[prefix + "_warn_days"], "crit_days": policy[prefix + "_crit_days"]}


def _grade_age(age_days, policy, prefix):
    """Grade an age in days; ``float('inf')`` (never) is critical, ``None`` unknown."""
    return grade_high(age_days, policy[prefix + "_warn_days"], policy[prefix + "_crit_days"])


def _iso(epoch):
    epoch = number(epoch)
    if epoch is None:
        return None
    try:
        moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(microsecond=0)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat().replace("+00:00", "Z")


def _days(seconds):
    return round(max(seconds, 0) / 86400.0, 2)


# --------------------------------------------------------------------------- ClamAV parsing
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


# --------------------------------------------------------------------------- ClamAV decide
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
        return _grade_age(_age_since(facts.get("now"), newest["build_time"]), policy, "signature")
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
        summary = "no antivirus installed (no ClamAV scanner found)"
        if status == "ok":
            summary += "; accepted by the policy (antivirus.linux_no_av_status: ok)"
        return make_result(
            CHECK_PRODUCT, "clamav", status, summary, observed,
            {"linux_no_av_status": status},
            "" if status == "ok" else "Install ClamAV with a local or mirrored signature database, or "
            "record the exception in the client's policy (antivirus.linux_no_av_status).")
    if not dbs:
        return make_result(
            CHECK_PRODUCT, "clamav", "critical",
            "ClamAV %s installed but no signature database in %s"
            % (facts.get("engine_version") or "(version unknown)", facts.get("database_dir")),
            observed, {}, "Run freshclam or install the client's signature database.")
    return make_result(
        CHECK_PRODUCT, "clamav", "ok",
        "ClamAV %s installed with %d signature database(s) in %s"
        % (facts.get("engine_version") or "(version unknown)", len(dbs), facts.get("database_dir")),
        observed)


def _clamav_protection(facts, policy):
    daemon = facts.get("daemon_running")
    onacc = facts.get("on_access_running")
    observed = {"clamd_running": daemon, "clamonacc_running": onacc}
    threshold = {"linux_require_daemon": policy["linux_require_daemon"],
                 "linux_require_on_access": policy["linux_require_on_access"]}
    if daemon is None or onacc is None:
        return make_result(CHECK_PROTECTION, "clamav", "unknown",
                           "could not read the process list to find clamd and clamonacc",
                           observed, threshold, "Check that /proc is readable by the maintenance user.")
    missing = []
    if policy["linux_require_daemon"] and not daemon:
        missing.append("clamd is not running")
    if policy["linux_require_on_access"] and not onacc:
        missing.append("on-access scanning (clamonacc) is not active")
    if missing:
        return make_result(CHECK_PROTECTION, "clamav", "critical",
                           "; ".join(missing) + " (required by the policy)", observed, threshold,
                           "Start clamav-daemon and clamonacc (clamav-clamonacc.service) and enable them.")
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
    threshold = _age_threshold(policy, "signature")
    freshclam = facts.get("freshclam") or {}
    observed = {
        "databases": [
            {"file": db.get("file"), "version": db.get("version"), "signatures": db.get("signatures"),
             "build_time": _iso(db.get("build_time")), "source": db.get("source")}
            for db in dbs
        ],
        "freshclam_last_success": _iso(freshclam.get("last_success")),
        "freshclam_last_attempt": _iso(freshclam.get("last_attempt")),
        "freshclam_last_attempt_ok": freshclam.get("last_attempt_ok"),
    }
    if any(db.get("source") == "mtime" for db in dbs):
        observed["note"] = ("build time of .hdb/.ndb/.cdb style databases is the file's modification "
                            "time: these files carry no header")
    newest = _newest_signatures(dbs)
    if newest is None:
        return make_result(CHECK_SIGNATURES, "clamav", "critical" if dbs == [] else "unknown",
                           "no signature database found" if dbs == []
                           else "no database build time could be read",
                           observed, threshold, "Run freshclam, then check the database directory.")
    age = _age_since(facts.get("now"), newest["build_time"])
    observed.update(age_days=age, newest=newest.get("file"), newest_build_time=_iso(newest["build_time"]))
    status = _grade_age(age, policy, "signature")
    summary = "signatures %.1f days old (%s, %s)" % (
        age, newest.get("file"), "version %s" % newest["version"] if newest.get("version")
        else "file date")
    if number(freshclam.get("last_success")) is not None:
        summary += "; freshclam last succeeded %.1f days ago" % _age_since(facts.get("now"), freshclam["last_success"])
    elif freshclam.get("sessions"):
        summary += "; freshclam has no successful update in its log"
    return make_result(CHECK_SIGNATURES, "clamav", status, summary, observed, threshold,
                       "" if status == "ok" else
                       "Run freshclam and read /var/log/clamav/freshclam.log; check the mirror or proxy.")


def _clamav_scan(facts, policy):
    scan = facts.get("scan_log") or {}
    threshold = dict(_age_threshold(policy, "scan"), scan_log=policy["linux_scan_log"])
    if not policy["linux_scan_log"]:
        return make_result(CHECK_SCAN, "clamav", "skipped",
                           "no scan log set in the policy (antivirus.linux_scan_log)", {}, threshold)
    observed = {"scan_log": scan.get("path"), "exists": scan.get("exists"), "scans": scan.get("scans")}
    if scan.get("error"):
        observed["error"] = scan["error"]
        return make_result(CHECK_SCAN, "clamav", "unknown", "cannot read the scan log: %s" % scan["error"],
                           observed, threshold, "Make the scan log readable by the maintenance user.")
    last = scan.get("last_scan_end")
    if last is not None and number(last) is None:
        return unreadable_result(CHECK_SCAN, "clamav", "time of the last scan in the scan log", value=last,
                                 observed=observed)
    if last is None:
        observed["last_scan"] = "never"
        return make_result(CHECK_SCAN, "clamav", "critical",
                           "no scan recorded in %s (never scanned)" % scan.get("path"), observed, threshold,
                           "Schedule clamscan with --log=%s (for example a daily systemd timer)."
                           % policy["linux_scan_log"])
    age = _age_since(facts.get("now"), last)
    observed.update(last_scan=_iso(last), age_days=age)
    status = _grade_age(age, policy, "scan")
    return make_result(CHECK_SCAN, "clamav", status, "last scan %.1f days ago (%s)" % (age, _iso(last)),
                       observed, threshold,
                       "" if status == "ok" else "Check the scheduled clamscan job and its log.")


def _clamav_threats(facts, policy):
    scan = facts.get("scan_log") or {}
    if not policy["linux_scan_log"]:
        return make_result(CHECK_THREATS, "clamav", "skipped",
                           "no scan log set in the policy (antivirus.linux_scan_log): no scan to read threats from")
    observed = {"scan_log": scan.get("path"), "infected": scan.get("infected"), "found": scan.get("found") or []}
    if scan.get("last_scan_end") is None or scan.get("infected") is None:
        return make_result(CHECK_THREATS, "clamav", "unknown",
                           "no completed scan in the scan log: threats unknown", observed, {},
                           "Schedule clamscan with --log and let it complete once.")
    infected = number(scan["infected"])
    if infected is None or infected < 0:
        return unreadable_result(CHECK_THREATS, "clamav", "infected file count of the last scan",
                                 value=scan["infected"], observed=observed)
    if infected > 0:
        return make_result(CHECK_THREATS, "clamav", "critical",
                           "last scan (%s) found %d infected file(s): %s"
                           % (_iso(scan["last_scan_end"]), scan["infected"], "; ".join(observed["found"][:3])),
                           observed, {"infected_max": 0},
                           "Inspect and quarantine the files listed, then scan again.")
    return make_result(CHECK_THREATS, "clamav", "ok",
                       "last scan (%s) found no infected files" % _iso(scan["last_scan_end"]),
                       observed, {"infected_max": 0})


def _clamav_detection(facts, policy):
    test = facts.get("detection_test") or {}
    if not policy["detection_test"]:
        return make_result(CHECK_DETECTION, "eicar", "skipped",
                           "EICAR detection test disabled by the policy (antivirus.detection_test)")
    if not test.get("ran"):
        # The policy asked for the test: a test that could not run proved nothing.
        return make_result(CHECK_DETECTION, "eicar", "unknown",
                           "EICAR detection test asked for by the policy but not run: %s"
                           % (test.get("reason") or "no scanner"),
                           {"reason": test.get("reason")}, {"expected": "FOUND (rc 1)"},
                           "Install clamscan (or clamdscan with clamd running) so that detection can be tested.")
    observed = {"scanner": test.get("scanner"), "rc": test.get("rc"), "detection": test.get("detection"),
                "file_removed": test.get("removed"), "database_dir": test.get("database_dir"),
                "duration_s": test.get("duration_s")}
    if test.get("error"):
        observed["error"] = test["error"]
    if test.get("detection") and test.get("rc") == 1:
        status = "ok"
        summary = "EICAR test file detected by %s as %s" % (test.get("scanner"), test["detection"])
        remediation = ""
    else:
        status = "critical"
        why = test.get("error") or ("no detection (rc %s)" % test.get("rc"))
        summary = "scanner did not detect the EICAR test file: %s" % why
        remediation = "The engine or its database is broken: run freshclam, then clamscan an EICAR file by hand."
    if not test.get("removed"):
        status = worst([status, "warning"])
        summary += "; the test file %s could not be removed" % test.get("path")
        remediation = (remediation + " Remove %s by hand." % test.get("path")).strip()
    return make_result(CHECK_DETECTION, "eicar", status, summary, observed, {"expected": "FOUND (rc 1)"},
                       remediation)


def _clamav_update(facts, policy):
    update = facts.get("update")
    if not update:
        return None
    observed = {key: update.get(key) for key in ("command", "rc", "duration_s", "timeout_s", "error", "cleaned")
                if update.get(key) is not None}
    if update.get("skipped"):
        return make_result(CHECK_UPDATE, "signatures", "skipped", "freshclam not run: %s" % update["skipped"],
                           observed)
    if update.get("blocked"):
        return make_result(CHECK_UPDATE, "signatures", "warning",
                           "freshclam not run: %s" % update["blocked"], observed, {},
                           "Check the freshclam service and its log: the signatures are stale although it runs.")
    if update.get("timed_out"):
        return make_result(CHECK_UPDATE, "signatures", "warning",
                           "freshclam did not finish within %s s (no mirror reachable?); signatures not updated"
                           % update.get("timeout_s"), observed, {},
                           "Check the host's access to the ClamAV mirror (DNS, proxy, firewall) and run freshclam.")
    if update.get("rc") != 0:
        return make_result(CHECK_UPDATE, "signatures", "warning",
                           "freshclam failed (rc %s): %s" % (update.get("rc"), update.get("error") or "no message"),
                           observed, {},
                           "Check the host's access to the ClamAV mirror (DNS, proxy, firewall) and run freshclam.")
    changed = bool(update.get("changed"))
    return make_result(CHECK_UPDATE, "signatures", "ok",
                       "freshclam updated the signatures" if changed
                       else "freshclam ran: the signatures were already current",
                       observed, {}, "", changed=changed)


def evaluate_clamav(facts, policy=None):
    """Turn the facts gathered by ``clamav_facts`` into antivirus results.

    Args:
        facts: the module's raw facts (``installed``, ``databases``, ``now``...).
        policy: the ``maint_policy.antivirus`` section (defaults filled in here).

    Returns:
        A list of results in the shape of ``schemas/check_result.schema.json``.
    """
    policy = effective_policy(policy)
    if not isinstance(facts, dict):
        return [unreadable_result(CHECK_PRODUCT, "clamav", "ClamAV facts", value=facts)]
    product = _one(CHECK_PRODUCT, "clamav", _clamav_product, facts, policy)
    if not facts.get("installed"):
        skipped = "no antivirus installed"
        results = [product]
        for check in (CHECK_PROTECTION, CHECK_SIGNATURES, CHECK_SCAN, CHECK_TAMPER, CHECK_THREATS,
                      CHECK_DETECTION):
            results.append(make_result(check, "clamav" if check != CHECK_DETECTION else "eicar", "skipped",
                                       "%s: %s not checked" % (skipped, check.split(".", 1)[1])))
        return results
    # Each check is decided on its own: odd data in one costs that check, never the others.
    results = [
        product,
        _one(CHECK_PROTECTION, "clamav", _clamav_protection, facts, policy),
        _one(CHECK_SIGNATURES, "clamav", _clamav_signatures, facts, policy),
        _one(CHECK_SCAN, "clamav", _clamav_scan, facts, policy),
        make_result(CHECK_TAMPER, "clamav", "skipped", "ClamAV has no tamper protection: not applicable"),
        _one(CHECK_THREATS, "clamav", _clamav_threats, facts, policy),
        _one(CHECK_DETECTION, "eicar", _clamav_detection, facts, policy),
    ]
    try:
        update = _clamav_update(facts, policy)
    except DATA_ERRORS as exc:
        update = unreadable_result(CHECK_UPDATE, "signatures", "freshclam run facts", error=exc)
    if update:
        results.append(update)
    return results


def _one(check, item, func, *args):
    """Decide one check with ``guarded``: its result, or one unknown result on odd data."""
    return guarded(check, item, func, *args)[0]


# --------------------------------------------------------------------------- Defender normalising
_DATE_MS_RE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_RUNNING_MODES = {
    "normal": "normal",
    "passive": "passive",
    "passive mode": "passive",
    "sxs passive mode": "sxs_passive",
    "sxs passive": "sxs_passive",
    "edr block mode": "edr_block",
    "edr block": "edr_block",
    "not running": "not_running",
}
_THREAT_STATUS = {
    0: "unknown", 1: "detected", 2: "cleaned", 3: "quarantined", 4: "removed", 5: "allowed", 6: "blocked",
    102: "clean_failed", 103: "quarantine_failed", 104: "remove_failed", 105: "allow_failed",
    106: "abandoned", 107: "block_failed",
}
_THREAT_STATUS_BY_NAME = {name.replace("_", ""): name for name in _THREAT_STATUS.values()}
_THREAT_UNREMEDIATED = {"unknown", "detected", "clean_failed", "quarantine_failed", "remove_failed",
                        "allow_failed", "abandoned", "block_failed"}
_THREAT_REMEDIATED = {"cleaned", "quarantined", "removed", "blocked"}


def parse_ps_date(value):
    """Parse a PowerShell-serialised date into UTC epoch seconds (or None).

    Accepts Windows PowerShell 5.1's ``/Date(1700000000000)/`` (with an optional
    ``+0100`` suffix; the milliseconds are UTC), its object form
    ``{"value": "/Date(...)/", "DateTime": "..."}``, and PowerShell 7's ISO 8601 strings
    (``2023-11-14T22:13:20.1234567+01:00``, ``...Z``, or naive, read as UTC).
    """
    if isinstance(value, dict):
        value = value.get("value", value.get("DateTime"))
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    match = _DATE_MS_RE.match(value)
    if match:
        ms = int(match.group(1))
        return None if ms <= 0 else ms / 1000.0
    iso = value.replace("Z", "+00:00")
    iso = re.sub(r"(\.\d{6})\d+", r"\1", iso)
    try:
        moment = datetime.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    epoch = moment.timestamp()
    # 1601-01-01 (FILETIME zero) and 1600-12-31 mean "not set".
    return None if epoch < 0 else epoch


def _bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    return None


def _int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = number(value)
        return None if value is None else int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _age_days_or_never(value):
    """Defender ages in days: None when missing, ``inf`` for never (4294967295 or >= 65535)."""
    age = _int(value)
    if age is None:
        return None
    if age >= _NEVER_FLOOR or age < 0:
        return float("inf")
    return age


def running_mode(value):
    """Normalise AMRunningMode ("Normal", "Passive Mode", "EDR Block Mode"...) to a short name."""
    if isinstance(value, str):
        return _RUNNING_MODES.get(value.strip().lower(), value.strip().lower() or None)
    return None


def decode_product_state(state):
    """Decode a SecurityCenter2 ``productState`` (WSC_SECURITY_PRODUCT_STATE bit fields).

    Bits 12-15 hold the scanner state (0 off, 1 on, 2 snoozed, 3 expired), bits 8-11 the
    owner (1 = Windows / Microsoft) and bits 4-7 the signature status (0 up to date,
    1 out of date). 397568 (0x61100) is "on, up to date"; 393472 (0x60100) is "off".
    """
    value = _int(state)
    if value is None and isinstance(state, str) and state.lower().startswith("0x"):
        try:
            value = int(state, 16)
        except ValueError:
            value = None
    if value is None:
        return None
    scanner = (value >> 12) & 0xF
    signatures = (value >> 4) & 0xF
    return {
        "state": value,
        "hex": "0x%06X" % value,
        "scanner": {0: "off", 1: "on", 2: "snoozed", 3: "expired"}.get(scanner, "unknown"),
        "enabled": scanner == 1,
        "up_to_date": signatures == 0,
        "microsoft": ((value >> 8) & 0xF) == 1,
    }


def _threat_status(value):
    number = _int(value)
    if number is not None:
        return _THREAT_STATUS.get(number, "unknown")
    if isinstance(value, str):
        return _THREAT_STATUS_BY_NAME.get(value.replace("_", "").replace(" ", "").lower(), "unknown")
    return "unknown"


_STATUS_BOOLS = ("AMServiceEnabled", "AntivirusEnabled", "AntispywareEnabled", "RealTimeProtectionEnabled",
                 "OnAccessProtectionEnabled", "IoavProtectionEnabled", "BehaviorMonitorEnabled",
                 "IsTamperProtected", "DefenderSignaturesOutOfDate", "NISEnabled")
_STATUS_STRINGS = ("AMEngineVersion", "AMProductVersion", "AMServiceVersion", "AntivirusSignatureVersion",
                   "NISEngineVersion", "ComputerID")


def normalize_computer_status(raw):
    """Normalise ``Get-MpComputerStatus`` (any serialisation) into plain typed values.

    Defender platforms before 4.18 (4.10.x: Windows 10 1607, Windows Server 2016 without
    the platform update) have no ``AMRunningMode``: there is no passive mode to report.
    When it is absent (or null, as the collector's Select-Object writes a missing
    property) and the service and the antivirus are both enabled, Defender is the active
    antivirus: the mode is read as ``normal`` and ``AMRunningModeInferred`` is set.
    """
    status = {key: _bool(raw.get(key)) for key in _STATUS_BOOLS}
    status.update({key: raw.get(key) if isinstance(raw.get(key), str) else None for key in _STATUS_STRINGS})
    status["AMRunningMode"] = running_mode(raw.get("AMRunningMode"))
    status["AMRunningModeInferred"] = False
    if raw.get("AMRunningMode") is None and status["AMServiceEnabled"] and status["AntivirusEnabled"]:
        status["AMRunningMode"] = "normal"
        status["AMRunningModeInferred"] = True
    status["AntivirusSignatureAge"] = _age_days_or_never(raw.get("AntivirusSignatureAge"))
    status["QuickScanAge"] = _age_days_or_never(raw.get("QuickScanAge"))
    status["FullScanAge"] = _age_days_or_never(raw.get("FullScanAge"))
    for key in ("AntivirusSignatureLastUpdated", "QuickScanEndTime", "FullScanEndTime"):
        status[key] = parse_ps_date(raw.get(key))
    return status


def _looks_like_status(data):
    return isinstance(data, dict) and any(key in data for key in (
        "AMServiceEnabled", "AntivirusEnabled", "RealTimeProtectionEnabled", "AntivirusSignatureAge"))


def defender_facts_from_json(data):
    """Recognise the accepted input shapes and return ``(facts, error)``.

    Accepted: the module's return (``{"defender": {...}}``), its ``defender`` dict
    (``{"computer_status": {...}, "threats": [...], "products": [...]}``), or a plain
    ``Get-MpComputerStatus | ConvertTo-Json`` object (or a one-element list of it).
    """
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, dict) and isinstance(data.get("defender"), dict):
        data = data["defender"]
    if isinstance(data, dict) and "computer_status" in data:
        if data["computer_status"] is not None and not _looks_like_status(data["computer_status"]):
            return None, "computer_status holds no Get-MpComputerStatus fields"
        return data, None
    if _looks_like_status(data):
        return {"computer_status": data, "threats": None, "active_threats": None, "products": None,
                "source": "Get-MpComputerStatus"}, None
    return None, "not Get-MpComputerStatus output nor the collector's JSON (no AMServiceEnabled, " \
                 "AntivirusEnabled or RealTimeProtectionEnabled field)"


# --------------------------------------------------------------------------- Defender decide
def defender_remediation_args(policy):
    """The win_defender_facts options that carry the policy's remediation choices."""
    policy = effective_policy(policy)
    return {
        "update_signatures": bool(policy["update_signatures"]),
        "update_if_age_days": int(policy["signature_warn_days"]),
        "quick_scan_after_days": int(policy["quick_scan_after_days"]),
        "threat_days": int(policy["threat_days"]),
    }


def _third_party(products):
    """Enabled non-Microsoft products from SecurityCenter2 (None when SecurityCenter2 was not read)."""
    if products is None:
        return None
    active = []
    for product in _products(products):
        decoded = decode_product_state(product.get("productState"))
        if decoded and decoded["enabled"] and not decoded["microsoft"]:
            active.append({"name": product.get("displayName") or "unnamed product", **decoded})
    return active


def _products(products):
    """The SecurityCenter2 entries that are mappings (one dict alone is a list of one)."""
    if isinstance(products, dict):
        products = [products]
    return [p for p in products if isinstance(p, dict)] if isinstance(products, list) else []


def _products_observed(products):
    if products is None:
        return None
    listed = []
    for product in _products(products):
        decoded = decode_product_state(product.get("productState")) or {}
        listed.append({"name": product.get("displayName"), "state": decoded.get("hex"),
                       "scanner": decoded.get("scanner"), "up_to_date": decoded.get("up_to_date")})
    return listed


def _defender_product(st, products, third):
    mode = st["AMRunningMode"]
    observed = {"defender_mode": mode, "AMServiceEnabled": st["AMServiceEnabled"],
                "AntivirusEnabled": st["AntivirusEnabled"], "AMProductVersion": st["AMProductVersion"],
                "AMEngineVersion": st["AMEngineVersion"], "securitycenter_products": _products_observed(products)}
    defender_active = mode == "normal" and st["AMServiceEnabled"] and st["AntivirusEnabled"]
    if defender_active:
        how = "normal mode"
        if st.get("AMRunningModeInferred"):
            how = "no AMRunningMode on this platform; service and antivirus enabled"
            observed["defender_mode_inferred"] = True
        return make_result(CHECK_PRODUCT, "defender", "ok",
                           "Microsoft Defender Antivirus active (%s), product %s, engine %s"
                           % (how, st["AMProductVersion"], st["AMEngineVersion"]), observed)
    if third:
        names = ", ".join("%s (%s)" % (p["name"], p["hex"]) for p in third)
        return make_result(CHECK_PRODUCT, "third_party", "ok",
                           "active antivirus: %s; Microsoft Defender in %s mode" % (names, mode or "unknown"),
                           observed)
    if mode is None and st["AntivirusEnabled"] is None and st["AMServiceEnabled"] is None:
        return make_result(CHECK_PRODUCT, "defender", "unknown",
                           "Defender's running mode and state could not be read", observed, {},
                           "Run Get-MpComputerStatus on the host and check the Defender service (WinDefend).")
    if products is None and mode in ("passive", "sxs_passive", "edr_block"):
        return make_result(CHECK_PRODUCT, "defender", "unknown",
                           "Microsoft Defender in %s mode and SecurityCenter2 not available (Windows Server?): "
                           "cannot confirm that another antivirus is active" % mode, observed, {},
                           "Confirm the third-party antivirus on this host by hand.")
    return make_result(CHECK_PRODUCT, "defender", "critical",
                       "no active antivirus: Microsoft Defender %s (service %s, antivirus %s) and no other "
                       "enabled product in SecurityCenter2"
                       % ("mode " + str(mode), _onoff(st["AMServiceEnabled"]), _onoff(st["AntivirusEnabled"])),
                       observed, {},
                       "Re-enable Microsoft Defender Antivirus (or install the client's antivirus) at once.")


def _onoff(value):
    return {True: "on", False: "off"}.get(value, "unknown")


_PASSIVE_MODES = ("passive", "sxs_passive", "edr_block")


def _defender_protection(st, third):
    if st["AMRunningMode"] != "normal" and third:
        return make_result(CHECK_PROTECTION, "third_party", "ok",
                           "real-time protection by %s (SecurityCenter2 reports it on)"
                           % ", ".join(p["name"] for p in third),
                           {"products": [p["name"] for p in third], "defender_mode": st["AMRunningMode"]})
    if st["AMRunningMode"] in _PASSIVE_MODES:
        observed = {"defender_mode": st["AMRunningMode"], "securitycenter": third is not None}
        if third is None:
            return make_result(CHECK_PROTECTION, "defender", "unknown",
                               "Microsoft Defender in %s mode and SecurityCenter2 not available: the active "
                               "product's real-time protection cannot be read" % st["AMRunningMode"], observed, {},
                               "Check the third-party antivirus' console for this host.")
        return make_result(CHECK_PROTECTION, "defender", "critical",
                           "no real-time protection: Microsoft Defender in %s mode and no other product enabled"
                           % st["AMRunningMode"], observed, {},
                           "Re-enable the third-party antivirus, or return Defender to normal mode.")
    observed = {key: st[key] for key in ("RealTimeProtectionEnabled", "OnAccessProtectionEnabled",
                                         "IoavProtectionEnabled", "BehaviorMonitorEnabled", "AMRunningMode")}
    rtp = st["RealTimeProtectionEnabled"]
    if rtp is None:
        return make_result(CHECK_PROTECTION, "defender", "unknown", "real-time protection state not read",
                           observed, {}, "Run Get-MpComputerStatus on the host.")
    if not rtp:
        return make_result(CHECK_PROTECTION, "defender", "critical", "real-time protection is off", observed,
                           {"RealTimeProtectionEnabled": True},
                           "Turn real-time protection back on (Set-MpPreference -DisableRealtimeMonitoring "
                           "$false) and find out who turned it off.")
    off = [key for key in ("OnAccessProtectionEnabled", "IoavProtectionEnabled", "BehaviorMonitorEnabled")
           if st[key] is False]
    if off:
        return make_result(CHECK_PROTECTION, "defender", "warning",
                           "real-time protection on, but off: %s" % ", ".join(off), observed,
                           {"RealTimeProtectionEnabled": True},
                           "Re-enable the components listed (Set-MpPreference).")
    return make_result(CHECK_PROTECTION, "defender", "ok", "real-time protection on", observed,
                       {"RealTimeProtectionEnabled": True})


def _fmt_age(age):
    if age == float("inf"):
        return "never"
    return "%s day%s" % (age, "" if age == 1 else "s")


def _defender_signatures(st, third, policy):
    threshold = _age_threshold(policy, "signature")
    if st["AMRunningMode"] != "normal" and third:
        stale = [p["name"] for p in third if not p["up_to_date"]]
        observed = {"products": [{"name": p["name"], "up_to_date": p["up_to_date"]} for p in third]}
        if stale:
            return make_result(CHECK_SIGNATURES, "third_party", "warning",
                               "SecurityCenter2 reports out-of-date signatures for %s" % ", ".join(stale),
                               observed, threshold, "Update the antivirus product's signatures.")
        return make_result(CHECK_SIGNATURES, "third_party", "ok",
                           "SecurityCenter2 reports up-to-date signatures for %s (age in days not exposed)"
                           % ", ".join(p["name"] for p in third), observed, threshold)
    age = st["AntivirusSignatureAge"]
    observed = {"age_days": "never" if age == float("inf") else age,
                "AntivirusSignatureVersion": st["AntivirusSignatureVersion"],
                "AntivirusSignatureLastUpdated": _iso(st["AntivirusSignatureLastUpdated"]),
                "DefenderSignaturesOutOfDate": st["DefenderSignaturesOutOfDate"]}
    status = _grade_age(age, policy, "signature")
    if status == "unknown":
        return make_result(CHECK_SIGNATURES, "defender", "unknown", "signature age not read", observed,
                           threshold, "Run Get-MpComputerStatus on the host.")
    summary = "signatures %s old (version %s)" % (_fmt_age(age), st["AntivirusSignatureVersion"])
    if age == float("inf"):
        summary = "signatures never updated"
    if st["DefenderSignaturesOutOfDate"]:
        status = worst([status, "warning"])
        summary += "; Defender reports its signatures out of date"
    return make_result(CHECK_SIGNATURES, "defender", status, summary, observed, threshold,
                       "" if status == "ok" else
                       "Run Update-MpSignature and check the update source (WSUS, MMPC, UNC share).")


def _defender_scan(st, third, policy):
    threshold = _age_threshold(policy, "scan")
    if st["AMRunningMode"] != "normal" and third:
        return make_result(CHECK_SCAN, "third_party", "skipped",
                           "scan history of %s is not exposed to Windows; Defender is passive"
                           % ", ".join(p["name"] for p in third), {}, threshold)
    if st["AMRunningMode"] in _PASSIVE_MODES and third is None:
        return make_result(CHECK_SCAN, "defender", "unknown",
                           "Microsoft Defender in %s mode does not scan, and the active product is not "
                           "readable (no SecurityCenter2)" % st["AMRunningMode"], {}, threshold,
                           "Check the third-party antivirus' scan schedule for this host.")
    quick, full = st["QuickScanAge"], st["FullScanAge"]
    observed = {"QuickScanAge": "never" if quick == float("inf") else quick,
                "FullScanAge": "never" if full == float("inf") else full,
                "QuickScanEndTime": _iso(st["QuickScanEndTime"]), "FullScanEndTime": _iso(st["FullScanEndTime"])}
    known = [age for age in (quick, full) if age is not None]
    if not known:
        # A missing scan age means "never" (Defender leaves it empty before the first scan).
        known = [float("inf")]
        observed["note"] = "no scan age in the input: read as never scanned"
    age = min(known)
    status = _grade_age(age, policy, "scan")
    summary = "never scanned (no quick or full scan recorded)" if age == float("inf") else \
        "last scan %s ago (quick %s, full %s)" % (_fmt_age(age), _fmt_age(quick) if quick is not None else "n/a",
                                                       _fmt_age(full) if full is not None else "n/a")
    return make_result(CHECK_SCAN, "defender", status, summary, observed, threshold,
                       "" if status == "ok" else
                       "Start a quick scan (Start-MpScan -ScanType QuickScan) and check the scheduled scan.")


def _defender_tamper(st, third, policy):
    if st["AMRunningMode"] in _PASSIVE_MODES or (st["AMRunningMode"] != "normal" and third):
        return make_result(CHECK_TAMPER, "defender", "skipped",
                           "Defender is passive; tamper protection belongs to the active product")
    value = st["IsTamperProtected"]
    threshold = {"IsTamperProtected": True, "off_status": policy["tamper_protection_off_status"]}
    if value is None:
        return make_result(CHECK_TAMPER, "defender", "unknown",
                           "tamper protection state not reported (IsTamperProtected missing)", {}, threshold,
                           "Update the Defender platform (KB4052623) so that it reports tamper protection.")
    if value:
        return make_result(CHECK_TAMPER, "defender", "ok", "tamper protection on", {"IsTamperProtected": True},
                           threshold)
    status = policy["tamper_protection_off_status"]
    return make_result(CHECK_TAMPER, "defender", status, "tamper protection off", {"IsTamperProtected": False},
                       threshold, "Turn tamper protection on (Windows Security or Intune/Defender portal).")


def _threat_names(active_threats):
    names = {}
    for threat in active_threats or []:
        if isinstance(threat, dict) and threat.get("ThreatID") is not None:
            names[str(threat.get("ThreatID"))] = threat.get("ThreatName")
    return names


def _classify_threats(detections, active):
    """Split detections into unremediated, remediated and allowed lists."""
    names = _threat_names(active)
    unremediated, remediated, allowed = [], [], []
    for det in detections or []:
        if not isinstance(det, dict):
            continue
        state = _threat_status(det.get("ThreatStatusID", det.get("ThreatStatus")))
        name = det.get("ThreatName") or names.get(str(det.get("ThreatID"))) or "threat %s" % det.get("ThreatID")
        entry = {"name": name, "status": state,
                 "detected": _iso(parse_ps_date(det.get("InitialDetectionTime"))),
                 "resources": (det.get("Resources") or [])[:3] if isinstance(det.get("Resources"), list)
                 else det.get("Resources"),
                 "action_success": _bool(det.get("ActionSuccess"))}
        if state in _THREAT_UNREMEDIATED or entry["action_success"] is False:
            unremediated.append(entry)
        elif state == "allowed":
            allowed.append(entry)
        else:
            remediated.append(entry)
    for threat in active or []:
        if isinstance(threat, dict) and _bool(threat.get("IsActive")):
            name = threat.get("ThreatName") or "threat %s" % threat.get("ThreatID")
            if not any(entry["name"] == name for entry in unremediated):
                unremediated.append({"name": name, "status": "active",
                                     "did_execute": _bool(threat.get("DidThreatExecute"))})
    return unremediated, remediated, allowed


def _defender_threats(facts, policy):
    detections = facts.get("threats")
    active = facts.get("active_threats")
    threshold = {"threat_days": policy["threat_days"], "remediated_status": policy["remediated_threat_status"]}
    if detections is None and active is None:
        return make_result(CHECK_THREATS, "defender", "unknown",
                           "threat detections not in the input (Get-MpThreatDetection not collected)", {},
                           threshold, "Collect with the role, or add Get-MpThreatDetection to the saved output.")
    unremediated, remediated, allowed = _classify_threats(detections, active)
    observed = {"unremediated": unremediated[:10], "remediated": remediated[:10], "allowed": allowed[:10],
                "days": policy["threat_days"]}
    if unremediated:
        return make_result(CHECK_THREATS, "defender", "critical",
                           "%d active or unremediated threat(s): %s"
                           % (len(unremediated), ", ".join(e["name"] for e in unremediated[:3])),
                           observed, threshold,
                           "Investigate the host now: run a full scan, remove the threat, find the entry point.")
    if remediated or allowed:
        status = policy["remediated_threat_status"]
        parts = []
        if remediated:
            parts.append("%d remediated" % len(remediated))
        if allowed:
            parts.append("%d allowed by a user" % len(allowed))
            status = worst([status, "warning"])
        return make_result(CHECK_THREATS, "defender", status,
                           "threats in the last %s days: %s (%s)"
                           % (policy["threat_days"], ", ".join(parts),
                              ", ".join(e["name"] for e in (remediated + allowed)[:3])),
                           observed, threshold, "Review the detections and how the threat arrived.")
    return make_result(CHECK_THREATS, "defender", "ok",
                       "no threat detected in the last %s days" % policy["threat_days"], observed, threshold)


def _defender_updates(facts):
    results = []
    remediation = facts.get("remediation") or {}
    labels = {"signatures": "signature update (Update-MpSignature)", "quick_scan": "quick scan (Start-MpScan)"}
    for item in ("signatures", "quick_scan"):
        action = remediation.get(item)
        if not isinstance(action, dict) or not action.get("attempted"):
            if isinstance(action, dict) and action.get("skipped"):
                results.append(make_result(CHECK_UPDATE, item, "skipped",
                                           "%s not run: %s" % (labels[item], action["skipped"])))
            continue
        observed = {key: action.get(key) for key in ("before", "after", "error", "duration_s", "started",
                                                     "completed", "job_state")
                    if action.get(key) is not None}
        if action.get("started") and not action.get("error"):
            # Started in the background (Start-MpScan -AsJob): not done, and not claimed as done.
            results.append(make_result(CHECK_UPDATE, item, "ok",
                                       "%s %s (job %s); the next run reads its result in the scan age"
                                       % (labels[item], "completed" if action.get("completed")
                                          else "started in the background", action.get("job_state") or "?"),
                                       observed, {}, "", changed=True))
            continue
        if action.get("error"):
            results.append(make_result(CHECK_UPDATE, item, "warning",
                                       "%s failed: %s" % (labels[item], action["error"]), observed, {},
                                       "Check the host's update source and run it by hand.",
                                       changed=bool(action.get("changed"))))
        else:
            results.append(make_result(CHECK_UPDATE, item, "ok",
                                       "%s done%s" % (labels[item], "" if action.get("changed")
                                                      else ": nothing new"),
                                       observed, {}, "", changed=bool(action.get("changed"))))
    return results


def evaluate_defender(facts, policy=None):
    """Turn collected Defender facts into antivirus results.

    Args:
        facts: ``{"computer_status": {...}, "threats": [...]|None, "active_threats": [...]|None,
            "products": [...]|None, "remediation": {...}}``; ``threats`` and ``products`` are
            ``None`` when they were not collected (SecurityCenter2 is absent on Windows Server).
        policy: the ``maint_policy.antivirus`` section.

    Returns:
        A list of results.
    """
    policy = effective_policy(policy)
    facts = facts if isinstance(facts, dict) else {"error": "the collected facts are not a mapping"}
    raw = facts.get("computer_status")
    if not isinstance(raw, dict) or not raw:
        error = facts.get("error") or "Get-MpComputerStatus returned nothing"
        results = [make_result(CHECK_PRODUCT, "defender", "unknown",
                               "Defender status not read: %s" % error, {"error": error}, {},
                               "Run Get-MpComputerStatus on the host; check that the Defender module exists.")]
        products = facts.get("products")
        third = _third_party(products)
        if third:
            results[0] = make_result(CHECK_PRODUCT, "third_party", "ok",
                                     "active antivirus: %s (Defender status not read: %s)"
                                     % (", ".join(p["name"] for p in third), error),
                                     {"securitycenter_products": _products_observed(products)})
        return results
    st = normalize_computer_status(raw)
    products = facts.get("products")
    third = _third_party(products)
    # Each check is decided on its own: odd data in one costs that check, never the others.
    results = [
        _one(CHECK_PRODUCT, "defender", _defender_product, st, products, third),
        _one(CHECK_PROTECTION, "defender", _defender_protection, st, third),
        _one(CHECK_SIGNATURES, "defender", _defender_signatures, st, third, policy),
        _one(CHECK_SCAN, "defender", _defender_scan, st, third, policy),
        _one(CHECK_TAMPER, "defender", _defender_tamper, st, third, policy),
        _one(CHECK_THREATS, "defender", _defender_threats, facts, policy),
    ]
    results.extend(guarded(CHECK_UPDATE, "", _defender_updates, facts))
    return results


def _decode_text(text):
    """Undo the encodings a saved PowerShell file arrives in (BOM, UTF-16 read as UTF-8)."""
    text = text or ""
    if "\x00" in text:
        # UTF-16LE (Windows PowerShell 5.1's `>` redirection) read as UTF-8 with replacement.
        text = text.replace("\x00", "")
    return text.lstrip("\ufeff\ufffd\ufffe\xff\xfe").strip()


def evaluate_defender_text(text, source="input"):
    """Evaluate one saved file for ``maintctl evaluate defender``.

    Accepts the collector's JSON and plain ``Get-MpComputerStatus | ConvertTo-Json`` output
    from Windows PowerShell 5.1 or PowerShell 7. Empty or unreadable input gives one
    ``unknown`` result whose summary says why.
    """
    body = _decode_text(text)
    if not body:
        return [make_result(CHECK_PRODUCT, "defender", "unknown", "%s: empty input, nothing to evaluate" % source,
                            {"source": source}, {},
                            "Save the output of: Get-MpComputerStatus | ConvertTo-Json")]
    try:
        data = json.loads(body)
    except ValueError as exc:
        return [make_result(CHECK_PRODUCT, "defender", "unknown",
                            "%s: not JSON (%s at line %s), nothing evaluated" % (source, exc.msg, exc.lineno),
                            {"source": source}, {},
                            "Save the output of: Get-MpComputerStatus | ConvertTo-Json")]
    facts, error = defender_facts_from_json(data)
    if facts is None:
        return [make_result(CHECK_PRODUCT, "defender", "unknown", "%s: %s" % (source, error),
                            {"source": source}, {},
                            "Save the output of: Get-MpComputerStatus | ConvertTo-Json")]
    return evaluate_defender(facts)


def validate_policy(section):
    """Semantic checks of the policy's ``antivirus`` section for ``maintctl validate``.

    Returns:
        One line per problem (empty when the section is valid).
    """
    try:
        effective_policy(section)
    except PolicyError as exc:
        return ["maint_policy.antivirus: %s" % exc]
    return []
