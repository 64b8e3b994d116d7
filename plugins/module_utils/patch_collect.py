# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Host-side reading shared by the apt and dnf readers of the ``patch_linux`` module.

This is *collect* code: it reads the host (files, locks, processes) and runs the phases of
the patch flow, but decides nothing itself; every decision is in ``patch_decide`` (and the
engine modules ``patch_apt``, ``patch_dnf``). It runs on the managed host, so it keeps to
the standard library and Python 3.8.
"""

from __future__ import absolute_import, division, print_function

import datetime
import fcntl
import glob
import gzip
import os
import struct

try:
    from ansible.module_utils.patch_decide import (
        deferred_result,
        failure_message,
        host_failed,
        install_results,
        post_check,
        precheck,
        reboot_decision,
        reboot_result,
        scan_results,
        window_decision,
    )
except ImportError:  # pragma: no cover - used outside Ansible (tests)
    from maint_utils.patch_decide import (
        deferred_result,
        failure_message,
        host_failed,
        install_results,
        post_check,
        precheck,
        reboot_decision,
        reboot_result,
        scan_results,
        window_decision,
    )

LOG_LIMIT = 512 * 1024


def read_text_logs(pattern):
    """Concatenate a log and its rotations (plain and .gz), bounded in size.

    Returns ``(text, first line of the first file read)`` or ``("", None)``.
    """
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
    """Test an fcntl lock without taking it (F_GETLK): {held, pid}, or None when unreadable.

    apt, dpkg and rpm take such locks (lock-frontend, lock, /var/lib/rpm/.rpm.lock).
    """
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


def pid_lock_state(path):
    """Read a dnf 4 process lock (``dnf/lock.py`` ProcessLock): {held, pid}, or None when unreadable.

    dnf writes its PID into the file while it holds the lock and removes the file when it
    lets go; a file whose PID is not running is stale, and dnf itself takes it over.
    """
    try:
        with open(path, "r") as handle:
            text = handle.read(32).strip()
    except (IOError, OSError) as exc:
        if getattr(exc, "errno", None) == 2:
            return {"held": False, "pid": None}
        return None
    if not text:
        return {"held": False, "pid": None}
    try:
        pid = int(text)
    except ValueError:
        return None
    if pid != os.getpid() and os.path.exists("/proc/%d" % pid):
        return {"held": True, "pid": pid}
    return {"held": False, "pid": None}


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


def public(facts):
    """Return the facts with JSON-friendly values."""
    out = dict(facts)
    if out.get("last_upgrade") is not None:
        out["last_upgrade"] = out["last_upgrade"].isoformat()
    return out


def run_phases(module, policy, reader):
    """Run one phase of the patch flow with a package manager ``reader`` and exit the module.

    ``reader`` has ``read_state(refresh)`` -> facts (``patch_decide.scan_results`` input plus
    ``free_mb``/``locks``), ``read_installed(names)`` -> name -> version or None,
    ``snapshot()`` -> every installed package (``"name:arch"`` -> versions, one dpkg-query or
    rpm call) or None when unreadable, and ``reboot_required()`` -> bool or None.

    Every phase returns ``host_failed`` (``patch_decide.host_failed`` over this phase's
    results and the O(earlier_results) it is given): the play fails the host on it.
    """
    p = module.params
    now = datetime.datetime.now(datetime.timezone.utc)

    if p["phase"] == "verify":
        names = [e["name"] for e in p["planned"]]
        after_all = reader.snapshot()
        after = reader.read_installed(names)
        results = install_results(p["planned"], p["before"], after, p["install_error"] or None,
                                  before_all=p["before_all"], after_all=after_all, policy=policy,
                                  held=p["held"], blocked=p["blocked"])
        flag = reader.reboot_required()
        installed_any = any(r["changed"] for r in results)
        guard = p["reboot_guard"] or {}
        action, reason = reboot_decision(policy, flag, installed_any, guard.get("allowed", True),
                                         guard.get("reason") or "", install_failed=host_failed(results))
        if action == "defer":
            results.append(deferred_result(reason, "reboot"))
        _exit(module, results, p["earlier_results"], changed=installed_any, reboot_required=flag,
              reboot_action=action, reboot_reason=reason,
              patch_state={"installed": after, "reboot_required": flag})

    facts = reader.read_state(p["phase"] == "scan" and p["update_cache"])
    results = []

    if p["phase"] == "final":
        results.extend(scan_results(facts, policy, now))
        if p["reboot"].get("action"):
            results.append(reboot_result(p["reboot"]["action"], p["reboot"].get("reason") or "",
                                         p["reboot"].get("rebooted"), p["reboot"].get("elapsed")))
        results.append(post_check(read_processes(), policy["critical_services"]))
        _exit(module, results, p["earlier_results"], patch_state=public(facts),
              reboot_required=facts["reboot_required"])

    install_now, deferred_reason = window_decision(p["install_planned"], p["window_guard"])
    planned = [e for e in facts["pending"] if e["target"]]
    plan = {"planned": planned, "specs": reader.install_specs(planned),
            "before": dict((e["name"], e["installed"]) for e in planned), "precheck_ok": False,
            "held": facts.get("held") or [],
            "blocked": [{"name": e["name"], "reason": e["reason"]} for e in facts["pending"] if e.get("blocked")],
            "before_all": None}
    if install_now:
        # Every installed package, read just before the install: the verify step reports
        # the full difference (dependencies pulled in, packages removed), not only the plan.
        plan["before_all"] = reader.snapshot()
        facts["installed_list_read"] = plan["before_all"] is not None
        ok, pre = precheck(facts, policy, p["backup_age_hours"], p["rpo_hours"])
        plan["precheck_ok"] = ok
        results.append(pre)
        if not ok:
            results.extend(scan_results(facts, policy, now))
    else:
        if deferred_reason:
            results.append(deferred_result(deferred_reason))
        results.extend(scan_results(facts, policy, now))
    _exit(module, results, p["earlier_results"], patch_state=public(facts), patch_plan=plan,
          reboot_required=facts["reboot_required"])


def _exit(module, results, earlier, changed=False, **returns):
    """Exit with ``results`` and whether they (with the ``earlier`` phases' results) fail the host."""
    failed = host_failed(list(earlier or []) + results)
    if failed:
        returns["msg"] = failure_message(list(earlier or []) + results)
    module.exit_json(changed=changed, manager=module.params["manager"], maint_results=results, host_failed=failed,
                     **returns)


def argument_spec():
    """Return the argument spec of the patch_linux module (the same for apt and dnf)."""
    return dict(
        manager=dict(type="str", default="auto"),
        phase=dict(type="str", default="scan", choices=["scan", "verify", "final"]),
        policy=dict(type="dict", default={}),
        install_planned=dict(type="bool", default=False),
        update_cache=dict(type="bool", default=True),
        window_guard=dict(type="dict", default={}),
        backup_age_hours=dict(type="float"),
        rpo_hours=dict(type="float"),
        planned=dict(type="list", elements="dict", default=[]),
        before=dict(type="dict", default={}),
        before_all=dict(type="dict"),
        held=dict(type="list", elements="str", default=[]),
        blocked=dict(type="list", elements="dict", default=[]),
        install_error=dict(type="str", default=""),
        reboot_guard=dict(type="dict", default={}),
        reboot=dict(type="dict", default={}),
        earlier_results=dict(type="list", elements="dict", default=[]),
    )
