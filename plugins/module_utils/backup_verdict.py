# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The verdicts of the backup checks, from the raw facts a collector returns for one source.

Pure Python, no I/O. :func:`freshness`, :func:`restore_sample` and :func:`integrity` each
return one result; ``backup_decide.decide`` calls them, each on its own, with the check's
entry of ``backup_decide.CHECKS`` (its id, its policy defaults and its default remediation),
so that this file restates none of them. The readers of the tools' output that
the collectors share with these verdicts live here too, so that the rules are written once:
the error kinds and the status each gives (:func:`classify_error`, :func:`error_lines`), times
(:func:`parse_time`, :func:`iso`) and :func:`redact_location`.
"""

from __future__ import annotations

import datetime
import re

try:
    from ansible.module_utils.backup_policy import SCRATCH_BASE
    from ansible.module_utils.maint_result import DATA_ERRORS, M_, make_result, number, unreadable_result, worst
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils.backup_policy import SCRATCH_BASE
    from maint_utils.maint_result import DATA_ERRORS, M_, make_result, number, unreadable_result, worst

# Error kinds a collector reports, and the status each gives.
ERROR_KINDS = {
    "wrong_password": "critical",
    "password_missing": "critical",
    "repository_missing": "critical",
    "tool_missing": "unknown",
    "locked": "unknown",
    "timeout": "critical",
    "scratch_unsafe": "unknown",
    "unreadable": "unknown",
    "other": "critical",
}
_ERROR_PATTERNS = (
    ("wrong_password", re.compile(r"wrong password|passphrase supplied in .* is incorrect|"
                                  r"passphrase .*incorrect|no key found", re.I)),
    ("password_missing", re.compile(r"enter passphrase|Enter password|password is empty|"
                                    r"no password|Resolving password failed", re.I)),
    ("repository_missing", re.compile(r"does not exist|is not a valid repository|"
                                      r"Is there a repository|unable to open config file|no such file", re.I)),
    ("locked", re.compile(r"already locked|Failed to create/acquire the lock|unable to create lock|"
                          r"lock timeout", re.I)),
)
ERROR_TEXT = {
    "wrong_password": "wrong password: the repository rejects the password on record",
    "password_missing": "no password available for the repository",
    "repository_missing": "repository not found",
    "tool_missing": "backup tool not installed on the host",
    "locked": "repository is locked by another process",
    "timeout": "the command did not finish in time",
    "scratch_unsafe": "scratch folder refused for safety",
    "unreadable": "the tool's output could not be read",
    "other": "command failed",
}
REMEDIATION = {
    "wrong_password": "Check the password in the client's vault against the one the backup job uses; "
                      "a backup nobody can decrypt is not a backup.",
    "password_missing": "Define the vault variable or password file named in the policy.",
    "repository_missing": "Check that the repository path in the policy is right and the storage is mounted.",
    "tool_missing": "Install restic/borg on the host (the same version the backup job uses).",
    "locked": "A backup or prune was running; re-run the test outside the backup window.",
    "timeout": "Raise timeout_seconds or reduce the sample; a slow restore is RTO evidence too.",
    "scratch_unsafe": "Fix scratch_root in the policy: a real folder under %s, outside the source." % SCRATCH_BASE,
    "unreadable": "Run the same command by hand on the host: the tool printed something unexpected "
                  "(another version, a damaged repository).",
    "other": "Read the error and run the tool by hand on the host.",
}

def redact_location(location):
    """Drop credentials from a repository location (``rest:https://user:pw@host/``)."""
    if not isinstance(location, str):
        return ""
    return re.sub(r"(://)[^/@\s]*@", r"\1***@", location)


def classify_error(text):
    """Return the error kind of a restic/borg error message (see ``ERROR_KINDS``)."""
    for kind, pattern in _ERROR_PATTERNS:
        if pattern.search(text if isinstance(text, str) else ""):
            return kind
    return "other"


def error_lines(text, limit=10):
    """Return the meaningful lines of a tool's output (errors first), bounded."""
    lines = []
    for line in (text if isinstance(text, str) else "").splitlines():
        line = " ".join(line.split())
        if not line or line.startswith("[") or "%" in line[:8]:
            continue  # progress bars
        lines.append(line[:300])
    picked = [ln for ln in lines if re.search(r"error|fatal|fail|mismatch|invalid|corrupt|does not match|"
                                               r"damaged|checksum|missing", ln, re.I)]
    return (picked or lines)[-limit:]


# -- times ------------------------------------------------------------------
_ISO_RE = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?$"
)
EPOCH = datetime.datetime(1970, 1, 1)


