#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Random restore test of restic, borg and plain-copy backups (collect side)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_restore_test
short_description: Restore a random, replayable sample from each backup source and verify it
description:
  - For every backup source the policy assigns to this host, in one call, reads the
    newest snapshot (C(restic snapshots --json), C(borg list --json); for a copy folder
    the newest file), lists its regular files (C(restic ls --json), C(borg list --json-lines);
    a walk for a copy), picks a sample with a recorded seed, restores only those files into
    a fresh 0700 scratch folder under the policy's scratch root, verifies size and SHA-256
    against the snapshot's metadata and against the live file when it did not change since
    the snapshot, measures restore time and bytes, runs the repository check, and always
    removes the scratch folder.
  - Returns C(maint_results) (C(backup.freshness), C(backup.restore_sample),
    C(backup.integrity) per source) built by C(backup_decide), plus the raw facts.
  - Read-only towards the repository. restic runs with C(--no-lock). borg reads
    (C(list), C(extract)) run with C(--bypass-lock) and leave the repository byte for byte
    unchanged. C(borg check) takes borg's own lock because it is not a pure read - it re-saves
    the repository config with the same content, and with C(verify_data) (any archives check)
    advances borg's nonce file.
  - Passwords come from O(passwords) (no_log) into C(RESTIC_PASSWORD)/C(BORG_PASSPHRASE), or
    from a password file on the host (C(RESTIC_PASSWORD_FILE), C(BORG_PASSCOMMAND=cat FILE)).
    They never appear in a command line, a result or the returned facts.
  - O(mode=plan) only returns the host's sources merged with the defaults, and
    O(mode=evaluate) turns facts collected elsewhere (the Windows collector
    C(win_restic_restore_test)) into results; both do no I/O.
version_added: "0.1.0"
author: maintctl contributors
options:
  policy:
    description: The C(backup) section of the client policy (C(maint_policy.backup)).
    type: dict
    required: true
  host:
    description: The inventory name of this host; selects the sources whose C(host) matches.
    type: str
    required: true
  passwords:
    description: Source name to password, resolved from the vault variables named by C(password_var).
    type: dict
    default: {}
  seed:
    description: Replay the sample of a previous run with this seed (random when empty).
    type: str
    default: ""
  only:
    description: Restrict the test to these source names.
    type: list
    elements: str
    default: []
  scratch_tag:
    description:
      - Tag in the scratch folder's name (C(brt-TAG-SOURCE-XXXX)), usually the run id, so
        that the role's cleanup finds a folder left by a killed module.
    type: str
    default: adhoc
  mode:
    description: C(collect) on the host, C(plan) or C(evaluate) on the controller.
    type: str
    choices: [collect, plan, evaluate]
    default: collect
  facts:
    description: With O(mode=evaluate), the per-source facts a collector returned.
    type: list
    elements: dict
    default: []
notes:
  - Supports check mode; the test is a probe and runs fully in check mode.
"""

EXAMPLES = r"""
- name: Restore-test this host's backup sources
  backup_restore_test:
    policy: "{{ maint_policy.backup }}"
    host: "{{ inventory_hostname }}"
    passwords:
      files01-restic: "{{ vault_backup_restic_password }}"
  register: restore_test
  changed_when: false
  check_mode: false
"""

RETURN = r"""
maint_results:
  description: Three results per source, in the shape of schemas/check_result.schema.json.
  returned: always
  type: list
  elements: dict
backup_sources:
  description:
    - Raw facts per source (config without passwords, snapshot, listing counts, seed,
      sample with sizes, SHA-256 and live-file data, restore timing, integrity output).
  returned: always
  type: list
  elements: dict
seed:
  description: The seed this call used for every source (replay with O(seed)).
  returned: when mode is collect
  type: str
sources:
  description: With O(mode=plan), the host's sources merged with the defaults.
  returned: when mode is plan
  type: list
  elements: dict
