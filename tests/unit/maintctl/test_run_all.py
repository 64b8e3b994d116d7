"""``maintctl run --all`` without the lab: a fake child per client, then one real run on localhost.

The fake child (``fake_child.py`` written in ``tmp_path``) is what :func:`run_all.run_clients` starts
instead of ``maintctl``: it reads what each client must do (sleep, exit code, hang, a grandchild,
ignore SIGTERM) from a JSON file, prints the lines ``maintctl run --client`` prints, and marks in
files when it runs, so the tests measure concurrency from what the children saw, not from wall time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maintcore.store import Store
from maintctl import cli, run_all
from tests.conftest import process_survives

ROOT = Path(__file__).resolve().parents[3]

FAKE = r'''
import json, os, signal, subprocess, sys, time
from pathlib import Path

spec_file, rest = sys.argv[1], sys.argv[2:]
client = rest[rest.index("--client") + 1]
spec = json.loads(Path(spec_file).read_text()).get(client, {})
work = Path(spec_file).parent
(work / "pids").mkdir(exist_ok=True)
(work / "pids" / client).write_text(str(os.getpid()))
(work / "argv").mkdir(exist_ok=True)
(work / "argv" / client).write_text(json.dumps(rest))
if spec.get("ignore_term"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if spec.get("grandchild"):
    kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    (work / f"{client}.grandchild").write_text(str(kid.pid))
running = work / "running"
running.mkdir(exist_ok=True)
mark = running / client
mark.write_text("")
peak = 0
end = time.monotonic() + spec.get("sleep", 0.0)
print(f"run R-{client}: client {client}, {spec.get('hosts', 2)} hosts, folder /nowhere", flush=True)
while time.monotonic() < end or spec.get("hang"):
    peak = max(peak, sum(1 for _ in running.iterdir()))
    time.sleep(0.02)
peak = max(peak, sum(1 for _ in running.iterdir()))
(work / "peaks").mkdir(exist_ok=True)
(work / "peaks" / client).write_text(str(peak))
mark.unlink()
code = spec.get("code", 0)
if code == 2:
    print("maintctl: error: " + spec.get("error", "bad policy"), file=sys.stderr)
else:
    print(f"run R-{client}: completed, 4 results ({spec.get('counts', 'ok 4')})")
sys.exit(code)
'''


@pytest.fixture()
def fake(tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    """(command, spec file): the fake child's command line and where to write what each client does."""
    work = tmp_path / "fake"
    work.mkdir()
    script = work / "fake_child.py"
    script.write_text(FAKE)
    spec = work / "spec.json"
    spec.write_text("{}")
    yield [sys.executable, str(script), str(spec)], spec
    # Whatever a failed test left: no fake child (with its group) nor grandchild outlives the test.
    for pid_file, mark, kill in [*((p, str(script), os.killpg) for p in work.glob("pids/*")),
                                 *((p, "time.sleep(300)", os.kill) for p in work.glob("*.grandchild"))]:
        pid = int(pid_file.read_text())
        try:
            if mark in Path(f"/proc/{pid}/cmdline").read_text():
                kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _table(out: str) -> list[str]:
    """The summary table's lines, from its header on."""
    lines = out.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.split()[:3] == ["client", "exit", "meaning"]):]


def _plans(*names: str) -> list[run_all.Plan]:
    return [run_all.Plan(name, ["--only", "hardware", "--check"]) for name in names]


def _run(fake: tuple[list[str], Path], spec: dict[str, Any], jobs: int, tmp_path: Path, **kw: Any
         ) -> dict[str, run_all.Outcome]:
    command, spec_file = fake
    spec_file.write_text(json.dumps(spec))
    outcomes, signum = run_all.run_clients(_plans(*spec), jobs, command, tmp_path / "logs", echo=lambda _: None, **kw)
    assert signum == 0
    return {o.client: o for o in outcomes}


def test_n_at_a_time_as_the_children_saw_it(fake: tuple[list[str], Path], tmp_path: Path) -> None:
    spec = {f"c{i}": {"sleep": 0.6} for i in range(6)}
    out = _run(fake, spec, 2, tmp_path)
    assert [o.code for o in out.values()] == [0] * 6
    peaks = [int(p.read_text()) for p in (fake[1].parent / "peaks").iterdir()]
    assert len(peaks) == 6 and max(peaks) == 2
    # Each child got its own argument list, never a shell line.
    assert json.loads((fake[1].parent / "argv" / "c3").read_text()) == \
        ["run", "--client", "c3", "--only", "hardware", "--check"]


