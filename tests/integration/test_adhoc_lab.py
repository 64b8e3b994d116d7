"""Ad hoc work on the lab: a playbook and a module on web01, check mode first, then for real; a new client
in one command, run in check mode; and what is refused before anything runs.

Isolation (as tests/integration/test_report_lab.py): a private ``MAINT_HOME`` whose ``lab/`` links to the
real lab folder (the lab's SSH key and known_hosts), ``MAINT_INVENTORIES`` at a copy of the demo inventory,
and a private ``MAINT_VAULT_DIR`` holding a copy of the demo's vault password (and the new client's). The
only change on a host is two files under /tmp on web01, removed in a ``finally``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from maintcore.config import vault_dir
from maintctl import lab
from tests.integration.conftest import run_group

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
MAINTCTL = str(Path(sys.executable).parent / "maintctl")
REAL_HOME = Path(os.environ.get("MAINT_HOME") or ROOT / "var").resolve()
WEB01 = lab.PREFIX + "web01"
PLAY_FILE = "/tmp/maint-adhoc-lab-play"
MODULE_FILE = "/tmp/maint-adhoc-lab-module"
PLAYBOOK = f"""---
- name: Ad hoc test playbook
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the test file
      ansible.builtin.copy:
        content: "written by {{{{ who_wrote }}}}\\n"
        dest: {PLAY_FILE}
        mode: "0600"
