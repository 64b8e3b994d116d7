# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Decide code of the random backup-restore test: pure Python, no I/O.

The collectors (``plugins/modules/backup_restore_test.py`` on Linux and
``plugins/modules/win_restic_restore_test.ps1`` on Windows) read raw facts from
restic, borg or a plain copy folder and hand them to :func:`decide`, which turns
them into three results per source:

``backup.freshness``
    age of the newest snapshot, archive or copied file against the RPO; no
    snapshot at all is critical.
``backup.restore_sample``
    the random sample restored into a scratch folder and verified (size and
    SHA-256 against the snapshot's metadata, against the live file when it did
    not change since the snapshot); 0 files restored, a missing file or a
    mismatch is critical.
``backup.integrity``
    ``restic check --read-data-subset`` or ``borg check``; any error is critical.

Policy helpers (:func:`validate_policy`, :func:`sources_for_host`), the seeded
sample (:func:`pick_sample`, replayable from its seed, the same in PowerShell)
and the path helpers used by the collectors live here too, so that the rules
are written once. Runs on the managed host's Python 3 (module payload) and on
the controller.
"""

from __future__ import annotations

import datetime
import hashlib
import heapq
import json
import posixpath
import re

try:
    from ansible.module_utils.maint_result import DATA_ERRORS, make_result, number, unreadable_result, worst
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils.maint_result import DATA_ERRORS, make_result, number, unreadable_result, worst

SOURCE_TYPES = ("restic", "borg", "copy")
# The only places a scratch folder may live (POSIX hosts, Windows hosts).
SCRATCH_BASE = "/var/tmp/maint-restore"
SCRATCH_BASE_WINDOWS = "C:\\ProgramData\\maint-restore"

# Defaults of the policy's backup section; each may be overridden per source.
DEFAULTS = {
    "sample_size": 5,
    "rpo_hours": 26,
    "scratch_root": SCRATCH_BASE,
    "timeout_seconds": 1800,
    "max_sample_file_mb": 1024,
    "integrity": {"enabled": True, "read_data_subset_pct": 5, "verify_data": False},
}
SOURCE_KEYS = (
    "name", "host", "type", "repository", "source", "password_var", "password_file",
    "sample_size", "rpo_hours", "scratch_root", "timeout_seconds", "max_sample_file_mb",
    "integrity", "restic_host", "borg_glob_archives", "windows",
)
INTEGRITY_KEYS = ("enabled", "read_data_subset_pct", "verify_data")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
WIN_DRIVE_RE = re.compile(r"^[A-Za-z]:[\\/]")
# user:password@ in a repository URL (rest:https://u:p@host/, sftp://u:p@host/).
CREDENTIAL_URL_RE = re.compile(r"://[^/@\s]*:[^/@\s]*@")

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


# -- policy -----------------------------------------------------------------
def _is_windows_path(path):
    return bool(WIN_DRIVE_RE.match(path or ""))


def _norm_win(path):
    return path.replace("/", "\\").rstrip("\\").lower()


def scratch_root_error(root, windows=False):
    """Return why ``root`` is not an acceptable scratch root, or ``None``.

    Lexical checks only (the collector adds the symlink checks on the host): the
    root is absolute, holds no ``..`` component and lies under the allowed base.
    """
    if not isinstance(root, str) or not root:
        return "must be a non-empty path"
    if windows or _is_windows_path(root):
        if not _is_windows_path(root):
            return "%s is not an absolute Windows path" % root
        parts = re.split(r"[\\/]+", root)
        if ".." in parts or "." in parts:
            return "%s contains '..' or '.'" % root
        norm, base = _norm_win(root), _norm_win(SCRATCH_BASE_WINDOWS)
        if norm != base and not norm.startswith(base + "\\"):
            return "%s is outside %s" % (root, SCRATCH_BASE_WINDOWS)
        return None
    if not root.startswith("/"):
        return "%s is not an absolute path" % root
    parts = root.split("/")
    if ".." in parts or "." in parts:
        return "%s contains '..' or '.'" % root
    norm = posixpath.normpath(root)
    if norm != SCRATCH_BASE and not norm.startswith(SCRATCH_BASE + "/"):
        return "%s is outside %s" % (root, SCRATCH_BASE)
    return None


def _inside(child, parent, windows):
    if windows:
        child, parent = _norm_win(child), _norm_win(parent)
        sep = "\\"
    else:
        child, parent = posixpath.normpath(child), posixpath.normpath(parent)
        sep = "/"
    return child == parent or child.startswith(parent.rstrip(sep) + sep)


def overlap_error(root, source, repository, windows=False):
    """Return why a scratch root overlaps the source or the repository, or ``None``.

    Restoring into (or next to) the live data or into the repository could pollute
    the next backup or the repository itself.
    """
    for label, path in (("source", source), ("repository", repository)):
        if not path or not isinstance(path, str):
            continue
        if not (path.startswith("/") or _is_windows_path(path)):
            continue  # a remote repository (sftp:, s3:, ssh://) cannot overlap
        if _inside(root, path, windows) or _inside(path, root, windows):
            return "%s overlaps the %s path %s" % (root, label, path)
    return None


def _merged(section, src):
    """Return one source merged with the section's and the built-in defaults."""
    out = {}
    for key in ("sample_size", "rpo_hours", "scratch_root", "timeout_seconds", "max_sample_file_mb"):
        out[key] = src.get(key, section.get(key, DEFAULTS[key]))
    integrity = dict(DEFAULTS["integrity"])
    integrity.update(section.get("integrity") or {})
    integrity.update(src.get("integrity") or {})
    out["integrity"] = integrity
    for key in ("name", "host", "type", "repository", "source", "password_var", "password_file",
                "restic_host", "borg_glob_archives", "windows"):
        if src.get(key) not in (None, ""):
            out[key] = src[key]
    if out.get("windows") and "scratch_root" not in src and "scratch_root" not in section:
        out["scratch_root"] = SCRATCH_BASE_WINDOWS
    out["windows"] = bool(out.get("windows"))
    return out


