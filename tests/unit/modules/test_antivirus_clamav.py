"""Tests of plugins/modules/antivirus_clamav.py helpers with the controller's real ClamAV.

The controller has clamav and clamav-testfiles (Makefile APT_PACKAGES): the EICAR test,
sigtool --info and the timeout handling run for real here. The whole module runs on the
lab hosts in tests/integration/test_antivirus_lab.py and in the role's molecule scenario.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from maint_utils import antivirus_clamav, antivirus_decide, maint_result
from tests.conftest import process_survives

ROOT = Path(__file__).resolve().parents[3]
TESTFILE = Path("/usr/share/clamav-testfiles/clam.exe")
EICAR_NDB = ("Lab.Test.EICAR-1:0:*:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e"
             "444152442d414e544956495255532d544553542d46494c452124482b482a")

needs_clamav = pytest.mark.skipif(not (shutil.which("clamscan") and shutil.which("sigtool") and TESTFILE.exists()),
                                  reason="clamav and clamav-testfiles are not installed on this controller")


@pytest.fixture(scope="module")
def mod():
    sys.modules.setdefault("ansible.module_utils.maint_result", maint_result)
    sys.modules.setdefault("ansible.module_utils.antivirus_decide", antivirus_decide)
    sys.modules.setdefault("ansible.module_utils.antivirus_clamav", antivirus_clamav)
    spec = importlib.util.spec_from_file_location("antivirus_clamav_under_test",
                                                  ROOT / "plugins/modules/antivirus_clamav.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def lab_db(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    hdb = subprocess.run(["sigtool", "--md5", str(TESTFILE)], capture_output=True, text=True, check=True).stdout
    (db / "lab.hdb").write_text(hdb)
    (db / "lab.ndb").write_text(EICAR_NDB + "\n")
    return db


def test_eicar_string_is_assembled_not_stored(mod):
    source = (ROOT / "plugins/modules/antivirus_clamav.py").read_text()
    assert mod.EICAR not in source
    assert len(mod.EICAR) == 68
    assert mod.EICAR.encode().hex() == EICAR_NDB.rsplit(":", 1)[1]


@needs_clamav
def test_detection_test_detects_and_cleans_up(mod, lab_db):
    test = mod.detection_test({"clamscan": shutil.which("clamscan")}, str(lab_db), False)
    assert test["ran"] is True
    assert test["rc"] == 1
    assert test["detection"] == "Lab.Test.EICAR-1.UNOFFICIAL"
    assert test["removed"] is True
    assert not os.path.exists(os.path.dirname(test["path"]))
    results = antivirus_clamav.evaluate_clamav(
        {"installed": True, "databases": [{"file": "lab.ndb", "build_time": time.time(), "source": "mtime"}],
         "daemon_running": False, "on_access_running": False, "detection_test": test, "now": time.time()},
        {"detection_test": True})
    assert [r["status"] for r in results if r["check"] == "antivirus.detection_test"] == ["ok"]


@needs_clamav
def test_detection_test_without_eicar_signature_is_critical(mod, lab_db):
    (lab_db / "lab.ndb").unlink()
    test = mod.detection_test({"clamscan": shutil.which("clamscan")}, str(lab_db), False)
    assert (test["rc"], test["detection"], test["removed"]) == (0, None, True)
    results = antivirus_clamav.evaluate_clamav(
        {"installed": True, "databases": [{"file": "lab.hdb", "build_time": time.time(), "source": "mtime"}],
         "daemon_running": False, "on_access_running": False, "detection_test": test, "now": time.time()},
        {"detection_test": True})
    assert [r["status"] for r in results if r["check"] == "antivirus.detection_test"] == ["critical"]


@needs_clamav
def test_detection_test_with_empty_database_reports_the_error(mod, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    test = mod.detection_test({"clamscan": shutil.which("clamscan")}, str(empty), False)
    assert test["rc"] == 2
    assert "database" in test["error"].lower() or "error" in test["error"].lower()
    assert test["removed"] is True


def test_detection_test_without_scanner(mod):
    assert mod.detection_test({}, "/var/lib/clamav", False) == {"ran": False,
                                                               "reason": "no clamscan or clamdscan on the host"}


@needs_clamav
def test_databases_reads_sigtool_headers_and_mtimes(mod, lab_db, tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    shutil.copy(lab_db / "lab.hdb", build / "daily.hdb")
    shutil.copy(lab_db / "lab.ndb", build / "daily.ndb")
    (build / "COPYING").write_text("lab database\n")
    subprocess.run(["sigtool", "--build=daily.cud", "--unsigned", "--cvd-version=7", "--max-bad-sigs=0",
                    f"--datadir={build}"], cwd=build, input="labbuilder\n", text=True, capture_output=True,
                   check=True, timeout=60)
    shutil.copy(build / "daily.cud", lab_db / "daily.cud")
    old = time.time() - 20 * 86400
    os.utime(lab_db / "lab.hdb", (old, old))
    (lab_db / "notes.txt").write_text("not a database")
    found = {db["file"]: db for db in mod.databases(str(lab_db), shutil.which("sigtool"))}
    assert sorted(found) == ["daily.cud", "lab.hdb", "lab.ndb"]
    assert found["daily.cud"]["source"] == "sigtool"
    assert found["daily.cud"]["version"] == 7
    assert found["daily.cud"]["signatures"] == 2
    assert abs(found["daily.cud"]["build_time"] - time.time()) < 600
    assert found["lab.hdb"]["source"] == "mtime"
    assert found["lab.hdb"]["build_time"] == int(old)
    assert found["lab.hdb"]["signatures"] == 1


def test_run_bounded_kills_the_whole_group(mod, tmp_path):
    marker = tmp_path / "child.pid"
    started = time.time()
    rc, out, timed_out, duration = mod.run_bounded(
        ["sh", "-c", f"sleep 30 & echo $! > {marker}; wait"], 1)
    assert timed_out is True
    assert time.time() - started < 10
    child = int(marker.read_text())
    assert not process_survives(child), "the grandchild survived the timeout"


def test_run_bounded_reports_a_missing_command(mod):
    rc, out, timed_out, _ = mod.run_bounded(["/nonexistent/freshclam"], 5)
    assert rc is None and timed_out is False and "No such file" in out


def test_remove_stale_tmp_only_touches_new_tmp_folders(mod, tmp_path):
    old = tmp_path / "tmp.0123abcd"
    old.mkdir()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    since = time.time()
    (tmp_path / "tmp.89abcdef").mkdir()
    (tmp_path / "tmp.notours").mkdir()
    (tmp_path / "lab.hdb").write_text("x")
    assert mod.remove_stale_tmp(str(tmp_path), since) == ["tmp.89abcdef"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.hdb", "tmp.0123abcd", "tmp.notours"]


def test_freshclam_not_started_twice(mod):
    update = mod.freshclam_update({"freshclam": "/usr/bin/freshclam"}, {"freshclam": [123]}, 5, "/var/lib/clamav")
    assert "already running" in update["blocked"]
    assert mod.freshclam_update({}, {}, 5, "/var/lib/clamav") == {"blocked": "freshclam is not installed"}


def test_read_conf(mod, tmp_path):
    conf = tmp_path / "freshclam.conf"
    conf.write_text("# comment\nDatabaseDirectory /srv/clamav\nUpdateLogFile /var/log/fc.log\nExample\n")
    assert mod.read_conf(str(conf)) == {"DatabaseDirectory": "/srv/clamav", "UpdateLogFile": "/var/log/fc.log"}
    assert mod.read_conf(str(tmp_path / "missing.conf")) == {}


def test_processes_finds_this_process(mod):
    procs = mod.processes()
    assert os.getpid() in [pid for pids in procs.values() for pid in pids]


def _fake(folder, name, body):
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_a_hung_sigtool_is_bounded(mod, tmp_path, monkeypatch):
    db = tmp_path / "db"
    db.mkdir()
    (db / "daily.cvd").write_bytes(b"ClamAV-VDB:garbage")
    sigtool = _fake(tmp_path / "bin", "sigtool", "sleep 60\n")
    monkeypatch.setattr(mod, "TOOL_TIMEOUT", 1)
    started = time.time()
    found = mod.databases(str(db), sigtool)
    assert time.time() - started < 10
    assert found[0]["file"] == "daily.cvd" and found[0]["source"] == "mtime"


def test_a_hung_scanner_times_out_and_the_eicar_file_is_removed(mod, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(mod.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(mod, "SCAN_TIMEOUT", 1)
    clamscan = _fake(tmp_path / "bin", "clamscan", "sleep 60\n")
    test = mod.detection_test({"clamscan": clamscan}, str(tmp_path), False)
    assert test["error"] == "clamscan did not finish within 1 s"
    assert test["removed"] is True
    assert not list(tmp_path.glob("maint-eicar-*"))
    result = antivirus_clamav.evaluate_clamav({"installed": True, "detection_test": test, "databases": [],
                                               "now": 0}, {"detection_test": True})
    detection = next(r for r in result if r["check"] == "antivirus.detection_test")
    assert detection["status"] == "critical" and "did not finish within 1 s" in detection["summary"]


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_eicar_file_removed_when_the_module_is_terminated(tmp_path, signame):
    """A task timeout or a lost connection ends the module with a signal: the file must still go."""
    pidfile = tmp_path / "scanner.pid"
    clamscan = _fake(tmp_path / "bin", "clamscan", f'echo $$ > "{pidfile}"; exec sleep 60\n')
    script = f"""
