"""The win_hardware action plugin (plugins/action/win_hardware.py): PowerShell collects, Python decides.

The module's output is a reconstructed recording (tests/fixtures/windows/hardware/); the
PowerShell side is verified on a real host only by roles/hardware/molecule/windows.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "windows" / "hardware"


def _action_module() -> Any:
    path = ROOT / "plugins" / "action" / "win_hardware.py"
    spec = importlib.util.spec_from_file_location("maint_action_win_hardware", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_action(module_output: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    plugin = _action_module()
    task = mock.MagicMock()
    task.args = {"policy": policy}
    task.async_val = 0
    task.check_mode = False
    action = plugin.ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None,
                                 shared_loader_obj=None)
    with mock.patch.object(plugin.ActionBase, "run", return_value={}), \
            mock.patch.object(plugin.ActionModule, "_execute_module", return_value=copy.deepcopy(module_output)) as run:
        result: dict[str, Any] = action.run(task_vars={})
    run.assert_called_once()
    assert run.call_args.kwargs["module_name"] == "win_hardware"
    return result


def test_action_plugin_adds_results_to_the_module_output() -> None:
    output = json.loads((FIXTURES / "failing_disk.json").read_text(encoding="utf-8"))
    result = _run_action(output, {"disk_crit_free_pct": 5})
    assert result["changed"] is False
    got = {(r["check"], r["item"]): r["status"] for r in result["maint_results"]}
    assert got[("hardware.disk_free", "C:\\")] == "warning"  # 8 % free, critical only at 5 %
    assert got[("hardware.smart", "ST1000DM003-1ER162 Z4Y00000")] == "critical"
    assert "hardware_raw" in result


def test_action_plugin_passes_module_failures_through() -> None:
    result = _run_action({"failed": True, "msg": "Access is denied"}, {})
    assert result["failed"] and "maint_results" not in result


def test_action_plugin_rejects_bad_policy() -> None:
    from ansible.errors import AnsibleActionFail

    with pytest.raises(AnsibleActionFail, match="unknown key"):
        _run_action({}, {"nope": 1})
