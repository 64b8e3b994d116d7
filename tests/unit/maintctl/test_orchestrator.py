"""Orchestrator pieces that need no lab: areas, exit codes, locks, results loading."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from maintcore.errors import InvalidInput, LockHeld
from maintcore.store import Store
from maintctl import cli, orchestrator


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


def test_run_rejects_bad_input_with_exit_2(maint_home: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[3]
    (tmp_path / "vault").mkdir()
    (tmp_path / "vault" / "demo.pass").write_text((root / "lab" / "demo-vault-password.txt").read_text())
    (tmp_path / "vault" / "demo.pass").chmod(0o600)
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
    assert orchestrator.parse_role_vars(["backup_seed=42"]) == {"backup_seed": "42"}
    for bad in ["maint_client=other", "ansible_host=1.2.3.4", "patch_x", "patch_install=true"]:
        with pytest.raises(InvalidInput, match="role input"):
            orchestrator.parse_role_vars([bad])


@pytest.mark.parametrize("bad", [
    "patch_window_end=2099-01-01T00:00:00Z",      # the window guard
    "patch_window_min_remaining=0",
    "patch_policy={mode: all}",                   # the whole (validated) policy section
    "hardware_policy={disk_crit_free_pct: 0}",
    "patch_reboot_command=/bin/sh -c 'rm -rf /'",  # a command run on the hosts
    "patch_boot_time_command=id",
    "patch_serial=100%",                          # a play keyword, not a role input
    "backup_made_up=1",              # prefixed but undocumented
])
def test_role_vars_refuse_guards_policies_commands_and_undocumented_names(bad: str) -> None:
    with pytest.raises(InvalidInput, match="role input") as err:
        orchestrator.parse_role_vars([bad])
    assert "\n" not in str(err.value)


def test_role_vars_are_the_documented_inputs() -> None:
    allowed = orchestrator.settable_role_vars()
    assert {"backup_seed", "backup_only", "hardware_smartctl_timeout",
            "patch_reboot_timeout"} <= allowed
    assert not allowed & {"patch_window_end", "patch_policy", "patch_reboot_command", "patch_install"}
    assert orchestrator.parse_role_vars(["backup_only=[files01-restic]"]) == {
        "backup_only": ["files01-restic"]}
    with pytest.raises(InvalidInput, match="invalid YAML"):
        orchestrator.parse_role_vars(["backup_only=[a, b"])


def test_every_run_checks_host_keys_and_uses_the_controllers_own_ansible(maint_home: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # ansible-runner sets ANSIBLE_HOST_KEY_CHECKING=False unless the caller sets it.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    env = orchestrator.run_env(orchestrator.RunRequest(client="demo"), "r1", maint_home)
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    first = Path(env["PATH"].split(":")[0])
    assert (first / "ansible-playbook").is_file() and first == Path(sys.executable).parent


def test_a_playbook_that_never_starts_is_exit_2_and_not_a_run(maint_home: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[3]
    vault = tmp_path / "vault"
    vault.mkdir(mode=0o700)
    (vault / "demo.pass").write_text((root / "lab" / "demo-vault-password.txt").read_text())
    (vault / "demo.pass").chmod(0o600)
    # A stand-in for an ansible-playbook that cannot start (a broken install): a real process,
    # run by the real ansible-runner.
    fake = tmp_path / "bin" / "ansible-playbook"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'ERROR! Unexpected Exception, this is probably a bug: broken install' >&2\n"
                    "exit 250\n")
    fake.chmod(0o755)
    real = orchestrator.controller_tool
    monkeypatch.setattr(orchestrator, "controller_tool",
                        lambda name: str(fake) if name == "ansible-playbook" else real(name))
    assert cli.main(["run", "--client", "demo", "--only", "hardware", "--check", "--limit", "web01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did not start" in err[0] and "broken install" in err[0], err
    with Store() as store:
        assert store.runs("demo") == []
    assert not any((maint_home / "runs" / "demo").iterdir())


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
