"""``maintctl doctor`` checks the PostgreSQL store only when MAINT_STORE names one, and never shows its password."""

from __future__ import annotations

from typing import Any

import pytest

from maintctl import doctor


def test_no_postgres_check_without_a_postgres_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAINT_STORE", raising=False)
    assert doctor._check_store() == []
    monkeypatch.setenv("MAINT_STORE", "/srv/maint/store.db")
    assert doctor._check_store() == []
    assert doctor.check_store("/srv/maint/store.db", "whatever") == []


def test_a_store_that_does_not_answer_is_one_line_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    with __import__("socket").socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MAINT_STORE", f"postgresql://maint:TopSecret42@127.0.0.1:{port}/maint")
    (problem,) = doctor._check_store()
    line = problem.line()
    assert line.startswith(f"MAINT_STORE: postgresql://maint:***@127.0.0.1:{port}/maint: cannot connect")
    assert "TopSecret42" not in line and "\n" not in line


@pytest.mark.postgres
def test_a_store_that_answers_is_no_problem(monkeypatch: pytest.MonkeyPatch, postgres: Any) -> None:
    monkeypatch.setenv("MAINT_STORE", postgres.url())
    assert doctor._check_store() == []