def _check_int(errors, where, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low or value > high:
        errors.append("%s: %r must be a number from %s to %s" % (where, value, low, high))


def _validate_name(errors, where, src, names):
    name = src.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        errors.append("%s.name: %r must be letters, digits, '.', '_' or '-'" % (where, name))
    elif name in names:
        errors.append("%s.name: %r is used by another source" % (where, name))
    else:
        names.add(name)
    if not isinstance(src.get("host"), str) or not src.get("host"):
        errors.append("%s.host: missing: the inventory host that runs the test" % where)


def _validate_source(errors, where, src, section, names):
    unknown = sorted(set(src) - set(SOURCE_KEYS))
    if unknown:
        errors.append("%s: unknown key(s) %s" % (where, ", ".join(unknown)))
    _validate_name(errors, where, src, names)
    kind = src.get("type")
    if kind not in SOURCE_TYPES:
        errors.append("%s.type: %r must be one of %s" % (where, kind, ", ".join(SOURCE_TYPES)))
    if not isinstance(src.get("repository"), str) or not src.get("repository"):
        errors.append("%s.repository: missing" % where)
    elif CREDENTIAL_URL_RE.search(src["repository"]):
        # Never echo the value: it holds a password.
        errors.append("%s.repository: holds a password (user:password@ in the URL): the policy, the "
                      "module arguments and the run's artifacts are not secret; put it in the vault "
                      "(password_var) or a password file on the host" % where)
    if not isinstance(src.get("source"), str) or not src.get("source"):
        errors.append("%s.source: missing: the live path that is backed up" % where)
    if src.get("password_var") and src.get("password_file"):
        errors.append("%s: give password_var or password_file, not both" % where)
    if kind == "restic" and not (src.get("password_var") or src.get("password_file")):
        errors.append("%s: a restic source needs password_var or password_file" % where)
    if kind == "copy" and (src.get("password_var") or src.get("password_file")):
        errors.append("%s: a copy source takes no password" % where)
    if src.get("windows") and kind != "restic":
        errors.append("%s.windows: only restic sources are supported on Windows hosts" % where)
    _validate_limits(errors, where, src, section)


def _validate_limits(errors, where, src, section):
    merged = _merged(section, src)
    _check_int(errors, where + ".sample_size", merged["sample_size"], 1, 1000)
    _check_int(errors, where + ".rpo_hours", merged["rpo_hours"], 1, 24 * 366)
    _check_int(errors, where + ".timeout_seconds", merged["timeout_seconds"], 10, 86400)
    _check_int(errors, where + ".max_sample_file_mb", merged["max_sample_file_mb"], 0, 1024 * 1024)
    _check_int(errors, where + ".integrity.read_data_subset_pct",
               merged["integrity"]["read_data_subset_pct"], 0, 100)
    problem = scratch_root_error(merged["scratch_root"], merged["windows"])
    if problem and "scratch_root" not in src and "scratch_root" in section and not merged["windows"]:
        return  # already reported on the section's own scratch_root
    if problem is None and isinstance(src.get("source"), str):
        problem = overlap_error(merged["scratch_root"], src.get("source"), src.get("repository"),
                                merged["windows"])
    if problem:
        key = ".scratch_root" if "scratch_root" in src else ".scratch_root (inherited)"
        errors.append("%s%s: %s" % (where, key, problem))


def validate_policy(section):
    """Return every semantic problem of the policy's ``backup`` section, one line each.

    Called by ``maintctl validate`` next to the JSON Schema
    (``schemas/policy/backup.schema.json``). Lines start with the policy key, e.g.
    ``maint_policy.backup.sources[0].scratch_root: /tmp/x is outside /var/tmp/maint-restore``.
    """
    errors = []
    prefix = "maint_policy.backup"
    if section is None:
        return errors
    if not isinstance(section, dict):
        return ["%s: must be a mapping" % prefix]
    if "scratch_root" in section:
        problem = scratch_root_error(section["scratch_root"])
        if problem:
            errors.append("%s.scratch_root: %s" % (prefix, problem))
    unknown_int = sorted(set(section.get("integrity") or {}) - set(INTEGRITY_KEYS))
    if unknown_int:
        errors.append("%s.integrity: unknown key(s) %s" % (prefix, ", ".join(unknown_int)))
    sources = section.get("sources") or []
    if not isinstance(sources, list):
        return errors + ["%s.sources: must be a list" % prefix]
    names = set()
    for index, src in enumerate(sources):
        where = "%s.sources[%d]" % (prefix, index)
        if not isinstance(src, dict):
            errors.append("%s: must be a mapping" % where)
            continue
        _validate_source(errors, where, src, section, names)
    return errors


def sources_for_host(section, host, only=None):
    """Return the host's sources, merged with the defaults, in policy order.

    ``only`` (a list of source names) restricts the selection, e.g. to replay one
    source's sample.
    """
    out = []
    for index, src in enumerate((section or {}).get("sources") or []):
        if not isinstance(src, dict) or src.get("host") != host:
            continue
        if only and src.get("name") not in only:
            continue
        merged = _merged(section or {}, src)
        merged["index"] = index
        out.append(merged)
    return out


# -- sampling ---------------------------------------------------------------
def sample_key(seed, path):
    r"""Return the sort key of ``path`` under ``seed``: SHA-256 of ``seed + "\n" + path``.

    The sample is the N paths with the lowest keys. The rule needs no random
    generator, so the PowerShell collector draws exactly the same sample as Python
    from the same listing and seed, and a listing can be streamed.
    """
    data = ("%s\n%s" % (seed, path)).encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()


class SampleHeap:
    """Keep the N entries with the lowest :func:`sample_key` while streaming a listing.

    Every file offered is counted (``count``, ``bytes``); one larger than ``max_bytes`` (when
    set) is never sampled, since it would not be hashed. ``garbage`` counts listing lines
    that were not readable entries.
    """

    def __init__(self, size, seed, max_bytes=0):
        self.size = max(0, int(size))
        self.seed = seed
        self.max_bytes = max_bytes
        self._heap = []  # min-heap of negated keys: its top is the largest kept key
        self.count = 0
        self.bytes = 0
        self.garbage = 0

    def add(self, path, entry=None):
        """Offer one regular file to the sample."""
        size = int((entry or {}).get("size") or 0)
        self.count += 1
        self.bytes += size
        if not self.size or (self.max_bytes and size > self.max_bytes):
            return
        neg = -int(sample_key(self.seed, path), 16)
        item = (neg, self.count, path, entry if entry is not None else {})
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, item)
        elif neg > self._heap[0][0]:
            heapq.heapreplace(self._heap, item)

    def unreadable(self, raw):
        """Count one listing line that is not a readable entry (blank lines do not count)."""
        if raw.strip():
            self.garbage += 1

    def result(self):
        """Return the chosen entries as ``(path, entry)``, lowest key first."""
        items = sorted(self._heap, key=lambda it: it[0], reverse=True)
        return [(it[2], it[3]) for it in items]


