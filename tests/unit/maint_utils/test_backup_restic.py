"""The restic collector's pure helpers (plugins/module_utils/backup_restic.py)."""

from __future__ import annotations

import pytest

from maint_utils import backup_restic


@pytest.mark.parametrize("path, windows, pattern", [
    ("/srv/data/plain.txt", False, "/srv/data/plain.txt"),
    ("/srv/data/a [1]*?.txt", False, "/srv/data/a \\[1]\\*\\?.txt"),
    ("/srv/back\\slash", False, "/srv/back\\\\slash"),
    ("/C/Users/a [1]*.txt", True, "/C/Users/a [[]1][*].txt"),
])
def test_restic_include_pattern(path: str, windows: bool, pattern: str) -> None:
    assert backup_restic.restic_include_pattern(path, windows) == pattern
