"""patch_win (the controller-side module of the Windows patch flow), run for real.

The inputs are the RECONSTRUCTED win_updates returns of tests/fixtures/patch/windows (there is
no Windows host here); this checks the module's wiring, the decisions are tested in
tests/unit/maint_utils/test_patch_decide.py and test_patch_win.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import assert_valid_results

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
FIX = ROOT / "tests" / "fixtures" / "patch" / "windows"


def run_module(args: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="json")
    env.pop("MAINT_RESULTS_FILE", None)
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-c", "local", "-m", "patch_win", "-a",
                           json.dumps(args), "-e", f"ansible_python_interpreter={sys.executable}"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    result: dict[str, Any] = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert not result.get("failed"), result.get("msg")
    assert_valid_results([dict(r, client="c", host="h", run_id="r") for r in result["maint_results"]])
    return result


def test_a_failed_install_is_not_rebooted() -> None:
    # installed.json: one update installed, one failed, and Windows asks for a reboot.
    ret = json.loads((FIX / "installed.json").read_text(encoding="utf-8"))
    assert ret["reboot_required"] is True
    res = run_module({"phase": "installed", "policy": {"reboot": "if_required"}, "result": ret})
    checks = {r["check"]: r for r in res["maint_results"]}
    assert checks["patch.failed"]["status"] == "critical"
    assert res["reboot_action"] == "skip" and "update failed" in res["reboot_reason"]
    # The failed update fails the host at the final phase (patch_decide.host_failed).
    assert res["host_failed"] is True
    final = run_module({"phase": "final", "policy": {"critical_services": ["wuauserv"]},
                        "running_services": ["wuauserv"], "earlier_results": res["maint_results"]})
    assert final["host_failed"] is True and "WU_E_NO_INTERACTIVE_USER" in final["msg"]
    assert [r["check"] for r in final["maint_results"]] == ["patch.post_check"]


def test_a_clean_install_that_needs_a_reboot_reboots() -> None:
    ret = json.loads((FIX / "installed_clean.json").read_text(encoding="utf-8"))
    ret["reboot_required"] = True
    res = run_module({"phase": "installed", "policy": {"reboot": "if_required"}, "result": ret})
    assert res["reboot_action"] == "reboot"
    res = run_module({"phase": "installed", "policy": {"reboot": "if_required"}, "result": ret,
                      "reboot_guard": {"allowed": False, "reason": "only 10 min left"}})
    assert res["reboot_action"] == "defer"
    assert [r["check"] for r in res["maint_results"]][-1] == "patch.deferred"
    final = run_module({"phase": "final", "reboot": {"action": "reboot", "reason": "required", "rebooted": False},
                        "earlier_results": res["maint_results"]})
    assert final["host_failed"] is True and "not confirmed" in final["msg"]


def test_the_search_decides_whether_the_install_runs_now() -> None:
    ret = json.loads((FIX / "searched.json").read_text(encoding="utf-8"))
    res = run_module({"phase": "searched", "result": ret, "install_planned": True,
                      "window_guard": {"allowed": True, "reason": ""}})
    assert res["install_now"] is True and "patch.deferred" not in [r["check"] for r in res["maint_results"]]
    res = run_module({"phase": "searched", "result": ret, "install_planned": True,
                      "window_guard": {"allowed": False, "reason": "only 10 min left"}})
    assert res["install_now"] is False and res["maint_results"][0]["check"] == "patch.deferred"
    assert run_module({"phase": "searched", "result": ret})["install_now"] is False
