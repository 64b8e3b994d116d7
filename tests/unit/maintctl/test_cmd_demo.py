"""``maintctl demo`` reuses a lab that is up and healthy, and sets it up otherwise (no lab needed here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from maintctl import cmd_demo, doctor, lab

ROWS = [{"host": "web01", "ip": "198.51.100.11", "state": "running", "ssh": "yes"},
        {"host": "worker01", "ip": "198.51.100.40", "state": "running", "ssh": "yes"}]
KNOWN = "198.51.100.11 ssh-ed25519 AAAAC3Nza1\n198.51.100.40 ssh-ed25519 AAAAC3Nza2\n"
STARTED = {"web01": 1000.0, "worker01": 1001.0}


def test_a_lab_up_and_healthy_is_ready() -> None:
    assert cmd_demo.not_ready(ROWS, KNOWN, STARTED, 1005.0) is None


@pytest.mark.parametrize(("rows", "known", "started", "recorded", "reason"), [
    ([], KNOWN, STARTED, 1005.0, "the lab has no host"),
    ([ROWS[0], {**ROWS[1], "state": "exited", "ssh": "no"}], KNOWN, STARTED, 1005.0, "worker01 is exited"),
    ([ROWS[0], {**ROWS[1], "state": "missing", "ssh": "no"}], KNOWN, STARTED, 1005.0, "worker01 is missing"),
    ([{**ROWS[0], "ssh": "no"}, ROWS[1]], KNOWN, STARTED, 1005.0, "web01 does not answer SSH"),
    (ROWS, None, STARTED, None, "no host key recorded"),
    (ROWS, KNOWN.splitlines()[0], STARTED, 1005.0, "no host key recorded for worker01"),
    (ROWS, KNOWN, {**STARTED, "web01": 2000.0}, 1005.0, "web01 restarted since the lab was set up"),
    (ROWS, KNOWN, {"web01": 1000.0, "worker01": None}, 1005.0, "start time of worker01 unknown"),
])
def test_anything_less_sets_the_lab_up(rows: list[dict[str, str]], known: str | None,
                                       started: dict[str, float | None], recorded: float | None, reason: str) -> None:
    assert cmd_demo.not_ready(rows, known, started, recorded) == reason


@pytest.fixture()
def fake_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lab's podman side replaced (the lab belongs to the lab tests); returns what was called."""
    calls: list[str] = []
    (tmp_path / "ssh").mkdir()
    monkeypatch.setattr(lab, "lab_home", lambda: tmp_path)
    monkeypatch.setattr(lab, "status", lambda: [dict(row) for row in ROWS])
    monkeypatch.setattr(cmd_demo, "_started_at", lambda name: 0.0)  # started before the keys were recorded
    monkeypatch.setattr(lab, "up", lambda echo: calls.append("up"))
    monkeypatch.setattr(lab, "install_demo_vault_password", lambda: calls.append("vault password"))
    monkeypatch.setattr(doctor, "require", lambda scopes, echo, what: calls.append(f"doctor {scopes[0]}"))
    return calls


def test_the_demo_reuses_a_healthy_lab(fake_lab: list[str], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ssh" / "known_hosts").write_text(KNOWN)
    cmd_demo.ensure_lab()
    assert fake_lab == ["doctor lab", "vault password"]
    assert "reusing it" in capsys.readouterr().out


def test_the_demo_starts_a_lab_that_is_not_ready(fake_lab: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    cmd_demo.ensure_lab()  # no known_hosts: never set up
    assert fake_lab == ["up"]
    assert "demo: starting the lab (no host key recorded)" in capsys.readouterr().out