def pick_sample(paths, size, seed):
    """Return the ``size`` paths of ``paths`` chosen by ``seed`` (see :func:`sample_key`)."""
    heap = SampleHeap(size, seed)
    for path in paths:
        heap.add(path)
    return [path for path, _ in heap.result()]


# -- paths ------------------------------------------------------------------
def restic_include_pattern(path, windows=False):
    r"""Return a ``restic restore --include`` pattern that matches ``path`` literally.

    restic matches include patterns with glob rules, so ``*``, ``?`` and ``[`` in
    file names are escaped (``\`` on POSIX; a one-character class on Windows,
    where ``\`` is the separator).
    """
    out = []
    for char in path:
        if windows and char in "*?[":
            out.append("[%s]" % char)
        elif not windows and char in "*?[\\":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def live_path(snapshot_path, source):
    """Map a path of a snapshot listing to the live file under ``source`` (or ``None``).

    restic lists absolute paths (``/srv/data/x``), or ``/data/x`` when the backup
    was made with a relative path; borg lists ``srv/data/x`` (no leading slash),
    or ``data/x`` for a relative backup. A path that does not fall under the
    source is never read.
    """
    if not snapshot_path or not source:
        return None
    source = posixpath.normpath(source)
    rel = snapshot_path.lstrip("/")
    candidates = ["/" + rel]
    base = posixpath.basename(source)
    if base and (rel == base or rel.startswith(base + "/")):
        candidates.append(posixpath.join(posixpath.dirname(source), rel))
    for cand in candidates:
        cand = posixpath.normpath(cand)
        if ".." in cand.split("/"):
            continue
        if cand == source or cand.startswith(source.rstrip("/") + "/"):
            return cand
    return None


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
_EPOCH = datetime.datetime(1970, 1, 1)


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
    seconds = (stamp - _EPOCH).total_seconds() + (float("0." + frac) if frac else 0.0)
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
    stamp = _EPOCH + datetime.timedelta(seconds=int(epoch))
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