def parse_time(text, naive_offset_seconds=0):
    """Return epoch seconds of an ISO/RFC 3339 time (nanoseconds allowed), or ``None``.

    A time without offset (borg's local times) is taken as UTC plus
    ``naive_offset_seconds`` (the host's UTC offset).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) if text == text and abs(text) < 1e11 else None  # NaN, inf, absurd
    match = _ISO_RE.match(str(text or "").strip())
    if not match:
        return None
    year, month, day, hour, minute, sec, frac, zone = match.groups()
    try:
        stamp = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(sec))
    except ValueError:
        return None  # matches the shape but is no date (month 13, 31 February)
    seconds = (stamp - EPOCH).total_seconds() + (float("0." + frac) if frac else 0.0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    elif not zone:
        seconds -= naive_offset_seconds
    return seconds


def iso(epoch):
    """Return epoch seconds as ISO 8601 UTC with a Z suffix (``None`` stays ``None``)."""
    if epoch is None:
        return None
    stamp = EPOCH + datetime.timedelta(seconds=int(epoch))
    return stamp.isoformat() + "Z"


# -- decide -----------------------------------------------------------------
def _label(facts):
    cfg = facts.get("config") or {}
    return "%s %s" % (cfg.get("type") or facts.get("type") or "backup", redact_location(cfg.get("repository")))


def _error_status(error):
    return ERROR_KINDS.get((error or {}).get("kind"), "critical")


def _error_summary(error):
    kind = (error or {}).get("kind") or "other"
    text = ERROR_TEXT.get(kind, ERROR_TEXT["other"])
    detail = (error or {}).get("message") or ""
    shown = ("other", "timeout", "scratch_unsafe", "unreadable")
    return "%s (%s)" % (text, detail[:200]) if detail and kind in shown else text


def freshness(check, facts, now):
    """Return the ``backup.freshness`` result of one source (``check``: its catalogue entry)."""
    cfg = facts.get("config") or {}
    rpo = number(cfg.get("rpo_hours")) or float(check.policy["rpo_hours"])  # NaN would make every age fresh
    threshold = {"rpo_hours": rpo}
    name = cfg.get("name") or ""
    observed = {"type": cfg.get("type"), "repository": redact_location(cfg.get("repository"))}
    error = facts.get("error")
    snap = facts.get("snapshot")
    if error and error.get("stage") in ("open", "snapshots", "setup"):
        status = _error_status(error)
        observed["error"] = error.get("kind")
        return make_result(check.id, name, status,
                           "%s: cannot read the snapshots: %s" % (_label(facts), _error_summary(error)),
                           observed, threshold, REMEDIATION.get(error.get("kind"), REMEDIATION["other"]))
    when = parse_time(snap.get("time")) if isinstance(snap, dict) else None
    if isinstance(snap, dict) and when is None:
        observed.update({"snapshot_id": snap.get("id"), "snapshot_time": str(snap.get("time"))[:64],
                         "error": "unreadable"})
        return make_result(check.id, name, "unknown",
                           "%s: newest snapshot %s found but its time %r could not be read" % (
                               _label(facts), snap.get("id"), str(snap.get("time"))[:40]),
                           observed, threshold, REMEDIATION["unreadable"])
    if not isinstance(snap, dict) or not snap:
        observed["snapshots"] = facts.get("snapshot_count") if isinstance(facts.get("snapshot_count"), int) else 0
        what = (M_("%(source)s: no file in the copy folder", source=_label(facts)) if cfg.get("type") == "copy"
                else M_("%(source)s: no snapshot at all", source=_label(facts)))
        return make_result(check.id, name, "critical", what,
                           observed, threshold,
                           "Check the backup job: it has never written to this repository, or writes elsewhere.")
    if number(now) is None:
        return unreadable_result(check.id, name, "the collector's clock (now)", value=now,
                                 observed=observed, remediation=REMEDIATION["unreadable"])
    age_h = round((now - when) / 3600.0, 2)
    observed.update({"snapshot_id": snap.get("id"), "snapshot_time": iso(when), "age_hours": age_h,
                     "snapshots": int(facts.get("snapshot_count") or 1)})
    if age_h < -1:
        return make_result(check.id, name, "warning",
                           M_("%(source)s: newest snapshot is %(hours)s h in the future (clock skew?)",
                              source=_label(facts), hours=round(-age_h, 1)),
                           observed, threshold, "Check the clocks of the host and of the backup server.")
    if age_h > rpo:
        return make_result(check.id, name, "critical",
                           M_("%(source)s: newest snapshot is %(hours)s h old, over the RPO of %(rpo)s h",
                              source=_label(facts), hours=round(age_h, 1), rpo=_plain(rpo)),
                           observed, threshold, check.remediation)
    return make_result(check.id, name, "ok",
                       M_("%(source)s: newest snapshot is %(hours)s h old (RPO %(rpo)s h)", source=_label(facts),
                          hours=round(age_h, 1), rpo=_plain(rpo)),
                       observed, threshold)


def _plain(value):
    """A number as ``%g`` shows it: 24.0 is 24 (a message parameter stays a number)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _unreadable_size(entry):
    """Return why a sampled file's sizes cannot be read, or None."""
    for label, key in (("size", "size"), ("restored size", "restored_size")):
        raw = entry.get(key)
        if raw is not None and number(raw) is None:
            return "%s %r unreadable" % (label, str(raw)[:40])
    return None


