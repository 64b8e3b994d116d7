#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Gather ClamAV's state on a Linux host in one call and return antivirus check results."""

from __future__ import annotations

DOCUMENTATION = r"""
module: antivirus_clamav
short_description: Gather ClamAV's state, test detection with EICAR, and return antivirus results
description:
  - In one call per host, reads whether ClamAV is installed, whether C(clamd) and C(clamonacc) run
    (from C(/proc), so it works without systemd), the signature databases' versions and build times
    (C(sigtool --info) on .cvd/.cld/.cud files; the file modification time for header-less
    databases such as .hdb and .ndb, said so in C(observed)), freshclam's last successful update
    from its log, and the last scan from the policy's scan log.
  - When O(policy.detection_test) is true, writes the EICAR test string to a file (mode 0600, in a
    private temporary directory), scans it with the installed engine and the host's database,
    expects a detection and always removes the file. The test runs in check mode too; it changes
    nothing on the host.
  - When O(policy.update_signatures) is true, the signatures are stale and not in check mode, runs
    C(freshclam) once, bounded by O(policy.update_timeout_seconds). A failure or a timeout is a
    C(warning) result, never a task failure.
  - Thresholds and statuses are decided by C(antivirus_clamav.evaluate_clamav) of the project's
    module_utils; the policy keys and their defaults are the catalogue's (C(antivirus_decide.CHECKS)),
    documented in C(schemas/policy/antivirus.schema.json).
version_added: "0.1.0"
options:
  policy:
    description: The client's C(maint_policy.antivirus) section.
    type: dict
    default: {}
  database_dir:
    description:
      - Signature database directory. Default, C(DatabaseDirectory) from clamd.conf or
        freshclam.conf, else C(/var/lib/clamav).
    type: path
  freshclam_log:
    description:
      - freshclam's log. Default, C(UpdateLogFile) from freshclam.conf, else
        C(/var/log/clamav/freshclam.log).
    type: path
  config_dir:
    description: Where clamd.conf and freshclam.conf live.
    type: path
    default: /etc/clamav
notes:
  - Needs root (C(become)) to read the logs and to run freshclam.
  - Without clamd, the detection test runs clamscan, which loads the whole database
    (about 1 GiB of memory and 20-40 s with the official databases).
author: maintctl contributors
"""

EXAMPLES = r"""
- name: Check ClamAV
  antivirus_clamav:
    policy: "{{ maint_policy.antivirus | default({}) }}"
  become: true
"""

RETURN = r"""
maint_results:
  description: Check results in the shape of schemas/check_result.schema.json.
  returned: always
  type: list
  elements: dict
clamav:
  description: The raw facts the results were decided from.
  returned: always
  type: dict
"""

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from ansible.module_utils.antivirus_clamav import (
    clamav_needs_update,
    evaluate_clamav,
    parse_detection,
    parse_freshclam_log,
    parse_scan_log,
    parse_sigtool_info,
)
from ansible.module_utils.antivirus_decide import effective_policy
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.maint_result import PolicyError

HEADER_DBS = (".cvd", ".cld", ".cud")
PLAIN_DBS = (".hdb", ".hsb", ".hdu", ".hsu", ".mdb", ".msb", ".mdu", ".msu", ".ndb", ".ndu", ".ldb",
             ".ldu", ".cdb", ".idb", ".cbc", ".pdb", ".gdb", ".wdb", ".ftm", ".yar", ".yara")
LOG_TAIL = 512 * 1024
SCAN_TIMEOUT = 300
# sigtool --info and --version answer in well under a second; a hung one must not hang the run.
TOOL_TIMEOUT = 60
EICAR_PREFIX = "maint-eicar-"
# The EICAR test string, assembled at run time so that this file is not itself a test virus.
EICAR = "".join(("X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-ANTIVIRUS", "-TEST-FILE!$H+H*"))


