"""Maintenance window logic (plugins/module_utils/maint_window.py) with a fixed clock.

Europe/Paris in 2026: clocks spring forward on Sunday 29 March (02:00 CET -> 03:00 CEST,
01:00 UTC) and fall back on Sunday 25 October (03:00 CEST -> 02:00 CET, 01:00 UTC).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from maint_utils import maint_window
from maint_utils.maint_result import PolicyError
from maint_utils.maint_window import load_schedule
from maintcore.errors import exit_code

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC


def paris(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS, fold=fold)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def sched(*windows: str, exceptions: tuple[str, ...] = ()) -> maint_window.Schedule:
    return load_schedule(list(windows), list(exceptions), "Europe/Paris")


# -- parsing ---------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "days", "start", "end"), [
    ("Mon-Fri 20:00-06:00", {0, 1, 2, 3, 4}, 1200, 360),
    ("Sat 00:00-24:00", {5}, 0, 1440),
    ("Mon,Wed 22:00-02:00", {0, 2}, 1320, 120),
    ("mon-wed,FRI 01:30-03:00", {0, 1, 2, 4}, 90, 180),
    ("Fri-Mon 23:00-05:00", {4, 5, 6, 0}, 1380, 300),
    ("  Sun   8:05-9:10 ", {6}, 485, 550),
])
def test_parse_valid(spec: str, days: set[int], start: int, end: int) -> None:
    parsed = maint_window.parse_window(spec)
    assert parsed.weekdays == frozenset(days)
    assert (parsed.start_min, parsed.end_min) == (start, end)


@pytest.mark.parametrize(("spec", "message"), [
    ("Mon-Fry 20:00-06:00", "window 'Mon-Fry 20:00-06:00': unknown day 'Fry'"),
    ("Mon 20:00", "window 'Mon 20:00': expected 'DAYS HH:MM-HH:MM'"),
    ("20:00-06:00", "window '20:00-06:00': expected 'DAYS HH:MM-HH:MM'"),
    ("", "window '': expected 'DAYS HH:MM-HH:MM'"),
    ("Mon 25:00-06:00", "window 'Mon 25:00-06:00': bad time '25:00'"),
    ("Mon 20:60-06:00", "window 'Mon 20:60-06:00': bad time '20:60'"),
    ("Mon 24:00-06:00", "window 'Mon 24:00-06:00': bad time '24:00'"),
    ("Mon 20:00-24:30", "window 'Mon 20:00-24:30': bad time '24:30'"),
    ("Mon 8-10", "window 'Mon 8-10': bad time '8'"),
    ("Mon 20:00-20:00", "window 'Mon 20:00-20:00': start and end are equal"),
    ("Mon-Tue-Wed 20:00-21:00", "window 'Mon-Tue-Wed 20:00-21:00': bad day range 'Mon-Tue-Wed'"),
    ("Mon,,Tue 20:00-21:00", "window 'Mon,,Tue 20:00-21:00': empty day"),
    ("Monday 20:00-21:00", "window 'Monday 20:00-21:00': unknown day 'Monday'"),
])
def test_malformed_window_one_line_error(spec: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        load_schedule([spec], [], "Europe/Paris")
    text = str(err.value)
    assert text.startswith(message)
    assert "\n" not in text
    assert exit_code(err.value) == 2  # maintctl exits 2 for it


@pytest.mark.parametrize(("windows", "exceptions", "tz", "message"), [
    (["Mon 20:00-21:00"], ["2026-02-30"], "Europe/Paris", "window exception '2026-02-30': not a valid date"),
    (["Mon 20:00-21:00"], ["next monday"], "Europe/Paris", "window exception 'next monday': expected a date"),
    (["Mon 20:00-21:00"], [], "Europe/Pariss", "timezone 'Europe/Pariss': unknown"),
    (["Mon 20:00-21:00"], [], "", "timezone: missing"),
    ("Mon 20:00-21:00", [], "Europe/Paris", "windows: expected a list"),
    ([42], [], "Europe/Paris", "window 42: not a string"),
])
def test_malformed_inputs(windows: object, exceptions: list[str], tz: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        load_schedule(windows, exceptions, tz)  # type: ignore[arg-type]
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


# -- midnight crossing, merging ----------------------------------------------------------

def test_midnight_crossing_day_names_the_start_day() -> None:
    s = sched("Fri 22:00-02:00")
    # Saturday 2026-11-28 01:00 is inside Friday's window.
    win = s.current(paris(2026, 11, 28, 1, 0))
    assert win is not None
    assert (win.start, win.end) == (paris(2026, 11, 27, 22, 0), paris(2026, 11, 28, 2, 0))
    assert win.remaining(paris(2026, 11, 28, 1, 0)) == dt.timedelta(hours=1)
    # The end is excluded, the start included.
    assert s.current(paris(2026, 11, 28, 2, 0)) is None
    assert s.current(paris(2026, 11, 27, 22, 0)) == win
    assert s.current(paris(2026, 11, 27, 21, 59)) is None
    # Friday 01:00 is not in a window: Thursday is not a window day.
    assert s.current(paris(2026, 11, 27, 1, 0)) is None


def test_weekday_window_friday_night_runs_into_saturday_morning() -> None:
    s = sched("Mon-Fri 20:00-06:00")
    win = s.current(paris(2026, 11, 28, 5, 0))  # Saturday 05:00
    assert win is not None and win.start == paris(2026, 11, 27, 20, 0)
    assert s.current(paris(2026, 11, 29, 5, 0)) is None  # Sunday 05:00: no Saturday window
    assert s.current(paris(2026, 11, 23, 5, 0)) is None  # Monday 05:00: no Sunday window


def test_adjacent_windows_merge_into_one() -> None:
    s = sched("Mon-Fri 20:00-06:00", "Sat-Sun 00:00-24:00")
    win = s.current(paris(2026, 11, 28, 12, 0))  # Saturday noon
    assert win is not None
    assert (win.start, win.end) == (paris(2026, 11, 27, 20, 0), paris(2026, 11, 30, 0, 0))
    assert win.sources == ("Mon-Fri 20:00-06:00", "Sat-Sun 00:00-24:00")


def test_next_lists_future_windows_in_order() -> None:
    s = sched("Mon,Wed 22:00-02:00")
    now = paris(2026, 11, 24, 12, 0)  # Tuesday
    nxt = s.next(now, count=3)
    assert [w.start for w in nxt] == [paris(2026, 11, 25, 22, 0), paris(2026, 11, 30, 22, 0),
                                      paris(2026, 12, 2, 22, 0)]
    assert all(w.end - w.start == dt.timedelta(hours=4) for w in nxt)
    # Inside a window, next() gives the windows after the current one.
    inside = paris(2026, 11, 25, 23, 0)
    assert s.current(inside) is not None
    assert s.next(inside, 1)[0].start == paris(2026, 11, 30, 22, 0)


def test_wrapping_day_range() -> None:
    s = sched("Fri-Mon 23:00-05:00")
    starts = [w.local_start.date() for w in s.next(paris(2026, 11, 24, 12, 0), 4)]  # from Tuesday
    assert starts == [dt.date(2026, 11, 27), dt.date(2026, 11, 28), dt.date(2026, 11, 29), dt.date(2026, 11, 30)]
    assert s.next(paris(2026, 11, 24, 12, 0), 1)[0].local_start.strftime("%a %H:%M") == "Fri 23:00"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        sched("Mon 20:00-21:00").current(dt.datetime(2026, 11, 23, 20, 30))


# -- DST in Europe/Paris ---------------------------------------------------------------------

def test_spring_forward_night_window_is_one_hour_shorter() -> None:
    s = sched("Sat 20:00-06:00")
    win = s.current(paris(2026, 3, 28, 23, 0))
    assert win is not None
    assert win.start == utc(2026, 3, 28, 19, 0)   # 20:00 CET
    assert win.end == utc(2026, 3, 29, 4, 0)      # 06:00 CEST
    assert win.duration == dt.timedelta(hours=9)
    # 01:30 UTC is 03:30 CEST, inside; 2.5 real hours remain.
    assert win.remaining(utc(2026, 3, 29, 1, 30)) == dt.timedelta(hours=2, minutes=30)


def test_fall_back_night_window_is_one_hour_longer() -> None:
    s = sched("Sat 20:00-06:00")
    win = s.current(utc(2026, 10, 25, 1, 30))  # 02:30 CET, the second 02:30
    assert win is not None
    assert (win.start, win.end) == (utc(2026, 10, 24, 18, 0), utc(2026, 10, 25, 5, 0))
    assert win.duration == dt.timedelta(hours=11)


def test_start_in_spring_forward_gap_is_the_jump_instant() -> None:
    s = sched("Sun 02:30-04:00")
    win = s.next(paris(2026, 3, 28, 12, 0), 1)[0]
    assert win.start == utc(2026, 3, 29, 1, 0)    # 03:00 CEST, when clocks jump
    assert win.start.astimezone(PARIS).strftime("%H:%M %Z") == "03:00 CEST"
    assert win.end == utc(2026, 3, 29, 2, 0)      # 04:00 CEST
    # An ordinary Sunday keeps its 1h30.
    assert s.next(paris(2026, 4, 4, 12, 0), 1)[0].duration == dt.timedelta(hours=1, minutes=30)


def test_end_in_spring_forward_gap_is_the_jump_instant() -> None:
    s = sched("Sun 01:00-02:30")
    win = s.next(paris(2026, 3, 28, 12, 0), 1)[0]
    assert (win.start, win.end) == (utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 1, 0))


def test_window_entirely_inside_the_gap_is_dropped() -> None:
    s = sched("Sun 02:10-02:50")
    nxt = s.next(paris(2026, 3, 28, 12, 0), 1)[0]
    assert nxt.start == paris(2026, 4, 5, 2, 10)


def test_ambiguous_fall_back_times_use_the_first_occurrence() -> None:
    s = sched("Sun 02:30-03:30")
    win = s.next(paris(2026, 10, 24, 12, 0), 1)[0]
    assert win.start == utc(2026, 10, 25, 0, 30)  # 02:30 CEST (first)
    assert win.end == utc(2026, 10, 25, 2, 30)    # 03:30 CET (unambiguous)
    assert win.duration == dt.timedelta(hours=2)
    s2 = sched("Sun 01:00-02:30")
    win2 = s2.next(paris(2026, 10, 24, 12, 0), 1)[0]
    assert win2.end == utc(2026, 10, 25, 0, 30)   # first 02:30: the end never stretches
    assert s2.current(utc(2026, 10, 25, 1, 15)) is None  # the second 02:15 is outside


# -- exceptions --------------------------------------------------------------------------------

def test_exception_cancels_windows_starting_that_day_only() -> None:
    s = sched("Mon-Fri 20:00-06:00", exceptions=("2026-12-24",))
    # Wednesday 23rd's window still ends Thursday 06:00.
    assert s.current(paris(2026, 12, 24, 5, 0)) is not None
    # Thursday 24th's window is cancelled.
    assert s.current(paris(2026, 12, 24, 21, 0)) is None
    assert s.current(paris(2026, 12, 25, 3, 0)) is None
    nxt = s.next(paris(2026, 12, 24, 12, 0), 1)[0]
    assert nxt.start == paris(2026, 12, 25, 20, 0)


def test_exception_splits_a_merged_window() -> None:
    s = sched("Sat-Sun 00:00-24:00", exceptions=("2026-11-29",))
    win = s.current(paris(2026, 11, 28, 12, 0))
    assert win is not None and win.end == paris(2026, 11, 29, 0, 0)


# -- the in-play guard: a window that ends during a batch -------------------------------------

def test_window_ending_during_a_batch_defers_the_next_batch() -> None:
    s = sched("Mon 20:00-06:00")
    first_batch = paris(2026, 11, 24, 4, 50)      # Tuesday morning, end at 06:00
    win = s.current(first_batch)
    assert win is not None
    end_iso = win.end.astimezone(UTC).isoformat()
    decisions = []
    for minutes in (0, 25, 50):                   # three batches of 25 minutes each
        now = first_batch + dt.timedelta(minutes=minutes)
        decisions.append(maint_window.guard(end_iso, 30, now))
    assert [d["allowed"] for d in decisions] == [True, True, False]
    assert [d["remaining_minutes"] for d in decisions] == [70.0, 45.0, 20.0]
    assert "only 20 min left" in str(decisions[2]["reason"])
    # The batch that started at 05:15 is still running when the window ends at 06:00:
    assert win.remaining(first_batch + dt.timedelta(minutes=70)) == dt.timedelta(0)
    after = maint_window.guard(end_iso, 30, paris(2026, 11, 24, 6, 10))
    assert after["allowed"] is False and after["remaining_minutes"] == -10.0
    assert "ended 10 min ago" in str(after["reason"])


def test_guard_without_window_end_is_unbounded() -> None:
    decision = maint_window.guard("", 30, utc(2026, 11, 24, 12, 0))
    assert decision["allowed"] is True and decision["remaining_minutes"] is None


@pytest.mark.parametrize(("end", "minimum"), [("tonight", 30), ("2026-11-24T06:00:00Z", "x"),
                                               ("2026-11-24T06:00:00Z", -1)])
def test_guard_bad_input(end: str, minimum: object) -> None:
    with pytest.raises(PolicyError):
        maint_window.guard(end, minimum, utc(2026, 11, 24, 5, 0))  # type: ignore[arg-type]


def test_guard_keeps_room_for_the_task_itself() -> None:
    import datetime as _dt

    from maint_utils import maint_window as _mw

    now = _dt.datetime(2026, 11, 24, 20, 0, tzinfo=_dt.UTC)
    end = "2026-11-24T20:20:00Z"  # 20 minutes left
    assert _mw.guard(end, 10, now)["allowed"] is True
    # A reboot that may take 15 min (900 s) fits; one that may take 30 min does not.
    assert _mw.guard(end, 10, now, needs_seconds=900)["allowed"] is True
    refused = _mw.guard(end, 10, now, needs_seconds=1800)
    assert refused["allowed"] is False and refused["min_remaining_minutes"] == 30
