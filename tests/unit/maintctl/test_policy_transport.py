"""Transport security: validate refuses an inventory that turns host key checking or TLS
certificate validation off, unless the policy says why (then it warns)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from maintctl import cli, policy

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "hostile"


@pytest.fixture()
def inventories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, maint_home: Path) -> Path:
    """A copy of the demo client as 'acme' in a private inventories folder."""
    inv = tmp_path / "inventories"
    shutil.copytree(ROOT / "inventories" / "demo", inv / "acme")
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "acme.pass").write_text((ROOT / "lab" / "demo-vault-password.txt").read_text())
    (vault / "acme.pass").chmod(0o600)
    return inv


def _accept(inv: Path, reason: str) -> None:
    path = inv / "acme" / "group_vars" / "all" / "policy.yml"
    text = path.read_text()
    path.write_text(text.replace("  client_name: Demo SARL\n",
                                 f"  client_name: Demo SARL\n  insecure_transport: {{reason: {reason!r}}}\n", 1))


def _validate(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["validate", "--client", "acme"])
    out, err = capsys.readouterr()
    return code, out, err


SSH_ARGS = [
    ("ansible_ssh_common_args", "-o StrictHostKeyChecking=no", "StrictHostKeyChecking=no"),
    ("ansible_ssh_common_args", "-oStrictHostKeyChecking=no", "StrictHostKeyChecking=no"),
    ("ansible_ssh_extra_args", "-o 'StrictHostKeyChecking no'", "StrictHostKeyChecking=no"),
    ("ansible_ssh_args", "-o stricthostkeychecking=OFF", "StrictHostKeyChecking=OFF"),
    ("ansible_scp_extra_args", "-o StrictHostKeyChecking=accept-new", "accepts unknown host keys blindly"),
    ("ansible_sftp_extra_args", "-o UserKnownHostsFile=/dev/null", "UserKnownHostsFile=/dev/null"),
    ("ansible_ssh_common_args", "-o ControlMaster=auto -o userknownhostsfile /dev/null", "/dev/null"),
]


@pytest.mark.parametrize(("key", "value", "expected"), SSH_ARGS)
def test_ssh_arguments_that_skip_host_keys_are_refused(inventories: Path, capsys: pytest.CaptureFixture[str],
                                                        key: str, value: str, expected: str) -> None:
    host_vars = inventories / "acme" / "host_vars" / "web02.yml"
    host_vars.write_text(host_vars.read_text() + f"{key}: {value!r}\n")
    code, _, err = _validate(capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{host_vars}: {key}: ")
    assert expected in lines[0] and "insecure_transport" in lines[0]


@pytest.mark.parametrize(("key", "value"), [
    ("host_key_checking", "false"), ("ansible_host_key_checking", "'False'"),
    ("ansible_ssh_host_key_checking", "no"), ("ansible_paramiko_host_key_checking", "0"),
    ("ansible_host_key_checking", "'no'"),
    ("ansible_winrm_server_cert_validation", "ignore"), ("ansible_psrp_cert_validation", "ignore"),
])
def test_host_key_and_certificate_switches_are_refused_in_host_vars(
        inventories: Path, capsys: pytest.CaptureFixture[str], key: str, value: str) -> None:
    host_vars = inventories / "acme" / "host_vars" / "web02.yml"
    host_vars.write_text(host_vars.read_text() + f"{key}: {value}\n")
    code, _, err = _validate(capsys)
    assert code == 2
    assert f"host_vars/web02.yml: {key}: " in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("key", "value"), [
    ("ansible_host_key_checking", "true"), ("ansible_winrm_server_cert_validation", "validate"),
    ("ansible_psrp_ignore_proxy", "true"), ("ansible_ssh_common_args", "'-o StrictHostKeyChecking=yes'"),
    ("ansible_ssh_common_args", "'-o StrictHostKeyChecking=ask -o UserKnownHostsFile=/srv/known_hosts'"),
])
def test_secure_settings_pass(inventories: Path, capsys: pytest.CaptureFixture[str], key: str, value: str) -> None:
    host_vars = inventories / "acme" / "host_vars" / "web02.yml"
    host_vars.write_text(host_vars.read_text() + f"{key}: {value}\n")
    code, out, err = _validate(capsys)
    assert (code, err) == (0, "") and "acme: ok (5 hosts)" in out


def test_every_level_of_the_inventory_is_walked(inventories: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(FIXTURES / "insecure_hosts.yaml.txt", inventories / "acme" / "hosts.yml")
    code, _, err = _validate(capsys)
    assert code == 2
    assert sorted(line.split(": ")[1] for line in err.strip().splitlines()) == [
        "all.children.linux.hosts.db01.ansible_ssh_extra_args",
        "all.children.linux.vars.ansible_host_key_checking",
        "all.children.windows.hosts.ws01.ansible_winrm_server_cert_validation",
        "all.hosts.web01.ansible_ssh_common_args",
    ]
    assert all(line.startswith(str(inventories / "acme" / "hosts.yml") + ": ") for line in err.strip().splitlines())


def test_group_vars_of_another_group_and_directories_are_read(inventories: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (inventories / "acme" / "group_vars" / "linux").mkdir()
    (inventories / "acme" / "group_vars" / "linux" / "ssh.yaml").write_text(
        "ansible_ssh_common_args: -o StrictHostKeyChecking=no\n")
    code, _, err = _validate(capsys)
    assert code == 2 and "group_vars/linux/ssh.yaml: ansible_ssh_common_args: StrictHostKeyChecking=no" in err


def test_a_vault_encrypted_file_is_skipped(inventories: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The demo's group_vars/all/vault.yml is whole-file encrypted: it is not parsed as YAML.
    assert (inventories / "acme" / "group_vars" / "all" / "vault.yml").read_bytes().startswith(b"$ANSIBLE_VAULT;")
    assert (inventories / "acme" / "group_vars" / "all" / "vault.yml") not in policy.inventory_files("acme")
    assert _validate(capsys)[0] == 0


def test_a_reason_in_the_policy_turns_the_error_into_a_warning(inventories: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    conn = inventories / "acme" / "group_vars" / "all" / "connection.yml"
    conn.write_text(conn.read_text() + "ansible_ssh_extra_args: -o StrictHostKeyChecking=no\n")
    assert policy.insecure_transport("acme") is None
    _accept(inventories, "site B re-images its hosts nightly (ticket 4711)")
    assert policy.insecure_transport("acme") == "site B re-images its hosts nightly (ticket 4711)"
    code, out, err = _validate(capsys)
    assert code == 0 and "acme: ok (5 hosts)" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ")
    assert "ansible_ssh_extra_args: StrictHostKeyChecking=no" in lines[0] and "ticket 4711" in lines[0]
    # The run's gate (policy.require_valid) lets it through too.
    policy.require_valid("acme")


@pytest.mark.parametrize("section", ["{reason: ''}", "{reason: '   '}", "{}", "{reason: ok, by: me}", "yes"])
def test_the_exemption_needs_a_real_reason(inventories: Path, capsys: pytest.CaptureFixture[str],
                                           section: str) -> None:
    path = inventories / "acme" / "group_vars" / "all" / "policy.yml"
    path.write_text(path.read_text().replace("  client_name: Demo SARL\n",
                                             f"  client_name: Demo SARL\n  insecure_transport: {section}\n", 1))
    code, _, err = _validate(capsys)
    assert code == 2 and "maint_policy.insecure_transport" in err


def test_a_run_is_refused_too(inventories: Path) -> None:
    conn = inventories / "acme" / "group_vars" / "all" / "connection.yml"
    conn.write_text(conn.read_text().replace("StrictHostKeyChecking=yes", "StrictHostKeyChecking=no"))
    with pytest.raises(policy.InvalidInput, match="connection.yml: ansible_ssh_common_args: StrictHostKeyChecking=no"):
        policy.require_valid("acme")
