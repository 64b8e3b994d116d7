#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Read a Linux host's patch state in one call (apt with python3-apt, or dnf 4/dnf 5) and decide the patch checks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: patch_linux
short_description: Scan apt or dnf for pending and security updates, held packages, reboot need, locks and free space
description:
  - "One module for the patch flow of a Linux host: O(manager=apt) (Debian, Ubuntu) or
    O(manager=dnf) (RHEL family, Fedora). The phases and the results are the same; only the
    reading differs. Every decision is in C(plugins/module_utils/patch_decide.py) (with
    C(patch_apt.py) and C(patch_dnf.py) for what each package manager prints)."
  - "O(phase=scan) with apt: refreshes the package lists (C(apt-get update), unless
    O(update_cache=false)), then reads with python3-apt every installed package that has a
    newer version, each newer version's origins (suite, label, origin, codename), the held
    packages (C(dpkg --get-selections)), the suites' Release dates, the reboot flag
    (C(/var/run/reboot-required)), the apt history and dpkg logs, free space on C(/) and
    C(/var), and whether the dpkg locks are held (C(fcntl F_GETLK) on
    C(/var/lib/dpkg/lock-frontend) and C(/var/lib/dpkg/lock): the locks apt and dpkg really
    take, not the mere existence of the files)."
  - "O(phase=scan) with dnf 4: runs C(dnf -q check-update) (with C(--refresh) unless
    O(update_cache=false)), C(dnf -q updateinfo list --security), C(dnf -q updateinfo info
    --security) (the advisories' Issued dates give the age of the oldest pending security
    update), C(rpm -qa) (installed versions), C(dnf -q versionlock list) when the versionlock
    plugin is configured (locked packages are held), C(needs-restarting -r) (reboot required),
    reads C(/var/log/dnf.rpm.log) (last upgrade), free space on C(/) and C(/var), and whether
    rpm's database lock (fcntl) or dnf's process lock (C(/var/lib/dnf/rpmdb_lock.pid)) is held."
  - "On dnf 5 the listings are C(dnf -q check-upgrade), C(dnf -q advisory list --security) and
    C(dnf -q advisory info --security), and versionlocks are read when C(/etc/dnf/versionlock.toml)
    exists. dnf 4 and 5 are told apart without running dnf: a C(dnf) that resolves to C(dnf5)
    (Fedora 41 and later) or is an ELF binary (dnf 4 is a Python script) is dnf 5; a host with
    only C(dnf5) uses it."
  - "A listing that prints something of which not one row can be read makes the state results
    C(unknown), never 'no pending update'."
  - "It then chooses the version to install for each package (C(patch_decide.classify)):
    the best version from a security source in C(security) mode (apt: an origin matching the
    policy's C(security_pattern); dnf: a security advisory), the candidate in C(all) mode or
    for accepted packages; held (versionlocked) and excluded packages get none."
  - "With apt, every update with a target is then dry-run with python-apt's resolver (as
    C(apt-get install name=version) would resolve it): an update whose dependencies would
    change a held or excluded package, remove or downgrade a package, or (in C(security)
    mode) upgrade a package to a version from no security source, loses its target and is
    reported as C(blocked) (C(patch_decide.guard_plan)). dnf updates are not dry-run:
    ansible.builtin.dnf gets the policy's C(exclude), dnf honours versionlock, and the verify
    reports anything else after the fact."
  - "The install runs only when O(install_planned) is true and the window guard
    O(window_guard) allows it (C(patch_decide.window_decision)); a planned install the guard
    refuses gives C(patch.deferred). When it runs, the module returns the pre-check result
    (C(patch.precheck)) and the plan, and lists every installed package (C(dpkg-query -W) or
    the scan's C(rpm -qa)) into RV(patch_plan.before_all); the pre-check fails when it cannot.
    The state results (C(patch.pending), C(patch.pending_security), C(patch.reboot_required),
    C(patch.last_patched)) then come from O(phase=final), after the install. Otherwise (a scan,
    a deferred or skipped host) it returns the state results itself."
  - "O(phase=verify): lists every installed package again and returns C(patch.installed)
    with the full difference (upgraded, newly installed, removed; the plan apart in
    C(observed.planned)), C(patch.failed) (a planned version not reached, the install
    error, or a change the policy forbids), and the reboot decision (never after a failed
    install)."
  - "O(phase=final): reads the state again (no list refresh) and returns the state results,
    C(patch.rebooted) from O(reboot) and C(patch.post_check) (the policy's critical services
    must have a running process)."
  - "Every phase returns RV(host_failed) (C(patch_decide.host_failed) over its results and
    O(earlier_results)); the role fails the host on the final phase's."
  - Refreshing the package lists changes only the package manager's metadata cache; it is
    done in check mode too, because a scan from stale lists would report as C(ok) what nobody
    read.
  - "B(dnf is not exercised on a real dnf host in this project): the lab has no RPM host. The
    parsing is unit-tested on output written in dnf 4's documented format (tests/fixtures/patch/dnf)
    and dnf 5's published format (tests/fixtures/patch/dnf5)."
