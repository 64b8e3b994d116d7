"""Readers of the tools' output the verdicts use (plugins/module_utils/backup_verdict.py): errors, times, locations.

The verdicts themselves are tested through backup_decide.decide (test_backup_decide.py), on
recorded facts, one check at a time.
"""

from __future__ import annotations

from typing import Any

import pytest

from maint_utils import backup_verdict as bv

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


def test_redact_location() -> None:
    assert bv.redact_location("rest:https://user:s3cret@nas:8000/repo") == "rest:https://***@nas:8000/repo"
    assert bv.redact_location("/srv/backup/restic") == "/srv/backup/restic"


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
    assert bv.classify_error(text) == kind


def test_error_lines_skip_progress() -> None:
    lines = bv.error_lines(RESTIC_CHECK_CORRUPT)
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
    got = bv.parse_time(text)
    assert (got is None) if epoch is None else got == pytest.approx(epoch)


def test_parse_time_naive_offset() -> None:
    assert bv.parse_time("2026-11-22T22:17:27", naive_offset_seconds=3600) == 1795382247.0


@pytest.mark.parametrize("text", ["2024-13-01T00:00:00Z", "2024-02-31T10:00:00Z", "garbage", "", None,
                                  float("nan"), float("inf"), [], {}])
def test_parse_time_never_raises_on_garbage(text: Any) -> None:
    assert bv.parse_time(text) is None
