# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The plain-copy collector (a mirror, an rsync target): walk it, copy the sample out, compare with the source.

A copy has no snapshot metadata and no repository check: the sample restore is the test.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat

try:
    from ansible.module_utils.backup_collect import CHUNK, SourceError
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils.backup_collect import CHUNK, SourceError


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