def _file_verdict(entry, kind, snapshot_time, tool_verified):
    """Return (status, checks, note) for one sampled file.

    status: verified | restored_unverified | changed_since_backup | missing |
    size_mismatch | checksum_mismatch | unreadable (a value of the facts nobody can read).
    """
    checks = []
    if not entry.get("restored"):
        return "missing", checks, entry.get("error") or "not restored"
    size, got_size, got_sha = entry.get("size"), entry.get("restored_size"), entry.get("restored_sha256")
    if size is not None and got_size is not None and int(number(size) or 0) != int(number(got_size) or 0):
        return "size_mismatch", checks, "restored %s bytes, snapshot says %s" % (got_size, size)
    if entry.get("sha256"):
        if entry["sha256"] != got_sha:
            return "checksum_mismatch", checks, "SHA-256 differs from the snapshot's metadata"
        checks.append("snapshot sha256")
    if tool_verified:
        checks.append("restic restore --verify")
    live = entry.get("live") or {}
    note = ""
    status = None
    if live.get("exists"):
        reference = entry.get("mtime") if kind == "copy" else snapshot_time
        reference = parse_time(reference) if reference is not None else None
        live_mtime = parse_time(live.get("mtime"))
        unchanged = reference is not None and live_mtime is not None and live_mtime <= reference
        if live.get("sha256") and live.get("sha256") == got_sha:
            checks.append("live source")
        elif unchanged:
            return "checksum_mismatch", checks, "differs from the live file, which did not change since the backup"
        elif live.get("sha256") or live.get("size") is not None:
            status, note = "changed_since_backup", "the live file changed after the backup"
    elif entry.get("live") is not None and not live.get("exists"):
        note = "deleted from the source since the backup"
    if status:
        return status, checks, note
    return ("verified" if checks else "restored_unverified"), checks, note