def read_tail(path, size=LOG_TAIL):
    """Return the last ``size`` bytes of a text file, decoded leniently."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - size))
        return handle.read().decode("utf-8", "replace")


def read_conf(path):
    """Read ``Key Value`` lines of a ClamAV configuration file (missing file: empty)."""
    conf = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                parts = line.strip().split(None, 1)
                if len(parts) == 2 and not parts[0].startswith("#"):
                    conf[parts[0]] = parts[1].strip()
    except OSError:
        pass
    return conf


def processes():
    """Map process names to pids from /proc; None when /proc cannot be read."""
    found = {}
    try:
        pids = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0]:
            continue
        name = os.path.basename(argv[0].decode("utf-8", "replace"))
        found.setdefault(name, []).append(int(pid))
    return found


def run_bounded(argv, timeout):
    """Run argv with a timeout, killing its whole process group on expiry.

    Returns ``(rc, output, timed_out, duration)``; rc is None when the command could not start.
    """
    started = time.time()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        return None, str(exc), False, 0.0
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        timed_out = True
    except BaseException:
        # Interrupted (SIGTERM turned into SystemExit): the child has a session of its own and
        # would outlive this module, so end it before unwinding.
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, out.decode("utf-8", "replace"), timed_out, round(time.time() - started, 1)


def databases(database_dir, sigtool):
    """Describe every signature database in database_dir."""
    found = []
    try:
        names = sorted(os.listdir(database_dir))
    except OSError:
        return found
    for name in names:
        path = os.path.join(database_dir, name)
        ext = os.path.splitext(name)[1].lower()
        if not os.path.isfile(path) or ext not in HEADER_DBS + PLAIN_DBS:
            continue
        entry = {"file": name, "version": None, "signatures": None, "build_time": None, "source": "mtime"}
        if ext in HEADER_DBS and sigtool:
            rc, out, timed_out, _ = run_bounded([sigtool, "--info", path], TOOL_TIMEOUT)
            info = parse_sigtool_info(out) if rc == 0 and not timed_out else {}
            if info.get("build_time") is not None:
                entry.update(version=info.get("version"), signatures=info.get("signatures"),
                             build_time=info["build_time"], source="sigtool")
        if entry["build_time"] is None:
            entry["build_time"] = int(os.stat(path).st_mtime)
            if ext not in HEADER_DBS:
                try:
                    with open(path, "rb") as handle:
                        entry["signatures"] = sum(1 for line in handle if line.strip())
                except OSError:
                    pass
        found.append(entry)
    return found


def scan_log(path, utc_offset):
    """Parse the policy's scan log (``clamscan --log`` format)."""
    if not path:
        return {}
    info = {"path": path, "exists": os.path.exists(path)}
    if not info["exists"]:
        info.update(scans=0, last_scan_end=None, infected=None, found=[])
        return info
    try:
        info.update(parse_scan_log(read_tail(path, 2 * LOG_TAIL), utc_offset))
    except OSError as exc:
        info["error"] = exc.strerror
    return info


def _raise_exit(signum, _frame):
    raise SystemExit(128 + signum)


def remove_stale_eicar(tmpdir, older_than):
    """Remove EICAR test folders of ours that a killed earlier run left (SIGKILL cannot be caught)."""
    removed = []
    try:
        names = os.listdir(tmpdir)
    except OSError:
        return removed
    for name in names:
        path = os.path.join(tmpdir, name)
        if not re.match(r"^%s[A-Za-z0-9_]+$" % EICAR_PREFIX, name):
            continue
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and info.st_mtime < older_than:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    return removed


def detection_test(bins, database_dir, daemon_running):
    """Scan an EICAR file with the installed engine; always remove it, even when interrupted.

    SIGTERM, SIGHUP and SIGINT during the test unwind through ``finally`` (the file is
    removed and the scanner killed) before the module exits; a folder left by a SIGKILL is
    removed by the next run.
    """
    if daemon_running and bins.get("clamdscan"):
        scanner = "clamdscan"
        base = [bins["clamdscan"], "--fdpass", "--no-summary", "--stdout"]
    elif bins.get("clamscan"):
        scanner = "clamscan"
        base = [bins["clamscan"], "--no-summary", "--stdout", "--database=%s" % database_dir]
    else:
        return {"ran": False, "reason": "no clamscan or clamdscan on the host"}
    test = {"ran": True, "scanner": scanner, "database_dir": database_dir, "removed": False}
    stale = remove_stale_eicar(tempfile.gettempdir(), time.time() - 2 * SCAN_TIMEOUT)
    if stale:
        test["stale_removed"] = stale
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            previous[signum] = signal.signal(signum, _raise_exit)
    workdir = tempfile.mkdtemp(prefix=EICAR_PREFIX)
    path = os.path.join(workdir, "eicar.com")
    test["path"] = path
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(EICAR)
        rc, out, timed_out, duration = run_bounded(base + [path], SCAN_TIMEOUT)
        test.update(rc=rc, duration_s=duration, detection=parse_detection(out))
        if timed_out:
            test["error"] = "%s did not finish within %s s" % (scanner, SCAN_TIMEOUT)
        elif rc not in (0, 1):
            lines = [line.strip() for line in out.splitlines() if "error" in line.lower()]
            test["error"] = (lines[0] if lines else out.strip() or "no output")[:200]
    except OSError as exc:
        test["error"] = "cannot write the test file: %s" % exc.strerror
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        test["removed"] = not os.path.exists(workdir)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return test


def remove_stale_tmp(database_dir, since):
    """Remove the tmp.<hex> folders a killed freshclam left in the database folder since ``since``."""
    removed = []
    try:
        names = os.listdir(database_dir)
    except OSError:
        return removed
    for name in names:
        path = os.path.join(database_dir, name)
        if (re.match(r"^tmp\.[0-9a-f]+$", name) and os.path.isdir(path) and not os.path.islink(path)
                and os.stat(path).st_mtime >= since - 1):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    return removed


