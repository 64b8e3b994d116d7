"""The in-play window guard filters (plugins/filter/maint_window.py), with the fixed test clock.

"Now" is MAINT_TEST_NOW (maint_utils.maint_clock), the clock the orchestrator used to compute
maint_window_end; each test sets it, so nothing depends on the wall clock.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("maint_window_filter", ROOT / "plugins" / "filter" / "maint_window.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mw = _load()


@pytest.fixture()
def now(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def set_now(value: str) -> None:
        monkeypatch.setenv("MAINT_TEST_NOW", value)

    set_now("2026-11-28T12:00:00Z")
    return set_now


def test_the_filters_are_registered() -> None:
    assert set(mw.FilterModule().filters()) == {"maint_window_remaining_minutes", "maint_window_guard"}


@pytest.mark.parametrize(("end", "minutes"), [
    ("2026-11-28T14:30:00Z", 150.0),
    ("2026-11-28T14:30:00+01:00", 90.0),  # an offset is honoured (13:30 UTC)
    ("2026-11-28T12:00:30Z", 0.5),
    ("2026-11-28T11:45:00Z", -15.0),  # already over: negative
    ("2026-11-28T13:00:00", 60.0),  # naive: UTC, as maintctl writes maint_window_end
])
def test_remaining_minutes(now: Callable[[str], None], end: str, minutes: float) -> None:
    assert mw.maint_window_remaining_minutes(end) == minutes


@pytest.mark.parametrize("end", ["", None, "   "])
def test_an_empty_end_means_no_window_bound(now: Callable[[str], None], end: str | None) -> None:
    assert mw.maint_window_remaining_minutes(end) is None
    guard = mw.maint_window_guard(end, 30)
    assert guard["allowed"] is True and guard["remaining_minutes"] is None
    assert guard["reason"] == "no window bound (window end not set)"
    assert guard["now"] == "2026-11-28T12:00:00Z"


@pytest.mark.parametrize(("end", "minimum", "message"), [
    ("tonight", 30, "window end 'tonight': not an ISO 8601 time"),
    ("2026-13-45T99:00:00Z", 30, "not an ISO 8601 time"),
    ("Sat 23:59", 30, "not an ISO 8601 time"),
    ("2026-11-28T14:30:00Z", "half an hour", "window minimum remaining 'half an hour': not a number of minutes"),
    ("2026-11-28T14:30:00Z", -5, "must not be negative"),
])
def test_garbage_fails_the_task_with_one_line(now: Callable[[str], None], end: str, minimum: object,
                                              message: str) -> None:
    with pytest.raises(AnsibleFilterError) as err:
        mw.maint_window_guard(end, minimum)
    assert message in str(err.value) and "\n" not in str(err.value)
    if minimum == 30:
        with pytest.raises(AnsibleFilterError, match="not an ISO 8601 time"):
            mw.maint_window_remaining_minutes(end)


def test_minimum_is_inclusive(now: Callable[[str], None]) -> None:
    assert mw.maint_window_guard("2026-11-28T12:30:00Z", 30)["allowed"] is True
    assert mw.maint_window_guard("2026-11-28T12:29:59Z", 30)["allowed"] is False
    assert mw.maint_window_guard("2026-11-28T12:30:00Z", "30")["min_remaining_minutes"] == 30.0


def test_a_window_that_ends_during_a_batch(now: Callable[[str], None]) -> None:
    end = "2026-11-28T13:00:00Z"
    # Batch 1 starts at 12:00 with 60 min left: allowed.
    first = mw.maint_window_guard(end, 30)
    assert first["allowed"] is True and first["remaining_minutes"] == 60.0
    assert first["reason"] == "60 min left in the window (minimum 30)"
    # The batch takes 40 minutes; before its reboot (or the next batch) only 20 remain.
    now("2026-11-28T12:40:00Z")
    second = mw.maint_window_guard(end, 30)
    assert second["allowed"] is False and second["remaining_minutes"] == 20.0
    assert second["reason"] == "only 20 min left in the window (minimum 30)"
    # A batch that overran the window entirely.
    now("2026-11-28T13:05:00Z")
    late = mw.maint_window_guard(end, 30)
    assert late["allowed"] is False and late["reason"] == "the window ended 5 min ago"
    assert late["now"] == "2026-11-28T13:05:00Z"


def test_the_filter_in_a_real_play_uses_the_test_clock(tmp_path: Path) -> None:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="json", MAINT_TEST_NOW="2026-11-29T22:50:00Z")
    env.pop("MAINT_RESULTS_FILE", None)
    expr = "{{ '2026-11-29T23:00:00Z' | maint_window_guard(30) }}"
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-c", "local", "-m", "ansible.builtin.debug",
                           "-a", json.dumps({"msg": expr})], capture_output=True, text=True, env=env,
                          timeout=120, check=False, cwd=tmp_path)
    res = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert res["msg"]["allowed"] is False
    assert res["msg"]["reason"] == "only 10 min left in the window (minimum 30)"
    bad = subprocess.run([str(BIN / "ansible"), "localhost", "-c", "local", "-m", "ansible.builtin.debug",
                          "-a", json.dumps({"msg": "{{ 'soon' | maint_window_guard(30) }}"})],
                         capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp_path)
    failed = json.loads(bad.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert failed.get("failed") and "window end 'soon': not an ISO 8601 time" in failed["msg"]
