#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Decide the patch checks of a Windows host from win_updates return values (runs on the controller)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: patch_windows_decide
short_description: Turn ansible.windows.win_updates return values into patch check results
description:
  - Windows hosts run no Python, so roles/patch runs this module on the controller
    (C(delegate_to localhost)) with the registered return of C(ansible.windows.win_updates),
    C(ansible.windows.win_powershell) (free space) and C(ansible.windows.win_service_info).
    The decisions are those of C(plugins/module_utils/patch_decide.py), as on Linux.
  - "O(phase=args): the win_updates arguments that carry the policy (RV(win_args))."
  - "O(phase=searched): C(patch.pending), C(patch.pending_security), C(patch.reboot_required)
    from a C(state=searched) return, plus C(patch.deferred) with O(deferred_reason)."
  - "O(phase=precheck): C(patch.precheck) from the free space on C(C:)."
  - "O(phase=installed): C(patch.installed), C(patch.failed), C(patch.reboot_required) from a
    C(state=installed) return, and the reboot decision (RV(reboot_action))."
  - "O(phase=final): C(patch.rebooted) and C(patch.post_check) (running services)."
version_added: "0.1.0"
options:
  phase:
    description: Which step of the Windows patch flow.
    type: str
    required: true
    choices: [args, searched, precheck, installed, final]
  policy:
    description: The C(patch) section of the client policy.
    type: dict
    default: {}
  result:
    description: The registered return of the win_updates task (searched or installed).
    type: dict
    default: {}
  deferred_reason:
    description: With O(phase=searched), why the host is not patched now (window closing).
    type: str
    default: ""
  free_mb:
    description: With O(phase=precheck), free MB on C(C:) (null when unread).
    type: int
  guard_allowed:
    description: With O(phase=installed), whether the window guard allows a reboot now.
    type: bool
    default: true
  guard_reason:
    description: With O(phase=installed), the guard's reason.
    type: str
    default: ""
  reboot:
    description: With O(phase=final), keys action, reason, rebooted, elapsed.
    type: dict
    default: {}
  running_services:
    description: With O(phase=final), names of the running services.
    type: list
    elements: str
    default: []
notes:
  - Verified only on recorded/reconstructed win_updates returns (tests/fixtures/patch/windows);
    users with real Windows hosts run roles/patch/molecule/windows.
author:
  - maintctl contributors
"""

EXAMPLES = r"""
- name: Decide the Windows scan results
  patch_windows_decide:
    phase: searched
    policy: "{{ patch_policy }}"
    result: "{{ __patch_win_search }}"
  delegate_to: localhost
"""

RETURN = r"""
maint_results:
  description: Check results in the shape of schemas/check_result.schema.json.
  returned: always
  type: list
  elements: dict
win_args:
  description: With O(phase=args), category_names and optional reject_list/accept_list for win_updates.
  returned: when phase is args
  type: dict
precheck_ok:
  description: With O(phase=precheck), whether installing is safe.
  returned: when phase is precheck
  type: bool
reboot_action:
  description: With O(phase=installed), reboot, skip or defer.
  returned: when phase is installed
  type: str
reboot_reason:
  description: With O(phase=installed), why.
  returned: when phase is installed
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils.patch_decide import (
        PolicyError,
        deferred_result,
        effective_policy,
        post_check,
        precheck,
        reboot_decision,
        reboot_result,
        windows_install_results,
        windows_scan_results,
        windows_update_args,
    )
except ImportError:  # pragma: no cover
    from maint_utils.patch_decide import (
        PolicyError,
        deferred_result,
        effective_policy,
        post_check,
        precheck,
        reboot_decision,
        reboot_result,
        windows_install_results,
        windows_scan_results,
        windows_update_args,
    )


def main():
    """Run the module."""
    module = AnsibleModule(
        argument_spec=dict(
            phase=dict(type="str", required=True, choices=["args", "searched", "precheck", "installed", "final"]),
            policy=dict(type="dict", default={}),
            result=dict(type="dict", default={}),
            deferred_reason=dict(type="str", default=""),
            free_mb=dict(type="int"),
            guard_allowed=dict(type="bool", default=True),
            guard_reason=dict(type="str", default=""),
            reboot=dict(type="dict", default={}),
            running_services=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        policy = effective_policy(p["policy"])
    except PolicyError as exc:
        module.fail_json(msg=str(exc))
    phase = p["phase"]
    if phase == "args":
        module.exit_json(changed=False, maint_results=[], win_args=windows_update_args(policy))
    if phase == "searched":
        results = windows_scan_results(p["result"], policy)
        if p["deferred_reason"]:
            results.insert(0, deferred_result(p["deferred_reason"]))
        module.exit_json(changed=False, maint_results=results)
    if phase == "precheck":
        ok, result = precheck({"free_mb": {"C:": p["free_mb"]}, "locks": None}, policy)
        module.exit_json(changed=False, maint_results=[result], precheck_ok=ok)
    if phase == "installed":
        results = windows_install_results(p["result"])
        installed_any = any(r["changed"] for r in results)
        failed = any(r["check"] == "patch.failed" and r["status"] == "critical" for r in results)
        required = (p["result"] or {}).get("reboot_required")
        action, reason = reboot_decision(policy, required, installed_any, p["guard_allowed"], p["guard_reason"],
                                         install_failed=failed)
        if action == "defer":
            results.append(deferred_result(reason, "reboot"))
        module.exit_json(changed=False, maint_results=results, reboot_action=action, reboot_reason=reason)
    results = []
    if p["reboot"].get("action"):
        results.append(reboot_result(p["reboot"]["action"], p["reboot"].get("reason") or "",
                                     p["reboot"].get("rebooted"), p["reboot"].get("elapsed")))
    results.append(post_check(p["running_services"], policy["critical_services"]))
    module.exit_json(changed=False, maint_results=results)


if __name__ == "__main__":
    main()
