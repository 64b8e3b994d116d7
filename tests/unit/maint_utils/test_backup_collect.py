"""What the Linux collectors share (plugins/module_utils/backup_collect.py): the seeded sample and live paths."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from maint_utils import backup_collect as bc

ROOT = Path(__file__).resolve().parents[3]


# -- sampling -----------------------------------------------------------------
PATHS = [f"/srv/data/f{i:03d}.txt" for i in range(300)]


def test_sample_is_replayable_and_order_independent() -> None:
    first = bc.pick_sample(PATHS, 5, "seed-1")
    assert len(first) == 5 and len(set(first)) == 5
    assert bc.pick_sample(PATHS, 5, "seed-1") == first
    assert bc.pick_sample(list(reversed(PATHS)), 5, "seed-1") == first
    assert bc.pick_sample(PATHS, 5, "seed-2") != first


def test_sample_is_the_lowest_keys() -> None:
    expected = sorted(PATHS, key=lambda p: bc.sample_key("s", p))[:7]
    assert bc.pick_sample(PATHS, 7, "s") == expected
    # The key is SHA-256 of seed, newline, path (what the PowerShell collector computes).
    assert bc.sample_key("s", "/a") == hashlib.sha256(b"s\n/a").hexdigest()
    assert bc.sample_key("s", "/é") == hashlib.sha256("s\n/é".encode()).hexdigest()


def test_sample_smaller_listing_and_zero() -> None:
    assert sorted(bc.pick_sample(PATHS[:3], 5, "s")) == PATHS[:3]
    assert bc.pick_sample(PATHS, 0, "s") == []


def test_sample_mostly_survives_a_new_snapshot() -> None:
    before = bc.pick_sample(PATHS, 5, "s")
    after = bc.pick_sample([p for p in PATHS if p != before[0]] + ["/srv/data/new.txt"], 5, "s")
    assert len(set(before) & set(after)) >= 4


def test_sample_heap_counts_everything() -> None:
    heap = bc.SampleHeap(2, "s")
    for i, path in enumerate(PATHS[:10]):
        heap.add(path, {"size": i})
    assert heap.count == 10 and heap.bytes == 45
    assert [p for p, _ in heap.result()] == bc.pick_sample(PATHS[:10], 2, "s")



def test_sample_heap_counts_but_never_samples_files_too_big_to_hash() -> None:
    heap = bc.SampleHeap(10, "s", max_bytes=5)
    for i, path in enumerate(PATHS[:10]):
        heap.add(path, {"size": i})
    assert heap.count == 10 and heap.bytes == 45
    assert sorted(e["size"] for _, e in heap.result()) == [0, 1, 2, 3, 4, 5]
    for raw in ("garbage\n", "\n", "42\n"):
        heap.unreadable(raw)
    assert heap.garbage == 2


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
    assert bc.live_path(snap, src) == live


def test_windows_collector_draws_the_same_sample_key() -> None:
    """The .ps1 hashes UTF-8 of seed + LF + path with SHA-256 and keeps the lowest keys."""
    ps1 = (ROOT / "plugins/modules/win_backup_restic.ps1").read_text(encoding="utf-8")
    assert "GetBytes($Seed + \"`n\" + $Path)" in ps1
    assert "SHA256]::Create()" in ps1 and "ToString('x2')" in ps1
    assert "[System.StringComparer]::Ordinal" in ps1  # lowest hex keys, ordinal order