import importlib.util, sys
from maint_utils import antivirus_clamav, antivirus_decide, maint_result
from tests.conftest import process_survives
sys.modules["ansible.module_utils.maint_result"] = maint_result
sys.modules["ansible.module_utils.antivirus_decide"] = antivirus_decide
sys.modules["ansible.module_utils.antivirus_clamav"] = antivirus_clamav
spec = importlib.util.spec_from_file_location("cf", {str(ROOT / "plugins/modules/antivirus_clamav.py")!r})
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
mod.detection_test({{"clamscan": {clamscan!r}}}, "/nonexistent", False)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "TMPDIR": str(tmp_path)})
    deadline = time.time() + 30
    while not pidfile.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert pidfile.exists(), "the scanner never started"
    time.sleep(0.2)
    assert list(tmp_path.glob("maint-eicar-*/eicar.com")), "the EICAR file should exist during the scan"
    proc.send_signal(getattr(__import__("signal"), signame))
    assert proc.wait(timeout=20) != 0
    assert not list(tmp_path.glob("maint-eicar-*")), "the EICAR file outlived the module"
    assert not process_survives(int(pidfile.read_text())), "the scanner outlived the module"


def test_eicar_folders_left_by_a_killed_run_are_swept(mod, tmp_path):
    old = time.time() - 3600
    for name in ("maint-eicar-abc123", "maint-eicar-fresh1", "other-eicar-x"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "eicar.com").write_text("x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "maint-eicar-link").symlink_to(tmp_path / "elsewhere")
    for name in ("maint-eicar-abc123", "other-eicar-x", "maint-eicar-link"):
        os.utime(tmp_path / name, (old, old), follow_symlinks=False)
    assert mod.remove_stale_eicar(str(tmp_path), time.time() - 600) == ["maint-eicar-abc123"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "maint-eicar-fresh1", "maint-eicar-link",
                                                        "other-eicar-x"]
