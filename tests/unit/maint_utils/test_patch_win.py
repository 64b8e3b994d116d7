"""Patch decide code for Windows Update (plugins/module_utils/patch_win.py) on win_updates returns reconstructed from its RETURN."""

from __future__ import annotations

import json

from maint_utils import patch_decide as pd
from maint_utils import patch_win
from tests.unit.maint_utils.test_patch_decide import FIX, by_check, policy

# -- Windows (reconstructed from win_updates RETURN) ----------------------------------------------------

def load(name: str) -> dict:
    return json.loads((FIX / "windows" / name).read_text())


def test_windows_update_args_from_policy() -> None:
    args = patch_win.windows_update_args(policy(exclude_kbs=["5046999", "KB890830"], exclude_titles=["Preview"],
                                         accept=[], categories=["SecurityUpdates", "UpdateRollups"]))
    assert args == {"category_names": ["SecurityUpdates"], "reject_list": ["KB5046999", "KB890830", "Preview"]}
    assert patch_win.windows_update_args(policy(mode="all"))["category_names"] == [
        "CriticalUpdates", "SecurityUpdates", "UpdateRollups"]


def test_windows_searched() -> None:
    res = by_check(patch_win.windows_scan_results(load("searched.json"), policy()))
    assert res["patch.pending"]["observed"]["count"] == 2
    assert res["patch.pending"]["observed"]["filtered"][0]["reasons"] == ["category_names"]
    assert res["patch.pending_security"]["observed"]["kbs"] == ["5046616"]
    assert res["patch.pending_security"]["status"] == "warning"
    assert res["patch.reboot_required"]["status"] == "ok"
    failed = by_check(patch_win.windows_scan_results(load("search_failed.json"), policy()))
    assert failed["patch.pending"]["status"] == "unknown" and "0x8024402C" in failed["patch.pending"]["summary"]


def test_windows_installed_with_a_failure_and_reboot() -> None:
    res = by_check(patch_win.windows_install_results(load("installed.json")))
    assert res["patch.installed"]["changed"] is True and "KB5046616" in res["patch.installed"]["summary"]
    assert res["patch.failed"]["status"] == "critical" and "WU_E_NO_INTERACTIVE_USER" in res["patch.failed"]["summary"]
    assert res["patch.reboot_required"]["status"] == "warning"
    clean = by_check(patch_win.windows_install_results(load("installed_clean.json")))
    assert clean["patch.installed"]["changed"] is False and clean["patch.failed"]["status"] == "ok"


def test_windows_results_with_odd_update_entries() -> None:
    policy = pd.effective_policy({})
    ret = {"found_update_count": 3, "reboot_required": False,
           "updates": {"a": {"title": "2024-01 Security Update (KB5034122)", "kb": "5034122",
                             "categories": "Security Updates", "id": "a"},
                       "b": "garbage", "c": None}}
    results = {r["check"]: r for r in patch_win.windows_scan_results(ret, policy)}
    assert results["patch.pending_security"]["status"] == "warning"
    assert results["patch.pending_security"]["observed"]["kbs"] == ["5034122"]
    assert patch_win.windows_scan_results(["not", "a", "dict"], policy)[0]["status"] == "unknown"
    installed = {r["check"]: r for r in patch_win.windows_install_results(
        {"installed_update_count": 1, "failed_update_count": "x",
         "updates": [{"title": "KB1", "kb": ["1"], "installed": True}, 7]})}
    assert installed["patch.installed"]["status"] == "ok" and installed["patch.failed"]["status"] == "ok"

