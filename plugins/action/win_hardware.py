# Copyright: contributors to this project
# Apache-2.0
"""Run win_hardware.ps1 on a Windows host, then decide the hardware checks in Python here.

PowerShell collects, Python decides: the decide code is the pure, unit-tested
``hardware_win.py`` of the project's module_utils, run on the controller and loaded with
the shared ``maint_loader.py``. The task result carries ``maint_results`` for the
maint_collector callback.
"""

import importlib.util
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

_LOADER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "module_utils", "maint_loader.py")


def _load_decide():
    """Return ``(maint_result, hardware_win)`` loaded from the project's module_utils."""
    spec = importlib.util.spec_from_file_location("maint_loader", _LOADER_PATH)
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    # Dependencies first: each file's own "from ansible.module_utils.X import" needs the ones before.
    decide = loader.load("maint_result", "hardware_smart", "hardware_decide", "hardware_win")
    return loader.load("maint_result"), decide, loader.load("watch_decide")


class ActionModule(ActionBase):
    """Collect with PowerShell, decide with Python."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("policy", "watch", "supervision", "since"))

    def run(self, tmp=None, task_vars=None):
        """Check the policies, run the PowerShell collector, decide, return maint_results.

        With ``watch`` (the health watch) the collector also reads the critical services, the failed
        services and the failed logons since ``since``; ``watch_decide`` decides them.
        """
        result = super().run(tmp, task_vars)
        del tmp
        policy = self._task.args.get("policy") or {}
        watch = self._task.args.get("watch") in (True, "true", "True", "yes", 1)
        supervision = self._task.args.get("supervision") or {}
        since = self._task.args.get("since") or None
        maint_result, decide, watch_decide = _load_decide()
        try:
            decide.effective_policy(policy)
            if watch:
                watch_decide.effective_policy(supervision)
                if since:
                    watch_decide.parse_iso(since)
        except maint_result.PolicyError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        except ValueError as exc:
            raise AnsibleActionFail("since must be an ISO 8601 time such as 2026-11-22T21:00:00Z, got %r"
                                    % (since,)) from exc
        args = {"policy": policy}
        if watch:
            args.update(watch=True, supervision=supervision)
            if since:
                args["since"] = since
        module_result = self._execute_module(module_name="win_hardware", module_args=args, task_vars=task_vars)
        result.update(module_result)
        if result.get("failed"):
            return result
        raw = result.get("hardware_raw") or {}
        result["maint_results"] = decide.decide_windows(raw, policy)
        if watch:
            result["maint_results"] += watch_decide.decide_watch_windows(raw.get("watch") or {}, supervision)
        result["changed"] = False
        return result
