"""``maintctl history`` on a real store and a two-host client: transitions only, newest first, globs, JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maintcore import interventions, supervision
from maintcore.store import Store
from maintctl import cli

NOW = "2026-11-30T12:00:00Z"


def write_client(inv: Path) -> None:
    (inv / "acme" / "group_vars" / "all").mkdir(parents=True)
    (inv / "acme" / "hosts.yml").write_text(
        "all:\n  hosts:\n    srv01:\n      ansible_host: 127.0.0.1\n    srv02:\n      ansible_host: 127.0.0.2\n")
    (inv / "acme" / "group_vars" / "all" / "policy.yml").write_text(
        "maint_policy:\n  client_name: Acme SAS\n  timezone: Europe/Paris\n  windows: ['Mon-Fri 20:00-06:00']\n")


def nightly(store: Store, run_id: str, day: int, rows: list[tuple[str, str, str]], client: str = "acme") -> None:
    at = f"2026-11-{day:02d}T20:00:00Z"
    store.start_run({"run_id": run_id, "client": client, "areas": "hardware,backup", "started": at,
                     "kind": "scheduled"})
    results: list[dict[str, Any]] = [
        {"run_id": run_id, "client": client, "host": host, "check": check, "status": status,
         "summary": f"{check} is {status}", "started": at, "finished": at,
         "severity": "P2" if status == "critical" else None} for host, check, status in rows]
    with store.transaction() as db:
        ids = store.insert_results(db, results)
    supervision.ingest_run(store, client, results, ids, {})
    store.finish_run(run_id, "completed", 1, at)


@pytest.fixture()
def client(tmp_path: Path, maint_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    inv = tmp_path / "inventories"
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    monkeypatch.setenv("MAINT_TEST_NOW", NOW)
    write_client(inv)
    with Store() as store:
        nightly(store, "r1", 1, [("srv01", "hardware.smart", "ok"), ("srv01", "backup.job_age", "ok"),
                                 ("srv02", "hardware.smart", "ok")])
        nightly(store, "r2", 2, [("srv01", "hardware.smart", "ok"), ("srv01", "backup.job_age", "ok"),
                                 ("srv02", "hardware.smart", "ok")])
        nightly(store, "r3", 3, [("srv01", "hardware.smart", "critical"), ("srv01", "backup.job_age", "ok"),
                                 ("srv02", "hardware.smart", "ok")])
        nightly(store, "x1", 3, [("srv01", "hardware.smart", "critical")], client="other")
        alert = supervision.list_alerts(store, "acme")[0]["id"]
        interventions.add(store, "acme", "replaced the disk", "alice", alert_id=alert, minutes=60,
                          at="2026-11-04T09:00:00Z")
    return inv


def history(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert cli.main(["history", "--client", "acme", "--format", "json", *argv]) == 0
    events: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return events


def test_a_hosts_history_is_newest_first_with_transitions_only(client: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    events = history(capsys, "--host", "srv01")
    assert [(e["type"], e["kind"], e["check"], e["previous"], e["status"]) for e in events] == [
        ("intervention", "corrective", "hardware.smart", None, None),
        ("alert", "opened", "hardware.smart", None, "critical"),
        ("status", "scheduled", "hardware.smart", "ok", "critical"),
        ("run", "scheduled", None, None, "completed"),
        ("run", "scheduled", None, None, "completed"),
        ("status", "scheduled", "backup.job_age", None, "ok"),
        ("status", "scheduled", "hardware.smart", None, "ok"),
        ("run", "scheduled", None, None, "completed"),
    ]
    assert [e["at"] for e in events] == sorted((e["at"] for e in events), reverse=True)
    assert all(e["evidence"] for e in events)
    assert {e["host"] for e in events} == {"srv01"}


def test_check_glob_since_and_the_client_view(client: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hardware = history(capsys, "--host", "srv01", "--check", "hardware.*")
    assert {e["check"] for e in hardware if e["type"] != "run"} == {"hardware.smart"}
    backup = history(capsys, "--host", "srv01", "--check", "backup.*")
    assert [(e["type"], e["check"]) for e in backup if e["type"] != "run"] == [("status", "backup.job_age")]
    since = history(capsys, "--host", "srv01", "--since", "2026-11-03")
    assert [e["type"] for e in since] == ["intervention", "alert", "status", "run"], "ok -> ok on the 3rd is no event"
    every = history(capsys)
    assert {e["host"] for e in every if e["type"] != "run"} == {"srv01", "srv02"}
    assert [e["run_id"] for e in every if e["type"] == "run"] == ["r3", "r2", "r1"], "not the other client's"
    assert len(history(capsys, "--limit", "2")) == 2


def test_the_table_names_the_evidence(client: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["history", "--client", "acme", "--host", "srv01"]) == 0
    table = capsys.readouterr().out
    assert "ok -> critical" in table and "alert opened" in table and "corrective work" in table
    assert "intervention 1" in table and "run r3" in table
    with Store() as store:
        result = store.db.execute("SELECT id FROM results WHERE client='acme' AND host='srv01' AND"
                                  " status='critical'").fetchone()[0]
    assert f"result {result}" in table
    assert "2026-11-04 10:00 CET" in table, "times in the client's timezone"


def test_bad_input_exits_2_naming_the_option(client: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, option in ((["--host", "web99"], "--host"), (["--since", "soon"], "--since"),
                         (["--limit", "-1"], "--limit"),
                         (["--since", "2026-11-05", "--until", "2026-11-01"], "--until")):
        capsys.readouterr()
        assert cli.main(["history", "--client", "acme", *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert option in err and len(err.splitlines()) == 1, err
