# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Options shared by apt_patch_facts and dnf_patch_facts (one argument_spec: patch_collect.argument_spec)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The patch flow's options, the same for every package manager."""

    DOCUMENTATION = r"""
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
  before_all:
    description: With O(phase=verify), every installed package before the install (RV(patch_plan.before_all)).
    type: dict
  install_error:
    description: With O(phase=verify), the install task's error message when it failed.
    type: str
    default: ""
  guard_allowed:
    description: With O(phase=verify), whether the window guard allows a reboot to start now.
    type: bool
    default: true
  guard_reason:
    description: With O(phase=verify), the window guard's reason (shown when a reboot is deferred).
    type: str
    default: ""
  reboot:
    description: With O(phase=final), the reboot decision and outcome (keys action, reason, rebooted, elapsed).
    type: dict
    default: {}
"""
