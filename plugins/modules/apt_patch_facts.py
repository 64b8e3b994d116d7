#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Read a Debian/Ubuntu host's patch state in one call (python3-apt) and decide the patch checks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: apt_patch_facts
short_description: Scan apt for pending and security updates, held packages, reboot flag, locks and free space
description:
  - "O(phase=scan): refreshes the package lists (C(apt-get update), unless O(update_cache=false)),
    then reads with python3-apt every installed package that has a newer version, each newer
    version's origins (suite, label, origin, codename), the held packages
    (C(dpkg --get-selections)), the suites' Release dates, the reboot flag
    (C(/var/run/reboot-required)), the apt history and dpkg logs, free space on C(/) and
    C(/var), and whether the dpkg locks are held (C(fcntl F_GETLK) on
    C(/var/lib/dpkg/lock-frontend) and C(/var/lib/dpkg/lock): the locks apt and dpkg
    really take, not the mere existence of the files)."
  - "It then chooses the version to install for each package (C(patch_decide.classify)):
    the best version from a security source in C(security) mode, the candidate in C(all)
    mode or for accepted packages; held and excluded packages get none."
  - "When O(install_planned) is true it returns the pre-check result (C(patch.precheck)) and
    the plan; the state results (C(patch.pending), C(patch.pending_security),
    C(patch.reboot_required), C(patch.last_patched)) then come from O(phase=final), after the
    install. Otherwise (a scan, a skipped host) it returns the state results itself."
  - "O(phase=verify): compares the installed versions with O(before) and O(planned) and
    returns C(patch.installed) (changed when a version changed) and C(patch.failed)."
  - "O(phase=final): reads the state again (no list refresh) and returns the state results,
    C(patch.rebooted) from O(reboot) and C(patch.post_check) (the policy's critical services
    must have a running process)."
  - Refreshing the package lists changes only apt's metadata cache; it is done in check mode
    too, because a scan from stale lists would report as C(ok) what nobody read.
version_added: "0.1.0"
options:
  phase:
    description: Which step of the patch flow this call is.
    type: str
    choices: [scan, verify, final]
    default: scan
  policy:
    description: The C(patch) section of the client policy; see C(schemas/policy/patch.schema.json).
    type: dict
    default: {}
  install_planned:
    description: With O(phase=scan), whether an install follows (patch_install, not check mode, window open).
    type: bool
    default: false
  update_cache:
    description: With O(phase=scan), run C(apt-get update) first.
    type: bool
    default: true
  deferred_reason:
    description: With O(phase=scan), the host is not patched because the window is closing; adds C(patch.deferred).
    type: str
    default: ""
  backup_age_hours:
    description: Age in hours of the host's newest good backup, when known (for O(policy.require_backup_within_rpo)).
    type: float
  rpo_hours:
    description: The client's backup RPO in hours.
    type: float
  planned:
    description: With O(phase=verify), the plan returned by the scan (RV(patch_plan.planned)).
    type: list
    elements: dict
    default: []
  before:
    description: With O(phase=verify), package name to version installed before the install.
    type: dict
    default: {}
  install_error:
    description: With O(phase=verify), the install task's error message when it failed.
    type: str
    default: ""
  reboot:
    description: With O(phase=final), the reboot decision and outcome (keys action, reason, rebooted, elapsed).
    type: dict
    default: {}
notes:
  - Needs python3-apt on the host and root (C(become)) to refresh lists and test the locks.
  - Supports check mode; it never installs anything.
author:
  - maintctl contributors
"""

EXAMPLES = r"""
- name: Scan for updates
  apt_patch_facts:
    policy: "{{ maint_policy.patch | default({}) }}"
  register: scan
"""

RETURN = r"""
maint_results:
  description: Check results in the shape of schemas/check_result.schema.json.
  returned: always
  type: list
  elements: dict
patch_facts:
  description: The raw facts read (pending packages with their classification, held, reboot flag, free space, locks).
  returned: always
  type: dict
patch_plan:
  description: With O(phase=scan), C(planned) (packages with a target version), C(specs) (name=version pins),
    C(before) (installed versions) and C(precheck_ok).
  returned: when phase is scan
  type: dict
reboot_required:
  description: Whether /var/run/reboot-required exists now.
  returned: always
  type: bool
reboot_action:
  description: With O(phase=verify), C(reboot), C(skip) or C(defer) (C(patch_decide.reboot_decision)).
  returned: when phase is verify
  type: str
reboot_reason:
  description: With O(phase=verify), why.
  returned: when phase is verify
  type: str
