# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The policy's ``backup`` section: merged with its defaults, validated, and each host's sources.

Pure Python, no I/O. The defaults are those of the catalogue (``backup_decide.DEFAULTS``),
handed in by backup_decide's entry points (``effective_policy``, ``validate_policy``,
``sources_for_host``), so that this file depends on nothing of the area: :func:`merge` merges
a section with them, :func:`merge_source` one source with its section (a source may override
every key), :func:`sources_for_host` selects a host's sources for the role and the module,
and :func:`validate` is what ``maintctl validate`` and the module run next to
``schemas/policy/backup.schema.json``. The scratch-root rules
(:func:`scratch_root_error`, :func:`overlap_error`) are lexical; the collectors add the checks
on the host (symlinks, owner, mode).
"""

from __future__ import annotations

import posixpath
import re

try:
    from ansible.module_utils.maint_result import PolicyError, with_defaults
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils.maint_result import PolicyError, with_defaults

# The only places a scratch folder may live (POSIX hosts, Windows hosts). The first is also
# the default scratch_root (backup_decide.CHECKS states it from here).
SCRATCH_BASE = "/var/tmp/maint-restore"
SCRATCH_BASE_WINDOWS = "C:\\ProgramData\\maint-restore"

SOURCE_TYPES = ("restic", "borg", "copy")
SOURCE_KEYS = (
    "name", "host", "type", "repository", "source", "password_var", "password_file",
    "sample_size", "rpo_hours", "scratch_root", "timeout_seconds", "max_sample_file_mb",
    "integrity", "restic_host", "borg_glob_archives", "windows",
)
INTEGRITY_KEYS = ("enabled", "read_data_subset_pct", "verify_data")
# The keys a source inherits from its section (and the section from DEFAULTS).
LIMIT_KEYS = ("sample_size", "rpo_hours", "scratch_root", "timeout_seconds", "max_sample_file_mb")
IDENTITY_KEYS = ("name", "host", "type", "repository", "source", "password_var", "password_file",
                 "restic_host", "borg_glob_archives", "windows")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
WIN_DRIVE_RE = re.compile(r"^[A-Za-z]:[\\/]")
# user:password@ in a repository URL (rest:https://u:p@host/, sftp://u:p@host/).
CREDENTIAL_URL_RE = re.compile(r"://[^/@\s]*:[^/@\s]*@")
# What a scratch folder's name may carry of the run's tag (brt-TAG-SOURCE-XXXX).
TAG_RE = re.compile(r"[^A-Za-z0-9_-]")

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


def _mapping(value, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError("%s must be a mapping, not %s" % (where, type(value).__name__))
    return value


def merge(defaults, section):
    """Return the section's keys merged with ``defaults`` (``integrity`` merged key by key).

    Raises ``PolicyError`` when the section (or its ``integrity``) is not a mapping.
    """
    merged = with_defaults(defaults, section)
    integrity = dict(defaults["integrity"])
    integrity.update(_mapping((section or {}).get("integrity"), "integrity"))
    merged["integrity"] = integrity
    return merged


def merge_source(defaults, section, src):
    """Return one source merged with its section and the defaults: what the collectors read.

    A key the source sets wins over the section's, which wins over ``defaults``; ``integrity``
    is merged key by key. A Windows source whose section and itself name no scratch root
    uses ``SCRATCH_BASE_WINDOWS``.
    """
    policy = merge(defaults, section)
    out = {key: src.get(key, policy[key]) for key in LIMIT_KEYS}
    integrity = dict(policy["integrity"])
    integrity.update(_mapping(src.get("integrity"), "sources[].integrity"))
    out["integrity"] = integrity
    for key in IDENTITY_KEYS:
        if src.get(key) not in (None, ""):
            out[key] = src[key]
    if out.get("windows") and "scratch_root" not in src and (section or {}).get("scratch_root") is None:
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


def _validate_source(errors, where, src, section, names, defaults):
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
    _validate_limits(errors, where, src, section, defaults)


def _validate_limits(errors, where, src, section, defaults):
    try:
        merged = merge_source(defaults, section, src)
    except PolicyError as exc:
        errors.append("%s: %s" % (where, exc))
        return
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


def validate(defaults, section):
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
        _validate_source(errors, where, src, section, names, defaults)
    return errors


def sources_for_host(defaults, section, host, only=None):
    """Return the host's sources, merged with the section and ``defaults``, in policy order.

    ``only`` (a list of source names) restricts the selection, e.g. to replay one
    source's sample.
    """
    out = []
    for index, src in enumerate((section or {}).get("sources") or []):
        if not isinstance(src, dict) or src.get("host") != host:
            continue
        if only and src.get("name") not in only:
            continue
        merged = merge_source(defaults, section or {}, src)
        merged["index"] = index
        out.append(merged)
    return out


def scratch_tag(tag):
    """Return the run's tag as it appears in scratch folder names (``brt-TAG-SOURCE-XXXX``)."""
    return TAG_RE.sub("_", str(tag or "adhoc"))[:40]


def password_vars(sources):
    """Return source name -> the vault variable holding its password, for the sources that name one."""
    return {src["name"]: src["password_var"] for src in sources if src.get("password_var")}
