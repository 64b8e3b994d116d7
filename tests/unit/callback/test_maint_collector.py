"""The collector callback, exercised through real ansible-playbook runs on localhost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_valid_results

ROOT = Path(__file__).resolve().parents[3]
SECRET = "s3cr3t-Value-4711"

PLAYBOOK = f"""
- name: Collector test
  hosts: all
  gather_facts: false
  tasks:
    - name: Reach every host
      ansible.builtin.ping:
    - name: Emit two results
      emit_results:
        secret: {SECRET}
        results:
          - {{check: test.alpha, item: one, status: ok, summary: first}}
          - {{check: test.beta, item: two, status: critical, summary: second, observed: {{value: 3}}}}
      when: inventory_hostname == 'localhost'
    - name: A no_log task's results are never read
      emit_results:
        results: [{{check: test.hidden, status: warning, summary: "{SECRET}"}}]
      no_log: true
      when: inventory_hostname == 'localhost'
    - name: Loop items carry results too
      emit_results:
        results: [{{check: test.loop, item: "{{{{ item }}}}", status: ok, summary: looped}}]
      loop: [a, b]
      when: inventory_hostname == 'localhost'
    - name: A failing task becomes run.task_failed
      emit_results:
        fail: true
        results: [{{check: test.partial, status: warning, summary: before failing}}]
      when: inventory_hostname == 'localhost'
"""

INVENTORY = """
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
    ghost:
      ansible_host: 127.0.0.1
      ansible_port: 1
      ansible_connection: ssh
"""


def _env(results: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_LIBRARY=str(ROOT / "tests" / "fixtures" / "ansible" / "library"),
        ANSIBLE_MODULE_UTILS=str(ROOT / "plugins" / "module_utils"),
        MAINT_RESULTS_FILE=str(results),
        MAINT_CLIENT="acme",
        MAINT_RUN_ID="run-1",
    )
    return env


def _playbook(tmp_path: Path, text: str) -> tuple[Path, Path]:
    book = tmp_path / "play.yml"
    book.write_text(text, encoding="utf-8")
    inv = tmp_path / "inv.yml"
    inv.write_text(INVENTORY, encoding="utf-8")
    return book, inv


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _ansible_playbook() -> str:
    return str(Path(sys.executable).parent / "ansible-playbook")


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    tmp = tmp_path_factory.mktemp("collector")
    book, inv = _playbook(tmp, PLAYBOOK)
    results = tmp / "results.jsonl"
    proc = subprocess.run([_ansible_playbook(), "-i", str(inv), str(book)], env=_env(results),
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0  # a task failed and a host was unreachable
    return _read(results), results


def test_results_are_collected_with_client_host_and_run(collected: tuple[list[dict[str, Any]], Path]) -> None:
    records, _ = collected
    by_check = {(r["host"], r["check"], r["item"]): r for r in records}
    alpha = by_check[("localhost", "test.alpha", "one")]
    assert (alpha["client"], alpha["run_id"], alpha["status"]) == ("acme", "run-1", "ok")
    assert by_check[("localhost", "test.beta", "two")]["observed"] == {"value": 3}
    assert ("localhost", "test.loop", "a") in by_check and ("localhost", "test.loop", "b") in by_check
    assert_valid_results(records)


def test_failures_and_unreachable_hosts_become_results(collected: tuple[list[dict[str, Any]], Path]) -> None:
    records, _ = collected
    failed = [r for r in records if r["check"] == "run.task_failed"]
    assert len(failed) == 1 and failed[0]["host"] == "localhost" and failed[0]["status"] == "unknown"
    assert "emit_results was asked to fail" in failed[0]["summary"]
    # Results carried by the failing task are kept.
    assert any(r["check"] == "test.partial" for r in records)
    ghost = [r for r in records if r["host"] == "ghost"]
    assert [(r["check"], r["status"]) for r in ghost] == [("run.reachability", "critical")]
    # the summary is the English rendering of the message the report translates
    assert ghost[0]["message"]["id"] == "host unreachable: %(reason)s"
    assert ghost[0]["summary"] == "host unreachable: " + ghost[0]["message"]["params"]["reason"]
    local = [r for r in records if r["host"] == "localhost" and r["check"] == "run.reachability"]
    assert [r["status"] for r in local] == ["ok"]
    assert [r["message"] for r in local] == [{"id": "host answered", "params": {}}]


def test_no_secret_and_no_no_log_result_is_written(collected: tuple[list[dict[str, Any]], Path]) -> None:
    records, path = collected
    assert not any(r["check"] == "test.hidden" for r in records)
    assert SECRET not in path.read_text(encoding="utf-8")
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_results_survive_sigkill_of_the_controller(tmp_path: Path) -> None:
    book, inv = _playbook(tmp_path, """
- name: Killed mid-run
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Emit
      emit_results:
        results: [{check: test.before_kill, status: warning, summary: arrived before the kill}]
    - name: Wait to be killed
      ansible.builtin.command: sleep 60
      changed_when: false
