"""--worker: what is sent to another machine, and how the worker command is read.

The real transmit | worker | process runs are in tests/integration/test_orchestrator_lab.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maintctl import remote
from maintctl.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]


def test_the_stage_holds_the_project_and_this_client_only(tmp_path: Path) -> None:
    remote.stage(tmp_path, ROOT / "inventories" / "demo")
    assert sorted(p.name for p in (tmp_path / "project").iterdir()) == [
        "ansible.cfg", "playbooks", "plugins", "roles", "runner"]
    assert sorted(p.name for p in (tmp_path / "project" / "runner").iterdir()) == ["maintctl"]
    staged = {p.relative_to(tmp_path / "inventory") for p in (tmp_path / "inventory").rglob("*")}
    source = {p.relative_to(ROOT / "inventories" / "demo") for p in (ROOT / "inventories" / "demo").rglob("*")}
    assert staged == source
    everything = [p.relative_to(tmp_path) for p in tmp_path.rglob("*")]
    assert not [p for p in everything if {"__pycache__", "molecule", "var", ".venv", "tests"} & set(p.parts)]
    assert (tmp_path / "project" / "roles" / "patch" / "meta" / "argument_specs.yml").is_file()
    assert (tmp_path / "project" / "runner" / "maintctl" / "mwindows.py").is_file()


@pytest.mark.parametrize(("text", "argv"), [
    ("ssh -T maint@site-b ansible-runner worker --delete", ["ssh", "-T", "maint@site-b", "ansible-runner", "worker",
                                                            "--delete"]),
    ("ssh -o 'ProxyJump=jump host' w; rm -rf /", ["ssh", "-o", "ProxyJump=jump host", "w;", "rm", "-rf", "/"]),
])
def test_the_worker_command_is_an_argument_list(text: str, argv: list[str]) -> None:
    assert remote.parse_worker(text) == argv
    assert remote.parse_worker(None) is None


@pytest.mark.parametrize(("text", "message"), [("", "--worker: empty command"),
                                               ("ssh 'host", "No closing quotation")])
def test_a_bad_worker_command_is_exit_2(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        remote.parse_worker(text)


def test_the_worker_does_not_inherit_the_controllers_ansible_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_ROLES_PATH", "/controller/roles")
    monkeypatch.setenv("MAINT_SMTP_PASSWORD", "secret")
    monkeypatch.setenv("PATH", "/usr/bin")
    env = remote.worker_environment()
    assert "ANSIBLE_ROLES_PATH" not in env and "MAINT_SMTP_PASSWORD" not in env and env["PATH"] == "/usr/bin"
