"""A run's hosts: counted from the client's files when maintctl can be sure, by Ansible otherwise."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from maintcore import inventory
from maintcore.errors import InvalidInput
from maintctl import policy

ROOT = Path(__file__).resolve().parents[3]
ANSIBLE_VAULT = str(Path(sys.executable).parent / "ansible-vault")


@pytest.fixture()
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, maint_home: Path) -> Path:
    """The demo client as 'acme' (its vault and password included) in a private inventories folder."""
    inv = tmp_path / "inventories"
    shutil.copytree(ROOT / "inventories" / "demo", inv / "acme")
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "acme.pass").write_text((ROOT / "lab" / "demo-vault-password.txt").read_text())
    (vault / "acme.pass").chmod(0o600)
    return inv / "acme"


def _no_ansible(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("ansible-inventory was asked although maintctl could count the hosts")

    monkeypatch.setattr(policy, "inventory_listing", refuse)


@pytest.mark.parametrize("limit", [None, "web01", "canary", "linux", "web01,db01", "canary:files01", "all"])
def test_counted_hosts_are_ansibles(acme: Path, monkeypatch: pytest.MonkeyPatch, limit: str | None) -> None:
    vault = policy.vault_password_file("acme")
    assert vault is not None
    expected = policy.list_hosts("acme", limit)  # ansible-inventory --list, the reference
    _no_ansible(monkeypatch)
    assert policy.run_hosts("acme", limit, vault) == expected


@pytest.mark.parametrize("limit", ["web0*", "linux:!canary", "~web", "nope", "web01,nope"])
def test_patterns_and_unknown_names_are_left_to_ansible(acme: Path, limit: str) -> None:
    vault = policy.vault_password_file("acme")
    assert policy._counted_hosts("acme", limit, vault) is None
    try:
        expected: list[str] | str = policy.list_hosts("acme", limit)
    except InvalidInput as exc:
        expected = str(exc)
    try:
        got: list[str] | str = policy.run_hosts("acme", limit, vault)
    except InvalidInput as exc:
        got = str(exc)
    assert got == expected


def test_host_ranges_ports_and_plugins_are_left_to_ansible(acme: Path) -> None:
    hosts = acme / "hosts.yml"
    hosts.write_text("all:\n  hosts:\n    web[01:03]:\n  vars:\n    ansible_connection: local\n")
    assert policy._counted_hosts("acme", None, policy.vault_password_file("acme")) is None
    assert policy.run_hosts("acme", None, policy.vault_password_file("acme")) == ["web01", "web02", "web03"]
    for text in ("all:\n  hosts:\n    web01:2222:\n", "plugin: constructed\n", "all:\n  hostz:\n    a:\n",
                 "all:\n  hosts: [a, b]\n", "- a\n"):
        assert inventory.yaml_inventory_groups(inventory.read_yaml(_write(hosts, text))) is None, text


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_groups_hold_their_childrens_hosts() -> None:
    data = {"all": {"children": {"linux": {"hosts": {"a": None, "b": {"x": 1}},
                                           "children": {"db": {"hosts": {"c": None}}}},
                                 "empty": None}, "vars": {"v": 1}}}
    groups = inventory.yaml_inventory_groups(data)
    assert groups == {"all": {"a", "b", "c"}, "linux": {"a", "b", "c"}, "db": {"c"}, "empty": set()}


def test_the_vault_password_is_checked_against_the_vault(acme: Path, tmp_path: Path) -> None:
    vault_file = acme / "group_vars" / "all" / "vault.yml"
    right = tmp_path / "vault" / "acme.pass"
    assert policy.vault_password_matches(vault_file, right)
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not-the-password\n")
    assert not policy.vault_password_matches(vault_file, wrong)
    assert not policy.vault_password_matches(acme / "hosts.yml", right)  # not a vault
    # A vault with an id label (format 1.2), made by Ansible itself.
    labelled = acme / "group_vars" / "all" / "labelled.yml"
    labelled.write_text("x: 1\n")
    subprocess.run([ANSIBLE_VAULT, "encrypt", "--vault-id", f"ops@{right}", str(labelled)], check=True,
                   capture_output=True)
    assert labelled.read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;ops")
    assert policy.vault_password_matches(labelled, right)
    assert not policy.vault_password_matches(labelled, wrong)


def test_a_wrong_vault_password_is_still_refused_before_the_run(acme: Path, tmp_path: Path) -> None:
    password = tmp_path / "vault" / "acme.pass"
    password.write_text("not-the-password\n")
    assert policy._counted_hosts("acme", None, password) is None
    with pytest.raises(InvalidInput, match="wrong vault password"):
        policy.run_hosts("acme", None, password)


def test_an_inline_vault_value_is_left_to_ansible(acme: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    password = policy.vault_password_file("acme")
    assert password is not None
    encrypted = subprocess.run([ANSIBLE_VAULT, "encrypt_string", "--vault-password-file", str(password),
                                "s3cret", "--name", "inline_secret"], check=True, capture_output=True,
                               text=True).stdout
    (acme / "host_vars").mkdir(exist_ok=True)
    (acme / "host_vars" / "web01.yml").write_text(encrypted)
    assert policy._counted_hosts("acme", None, password) is None
    assert "web01" in policy.run_hosts("acme", None, password)


def test_no_host_is_invalid_input(acme: Path) -> None:
    (acme / "hosts.yml").write_text("all:\n  children:\n    linux:\n")
    with pytest.raises(InvalidInput, match="hosts.yml: no hosts"):
        policy.run_hosts("acme", None, policy.vault_password_file("acme"))