"""

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils import backup_decide as bd
except ImportError:  # pragma: no cover - unit tests import it from the package
    from maint_utils import backup_decide as bd

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


def borg_local_epoch(text):
    """Return epoch seconds of a borg 1.x time (naive, local) using this host's zone rules, or None."""
    if not isinstance(text, str):
        return bd.parse_time(text)
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?$", text)
    if not match:
        return bd.parse_time(text)
    try:
        stamp = time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
        return time.mktime(stamp) + (float(match.group(2)) if match.group(2) else 0.0)
    except (ValueError, OverflowError):
        return None


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
        lines = bd.error_lines(err, 3)
        raise SourceError(stage, bd.classify_error(err), "; ".join(lines) or "exit code %s" % rc)


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
    problem = bd.scratch_root_error(root) or bd.overlap_error(root, cfg.get("source"), cfg.get("repository"))
    if problem:
        raise SourceError("scratch", "scratch_unsafe", problem)
    root = os.path.normpath(root)
    base = bd.SCRATCH_BASE
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
        if path and path.startswith("/") and bd.overlap_error(root, os.path.realpath(path), None):
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


# -- tools --------------------------------------------------------------------
class ResticSource:
    """restic: snapshots, ls, restore --include --verify, check --read-data-subset."""

    def __init__(self, cfg, runner, facts):
        self.cfg, self.runner, self.facts = cfg, runner, facts

    def snapshot(self):
        argv = ["restic", "snapshots", "--json", "--no-lock"]
        if self.cfg.get("restic_host"):
            argv += ["--host", self.cfg["restic_host"]]
        rc, out, err, timed_out = self.runner.run(argv, "snapshots")
        fail_on("snapshots", rc, err, timed_out, self.runner.timeout)
        snaps = parse_json(out, list, "restic snapshots --json")
        dicts = [snap for snap in snaps if isinstance(snap, dict) and snap.get("id")]
        if len(dicts) != len(snaps):
            raise SourceError("snapshots", "unreadable", "restic snapshots --json: %d of %d entries are not "
                              "snapshots" % (len(snaps) - len(dicts), len(snaps)))
        self.facts["snapshot_count"] = len(snaps)
        if not snaps:
            return None
        latest = max(snaps, key=lambda s: bd.parse_time(s.get("time")) or 0)
        self.roots = latest.get("paths") or []
        return {"id": latest.get("id"), "short_id": latest.get("short_id"), "time": latest.get("time"),
                "paths": self.roots}

    def listing(self, snap, heap):
        def on_line(raw):
            node = json_line(raw)
            if node is None or not isinstance(node.get("path"), str) or not node["path"]:
                heap.unreadable(raw)
                return
            if node.get("struct_type") == "node" and node.get("type") == "file":
                heap.add(node["path"], {"size": as_size(node.get("size")), "mtime": node.get("mtime")})

        rc, err = self.runner.lines(["restic", "ls", "--json", "--no-lock", snap["id"]], "ls", on_line)
        fail_on("ls", rc, err, False)

    def restore(self, snap, sample, scratch):
        argv = ["restic", "restore", "--no-lock", "--target", scratch, "--verify"]
        for entry in sample:
            argv += ["--include", bd.restic_include_pattern(entry["path"])]
        argv.append(snap["id"])
        rc, out, err, timed_out = self.runner.run(argv, "restore")
        verified = re.search(r"finished verifying (\d+) files", out or "")
        return {"rc": rc, "timed_out": timed_out,
                "tool_verified": rc == 0 and bool(verified) and int(verified.group(1)) > 0,
                "error": "; ".join(bd.error_lines(err, 3)) if rc != 0 or timed_out else None}

    def check(self):
        pct = self.cfg["integrity"].get("read_data_subset_pct") or 0
        argv = ["restic", "check", "--no-lock"]
        if pct:
            argv.append("--read-data-subset=%s%%" % pct)
        return argv