version_added: "0.1.0"
options:
  manager:
    description:
      - The host's package manager, C(apt) or C(dnf) (C(ansible_facts.pkg_mgr) when the facts were gathered).
      - "C(auto) (the default) finds it without gathering facts: C(apt-get) on the host is apt, a
        C(dnf) that is dnf 4 is dnf. Any other (dnf 5 alone, yum, zypper, pacman...) fails the module,
        as does any other value given here: the role installs with ansible.builtin.apt and
        ansible.builtin.dnf only, so it never reports such a host as patched."
    type: str
    default: auto
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
    description: With O(phase=scan), whether an install is wanted (patch_install, not check mode).
    type: bool
    default: false
  window_guard:
    description:
      - With O(phase=scan), the window guard at the start of the role (the C(maint_window_guard) filter's
        result, keys C(allowed) and C(reason)). A planned install it does not allow is deferred
        (C(patch.deferred)). Empty means allowed.
    type: dict
    default: {}
  update_cache:
    description: With O(phase=scan), refresh the package lists first (C(apt-get update), dnf C(--refresh)).
    type: bool
    default: true
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
  before_all:
    description: With O(phase=verify), every installed package before the install (RV(patch_plan.before_all)).
    type: dict
  held:
    description: With O(phase=verify), the held (versionlocked) packages (RV(patch_plan.held)).
    type: list
    elements: str
    default: []
  blocked:
    description: With O(phase=verify), the updates the plan guard blocked (RV(patch_plan.blocked); empty for dnf).
    type: list
    elements: dict
    default: []
  install_error:
    description: With O(phase=verify), the install task's error message when it failed.
    type: str
    default: ""
  reboot_guard:
    description:
      - With O(phase=verify), the window guard just before a reboot (the C(maint_window_guard) filter's result
        with the reboot timeout, keys C(allowed) and C(reason)). Empty means allowed.
    type: dict
    default: {}
  reboot:
    description: With O(phase=final), the reboot decision and outcome (keys action, reason, rebooted, elapsed).
    type: dict
    default: {}
  earlier_results:
    description: With O(phase=final), the verify phase's RV(maint_results), so RV(host_failed) covers the whole run.
    type: list
    elements: dict
    default: []
notes:
  - apt needs python3-apt on the host. dnf needs dnf 4 (RHEL/Rocky/Alma 8-10, Fedora up to 40) or
    dnf 5 (Fedora 41 and later); C(needs-restarting) comes with dnf-utils / dnf-plugins-core, without
    it the reboot state is C(unknown). Both need root (C(become)) to refresh lists and test the locks.
  - Supports check mode; it never installs anything.
author:
  - maintctl contributors
"""

EXAMPLES = r"""
- name: Scan for updates
  patch_linux:
    policy: "{{ maint_policy.patch | default({}) }}"
  become: true
  register: scan
"""

RETURN = r"""
manager:
  description: The package manager used, C(apt) or C(dnf) (O(manager), or the one C(auto) found).
  returned: always
  type: str
maint_results:
  description: Check results in the shape of schemas/check_result.schema.json.
  returned: always
  type: list
  elements: dict
host_failed:
  description: Whether these results (with O(earlier_results)) fail the host (C(patch_decide.host_failed)).
  returned: always
  type: bool
msg:
  description: When RV(host_failed), the summaries of the critical results.
  returned: when host_failed
  type: str
patch_state:
  description: The facts read (pending packages with their classification, held, reboot need, free space, locks;
    C(dnf_major) on dnf).
  returned: always
  type: dict
patch_plan:
  description: With O(phase=scan), C(planned) (packages with a target version), C(specs) (apt name=version pins,
    dnf name-version specs), C(before) (installed versions of the planned packages), C(before_all) (every installed
    package, C(name:arch) to versions, when an install runs), C(held), C(blocked) and C(precheck_ok) (true only
    when the install runs and the pre-checks passed).
  returned: when phase is scan
  type: dict