def test_one_at_a_time_never_overlaps(fake: tuple[list[str], Path], tmp_path: Path) -> None:
    out = _run(fake, {f"c{i}": {"sleep": 0.2} for i in range(3)}, 1, tmp_path)
    assert len(out) == 3
    assert {int(p.read_text()) for p in (fake[1].parent / "peaks").iterdir()} == {1}


def test_failing_hanging_and_invalid_clients_do_not_stop_the_others(fake: tuple[list[str], Path],
                                                                    tmp_path: Path) -> None:
    spec = {
        "a-ok": {"sleep": 0.2, "hosts": 3},
        "b-findings": {"code": 1, "counts": "critical 1, ok 2, warning 1"},
        "c-hang": {"hang": True, "grandchild": True},
        "d-invalid": {"code": 2, "error": "inventories/d/group_vars/all/policy.yml: bad"},
        "e-locked": {"code": 4},
        "f-ok": {"sleep": 0.3},
    }
    started = time.monotonic()
    out = _run(fake, spec, 2, tmp_path, timeout=1.5, grace=1.0)
    assert time.monotonic() - started < 20
    assert {name: (o.code, o.meaning) for name, o in out.items()} == {
        "a-ok": (0, "ok"), "b-findings": (1, "findings"), "c-hang": (3, "timeout"),
        "d-invalid": (2, "invalid input"), "e-locked": (4, "client locked"), "f-ok": (0, "ok"),
    }
    assert out["a-ok"].run_id == "R-a-ok" and out["a-ok"].hosts == 3 and out["a-ok"].findings == "none"
    assert out["b-findings"].findings == "critical 1, warning 1"
    assert out["d-invalid"].line == "maintctl: error: inventories/d/group_vars/all/policy.yml: bad"
    assert out["c-hang"].seconds >= 1.5
    grandchild = (fake[1].parent / "c-hang.grandchild").read_text()
    assert not process_survives(grandchild)
    assert run_all.worst([o.code for o in out.values()]) == 2


def test_a_hang_that_ignores_sigterm_is_killed_with_its_children_after_the_grace(
        fake: tuple[list[str], Path], tmp_path: Path) -> None:
    started = time.monotonic()
    out = _run(fake, {"stubborn": {"hang": True, "grandchild": True, "ignore_term": True}, "next": {}}, 1,
               tmp_path, timeout=1.0, grace=1.0)
    assert out["stubborn"].meaning == "timeout" and out["stubborn"].code == 3
    assert time.monotonic() - started >= 2.0  # timeout, then the whole grace: SIGTERM was ignored
    assert out["next"].code == 0  # started after the hang was ended
    assert not process_survives((fake[1].parent / "stubborn.grandchild").read_text())


def test_a_stray_grandchild_dies_with_its_client(fake: tuple[list[str], Path], tmp_path: Path) -> None:
    out = _run(fake, {"leaves-one": {"grandchild": True}}, 1, tmp_path)
    assert out["leaves-one"].code == 0
    assert not process_survives((fake[1].parent / "leaves-one.grandchild").read_text())


@pytest.mark.parametrize(("codes", "worst"), [
    ([0, 0], 0), ([0, 4], 4), ([4, 1, 0], 1), ([1, 3, 4], 3), ([3, 2, 1], 2), ([], 0), ([0, 7], 7), ([4, 7], 7),
])
def test_worst_exit_code_order(codes: list[int], worst: int) -> None:
    assert run_all.worst(codes) == worst


def test_default_jobs_follow_the_machine_and_the_clients() -> None:
    assert run_all.default_jobs(20, cpus=2) == 2
    assert run_all.default_jobs(20, cpus=16) == 4
    assert run_all.default_jobs(3, cpus=16) == 3
    assert run_all.default_jobs(0, cpus=1) == 1


def test_summary_table() -> None:
    outcomes = [
        run_all.Outcome("acme", 1, "findings", 65.0, "20261123T200500Z-a1b2c3", 12, "critical 2"),
        run_all.Outcome("bravo", 3, "timeout", 7200.0, "20261123T200501Z-d4e5f6", 3, ""),
        run_all.Outcome("charlie", 2, "invalid input", line="maintctl: error: bad"),
    ]
    lines = run_all.summary(outcomes, 2, 7300.0)
    assert lines[0].split() == ["client", "exit", "meaning", "duration", "run", "id", "hosts", "findings"]
    assert lines[1].split() == ["acme", "1", "findings", "1m05s", "20261123T200500Z-a1b2c3", "12", "critical", "2"]
    assert lines[2].split() == ["bravo", "3", "timeout", "2h00m00s", "20261123T200501Z-d4e5f6", "3", "-"]
    assert lines[3].split() == ["charlie", "2", "invalid", "input", "-", "-", "-", "-"]
    assert lines[-1] == "3 clients in 2h01m40s: findings 1, invalid input 1, timeout 1; exit 2 (invalid input)"
    assert len({line.index("exit") for line in lines[:1]}) == 1


