"""The collect side (plugins/modules/backup_restore.py and its collectors, plugins/module_utils/backup_{collect,
restic,borg,copy}.py) on real restic and borg repositories.

The repositories are made in a temporary folder with the real tools (restic and borg are
controller packages, see the Makefile), so parsing, the --include path form, the sample,
the scratch folder's safety and removal, and the read-only promise are tested for real.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maint_utils import backup_collect as bc
from maint_utils import backup_decide as bd
from maint_utils import backup_policy as bp
from maint_utils import backup_verdict as bv
from maint_utils.backup_restic import ResticSource
from tests.conftest import process_survives

ROOT = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("backup_restore_module", ROOT / "plugins/modules/backup_restore.py")
assert SPEC and SPEC.loader
mod = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(mod)

PASSWORD = "unit-test-Pa55word-7f3a"
WRONG = "unit-test-wrong-Pa55-91c2"
NAMES = ["plain.txt", "with space.txt", "naïve [1]*?.txt", "Übersicht/été 2025/notes.md", "deep/a/b/c.bin", "empty"]

pytestmark = pytest.mark.skipif(not (shutil.which("restic") and shutil.which("borg")),
                                reason="restic and borg are controller packages (make deps)")


def run(*argv: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(list(argv), check=True, capture_output=True, env={**os.environ, **(env or {})})


def tree_digest(folder: Path) -> dict[str, str]:
    """Content hash of every file under folder (lock files excluded: they come and go)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "lock" not in path.name:
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    base = tmp_path_factory.mktemp("backup")
    home = base / "home"
    home.mkdir()
    src = base / "src"
    for i, name in enumerate(NAMES):
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"" if name == "empty" else os.urandom(1000 * (i + 1)))
    old = 1735689600
    for path in src.rglob("*"):
        os.utime(path, (old, old))
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "RESTIC_PASSWORD": PASSWORD,
           "BORG_PASSPHRASE": PASSWORD}
    run("restic", "init", "-q", "-r", str(base / "restic"), env=env)
    run("restic", "backup", "-q", "-r", str(base / "restic"), str(src), env=env)
    run("borg", "init", "-e", "repokey", str(base / "borg"), env=env)
    run("borg", "create", f"{base / 'borg'}::a1", str(src), env=env)
    shutil.copytree(src, base / "copy", copy_function=shutil.copyfile)  # a fresh copy: mtimes of now
    shutil.copytree(base / "borg", base / "borg-corrupt")
    segment = max((base / "borg-corrupt" / "data").rglob("*"), key=lambda p: p.stat().st_size)
    with open(segment, "r+b") as handle:
        handle.seek(segment.stat().st_size // 2)
        handle.write(b"\xde\xad" * 512)
    (base / "pw").write_text(PASSWORD)
    os.chmod(base / "pw", 0o600)
    yield {"base": base, "src": src, "home": home}


@pytest.fixture(autouse=True)
def scratch_base(lab: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the allowed scratch base into the test's folder."""
    base = tmp_path / "maint-restore"
    monkeypatch.setattr(bp, "SCRATCH_BASE", str(base))
    monkeypatch.setenv("HOME", str(lab["home"]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(lab["home"] / ".cache"))
    return base


def config(lab: dict[str, Path], scratch: Path, **over: Any) -> dict[str, Any]:
    src = {"name": "t", "host": "h", "type": "restic", "repository": str(lab["base"] / "restic"),
           "source": str(lab["src"]), "password_var": "v", "sample_size": 4, "scratch_root": str(scratch)}
    src.update(over)
    return bd.sources_for_host({"sources": [src]}, "h")[0]


def collect(cfg: dict[str, Any], password: str = PASSWORD, seed: str = "s1") -> dict[str, Any]:
    return mod.collect_source(cfg, password, seed, "unit", bc.Scrubber([password]))


def statuses(facts: dict[str, Any]) -> dict[str, str]:
    return {r["check"]: r["status"] for r in bd.decide(facts, bv.parse_time(facts["collected_at"]) or 0)}


@pytest.mark.parametrize("kind", ["restic", "borg", "copy"])
def test_healthy_sources(lab: dict[str, Path], scratch_base: Path, kind: str) -> None:
    over: dict[str, Any] = {"type": kind}
    if kind == "borg":
        over.update(repository=str(lab["base"] / "borg"), password_var=None, password_file=str(lab["base"] / "pw"))
    if kind == "copy":
        over.update(repository=str(lab["base"] / "copy"), password_var=None)
    before = tree_digest(lab["base"] / kind) if kind != "copy" else {}
    facts = collect(config(lab, scratch_base, **over))
    assert facts["error"] is None, facts["error"]
    assert statuses(facts) == {"backup.freshness": "ok", "backup.restore_sample": "ok",
                               "backup.integrity": "skipped" if kind == "copy" else "ok"}
    assert len(facts["sample"]) == 4
    assert all(e["restored"] for e in facts["sample"])
    assert facts["restore"]["scratch_removed"] is True
    assert list(scratch_base.iterdir()) == []
    assert facts["listing"]["files"] == len(NAMES)
    if kind != "copy":
        assert tree_digest(lab["base"] / kind) == before, "the repository was written to"
    if kind == "restic":
        assert facts["restore"]["tool_verified"] is True
    if kind == "borg":
        assert all(e["sha256"] == e["restored_sha256"] for e in facts["sample"])


def test_seed_replays_the_same_files(lab: dict[str, Path], scratch_base: Path) -> None:
    cfg = config(lab, scratch_base, sample_size=2, integrity={"enabled": False})
    first = [e["path"] for e in collect(cfg, seed="replay-me")["sample"]]
    again = [e["path"] for e in collect(cfg, seed="replay-me")["sample"]]
    assert first == again
    paths = [str(lab["src"] / n) for n in NAMES]
    assert first == bc.pick_sample(paths, 2, "replay-me")
    # Another seed gives another sample: the temp paths differ per run, so pick a seed that
    # the pure rule says differs (one of ten, all colliding is ~1e-12) and check the collector agrees.
    seed = next(s for s in (f"another-{i}" for i in range(10)) if bc.pick_sample(paths, 2, s) != first)
    other = [e["path"] for e in collect(cfg, seed=seed)["sample"]]
    assert other == bc.pick_sample(paths, 2, seed) != first


def test_glob_characters_in_names_are_restored(lab: dict[str, Path], scratch_base: Path) -> None:
    facts = collect(config(lab, scratch_base, sample_size=len(NAMES), integrity={"enabled": False}))
    got = {Path(e["path"]).name: e["restored"] for e in facts["sample"]}
    assert got["naïve [1]*?.txt"] is True and got["with space.txt"] is True


@pytest.mark.parametrize("kind", ["restic", "borg"])
def test_wrong_password(lab: dict[str, Path], scratch_base: Path, kind: str) -> None:
    over = {"type": kind, "repository": str(lab["base"] / kind)}
    facts = collect(config(lab, scratch_base, **over), password=WRONG)
    assert facts["error"]["kind"] == "wrong_password"
    assert statuses(facts)["backup.freshness"] == "critical"
    assert statuses(facts)["backup.restore_sample"] == "critical"
    text = json.dumps(facts) + json.dumps(bd.decide(facts, 0))
    assert WRONG not in text and PASSWORD not in text


def test_missing_password(lab: dict[str, Path], scratch_base: Path) -> None:
    facts = collect(config(lab, scratch_base), password="")
    assert facts["error"]["kind"] == "password_missing"
    assert "vault variable v" in facts["error"]["message"]


def test_corrupt_borg_repository(lab: dict[str, Path], scratch_base: Path) -> None:
    cfg = config(lab, scratch_base, type="borg", repository=str(lab["base"] / "borg-corrupt"), sample_size=len(NAMES))
    facts = collect(cfg)
    got = statuses(facts)
    assert got["backup.integrity"] == "critical"
    assert "ok" not in (got["backup.restore_sample"], got["backup.integrity"])
    assert not scratch_base.exists() or list(scratch_base.iterdir()) == []


def test_scratch_is_removed_when_the_restore_breaks(lab: dict[str, Path], scratch_base: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def broken(self: Any, snap: Any, sample: Any, scratch: str) -> None:
        Path(scratch, "half-restored").write_text("x")
        os.chmod(scratch, 0o500)
        seen.append(scratch)
        raise RuntimeError("restore blew up")

    monkeypatch.setattr(ResticSource, "restore", broken)
    facts = collect(config(lab, scratch_base))
    assert seen and not os.path.lexists(seen[0])
    # An unexpected failure is a result of this source, never a crash of the whole module.
    assert facts["error"] == {"stage": "restore", "kind": "unreadable", "message": "RuntimeError: restore blew up"}
    assert facts["restore"]["scratch_removed"] is True
    result = {r["check"]: r for r in bd.decide(facts, bv.parse_time(facts["collected_at"]) or 0)}
    assert result["backup.restore_sample"]["status"] == "unknown"
    assert "restore blew up" in result["backup.restore_sample"]["summary"]
    assert result["backup.freshness"]["status"] == "ok"  # the snapshot was read before the failure


def test_scratch_folder_is_fresh_and_private(lab: dict[str, Path], scratch_base: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    modes: list[int] = []

    def spy(self: Any, snap: Any, sample: Any, scratch: str) -> dict[str, Any]:
        modes.append(os.stat(scratch).st_mode & 0o777)
        assert os.listdir(scratch) == []
        return {"rc": 0, "tool_verified": False, "error": None}

    monkeypatch.setattr(ResticSource, "restore", spy)
    facts = collect(config(lab, scratch_base))
    assert modes == [0o700]
    assert statuses(facts)["backup.restore_sample"] == "critical"  # nothing restored


def test_scratch_root_symlink_is_refused(lab: dict[str, Path], scratch_base: Path, tmp_path: Path) -> None:
    scratch_base.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (scratch_base / "link").symlink_to(elsewhere)
    facts = collect(config(lab, scratch_base / "link"))
    assert facts["error"]["kind"] == "scratch_unsafe"
    assert statuses(facts)["backup.restore_sample"] == "unknown"
    assert list(elsewhere.iterdir()) == []


def test_scratch_root_writable_by_others_is_refused(lab: dict[str, Path], scratch_base: Path) -> None:
    scratch_base.mkdir()
    os.chmod(scratch_base, 0o777)
    facts = collect(config(lab, scratch_base))
    assert facts["error"]["kind"] == "scratch_unsafe"
    assert "group/world writable" in facts["error"]["message"]


@pytest.mark.parametrize("root", ["/tmp/elsewhere", "{base}/../escape", "{base}/x/../../y"])
def test_scratch_root_outside_the_base_is_refused(lab: dict[str, Path], scratch_base: Path, root: str) -> None:
    cfg = config(lab, scratch_base)
    cfg["scratch_root"] = root.format(base=scratch_base)
    with pytest.raises(bc.SourceError) as info:
        bc.make_scratch(cfg, "t")
    assert info.value.kind == "scratch_unsafe"


def test_scratch_never_inside_the_source(lab: dict[str, Path], scratch_base: Path) -> None:
    cfg = config(lab, scratch_base, source=str(scratch_base.parent))
    with pytest.raises(bc.SourceError, match="overlaps the source"):
        bc.make_scratch(cfg, "t")


def test_tool_missing_is_unknown(lab: dict[str, Path], scratch_base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    facts = collect(config(lab, scratch_base))
    assert facts["error"]["kind"] == "tool_missing"
    assert set(statuses(facts).values()) == {"unknown"}


def test_password_goes_through_the_environment_only(lab: dict[str, Path]) -> None:
    cfg = config(lab, Path("/x"))
    env = bc.tool_env(cfg, PASSWORD)
    assert env["RESTIC_PASSWORD"] == PASSWORD and env["RESTIC_REPOSITORY"] == cfg["repository"]
    borg = bc.tool_env(dict(cfg, type="borg", password_file="/etc/my pw"), "")
    assert borg["BORG_PASSCOMMAND"] == "cat '/etc/my pw'" and "BORG_PASSPHRASE" not in borg
    assert borg["BORG_RELOCATED_REPO_ACCESS_IS_OK"] == "no"
    for path in ("plugins/modules/backup_restore.py", *(f"plugins/module_utils/backup_{name}.py"
                                                         for name in ("collect", "restic", "borg", "copy"))):
        assert "shell=True" not in (ROOT / path).read_text(encoding="utf-8"), path


def test_scrubber() -> None:
    scrub = bc.Scrubber(["s3cret", ""])
    assert scrub("bad s3cret here") == "bad ******** here"


# -- hardening: argv, read-only flags, garbage output, timeouts ----------------
def fake_tool(folder: Path, name: str, body: str) -> None:
    """Put a shell script called ``name`` first on PATH (it may exec the real tool)."""
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def spy_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Wrap the real restic and borg: log every argv (one line each), then run the real tool."""
    log = tmp_path / "argv.log"
    folder = tmp_path / "bin"
    for tool in ("restic", "borg"):
        real = shutil.which(tool)
        fake_tool(folder, tool, f'printf "{tool}" >> "{log}"; for a in "$@"; do printf " %s" "$a" >> "{log}"; done; '
                                f'echo >> "{log}"\nexec {real} "$@"\n')
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    return log


@pytest.mark.parametrize("kind", ["restic", "borg"])
def test_password_never_on_argv_and_reads_never_lock(lab: dict[str, Path], scratch_base: Path, spy_path: Path,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      kind: str) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    facts = collect(config(lab, scratch_base, type=kind, repository=str(lab["base"] / kind)))
    assert facts["error"] is None, facts["error"]
    calls = spy_path.read_text().splitlines()
    assert len(calls) >= 4, calls
    assert not [c for c in calls if PASSWORD in c]
    if kind == "restic":
        assert all("--no-lock" in c.split() for c in calls), calls
    else:
        reads = [c for c in calls if c.split()[1] != "check"]
        assert reads and all("--bypass-lock" in c.split() for c in reads), calls
        assert [c for c in calls if c.split()[1] == "check"] == ["borg check --repository-only"]
    if kind == "restic":
        assert list((lab["base"] / "restic" / "locks").iterdir()) == [], "restic left a lock in the repository"
    assert list(tmpdir.iterdir()) == [], "a temporary file was left behind"
    assert list(scratch_base.iterdir()) == []


GARBAGE = [
    ("snapshots", "not json at all", "unreadable"),
    ("snapshots", '{"a": 1}', "unreadable"),
    ("snapshots", '[1, "x", null]', "unreadable"),
    ("snapshots", "", "unreadable"),
    ("snapshots", '[{"id": "abc", "time": "yesterday at noon", "paths": ["/x"]}]', None),
    ("ls", "garbage\n[]\n42\n{\"struct_type\": \"node\", \"type\": \"file\", \"path\": null, \"size\": \"big\"}\n",
     None),
]


@pytest.mark.parametrize("stage, output, kind", GARBAGE)
def test_garbage_from_restic_is_never_ok_and_never_a_crash(lab: dict[str, Path], scratch_base: Path,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             stage: str, output: str, kind: str | None) -> None:
    real = shutil.which("restic")
    (tmp_path / "out").write_text(output)
    fake_tool(tmp_path / "bin", "restic",
              f'case " $* " in *" {stage} "*) cat "{tmp_path / "out"}"; exit 0;; esac\nexec {real} "$@"\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    facts = collect(config(lab, scratch_base, integrity={"enabled": False}))
    results = bd.decide(facts, bv.parse_time(facts["collected_at"]) or 0)
    for res in results:
        if not (stage == "ls" and res["check"] == "backup.freshness"):  # the snapshots were read fine
            assert res["status"] in ("unknown", "critical", "skipped"), res
        assert res["summary"]
    if stage == "ls":
        assert facts["error"]["kind"] == "unreadable" and "unreadable line(s)" in facts["error"]["message"]
    if kind:
        assert facts["error"]["kind"] == kind
        assert "restic snapshots --json" in facts["error"]["message"]
    assert not scratch_base.exists() or list(scratch_base.iterdir()) == []


def test_garbage_from_borg_is_never_ok(lab: dict[str, Path], scratch_base: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tool(tmp_path / "bin", "borg", 'case "$1" in list) echo \'{"archives": [{"name": "a", '
                                        '"time": "2024-13-45T99:00:00"}]}\'; exit 0;; esac\n'
                                        f'exec {shutil.which("borg")} "$@"\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    cfg = config(lab, scratch_base, type="borg", repository=str(lab["base"] / "borg"))
    facts = collect(cfg)
    got = statuses(facts)
    assert got["backup.freshness"] == "unknown"
    assert got["backup.restore_sample"] == "unknown"
    assert facts["error"]["kind"] == "unreadable"


@pytest.mark.parametrize("stage", ["snapshots", "ls", "restore", "check"])
def test_a_hanging_tool_is_killed_with_its_children_and_reported(lab: dict[str, Path], scratch_base: Path,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                stage: str) -> None:
    real = shutil.which("restic")
    pids = tmp_path / "pids"
    # The child sleep holds stdout open: only killing the whole group ends the call.
    fake_tool(tmp_path / "bin", "restic",
              f'case " $* " in *" {stage} "*) sleep 60 & echo $! >> "{pids}"; wait;; esac\nexec {real} "$@"\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    cfg = config(lab, scratch_base)
    # Long enough for the real tool's other stages on a loaded machine, short beside the 60 s hang.
    cfg["timeout_seconds"] = 6
    started = time.monotonic()
    facts = collect(cfg)
    assert time.monotonic() - started < 45
    got = {r["check"]: r for r in bd.decide(facts, bv.parse_time(facts["collected_at"]) or 0)}
    check = {"snapshots": "backup.freshness", "ls": "backup.restore_sample", "restore": "backup.restore_sample",
             "check": "backup.integrity"}[stage]
    assert got[check]["status"] == "critical", got[check]
    assert "did not finish within 6 s" in got[check]["summary"], got[check]["summary"]
    if stage != "check":
        assert got["backup.restore_sample"]["status"] != "ok"
    for pid in pids.read_text().split():
        assert not process_survives(pid), f"the tool's child {pid} survived the timeout"
    assert list(scratch_base.iterdir()) == [] if scratch_base.exists() else True
