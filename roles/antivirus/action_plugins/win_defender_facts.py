# Copyright: contributors to this project
# Apache-2.0
"""Run win_defender_facts.ps1 on a Windows host, then decide the antivirus checks in Python here.

PowerShell collects (and remediates when the policy allows it), Python decides: the
decide code is the pure, unit-tested ``antivirus_decide.py`` of the project's
module_utils, run on the controller. The policy is turned into the module's options
here, so its defaults live in one place. The task result carries ``maint_results``
for the maint_collector callback.
"""

import importlib.util
import os
import sys

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# Loaded in this order, each registered as ansible.module_utils.<name> so that their
# own "from ansible.module_utils.X import" lines resolve to the same files.
_DECIDE_CHAIN = ("maint_result", "antivirus_decide")


def _load_decide():
    """Return the antivirus_decide module from the configured module_utils paths."""
    for folder in C.DEFAULT_MODULE_UTILS_PATH or []:
        if not os.path.isfile(os.path.join(folder, "antivirus_decide.py")):
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
        return sys.modules["ansible.module_utils.antivirus_decide"]
    try:
        from maint_utils import antivirus_decide
    except ImportError as exc:
        raise AnsibleActionFail(
            f"antivirus_decide.py not found in the module_utils paths {C.DEFAULT_MODULE_UTILS_PATH}") from exc
    return antivirus_decide


class ActionModule(ActionBase):
    """Collect (and remediate) with PowerShell, decide with Python."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("policy",))

    def run(self, tmp=None, task_vars=None):
        """Compute the module's options from the policy, run it, decide the results."""
        result = super().run(tmp, task_vars)
        del tmp
        policy = self._task.args.get("policy") or {}
        decide = _load_decide()
        try:
            module_args = decide.defender_remediation_args(policy)
        except ValueError as exc:
            raise AnsibleActionFail(f"invalid antivirus policy: {exc}") from exc
        module_result = self._execute_module(module_name="win_defender_facts", module_args=module_args,
                                             task_vars=task_vars)
        result.update(module_result)
        if result.get("failed"):
            return result
        results = decide.evaluate_defender(result.get("defender") or {}, policy)
        result["maint_results"] = results
        result["changed"] = any(r["changed"] for r in results)
        return result