def freshness(facts, now):
    """Return the ``backup.freshness`` result of one source."""
    cfg = facts.get("config") or {}
    rpo = number(cfg.get("rpo_hours")) or float(DEFAULTS["rpo_hours"])  # NaN would make every age fresh
    threshold = {"rpo_hours": rpo}
    name = cfg.get("name") or ""
    observed = {"type": cfg.get("type"), "repository": redact_location(cfg.get("repository"))}
    error = facts.get("error")
    snap = facts.get("snapshot")
    if error and error.get("stage") in ("open", "snapshots", "setup"):
        status = _error_status(error)
        observed["error"] = error.get("kind")
        return make_result("backup.freshness", name, status,
                           "%s: cannot read the snapshots: %s" % (_label(facts), _error_summary(error)),
                           observed, threshold, REMEDIATION.get(error.get("kind"), REMEDIATION["other"]))
    when = parse_time(snap.get("time")) if isinstance(snap, dict) else None
    if isinstance(snap, dict) and when is None:
        observed.update({"snapshot_id": snap.get("id"), "snapshot_time": str(snap.get("time"))[:64],
                         "error": "unreadable"})
        return make_result("backup.freshness", name, "unknown",
                           "%s: newest snapshot %s found but its time %r could not be read" % (
                               _label(facts), snap.get("id"), str(snap.get("time"))[:40]),
                           observed, threshold, REMEDIATION["unreadable"])
    if not isinstance(snap, dict) or not snap:
        observed["snapshots"] = facts.get("snapshot_count") if isinstance(facts.get("snapshot_count"), int) else 0
        what = "no file in the copy folder" if cfg.get("type") == "copy" else "no snapshot at all"
        return make_result("backup.freshness", name, "critical", "%s: %s" % (_label(facts), what),
                           observed, threshold,
                           "Check the backup job: it has never written to this repository, or writes elsewhere.")
    if number(now) is None:
        return unreadable_result("backup.freshness", name, "the collector's clock (now)", value=now,
                                 observed=observed, remediation=REMEDIATION["unreadable"])
    age_h = round((now - when) / 3600.0, 2)
    observed.update({"snapshot_id": snap.get("id"), "snapshot_time": iso(when), "age_hours": age_h,
                     "snapshots": int(facts.get("snapshot_count") or 1)})
    if age_h < -1:
        return make_result("backup.freshness", name, "warning",
                           "%s: newest snapshot is %.1f h in the future (clock skew?)" % (_label(facts), -age_h),
                           observed, threshold, "Check the clocks of the host and of the backup server.")
    if age_h > rpo:
        return make_result("backup.freshness", name, "critical",
                           "%s: newest snapshot is %.1f h old, over the RPO of %g h" % (_label(facts), age_h, rpo),
                           observed, threshold,
                           "The backup job has stopped or fails: check its log and schedule, then run it.")
    return make_result("backup.freshness", name, "ok",
                       "%s: newest snapshot is %.1f h old (RPO %g h)" % (_label(facts), age_h, rpo),
                       observed, threshold)


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


