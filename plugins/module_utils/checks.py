# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The catalogue of checks: every check id the project can emit, in one place.

Each area's decide module holds its own table, ``CHECKS``, at its top (``hardware_decide``,
``antivirus_decide``, ``backup_decide``, ``patch_decide``); this module gathers them with the
checks the collector callback makes itself (``run.*``). ``docs/checks.md`` is generated from
it (``python -m maint_utils.checks > docs/checks.md``), the policy schemas' and the roles'
argument_specs defaults are tested against it, and a test fails for a result whose check id
is not in it.
"""

from __future__ import annotations

import importlib
import sys

try:
    from ansible.module_utils.maint_result import Check
except ImportError:
    from maint_utils.maint_result import Check

# The areas, in the order a maintenance window runs them. Everything else derives from this:
# the --only words, roles/<area>, playbooks/<area>.yml, the <area>_* variables, <area>_decide.
AREAS = ("hardware", "antivirus", "backup", "patch")

# Supervision between windows: check families that are not areas (no role, no --only word), each
# with its decide module and the policy section its thresholds live in (maint_policy.supervision).
# The availability probes (maintctl probe) decide in probe_decide, the health watch in watch_decide
# (besides the hardware checks it shares with the nightly window: one id, one meaning).
SUPERVISION_MODULES = ("probe_decide", "watch_decide")
SUPERVISION_FAMILIES = ("service", "security")
SUPERVISION_SECTION = "supervision"

# Made by plugins/callback/maint_collector.py, not by a decide module.
REACHABILITY, TASK_FAILED, INVALID_RESULT = "run.reachability", "run.task_failed", "run.invalid_result"
RUN_CHECKS = (
    Check(id=REACHABILITY, measures="Whether the host answered over its connection (SSH, WinRM, PSRP), "
          "and whether its host key was accepted",
          decide="plugins/callback/maint_collector.py:v2_runner_on_unreachable", statuses=("ok", "critical"),
          remediation="Check that the host is powered on and reachable over the network, and its credentials.",
          unit_test="tests/unit/callback/test_maint_collector.py::test_failures_and_unreachable_hosts_become_results",
          lab_test="tests/integration/test_orchestrator_lab.py::"
                   "test_a_changed_host_key_is_refused_and_the_other_hosts_go_on"),
    Check(id=TASK_FAILED, measures="A task of the play failed: the value it was meant to read was not read",
          decide="plugins/callback/maint_collector.py:v2_runner_on_failed", statuses=("unknown",),
          remediation="Read the run's log for this host and fix the cause, then run again.",
          unit_test="tests/unit/callback/test_maint_collector.py::test_failures_and_unreachable_hosts_become_results",
          lab_test="tests/integration/test_patch_lab.py::test_failing_canary_stops_the_rollout"),
    Check(id=INVALID_RESULT, measures="A module returned a result outside the one result shape",
          decide="plugins/callback/maint_collector.py:_record", statuses=("unknown",),
          remediation="Report the module's bug; its value was not read.",
          unit_test="tests/unit/callback/test_maint_collector.py", lab_test="none: a module bug cannot be staged"),
)

# Made by the collector for an ad hoc run (maintctl play, maintctl adhoc): one result per host.
ADHOC_TASK = "adhoc.task"
ADHOC_CHECKS = (
    Check(id=ADHOC_TASK, measures="How an ad hoc playbook or module went on one host (maintctl play, maintctl "
          "adhoc): its tasks ok, changed, failed, unreachable and skipped (Ansible's recap counts; check mode "
          "changes nothing and says what would have changed)",
          decide="plugins/callback/maint_collector.py:_adhoc_summary", statuses=("ok", "critical"),
          remediation="Read the run's log for this host (maintctl prints its folder), fix the cause and run it "
                      "again, in check mode first.",
          unit_test="tests/unit/callback/test_maint_collector.py::test_an_adhoc_run_gets_one_result_per_host",
          lab_test="tests/integration/test_adhoc_lab.py::test_a_playbook_and_a_module_run_ad_hoc_check_mode_first"),
)


def policy_section(check):
    """Return the ``maint_policy`` section a check's policy keys live in (its area, or supervision)."""
    return SUPERVISION_SECTION if check.area in SUPERVISION_FAMILIES else check.area


def _decide_module(area):
    name = area if area.endswith("_decide") else area + "_decide"
    try:
        return importlib.import_module("ansible.module_utils." + name)
    except ImportError:
        return importlib.import_module("maint_utils." + name)


def catalogue():
    """Return every Check by id (run.* and adhoc.* first, each area's table in AREAS order, then supervision's)."""
    out = {}
    tables = [RUN_CHECKS, ADHOC_CHECKS] + [getattr(_decide_module(name), "CHECKS", ())
                                           for name in AREAS + SUPERVISION_MODULES]
    for table in tables:
        for check in table:
            if check.id in out:
                raise ValueError("check id %s is defined twice in the catalogue" % check.id)
            out[check.id] = check
    return out


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown():
    """Return docs/checks.md: id, what it measures, thresholds, decide code, unit test, lab test."""
    lines = [
        "# The checks",
        "",
        "Generated from the catalogue (`plugins/module_utils/checks.py` and the `CHECKS` table of each",
        "`plugins/module_utils/<area>_decide.py`) by `python -m maint_utils.checks > docs/checks.md`;",
        "do not edit by hand. A new check needs an entry in its area's table, its decide function and its",
        "tests, nothing else.",
        "",
        "| check | measures | policy keys (default) | statuses | decided in | unit test | lab test |",
        "|---|---|---|---|---|---|---|",
    ]
    for check in catalogue().values():
        keys = ", ".join("`%s` (%s)" % (key, value) for key, value in sorted(check.policy.items())) or "none"
        where = check.decide if "/" in check.decide.split(":")[0] else \
            "plugins/module_utils/%s.py:%s" % tuple(check.decide.split(":", 1))
        lines.append("| `%s` | %s | %s | %s | `%s` | `%s` | %s |" % (
            check.id, _cell(check.measures), _cell(keys), ", ".join(check.statuses), where,
            _cell(check.unit_test), _cell("`%s`" % check.lab_test if check.lab_test.startswith("tests/")
                                          else check.lab_test)))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - python -m maint_utils.checks
    sys.stdout.write(markdown())