"""

import datetime
import fcntl
import functools
import glob
import gzip
import os
import struct

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils.patch_decide import (
        LOCK_FILES,
        PolicyError,
        classify,
        deferred_result,
        effective_policy,
        install_results,
        install_specs,
        last_upgrade_from_dpkg_log,
        last_upgrade_from_history,
        post_check,
        precheck,
        reboot_decision,
        reboot_result,
        scan_results,
    )
except ImportError:  # pragma: no cover
    from maint_utils.patch_decide import (
        LOCK_FILES,
        PolicyError,
        classify,
        deferred_result,
        effective_policy,
        install_results,
        install_specs,
        last_upgrade_from_dpkg_log,
        last_upgrade_from_history,
        post_check,
        precheck,
        reboot_decision,
        reboot_result,
        scan_results,
    )

REBOOT_FLAG = "/var/run/reboot-required"
LOG_LIMIT = 512 * 1024


def _origin(o):
    return {"origin": o.origin, "label": o.label, "archive": o.archive, "codename": o.codename,
            "component": o.component, "site": o.site}


def read_upgradable(apt, apt_pkg):
    """Installed packages with a newer version, each newer version with its origins (best first)."""
    cache = apt.Cache()
    out = []
    for pkg in cache:
        inst = pkg.installed
        if inst is None or pkg.candidate is None:
            continue
        newer = [v for v in pkg.versions if apt_pkg.version_compare(v.version, inst.version) > 0]
        if not newer:
            continue
        ordered = sorted(newer, key=functools.cmp_to_key(
            lambda a, b: apt_pkg.version_compare(a.version, b.version)), reverse=True)
        out.append({
            "name": pkg.name, "installed": inst.version, "candidate": pkg.candidate.version,
            "versions": [{"version": v.version, "origins": [_origin(o) for o in v.origins]} for v in ordered],
        })
    return out


def read_installed(apt, names):
    """Return name -> installed version (None when not installed)."""
    cache = apt.Cache()
    out = {}
    for name in names:
        pkg = cache[name] if name in cache else None  # noqa: SIM401 - apt.Cache has no get()
        out[name] = pkg.installed.version if pkg is not None and pkg.installed is not None else None
    return out


def read_held(module):
    """Return the held packages (dpkg --get-selections), or None when dpkg fails."""
    rc, out, err = module.run_command(["dpkg", "--get-selections"])
    if rc != 0:
        return None
    return sorted(line.split()[0].split(":")[0] for line in out.splitlines()
                  if len(line.split()) == 2 and line.split()[1] == "hold")


def read_releases():
    """Return the header fields of every Release file in apt's lists."""
    releases = []
    for path in glob.glob("/var/lib/apt/lists/*Release"):
        if path.endswith(".gpg"):
            continue
        fields = {}
        try:
            with open(path, "r", errors="replace") as handle:
                for line in handle:
                    if not line.strip() or line.startswith((" ", "-----")):
                        if fields and line.startswith(" "):
                            break
                        continue
                    key, _, value = line.partition(":")
                    if key in ("Origin", "Label", "Suite", "Codename", "Date"):
                        fields[key.lower()] = value.strip()
        except (IOError, OSError):
            continue
        if fields:
            releases.append(fields)
    return releases


def read_text_logs(pattern):
    """Concatenate a log and its rotations (plain and .gz), newest last, bounded in size."""
    paths = sorted(glob.glob(pattern + "*"), reverse=True)
    chunks, oldest = [], None
    for path in paths:
        try:
            if path.endswith(".gz"):
                with gzip.open(path, "rt", errors="replace") as handle:
                    text = handle.read(LOG_LIMIT)
            else:
                with open(path, "r", errors="replace") as handle:
                    text = handle.read()[-LOG_LIMIT:]
        except (IOError, OSError):
            continue
        chunks.append(text)
        oldest = oldest or text.split("\n", 1)[0][:40]
    return "\n\n".join(chunks), (oldest if chunks else None)


def free_mb(path):
    """Return the MB available to unprivileged users on ``path``, or None."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return int(st.f_bavail * st.f_frsize // (1024 * 1024))


def lock_state(path):
    """Test an fcntl lock without taking it (F_GETLK): {held, pid}, or None when unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        if exc.errno == 2:  # no lock file: nobody can hold it
            return {"held": False, "pid": None}
        return None
    try:
        request = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, request)
        l_type, _, _, _, pid = struct.unpack("hhqqi4x", answer)
    except (OSError, struct.error):
        return None
    finally:
        os.close(fd)
    if l_type == fcntl.F_UNLCK:
        return {"held": False, "pid": None}
    return {"held": True, "pid": pid if pid > 0 else None}


def read_processes():
    """Return the names and command lines of the running processes."""
    names = []
    for proc in glob.glob("/proc/[0-9]*"):
        try:
            with open(proc + "/comm") as handle:
                names.append(handle.read().strip())
            with open(proc + "/cmdline", "rb") as handle:
                names.append(handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip())
        except (IOError, OSError):
            continue
    return sorted(set(n for n in names if n))


def last_upgrade():
    """Return (aware UTC datetime or None, first line of the oldest log read)."""
    history, since = read_text_logs("/var/log/apt/history.log")
    when = last_upgrade_from_history(history)
    if when is None:
        dpkg_text, dpkg_since = read_text_logs("/var/log/dpkg.log")
        when = last_upgrade_from_dpkg_log(dpkg_text)
        since = since or dpkg_since
    if when is not None:
        # Logs are written in the host's local time.
        when = when.replace(tzinfo=datetime.datetime.now().astimezone().tzinfo).astimezone(datetime.timezone.utc)
    return when, since


