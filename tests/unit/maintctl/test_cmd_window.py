"""``maintctl window`` (runner/maintctl/cmd_window.py) with the fake clock."""

from __future__ import annotations

import json

import pytest

from maintctl import cli


def test_cli_window_uses_the_test_clock(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-24T10:00:00Z")  # Tuesday 11:00 in Paris
    assert cli.main(["window", "--client", "demo", "--count", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["now"] == "2026-11-24T10:00:00Z"
    assert data["current"] is None
    assert [w["start_utc"] for w in data["next"]] == ["2026-11-24T19:00:00Z", "2026-11-25T19:00:00Z"]
    assert [(r["key"], r["at_utc"]) for r in data["scheduled_runs"]] == [
        ("maintenance", "2026-11-24T20:00:00Z"), ("maintenance", "2026-11-25T20:00:00Z")]
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-24T20:00:00Z")
    assert cli.main(["window", "--client", "demo"]) == 0
    out = capsys.readouterr().out
    assert "inside a window until Wed 2026-11-25 06:00 CET" in out
    assert "(Wed 2026-11-25 05:00 UTC)" in out
    assert "Wed 2026-11-25 21:00 CET   (Wed 2026-11-25 20:00 UTC)   maintenance: hardware,antivirus,backup,patch" in out


def test_cli_window_bad_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["window", "--client", "demo", "--count", "0"]) == 2
    assert "--count 0" in capsys.readouterr().err