reboot_required:
  description: Whether the host asks for a reboot (/var/run/reboot-required, needs-restarting -r; null when it could
    not tell).
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
    from ansible.module_utils.maint_result import PolicyError
    from ansible.module_utils.patch_apt import (
        DPKG_QUERY_FORMAT,
        LOCK_FILES,
        install_specs,
        last_upgrade_from_dpkg_log,
        last_upgrade_from_history,
        parse_dpkg_snapshot,
        snapshot_version,
    )
    from ansible.module_utils.patch_collect import (
        argument_spec,
        free_mb,
        lock_state,
        pid_lock_state,
        read_text_logs,
        run_phases,
    )
    from ansible.module_utils.patch_decide import classify, effective_policy, guard_plan
    from ansible.module_utils.patch_dnf import (
        DNF_FCNTL_LOCKS,
        DNF_PID_LOCKS,
        dnf_install_specs,
        dnf_state,
        parse_needs_restarting,
        parse_rpm_query,
        parse_rpm_snapshot,
    )
except ImportError:  # pragma: no cover
    from maint_utils.maint_result import PolicyError
    from maint_utils.patch_apt import (
        DPKG_QUERY_FORMAT,
        LOCK_FILES,
        install_specs,
        last_upgrade_from_dpkg_log,
        last_upgrade_from_history,
        parse_dpkg_snapshot,
        snapshot_version,
    )
    from maint_utils.patch_collect import (
        argument_spec,
        free_mb,
        lock_state,
        pid_lock_state,
        read_text_logs,
        run_phases,
    )
    from maint_utils.patch_decide import classify, effective_policy, guard_plan
    from maint_utils.patch_dnf import (
        DNF_FCNTL_LOCKS,
        DNF_PID_LOCKS,
        dnf_install_specs,
        dnf_state,
        parse_needs_restarting,
        parse_rpm_query,
        parse_rpm_snapshot,
    )


# -- apt (python3-apt) ---------------------------------------------------------------------------

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



# -- dnf 4 and dnf 5 (command output) ------------------------------------------------------------

RPM_QF = "%{NAME} %{EPOCH} %{VERSION}-%{RELEASE} %{ARCH}\n"
VERSIONLOCK_CONF = "/etc/dnf/plugins/versionlock.conf"
VERSIONLOCK_CONF_DNF5 = "/etc/dnf/versionlock.toml"


def dnf_major(path):
    """Return 5 when the ``dnf`` at ``path`` is dnf 5, else 4, without running it.

    Fedora 41 and later make ``/usr/bin/dnf`` a symlink to ``dnf5``, a compiled binary;
    dnf 4's ``dnf`` (and ``dnf-3``) is a Python script. A path that cannot be read is dnf 4,
    the older and more common one (the listings then say whether they were understood).
    """
    real = os.path.realpath(path)
    if os.path.basename(real).startswith("dnf5") or os.path.basename(path).startswith("dnf5"):
        return 5
    try:
        with open(real, "rb") as handle:
            magic = handle.read(4)
    except (IOError, OSError):
        return 4
    return 5 if magic == b"\x7fELF" else 4


def dnf_commands(dnf, major, refresh):
    """Return the argument lists of the scan's listings for dnf ``major`` (4 or 5)."""
    if major >= 5:
        return {"check_update": [dnf, "-q", "check-upgrade"] + (["--refresh"] if refresh else []),
                "updateinfo_list": [dnf, "-q", "advisory", "list", "--security"],
                "updateinfo_info": [dnf, "-q", "advisory", "info", "--security"]}
    return {"check_update": [dnf, "-q", "check-update"] + (["--refresh"] if refresh else []),
            "updateinfo_list": [dnf, "-q", "updateinfo", "list", "--security"],
            "updateinfo_info": [dnf, "-q", "updateinfo", "info", "--security"]}


C_LOCALE = {"LC_ALL": "C", "LANG": "C"}


