"""The test clock: a result stamped during a run is never before the run's "now"."""

from __future__ import annotations

import datetime as dt

import pytest

from maint_utils import maint_clock


def test_the_offset_is_whole_seconds_so_shifted_stamps_never_precede_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-03T19:30:00Z")
    delta = maint_clock.offset()
    assert delta.microseconds == 0
    # A result stamped (to the second, as the collector does) right after the offset was taken.
    stamped = maint_clock.parse_iso(maint_clock.to_iso(maint_clock.real_now()))
    assert maint_clock.to_iso(stamped + delta) >= "2026-11-03T19:30:00Z"


def test_no_offset_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAINT_TEST_NOW", raising=False)
    assert maint_clock.offset() == dt.timedelta(0)