def freshclam_update(bins, procs, timeout, database_dir):
    """Run freshclam once, bounded by timeout."""
    if not bins.get("freshclam"):
        return {"blocked": "freshclam is not installed"}
    if procs and procs.get("freshclam"):
        return {"blocked": "a freshclam process (the update service?) is already running"}
    argv = [bins["freshclam"], "--stdout"]
    started = time.time()
    rc, out, timed_out, duration = run_bounded(argv, timeout)
    update = {"command": " ".join(argv), "rc": rc, "duration_s": duration, "timeout_s": timeout,
              "timed_out": timed_out}
    if timed_out:
        update["cleaned"] = remove_stale_tmp(database_dir, started)
    errors = [re.sub(r"^\w{3} \w{3} +\d+ [\d:]+ \d{4} -> ", "", line.split("ERROR:", 1)[1].strip())
              for line in out.splitlines() if "ERROR:" in line]
    if errors:
        update["error"] = errors[-1][:200]
    elif rc is None:
        update["error"] = out[:200]
    return update


def gather(module, params, policy):
    """Collect every raw fact in one pass."""
    names = ("clamscan", "clamdscan", "clamd", "freshclam", "sigtool", "clamonacc")
    bins = {name: module.get_bin_path(name) for name in names}
    bins = {name: path for name, path in bins.items() if path}
    clamd_conf = read_conf(os.path.join(params["config_dir"], "clamd.conf"))
    fresh_conf = read_conf(os.path.join(params["config_dir"], "freshclam.conf"))
    database_dir = (params["database_dir"] or clamd_conf.get("DatabaseDirectory")
                    or fresh_conf.get("DatabaseDirectory") or "/var/lib/clamav")
    freshclam_log = (params["freshclam_log"] or fresh_conf.get("UpdateLogFile")
                     or "/var/log/clamav/freshclam.log")
    utc_offset = time.localtime().tm_gmtoff
    procs = processes()
    facts = {
        "installed": bool(bins.get("clamscan") or bins.get("clamd")),
        "binaries": bins,
        "database_dir": database_dir,
        "utc_offset": utc_offset,
        "daemon_running": None if procs is None else bool(procs.get("clamd")),
        "on_access_running": None if procs is None else bool(procs.get("clamonacc")),
        "freshclam_running": None if procs is None else bool(procs.get("freshclam")),
        "engine_version": None,
    }
    scanner = bins.get("clamscan") or bins.get("clamd")
    if scanner:
        rc, out, timed_out, _ = run_bounded([scanner, "--version"], TOOL_TIMEOUT)
        if rc == 0 and not timed_out and out.strip().startswith("ClamAV "):
            facts["engine_version"] = out.strip().split()[1].split("/")[0]
    facts["databases"] = databases(database_dir, bins.get("sigtool"))
    facts["freshclam"] = {"log": freshclam_log}
    try:
        facts["freshclam"].update(parse_freshclam_log(read_tail(freshclam_log), utc_offset))
    except OSError as exc:
        facts["freshclam"]["error"] = exc.strerror
    facts["scan_log"] = scan_log(policy["linux_scan_log"], utc_offset)
    facts["now"] = int(time.time())
    return facts, bins, procs


def main():
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "policy": {"type": "dict", "default": {}},
            "database_dir": {"type": "path"},
            "freshclam_log": {"type": "path"},
            "config_dir": {"type": "path", "default": "/etc/clamav"},
        },
        supports_check_mode=True,
    )
    try:
        policy = effective_policy(module.params["policy"])
    except PolicyError as exc:
        module.fail_json(msg="invalid antivirus policy: %s" % exc)
    facts, bins, procs = gather(module, module.params, policy)
    if facts["installed"] and clamav_needs_update(facts, policy):
        if module.check_mode:
            facts["update"] = {"skipped": "check mode"}
        else:
            before = [(db["file"], db["version"], db["build_time"]) for db in facts["databases"]]
            update = freshclam_update(bins, procs, int(policy["update_timeout_seconds"]), facts["database_dir"])
            facts["databases"] = databases(facts["database_dir"], bins.get("sigtool"))
            after = [(db["file"], db["version"], db["build_time"]) for db in facts["databases"]]
            update["changed"] = before != after
            facts["update"] = update
            facts["now"] = int(time.time())
    if facts["installed"] and policy["detection_test"]:
        facts["detection_test"] = detection_test(bins, facts["database_dir"], facts["daemon_running"])
    results = evaluate_clamav(facts, policy)
    module.exit_json(changed=any(r["changed"] for r in results), maint_results=results, clamav=facts)


if __name__ == "__main__":
    main()
