# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Patch decisions for apt (Debian, Ubuntu): dpkg snapshots, apt and dpkg logs, apt's install pins.

Pure Python, no I/O. ``patch_linux`` (``manager: apt``) reads the host with python3-apt and
dpkg; the classification, the plan guard and the results are ``patch_decide``'s.
"""

from __future__ import annotations

import datetime
import re

# The dpkg locks apt and dpkg really take (fcntl), tested by the pre-check.
LOCK_FILES = ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock")


# -- installed packages: dpkg snapshots ------------------------------------------------------

# dpkg states in which a package is usable; any other state but not-installed/config-files
# is a package left half-way (shown in its version, so a diff and the verify see it).
_DPKG_OK = ("installed", "triggers-pending", "triggers-awaiting")
_DPKG_ABSENT = ("not-installed", "config-files")
DPKG_QUERY_FORMAT = "${Package}\\t${Architecture}\\t${Version}\\t${db:Status-Status}\\n"


def parse_dpkg_snapshot(text):
    r"""Parse ``dpkg-query -W -f '${Package}\t${Architecture}\t${Version}\t${db:Status-Status}\n'``.

    Returns ``"name:arch"`` -> sorted list of versions; a package in a broken state (for
    example ``half-configured`` after an interrupted install) has its state appended:
    ``"1.1 (half-configured)"``. Removed packages (even with their conffiles left) are absent.
    """
    out = {}
    for line in (text or "").splitlines():
        parts = line.split("\t")
        if len(parts) != 4 or not parts[0] or parts[3] in _DPKG_ABSENT or not parts[2]:
            continue
        version = parts[2] if parts[3] in _DPKG_OK else "%s (%s)" % (parts[2], parts[3])
        out.setdefault("%s:%s" % (parts[0], parts[1]), []).append(version)
    return dict((k, sorted(set(v))) for k, v in out.items())


def snapshot_version(snapshot, name, native_arch):
    """Return the installed version of apt package ``name`` from a dpkg snapshot, or None.

    ``name`` is python-apt's: bare for the native architecture (or ``all``), ``name:arch``
    for a foreign one.
    """
    keys = [name] if ":" in name else ["%s:%s" % (name, native_arch), "%s:all" % name]
    for key in keys:
        versions = snapshot.get(key)
        if versions:
            return versions[-1] if len(versions) == 1 else ", ".join(versions)
    return None



# -- logs ----------------------------------------------------------------------------------------

_HIST_DATE = re.compile(r"^Start-Date:\s*(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2})", re.M)


def _parse_local(date_text):
    return datetime.datetime.strptime(date_text, "%Y-%m-%d %H:%M:%S")


def last_upgrade_from_history(text):
    """Return the naive local time of the last apt transaction that upgraded without error.

    ``text`` is /var/log/apt/history.log (rotated files concatenated, any order). Returns
    None when no such transaction is recorded.
    """
    best = None
    for block in re.split(r"\n\s*\n", text or ""):
        match = _HIST_DATE.search(block)
        if not match or not re.search(r"^Upgrade:", block, re.M) or re.search(r"^Error:", block, re.M):
            continue
        when = _parse_local("%s %s" % match.groups())
        best = when if best is None or when > best else best
    return best


def last_upgrade_from_dpkg_log(text):
    """Return the naive local time of the last ``upgrade`` action in dpkg.log, or None."""
    best = None
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "upgrade":
            try:
                when = _parse_local("%s %s" % (parts[0], parts[1]))
            except ValueError:
                continue
            best = when if best is None or when > best else best
    return best



# -- the install ---------------------------------------------------------------------------------

def install_specs(classified):
    """Return ``name=version`` pins for the packages that have a target."""
    return ["%s=%s" % (p["name"], p["target"]) for p in classified if p["target"]]

