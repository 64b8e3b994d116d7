# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The restic collector: snapshots, ls, restore --include --verify, check --read-data-subset.

Every restic call runs with ``--no-lock``: the test never writes into a repository.
"""

from __future__ import annotations

import re

try:
    from ansible.module_utils import backup_verdict as bv
    from ansible.module_utils.backup_collect import SourceError, as_size, fail_on, json_line, parse_json
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils import backup_verdict as bv
    from maint_utils.backup_collect import SourceError, as_size, fail_on, json_line, parse_json


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
        latest = max(snaps, key=lambda s: bv.parse_time(s.get("time")) or 0)
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
            argv += ["--include", restic_include_pattern(entry["path"])]
        argv.append(snap["id"])
        rc, out, err, timed_out = self.runner.run(argv, "restore")
        verified = re.search(r"finished verifying (\d+) files", out or "")
        return {"rc": rc, "timed_out": timed_out,
                "tool_verified": rc == 0 and bool(verified) and int(verified.group(1)) > 0,
                "error": "; ".join(bv.error_lines(err, 3)) if rc != 0 or timed_out else None}

    def check(self):
        pct = self.cfg["integrity"].get("read_data_subset_pct") or 0
        argv = ["restic", "check", "--no-lock"]
        if pct:
            argv.append("--read-data-subset=%s%%" % pct)
        return argv
