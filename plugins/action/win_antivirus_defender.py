# Copyright: contributors to this project
# Apache-2.0
"""Run win_antivirus_defender.ps1 on a Windows host, then decide the antivirus checks in Python here.

PowerShell collects (and remediates when the policy allows it), Python decides: the
decide code is the pure, unit-tested ``antivirus_defender.py`` of the project's
module_utils, run on the controller and loaded with the shared ``maint_loader.py``. The
policy is turned into the module's options here (``defender_remediation_args``), once,
so its defaults live in one place (``antivirus_decide.CHECKS``). The task result carries
``maint_results`` for the maint_collector callback.
"""

import importlib.util
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

_LOADER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "module_utils", "maint_loader.py")


def _load_decide():
    """Return ``(maint_result, antivirus_defender)`` loaded from the project's module_utils."""
    spec = importlib.util.spec_from_file_location("maint_loader", _LOADER_PATH)
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    # Dependencies first: each file's own "from ansible.module_utils.X import" needs the one before.
    defender = loader.load("maint_result", "antivirus_decide", "antivirus_defender")
    return loader.load("maint_result"), defender


class ActionModule(ActionBase):
    """Collect (and remediate) with PowerShell, decide with Python."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("policy",))

    def run(self, tmp=None, task_vars=None):
        """Compute the module's options from the policy, run it, decide the results."""
        result = super().run(tmp, task_vars)
        del tmp
        policy = self._task.args.get("policy") or {}
        maint_result, decide = _load_decide()
        try:
            module_args = decide.defender_remediation_args(policy)
        except maint_result.PolicyError as exc:
            raise AnsibleActionFail(f"invalid antivirus policy: {exc}") from exc
        module_result = self._execute_module(module_name="win_antivirus_defender", module_args=module_args,
                                             task_vars=task_vars)
        result.update(module_result)
        if result.get("failed"):
            return result
        results = decide.evaluate_defender(result.get("defender") or {}, policy)
        result["maint_results"] = results
        result["changed"] = any(r["changed"] for r in results)
        return result
