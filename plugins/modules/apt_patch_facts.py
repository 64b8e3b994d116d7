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
  - "Every update with a target is then dry-run with python-apt's resolver (as
    C(apt-get install name=version) would resolve it): an update whose dependencies would
    change a held or excluded package, remove or downgrade a package, or (in C(security)
    mode) upgrade a package to a version from no security source, loses its target and is
    reported as C(blocked) (C(patch_decide.guard_plan))."
  - "When O(install_planned) is true it also lists every installed package
    (C(dpkg-query -W)) into RV(patch_plan.before_all); the pre-check fails when it cannot."
  - "O(phase=verify): lists every installed package again and returns C(patch.installed)
    with the full difference (upgraded, newly installed, removed; the plan apart in
    C(observed.planned)), and C(patch.failed) (a planned version not reached, the install
    error, or a change the policy forbids)."
  - "O(phase=final): reads the state again (no list refresh) and returns the state results,
    C(patch.rebooted) from O(reboot) and C(patch.post_check) (the policy's critical services
    must have a running process)."
  - Refreshing the package lists changes only apt's metadata cache; it is done in check mode
    too, because a scan from stale lists would report as C(ok) what nobody read.
version_added: "0.1.0"
options:
  update_cache:
    description: With O(phase=scan), run C(apt-get update) first.
    type: bool
    default: true
  held:
    description: With O(phase=verify), the held packages (RV(patch_plan.held)).
    type: list
    elements: str
    default: []
  blocked:
    description: With O(phase=verify), the updates the plan guard blocked (RV(patch_plan.blocked)).
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - patch_facts
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
    C(before) (installed versions of the planned packages), C(before_all) (every installed package,
    C(name:arch) to versions, when an install is planned), C(held), C(blocked) and C(precheck_ok).
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
import functools
import glob
import os

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils.patch_collect import (
        argument_spec,
        free_mb,
        lock_state,
        read_text_logs,
        run_phases,
    )
    from ansible.module_utils.patch_decide import (
        DPKG_QUERY_FORMAT,
        LOCK_FILES,
        PolicyError,
        classify,
        effective_policy,
        guard_plan,
        install_specs,
        last_upgrade_from_dpkg_log,
        last_upgrade_from_history,
        parse_dpkg_snapshot,
        snapshot_version,
    )
except ImportError:  # pragma: no cover
    from maint_utils.patch_collect import (
        argument_spec,
        free_mb,
        lock_state,
        read_text_logs,
        run_phases,
    )
    from maint_utils.patch_decide import (
        DPKG_QUERY_FORMAT,
        LOCK_FILES,
        PolicyError,
        classify,
        effective_policy,
        guard_plan,
        install_specs,
        last_upgrade_from_dpkg_log,
        last_upgrade_from_history,
        parse_dpkg_snapshot,
        snapshot_version,
    )

REBOOT_FLAG = "/var/run/reboot-required"


def _origin(o):
    return {"origin": o.origin, "label": o.label, "archive": o.archive, "codename": o.codename,
            "component": o.component, "site": o.site}


def read_upgradable(cache, apt_pkg):
    """Installed packages with a newer version, each newer version with its origins (best first)."""
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


def simulate(cache, targets):
    """Dry-run installing ``targets`` (name -> version) in python-apt's cache (nothing is written).

    The same resolver as ``apt-get install name=version``: returns the ``plan_problems``
    input, ``error`` and every package ``change`` (with the new version's origins).
    """
    cache.clear()
    try:
        for name, version in sorted(targets.items()):
            pkg = cache[name] if name in cache else None  # noqa: SIM401 - apt.Cache has no get()
            ver = pkg.versions.get(version) if pkg is not None else None
            if ver is None:
                return {"error": "%s %s is not available any more" % (name, version), "changes": []}
            pkg.candidate = ver
            pkg.mark_install(auto_fix=True, from_user=True)
        if cache.broken_count:
            return {"error": "%d package(s) would be left broken" % cache.broken_count, "changes": []}
        changes = []
        for pkg in cache.get_changes():
            inst, cand = pkg.installed, pkg.candidate
            kind = ("remove" if pkg.marked_delete else "install" if pkg.marked_install else
                    "upgrade" if pkg.marked_upgrade else "downgrade" if pkg.marked_downgrade else "reinstall")
            changes.append({"name": pkg.name, "change": kind, "from": inst.version if inst else None,
                            "to": None if kind == "remove" or cand is None else cand.version,
                            "origins": [] if kind == "remove" or cand is None else [_origin(o) for o in cand.origins]})
        return {"error": None, "changes": changes}
    except SystemError as exc:
        return {"error": str(exc).strip().splitlines()[-1] if str(exc).strip() else "resolver failed", "changes": []}
    finally:
        cache.clear()


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


class AptReader(object):
    """Read a Debian/Ubuntu host's patch state with python3-apt (see patch_collect.run_phases)."""

    def __init__(self, module, policy, apt, apt_pkg):
        self.module, self.policy, self.apt, self.apt_pkg = module, policy, apt, apt_pkg
        self._snapshot = None

    def refresh(self):
        """Run apt-get update; return None or the last line of its error."""
        rc, out, err = self.module.run_command(["apt-get", "update", "-q"])
        if rc == 0:
            return None
        lines = [line for line in (err or out).splitlines() if line.strip()]
        return lines[-1] if lines else "apt-get update rc %d" % rc

    def read_state(self, refresh):
        """Read everything a scan needs and classify the pending updates."""
        refresh_error = self.refresh() if refresh else None
        held = read_held(self.module)
        cache = self.apt.Cache()
        upgradable = read_upgradable(cache, self.apt_pkg)
        pending = classify(upgradable, held or [], self.policy)
        # Dependencies obey the policy too: an update that would pull in, upgrade or remove
        # a package the policy forbids is taken out of the plan (dry run, nothing written).
        guard_plan(pending, held or [], self.policy, functools.partial(simulate, cache))
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

    def snapshot(self):
        """Return every installed package (one dpkg-query call), or None when it fails."""
        if self._snapshot is None:
            rc, out, err = self.module.run_command(["dpkg-query", "-W", "-f", DPKG_QUERY_FORMAT],
                                                   environ_update={"LC_ALL": "C"})
            self._snapshot = parse_dpkg_snapshot(out) if rc == 0 else None
        return self._snapshot

    def read_installed(self, names):
        """Return name -> installed version (None when not installed), from dpkg's own database.

        dpkg-query, not python-apt's cache: it still answers when an interrupted install
        left dpkg half-way, which is exactly when the report needs it.
        """
        snap = self.snapshot() or {}
        native = self.apt_pkg.config.find("APT::Architecture")
        return dict((name, snapshot_version(snap, name, native)) for name in names)

    def reboot_required(self):
        """Return whether /var/run/reboot-required exists."""
        return os.path.exists(REBOOT_FLAG)

    @staticmethod
    def install_specs(planned):
        """Return apt's name=version pins."""
        return install_specs(planned)


def main():
    """Run the module."""
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        policy = effective_policy(module.params["policy"])
    except PolicyError as exc:
        module.fail_json(msg=str(exc))
    try:
        import apt
        import apt_pkg
    except ImportError:
        module.fail_json(msg="python3-apt is not installed on the host (apt-get install python3-apt)")
    run_phases(module, policy, AptReader(module, policy, apt, apt_pkg))


if __name__ == "__main__":
    main()
