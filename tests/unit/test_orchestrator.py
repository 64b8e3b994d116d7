"""Orchestrator pieces that need no lab: areas, exit codes, locks, results loading."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from maintctl import cli, orchestrator
from maintctl.errors import InvalidInput, LockHeld
from maintctl.store import Store


def _res(check: str, status: str, **kw: object) -> dict:
    base = {"client": "c", "host": "h", "run_id": "r", "check": check, "item": "", "status": status,
            "summary": "s", "observed": {}, "threshold": {}, "remediation": "", "changed": False,
            "started": "2026-11-01T00:00:00Z", "finished": "2026-11-01T00:00:00Z"}
    base.update(kw)
    return base


def test_parse_areas() -> None:
    assert orchestrator.parse_areas(None) == ["hardware", "antivirus", "backup", "patch"]
    assert orchestrator.parse_areas("patch,hardware") == ["hardware", "patch"]
    with pytest.raises(InvalidInput, match="unknown area dns"):
        orchestrator.parse_areas("hardware,dns")


@pytest.mark.parametrize(
    ("status", "results", "rc", "code"),
    [
        ("successful", [_res("hardware.disk_free", "ok")], 0, 0),
        ("successful", [_res("hardware.disk_free", "warning")], 0, 0),
        ("successful", [_res("hardware.disk_free", "critical")], 0, 1),
        ("failed", [_res("run.reachability", "critical")], 4, 1),
        ("failed", [_res("run.task_failed", "unknown")], 2, 1),
        ("canceled", [_res("hardware.disk_free", "ok")], 1, 3),
        ("successful", [_res("patch.deferred", "warning")], 0, 3),
        ("failed", [], 1, 1),
    ],
)
def test_exit_codes(status: str, results: list, rc: int, code: int) -> None:
    assert orchestrator.exit_code_for(status, results, rc) == code


def test_lock_prevents_a_second_run(maint_home: Path) -> None:
    with orchestrator.client_lock("acme"), pytest.raises(LockHeld, match="locked by pid"), \
            orchestrator.client_lock("acme"):
        pass
    with orchestrator.client_lock("acme"):  # released
        pass


def test_read_results_tolerates_a_line_cut_by_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(_res("a.b", "ok")) + "\n" + '{"check": "a.c", "sta')
    assert [r["check"] for r in orchestrator.read_results(path)] == ["a.b"]


def test_finalize_applies_severity_and_test_clock_offset() -> None:
    pol = {"sla": {"rules": [{"check": "*", "status": "critical", "severity": "P2"}]}}
    out = orchestrator.finalize_results([_res("a.b", "critical")], pol, dt.timedelta(days=-30))
    assert out[0]["severity"] == "P2"
    assert out[0]["finished"] == "2026-10-02T00:00:00Z"


def test_store_round_trip(maint_home: Path) -> None:
    with Store() as store:
        store.start_run({"run_id": "r", "client": "c", "areas": "hardware", "started": "2026-11-01T00:00:00Z"})
        store.add_results([_res("hardware.disk_free", "critical", severity="P2", observed={"free_pct": 3})])
        store.finish_run("r", "completed", 1, "2026-11-01T00:01:00Z")
        (res,) = store.results("c", run_id="r")
        assert (res["check"], res["area"], res["severity"], res["observed"]) == (
            "hardware.disk_free", "hardware", "P2", {"free_pct": 3})
        assert store.run("r")["exit_code"] == 1
    assert oct((maint_home / "store.db").stat().st_mode & 0o777) == "0o600"


def test_run_rejects_bad_input_with_exit_2(maint_home: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "vault").mkdir()
    (tmp_path / "vault" / "demo.pass").write_text((root / "lab" / "demo-vault-password.txt").read_text())
    assert cli.main(["run", "--client", "nope"]) == 2
    assert "unknown client 'nope'" in capsys.readouterr().err
    assert cli.main(["run", "--client", "demo", "--only", "dns"]) == 2
    assert cli.main(["run", "--client", "demo", "--limit", "no-such-host"]) == 2
    assert "no hosts match --limit 'no-such-host'" in capsys.readouterr().err
    assert not (maint_home / "runs").exists()
    (tmp_path / "vault" / "demo.pass").unlink()
    assert cli.main(["run", "--client", "demo"]) == 2
    assert "vault password file" in capsys.readouterr().err


def test_role_vars_accept_role_inputs_only() -> None:
    assert orchestrator.parse_role_vars(["backup_restore_test_seed=42"]) == {"backup_restore_test_seed": "42"}
    for bad in ["maint_client=other", "ansible_host=1.2.3.4", "patch_x", "patch_install=true"]:
        with pytest.raises(InvalidInput, match="role input"):
            orchestrator.parse_role_vars([bad])


def test_a_run_killed_with_sigkill_is_recovered_into_the_store(maint_home: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text(json.dumps(_res("hardware.disk_free", "critical", run_id="dead")) + "\n")
    pol = {"sla": {"rules": [{"check": "*", "status": "critical", "severity": "P2"}]}}
    with Store() as store:
        store.start_run({"run_id": "dead", "client": "c", "areas": "hardware", "started": "2026-11-01T00:00:00Z",
                         "run_dir": str(run_dir)})
        assert orchestrator.recover_stale_runs(store, "c", pol) == ["dead"]
        run = store.run("dead")
        assert run is not None and (run["status"], run["exit_code"]) == ("interrupted", 3)
        (res,) = store.results("c", run_id="dead")
        assert res["severity"] == "P2"
        assert orchestrator.recover_stale_runs(store, "c", pol) == []