class BorgSource:
    """borg: list --json, list --json-lines, extract of the sampled paths, check."""

    def __init__(self, cfg, runner, facts):
        self.cfg, self.runner, self.facts = cfg, runner, facts

    def snapshot(self):
        argv = ["borg", "list", "--json", "--bypass-lock"]
        if self.cfg.get("borg_glob_archives"):
            argv += ["--glob-archives", self.cfg["borg_glob_archives"]]
        rc, out, err, timed_out = self.runner.run(argv, "snapshots")
        fail_on("snapshots", rc, err, timed_out, self.runner.timeout)
        archives = parse_json(out, dict, "borg list --json").get("archives")
        if not isinstance(archives, list) or not all(isinstance(a, dict) and (a.get("name") or a.get("archive"))
                                                     for a in archives):
            raise SourceError("snapshots", "unreadable", "borg list --json: no readable archives list")
        self.facts["snapshot_count"] = len(archives)
        if not archives:
            return None
        for arch in archives:
            arch["epoch"] = borg_local_epoch(arch.get("time") or arch.get("start"))
        latest = max(archives, key=lambda a: a["epoch"] or 0)
        return {"id": latest.get("name") or latest.get("archive"), "time": latest["epoch"]}

    def listing(self, snap, heap):
        def on_line(raw):
            node = json_line(raw)
            if node is None or not isinstance(node.get("path"), str) or not node["path"]:
                heap.unreadable(raw)
                return
            if node.get("type") == "-":
                heap.add(node["path"], {"size": as_size(node.get("size")),
                                        "mtime": borg_local_epoch(node.get("mtime"))})

        rc, err = self.runner.lines(["borg", "list", "--json-lines", "--bypass-lock", "::" + snap["id"]],
                                    "ls", on_line)
        fail_on("ls", rc, err, False)

    def metadata_sha256(self, snap, sample):
        """Ask borg for the SHA-256 of the sampled files (it reads only their chunks)."""
        argv = ["borg", "list", "--json-lines", "--bypass-lock", "--format", "{path}{sha256}{size}",
                "::" + snap["id"]] + ["pp:" + e["path"] for e in sample]
        rc, out, err, timed_out = self.runner.run(argv, "restore")
        hashes = {}
        for line in (out or "").splitlines():
            node = json_line(line)
            if node is None:
                continue
            if isinstance(node.get("sha256"), str) and node["sha256"]:
                hashes[node.get("path")] = node["sha256"]
        return hashes, (None if rc == 0 and not timed_out else "; ".join(bd.error_lines(err, 3)))

    def restore(self, snap, sample, scratch):
        hashes, meta_error = self.metadata_sha256(snap, sample)
        for entry in sample:
            entry["sha256"] = hashes.get(entry["path"])
        argv = ["borg", "extract", "--bypass-lock", "::" + snap["id"]] + ["pp:" + e["path"] for e in sample]
        rc, _out, err, timed_out = self.runner.run(argv, "restore", cwd=scratch)
        error = None
        if rc != 0 or timed_out:
            error = "; ".join(bd.error_lines(err, 3)) or "exit code %s" % rc
        elif meta_error:
            error = "borg list --format {sha256}: " + meta_error
        return {"rc": rc, "timed_out": timed_out, "tool_verified": False, "error": error}

    def check(self):
        if self.cfg["integrity"].get("verify_data"):
            return ["borg", "check", "--verify-data"]
        return ["borg", "check", "--repository-only"]


