"""Random backup-restore tests on the real lab, through `maintctl run --client demo --only backup`.

lab/setup_backup.yml lays down on files01 a source of about 300 files, healthy restic and
borg repositories and a plain copy, a stale restic repository (snapshot back-dated 10 days),
a damaged restic pack and a damaged borg segment, and "docs/changed after backup.txt"
modified after every backup. The demo policy adds a source whose vault password is wrong.
Replays use `maintctl run --var backup_seed=... --var backup_only=[...]`.
"""

from __future__ import annotations

import itertools
import json
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from maint_utils import backup_collect as bc
from maintcore.config import maint_home
from tests.conftest import assert_valid_results
from tests.integration.conftest import run_group

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HEALTHY = ("files01-restic", "files01-borg", "files01-copy")
SOURCE = "/srv/backup-src"
CHANGED = "docs/changed after backup.txt"
VAULT_PASS = ROOT / "lab" / "demo-vault-password.txt"


def _maintctl(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return run_group([str(BIN / "maintctl"), *args], timeout=timeout)


def _ssh(*argv: str) -> str:
    lab = maint_home() / "lab" / "ssh"
    proc = subprocess.run(
        ["ssh", "-i", str(lab / "id_ed25519"), "-o", f"UserKnownHostsFile={lab / 'known_hosts'}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "maint@198.51.100.13", shlex.join(argv)],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _vault_passwords() -> list[str]:
    proc = subprocess.run(
        [str(BIN / "ansible-vault"), "view", "--vault-password-file", str(VAULT_PASS),
         str(ROOT / "inventories/demo/group_vars/all/vault.yml")],
        capture_output=True, text=True, check=True)
    data = yaml.safe_load(proc.stdout)
    secrets = [str(v) for k, v in data.items() if k.startswith("vault_backup_")]
    assert len(secrets) == 3
    return secrets


def _playbook(tmp_path: Path, name: str, seed: str, only: list[str]) -> list[dict[str, Any]]:
    """Replay a sample on files01 through maintctl, with the role inputs a technician would set."""
    proc = _maintctl("run", "--client", "demo", "--only", "backup", "--limit", "files01",
                     "--var", f"backup_seed={seed}",
                     "--var", f"backup_only={json.dumps(only)}")
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    run_id = next(line.split()[1].rstrip(":") for line in proc.stdout.splitlines()
                  if line.startswith("run ") and ":" in line)
    results = maint_home() / "runs" / "demo" / run_id / "results.jsonl"
    return [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]


def _get(records: list[dict[str, Any]], item: str, check: str) -> dict[str, Any]:
    found = [r for r in records if r["item"] == item and r["check"] == check]
    assert len(found) == 1, (item, check, found)
    return found[0]


def _scratch_leftovers() -> str:
    return _ssh("sudo", "find", "/var/tmp/maint-restore", "-mindepth", "1")


@pytest.fixture(scope="module")
def backup_run() -> dict[str, Any]:
    """Reset the backup fixtures, run the backup area once, return the run's folder and results."""
    setup = _maintctl("lab", "up", "--only", "backup")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    proc = _maintctl("run", "--client", "demo", "--only", "backup")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # stale, corrupt and wrong-password sources
    run_id = next(line.split()[1].rstrip(":") for line in proc.stdout.splitlines()
                  if line.startswith("run ") and ":" in line)
    run_dir = maint_home() / "runs" / "demo" / run_id
    results = [json.loads(line) for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    return {"run_id": run_id, "dir": run_dir, "results": results, "stdout": proc.stdout}


def test_results_validate(backup_run: dict[str, Any]) -> None:
    results = backup_run["results"]
    assert_valid_results(results)
    backup = [r for r in results if r["check"].startswith("backup.")]
    assert {r["host"] for r in backup} == {"files01"}
    assert len(backup) == 3 * 7
    assert not [r for r in results if r["check"] in ("run.task_failed", "run.invalid_result")]


@pytest.mark.parametrize("item", HEALTHY)
def test_healthy_sources_pass_with_evidence(backup_run: dict[str, Any], item: str) -> None:
    results = backup_run["results"]
    assert _get(results, item, "backup.freshness")["status"] == "ok"
    sample = _get(results, item, "backup.restore_sample")
    assert sample["status"] == "ok", sample["summary"]
    obs = sample["observed"]
    assert len(obs["seed"]) == 16
    assert obs["files_sampled"] == 5 and obs["files_restored"] == 5 and obs["files_missing"] == 0
    assert obs["listed_files"] == 302
    assert obs["sha256_verified"] >= 4  # all but, at most, the file changed since the backup
    assert obs["restore_seconds"] > 0 or item == "files01-copy"
    assert obs["bytes"] == sum(f["size"] for f in obs["files"]) and obs["bytes"] > 0
    assert all(len(f["sha256"]) == 64 and f["path"] for f in obs["files"])
    assert f"seed {obs['seed']}" in sample["summary"]
    integrity = _get(results, item, "backup.integrity")
    assert integrity["status"] == ("skipped" if item == "files01-copy" else "ok"), integrity["summary"]


def test_stale_source_is_critical_on_freshness(backup_run: dict[str, Any]) -> None:
    fresh = _get(backup_run["results"], "files01-restic-stale", "backup.freshness")
    assert fresh["status"] == "critical"
    assert 239 < fresh["observed"]["age_hours"] < 253
    assert fresh["threshold"]["rpo_hours"] == 26


@pytest.mark.parametrize("item", ["files01-restic-corrupt", "files01-borg-corrupt"])
def test_corrupt_repository_is_never_ok(backup_run: dict[str, Any], item: str) -> None:
    sample = _get(backup_run["results"], item, "backup.restore_sample")
    integrity = _get(backup_run["results"], item, "backup.integrity")
    assert integrity["status"] == "critical", integrity["summary"]
    assert integrity["observed"]["errors"]
    assert sample["status"] in ("ok", "critical")  # ok only when the sample missed the damage
    assert "critical" in (sample["status"], integrity["status"])


def test_wrong_password_is_a_clear_critical(backup_run: dict[str, Any]) -> None:
    fresh = _get(backup_run["results"], "files01-restic-wrong-password", "backup.freshness")
    sample = _get(backup_run["results"], "files01-restic-wrong-password", "backup.restore_sample")
    assert fresh["status"] == "critical" and sample["status"] == "critical"
    assert "wrong password" in fresh["summary"] and "wrong password" in sample["summary"]
    assert "CRITICAL" in backup_run["stdout"] and "wrong password" in backup_run["stdout"]


def test_no_password_in_any_artifact_or_the_store(backup_run: dict[str, Any]) -> None:
    secrets = [s.encode() for s in _vault_passwords()]
    files = [p for p in backup_run["dir"].rglob("*") if p.is_file()]
    assert len(files) > 3  # results.jsonl, run.json and ansible-runner's artifacts
    store = [p for p in maint_home().glob("store.db*") if p.is_file()]
    assert store
    for path in files + store:
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, f"a vault password is in {path}"


def test_results_reach_the_store_with_severity(backup_run: dict[str, Any]) -> None:
    with sqlite3.connect(maint_home() / "store.db") as db:
        rows = db.execute("SELECT item, status, severity FROM results WHERE run_id = ? AND area = 'backup'",
                          (backup_run["run_id"],)).fetchall()
    assert len(rows) == 21
    assert {sev for _, status, sev in rows if status == "critical"} == {"P1"}  # the demo SLA: backup.* -> P1


def test_scratch_is_gone_after_success_and_failure(backup_run: dict[str, Any]) -> None:
    # The run had passing sources and failing ones (corrupt, wrong password).
    assert _scratch_leftovers() == ""
    assert _ssh("sudo", "stat", "-c", "%a %U", "/var/tmp/maint-restore").split() == ["700", "root"]


def test_repositories_are_not_written(backup_run: dict[str, Any], tmp_path: Path) -> None:
    script = ("set -o pipefail; find /srv/backup/restic /srv/backup/borg -type f ! -name '*lock*' -print0"
              " | sort -z | xargs -0 sha256sum")
    before = _ssh("sudo", "bash", "-c", script)
    _playbook(tmp_path, "readonly", "readonly-seed", ["files01-restic", "files01-borg"])
    assert _ssh("sudo", "bash", "-c", script) == before


def test_replaying_a_seed_restores_the_same_files(backup_run: dict[str, Any], tmp_path: Path) -> None:
    first = _get(backup_run["results"], "files01-restic", "backup.restore_sample")["observed"]
    replay = _playbook(tmp_path, "replay", first["seed"], ["files01-restic"])
    again = _get(replay, "files01-restic", "backup.restore_sample")["observed"]
    assert again["seed"] == first["seed"]
    assert [f["path"] for f in again["files"]] == [f["path"] for f in first["files"]]
    assert [f["sha256"] for f in again["files"]] == [f["sha256"] for f in first["files"]]
    assert {r["item"] for r in replay if r["check"].startswith("backup.")} == {"files01-restic"}


def _listing() -> list[tuple[str, int]]:
    out = _ssh("sudo", "find", SOURCE, "-type", "f", "-printf", "%s %p\n")
    return [(line.split(" ", 1)[1], int(line.split(" ", 1)[0])) for line in out.splitlines()]


def _seed_that_picks(paths_by_source: dict[str, list[str]], wanted: dict[str, str]) -> str:
    for n in itertools.count():
        seed = f"changed-{n}"
        if all(wanted[name] in bc.pick_sample(paths, 5, seed) for name, paths in paths_by_source.items()):
            return seed
        assert n < 200_000
    raise AssertionError("unreachable")


def test_file_changed_after_the_snapshot_is_not_a_failure(backup_run: dict[str, Any], tmp_path: Path) -> None:
    listing = [p for p, _ in _listing()]
    assert f"{SOURCE}/{CHANGED}" in listing
    rel = [p[len(SOURCE) + 1:] for p in listing]
    paths = {"files01-restic": listing, "files01-copy": rel}
    wanted = {"files01-restic": f"{SOURCE}/{CHANGED}", "files01-copy": CHANGED}
    seed = _seed_that_picks(paths, wanted)
    results = _playbook(tmp_path, "changed", seed, list(paths))
    borg_seed = _seed_that_picks({"files01-borg": [p.lstrip("/") for p in listing]},
                                 {"files01-borg": f"{SOURCE}/{CHANGED}".lstrip("/")})
    results += _playbook(tmp_path, "changed-borg", borg_seed, ["files01-borg"])
    for item, path in (("files01-restic", wanted["files01-restic"]), ("files01-copy", CHANGED),
                       ("files01-borg", f"{SOURCE}/{CHANGED}".lstrip("/"))):
        sample = _get(results, item, "backup.restore_sample")
        assert sample["status"] == "ok", sample["summary"]
        [entry] = [f for f in sample["observed"]["files"] if f["path"] == path]
        assert entry["status"] == "changed_since_backup", entry
        assert entry["note"] == "the live file changed after the backup"
        assert sample["observed"]["changed_since_backup"] == 1
        assert "1 changed since backup" in sample["summary"]
    assert _scratch_leftovers() == ""