def restore_sample(check, facts):
    """Return the ``backup.restore_sample`` result of one source (``check``: its catalogue entry).

    A scratch folder the collector could not remove (it holds restored client data) makes
    the result at least a warning, whatever the restore itself gave.
    """
    result = _restore_sample(check, facts)
    restore = facts.get("restore") or {}
    if restore.get("scratch") and restore.get("scratch_removed") is not True:
        result["status"] = worst([result["status"], "warning"])
        result["summary"] += "; the scratch folder %s was NOT removed" % restore["scratch"]
        result.pop("message", None)  # the summary is no longer the message's: the report says it from the status
        result["observed"]["scratch_left"] = restore["scratch"]
        result["remediation"] = ((result.get("remediation") or "") + " Remove %s on the host: it holds "
                                 "restored client data." % restore["scratch"]).strip()
    return result


def _restore_failure(facts, label):
    """Return (status, summary) when the restore command or the collector failed, else None."""
    restore = facts.get("restore") or {}
    error = facts.get("error")
    sample = facts.get("sample") or []
    sample = sample if isinstance(sample, list) else [sample]
    done = "%d of %d files restored" % (sum(1 for e in sample if isinstance(e, dict) and e.get("restored")),
                                        len(sample))
    if restore.get("timed_out"):
        return "critical", "%s: restore did not finish within %s s (%s)" % (
            label, (facts.get("config") or {}).get("timeout_seconds"), done)
    if restore.get("rc") not in (0, None):
        return "critical", "%s: restore failed (exit code %s, %s)%s" % (
            label, restore.get("rc"), done, (": " + restore["error"][:150]) if restore.get("error") else "")
    if error:
        return _error_status(error), "%s: restore test failed at %s: %s (%s)" % (
            label, error.get("stage") or "restore", _error_summary(error), done)
    return None


def _file_results(sample, kind, snap_time, tool_verified):
    """Return (files, counts by verdict, files verified by SHA-256) of the sampled files."""
    files = []
    counts = {}
    sha_ok = 0
    for entry in sample:
        if not isinstance(entry, dict):
            entry = {"path": str(entry)[:200], "restored": None, "unreadable": True}
        why = "file entry unreadable" if entry.get("unreadable") else _unreadable_size(entry)
        try:
            status, checks, note = ("unreadable", [], why) if why \
                else _file_verdict(entry, kind, snap_time, tool_verified)
        except DATA_ERRORS as exc:  # one odd file entry is that file's verdict, not the sample's
            status, checks, note = "unreadable", [], "%s: %s" % (type(exc).__name__, str(exc)[:80])
        counts[status] = counts.get(status, 0) + 1
        if "snapshot sha256" in checks or "live source" in checks:
            sha_ok += 1
        item = {"path": entry.get("path"), "size": entry.get("restored_size", entry.get("size")),
                "sha256": entry.get("restored_sha256"), "status": status, "checks": checks}
        if note:
            item["note"] = note
        files.append(item)
    return files, counts, sha_ok


