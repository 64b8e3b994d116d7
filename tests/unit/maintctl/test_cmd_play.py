"""``maintctl play`` and ``maintctl adhoc`` (runner/maintctl/cmd_play.py): what is refused before anything runs,
how secrets are masked, and when a confirmation is asked for."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from maintcore.config import PROJECT_DIR
from maintcore.errors import InvalidInput
from maintctl import cli, cmd_client, cmd_play, orchestrator

VAULT_SECRET = "Vault-Only-Secret-9931"


@pytest.fixture()
def clients(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two clients (acme: srv01, srv02 in linux; beta: bsrv01) in private folders; acme's vault holds a secret."""
    for name, sub in (("MAINT_INVENTORIES", "inventories"), ("MAINT_VAULT_DIR", "vault"), ("MAINT_HOME", "home")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    (tmp_path / "inventories").mkdir()
    for client, hosts in (("acme", ["srv01", "srv02"]), ("beta", ["bsrv01"])):
        folder = cmd_client.create_client(client, client.title(), "Europe/Paris")
        data = yaml.safe_load((folder / "hosts.yml").read_text(encoding="utf-8"))
        data["all"]["children"]["linux"]["hosts"] = {h: {"ansible_host": "127.0.0.1"} for h in hosts}
        (folder / "hosts.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    password = (tmp_path / "vault" / "acme.pass").read_text(encoding="utf-8").strip()
    vault = tmp_path / "inventories" / "acme" / "group_vars" / "all" / "vault.yml"
    vault.write_bytes(cmd_client.encrypt(yaml.safe_dump({"vault_windows_password": VAULT_SECRET,
                                                         "vault_short": "no", "vault_port": 5986}), password))
    book = tmp_path / "inventories" / "acme" / "playbooks" / "touch.yml"
    book.write_text("- name: Touch\n  hosts: all\n  tasks: []\n", encoding="utf-8")
    return tmp_path


# -- playbooks: where they may come from ---------------------------------------------------

def test_a_playbook_by_name_from_the_client_or_the_project(clients: Path) -> None:
    path, name = cmd_play.resolve_playbook("acme", "touch.yml")
    assert (path, name) == ((clients / "inventories/acme/playbooks/touch.yml").resolve(),
                            "inventories/acme/playbooks/touch.yml")
    assert cmd_play.resolve_playbook("acme", "touch")[1] == "inventories/acme/playbooks/touch.yml"
    assert cmd_play.resolve_playbook("acme", "hardware.yml") == ((PROJECT_DIR / "playbooks/hardware.yml").resolve(),
                                                                 "playbooks/hardware.yml")
    assert cmd_play.resolve_playbook("acme", str(PROJECT_DIR / "playbooks/watch.yml"))[1] == "playbooks/watch.yml"
    # A name in both places is ambiguous: give the path.
    (clients / "inventories/acme/playbooks/patch.yml").write_text("[]\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="in both"):
        cmd_play.resolve_playbook("acme", "patch.yml")


def test_a_playbook_outside_the_client_and_the_project_is_refused(clients: Path) -> None:
    outside = clients / "elsewhere.yml"
    outside.write_text("[]\n", encoding="utf-8")
    other = clients / "inventories/beta/playbooks/theirs.yml"
    other.write_text("[]\n", encoding="utf-8")
    link = clients / "inventories/acme/playbooks/link.yml"
    link.symlink_to(outside)
    escape = f"{clients}/inventories/acme/playbooks/../../beta/playbooks/theirs.yml"
    for text in (str(outside), str(other), "link.yml", escape, "/etc/passwd",
                 str(clients / "inventories/acme/playbooks/../../../elsewhere.yml")):
        with pytest.raises(InvalidInput, match="outside the client's folder and the project"):
            cmd_play.resolve_playbook("acme", text)
    with pytest.raises(InvalidInput, match="no such file"):
        cmd_play.resolve_playbook("acme", "./nowhere.yml")
    with pytest.raises(InvalidInput, match="not in inventories/acme/playbooks/ nor in playbooks/"):
        cmd_play.resolve_playbook("acme", "nowhere")
    with pytest.raises(InvalidInput, match="not a .yml or .yaml file"):
        cmd_play.resolve_playbook("acme", str(clients / "inventories/acme/known_hosts"))


def test_the_projects_own_inventories_and_state_folder_are_outside(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    """With the default folders (inside the project), another client's playbook is still refused."""
    monkeypatch.delenv("MAINT_INVENTORIES", raising=False)
    monkeypatch.setenv("MAINT_HOME", str(PROJECT_DIR / "var"))
    demo = PROJECT_DIR / "inventories" / "demo" / "hosts.yml"
    assert demo.is_file()
    monkeypatch.setattr(cmd_play.inventory, "client_dir", lambda client: tmp_path)
    with pytest.raises(InvalidInput, match="outside"):
        cmd_play.resolve_playbook("acme", str(demo))


@pytest.mark.parametrize("name", ["ansible.builtin.file", "file", "community.general.ufw", "win_ping"])
def test_plain_module_names_are_accepted(name: str) -> None:
    assert cmd_play.check_module(name) == name


@pytest.mark.parametrize("name", ["", "Ansible.builtin.file", "file; rm -rf /", "../x", "a..b", ".file", "file.",
                                  "ansible.builtin.file -a x", "f\u00e9", "x" * 201])
def test_other_module_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="not a module name"):
        cmd_play.check_module(name)


# -- limits ---------------------------------------------------------------------------------

def test_a_limit_of_another_clients_host_or_of_nothing_is_refused(clients: Path) -> None:
    assert cmd_play.check_limit("acme", "srv01") == ["srv01"]
    assert cmd_play.check_limit("acme", "linux") == ["srv01", "srv02"]
    assert cmd_play.check_limit("acme", None) == ["srv01", "srv02"]
    with pytest.raises(InvalidInput, match="bsrv01 is a host of client 'beta', not of 'acme'"):
        cmd_play.check_limit("acme", "srv01,bsrv01")
    with pytest.raises(InvalidInput, match="matches none of the hosts of client 'acme'"):
        cmd_play.check_limit("acme", "nobody")
    with pytest.raises(InvalidInput, match="no @file"):
        cmd_play.check_limit("acme", "@/tmp/retry")


# -- secrets --------------------------------------------------------------------------------

def test_vault_values_are_read_for_masking(clients: Path) -> None:
    values = cmd_play.vault_values("acme")
    assert VAULT_SECRET in values and "5986" in values and "no" not in values  # too short to mask
    assert cmd_play.vault_values("beta") == []


def test_extra_vars_refuse_what_guards_a_run_and_mask_secret_names() -> None:
    extra, secret = cmd_play.parse_extravars(["msg=hello", "db_password=pw-1234", "api_token=[a1b2c3, d4e5f6]",
                                              "SSH_KEY=k-999"])
    assert extra == {"msg": "hello", "db_password": "pw-1234", "api_token": ["a1b2c3", "d4e5f6"], "SSH_KEY": "k-999"}
    assert {"pw-1234", "a1b2c3", "d4e5f6", "k-999"} <= set(secret) and "hello" not in secret
    assert cmd_play.masked_vars(extra, secret) == {"msg": "hello", "db_password": "********",
                                                   "api_token": "********", "SSH_KEY": "********"}
    for bad in ("maint_client=x", "ansible_ssh_common_args=-o StrictHostKeyChecking=no", "patch_policy={}",
                "patch_install=true", "patch_window_end=", "patch_reboot_command=x", "novalue", "1x=2", "a-b=3"):
        with pytest.raises(InvalidInput):
            cmd_play.parse_extravars([bad])


def test_secret_module_arguments_are_found() -> None:
    assert cmd_play.module_arg_secrets("name=bob password=Hunter-22 update_password=always") == ["Hunter-22",
                                                                                                  "always"]
    assert cmd_play.module_arg_secrets("path=/tmp/x state=touch") == []
    assert cmd_play.module_arg_secrets(None) == []


def test_the_run_folder_is_masked(tmp_path: Path) -> None:
    (tmp_path / "artifacts" / "ansible" / "job_events").mkdir(parents=True)
    event = tmp_path / "artifacts" / "ansible" / "job_events" / "1.json"
    event.write_text(json.dumps({"stdout": 'a "quoted\\secret" and plain-secret-1'}), encoding="utf-8")
    (tmp_path / "binary").write_bytes(b"\xff\xfeplain-secret-1")
    orchestrator.mask_secrets(tmp_path, ['quoted\\secret"', "plain-secret-1", "quoted\\secret", ""])
    text = event.read_text(encoding="utf-8")
    assert "secret" not in text.replace("********", "") and json.loads(text)
    assert (tmp_path / "binary").read_bytes() == b"\xff\xfeplain-secret-1"  # not text: left as it is


def _args(**kw: Any) -> argparse.Namespace:
    base = {"client": "acme", "check": False, "extra": None, "yes": False, "who": None, "limit": "srv01",
            "playbook": "touch.yml", "module": "ansible.builtin.user", "module_args": None}
    return argparse.Namespace(**{**base, **kw})


def test_the_request_records_who_ran_what_with_secrets_masked(clients: Path) -> None:
    req = cmd_play.build_request(_args(module_args=f"name=bob password={VAULT_SECRET}x comment={VAULT_SECRET}",
                                       extra=["my_token=tok-5678", "note=see tok-5678"], who="alice"), "adhoc")
    assert req.kind == "adhoc" and req.module == "ansible.builtin.user" and req.limit == "srv01"
    assert req.extravars == {"my_token": "tok-5678", "note": "see tok-5678",
                             "maint_adhoc_item": "ansible.builtin.user"}
    assert req.adhoc is not None and req.adhoc["by"] == "alice" and req.adhoc["hosts"] == ["srv01"]
    recorded = json.dumps(req.adhoc)
    assert VAULT_SECRET not in recorded and "tok-5678" not in recorded
    assert req.adhoc["what"]["args"] == "name=bob password=******** comment=********"
    assert req.adhoc["what"]["extravars"] == {"my_token": "********", "note": "see ********"}
    assert {VAULT_SECRET, "tok-5678", f"{VAULT_SECRET}x"} <= set(req.mask)
    play = cmd_play.build_request(_args(), "play")
    assert play.playbook == str((clients / "inventories/acme/playbooks/touch.yml").resolve()) and play.module is None
    assert play.adhoc is not None and play.adhoc["by"] == play.adhoc["os_user"]
    assert play.adhoc["what"] == {"playbook": "inventories/acme/playbooks/touch.yml", "extravars": {}}
    with pytest.raises(InvalidInput, match="--as"):
        cmd_play.build_request(_args(who="bob; rm"), "play")


# -- confirmation ---------------------------------------------------------------------------

class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_change_on_several_hosts_needs_a_confirmation() -> None:
    hosts = ["a", "b"]
    cmd_play.confirm("play x", ["a"], check=False, yes=False, stdin=io.StringIO())  # one host: no question
    cmd_play.confirm("play x", hosts, check=True, yes=False, stdin=io.StringIO())  # check mode: none either
    cmd_play.confirm("play x", hosts, check=False, yes=True, stdin=io.StringIO())
    with pytest.raises(InvalidInput, match="may change 2 hosts .* confirm with --yes"):
        cmd_play.confirm("play x", hosts, check=False, yes=False, stdin=io.StringIO())
    asked: list[str] = []
    cmd_play.confirm("play x", hosts, False, False, stdin=_Tty(), ask=lambda q: asked.append(q) or "y")
    assert asked and "2 hosts (a, b)" in asked[0]
    with pytest.raises(InvalidInput, match="not confirmed"):
        cmd_play.confirm("play x", hosts, False, False, stdin=_Tty(), ask=lambda q: "")


@pytest.mark.parametrize(("argv", "message"), [
    (["play", "--client", "acme", "/etc/passwd"], "outside the client's folder and the project"),
    (["play", "--client", "acme", "touch.yml"], "may change 2 hosts (srv01, srv02)"),
    (["play", "--client", "acme", "touch.yml", "--limit", "bsrv01", "--check"], "is a host of client 'beta'"),
    (["adhoc", "--client", "acme", "--limit", "linux", "-m", "ansible.builtin.ping"], "confirm with --yes"),
    (["adhoc", "--client", "acme", "--limit", "srv01", "-m", "shell;id"], "not a module name"),
    (["adhoc", "--client", "acme", "--limit", "srv01", "-m", "ping", "-e", "maint_run_id=x"], "-e maint_run_id"),
    (["play", "--client", "nobody", "touch.yml"], "unknown client 'nobody'"),
])
def test_refusals_are_one_line_and_exit_2(clients: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO())
    ran: list[Any] = []
    monkeypatch.setattr(orchestrator, "execute", lambda *a, **k: ran.append(a))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not ran and not (clients / "home" / "runs").exists()