def read_state(module, apt, apt_pkg, policy, refresh_error):
    """Read everything a scan needs and classify the pending updates."""
    held = read_held(module)
    upgradable = read_upgradable(apt, apt_pkg)
    pending = classify(upgradable, held or [], policy)
    by_name = dict((u["name"], u) for u in upgradable)
    for entry in pending:
        if entry["security"]:
            ver = [v for v in by_name[entry["name"]]["versions"] if v["version"] == entry["security_version"]]
            entry["security_origins"] = ver[0]["origins"] if ver else []
    when, since = last_upgrade()
    pkgs = []
    if os.path.exists(REBOOT_FLAG + ".pkgs"):
        with open(REBOOT_FLAG + ".pkgs") as handle:
            pkgs = sorted(set(line.strip() for line in handle if line.strip()))
    return {
        "manager": "apt",
        "refresh_error": refresh_error,
        "pending": pending,
        "held": held,
        "releases": read_releases(),
        "reboot_required": os.path.exists(REBOOT_FLAG),
        "reboot_required_pkgs": pkgs,
        "last_upgrade": when,
        "logs_since": since,
        "free_mb": {"/": free_mb("/"), "/var": free_mb("/var")},
        "locks": dict((path, lock_state(path)) for path in LOCK_FILES),
    }


def main():
    """Run the module."""
    module = AnsibleModule(
        argument_spec=dict(
            phase=dict(type="str", default="scan", choices=["scan", "verify", "final"]),
            policy=dict(type="dict", default={}),
            install_planned=dict(type="bool", default=False),
            update_cache=dict(type="bool", default=True),
            deferred_reason=dict(type="str", default=""),
            backup_age_hours=dict(type="float"),
            rpo_hours=dict(type="float"),
            planned=dict(type="list", elements="dict", default=[]),
            before=dict(type="dict", default={}),
            install_error=dict(type="str", default=""),
            guard_allowed=dict(type="bool", default=True),
            guard_reason=dict(type="str", default=""),
            reboot=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        policy = effective_policy(p["policy"])
    except PolicyError as exc:
        module.fail_json(msg=str(exc))
    try:
        import apt
        import apt_pkg
    except ImportError:
        module.fail_json(msg="python3-apt is not installed on the host (apt-get install python3-apt)")
    now = datetime.datetime.now(datetime.timezone.utc)

    if p["phase"] == "verify":
        names = [e["name"] for e in p["planned"]]
        after = read_installed(apt, names)
        results = install_results(p["planned"], p["before"], after, p["install_error"] or None)
        flag = os.path.exists(REBOOT_FLAG)
        installed_any = any(r["changed"] for r in results)
        action, reason = reboot_decision(policy, flag, installed_any, p["guard_allowed"], p["guard_reason"])
        if action == "defer":
            results.append(deferred_result(reason, "reboot"))
        module.exit_json(changed=installed_any, maint_results=results, reboot_required=flag,
                         reboot_action=action, reboot_reason=reason,
                         patch_facts={"installed": after, "reboot_required": flag})

    refresh_error = None
    if p["phase"] == "scan" and p["update_cache"]:
        rc, out, err = module.run_command(["apt-get", "update", "-q"])
        if rc != 0:
            lines = [line for line in (err or out).splitlines() if line.strip()]
            refresh_error = lines[-1] if lines else "apt-get update rc %d" % rc
    facts = read_state(module, apt, apt_pkg, policy, refresh_error)
    results = []

    if p["phase"] == "final":
        results.extend(scan_results(facts, policy, now))
        if p["reboot"].get("action"):
            results.append(reboot_result(p["reboot"]["action"], p["reboot"].get("reason") or "",
                                         p["reboot"].get("rebooted"), p["reboot"].get("elapsed")))
        results.append(post_check(read_processes(), policy["critical_services"]))
        module.exit_json(changed=False, maint_results=results, patch_facts=_public(facts),
                         reboot_required=facts["reboot_required"])

    planned = [e for e in facts["pending"] if e["target"]]
    plan = {"planned": planned, "specs": install_specs(planned),
            "before": dict((e["name"], e["installed"]) for e in planned), "precheck_ok": False}
    if p["install_planned"] and not p["deferred_reason"]:
        ok, pre = precheck(facts, policy, p["backup_age_hours"], p["rpo_hours"])
        plan["precheck_ok"] = ok
        results.append(pre)
        if not ok:
            results.extend(scan_results(facts, policy, now))
    else:
        if p["deferred_reason"]:
            results.append(deferred_result(p["deferred_reason"]))
        results.extend(scan_results(facts, policy, now))
    module.exit_json(changed=False, maint_results=results, patch_facts=_public(facts), patch_plan=plan,
                     reboot_required=facts["reboot_required"])


def _public(facts):
    """Return the facts with JSON-friendly values."""
    out = dict(facts)
    if out.get("last_upgrade") is not None:
        out["last_upgrade"] = out["last_upgrade"].isoformat()
    return out


if __name__ == "__main__":
    main()
