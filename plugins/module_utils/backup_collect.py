# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""What the Linux collectors of the backup restore test share (run on the managed host).

``plugins/modules/backup_restore.py`` collects each source with one of ``backup_restic``,
``backup_borg`` or ``backup_copy``; they share what is here: the seeded sample (:func:`sample_key`,
:class:`SampleHeap`, :func:`pick_sample`: the same rule as the PowerShell collector, replayable
from its seed), the tool runner (argv lists, a clean environment, a deadline that kills the
tool's children too), the scratch folder's safety and removal, the restored and live file
facts, and the tools' environment with the password. It decides nothing: every verdict is in
``backup_verdict``. Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import heapq
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import threading

try:
    from ansible.module_utils import backup_policy as bp
    from ansible.module_utils import backup_verdict as bv
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils import backup_policy as bp
    from maint_utils import backup_verdict as bv

CHUNK = 1024 * 1024


class SourceError(Exception):
    """A failure that ends the collection of one source."""

    def __init__(self, stage, kind, message=""):
        super().__init__(message)
        self.stage, self.kind, self.message = stage, kind, message


# -- small helpers ------------------------------------------------------------
def sha256_file(path):
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def as_size(value):
    """Return a listing's size as a non-negative int, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return None
    return int(value)


def parse_json(text, expected, what):
    """Parse a tool's JSON output, which must be a ``expected`` (list or dict); else SourceError."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SourceError("snapshots", "unreadable", "%s: output is not JSON (%d bytes: %r)" % (
            what, len(text or ""), (text or "")[:60])) from exc
    if not isinstance(data, expected):
        raise SourceError("snapshots", "unreadable", "%s: JSON %s where a %s was expected" % (
            what, type(data).__name__, expected.__name__))
    return data


def json_line(raw):
    """Return one line of a --json/--json-lines listing as a dict, or None (garbage is skipped)."""
    try:
        node = json.loads(raw)
    except ValueError:
        return None
    return node if isinstance(node, dict) else None


class Scrubber:
    """Removes every secret from a text before it leaves the module."""

    def __init__(self, secrets_):
        self.secrets = [s for s in secrets_ if s]

    def __call__(self, text):
        text = text or ""
        for secret in self.secrets:
            text = text.replace(secret, "********")
        return text