def _restore_sample(check, facts):
    cfg = facts.get("config") or {}
    name = cfg.get("name") or ""
    kind = cfg.get("type")
    threshold = {"sample_size": int(cfg.get("sample_size") or check.policy["sample_size"])}
    restore = facts.get("restore") or {}
    observed = {"type": kind, "repository": redact_location(cfg.get("repository")),
                "seed": facts.get("seed"), "snapshot_id": (facts.get("snapshot") or {}).get("id"),
                "listed_files": (facts.get("listing") or {}).get("files")}
    error = facts.get("error")
    if error and error.get("stage") in ("open", "snapshots", "setup", "scratch", "ls"):
        observed["error"] = error.get("kind")
        status = "unknown" if error.get("stage") == "scratch" else _error_status(error)
        return make_result(check.id, name, status,
                           "%s: no sample restored: %s" % (_label(facts), _error_summary(error)),
                           observed, threshold, REMEDIATION.get(error.get("kind"), REMEDIATION["other"]))
    sample = facts.get("sample") or []
    sample = sample if isinstance(sample, list) else [sample]
    files, counts, sha_ok = _file_results(sample, kind, (facts.get("snapshot") or {}).get("time"),
                                          bool(restore.get("tool_verified")))
    restored = sum(1 for e in sample if isinstance(e, dict) and e.get("restored"))
    seconds = number(restore.get("seconds"))
    nbytes = int(number(restore.get("bytes")) or 0)
    bad = counts.get("missing", 0) + counts.get("size_mismatch", 0) + counts.get("checksum_mismatch", 0)
    observed.update({
        "files": files, "files_sampled": len(sample), "files_restored": restored,
        "files_missing": counts.get("missing", 0),
        "checksum_verified": sum(1 for f in files if f["checks"]),
        "sha256_verified": sha_ok,
        "mismatches": counts.get("size_mismatch", 0) + counts.get("checksum_mismatch", 0),
        "changed_since_backup": counts.get("changed_since_backup", 0),
        "restore_seconds": round(float(seconds), 3) if seconds is not None else None,
        "bytes": nbytes,
        "throughput_bytes_per_s": int(nbytes / seconds) if seconds else None,
    })
    if restore.get("error"):
        observed["restore_error"] = restore["error"][:300]
    timing = "%d bytes in %.2f s" % (nbytes, seconds or 0.0)
    label = _label(facts)
    if not sample:
        what = "no regular file in the snapshot to sample" if facts.get("snapshot") else "no snapshot"
        what = (M_("%(source)s: 0 files restored (no regular file in the snapshot to sample)", source=label)
                if facts.get("snapshot") else M_("%(source)s: 0 files restored (no snapshot)", source=label))
        return make_result(check.id, name, "critical", what,
                           observed, threshold, "Check what the backup job includes: the snapshot holds no file.")
    failure = _restore_failure(facts, label)
    if failure:
        if (facts.get("error") or {}).get("kind"):
            observed["error"] = facts["error"]["kind"]
        return make_result(check.id, name, failure[0], failure[1], observed, threshold,
                           REMEDIATION.get((facts.get("error") or {}).get("kind"))
                           or check.remediation)
    if restored == 0:
        return make_result(check.id, name, "critical",
                           "%s: 0 of %d sampled files restored%s" % (
                               label, len(sample), (": " + restore["error"][:150]) if restore.get("error") else ""),
                           observed, threshold, check.remediation)
    if counts.get("unreadable") and not bad:
        which = "; ".join("%s: %s" % (f["path"], f.get("note")) for f in files if f["status"] == "unreadable")
        return make_result(check.id, name, "unknown",
                           "%s: %d of %d sampled files have facts that could not be read (%s); the sample is "
                           "not verified" % (label, counts["unreadable"], len(sample), which[:200]),
                           observed, threshold, REMEDIATION["unreadable"])
    if bad:
        return make_result(check.id, name, "critical",
                           M_("%(source)s: %(bad)s of %(sampled)s sampled files missing or corrupt after restore "
                              "(seed %(seed)s)", source=label, bad=bad, sampled=len(sample),
                              seed=str(facts.get("seed"))),
                           observed, threshold,
                           "The repository returns wrong or no data: run a full check and a new backup to a "
                           "healthy repository; replay the sample with the seed.")
    changed = counts.get("changed_since_backup", 0)
    extra = ", %d changed since backup" % changed if changed else ""
    if not observed["checksum_verified"]:
        return make_result(check.id, name, "warning",
                           "%s: %d files restored (%s) but none could be checksum-verified%s" % (
                               label, restored, timing, extra),
                           observed, threshold,
                           "Sources change faster than the backups; compare a restored file by hand.")
    if nbytes <= 0:
        return make_result(check.id, name, "warning",
                           "%s: %d files restored but 0 bytes: only empty files were sampled, no content "
                           "was verified (seed %s)" % (label, restored, facts.get("seed")),
                           observed, threshold, "Run again with another seed (or a larger sample_size).")
    params = dict(source=label, restored=restored, sampled=len(sample), sha256=sha_ok, bytes=nbytes,
                  seconds=float("%.2f" % (seconds or 0.0)), seed=str(facts.get("seed")))
    if changed:
        summary = M_("%(source)s: %(restored)s/%(sampled)s files restored and verified (%(sha256)s by SHA-256), "
                     "%(bytes)s bytes in %(seconds)s s, %(changed)s changed since backup, seed %(seed)s",
                     changed=changed, **params)
    else:
        summary = M_("%(source)s: %(restored)s/%(sampled)s files restored and verified (%(sha256)s by SHA-256), "
                     "%(bytes)s bytes in %(seconds)s s, seed %(seed)s", **params)
    return make_result(check.id, name, "ok", summary, observed, threshold)


