"""Scheduled runs: parsing, due slots over DST changes, catch-up, and the window rule."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from maint_utils import maint_window
from maint_utils.checks import AREAS
from maint_utils.maint_clock import parse_iso
from maint_utils.maint_result import PolicyError
from maintcore.errors import InvalidInput
from maintctl import schedule as run_schedule


def runs(schedule: dict[str, str], tz: str = "Europe/Paris") -> run_schedule.RunSchedule:
    return run_schedule.load_run_schedule(schedule, tz, AREAS)


def utc(text: str) -> dt.datetime:
    return parse_iso(text)


def stamps(slots: list[run_schedule.Slot]) -> list[tuple[str, str]]:
    return [(s.entry.key, s.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")) for s in slots]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"backups": "Sun 03:00"}, "schedule.backups: unknown key 'backups' (use maintenance, one of hardware,"),
        ({"backup": "Sun"}, "schedule.backup: 'Sun': expected 'DAYS HH:MM'"),
        ({"backup": "Sun 03:00-04:00"}, "schedule.backup: 'Sun 03:00-04:00': expected 'DAYS HH:MM'"),
        ({"backup": "Sonntag 03:00"}, "schedule.backup: 'Sonntag 03:00': unknown day 'Sonntag'"),
        ({"backup": "Sun 3:75"}, "schedule.backup: 'Sun 3:75': bad time '3:75' (00:00 to 23:59)"),
        ({"backup": "Sun 24:00"}, "schedule.backup: 'Sun 24:00': bad time '24:00' (00:00 to 23:59)"),
        ({"backup": "Sun 03:00;"}, "schedule.backup: '': expected 'DAYS HH:MM'"),
        ({"backup": ""}, "schedule.backup: expected a string such as 'Mon-Fri 21:00'"),
        ({"backup": 3}, "schedule.backup: expected a string"),
    ],
)
def test_malformed_schedules_give_one_line(schedule: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        runs(schedule)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_not_a_mapping_and_bad_timezone() -> None:
    with pytest.raises(InvalidInput, match="schedule: expected a mapping"):
        run_schedule.load_run_schedule(["Mon 21:00"], "Europe/Paris", AREAS)  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="timezone 'Mars/Olympus': unknown"):
        runs({"backup": "Sun 03:00"}, tz="Mars/Olympus")
    assert runs({}).slots(utc("2026-11-01T00:00:00Z"), utc("2026-12-01T00:00:00Z")) == []
    assert run_schedule.load_run_schedule(None, "UTC", AREAS).entries == ()


def test_weekday_slots_in_local_time() -> None:
    # Fri 2026-11-20 to Tue 2026-11-24: Fri 21:00 CET and Mon 21:00 CET, not the weekend.
    got = runs({"maintenance": "Mon-Fri 21:00"}).slots(utc("2026-11-20T12:00:00Z"), utc("2026-11-24T12:00:00Z"))
    assert stamps(got) == [("maintenance", "2026-11-20T20:00Z"), ("maintenance", "2026-11-23T20:00Z")]
    assert got[0].entry.areas == AREAS


def test_bounds_are_exclusive_then_inclusive() -> None:
    schedule = runs({"backup": "Sun 03:00"})
    at = utc("2026-11-22T02:00:00Z")
    assert stamps(schedule.slots(at - dt.timedelta(seconds=1), at)) == [("backup", "2026-11-22T02:00Z")]
    assert schedule.slots(at, at + dt.timedelta(hours=1)) == []


def test_several_times_per_entry_and_several_entries_in_order() -> None:
    schedule = runs({"hardware": "Mon 08:00; Mon 14:00", "backup": "Mon 08:00"})
    got = schedule.slots(utc("2026-11-23T00:00:00Z"), utc("2026-11-24T00:00:00Z"))
    assert stamps(got) == [("backup", "2026-11-23T07:00Z"), ("hardware", "2026-11-23T07:00Z"),
                           ("hardware", "2026-11-23T13:00Z")]


def test_spring_forward_time_runs_at_the_jump() -> None:
    # Europe/Paris, Sun 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does not exist.
    got = runs({"backup": "Sun 02:30"}).slots(utc("2026-03-28T00:00:00Z"), utc("2026-03-30T00:00:00Z"))
    assert stamps(got) == [("backup", "2026-03-29T01:00Z")]


def test_fall_back_time_runs_once() -> None:
    # Sun 2026-10-25: 02:30 happens twice (CEST then CET); the run starts once, at the first.
    got = runs({"backup": "Sun 02:30"}).slots(utc("2026-10-24T00:00:00Z"), utc("2026-10-26T00:00:00Z"))
    assert stamps(got) == [("backup", "2026-10-25T00:30Z")]


def test_due_slots_respect_the_last_tick_and_the_catch_up() -> None:
    schedule = runs({"maintenance": "Mon-Fri 21:00"})
    now = utc("2026-11-23T20:05:00Z")  # Mon 21:05 CET
    hour = dt.timedelta(hours=1)
    # A controller that was off since Friday noon starts Monday's run, not Friday's.
    assert stamps(list(run_schedule.iter_due(schedule, utc("2026-11-20T11:00:00Z"), now, hour))) == [
        ("maintenance", "2026-11-23T20:00Z")]
    # Already ticked after 21:00: nothing again.
    assert list(run_schedule.iter_due(schedule, utc("2026-11-23T20:01:00Z"), now, hour)) == []
    # First tick ever: only what the catch-up allows.
    assert len(list(run_schedule.iter_due(schedule, None, now, hour))) == 1
    assert list(run_schedule.iter_due(schedule, None, now, dt.timedelta(minutes=4))) == []
    # A last tick in the future (clock set back) starts nothing.
    assert list(run_schedule.iter_due(schedule, now + hour, now, hour)) == []


def test_patch_runs_must_start_inside_a_window() -> None:
    windows = maint_window.load_schedule(["Mon-Fri 20:00-06:00"], [], "Europe/Paris")
    start = utc("2026-11-22T00:00:00Z")
    assert run_schedule.outside_windows(runs({"maintenance": "Mon-Fri 21:00"}), windows, start) == []
    # Checks and backups may run any time; only a run that installs patches needs a window.
    assert run_schedule.outside_windows(runs({"hardware": "Mon-Sun 12:00", "backup": "Sun 12:00"}), windows, start) == []
    problems = run_schedule.outside_windows(runs({"patch": "Mon-Sun 21:00"}), windows, start)
    assert problems == ["schedule.patch: 'Mon-Sun 21:00': Sun 21:00 is outside every maintenance window, "
                        "and this run installs patches"]
    # Exception dates do not count here: on those days the scheduled run only scans.
    with_exception = maint_window.load_schedule(["Mon-Fri 20:00-06:00"], ["2026-11-23"], "Europe/Paris")
    assert run_schedule.outside_windows(runs({"maintenance": "Mon-Fri 21:00"}), with_exception, start) == []


@pytest.mark.parametrize("start", ["2026-03-20T12:00:00Z", "2026-03-29T00:30:00Z", "2026-06-01T12:00:00Z",
                                   "2026-10-20T12:00:00Z", "2026-10-25T00:30:00Z", "2026-12-30T12:00:00Z"])
def test_the_window_check_does_not_depend_on_the_date(start: str) -> None:
    # Sun 02:30 lies inside "Sun 02:00-03:00" on the wall clock. On the spring-forward night
    # 02:00-03:00 does not exist; that night's run is the tick's business, not validate's.
    windows = maint_window.load_schedule(["Mon-Fri 20:00-06:00", "Sun 02:00-03:00"], [], "Europe/Paris")
    assert run_schedule.outside_windows(runs({"patch": "Sun 02:30"}), windows, utc(start)) == []
    assert run_schedule.outside_windows(runs({"patch": "Sun 02:30"}), windows) == []
    assert run_schedule.outside_windows(runs({"patch": "Sun 03:00"}), windows) == [
        "schedule.patch: 'Sun 03:00': Sun 03:00 is outside every maintenance window, and this run installs patches"]


def test_the_weekly_check_wraps_over_midnight_and_the_week_end() -> None:
    windows = maint_window.load_schedule(["Sun 23:00-02:00", "Fri 22:00-24:00"], [], "Europe/Paris")
    assert run_schedule.outside_windows(runs({"patch": "Mon 01:59; Sun 23:00; Fri 23:59"}), windows) == []
    assert run_schedule.outside_windows(runs({"patch": "Mon 02:00"}), windows) == [
        "schedule.patch: 'Mon 02:00': Mon 02:00 is outside every maintenance window, and this run installs patches"]
    assert run_schedule.outside_windows(runs({"maintenance": "Sat 00:00"}), windows) != []


@pytest.mark.parametrize(("spec", "seconds"), [("every 1 min", 60), ("every 5 min", 300), ("every 15 minutes", 900),
                                               ("every 20 s", 20), ("EVERY 2 h", 7200)])
def test_supervision_cycles_parse(spec: str, seconds: int) -> None:
    assert run_schedule.cycles({"schedule": {"probe": spec, "maintenance": "Mon-Fri 21:00"}}) == {"probe": seconds}


@pytest.mark.parametrize(("spec", "message"), [
    ("5 min", "schedule.watch: expected 'every N min'"),
    ("every 5 s", "schedule.watch: 'every 5 s': the interval must be between 10 s and 24 h"),
    ("every 25 h", "between 10 s and 24 h"),
    (5, "schedule.watch: expected"),
])
def test_malformed_cycles_give_one_line(spec: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        run_schedule.load_run_schedule({"watch": spec}, "Europe/Paris", AREAS)


def test_cycles_are_not_scheduled_runs() -> None:
    runs = run_schedule.load_run_schedule({"probe": "every 1 min", "watch": "every 5 min"}, "Europe/Paris", AREAS)
    assert runs.entries == ()
