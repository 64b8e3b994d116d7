# Copyright: contributors to this project
# Apache-2.0
"""Run win_hardware_facts.ps1 on a Windows host, then decide the checks in Python here.

PowerShell collects, Python decides: the decide code is the pure, unit-tested
``windows_hardware_decide.py`` of the project's module_utils, run on the controller.
The task result carries ``maint_results`` for the maint_collector callback.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# Loaded in this order, each registered as ansible.module_utils.<name> so that their
# own "from ansible.module_utils.X import" lines resolve to the same files.
_DECIDE_CHAIN = ("maint_result", "smart_decide", "hardware_decide", "windows_hardware_decide")


def _load_decide():
    """Return the windows_hardware_decide module from the configured module_utils paths."""
    for folder in C.DEFAULT_MODULE_UTILS_PATH or []:
        if not os.path.isfile(os.path.join(folder, "windows_hardware_decide.py")):
            continue
        import ansible.module_utils as package
        for name in _DECIDE_CHAIN:
            full = "ansible.module_utils." + name
            if full in sys.modules:
                continue
            spec = importlib.util.spec_from_file_location(full, os.path.join(folder, name + ".py"))
            module = importlib.util.module_from_spec(spec)
            sys.modules[full] = module
            spec.loader.exec_module(module)
            setattr(package, name, module)
        return sys.modules["ansible.module_utils.windows_hardware_decide"]
    try:
        from maint_utils import windows_hardware_decide
    except ImportError as exc:
        raise AnsibleActionFail(
            f"windows_hardware_decide.py not found in the module_utils paths {C.DEFAULT_MODULE_UTILS_PATH}") from exc
    return windows_hardware_decide


class ActionModule(ActionBase):
    """Collect with PowerShell, decide with Python."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("policy",))

    def run(self, tmp=None, task_vars=None):
        """Validate the policy, run the PowerShell collector, decide, return maint_results."""
        result = super().run(tmp, task_vars)
        del tmp
        policy = self._task.args.get("policy") or {}
        decide = _load_decide()
        try:
            decide.resolve_policy(policy)
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        module_result = self._execute_module(module_name="win_hardware_facts", module_args={"policy": policy},
                                             task_vars=task_vars)
        result.update(module_result)
        if result.get("failed"):
            return result
        result["maint_results"] = decide.decide_windows(result.get("hardware_facts") or {}, policy)
        result["changed"] = False
        return result