class CopySource:
    """A plain copy (mirror, rsync target): walk it, copy the sample out, compare with the source."""

    def __init__(self, cfg, runner, facts):
        self.cfg, self.runner, self.facts = cfg, runner, facts
        self.root = os.path.normpath(cfg["repository"])

    def snapshot(self):
        try:
            info = os.lstat(self.root)
        except OSError as exc:
            raise SourceError("snapshots", "repository_missing", "%s: %s" % (self.root, exc.strerror)) from exc
        if not stat.S_ISDIR(info.st_mode):
            raise SourceError("snapshots", "repository_missing", "%s is not a directory" % self.root)
        self._files = []
        newest = None
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    self._files.append((os.path.relpath(path, self.root), st.st_size, st.st_mtime))
                    newest = st.st_mtime if newest is None else max(newest, st.st_mtime)
        self.facts["snapshot_count"] = 1 if self._files else 0
        return None if newest is None else {"id": "copy", "time": newest}

    def listing(self, snap, heap):
        for rel, size, mtime in self._files:
            heap.add(rel, {"size": size, "mtime": mtime})

    def restore(self, snap, sample, scratch):
        errors = []
        for entry in sample:
            src = os.path.join(self.root, entry["path"])
            dst = os.path.join(scratch, entry["path"])
            try:
                if os.path.islink(src):
                    raise OSError(errno.ELOOP, "is a symlink")
                os.makedirs(os.path.dirname(dst), mode=0o700, exist_ok=True)
                with open(src, "rb") as fin, open(dst, "xb") as fout:
                    shutil.copyfileobj(fin, fout, CHUNK)
            except OSError as exc:
                errors.append("%s: %s" % (entry["path"], exc.strerror))
        return {"rc": 1 if errors else 0, "timed_out": False, "tool_verified": False,
                "error": "; ".join(errors[:3]) or None}

    def check(self):
        return None

    def live(self, rel):
        return os.path.join(os.path.normpath(self.cfg["source"]), rel)


TOOLS = {"restic": ResticSource, "borg": BorgSource, "copy": CopySource}


# -- one source ---------------------------------------------------------------
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


def _verify_sample(tool, cfg, snap, sample, scratch, max_bytes):
    for entry in sample:
        got = restored_file(scratch, entry["path"])
        entry["restored"] = got is not None
        if got:
            entry["restored_size"], entry["restored_sha256"] = got
        is_copy = cfg["type"] == "copy"
        live = tool.live(entry["path"]) if is_copy else bd.live_path(entry["path"], cfg.get("source"))
        entry["live"] = live_facts(live, max_bytes)


def collect_source(cfg, password, seed, tag, scrub):
    """Collect the raw facts of one source; the scratch folder is always removed."""
    public = {k: v for k, v in cfg.items() if k != "index"}
    public["repository"] = bd.redact_location(public.get("repository"))
    facts = {"config": public, "seed": seed, "collected_at": bd.iso(time.time()), "error": None,
             "snapshot": None, "snapshot_count": 0, "sample": [], "restore": {}, "integrity": {"ran": False}}
    runner = Runner(tool_env(cfg, password), int(cfg["timeout_seconds"]), scrub)
    tool = TOOLS[cfg["type"]](cfg, runner, facts)
    max_bytes = int(cfg.get("max_sample_file_mb") or 0) * 1024 * 1024
    scratch = None
    stage = "setup"
    try:
        check_password(cfg, password)
        stage = "snapshots"
        snap = tool.snapshot()
        facts["snapshot"] = snap
        if snap:
            stage = "ls"
            heap = bd.SampleHeap(cfg["sample_size"], seed, max_bytes)
            tool.listing(snap, heap)
            if heap.garbage and not heap.count:
                raise SourceError("ls", "unreadable", "the listing of snapshot %s had %d unreadable line(s) and "
                                  "no file" % (snap.get("id"), heap.garbage))
            facts["listing"] = {"files": heap.count, "bytes": heap.bytes}
            sample = [dict(entry, path=path) for path, entry in heap.result()]
            facts["sample"] = sample
            if sample:
                stage = "scratch"
                scratch = make_scratch(cfg, tag)
                facts["restore"]["scratch"] = scratch
                stage = "restore"
                started = time.monotonic()
                facts["restore"].update(tool.restore(snap, sample, scratch))
                facts["restore"]["seconds"] = round(time.monotonic() - started, 3)
                stage = "verify"
                _verify_sample(tool, cfg, snap, sample, scratch, max_bytes)
                facts["restore"]["bytes"] = sum(e.get("restored_size") or 0 for e in sample)
    except SourceError as exc:
        facts["error"] = {"stage": exc.stage, "kind": exc.kind, "message": scrub(exc.message)[:300]}
    except Exception as exc:  # noqa: BLE001 - unexpected tool output becomes a result, never a crash
        facts["error"] = {"stage": stage, "kind": "unreadable",
                          "message": scrub("%s: %s" % (type(exc).__name__, exc))[:300]}
    finally:
        if scratch:
            facts["restore"]["scratch_removed"] = remove_scratch(scratch)
    try:
        run_integrity(tool, cfg, facts, runner)
    except Exception as exc:  # noqa: BLE001 - as above
        facts["integrity"] = {"ran": False, "error_kind": "unreadable",
                              "error": scrub("%s: %s" % (type(exc).__name__, exc))[:300]}
    return facts


