"""The result helper in plugins/module_utils/maint_result.py and the JSON Schema agree."""

from __future__ import annotations

import pytest

from maint_utils.maint_result import M_, ResultError, grade_high, grade_low, make_result, unreadable_result, worst
from tests.conftest import assert_valid_results


def _full(res: dict) -> dict:
    return {**res, "client": "c", "host": "h", "run_id": "r"}


def test_make_result_matches_schema() -> None:
    res = make_result("hardware.disk_free", "/", "warning", "  15 %\n free ", observed={"free_pct": 15},
                      threshold={"warn": 20}, remediation="clean up")
    assert res["summary"] == "15 % free"
    assert_valid_results([_full(res)])


def test_a_message_gives_the_summary_and_the_message_the_report_translates(result_validator) -> None:  # type: ignore[no-untyped-def]
    res = make_result("hardware.disk_free", "/", "warning", M_("%(mount)s: %(free_pct)s %% free", mount="/",
                                                               free_pct=12.5))
    assert res["summary"] == "/: 12.5 % free"
    assert res["message"] == {"id": "%(mount)s: %(free_pct)s %% free", "params": {"mount": "/", "free_pct": 12.5}}
    assert_valid_results([_full(res)])
    assert "message" not in make_result("a.b", "", "ok", "plain English")
    assert list(result_validator.iter_errors({**_full(res), "message": {"id": "x"}}))
    assert list(result_validator.iter_errors({**_full(res), "message": {"id": "x", "params": {"a": [1]}}}))


@pytest.mark.parametrize(("template", "params"), [("%(a)s and %(b)s", {"a": 1}), ("%(a)s", {"a": 1, "b": 2}),
                                                  ("%d files", {}), ("%(a).1f", {"a": 1.0}), ("", {})])
def test_a_message_uses_only_named_string_placeholders_all_given(template: str, params: dict) -> None:
    with pytest.raises(ResultError):
        M_(template, **params)


def test_an_unreadable_value_has_a_message_with_its_parts() -> None:
    res = unreadable_result("hardware.disk_free", "/srv", "free space", value="abc")
    assert res["summary"] == "/srv: free space unreadable (got abc)" and res["status"] == "unknown"
    assert res["message"]["params"] == {"item": "/srv", "what": "free space", "got": "abc"}
    res = unreadable_result("hardware.memory", "", "MemTotal", error=ValueError("bad"))
    assert res["summary"] == "MemTotal unreadable (ValueError: bad)"
    assert res["message"]["id"] == "%(what)s unreadable (%(error)s)"


@pytest.mark.parametrize("check", ["disk", "Hardware.disk", "hardware.", "hardware..x", ""])
def test_bad_check_id_is_rejected(check: str) -> None:
    with pytest.raises(ResultError):
        make_result(check, "", "ok", "x")


def test_bad_status_and_empty_summary_are_rejected() -> None:
    with pytest.raises(ResultError):
        make_result("a.b", "", "fine", "x")
    with pytest.raises(ResultError):
        make_result("a.b", "", "ok", "  ")


def test_schema_rejects_unknown_status_and_extra_keys(result_validator) -> None:  # type: ignore[no-untyped-def]
    res = _full(make_result("a.b", "", "ok", "x"))
    assert not list(result_validator.iter_errors(res))
    assert list(result_validator.iter_errors({**res, "status": "fine"}))
    assert list(result_validator.iter_errors({**res, "password": "x"}))
    missing = dict(res)
    del missing["observed"]
    assert list(result_validator.iter_errors(missing))


def test_grading_never_turns_unread_into_ok() -> None:
    assert grade_low(None, 20, 10) == "unknown"
    assert grade_high(None, 60, 75) == "unknown"
    assert grade_low(5, 20, 10) == "critical"
    assert grade_low(15, 20, 10) == "warning"
    assert grade_low(50, 20, 10) == "ok"
    assert grade_high(80, 60, 75) == "critical"
    assert grade_high(61, 60, 75) == "warning"
    assert worst(["ok", "unknown", "warning"]) == "warning"
    assert worst([]) == "unknown"