""")
    results = tmp_path / "results.jsonl"
    proc = subprocess.Popen([_ansible_playbook(), "-i", str(inv), str(book)], env=_env(results),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (results.exists() and results.stat().st_size):
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    records = _read(results)
    assert [r["check"] for r in records] == ["test.before_kill"]


def test_collector_is_silent_without_a_results_file(tmp_path: Path) -> None:
    book, inv = _playbook(tmp_path, PLAYBOOK)
    env = _env(tmp_path / "unused.jsonl")
    del env["MAINT_RESULTS_FILE"]
    subprocess.run([_ansible_playbook(), "-i", str(inv), "--limit", "localhost", str(book)], env=env,
                   capture_output=True, check=False)
    assert list(tmp_path.glob("*.jsonl")) == []


def _collector_module() -> Any:
    import importlib.util

    path = Path(__file__).resolve().parents[3] / "plugins" / "callback" / "maint_collector.py"
    spec = importlib.util.spec_from_file_location("maint_collector_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# What OpenSSH 9.2 (Debian 12) printed through Ansible, recorded on the lab with a swapped key
# for web01 and, for the second, with web01's line removed from known_hosts.
CHANGED = ('Failed to connect to the host via ssh: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n'
           '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n'
           '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\nIT IS POSSIBLE THAT SOMEONE IS DOING '
           'SOMETHING NASTY!\r\n... Host key for 198.51.100.11 has changed and you have requested strict checking.'
           '\r\nHost key verification failed.')
UNKNOWN = ('Failed to connect to the host via ssh: No ED25519 host key is known for 198.51.100.11 and you have '
           'requested strict checking.\r\nHost key verification failed.')


def test_a_refused_host_key_says_so_and_what_to_do() -> None:
    module = _collector_module()
    kind, summary, remediation = module._host_key_problem({"msg": CHANGED, "unreachable": True})
    assert kind == "changed" and summary.english().startswith("host key changed") and "known_hosts" in remediation
    assert summary.as_dict() == {"id": summary.english(), "params": {}}  # a message of its own, for the report
    kind, summary, _ = module._host_key_problem({"msg": UNKNOWN})
    assert kind == "unknown" and summary.english().startswith("host key unknown")
    assert module._host_key_problem({"msg": "Failed to connect to the host via ssh: Connection timed out"}) is None


ADHOC_PLAYBOOK = """
- name: An ad hoc playbook
  hosts: all
  gather_facts: false
  tasks:
    - name: Write a file
      ansible.builtin.copy:
        content: "ad hoc\\n"
        dest: "{{ adhoc_dest }}"
        mode: "0600"
    - name: Only on a ghost
      ansible.builtin.debug:
        msg: skipped here
      when: inventory_hostname == 'nobody'
"""


def _adhoc(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["host"]: r for r in records if r["check"] == "adhoc.task"}


def test_an_adhoc_run_gets_one_result_per_host(tmp_path: Path) -> None:
    book, inv = _playbook(tmp_path, ADHOC_PLAYBOOK)
    dest = tmp_path / "written.txt"
    base = [_ansible_playbook(), "-i", str(inv), str(book), "-e", f"adhoc_dest={dest}",
            "-e", "maint_adhoc_item=playbooks/touch.yml"]
    # Check mode first: nothing written, nothing "changed", but it says what would change.
    checked = tmp_path / "checked.jsonl"
    subprocess.run([*base, "--check"], env=_env(checked), capture_output=True, check=False)
    assert not dest.exists()
    records = _read(checked)
    assert_valid_results(records)
    per_host = _adhoc(records)
    assert set(per_host) == {"localhost", "ghost"}
    local = per_host["localhost"]
    assert (local["status"], local["changed"], local["item"]) == ("ok", False, "playbooks/touch.yml")
    assert local["observed"] == {"ok": 1, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 1,
                                 "check_mode": True}
    assert "would change (check mode: nothing changed)" in local["summary"]
    ghost = per_host["ghost"]
    assert (ghost["status"], ghost["changed"], ghost["observed"]["unreachable"]) == ("critical", False, 1)
    # For real: changed, then nothing more to change.
    real = tmp_path / "real.jsonl"
    subprocess.run(base, env=_env(real), capture_output=True, check=False)
    assert dest.read_text(encoding="utf-8") == "ad hoc\n"
    local = _adhoc(_read(real))["localhost"]
    assert (local["status"], local["changed"], local["observed"]["changed"]) == ("ok", True, 1)
    again = tmp_path / "again.jsonl"
    subprocess.run(base, env=_env(again), capture_output=True, check=False)
    local = _adhoc(_read(again))["localhost"]
    assert (local["changed"], local["summary"]) == (False, "playbooks/touch.yml: ok, nothing changed "
                                                    "(ok 1, changed 0, failed 0, unreachable 0, skipped 1)")


def test_an_adhoc_module_gets_its_result_and_a_failure_is_critical(tmp_path: Path) -> None:
    _, inv = _playbook(tmp_path, ADHOC_PLAYBOOK)
    results = tmp_path / "results.jsonl"
    ansible = str(Path(sys.executable).parent / "ansible")
    subprocess.run([ansible, "-i", str(inv), "localhost", "-m", "ansible.builtin.command", "-a", "false",
                    "-e", "maint_adhoc_item=ansible.builtin.command"],
                   env={**_env(results), "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}, capture_output=True, check=False)
    records = _read(results)
    assert_valid_results(records)
    local = _adhoc(records)["localhost"]
    assert (local["status"], local["item"], local["observed"]["failed"]) == ("critical", "ansible.builtin.command", 1)
    assert any(r["check"] == "run.task_failed" for r in records)


def test_a_normal_run_has_no_adhoc_result(collected: tuple[list[dict[str, Any]], Path]) -> None:
    records, _ = collected
    assert not _adhoc(records)