class DnfReader(object):
    """Read a dnf host's patch state from dnf/rpm command output (see patch_collect.run_phases)."""

    def __init__(self, module, policy, dnf, major=4):
        self.module, self.policy, self.dnf, self.major = module, policy, dnf, major
        self._rpm = None

    def run(self, argv):
        """Run a command in the C locale: {rc, out, err}."""
        rc, out, err = self.module.run_command(argv, environ_update=C_LOCALE)
        return {"rc": rc, "out": out, "err": err}

    def needs_restarting(self):
        """Run needs-restarting -r (the dnf-utils command, else the dnf plugin command)."""
        tool = self.module.get_bin_path("needs-restarting")
        return self.run([tool, "-r"] if tool else [self.dnf, "-q", "needs-restarting", "-r"])

    def read_state(self, refresh):
        """Run every listing and turn it into facts (patch_decide.dnf_state)."""
        commands = dnf_commands(self.dnf, self.major, refresh)
        lock_conf = VERSIONLOCK_CONF_DNF5 if self.major >= 5 else VERSIONLOCK_CONF
        outputs = dict((key, self.run(commands[key])) for key in ("check_update", "updateinfo_list",
                                                                   "updateinfo_info"))
        outputs.update({
            "dnf_major": self.major,
            "rpm": self.rpm(),
            "versionlock": (self.run([self.dnf, "-q", "versionlock", "list"])
                            if os.path.exists(lock_conf) else None),
            "needs_restarting": self.needs_restarting(),
        })
        outputs["rpm_log"], outputs["logs_since"] = read_text_logs("/var/log/dnf.rpm.log")
        facts = dnf_state(outputs, self.policy, datetime.datetime.now(datetime.timezone.utc))
        facts["free_mb"] = {"/": free_mb("/"), "/var": free_mb("/var")}
        locks = dict((path, lock_state(path)) for path in DNF_FCNTL_LOCKS)
        locks.update((path, pid_lock_state(path)) for path in DNF_PID_LOCKS)
        facts["locks"] = locks
        return facts

    def rpm(self):
        """Run rpm -qa once per module call (the scan, the snapshot and the verify share it)."""
        if self._rpm is None:
            self._rpm = self.run(["rpm", "-qa", "--qf", RPM_QF])
        return self._rpm

    def snapshot(self):
        """Return every installed package (name:arch -> versions), or None when rpm fails."""
        cmd = self.rpm()
        return parse_rpm_snapshot(cmd["out"]) if cmd["rc"] == 0 else None

    def read_installed(self, names):
        """Return name -> installed version as dnf writes it (None when not installed)."""
        installed = parse_rpm_query(self.rpm()["out"])
        return dict((name, installed.get(name)) for name in names)

    def reboot_required(self):
        """Return True/False from needs-restarting -r, None when it could not tell."""
        cmd = self.needs_restarting()
        return parse_needs_restarting(cmd["rc"], cmd["out"])[0]

    @staticmethod
    def install_specs(planned):
        """Return name-version specs for ansible.builtin.dnf."""
        return dnf_install_specs(planned)


UNSUPPORTED_MANAGERS = ("dnf5", "yum", "zypper", "pacman", "apk", "emerge", "pkg")


def detect_manager(module):
    """Return the host's package manager for O(manager=auto): ``apt``, ``dnf`` (4), or fail the module.

    Reads only which binaries are on the PATH (no fact gathering): ``apt-get`` is apt, a ``dnf``
    that is dnf 4 (``dnf_major``) is dnf. dnf 5 alone and the others are refused, as the role's
    install steps (ansible.builtin.apt, ansible.builtin.dnf) cannot install with them.
    """
    if module.get_bin_path("apt-get"):
        return "apt"
    dnf = module.get_bin_path("dnf")
    if dnf and dnf_major(dnf) < 5:
        return "dnf"
    found = "dnf5" if dnf else next((name for name in UNSUPPORTED_MANAGERS if module.get_bin_path(name)), "unknown")
    module.fail_json(msg="package manager %s is not supported (apt, dnf 4 and Windows Update are)" % found)


def main():
    """Run the module."""
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if module.params["manager"] == "auto":
        module.params["manager"] = detect_manager(module)
    elif module.params["manager"] not in ("apt", "dnf"):
        module.fail_json(msg="package manager %s is not supported (apt, dnf 4 and Windows Update are)"
                         % module.params["manager"])
    try:
        policy = effective_policy(module.params["policy"])
    except PolicyError as exc:
        module.fail_json(msg=str(exc))
    if module.params["manager"] == "apt":
        try:
            import apt
            import apt_pkg
        except ImportError:
            module.fail_json(msg="python3-apt is not installed on the host (apt-get install python3-apt)")
        reader = AptReader(module, policy, apt, apt_pkg)
    else:
        dnf = module.get_bin_path("dnf") or module.get_bin_path("dnf5")
        if dnf is None:
            module.fail_json(msg="dnf is not installed on the host (patch_linux manager=dnf reads dnf 4 or 5 output)")
        reader = DnfReader(module, policy, dnf, dnf_major(dnf))
    run_phases(module, policy, reader)


if __name__ == "__main__":
    main()
