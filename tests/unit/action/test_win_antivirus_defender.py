"""Tests of plugins/action/win_antivirus_defender.py.

Windows cannot run here: the PowerShell module's return is replaced by the documented,
reconstructed collector outputs of tests/fixtures/defender/ (see its README). What is real:
the action plugin itself, its loading of the decide code, the options it computes from the
policy and the results it hands to the collector.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "defender"
PLUGIN = ROOT / "plugins" / "action" / "win_antivirus_defender.py"


def load_plugin():
    spec = importlib.util.spec_from_file_location("win_antivirus_defender_action", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_action(args, module_return, check_mode=False):
    plugin = load_plugin()
    task = SimpleNamespace(args=args, async_val=0, check_mode=check_mode, action="win_antivirus_defender")
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir="/tmp/fake"))
    action = plugin.ActionModule(task, connection, None, None, None, None)
    calls = []

    def fake_execute_module(module_name=None, module_args=None, task_vars=None, **_):
        calls.append({"module_name": module_name, "module_args": module_args})
        return json.loads(json.dumps(module_return))

    action._execute_module = fake_execute_module
    return action, calls


def collector(name):
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data if "defender" in data else {"changed": False, "defender": data}


def test_healthy_host_gives_results_and_no_change():
    action, calls = make_action({"policy": {}}, collector("healthy_collector.json"))
    result = action.run(task_vars={})
    assert calls == [{"module_name": "win_antivirus_defender",
                      "module_args": {"update_signatures": False, "update_if_age_days": 3,
                                      "quick_scan_after_days": 0, "threat_days": 30}}]
    statuses = {r["check"]: r["status"] for r in result["maint_results"]}
    assert statuses["antivirus.product"] == "ok"
    assert statuses["antivirus.threats"] == "ok"
    assert result["changed"] is False


def test_policy_becomes_module_options():
    policy = {"update_signatures": True, "signature_warn_days": 2, "quick_scan_after_days": 7, "threat_days": 14}
    action, calls = make_action({"policy": policy}, collector("healthy_collector.json"))
    action.run(task_vars={})
    assert calls[0]["module_args"] == {"update_signatures": True, "update_if_age_days": 2,
                                       "quick_scan_after_days": 7, "threat_days": 14}


def test_update_sets_changed():
    action, _ = make_action({"policy": {"update_signatures": True}}, collector("updated_signatures_collector.json"))
    result = action.run(task_vars={})
    assert result["changed"] is True
    assert [r["check"] for r in result["maint_results"] if r["changed"]] == ["antivirus.update"]


def test_active_threat_is_critical():
    action, _ = make_action({"policy": {}}, collector("active_threat_collector.json"))
    result = action.run(task_vars={})
    threats = [r for r in result["maint_results"] if r["check"] == "antivirus.threats"][0]
    assert threats["status"] == "critical"


def test_module_failure_is_passed_through_without_results():
    action, _ = make_action({"policy": {}}, {"failed": True, "msg": "powershell: access denied"})
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert "maint_results" not in result


def test_invalid_policy_fails_before_running_anything():
    action, calls = make_action({"policy": {"signature_warn_days": "soon"}}, collector("healthy_collector.json"))
    with pytest.raises(AnsibleActionFail, match="invalid antivirus policy"):
        action.run(task_vars={})
    assert calls == []


def test_unknown_option_is_refused():
    action, calls = make_action({"policy": {}, "update": True}, collector("healthy_collector.json"))
    with pytest.raises(AnsibleActionFail, match="Invalid options"):
        action.run(task_vars={})
    assert calls == []