def test_parse_output_reads_the_lines_of_maintctl_run() -> None:
    text = textwrap.dedent("""\
        run 20261202T053458Z-0b079f: client c1, 2 hosts, folder /h/runs/c1/20261202T053458Z-0b079f
        play: Hardware checks (Linux)
          h01: done (1/2) [Hardware checks (Linux)]
        run 20261202T053458Z-0b079f: completed, 20 results (ok 14, skipped 2, unknown 4)
          CRITICAL h01 hardware.disk_free /: 2% free
        results: /h/runs/c1/20261202T053458Z-0b079f/results.jsonl
        """)
    seen = run_all.parse_output(text)
    assert (seen["run_id"], seen["hosts"], seen["status"], seen["findings"]) == \
        ("20261202T053458Z-0b079f", 2, "completed", "unknown 4")
    assert run_all.parse_output("maintctl: error: unknown client 'x'\n")["line"] == "maintctl: error: unknown client 'x'"
    assert run_all.parse_output("")["hosts"] is None


@pytest.fixture()
def inventories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, maint_home: Path) -> Path:
    inv = tmp_path / "inventories"
    for name in ("acme", "bravo", "charlie"):
        (inv / name).mkdir(parents=True)
        (inv / name / "hosts.yml").write_text("all:\n  hosts:\n    h01:\n")
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    return inv