def restore_sample(facts):
    """Return the ``backup.restore_sample`` result of one source.

    A scratch folder the collector could not remove (it holds restored client data) makes
    the result at least a warning, whatever the restore itself gave.
    """
    result = _restore_sample(facts)
    restore = facts.get("restore") or {}
    if restore.get("scratch") and restore.get("scratch_removed") is not True:
        result["status"] = worst([result["status"], "warning"])
        result["summary"] += "; the scratch folder %s was NOT removed" % restore["scratch"]
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


def _restore_sample(facts):
    cfg = facts.get("config") or {}
    name = cfg.get("name") or ""
    kind = cfg.get("type")
    threshold = {"sample_size": int(cfg.get("sample_size") or DEFAULTS["sample_size"])}
    restore = facts.get("restore") or {}
    observed = {"type": kind, "repository": redact_location(cfg.get("repository")),
                "seed": facts.get("seed"), "snapshot_id": (facts.get("snapshot") or {}).get("id"),
                "listed_files": (facts.get("listing") or {}).get("files")}
    error = facts.get("error")
    if error and error.get("stage") in ("open", "snapshots", "setup", "scratch", "ls"):
        observed["error"] = error.get("kind")
        status = "unknown" if error.get("stage") == "scratch" else _error_status(error)
        return make_result("backup.restore_sample", name, status,
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
        return make_result("backup.restore_sample", name, "critical", "%s: 0 files restored (%s)" % (label, what),
                           observed, threshold, "Check what the backup job includes: the snapshot holds no file.")
    failure = _restore_failure(facts, label)
    if failure:
        if (facts.get("error") or {}).get("kind"):
            observed["error"] = facts["error"]["kind"]
        return make_result("backup.restore_sample", name, failure[0], failure[1], observed, threshold,
                           REMEDIATION.get((facts.get("error") or {}).get("kind"))
                           or "Restore by hand from this repository now; it may be corrupt. Keep the seed "
                              "to replay.")
    if restored == 0:
        return make_result("backup.restore_sample", name, "critical",
                           "%s: 0 of %d sampled files restored%s" % (
                               label, len(sample), (": " + restore["error"][:150]) if restore.get("error") else ""),
                           observed, threshold,
                           "Restore by hand from this repository now; it may be corrupt. Keep the seed to replay.")
    if counts.get("unreadable") and not bad:
        which = "; ".join("%s: %s" % (f["path"], f.get("note")) for f in files if f["status"] == "unreadable")
        return make_result("backup.restore_sample", name, "unknown",
                           "%s: %d of %d sampled files have facts that could not be read (%s); the sample is "
                           "not verified" % (label, counts["unreadable"], len(sample), which[:200]),
                           observed, threshold, REMEDIATION["unreadable"])
    if bad:
        return make_result("backup.restore_sample", name, "critical",
                           "%s: %d of %d sampled files missing or corrupt after restore (seed %s)" % (
                               label, bad, len(sample), facts.get("seed")),
                           observed, threshold,
                           "The repository returns wrong or no data: run a full check and a new backup to a "
                           "healthy repository; replay the sample with the seed.")
    changed = counts.get("changed_since_backup", 0)
    extra = ", %d changed since backup" % changed if changed else ""
    if not observed["checksum_verified"]:
        return make_result("backup.restore_sample", name, "warning",
                           "%s: %d files restored (%s) but none could be checksum-verified%s" % (
                               label, restored, timing, extra),
                           observed, threshold,
                           "Sources change faster than the backups; compare a restored file by hand.")
    if nbytes <= 0:
        return make_result("backup.restore_sample", name, "warning",
                           "%s: %d files restored but 0 bytes: only empty files were sampled, no content "
                           "was verified (seed %s)" % (label, restored, facts.get("seed")),
                           observed, threshold, "Run again with another seed (or a larger sample_size).")
    return make_result("backup.restore_sample", name, "ok",
                       "%s: %d/%d files restored and verified (%d by SHA-256), %s%s, seed %s" % (
                           label, restored, len(sample), sha_ok, timing, extra, facts.get("seed")),
                       observed, threshold)


def integrity(facts):
    """Return the ``backup.integrity`` result of one source."""
    cfg = facts.get("config") or {}
    name = cfg.get("name") or ""
    opts = cfg.get("integrity") or DEFAULTS["integrity"]
    kind = cfg.get("type")
    threshold = {}
    if kind == "restic":
        threshold["read_data_subset_pct"] = opts.get("read_data_subset_pct")
    elif kind == "borg":
        threshold["verify_data"] = bool(opts.get("verify_data"))
    check = facts.get("integrity") or {}
    observed = {"type": kind, "repository": redact_location(cfg.get("repository"))}
    label = _label(facts)
    if kind == "copy":
        return make_result("backup.integrity", name, "skipped",
                           "%s: a plain copy has no repository check; the sample restore is the test" % label,
                           observed, threshold)
    if not opts.get("enabled", True):
        return make_result("backup.integrity", name, "skipped", "%s: repository check disabled by policy" % label,
                           observed, threshold)
    error = facts.get("error")
    if not check.get("ran"):
        status = "unknown"
        why = "not run"
        if error:
            why = "not run: %s" % _error_summary(error)
            observed["error"] = error.get("kind")
        return make_result("backup.integrity", name, status, "%s: repository check %s" % (label, why),
                           observed, threshold, REMEDIATION.get((error or {}).get("kind"), ""))
    observed.update({"command": check.get("command"), "rc": check.get("rc"),
                     "seconds": round(number(check.get("seconds")) or 0.0, 3),
                     "errors": list(check.get("errors") or [])[:10]})
    if check.get("error_kind"):
        observed["error"] = check["error_kind"]
    if check.get("error_kind") in ("locked", "tool_missing"):
        return make_result("backup.integrity", name, "unknown",
                           "%s: repository check could not run: %s" % (label, ERROR_TEXT[check["error_kind"]]),
                           observed, threshold, REMEDIATION[check["error_kind"]])
    if check.get("timed_out"):
        return make_result("backup.integrity", name, "critical",
                           "%s: repository check did not finish within %s s" % (label, cfg.get("timeout_seconds")),
                           observed, threshold, REMEDIATION["timeout"])
    if check.get("rc") != 0:
        first = (observed["errors"] or ["exit code %s" % check.get("rc")])[0]
        return make_result("backup.integrity", name, "critical",
                           "%s: repository check failed: %s" % (label, first[:200]),
                           observed, threshold,
                           "The repository is damaged: stop pruning, run a full check, and start a new "
                           "repository if it cannot be repaired.")
    return make_result("backup.integrity", name, "ok",
                       "%s: repository check passed (%s)" % (label, check.get("command")),
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


def decide(facts, now):
    """Return the three results of one source from its raw facts.

    ``facts`` is what a collector returns for one source (see the module's RETURN
    block); ``now`` is epoch seconds.
    """
    try:
        facts = normalize_facts(facts)
        name = str((facts.get("config") or {}).get("name") or "")
        results = []
        # Each check is decided on its own: odd data in one costs that check, never the others.
        for check, func in (("backup.freshness", lambda: freshness(facts, now)),
                            ("backup.restore_sample", lambda: restore_sample(facts)),
                            ("backup.integrity", lambda: integrity(facts))):
            try:
                results.append(func())
            except DATA_ERRORS as exc:
                results.append(unreadable_result(check, name, "collected facts for %s" % check, error=exc,
                                                 remediation=REMEDIATION["unreadable"]))
        return results
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        # Facts of an unexpected shape (a changed collector, a hand-edited file): nobody
        # read the values, so every check is unknown, and the reason is said once.
        cfg = facts.get("config") if isinstance(facts, dict) and isinstance(facts.get("config"), dict) else {}
        name = cfg.get("name") if isinstance(cfg.get("name"), str) else ""
        summary = "collected facts of an unexpected shape, nothing decided (%s: %s)" % (
            type(exc).__name__, str(exc)[:120])
        return [make_result(check, name, "unknown", summary, {"error": "unreadable"}, {}, REMEDIATION["unreadable"])
                for check in ("backup.freshness", "backup.restore_sample", "backup.integrity")]


def decide_all(facts_list, now):
    """Return the results of every source of a host, in order."""
    out = []
    for facts in facts_list or []:
        out.extend(decide(facts, now))
    return out


def overall(results):
    """Return the worst status of a list of results (``unknown`` when empty)."""
    return worst([r["status"] for r in results])


def evaluate_text(text, source):
    """Evaluate a saved collector output (JSON: one facts object or a list), for ``maintctl evaluate``."""
    data = json.loads(text)
    if isinstance(data, dict) and "sources" in data:
        data = data["sources"]
    if isinstance(data, dict):
        data = [data]
    now = parse_time((data[0] or {}).get("collected_at")) if data else None
    if now is None:
        now = (datetime.datetime.utcnow() - _EPOCH).total_seconds()
    return decide_all(data, now)
