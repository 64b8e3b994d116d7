"""Shared pytest fixtures."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema import Draft202012Validator

if TYPE_CHECKING:
    from tests import postgres as postgres_server
    from tests import servers

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "schemas" / "check_result.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def project_dir() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def result_validator() -> Draft202012Validator:
    return Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid_results(results: list[dict[str, Any]]) -> None:
    """Assert every result matches schemas/check_result.schema.json and has a check id of the catalogue."""
    from maint_utils.checks import catalogue

    known = catalogue()
    validator = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for res in results:
        errors = sorted(validator.iter_errors(res), key=str)
        assert not errors, f"{res.get('check')}: {errors[0].message}"
        # The collector's own tests emit made-up ids of the reserved area "test".
        assert res.get("check") in known or str(res.get("check")).startswith("test."), \
            f"check id {res.get('check')!r} is not in the catalogue (maint_utils.checks)"


@pytest.fixture()
def maint_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state folder for tests that must not touch the lab's."""
    home = tmp_path / "home"
    monkeypatch.setenv("MAINT_HOME", str(home))
    monkeypatch.setenv("MAINT_VAULT_DIR", str(tmp_path / "vault"))
    return home


@pytest.fixture()
def smtp_server(tmp_path: Path) -> Iterator[servers.SmtpServer]:
    """A real SMTP server on 127.0.0.1 (STARTTLS and AUTH required); see tests/servers.py."""
    from tests import servers

    with servers.smtp_server(tmp_path / "smtp-tls") as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[postgres_server.PostgresServer]:
    """A real PostgreSQL server (Debian's package) on 127.0.0.1, one per test session; see tests/postgres.py."""
    from tests import postgres as postgres_server

    with postgres_server.postgres_server() as server:
        yield server


@pytest.fixture()
def http_receiver() -> Iterator[servers.HttpReceiver]:
    """A real HTTP receiver on 127.0.0.1 keeping every request; see tests/servers.py."""
    from tests import servers

    with servers.http_receiver() as receiver:
        yield receiver


os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))


def process_survives(pid: int | str, grace: float = 3.0) -> bool:
    """True if ``pid`` is still running after ``grace`` seconds.

    A process killed with SIGKILL closes its files before it finishes exiting, so the
    caller can see its pipes close while /proc still shows it running for a moment.
    A zombie waiting to be reaped counts as gone.
    """
    deadline = time.monotonic() + grace
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1]
        except (OSError, IndexError):
            return False
        if state in ("Z", "X"):
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)
