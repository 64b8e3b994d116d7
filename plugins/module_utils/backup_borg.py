# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The borg collector: list --json, list --json-lines, extract of the sampled paths, check.

borg's reads run with ``--bypass-lock`` and leave the repository byte for byte unchanged;
``borg check`` takes borg's own lock (see the role's README).
"""

from __future__ import annotations

import re
import time

try:
    from ansible.module_utils import backup_verdict as bv
    from ansible.module_utils.backup_collect import SourceError, as_size, fail_on, json_line, parse_json
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils import backup_verdict as bv
    from maint_utils.backup_collect import SourceError, as_size, fail_on, json_line, parse_json


def borg_local_epoch(text):
    """Return epoch seconds of a borg 1.x time (naive, local) using this host's zone rules, or None."""
    if not isinstance(text, str):
        return bv.parse_time(text)
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?$", text)
    if not match:
        return bv.parse_time(text)
    try:
        stamp = time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
        return time.mktime(stamp) + (float(match.group(2)) if match.group(2) else 0.0)
    except (ValueError, OverflowError):
        return None



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
        return hashes, (None if rc == 0 and not timed_out else "; ".join(bv.error_lines(err, 3)))

    def restore(self, snap, sample, scratch):
        hashes, meta_error = self.metadata_sha256(snap, sample)
        for entry in sample:
            entry["sha256"] = hashes.get(entry["path"])
        argv = ["borg", "extract", "--bypass-lock", "::" + snap["id"]] + ["pp:" + e["path"] for e in sample]
        rc, _out, err, timed_out = self.runner.run(argv, "restore", cwd=scratch)
        error = None
        if rc != 0 or timed_out:
            error = "; ".join(bv.error_lines(err, 3)) or "exit code %s" % rc
        elif meta_error:
            error = "borg list --format {sha256}: " + meta_error
        return {"rc": rc, "timed_out": timed_out, "tool_verified": False, "error": error}

    def check(self):
        if self.cfg["integrity"].get("verify_data"):
            return ["borg", "check", "--verify-data"]
        return ["borg", "check", "--repository-only"]
