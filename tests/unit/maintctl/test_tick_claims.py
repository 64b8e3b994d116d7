"""Two controllers on one store: two ``maintctl tick`` processes, each with its own MAINT_HOME (its own
schedule state and dispatcher lock) and the same MAINT_STORE, start a due client's slot exactly once.

The client's one host is 127.0.0.1 on a closed port: the run and the probe really start (and
find it unreachable) without the lab. On PostgreSQL (a real server, tests/postgres.py) and on
one SQLite file shared by both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from maintcore.store import Store

ROOT = Path(__file__).resolve().parents[3]
MON_2105_CET = "2026-11-23T20:05:00Z"  # the demo policy's "Mon-Fri 21:00" maintenance slot is due
HOSTS = """---
all:
  children:
    linux:
      hosts:
        web01:
          ansible_host: 127.0.0.1
          ansible_port: 1
"""


@pytest.fixture()
def client(tmp_path: Path) -> Path:
    """The demo client as 'acme', its host on a closed loopback port, probes every minute, no watch."""
    inv = tmp_path / "inventories"
    shutil.copytree(ROOT / "inventories" / "demo", inv / "acme")
    shutil.rmtree(inv / "acme" / "host_vars", ignore_errors=True)
    (inv / "acme" / "hosts.yml").write_text(HOSTS)
    policy = inv / "acme" / "group_vars" / "all" / "policy.yml"
    text = policy.read_text()
    assert '    watch: "every 5 min"\n' in text and '    probe: "every 1 min"\n' in text
    policy.write_text(text.replace('    watch: "every 5 min"\n', ""))
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "acme.pass").write_text((ROOT / "lab" / "demo-vault-password.txt").read_text())
    (vault / "acme.pass").chmod(0o600)
    return inv


def _two_ticks(tmp_path: Path, inv: Path, store: str) -> list[subprocess.CompletedProcess[str]]:
    procs = []
    try:
        for name in ("ctl-a", "ctl-b"):
            env = dict(os.environ, MAINT_HOME=str(tmp_path / name), MAINT_STORE=store, MAINT_INVENTORIES=str(inv),
                       MAINT_VAULT_DIR=str(tmp_path / "vault"), MAINT_TEST_NOW=MON_2105_CET, MAINT_CONTROLLER=name,
                       PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
            procs.append(subprocess.Popen([str(Path(sys.executable).parent / "maintctl"), "tick"], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        out = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=300)
            out.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
        return out
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _assert_started_once(ticks: list[subprocess.CompletedProcess[str]], store: str) -> None:
    texts = [t.stdout for t in ticks]
    assert all(t.returncode in (0, 1) for t in ticks), [(t.returncode, t.stderr) for t in ticks]
    started = [t for t in texts if "starting acme: hardware,antivirus,backup,patch due for maintenance" in t]
    skipped = [t for t in texts if "acme: maintenance Mon 2026-11-23 21:00 CET skipped: claimed by ctl-" in t]
    assert len(started) == 1 and len(skipped) == 1, texts
    assert started != skipped
    probes = [t for t in texts if "starting acme: probe" in t]
    assert len(probes) == 1 and sum("acme: probe skipped: claimed by ctl-" in t for t in texts) == 1, texts
    with Store(store) as db:
        runs = db.db.execute("SELECT kind, COUNT(*) FROM runs WHERE client='acme' GROUP BY kind ORDER BY kind")
        assert [tuple(r) for r in runs] == [("probe", 1), ("scheduled", 1)]
        claims = [tuple(r) for r in db.db.execute(
            "SELECT kind, slot, controller FROM slot_claims WHERE client='acme' ORDER BY kind")]
    winner = "ctl-a" if "starting acme: hardware" in texts[0] else "ctl-b"
    assert claims == [("maintenance", "2026-11-23T20:00:00Z", winner), ("probe", "2026-11-23T20:05:00Z", claims[1][2])]


@pytest.mark.postgres
@pytest.mark.slow
def test_two_ticks_on_one_postgres_store_start_the_slot_once(client: Path, tmp_path: Path, postgres: Any) -> None:
    url = postgres.new_database()
    _assert_started_once(_two_ticks(tmp_path, client, url), url)


@pytest.mark.slow
def test_two_ticks_on_one_sqlite_store_start_the_slot_once(client: Path, tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    _assert_started_once(_two_ticks(tmp_path, client, path), path)
