"""--worker: what is sent to another machine, and how the worker command is read.

The real transmit | worker | process runs are in tests/integration/test_orchestrator_lab.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from maintcore.errors import InvalidInput
from maintctl import lab, worker

ROOT = Path(__file__).resolve().parents[3]


def test_the_stage_holds_the_project_and_this_client_only(tmp_path: Path) -> None:
    worker.stage(tmp_path, ROOT / "inventories" / "demo")
    assert sorted(p.name for p in (tmp_path / "project").iterdir()) == [
        "ansible.cfg", "playbooks", "plugins", "roles"]  # Ansible content only: no orchestrator code
    staged = {p.relative_to(tmp_path / "inventory") for p in (tmp_path / "inventory").rglob("*")}
    source = {p.relative_to(ROOT / "inventories" / "demo") for p in (ROOT / "inventories" / "demo").rglob("*")}
    assert staged == source
    everything = [p.relative_to(tmp_path) for p in tmp_path.rglob("*")]
    assert not [p for p in everything if {"__pycache__", "molecule", "var", ".venv", "tests"} & set(p.parts)]
    assert (tmp_path / "project" / "roles" / "patch" / "meta" / "argument_specs.yml").is_file()
    assert (tmp_path / "project" / "plugins" / "module_utils" / "maint_window.py").is_file()
    assert (tmp_path / "project" / "plugins" / "module_utils" / "maint_loader.py").is_file()


@pytest.mark.parametrize(("text", "argv"), [
    ("ssh -T maint@site-b ansible-runner worker --delete", ["ssh", "-T", "maint@site-b", "ansible-runner", "worker",
                                                            "--delete"]),
    ("ssh -o 'ProxyJump=jump host' w; rm -rf /", ["ssh", "-o", "ProxyJump=jump host", "w;", "rm", "-rf", "/"]),
])
def test_the_worker_command_is_an_argument_list(text: str, argv: list[str]) -> None:
    assert worker.parse_worker(text) == argv
    assert worker.parse_worker(None) is None


@pytest.mark.parametrize(("text", "message"), [("", "--worker: empty command"),
                                               ("ssh 'host", "No closing quotation")])
def test_a_bad_worker_command_is_exit_2(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        worker.parse_worker(text)


def test_the_worker_does_not_inherit_the_controllers_ansible_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_ROLES_PATH", "/controller/roles")
    monkeypatch.setenv("MAINT_SMTP_PASSWORD", "secret")
    monkeypatch.setenv("PATH", "/usr/bin")
    env = worker.worker_environment()
    assert "ANSIBLE_ROLES_PATH" not in env and "MAINT_SMTP_PASSWORD" not in env and env["PATH"] == "/usr/bin"


def _client(tmp_path: Path) -> Path:
    inv = tmp_path / "inventories"
    shutil.copytree(ROOT / "inventories" / "demo", inv / "acme")
    (tmp_path / "vault").mkdir()
    (tmp_path / "vault" / "bravo.pass").write_text("bravo-only-password\n")
    return inv / "acme"


def test_a_symlink_out_of_the_client_folder_is_never_staged(tmp_path: Path) -> None:
    client = _client(tmp_path)
    # A link in acme's folder to another client's vault password would carry it to the worker.
    (client / "group_vars" / "all" / "bravo.yml").symlink_to(tmp_path / "vault" / "bravo.pass")
    stage = tmp_path / "stage"
    with pytest.raises(InvalidInput) as err:
        worker.stage(stage, client)
    message = str(err.value)
    assert message.startswith(f"{client / 'group_vars' / 'all' / 'bravo.yml'}: symlink to ")
    assert "outside" in message and "\n" not in message and "bravo-only-password" not in message
    assert not [p for p in stage.rglob("*") if p.is_file() and b"bravo-only" in p.read_bytes()]


def test_a_symlinked_folder_out_of_the_client_folder_is_refused(tmp_path: Path) -> None:
    client = _client(tmp_path)
    (client / "host_vars" / "elsewhere").symlink_to(tmp_path / "vault", target_is_directory=True)
    with pytest.raises(InvalidInput, match="host_vars/elsewhere: symlink to .*outside"):
        worker.stage(tmp_path / "stage", client)


def test_a_symlink_that_stays_inside_is_staged_and_a_loop_is_refused(tmp_path: Path) -> None:
    client = _client(tmp_path)
    (client / "host_vars" / "web03.yml").symlink_to("web02.yml")
    worker.stage(tmp_path / "stage", client)
    staged = tmp_path / "stage" / "inventory" / "host_vars" / "web03.yml"
    assert staged.read_text() == (client / "host_vars" / "web02.yml").read_text()
    (client / "host_vars" / "loop").symlink_to("..", target_is_directory=True)
    with pytest.raises(InvalidInput, match="host_vars/loop: symlink to its own parent folder"):
        worker.stage(tmp_path / "stage2", client)


def test_a_dangling_symlink_is_refused(tmp_path: Path) -> None:
    client = _client(tmp_path)
    (client / "host_vars" / "gone.yml").symlink_to("nothing-here.yml")
    with pytest.raises(InvalidInput, match="host_vars/gone.yml: symlink to .*, which does not exist"):
        worker.stage(tmp_path / "stage", client)


def test_the_lab_worker_command_checks_the_workers_host_key_with_the_controllers_own_key() -> None:
    argv = worker.parse_worker(lab.worker_command("worker01"))
    assert argv is not None and argv[:2] == ["ssh", "-T"]
    assert argv[argv.index("-i") + 1].endswith(f"/lab/ssh/{lab.WORKER_KEY}")  # not the demo hosts' key
    assert "StrictHostKeyChecking=yes" in argv and any(a.startswith("UserKnownHostsFile=") for a in argv)
    assert argv[-4:] == [f"maint@{lab.workers()['worker01']['ip']}", "ansible-runner", "worker", "--delete"]
    assert lab.workers()["worker01"]["ip"] not in {h["ip"] for h in lab.spec()["hosts"].values()}