"""


class Place:
    """A private state folder, inventories (a copy of demo) and vault folder."""

    def __init__(self, base: Path) -> None:
        self.home = base / "home"
        self.home.mkdir(mode=0o700)
        (self.home / "lab").symlink_to(REAL_HOME / "lab")
        self.inventories = base / "inventories"
        shutil.copytree(ROOT / "inventories" / "demo", self.inventories / "demo")
        self.vault = base / "vault"
        self.vault.mkdir(mode=0o700)
        shutil.copy2(vault_dir() / "demo.pass", self.vault / "demo.pass")
        books = self.inventories / "demo" / "playbooks"
        books.mkdir()
        (books / "adhoc_touch.yml").write_text(PLAYBOOK, encoding="utf-8")

    def maintctl(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MAINT_HOME": str(self.home), "MAINT_INVENTORIES": str(self.inventories),
               "MAINT_VAULT_DIR": str(self.vault)}
        env.pop("MAINT_TEST_NOW", None)
        return run_group([MAINTCTL, *args], timeout=timeout, env=env, stdin=subprocess.DEVNULL)

    def store(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.home / "store.db")
        db.row_factory = sqlite3.Row
        return db


def on_web01(*args: str) -> subprocess.CompletedProcess[str]:
    return lab.podman("exec", WEB01, *args, check=False)


@pytest.fixture()
def place(tmp_path: Path) -> Iterator[Place]:
    here = Place(tmp_path)
    try:
        yield here
    finally:
        on_web01("rm", "-f", PLAY_FILE, MODULE_FILE)


def _run_id(proc: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"^run (\S+): ", proc.stdout, re.M)
    assert match, proc.stdout + proc.stderr
    return match.group(1)


def _recorded(place: Place, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with place.store() as db:
        run = dict(db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone())
        results = [dict(r) for r in db.execute("SELECT * FROM results WHERE run_id=? ORDER BY id", (run_id,))]
    return run, results


def _adhoc_task(place: Place, run_id: str, item: str, check: bool) -> dict[str, Any]:
    run, results = _recorded(place, run_id)
    assert (run["kind"], run["areas"], run["status"], bool(run["check_mode"])) == ("adhoc", "adhoc", "completed", check)
    tasks = [r for r in results if r["check_id"] == "adhoc.task"]
    assert [(r["host"], r["item"], r["status"]) for r in tasks] == [("web01", item, "ok")], results
    return tasks[0]


def test_a_playbook_and_a_module_run_ad_hoc_check_mode_first(place: Place) -> None:
    assert on_web01("test", "-e", PLAY_FILE).returncode == 1, "a previous test left the file behind"
    item = "inventories/demo/playbooks/adhoc_touch.yml"
    # The playbook, in check mode: nothing written, and it says what would change.
    proc = place.maintctl("play", "--client", "demo", "adhoc_touch.yml", "--limit", "web01", "--check",
                          "-e", "who_wrote=lab", "-e", "lab_password=Never-Written-4242", "--as", "tech1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "in check mode: nothing was changed, by tech1" in proc.stdout
    assert "would change (check mode: nothing changed)" in proc.stdout
    assert on_web01("test", "-e", PLAY_FILE).returncode == 1, "check mode wrote the file"
    checked = _adhoc_task(place, _run_id(proc), item, check=True)
    assert checked["changed"] == 0 and '"changed": 1' in checked["observed"]
    run_dir = Path(_recorded(place, _run_id(proc))[0]["run_dir"])
    meta = yaml.safe_load((run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["adhoc"]["by"] == "tech1" and meta["adhoc"]["hosts"] == ["web01"]
    assert meta["adhoc"]["what"] == {"playbook": item,
                                     "extravars": {"who_wrote": "lab", "lab_password": "********"}}
    leaked = subprocess.run(["grep", "-rl", "Never-Written-4242", str(run_dir)], capture_output=True, text=True,
                            check=False)
    assert leaked.stdout == "", f"a secret -e value was written: {leaked.stdout}"
    # For real: written, changed.
    proc = place.maintctl("play", "--client", "demo", "adhoc_touch.yml", "--limit", "web01", "-e", "who_wrote=lab")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert on_web01("cat", PLAY_FILE).stdout == "written by lab\n"
    assert _adhoc_task(place, _run_id(proc), item, check=False)["changed"] == 1

    # One module: check mode first, then for real.
    module = ("adhoc", "--client", "demo", "--limit", "web01", "-m", "ansible.builtin.file",
              "-a", f"path={MODULE_FILE} state=touch mode=0600")
    proc = place.maintctl(*module, "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert on_web01("test", "-e", MODULE_FILE).returncode == 1, "check mode touched the file"
    assert _adhoc_task(place, _run_id(proc), "ansible.builtin.file", check=True)["changed"] == 0
    proc = place.maintctl(*module)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert on_web01("test", "-f", MODULE_FILE).returncode == 0
    task = _adhoc_task(place, _run_id(proc), "ansible.builtin.file", check=False)
    assert task["changed"] == 1
    meta = yaml.safe_load((Path(_recorded(place, _run_id(proc))[0]["run_dir"]) / "run.json").read_text("utf-8"))
    assert meta["adhoc"]["what"]["module"] == "ansible.builtin.file"
    assert meta["adhoc"]["what"]["args"] == f"path={MODULE_FILE} state=touch mode=0600"

    # Both are in web01's history, newest first, with their evidence.
    proc = place.maintctl("history", "--client", "demo", "--host", "web01", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    timeline = json.loads(proc.stdout)
    events = timeline["events"] if isinstance(timeline, dict) else timeline
    assert any("ansible.builtin.file" in json.dumps(e) for e in events)
    assert any("adhoc_touch.yml" in json.dumps(e) for e in events)

    # An intervention a person did, linked to the module's result, is in the month's report with its cost.
    proc = place.maintctl("intervention", "add", "--client", "demo", "--host", "web01", "--summary",
                          "Cleaned the web01 spool by hand", "--minutes", "45", "--kind", "corrective",
                          "--result", str(task["id"]), "--as", "tech1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = place.home / "report"
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    proc = place.maintctl("report", "--client", "demo", "--period", month, "--format", "json", "--out", str(out))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    doc = json.loads(next(out.glob("*.json")).read_text(encoding="utf-8"))
    manual = [i for i in doc["interventions"] if i["source"] == "manual"]
    assert [(i["host"], i["minutes"], i["who"]) for i in manual] == [("web01", 45, "tech1")]
    rate = yaml.safe_load((place.inventories / "demo" / "group_vars" / "all" / "policy.yml").read_text(
        encoding="utf-8"))["maint_policy"]["report"]["technician_rate"]
    assert manual[0]["cost"] == pytest.approx(45 / 60 * rate)


def test_a_new_client_in_one_command_runs_in_check_mode(place: Place) -> None:
    proc = place.maintctl("client", "new", "adhoclab", "--name", "Adhoc Lab SAS", "--timezone", "Europe/Paris",
                          "--locale", "fr")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "next steps:" in proc.stdout and (place.vault / "adhoclab.pass").is_file()
    folder = place.inventories / "adhoclab"
    hosts = yaml.safe_load((folder / "hosts.yml").read_text(encoding="utf-8"))
    hosts["all"]["children"]["linux"]["hosts"] = {"web01": {"ansible_host": "198.51.100.11"}}
    (folder / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    shutil.copy2(ROOT / "inventories" / "demo" / "group_vars" / "all" / "connection.yml",
                 folder / "group_vars" / "all" / "connection.yml")
    proc = place.maintctl("validate", "--client", "adhoclab")
    assert proc.returncode == 0 and "adhoclab: ok (1 hosts)" in proc.stdout, proc.stdout + proc.stderr
    proc = place.maintctl("run", "--client", "adhoclab", "--check", "--only", "hardware")
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    run, results = _recorded(place, _run_id(proc))
    assert (run["client"], run["status"], run["check_mode"]) == ("adhoclab", "completed", 1)
    assert {r["host"] for r in results} == {"web01"}
    assert any(r["check_id"] == "run.reachability" and r["status"] == "ok" for r in results)
    assert any(r["check_id"].startswith("hardware.") for r in results)
    proc = place.maintctl("client", "list")
    assert proc.returncode == 0
    line = next(x for x in proc.stdout.splitlines() if x.startswith("adhoclab "))
    assert line.split()[1:3] == ["1", "Europe/Paris"] and "adhoc hardware completed (check)" in line


def test_refusals_are_one_line_exit_2_and_run_nothing(place: Place, tmp_path: Path) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text(PLAYBOOK, encoding="utf-8")
    (place.inventories / "demo" / "playbooks" / "link.yml").symlink_to(outside)
    other = place.inventories / "other"
    other.mkdir()
    (other / "hosts.yml").write_text("all:\n  hosts:\n    othersrv01:\n      ansible_host: 127.0.0.1\n")
    cases = [
        (("play", "--client", "demo", str(outside), "--limit", "web01"), "outside the client's folder"),
        (("play", "--client", "demo", "link.yml", "--limit", "web01"), "outside the client's folder"),
        (("adhoc", "--client", "demo", "--limit", "linux", "-m", "ansible.builtin.file",
          "-a", f"path={MODULE_FILE} state=touch"), "confirm with --yes"),
        (("adhoc", "--client", "demo", "--limit", "othersrv01", "-m", "ansible.builtin.ping"),
         "othersrv01 is a host of client 'other'"),
    ]
    for argv, message in cases:
        proc = place.maintctl(*argv)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert proc.stdout == ""
    assert not (place.home / "runs").exists()
    assert on_web01("test", "-e", MODULE_FILE).returncode == 1
