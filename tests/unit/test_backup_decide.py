"""Decide code of the backup restore test (plugins/module_utils/backup_decide.py)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from maint_utils import backup_decide as bd

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "backup" / "windows"
RESULT_SCHEMA = json.loads((ROOT / "schemas" / "check_result.schema.json").read_text(encoding="utf-8"))
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z

# Messages recorded from restic 0.14.0 and borg 1.2.4 on Debian 12 (this project's lab).
RESTIC_WRONG_PW = "Fatal: wrong password or no key found\n"
RESTIC_NO_REPO = ("Fatal: unable to open config file: stat /nonexist/config: no such file or directory\n"
                  "Is there a repository at the following location?\n/nonexist\n")
BORG_WRONG_PW = "passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect.\n"
BORG_NO_REPO = "Repository /nonexist does not exist.\n"
RESTIC_CHECK_CORRUPT = (
    "using temporary cache in /tmp/restic-check-cache-1868948443\nload indexes\ncheck all packs\n"
    "check snapshots, trees and blobs\n[0:00] 100.00%  2 / 2 snapshots\n\nread 100.0% of data packs\n"
    "Pack ID does not match, want 0997b50b90c45cca8c4ef355fb85e981cbf2401e2446e3139c158a4d9af4b956, "
    "got 3c57ecbabe226aedd3d87557992afc18fd32a981784e93a2b834d31dc79278e3\n"
    "[0:00] 100.00%  3 / 3 packs\n\nFatal: repository contains errors\n"
)


def validate_shape(result: dict[str, Any]) -> None:
    jsonschema.validate({**result, "client": "c", "host": "h", "run_id": "r"}, RESULT_SCHEMA)


def source(**over: Any) -> dict[str, Any]:
    src = {"name": "srv-restic", "host": "srv01", "type": "restic", "repository": "/backup/restic",
           "source": "/srv/data", "password_var": "vault_pw"}
    src.update(over)
    return src


# -- policy -------------------------------------------------------------------
def test_demo_policy_is_valid() -> None:
    data = yaml.safe_load((ROOT / "inventories/demo/group_vars/all/policy.yml").read_text(encoding="utf-8"))
    assert bd.validate_policy(data["maint_policy"]["backup"]) == []


def test_empty_and_missing_sections_are_valid() -> None:
    assert bd.validate_policy(None) == []
    assert bd.validate_policy({}) == []


@pytest.mark.parametrize("root, words", [
    ("/tmp/restore", "outside /var/tmp/maint-restore"),
    ("/var/tmp/maint-restore-evil", "outside /var/tmp/maint-restore"),
    ("/var/tmp/maint-restore/../../etc", "'..'"),
    ("var/tmp/maint-restore", "not an absolute path"),
    ("/", "outside"),
])
def test_scratch_root_outside_the_base_is_rejected(root: str, words: str) -> None:
    errors = bd.validate_policy({"sources": [source(scratch_root=root)]})
    assert len(errors) == 1
    assert errors[0].startswith("maint_policy.backup.sources[0].scratch_root: ")
    assert words in errors[0]


def test_section_scratch_root_is_checked_once() -> None:
    errors = bd.validate_policy({"scratch_root": "/home/x", "sources": [source(), source(name="b")]})
    assert errors == ["maint_policy.backup.scratch_root: /home/x is outside /var/tmp/maint-restore"]


def test_scratch_root_inside_the_base_is_accepted() -> None:
    assert bd.validate_policy({"sources": [source(scratch_root="/var/tmp/maint-restore/srv01")]}) == []


def test_scratch_root_overlapping_the_source_is_rejected() -> None:
    errors = bd.validate_policy({"sources": [source(source="/var/tmp")]})
    assert errors == ["maint_policy.backup.sources[0].scratch_root (inherited): "
                      "/var/tmp/maint-restore overlaps the source path /var/tmp"]
    errors = bd.validate_policy({"sources": [source(repository="/var/tmp/maint-restore/repo")]})
    assert "overlaps the repository path" in errors[0]


def test_remote_repository_cannot_overlap() -> None:
    assert bd.validate_policy({"sources": [source(repository="sftp:backup@nas:/restic")]}) == []


def test_windows_scratch_root() -> None:
    ok = source(windows=True, source="C:\\Users\\Public")
    assert bd.validate_policy({"sources": [ok]}) == []
    bad = source(windows=True, source="C:\\Users\\Public", scratch_root="C:\\Temp\\x")
    assert "outside C:\\ProgramData\\maint-restore" in bd.validate_policy({"sources": [bad]})[0]
    dots = source(windows=True, scratch_root="C:\\ProgramData\\maint-restore\\..\\x")
    assert "'..'" in bd.validate_policy({"sources": [dots]})[0]


@pytest.mark.parametrize("src, words", [
    (source(type="tar"), "type: 'tar' must be one of restic, borg, copy"),
    (source(password_var=None), "needs password_var or password_file"),
    (source(password_file="/etc/pw"), "not both"),
    (source(type="copy", password_var="x"), "takes no password"),
    (source(sample_size=0), "sample_size: 0 must be a number from 1 to 1000"),
    (source(integrity={"read_data_subset_pct": 150}), "read_data_subset_pct: 150"),
    (source(name="bad name"), "name: 'bad name'"),
    (source(colour="red"), "unknown key(s) colour"),
    (source(type="borg", windows=True), "only restic sources"),
])
def test_semantic_errors(src: dict[str, Any], words: str) -> None:
    errors = bd.validate_policy({"sources": [src]})
    assert any(words in e for e in errors), errors


def test_duplicate_names_are_rejected() -> None:
    errors = bd.validate_policy({"sources": [source(), source()]})
    assert errors == ["maint_policy.backup.sources[1].name: 'srv-restic' is used by another source"]


def test_sources_for_host_merges_defaults() -> None:
    section = {"sample_size": 7, "integrity": {"read_data_subset_pct": 20},
               "sources": [source(), source(name="other", host="srv02"), source(name="b", rpo_hours=48)]}
    got = bd.sources_for_host(section, "srv01")
    assert [s["name"] for s in got] == ["srv-restic", "b"]
    assert got[0]["sample_size"] == 7 and got[0]["rpo_hours"] == 26
    assert got[0]["integrity"] == {"enabled": True, "read_data_subset_pct": 20, "verify_data": False}
    assert got[0]["scratch_root"] == bd.SCRATCH_BASE and got[0]["index"] == 0
    assert got[1]["rpo_hours"] == 48 and got[1]["index"] == 2
    assert [s["name"] for s in bd.sources_for_host(section, "srv01", ["b"])] == ["b"]
    win = bd.sources_for_host({"sources": [source(windows=True)]}, "srv01")[0]
    assert win["scratch_root"] == bd.SCRATCH_BASE_WINDOWS


# -- sampling -----------------------------------------------------------------
PATHS = [f"/srv/data/f{i:03d}.txt" for i in range(300)]


def test_sample_is_replayable_and_order_independent() -> None:
    first = bd.pick_sample(PATHS, 5, "seed-1")
    assert len(first) == 5 and len(set(first)) == 5
    assert bd.pick_sample(PATHS, 5, "seed-1") == first
    assert bd.pick_sample(list(reversed(PATHS)), 5, "seed-1") == first
    assert bd.pick_sample(PATHS, 5, "seed-2") != first


def test_sample_is_the_lowest_keys() -> None:
    expected = sorted(PATHS, key=lambda p: bd.sample_key("s", p))[:7]
    assert bd.pick_sample(PATHS, 7, "s") == expected
    # The key is SHA-256 of seed, newline, path (what the PowerShell collector computes).
    assert bd.sample_key("s", "/a") == hashlib.sha256(b"s\n/a").hexdigest()
    assert bd.sample_key("s", "/é") == hashlib.sha256("s\n/é".encode()).hexdigest()


def test_sample_smaller_listing_and_zero() -> None:
    assert sorted(bd.pick_sample(PATHS[:3], 5, "s")) == PATHS[:3]
    assert bd.pick_sample(PATHS, 0, "s") == []


def test_sample_mostly_survives_a_new_snapshot() -> None:
    before = bd.pick_sample(PATHS, 5, "s")
    after = bd.pick_sample([p for p in PATHS if p != before[0]] + ["/srv/data/new.txt"], 5, "s")
    assert len(set(before) & set(after)) >= 4


def test_sample_heap_counts_everything() -> None:
    heap = bd.SampleHeap(2, "s")
    for i, path in enumerate(PATHS[:10]):
        heap.add(path, {"size": i})
    assert heap.count == 10 and heap.bytes == 45
    assert [p for p, _ in heap.result()] == bd.pick_sample(PATHS[:10], 2, "s")



def test_sample_heap_counts_but_never_samples_files_too_big_to_hash() -> None:
    heap = bd.SampleHeap(10, "s", max_bytes=5)
    for i, path in enumerate(PATHS[:10]):
        heap.add(path, {"size": i})
    assert heap.count == 10 and heap.bytes == 45
    assert sorted(e["size"] for _, e in heap.result()) == [0, 1, 2, 3, 4, 5]
    for raw in ("garbage\n", "\n", "42\n"):
        heap.unreadable(raw)
    assert heap.garbage == 2

# -- paths, errors, times -------------------------------------------------------
@pytest.mark.parametrize("path, windows, pattern", [
    ("/srv/data/plain.txt", False, "/srv/data/plain.txt"),
    ("/srv/data/a [1]*?.txt", False, "/srv/data/a \\[1]\\*\\?.txt"),
    ("/srv/back\\slash", False, "/srv/back\\\\slash"),
    ("/C/Users/a [1]*.txt", True, "/C/Users/a [[]1][*].txt"),
])
def test_restic_include_pattern(path: str, windows: bool, pattern: str) -> None:
    assert bd.restic_include_pattern(path, windows) == pattern


@pytest.mark.parametrize("snap, src, live", [
    ("/srv/data/x/y.txt", "/srv/data", "/srv/data/x/y.txt"),      # restic, absolute backup
    ("/data/x/y.txt", "/srv/data", "/srv/data/x/y.txt"),          # restic, relative backup
    ("srv/data/x/y.txt", "/srv/data", "/srv/data/x/y.txt"),       # borg
    ("data/x/y.txt", "/srv/data/", "/srv/data/x/y.txt"),          # borg, relative backup
    ("/etc/shadow", "/srv/data", None),                           # never outside the source
    ("/srv/data/../../etc/shadow", "/srv/data", None),
    ("/srv/database/x", "/srv/data", None),
])
def test_live_path(snap: str, src: str, live: str | None) -> None:
    assert bd.live_path(snap, src) == live


def test_redact_location() -> None:
    assert bd.redact_location("rest:https://user:s3cret@nas:8000/repo") == "rest:https://***@nas:8000/repo"
    assert bd.redact_location("/srv/backup/restic") == "/srv/backup/restic"


@pytest.mark.parametrize("text, kind", [
    (RESTIC_WRONG_PW, "wrong_password"),
    (BORG_WRONG_PW, "wrong_password"),
    (RESTIC_NO_REPO, "repository_missing"),
    (BORG_NO_REPO, "repository_missing"),
    ("Failed to create/acquire the lock /b/lock.exclusive (timeout).", "locked"),
    ("Fatal: unable to create lock in backend: repository is already locked by PID 4", "locked"),
    ("Enter passphrase for key /backup/borg: ", "password_missing"),
    ("something odd", "other"),
])
def test_classify_error(text: str, kind: str) -> None:
    assert bd.classify_error(text) == kind


def test_error_lines_skip_progress() -> None:
    lines = bd.error_lines(RESTIC_CHECK_CORRUPT)
    assert lines[0].startswith("Pack ID does not match")
    assert lines[-1] == "Fatal: repository contains errors"


@pytest.mark.parametrize("text, epoch", [
    ("2026-11-22T21:17:27.680309018Z", 1795382247.680309),
    ("2026-11-22T22:17:27+01:00", 1795382247.0),
    ("2026-11-22T21:17:27.123", 1795382247.123),
    (1795382247, 1795382247.0),
    ("garbage", None),
    (None, None),
])
def test_parse_time(text: Any, epoch: float | None) -> None:
    got = bd.parse_time(text)
    assert (got is None) if epoch is None else got == pytest.approx(epoch)


def test_parse_time_naive_offset() -> None:
    assert bd.parse_time("2026-11-22T22:17:27", naive_offset_seconds=3600) == 1795382247.0


# -- decide ---------------------------------------------------------------------
SNAP_TIME = NOW - 5 * 3600
OLD = SNAP_TIME - 86400


def facts(kind: str = "restic", **over: Any) -> dict[str, Any]:
    cfg = bd.sources_for_host({"sources": [source(type=kind) if kind != "copy" else
                                           source(type="copy", password_var=None)]}, "srv01")[0]
    entries = []
    for i in range(3):
        sha = f"{i + 1:064x}"
        entries.append({"path": f"/srv/data/f{i}", "size": 100 + i, "mtime": OLD, "restored": True,
                        "restored_size": 100 + i, "restored_sha256": sha,
                        "sha256": sha if kind == "borg" else None,
                        "live": {"exists": True, "path": f"/srv/data/f{i}", "size": 100 + i, "mtime": OLD,
                                 "sha256": sha}})
    out = {"config": cfg, "seed": "abc123", "error": None,
           "snapshot": {"id": "deadbeef", "time": SNAP_TIME}, "snapshot_count": 4,
           "listing": {"files": 300, "bytes": 10**7}, "sample": entries,
           "restore": {"seconds": 0.5, "bytes": 303, "rc": 0, "tool_verified": kind == "restic",
                       "scratch_removed": True},
           "integrity": {"ran": True, "command": "restic check --no-lock", "rc": 0, "errors": []}}
    out.update(over)
    return out


def by_check(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for res in results:
        validate_shape(res)
    return {r["check"]: r for r in results}


@pytest.mark.parametrize("kind", ["restic", "borg", "copy"])
def test_healthy_source(kind: str) -> None:
    got = by_check(bd.decide(facts(kind), NOW))
    assert got["backup.freshness"]["status"] == "ok"
    assert got["backup.freshness"]["observed"]["age_hours"] == 5.0
    sample = got["backup.restore_sample"]
    assert sample["status"] == "ok", sample["summary"]
    obs = sample["observed"]
    assert obs["seed"] == "abc123" and obs["files_restored"] == 3 and obs["sha256_verified"] == 3
    assert obs["restore_seconds"] == 0.5 and obs["bytes"] == 303 and obs["throughput_bytes_per_s"] == 606
    assert [f["status"] for f in obs["files"]] == ["verified"] * 3
    assert "seed abc123" in sample["summary"]
    assert got["backup.integrity"]["status"] == ("skipped" if kind == "copy" else "ok")


def test_stale_snapshot_is_critical() -> None:
    got = by_check(bd.decide(facts(snapshot={"id": "x", "time": NOW - 240 * 3600}), NOW))
    assert got["backup.freshness"]["status"] == "critical"
    assert "over the RPO of 26 h" in got["backup.freshness"]["summary"]


def test_future_snapshot_is_a_warning() -> None:
    got = by_check(bd.decide(facts(snapshot={"id": "x", "time": NOW + 7200}), NOW))
    assert got["backup.freshness"]["status"] == "warning"


def test_no_snapshot_is_critical() -> None:
    got = by_check(bd.decide(facts(snapshot=None, snapshot_count=0, sample=[], restore={},
                                   integrity={"ran": True, "rc": 0, "command": "restic check"}), NOW))
    assert got["backup.freshness"]["status"] == "critical"
    assert "no snapshot at all" in got["backup.freshness"]["summary"]
    assert got["backup.restore_sample"]["status"] == "critical"
    assert "0 files restored" in got["backup.restore_sample"]["summary"]


def test_zero_files_restored_is_critical() -> None:
    f = facts()
    for e in f["sample"]:
        e.update(restored=False)
        e.pop("restored_size"), e.pop("restored_sha256")
    f["restore"].update(rc=0, tool_verified=False, error=None)
    got = by_check(bd.decide(f, NOW))
    assert got["backup.restore_sample"]["status"] == "critical"
    assert "0 of 3 sampled files restored" in got["backup.restore_sample"]["summary"]


def test_one_missing_file_is_critical() -> None:
    f = facts()
    f["sample"][1].update(restored=False)
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "critical" and got["observed"]["files_missing"] == 1
    assert got["observed"]["files"][1]["status"] == "missing"


def test_checksum_mismatch_against_snapshot_metadata_is_critical() -> None:
    f = facts("borg")
    f["sample"][0]["restored_sha256"] = "f" * 64
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "critical" and got["observed"]["mismatches"] == 1
    assert got["observed"]["files"][0]["status"] == "checksum_mismatch"


def test_mismatch_with_an_unchanged_live_file_is_critical() -> None:
    f = facts("restic")
    f["sample"][2]["live"]["sha256"] = "e" * 64  # live file older than the snapshot, yet different
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "critical"
    assert got["observed"]["files"][2]["status"] == "checksum_mismatch"


def test_size_mismatch_is_critical() -> None:
    f = facts("restic")
    f["sample"][0]["restored_size"] = 1
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "critical" and got["observed"]["files"][0]["status"] == "size_mismatch"


def test_file_changed_since_backup_is_not_a_failure() -> None:
    f = facts("restic")
    f["sample"][1]["live"].update(mtime=NOW - 60, sha256="c" * 64, size=999)
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "ok", got["summary"]
    assert got["observed"]["files"][1]["status"] == "changed_since_backup"
    assert got["observed"]["files"][1]["note"] == "the live file changed after the backup"
    assert got["observed"]["changed_since_backup"] == 1
    assert "1 changed since backup" in got["summary"]


def test_copy_uses_each_copied_file_mtime() -> None:
    f = facts("copy")
    f["sample"][0]["mtime"] = OLD - 10  # copied before the live file's last change
    f["sample"][0]["live"].update(sha256="c" * 64)
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["observed"]["files"][0]["status"] == "changed_since_backup"
    assert got["status"] == "ok"


def test_nothing_checksum_verified_is_a_warning() -> None:
    f = facts("copy")
    for e in f["sample"]:
        e["live"].update(mtime=NOW, sha256="c" * 64)
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "warning" and got["observed"]["checksum_verified"] == 0


def test_deleted_live_file_is_noted() -> None:
    f = facts("borg")
    f["sample"][0]["live"] = {"exists": False, "path": "/srv/data/f0"}
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "ok"
    assert got["observed"]["files"][0]["note"] == "deleted from the source since the backup"


@pytest.mark.parametrize("stage, kind, fresh, sample, integ", [
    ("snapshots", "wrong_password", "critical", "critical", "unknown"),
    ("setup", "password_missing", "critical", "critical", "unknown"),
    ("snapshots", "repository_missing", "critical", "critical", "unknown"),
    ("snapshots", "locked", "unknown", "unknown", "unknown"),
    ("snapshots", "tool_missing", "unknown", "unknown", "unknown"),
    ("scratch", "scratch_unsafe", "ok", "unknown", "ok"),
    ("ls", "timeout", "ok", "critical", "ok"),
])
def test_errors(stage: str, kind: str, fresh: str, sample: str, integ: str) -> None:
    f = facts(error={"stage": stage, "kind": kind, "message": "boom"})
    if kind in ("wrong_password", "password_missing", "repository_missing", "locked", "tool_missing"):
        f.update(snapshot=None, sample=[], integrity={"ran": False})
    got = by_check(bd.decide(f, NOW))
    assert got["backup.freshness"]["status"] == fresh
    assert got["backup.restore_sample"]["status"] == sample
    assert got["backup.integrity"]["status"] == integ


def test_wrong_password_is_a_clear_critical() -> None:
    f = facts(error={"stage": "snapshots", "kind": "", "message": RESTIC_WRONG_PW.strip()},
              snapshot=None, sample=[], integrity={"ran": False})
    got = by_check(bd.decide(f, NOW))
    assert got["backup.freshness"]["summary"].endswith("wrong password: the repository rejects the password on record")
    assert "vault" in got["backup.freshness"]["remediation"]


@pytest.mark.parametrize("check, status", [
    ({"ran": True, "rc": 1, "output": RESTIC_CHECK_CORRUPT, "command": "restic check"}, "critical"),
    ({"ran": True, "rc": 1, "errors": ["Data integrity error: Segment entry checksum mismatch"],
      "command": "borg check --repository-only"}, "critical"),
    ({"ran": True, "rc": None, "timed_out": True, "errors": [], "command": "restic check"}, "critical"),
    ({"ran": True, "rc": 2, "errors": ["Failed to create/acquire the lock"], "error_kind": "locked",
      "command": "borg check"}, "unknown"),
    ({"ran": False}, "unknown"),
    ({"ran": True, "rc": 0, "errors": [], "command": "restic check --no-lock"}, "ok"),
])
def test_integrity(check: dict[str, Any], status: str) -> None:
    got = by_check(bd.decide(facts(integrity=check), NOW))["backup.integrity"]
    assert got["status"] == status, got["summary"]


def test_integrity_first_error_in_summary() -> None:
    check = {"ran": True, "rc": 1, "output": RESTIC_CHECK_CORRUPT, "command": "restic check"}
    got = by_check(bd.decide(facts(integrity=check), NOW))["backup.integrity"]
    assert "Pack ID does not match" in got["summary"]
    assert got["observed"]["errors"][-1] == "Fatal: repository contains errors"


def test_integrity_disabled_is_skipped() -> None:
    f = facts()
    f["config"]["integrity"]["enabled"] = False
    assert by_check(bd.decide(f, NOW))["backup.integrity"]["status"] == "skipped"


def test_results_never_carry_the_password() -> None:
    f = facts(error={"stage": "snapshots", "kind": "wrong_password", "message": "Fatal: wrong password"},
              snapshot=None, sample=[], integrity={"ran": False})
    f["config"]["password_var"] = "vault_pw"
    text = json.dumps(bd.decide(f, NOW))
    assert "vault_pw" not in text  # not even the variable's name is needed in a result


def test_decide_does_not_modify_its_input() -> None:
    f = facts(error={"stage": "snapshots", "kind": "", "message": RESTIC_WRONG_PW})
    before = copy.deepcopy(f)
    bd.decide(f, NOW)
    assert f == before


# -- Windows: facts reconstructed from restic's documented JSON --------------------
def windows_results(name: str) -> dict[str, dict[str, Any]]:
    text = (FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    assert "Reconstructed, not captured" in json.loads(text)["_provenance"]
    return by_check(bd.evaluate_text(text, f"{name}.json"))


def test_windows_healthy() -> None:
    got = windows_results("healthy")
    assert got["backup.freshness"]["status"] == "ok"
    sample = got["backup.restore_sample"]
    assert sample["status"] == "ok"
    statuses = [f["status"] for f in sample["observed"]["files"]]
    assert statuses == ["verified", "changed_since_backup", "verified"]
    assert sample["observed"]["restore_seconds"] == 2.417
    assert got["backup.integrity"]["status"] == "ok"


def test_windows_wrong_password() -> None:
    got = windows_results("wrong_password")
    assert got["backup.freshness"]["status"] == "critical"
    assert "wrong password" in got["backup.freshness"]["summary"]
    assert got["backup.restore_sample"]["status"] == "critical"


def test_windows_corrupt() -> None:
    got = windows_results("corrupt")
    assert got["backup.restore_sample"]["status"] == "critical"
    assert got["backup.restore_sample"]["observed"]["files_missing"] == 1
    assert "ciphertext verification failed" in got["backup.restore_sample"]["observed"]["restore_error"]
    assert got["backup.integrity"]["status"] == "critical"
    assert "Pack ID does not match" in got["backup.integrity"]["summary"]


def test_windows_collector_draws_the_same_sample_key() -> None:
    """The .ps1 hashes UTF-8 of seed + LF + path with SHA-256 and keeps the lowest keys."""
    ps1 = (ROOT / "plugins/modules/win_restic_restore_test.ps1").read_text(encoding="utf-8")
    assert "GetBytes($Seed + \"`n\" + $Path)" in ps1
    assert "SHA256]::Create()" in ps1 and "ToString('x2')" in ps1
    assert "[System.StringComparer]::Ordinal" in ps1  # lowest hex keys, ordinal order


# -- maintctl validate calls validate_policy ----------------------------------------
@pytest.mark.parametrize("root, code", [("/tmp/restore-here", 2), ("/var/tmp/maint-restore/x/../../..", 2),
                                        ("/var/tmp/maint-restore/client-a", 0)])
def test_maintctl_validate_rejects_a_scratch_root_outside_the_base(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        root: str, code: int) -> None:
    from maintctl.cli import main

    client = tmp_path / "inventories" / "acme"
    (client / "group_vars" / "all").mkdir(parents=True)
    (client / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"srv01": {"ansible_host": "127.0.0.1"}}}}))
    policy = {"maint_policy": {"timezone": "Europe/Paris", "windows": ["Mon-Fri 20:00-06:00"],
                               "backup": {"sources": [source(host="srv01", scratch_root=root)]}}}
    (client / "group_vars" / "all" / "policy.yml").write_text(yaml.safe_dump(policy))
    monkeypatch.setenv("MAINT_INVENTORIES", str(tmp_path / "inventories"))
    monkeypatch.setenv("MAINT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MAINT_VAULT_DIR", str(tmp_path / "vault"))
    assert main(["validate", "--client", "acme"]) == code
    err = capsys.readouterr().err
    if code:
        assert "maint_policy.backup.sources[0].scratch_root: " in err
        assert "outside /var/tmp/maint-restore" in err or "'..'" in err
    else:
        assert err == ""


# -- values nobody read are never ok (hardening) -------------------------------
@pytest.mark.parametrize("text", ["2024-13-01T00:00:00Z", "2024-02-31T10:00:00Z", "garbage", "", None,
                                  float("nan"), float("inf"), [], {}])
def test_parse_time_never_raises_on_garbage(text: Any) -> None:
    assert bd.parse_time(text) is None


@pytest.mark.parametrize("when", ["not a time", "2024-13-01T00:00:00Z", None, float("nan")])
def test_unreadable_snapshot_time_is_unknown_not_a_crash(when: Any) -> None:
    got = by_check(bd.decide(facts(snapshot={"id": "deadbeef", "time": when}), NOW))
    fresh = got["backup.freshness"]
    assert fresh["status"] == "unknown"
    assert "could not be read" in fresh["summary"] and "deadbeef" in fresh["summary"]
    assert fresh["observed"]["error"] == "unreadable"


def test_restore_that_timed_out_is_critical_even_if_the_files_check_out() -> None:
    f = facts(restore={"seconds": 1800.2, "bytes": 303, "rc": None, "timed_out": True, "tool_verified": False,
                       "scratch_removed": True, "error": ""})
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "critical"
    assert "restore did not finish within 1800 s" in got["summary"]
    assert "3 of 3 files restored" in got["summary"]


def test_restore_command_that_failed_is_critical() -> None:
    f = facts("borg", restore={"seconds": 0.4, "bytes": 303, "rc": 2, "tool_verified": False,
                               "scratch_removed": True, "error": "Data integrity error"})
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "critical"
    assert "restore failed (exit code 2" in got["summary"] and "Data integrity error" in got["summary"]


def test_collector_failure_during_the_restore_is_unknown() -> None:
    f = facts(error={"stage": "verify", "kind": "unreadable", "message": "KeyError: 'x'"})
    got = by_check(bd.decide(f, NOW))
    assert got["backup.restore_sample"]["status"] == "unknown"
    assert "KeyError" in got["backup.restore_sample"]["summary"]
    assert got["backup.freshness"]["status"] == "ok"


def test_scratch_folder_left_behind_is_at_least_a_warning() -> None:
    f = facts(restore={"seconds": 0.5, "bytes": 303, "rc": 0, "tool_verified": True,
                       "scratch": "/var/tmp/maint-restore/brt-r1-t-x", "scratch_removed": False})
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "warning"
    assert "/var/tmp/maint-restore/brt-r1-t-x was NOT removed" in got["summary"]
    assert got["observed"]["scratch_left"] == "/var/tmp/maint-restore/brt-r1-t-x"
    bad = facts(sample=[], restore={"scratch": "/var/tmp/maint-restore/y", "scratch_removed": False})
    assert by_check(bd.decide(bad, NOW))["backup.restore_sample"]["status"] == "critical"


def test_zero_bytes_restored_is_not_ok() -> None:
    f = facts()
    empty_sha = hashlib.sha256(b"").hexdigest()
    for entry in f["sample"]:
        entry.update(size=0, restored_size=0, restored_sha256=empty_sha)
        entry["live"].update(size=0, sha256=empty_sha)
    f["restore"]["bytes"] = 0
    got = by_check(bd.decide(f, NOW))["backup.restore_sample"]
    assert got["status"] == "warning"
    assert "0 bytes" in got["summary"]


def test_integrity_timeout_says_so() -> None:
    check = {"ran": True, "rc": None, "timed_out": True, "errors": ["[12:00] 40.00% 4 / 10 packs"],
             "command": "restic check --no-lock"}
    got = by_check(bd.decide(facts(integrity=check), NOW))["backup.integrity"]
    assert got["status"] == "critical"
    assert "did not finish within 1800 s" in got["summary"]


@pytest.mark.parametrize("repo", ["rest:https://backup:S3cr3t-pw@rest.example/srv", "sftp://u:S3cr3t-pw@h//srv"])
def test_repository_url_with_a_password_is_rejected_without_echoing_it(repo: str) -> None:
    errors = bd.validate_policy({"sources": [source(repository=repo)]})
    assert len(errors) == 1 and "holds a password" in errors[0]
    assert "S3cr3t-pw" not in errors[0]
    assert bd.validate_policy({"sources": [source(type="borg", repository="ssh://borg@h:22/./repo")]}) == []


@pytest.mark.parametrize("blob", [
    {}, {"config": None}, {"snapshot": "x"}, {"sample": [{"path": None}]},
    {"snapshot": {"id": 1, "time": "yesterday"}, "sample": [{}], "restore": {"rc": "x"}},
    {"integrity": {"ran": True, "rc": "garbage", "output": 42}},
])
def test_decide_survives_garbage_facts_and_is_never_ok(blob: dict[str, Any]) -> None:
    results = bd.decide(blob, NOW)
    assert len(results) == 3
    for res in results:
        assert res["status"] != "ok", res
        assert res["summary"]


# -- hostile input: one odd value costs one check, never the source's others ------------------
@pytest.mark.parametrize("restore", [{"seconds": float("nan"), "bytes": 303, "rc": 0, "tool_verified": True,
                                      "scratch_removed": True},
                                     {"seconds": "fast", "bytes": "many", "rc": 0, "tool_verified": True,
                                      "scratch_removed": True}])
def test_odd_restore_timing_keeps_every_check(restore: dict[str, Any]) -> None:
    got = by_check(bd.decide(facts("restic", restore=restore), NOW))
    assert got["backup.freshness"]["status"] == "ok"
    assert got["backup.integrity"]["status"] == "ok"
    assert got["backup.restore_sample"]["status"] in ("ok", "warning")  # the files were verified
    json.dumps(got, allow_nan=False)  # no NaN reaches the results


def test_one_odd_file_size_is_that_file_not_the_source() -> None:
    bad = facts("restic")
    bad["sample"][1]["size"] = "abc"
    bad["sample"][2] = ["not", "a", "file", "entry"]
    got = by_check(bd.decide(bad, NOW))
    assert got["backup.freshness"]["status"] == "ok" and got["backup.integrity"]["status"] == "ok"
    sample = got["backup.restore_sample"]
    assert sample["status"] == "unknown" and "could not be read" in sample["summary"]
    assert [f["status"] for f in sample["observed"]["files"]] == ["verified", "unreadable", "unreadable"]
    # A real mismatch next to an unreadable entry is still critical.
    bad["sample"][0]["restored_sha256"] = "0" * 64
    assert by_check(bd.decide(bad, NOW))["backup.restore_sample"]["status"] == "critical"


@pytest.mark.parametrize("now", [float("nan"), "now", None])
def test_unreadable_clock_is_never_fresh(now: Any) -> None:
    got = by_check(bd.decide(facts("restic"), now))
    assert got["backup.freshness"]["status"] == "unknown"
    assert got["backup.restore_sample"]["status"] == "ok" and got["backup.integrity"]["status"] == "ok"


def test_nan_rpo_is_not_an_infinite_rpo() -> None:
    stale = facts("restic", snapshot={"id": "deadbeef", "time": NOW - 90 * 3600})
    stale["config"]["rpo_hours"] = float("nan")
    assert by_check(bd.decide(stale, NOW))["backup.freshness"]["status"] == "critical"  # default RPO 26 h


def test_odd_integrity_section_costs_only_integrity() -> None:
    got = by_check(bd.decide(facts("restic", integrity={"ran": True, "rc": 0, "seconds": "slow",
                                                        "errors": 12, "command": "restic check"}), NOW))
    assert got["backup.freshness"]["status"] == "ok" and got["backup.restore_sample"]["status"] == "ok"
    assert got["backup.integrity"]["status"] in ("ok", "unknown")