def integrity(check, facts):
    """Return the ``backup.integrity`` result of one source (``check``: its catalogue entry)."""
    cfg = facts.get("config") or {}
    name = cfg.get("name") or ""
    opts = cfg.get("integrity") or check.policy["integrity"]
    kind = cfg.get("type")
    threshold = {}
    if kind == "restic":
        threshold["read_data_subset_pct"] = opts.get("read_data_subset_pct")
    elif kind == "borg":
        threshold["verify_data"] = bool(opts.get("verify_data"))
    ran = facts.get("integrity") or {}
    observed = {"type": kind, "repository": redact_location(cfg.get("repository"))}
    label = _label(facts)
    if kind == "copy":
        return make_result(check.id, name, "skipped",
                           M_("%(source)s: a plain copy has no repository check; the sample restore is the test",
                              source=label),
                           observed, threshold)
    if not opts.get("enabled", True):
        return make_result(check.id, name, "skipped",
                           M_("%(source)s: repository check disabled by policy", source=label),
                           observed, threshold)
    error = facts.get("error")
    if not ran.get("ran"):
        status = "unknown"
        why = "not run"
        if error:
            why = "not run: %s" % _error_summary(error)
            observed["error"] = error.get("kind")
        return make_result(check.id, name, status, "%s: repository check %s" % (label, why),
                           observed, threshold, REMEDIATION.get((error or {}).get("kind"), ""))
    observed.update({"command": ran.get("command"), "rc": ran.get("rc"),
                     "seconds": round(number(ran.get("seconds")) or 0.0, 3),
                     "errors": list(ran.get("errors") or [])[:10]})
    if ran.get("error_kind"):
        observed["error"] = ran["error_kind"]
    if ran.get("error_kind") in ("locked", "tool_missing"):
        return make_result(check.id, name, "unknown",
                           "%s: repository check could not run: %s" % (label, ERROR_TEXT[ran["error_kind"]]),
                           observed, threshold, REMEDIATION[ran["error_kind"]])
    if ran.get("timed_out"):
        return make_result(check.id, name, "critical",
                           M_("%(source)s: repository check did not finish within %(seconds)s s", source=label,
                              seconds=cfg.get("timeout_seconds")),
                           observed, threshold, REMEDIATION["timeout"])
    if ran.get("rc") != 0:
        first = (observed["errors"] or ["exit code %s" % ran.get("rc")])[0]
        return make_result(check.id, name, "critical",
                           M_("%(source)s: repository check failed: %(error)s", source=label, error=first[:200]),
                           observed, threshold, check.remediation)
    return make_result(check.id, name, "ok",
                       M_("%(source)s: repository check passed (%(command)s)", source=label,
                          command=str(ran.get("command"))),
                       observed, threshold)


def normalize_facts(facts):
    """Fill what a collector may leave to this code: error kinds and integrity error lines.

    The PowerShell collector returns raw messages and output tails; the kinds and lines
    are derived here, once, with the same rules as on Linux.
    """
    facts = dict(facts)
    error = facts.get("error")
    if error and not error.get("kind"):
        facts["error"] = dict(error, kind=classify_error(error.get("message")))
    check = facts.get("integrity") or {}
    if check.get("ran") and check.get("output") and not check.get("errors"):
        check = dict(check, errors=error_lines(check["output"]))
        if check.get("rc") not in (0, 1) and not check.get("error_kind"):
            kind = classify_error(check["output"])
            check["error_kind"] = kind if kind in ("locked", "tool_missing") else None
        facts["integrity"] = check
    return facts
