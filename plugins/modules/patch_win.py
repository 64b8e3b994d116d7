#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Decide the patch checks of a Windows host from win_updates return values (runs on the controller)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: patch_win
short_description: Turn ansible.windows.win_updates return values into patch check results
description:
  - Windows hosts run no Python, so roles/patch runs this module on the controller
    (C(delegate_to localhost)) with the registered return of C(ansible.windows.win_updates),
    C(ansible.windows.win_powershell) (free space) and C(ansible.windows.win_service_info).
    The decisions are those of C(plugins/module_utils/patch_decide.py), as on Linux, with
    C(plugins/module_utils/patch_win.py) for what win_updates returns.
  - "O(phase=args): the win_updates arguments that carry the policy (RV(win_args))."
  - "O(phase=searched): C(patch.pending), C(patch.pending_security), C(patch.reboot_required)
    from a C(state=searched) return; whether the install runs now (RV(install_now): O(install_planned)
    and the window guard O(window_guard) allows it), else C(patch.deferred) for a planned install."
  - "O(phase=precheck): C(patch.precheck) from the free space on C(C:)."
  - "O(phase=installed): C(patch.installed), C(patch.failed), C(patch.reboot_required) from a
    C(state=installed) return, and the reboot decision (RV(reboot_action))."
  - "O(phase=final): C(patch.rebooted) and C(patch.post_check) (running services), and
    RV(host_failed) over them and O(earlier_results) (C(patch_decide.host_failed)); the role
    fails the host on it."
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
  install_planned:
    description: With O(phase=searched), whether an install is wanted (patch_install, not check mode).
    type: bool
    default: false
  window_guard:
    description: With O(phase=searched), the C(maint_window_guard) filter's result (keys allowed, reason); empty
      means allowed.
    type: dict
    default: {}
  free_mb:
    description: With O(phase=precheck), free MB on C(C:) (null when unread).
    type: int
  reboot_guard:
    description: With O(phase=installed), the C(maint_window_guard) filter's result with the reboot timeout (keys
      allowed, reason); empty means allowed.
    type: dict
    default: {}
  reboot:
    description: With O(phase=final), keys action, reason, rebooted, elapsed.
    type: dict
    default: {}
  running_services:
    description: With O(phase=final), names of the running services.
    type: list
    elements: str
    default: []
  earlier_results:
    description: With O(phase=final), the installed phase's RV(maint_results), so RV(host_failed) covers the run.
    type: list
    elements: dict
    default: []
notes:
  - Verified only on recorded/reconstructed win_updates returns (tests/fixtures/patch/windows);
    users with real Windows hosts run roles/patch/molecule/windows.
author:
  - maintctl contributors
"""

EXAMPLES = r"""
- name: Decide the Windows scan results
  patch_win:
    phase: searched
    policy: "{{ patch_policy }}"
    result: "{{ __patch_win_search }}"
    install_planned: "{{ __patch_install_planned }}"
    window_guard: "{{ __patch_guard }}"
  delegate_to: localhost
"""

RETURN = r"""
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
install_now:
  description: With O(phase=searched), whether the install runs now (planned, and the window guard allows it).
  returned: when phase is searched
  type: bool
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
    from ansible.module_utils.maint_result import PolicyError
    from ansible.module_utils.patch_decide import (
        deferred_result,
        effective_policy,
        failure_message,
        host_failed,
        post_check,
        precheck,
        reboot_decision,
        reboot_result,
        window_decision,
    )
    from ansible.module_utils.patch_win import windows_install_results, windows_scan_results, windows_update_args
except ImportError:  # pragma: no cover
    from maint_utils.maint_result import PolicyError
    from maint_utils.patch_decide import (
        deferred_result,
        effective_policy,
        failure_message,
        host_failed,
        post_check,
        precheck,
        reboot_decision,
        reboot_result,
        window_decision,
    )
    from maint_utils.patch_win import windows_install_results, windows_scan_results, windows_update_args


def _exit(module, results, earlier=None, **returns):
    """Exit with ``results`` and whether they (with the ``earlier`` phases' results) fail the host."""
    failed = host_failed(list(earlier or []) + results)
    if failed:
        returns["msg"] = failure_message(list(earlier or []) + results)
    module.exit_json(changed=False, maint_results=results, host_failed=failed, **returns)


def main():
    """Run the module."""
    module = AnsibleModule(
        argument_spec=dict(
            phase=dict(type="str", required=True, choices=["args", "searched", "precheck", "installed", "final"]),
            policy=dict(type="dict", default={}),
            result=dict(type="dict", default={}),
            install_planned=dict(type="bool", default=False),
            window_guard=dict(type="dict", default={}),
            free_mb=dict(type="int"),
            reboot_guard=dict(type="dict", default={}),
            reboot=dict(type="dict", default={}),
            running_services=dict(type="list", elements="str", default=[]),
            earlier_results=dict(type="list", elements="dict", default=[]),
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
        _exit(module, [], win_args=windows_update_args(policy))
    if phase == "searched":
        results = windows_scan_results(p["result"], policy)
        install_now, deferred_reason = window_decision(p["install_planned"], p["window_guard"])
        if deferred_reason:
            results.insert(0, deferred_result(deferred_reason))
        _exit(module, results, install_now=install_now)
    if phase == "precheck":
        ok, result = precheck({"free_mb": {"C:": p["free_mb"]}, "locks": None}, policy)
        _exit(module, [result], precheck_ok=ok)
    if phase == "installed":
        results = windows_install_results(p["result"])
        installed_any = any(r["changed"] for r in results)
        required = (p["result"] or {}).get("reboot_required")
        guard = p["reboot_guard"] or {}
        action, reason = reboot_decision(policy, required, installed_any, guard.get("allowed", True),
                                         guard.get("reason") or "", install_failed=host_failed(results))
        if action == "defer":
            results.append(deferred_result(reason, "reboot"))
        _exit(module, results, reboot_action=action, reboot_reason=reason)
    results = []
    if p["reboot"].get("action"):
        results.append(reboot_result(p["reboot"]["action"], p["reboot"].get("reason") or "",
                                     p["reboot"].get("rebooted"), p["reboot"].get("elapsed")))
    results.append(post_check(p["running_services"], policy["critical_services"]))
    _exit(module, results, p["earlier_results"])


if __name__ == "__main__":
    main()
