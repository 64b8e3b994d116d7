"""``maintctl tick`` without the lab: what is due, the recorded state, bad policies, the lock.

The real dispatch of a run on the lab is in tests/integration/test_orchestrator_lab.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest

from maintctl import cli, cmd_tick

ROOT = Path(__file__).resolve().parents[3]
MON_2105_CET = "2026-11-23T20:05:00Z"


@pytest.fixture()
def clients(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, maint_home: Path) -> Path:
    """Two copies of the demo client, 'acme' and 'bravo', in a private inventories folder."""
    inv = tmp_path / "inventories"
    for name in ("acme", "bravo"):
        shutil.copytree(ROOT / "inventories" / "demo", inv / name)
        (tmp_path / "vault").mkdir(exist_ok=True)
        (tmp_path / "vault" / f"{name}.pass").write_text((ROOT / "lab" / "demo-vault-password.txt").read_text())
        (tmp_path / "vault" / f"{name}.pass").chmod(0o600)
    for name in ("acme", "bravo"):  # the supervision cycles have their own tests below
        _edit(inv, name, '    probe: "every 1 min"\n    watch: "every 5 min"\n', "")
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    return inv


def _edit(inv: Path, client: str, old: str, new: str) -> None:
    path = inv / client / "group_vars" / "all" / "policy.yml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _tick(monkeypatch: pytest.MonkeyPatch, now: str, *args: str) -> int:
    monkeypatch.setenv("MAINT_TEST_NOW", now)
    return cli.main(["tick", *args])


def test_dry_run_shows_the_due_runs_and_records_nothing(clients: Path, maint_home: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert _tick(monkeypatch, MON_2105_CET, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would start acme: hardware,antivirus,backup,patch due for maintenance Mon 2026-11-23 21:00 CET" in out
    assert "would start bravo:" in out
    assert not (maint_home / "schedule").exists()
    # Before 21:00 nothing is due.
    assert _tick(monkeypatch, "2026-11-23T19:55:00Z", "--dry-run", "--client", "acme") == 0
    assert "nothing due at 2026-11-23T19:55:00Z" in capsys.readouterr().out


def test_a_tick_records_itself_so_a_slot_never_starts_twice(clients: Path, maint_home: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # 20:55 CET: nothing due, but the tick is recorded.
    assert _tick(monkeypatch, "2026-11-23T19:55:00Z", "--client", "acme") == 0
    state = maint_home / "schedule" / "acme.json"
    assert json.loads(state.read_text()) == {"last_tick": "2026-11-23T19:55:00Z"}
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    # At 21:05 the 21:00 slot is due, unless the catch-up says a 5-minute-old slot is too old.
    assert _tick(monkeypatch, MON_2105_CET, "--client", "acme", "--dry-run", "--catch-up", "10") == 0
    assert "would start acme:" in capsys.readouterr().out
    assert _tick(monkeypatch, MON_2105_CET, "--client", "acme", "--dry-run", "--catch-up", "4") == 0
    assert "nothing due" in capsys.readouterr().out
    # A recorded tick after 21:00 makes it not due any more.
    state.write_text(json.dumps({"last_tick": "2026-11-23T20:01:00Z"}))
    assert _tick(monkeypatch, MON_2105_CET, "--client", "acme", "--dry-run") == 0
    assert "nothing due" in capsys.readouterr().out


def test_a_bad_policy_skips_that_client_only(clients: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _edit(clients, "bravo", 'maintenance: "Mon-Fri 21:00"', 'maintenance: "Mon-Fri 21h"')
    assert _tick(monkeypatch, MON_2105_CET, "--dry-run") == 2
    captured = capsys.readouterr()
    assert "would start acme:" in captured.out and "bravo" not in captured.out
    assert captured.err.strip().splitlines() == [
        "bravo: skipped: " + str(clients / "bravo" / "group_vars" / "all" / "policy.yml")
        + ": maint_policy.schedule.maintenance: 'Mon-Fri 21h': expected 'DAYS HH:MM', e.g. 'Mon-Fri 21:00'"]


def test_unreadable_state_is_one_line(clients: Path, maint_home: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (maint_home / "schedule").mkdir(parents=True)
    (maint_home / "schedule" / "acme.json").write_text("{not json")
    assert _tick(monkeypatch, MON_2105_CET, "--client", "acme", "--dry-run") == 2
    err = capsys.readouterr().err
    assert "acme: skipped:" in err and "unreadable schedule state" in err and len(err.strip().splitlines()) == 1


def test_exception_date_makes_the_patch_part_scan_only(clients: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _edit(clients, "acme", "window_exceptions: []", "window_exceptions: ['2026-11-23']")
    assert _tick(monkeypatch, MON_2105_CET, "--client", "acme", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "acme: hardware,antivirus,backup,patch (patch scan only: window exception date) due for" in out


def test_argv_is_a_list_and_marks_the_run_scheduled(clients: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINT_TEST_NOW", MON_2105_CET)
    due = cmd_tick.plan_client("acme", cmd_tick.maint_clock.now(), cmd_tick.dt.timedelta(hours=1))
    assert due is not None
    assert due.argv()[1:] == ["run", "--client", "acme", "--only", "hardware,antivirus,backup,patch", "--scheduled"]


def test_another_tick_holds_the_lock(clients: Path, maint_home: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (maint_home / "locks").mkdir(parents=True)
    fd = os.open(maint_home / "locks" / "tick.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert _tick(monkeypatch, MON_2105_CET) == 4
        assert "another maintctl tick is dispatching" in capsys.readouterr().err
    finally:
        os.close(fd)
    assert not (maint_home / "schedule").exists()


def test_bad_arguments(clients: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _tick(monkeypatch, MON_2105_CET, "--jobs", "0") == 2
    assert _tick(monkeypatch, MON_2105_CET, "--client", "nosuch") == 2
    assert "unknown client 'nosuch'" in capsys.readouterr().err
