#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Read a dnf host's patch state in one call (dnf 4 or dnf 5 command output) and decide the patch checks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dnf_patch_facts
short_description: Scan dnf for pending and security updates, versionlocks, reboot need, locks and free space
description:
  - The dnf counterpart of C(apt_patch_facts), with the same phases and results.
  - "O(phase=scan): runs C(dnf -q check-update) (with C(--refresh) unless O(update_cache=false)),
    C(dnf -q updateinfo list --security), C(dnf -q updateinfo info --security) (the
    advisories' Issued dates give the age of the oldest pending security update),
    C(rpm -qa) (installed versions), C(dnf -q versionlock list) when the versionlock plugin is
    configured (locked packages are held), C(needs-restarting -r) (reboot required), reads
    C(/var/log/dnf.rpm.log) (last upgrade), free space on C(/) and C(/var), and whether rpm's
    database lock (fcntl) or dnf's process lock (C(/var/lib/dnf/rpmdb_lock.pid)) is held."
  - "On dnf 5 the listings are C(dnf -q check-upgrade), C(dnf -q advisory list --security) and
    C(dnf -q advisory info --security), and versionlocks are read when C(/etc/dnf/versionlock.toml)
    exists. dnf 4 and 5 are told apart without running dnf: a C(dnf) that resolves to C(dnf5)
    (Fedora 41 and later) or is an ELF binary (dnf 4 is a Python script) is dnf 5; a host with
    only C(dnf5) uses it."
  - "A listing that prints something of which not one row can be read makes the state results
    C(unknown), never 'no pending update'."
  - "The output is parsed and decided by C(plugins/module_utils/patch_decide.py)
    (C(dnf_state), C(classify)): the candidate of each package in C(all) mode, of packages
    with a security advisory in C(security) mode, nothing for excluded or locked packages."
  - "With O(install_planned), the scan's C(rpm -qa) also gives every installed package
    (RV(patch_plan.before_all)); the pre-check fails when rpm cannot list them."
  - "O(phase=verify): lists every installed package again (one C(rpm -qa)) and returns
    C(patch.installed) with the full difference (upgraded, newly installed, removed; the
    plan apart in C(observed.planned)), C(patch.failed) (a planned version not reached, the
    install error, or a change the policy forbids: a held or excluded package, a removal),
    and the reboot decision. Unlike apt_patch_facts, dependencies are not dry-run first:
    ansible.builtin.dnf gets the policy's C(exclude) and dnf honours versionlock, and the
    verify reports anything else after the fact."
  - "O(phase=final): reads the state again (no metadata refresh): the state results,
    C(patch.rebooted) and C(patch.post_check)."
  - "B(Not exercised on a real dnf host in this project): the lab has no RPM host. The parsing
    is unit-tested on output written in dnf 4's documented format (tests/fixtures/patch/dnf)."
version_added: "0.1.0"
options:
  update_cache:
    description: With O(phase=scan), refresh the repository metadata (C(--refresh)).
    type: bool
    default: true
  held:
    description: With O(phase=verify), the versionlocked packages (RV(patch_plan.held)).
    type: list
    elements: str
    default: []
  blocked:
    description: With O(phase=verify), updates kept out of the plan (always empty for dnf).
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - patch_facts
notes:
  - Needs dnf 4 (RHEL/Rocky/Alma 8-10, Fedora up to 40) or dnf 5 (Fedora 41 and later) and root
    (C(become)). The dnf 5 listings are parsed from their documented and published format
    (tests/fixtures/patch/dnf5). C(needs-restarting)
    comes with dnf-utils / dnf-plugins-core; without it the reboot state is C(unknown).
  - Supports check mode; it never installs anything.
author:
  - maintctl contributors
"""

EXAMPLES = r"""
- name: Scan for updates
  dnf_patch_facts:
    policy: "{{ maint_policy.patch | default({}) }}"
  become: true
  register: scan
"""

RETURN = r"""
maint_results:
  description: Check results in the shape of schemas/check_result.schema.json.
  returned: always
  type: list
  elements: dict
patch_facts:
  description: The facts read (pending packages with their classification, held, reboot need, free space, locks).
  returned: always
  type: dict
patch_plan:
  description: With O(phase=scan), C(planned) (packages with a target version), C(specs) (name-version specs
    for ansible.builtin.dnf), C(before) (installed versions of the planned packages), C(before_all)
    (every installed package, C(name:arch) to versions, when an install is planned), C(held),
    C(blocked) and C(precheck_ok).
  returned: when phase is scan
  type: dict
reboot_required:
  description: Whether needs-restarting -r says a reboot is required (null when it could not tell).
  returned: always
  type: bool
reboot_action:
  description: With O(phase=verify), C(reboot), C(skip) or C(defer).
  returned: when phase is verify
  type: str
reboot_reason:
  description: With O(phase=verify), why.
  returned: when phase is verify
  type: str
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils.patch_collect import (
        argument_spec,
        free_mb,
        lock_state,
        pid_lock_state,
        read_text_logs,
        run_phases,
    )
    from ansible.module_utils.patch_decide import (
        DNF_FCNTL_LOCKS,
        DNF_PID_LOCKS,
        PolicyError,
        dnf_install_specs,
        dnf_state,
        effective_policy,
        parse_needs_restarting,
        parse_rpm_query,
        parse_rpm_snapshot,
    )
except ImportError:  # pragma: no cover
    from maint_utils.patch_collect import (
        argument_spec,
        free_mb,
        lock_state,
        pid_lock_state,
        read_text_logs,
        run_phases,
    )
    from maint_utils.patch_decide import (
        DNF_FCNTL_LOCKS,
        DNF_PID_LOCKS,
        PolicyError,
        dnf_install_specs,
        dnf_state,
        effective_policy,
        parse_needs_restarting,
        parse_rpm_query,
        parse_rpm_snapshot,
    )

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


def main():
    """Run the module."""
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        policy = effective_policy(module.params["policy"])
    except PolicyError as exc:
        module.fail_json(msg=str(exc))
    dnf = module.get_bin_path("dnf") or module.get_bin_path("dnf5")
    if dnf is None:
        module.fail_json(msg="dnf is not installed on the host (dnf_patch_facts reads dnf 4 or dnf 5 output)")
    run_phases(module, policy, DnfReader(module, policy, dnf, dnf_major(dnf)))


if __name__ == "__main__":
    main()