@pytest.mark.parametrize("argv", [
    ["--resume", "20261123T200500Z-a1b2c3"], ["--limit", "web*"], ["--var", "backup_seed=1"],
    ["--worker", "ssh -T maint@b ansible-runner worker"], ["--ignore-window"], ["--jobs", "0"],
    ["--only", "dns"], ["--timeout-per-client", "-1"],
])
def test_all_refuses_what_belongs_to_one_client_in_one_line(inventories: Path, argv: list[str],
                                                           capsys: pytest.CaptureFixture[str],
                                                           maint_home: Path) -> None:
    assert cli.main(["run", "--all", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("maintctl: error: ") and err.count("\n") == 1
    assert not (maint_home / "run-all").exists()


def test_all_and_client_are_mutually_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--all", "--client", "acme"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["run"])
    assert exc.value.code == 2
    assert cli.main(["run", "--client", "acme", "--jobs", "2"]) == 2
    assert "go with --all" in capsys.readouterr().err


def test_the_command_runs_every_client_and_prints_the_summary(inventories: Path, fake: tuple[list[str], Path],
                                                              monkeypatch: pytest.MonkeyPatch, maint_home: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    command, spec = fake
    spec.write_text(json.dumps({"acme": {}, "bravo": {"code": 1, "counts": "critical 1, ok 3"}, "charlie": {"code": 4}}))
    monkeypatch.setattr(run_all, "maintctl_command", lambda: command)
    assert cli.main(["run", "--all", "--only", "hardware", "--check", "--jobs", "9"]) == 1
    out = capsys.readouterr().out
    assert "run --all: 3 clients, 3 at a time" in out
    table = _table(out)
    assert [row.split()[:3] for row in table[1:4]] == [["acme", "0", "ok"], ["bravo", "1", "findings"],
                                                       ["charlie", "4", "client"]]
    assert table[4].endswith("exit 1 (findings)")
    assert json.loads((spec.parent / "argv" / "bravo").read_text()) == \
        ["run", "--client", "bravo", "--only", "hardware", "--check"]
    logs = list((maint_home / "run-all").glob("*/bravo.log"))
    assert len(logs) == 1 and oct(logs[0].stat().st_mode & 0o777) == "0o600"


def test_due_runs_only_the_clients_tick_would_start_and_records_no_tick(
        tmp_path: Path, fake: tuple[list[str], Path], monkeypatch: pytest.MonkeyPatch, maint_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    inv = tmp_path / "inventories"
    for name in ("acme", "bravo", "broken"):
        shutil.copytree(ROOT / "inventories" / "demo", inv / name)
    policy = inv / "bravo" / "group_vars" / "all" / "policy.yml"
    policy.write_text(policy.read_text().replace('maintenance: "Mon-Fri 21:00"', 'maintenance: "Sat 21:00"', 1))
    (inv / "broken" / "group_vars" / "all" / "policy.yml").write_text("maint_policy: {timezone: Nowhere/x}\n")
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-23T20:05:00Z")  # Mon 21:05 in Paris
    command, spec = fake
    monkeypatch.setattr(run_all, "maintctl_command", lambda: command)
    assert cli.main(["run", "--all", "--due", "--check"]) == 2  # the broken client
    out = capsys.readouterr().out
    assert "due: acme: hardware,antivirus,backup,patch due for maintenance Mon 2026-11-23 21:00 CET" in out
    assert "not due at 2026-11-23T20:05:00Z: bravo" in out
    assert sorted(p.name for p in (spec.parent / "argv").iterdir()) == ["acme"]
    assert json.loads((spec.parent / "argv" / "acme").read_text()) == \
        ["run", "--client", "acme", "--only", "hardware,antivirus,backup,patch", "--check"]
    assert [line.split()[:3] for line in out.splitlines() if line.startswith("broken ")] == [["broken", "2", "invalid"]]
    assert not (maint_home / "schedule").exists()


DRIVER = """
import sys
from maintctl import cli, run_all
run_all.GRACE_SECONDS = 1.0
command = sys.argv[1:]
run_all.maintctl_command = lambda: command
sys.exit(cli.main(["run", "--all", "--jobs", "2"]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_every_childs_group_and_exits_3(inventories: Path, fake: tuple[list[str], Path],
                                                     tmp_path: Path, sig: signal.Signals) -> None:
    command, spec = fake
    spec.write_text(json.dumps({"acme": {"hang": True, "grandchild": True},
                                "bravo": {"hang": True, "grandchild": True, "ignore_term": True},
                                "charlie": {}}))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.Popen([sys.executable, str(driver), *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not all((spec.parent / f"{c}.grandchild").exists() for c in ("acme", "bravo")):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr and proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, stderr
    rows = {line.split()[0]: line.split()[1:3] for line in stdout.splitlines()
            if line.split()[:1] in (["acme"], ["bravo"], ["charlie"])}
    assert rows == {"acme": ["3", "interrupted"], "bravo": ["3", "interrupted"], "charlie": ["3", "not"]}
    assert f"interrupted by {sig.name}" in stderr
    for client in ("acme", "bravo"):
        assert not process_survives((spec.parent / f"{client}.grandchild").read_text())
    assert not (spec.parent / "argv" / "charlie").exists()


LOCAL_HOSTS = """\
all:
  hosts:
{hosts}
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
"""
LOCAL_POLICY = """\
maint_policy:
  client_name: {name}
  timezone: Europe/Paris
  windows: ["Mon-Sun 00:00-24:00"]
"""


def write_local_client(inv: Path, name: str, hosts: int) -> None:
    """A client whose hosts are all this machine, reached with ``ansible_connection: local``."""
    folder = inv / name / "group_vars" / "all"
    folder.mkdir(parents=True)
    lines = "\n".join(f"    {name}-h{i:04d}:\n      ansible_host: 127.0.0.1" for i in range(hosts))
    (inv / name / "hosts.yml").write_text(LOCAL_HOSTS.format(hosts=lines))
    (folder / "policy.yml").write_text(LOCAL_POLICY.format(name=name))


@pytest.mark.slow
def test_two_real_clients_on_localhost_are_recorded(tmp_path: Path, maint_home: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    inv = tmp_path / "inventories"
    for name in ("alpha", "beta"):
        write_local_client(inv, name, 2)
    env = dict(os.environ, MAINT_INVENTORIES=str(inv))
    proc = subprocess.run([str(Path(sys.executable).parent / "maintctl"), "run", "--all", "--only", "hardware",
                           "--check", "--jobs", "2"], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    table = _table(proc.stdout)
    rows = {row.split()[0]: row.split() for row in table[1:3]}
    assert set(rows) == {"alpha", "beta"}
    with Store() as store:
        for name in ("alpha", "beta"):
            runs = store.runs(name)
            assert len(runs) == 1 and runs[0]["status"] == "completed"
            assert runs[0]["run_id"] in rows[name] and rows[name][5] == "2"
            assert store.results(name, runs[0]["run_id"])