def run_integrity(tool, cfg, facts, runner):
    """Run the repository check unless the repository could not be opened at all."""
    error = facts.get("error") or {}
    if error.get("kind") in ("wrong_password", "password_missing", "repository_missing", "tool_missing"):
        return
    if not cfg["integrity"].get("enabled", True):
        return
    argv = tool.check()
    if not argv:
        return
    started = time.monotonic()
    try:
        rc, out, err, timed_out = runner.run(argv, "integrity")
    except SourceError as exc:
        facts["integrity"] = {"ran": False, "error_kind": exc.kind}
        return
    text = (err or "") + "\n" + (out or "")
    facts["integrity"] = {
        "ran": True, "command": " ".join(argv), "rc": rc, "timed_out": timed_out,
        "seconds": round(time.monotonic() - started, 3),
        "errors": bd.error_lines(text) if rc != 0 or timed_out else [],
        "error_kind": bd.classify_error(text) if rc not in (0, 1) or timed_out else None,
    }
    if facts["integrity"]["error_kind"] in ("other", "repository_missing"):
        facts["integrity"]["error_kind"] = None


def main():
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "policy": {"type": "dict", "required": True},
            "host": {"type": "str", "required": True},
            "passwords": {"type": "dict", "default": {}, "no_log": True},
            "seed": {"type": "str", "default": ""},
            "only": {"type": "list", "elements": "str", "default": []},
            "scratch_tag": {"type": "str", "default": "adhoc"},
            "mode": {"type": "str", "default": "collect", "choices": ["collect", "plan", "evaluate"]},
            "facts": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    problems = bd.validate_policy(params["policy"])
    if problems:
        module.fail_json(msg="invalid backup policy: " + problems[0], problems=problems)
    sources = bd.sources_for_host(params["policy"], params["host"], params["only"])
    if params["mode"] == "plan":
        module.exit_json(changed=False, sources=sources, maint_results=[])
    if params["mode"] == "evaluate":
        by_name = {s["name"]: s for s in sources}
        facts_list = []
        for facts in params["facts"]:
            cfg = by_name.get((facts.get("config") or {}).get("name"))
            if cfg is None:
                continue
            facts = dict(facts, config={k: v for k, v in cfg.items() if k != "index"})
            facts_list.append(facts)
        module.exit_json(changed=False, maint_results=bd.decide_all(facts_list, time.time()),
                         backup_sources=facts_list)
    passwords = {str(k): str(v) for k, v in (params["passwords"] or {}).items() if v}
    scrub = Scrubber(passwords.values())
    seed = params["seed"] or secrets.token_hex(8)
    tag = re.sub(r"[^A-Za-z0-9_-]", "_", params["scratch_tag"] or "adhoc")[:40]
    facts_list = [collect_source(cfg, passwords.get(cfg["name"], ""), seed, tag, scrub) for cfg in sources]
    results = bd.decide_all(facts_list, time.time())
    module.exit_json(changed=False, maint_results=results, backup_sources=facts_list, seed=seed)


if __name__ == "__main__":
    main()
