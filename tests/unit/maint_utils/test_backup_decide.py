"""The backup catalogue and entry points (plugins/module_utils/backup_decide.py): each check decided on recorded facts."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from maint_utils import backup_decide as bd
from maint_utils import backup_policy as bp

ROOT = Path(__file__).resolve().parents[3]
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


# -- the catalogue ----------------------------------------------------------------
def test_the_table_holds_every_check_the_area_emits_in_order() -> None:
    assert [c.id for c in bd.CHECKS] == [bd.FRESHNESS, bd.RESTORE_SAMPLE, bd.INTEGRITY]
    assert [r["check"] for r in bd.decide(facts(), NOW)] == [c.id for c in bd.CHECKS]
    assert all(c.area == "backup" for c in bd.CHECKS)


def test_defaults_come_from_the_table() -> None:
    assert bd.DEFAULTS == {"rpo_hours": 26, "sample_size": 5, "scratch_root": "/var/tmp/maint-restore",
                           "timeout_seconds": 1800, "max_sample_file_mb": 1024,
                           "integrity": {"enabled": True, "read_data_subset_pct": 5, "verify_data": False}}
    assert bd.CHECK[bd.RESTORE_SAMPLE].policy["scratch_root"] == bp.SCRATCH_BASE


def test_the_default_remediation_is_the_one_results_carry() -> None:
    stale = by_check(bd.decide(facts(snapshot={"id": "x", "time": NOW - 100 * 3600}), NOW))[bd.FRESHNESS]
    assert stale["remediation"] == bd.CHECK[bd.FRESHNESS].remediation
    broken = facts(integrity={"ran": True, "command": "restic check", "rc": 1, "errors": ["Fatal: damaged"]})
    assert by_check(bd.decide(broken, NOW))[bd.INTEGRITY]["remediation"] == bd.CHECK[bd.INTEGRITY].remediation