class Runner:
    """Runs the backup tools as argv lists with a clean environment and a deadline."""

    def __init__(self, env, timeout, scrub):
        self.env, self.timeout, self.scrub = env, timeout, scrub

    def _start(self, argv, stage, **kwargs):
        # A session of its own, so that a timeout kills the tool's children too (borg's
        # ssh, a BORG_PASSCOMMAND), which would otherwise hold the pipes open.
        try:
            return subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, start_new_session=True,
                                    **kwargs)
        except FileNotFoundError as exc:
            raise SourceError(stage, "tool_missing", "%s not found" % argv[0]) from exc

    @staticmethod
    def _kill(proc):
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)

    def run(self, argv, stage, cwd=None, timeout=None):
        """Run a command; return (rc, stdout, stderr, timed_out)."""
        proc = self._start(argv, stage, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=timeout or self.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            self._kill(proc)
            out, err = proc.communicate()
            timed_out = True
        return (None if timed_out else proc.returncode, self.scrub(out.decode("utf-8", "replace")),
                self.scrub(err.decode("utf-8", "replace")), timed_out)

    def lines(self, argv, stage, on_line):
        """Stream a command's stdout line by line (large listings); return (rc, stderr)."""
        with tempfile.TemporaryFile() as err:
            proc = self._start(argv, stage, stdout=subprocess.PIPE, stderr=err)
            expired = []

            def _kill():
                expired.append(True)
                self._kill(proc)

            timer = threading.Timer(self.timeout, _kill)
            timer.start()
            try:
                for raw in proc.stdout:
                    on_line(raw)
            finally:
                timer.cancel()
                proc.stdout.close()
                proc.wait()
            if expired:
                raise SourceError(stage, "timeout", "%s did not finish within %d s" % (argv[1], self.timeout))
            err.seek(0)
            return proc.returncode, self.scrub(err.read().decode("utf-8", "replace"))


def fail_on(stage, rc, err, timed_out, timeout=None):
    """Raise a SourceError for a failed tool call."""
    if timed_out:
        raise SourceError(stage, "timeout", "%s did not finish within %s s" % (stage, timeout))
    if rc != 0:
        lines = bv.error_lines(err, 3)
        raise SourceError(stage, bv.classify_error(err), "; ".join(lines) or "exit code %s" % rc)


# -- scratch folder -----------------------------------------------------------
def _real_dir_owned(path):
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise SourceError("scratch", "scratch_unsafe", "%s is not a real directory" % path)
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SourceError("scratch", "scratch_unsafe",
                          "%s must belong to uid %d and not be group/world writable" % (path, os.geteuid()))


def make_scratch(cfg, tag):
    """Create a fresh 0700 scratch folder under the policy's root, after the safety checks."""
    root = cfg["scratch_root"]
    problem = bp.scratch_root_error(root) or bp.overlap_error(root, cfg.get("source"), cfg.get("repository"))
    if problem:
        raise SourceError("scratch", "scratch_unsafe", problem)
    root = os.path.normpath(root)
    base = bp.SCRATCH_BASE
    if os.path.realpath(os.path.dirname(base)) != os.path.dirname(base):
        raise SourceError("scratch", "scratch_unsafe", "%s resolves through a symlink" % os.path.dirname(base))
    # Create (or check) every level from the allowed base down to the root.
    rel = os.path.relpath(root, base)
    parts = [] if rel == "." else rel.split(os.sep)
    for depth in range(len(parts) + 1):
        current = os.path.join(base, *parts[:depth])
        try:
            os.mkdir(current, 0o700)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise SourceError("scratch", "scratch_unsafe",
                                  "cannot create %s: %s" % (current, exc.strerror)) from exc
        _real_dir_owned(current)
    if os.path.realpath(root) != root:
        raise SourceError("scratch", "scratch_unsafe", "%s resolves elsewhere (symlink)" % root)
    for label in ("source", "repository"):
        path = cfg.get(label)
        if path and path.startswith("/") and bp.overlap_error(root, os.path.realpath(path), None):
            raise SourceError("scratch", "scratch_unsafe", "%s overlaps the real %s path" % (root, label))
    safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", "%s-%s-" % (tag, cfg["name"]))
    scratch = tempfile.mkdtemp(prefix="brt-" + safe_name, dir=root)
    os.chmod(scratch, 0o700)
    if os.path.dirname(os.path.realpath(scratch)) != root:
        raise SourceError("scratch", "scratch_unsafe", "scratch folder escapes %s" % root)
    return scratch


def remove_scratch(scratch):
    """Remove the scratch folder (never following symlinks); return True when it is gone."""
    if not scratch:
        return True

    def _retry(func, path, _exc):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            if not os.path.islink(path) and os.path.isdir(path):
                os.chmod(path, 0o700)
            func(path)
        except OSError:
            pass

    shutil.rmtree(scratch, onerror=_retry)
    return not os.path.lexists(scratch)


def restored_file(scratch, rel):
    """Return (size, sha256) of a restored file, or None when it is missing or not a regular file."""
    path = os.path.join(scratch, rel.lstrip("/"))
    real = os.path.realpath(path)
    if not real.startswith(scratch + os.sep):
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return info.st_size, sha256_file(path)


def live_facts(path, max_bytes):
    """Return what the live source file looks like now (never following a symlink)."""
    if path is None:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return {"exists": False, "path": path}
    if not stat.S_ISREG(info.st_mode):
        return {"exists": False, "path": path, "note": "not a regular file"}
    out = {"exists": True, "path": path, "mtime": info.st_mtime, "size": info.st_size}
    if not max_bytes or info.st_size <= max_bytes:
        with contextlib.suppress(OSError):
            out["sha256"] = sha256_file(path)
    return out


# -- the sample -------------------------------------------------------------
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


# -- the tools' environment -------------------------------------------------
def tool_env(cfg, password):
    """Return the environment for the tools: repository and password, never on argv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTIC_", "BORG_"))}
    env["LC_ALL"] = "C.UTF-8"
    kind = cfg["type"]
    if kind == "restic":
        env["RESTIC_REPOSITORY"] = cfg["repository"]
        env["RESTIC_PROGRESS_FPS"] = "0.0167"
        if cfg.get("password_file"):
            env["RESTIC_PASSWORD_FILE"] = cfg["password_file"]
        else:
            env["RESTIC_PASSWORD"] = password
    elif kind == "borg":
        env["BORG_REPO"] = cfg["repository"]
        if cfg.get("password_file"):
            env["BORG_PASSCOMMAND"] = "cat " + shlex.quote(cfg["password_file"])
        elif password:
            env["BORG_PASSPHRASE"] = password
        # Never answer an interactive question with yes.
        env["BORG_RELOCATED_REPO_ACCESS_IS_OK"] = "no"
        env["BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"] = "no"
        env["BORG_CHECK_I_KNOW_WHAT_I_AM_DOING"] = "NO"
        env["BORG_DELETE_I_KNOW_WHAT_I_AM_DOING"] = "NO"
    return env


def check_password(cfg, password):
    """Raise a clear error when no password is available for an encrypted repository."""
    if cfg["type"] == "copy":
        return
    if cfg.get("password_file"):
        if not os.path.isfile(cfg["password_file"]) or not os.access(cfg["password_file"], os.R_OK):
            raise SourceError("setup", "password_missing",
                              "password file %s is missing or unreadable" % cfg["password_file"])
    elif cfg.get("password_var") and not password:
        raise SourceError("setup", "password_missing",
                          "vault variable %s is not defined or empty" % cfg["password_var"])
