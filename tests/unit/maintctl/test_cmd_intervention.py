"""``maintctl intervention add|list|show|edit|delete`` on a real store and a two-host client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maintcore import supervision
from maintcore.store import Store
from maintctl import cli

NOW = "2026-11-20T12:00:00Z"


def write_client(inv: Path) -> None:
    (inv / "acme" / "group_vars" / "all").mkdir(parents=True)
    (inv / "acme" / "hosts.yml").write_text(
        "all:\n  hosts:\n    srv01:\n      ansible_host: 127.0.0.1\n    srv02:\n      ansible_host: 127.0.0.2\n")
    (inv / "acme" / "group_vars" / "all" / "policy.yml").write_text(
        "maint_policy:\n  client_name: Acme SAS\n  timezone: Europe/Paris\n  windows: ['Mon-Fri 20:00-06:00']\n")


def critical(client: str, host: str, run_id: str) -> int:
    """Store one critical result (through the store and supervision) and return the alert it opened."""
    at = "2026-11-10T20:00:00Z"
    res: dict[str, Any] = {"run_id": run_id, "client": client, "host": host, "check": "hardware.smart",
                           "status": "critical", "summary": "SMART says the disk fails", "started": at,
                           "finished": at, "severity": "P2"}
    with Store() as store:
        store.start_run({"run_id": run_id, "client": client, "areas": "hardware", "started": at})
        with store.transaction() as db:
            ids = store.insert_results(db, [res])
        supervision.ingest_run(store, client, [res], ids, {})
        return int(supervision.list_alerts(store, client)[0]["id"])


@pytest.fixture()
def client(tmp_path: Path, maint_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    inv = tmp_path / "inventories"
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    monkeypatch.setenv("MAINT_TEST_NOW", NOW)
    write_client(inv)
    return inv


def out_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    capsys.readouterr()
    assert cli.main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_add_list_show_an_intervention_linked_to_the_alert(client: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alert = critical("acme", "srv01", "r1")
    assert cli.main(["intervention", "add", "--client", "acme", "--alert", str(alert), "--summary", "replaced sdb",
                     "--minutes", "45", "--at", "2026-11-11 09:30", "--as", "alice"]) == 0
    assert "intervention 1: corrective acme srv01" in capsys.readouterr().out
    rows = out_json(capsys, ["intervention", "list", "--client", "acme", "--format", "json"])
    assert [(r["id"], r["host"], r["kind"], r["minutes"], r["at"], r["who"], r["alert_id"]) for r in rows] == [
        (1, "srv01", "corrective", 45, "2026-11-11T08:30:00Z", "alice", alert)], "09:30 in Paris is 08:30 UTC"
    assert cli.main(["intervention", "list", "--client", "acme"]) == 0
    table = capsys.readouterr().out
    assert "replaced sdb" in table and f"alert {alert}" in table and "2026-11-11 09:30 CET" in table
    assert cli.main(["intervention", "show", "--client", "acme", "1"]) == 0
    assert f"answers alert {alert}" in capsys.readouterr().out


def test_bad_input_is_one_line_naming_the_option(client: Path, capsys: pytest.CaptureFixture[str]) -> None:
    theirs = critical("other", "db01", "o1")
    for argv, option in (
        (["--host", "web99"], "--host"),
        (["--alert", str(theirs)], "no such alert for client acme"),
        (["--minutes", "-5"], "--minutes"),
        (["--at", "last tuesday"], "--at"),
        (["--at", "+2h"], "--at"),
    ):
        capsys.readouterr()
        assert cli.main(["intervention", "add", "--client", "acme", "--summary", "x", *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert option in err and len(err.splitlines()) == 1, err
    with Store() as store:
        assert store.db.execute("SELECT COUNT(*) FROM interventions").fetchone()[0] == 0


def test_edit_records_who_and_when(client: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.main(["intervention", "add", "--client", "acme", "--host", "srv02", "--summary", "reboot",
                     "--minutes", "10", "--as", "alice"]) == 0
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-20T13:00:00Z")
    assert cli.main(["intervention", "edit", "--client", "acme", "1", "--minutes", "20", "--kind", "curative",
                     "--as", "bob"]) == 0
    rec = out_json(capsys, ["intervention", "show", "--client", "acme", "1", "--format", "json"])
    assert (rec["minutes"], rec["kind"], rec["edited_by"], rec["edited"]) == (20, "curative", "bob",
                                                                            "2026-11-20T13:00:00Z")
    assert [(e["field"], e["old_value"], e["new_value"]) for e in rec["edits"]] == [
        ("minutes", "10", "20"), ("kind", "corrective", "curative")]
    assert cli.main(["intervention", "show", "--client", "acme", "1"]) == 0
    assert "edited 2026-11-20 14:00 CET by bob: minutes 10 -> 20" in capsys.readouterr().out
    assert cli.main(["intervention", "edit", "--client", "acme", "1", "--host", "nowhere"]) == 2
    assert "--host" in capsys.readouterr().err


def test_delete_is_soft(client: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for summary in ("kept", "mistake"):
        assert cli.main(["intervention", "add", "--client", "acme", "--summary", summary, "--as", "alice"]) == 0
    assert cli.main(["intervention", "delete", "--client", "acme", "2", "--reason", "entered twice",
                     "--as", "bob"]) == 0
    assert [r["summary"] for r in out_json(capsys, ["intervention", "list", "--client", "acme",
                                                    "--format", "json"])] == ["kept"]
    every = out_json(capsys, ["intervention", "list", "--client", "acme", "--all", "--format", "json"])
    gone = [r for r in every if r["id"] == 2][0]
    assert (gone["deleted_by"], gone["deleted_reason"], gone["deleted"]) == ("bob", "entered twice", NOW)
    assert cli.main(["intervention", "delete", "--client", "acme", "2", "--reason", "again"]) == 2
    assert cli.main(["intervention", "show", "--client", "acme", "2"]) == 0
    assert "deleted: 2026-11-20 13:00 CET by bob: entered twice" in capsys.readouterr().out
