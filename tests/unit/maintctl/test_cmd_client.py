"""``maintctl client new|list`` (runner/maintctl/cmd_client.py) in a private inventories folder."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from maintcore.store import Store
from maintctl import cli, cmd_client, policy


@pytest.fixture()
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private inventories, vault and state folders."""
    for name, sub in (("MAINT_INVENTORIES", "inventories"), ("MAINT_VAULT_DIR", "vault"), ("MAINT_HOME", "home")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    (tmp_path / "inventories").mkdir()
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-24T10:00:00Z")  # Tuesday 11:00 in Paris
    return tmp_path


def _add_host(folder: Path, name: str = "srv01", address: str = "127.0.0.1") -> None:
    hosts = yaml.safe_load((folder / "hosts.yml").read_text(encoding="utf-8"))
    hosts["all"]["children"]["linux"]["hosts"] = {name: {"ansible_host": address}}
    (folder / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")


def test_client_new_writes_a_documented_client_with_an_encrypted_vault(place: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["client", "new", "acme", "--name", 'Acme "SAS": ACME', "--timezone", "Europe/Paris",
                     "--locale", "fr"]) == 0
    out = capsys.readouterr().out
    assert [line.strip()[:2] for line in out.splitlines()[-3:]] == ["1.", "2.", "3."]
    folder = place / "inventories" / "acme"
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == ["group_vars/all/connection.yml", "group_vars/all/policy.yml", "group_vars/all/vault.yml",
                     "hosts.yml", "known_hosts", "playbooks/README.md"]
    assert all(stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600) for p in folder.rglob("*"))
    hosts_text = (folder / "hosts.yml").read_text(encoding="utf-8")
    assert "#     ws01:" in hosts_text and "ansible_winrm_server_cert_validation: validate" in hosts_text
    assert "#   srv01:" in hosts_text
    pol = yaml.safe_load((folder / "group_vars/all/policy.yml").read_text(encoding="utf-8"))["maint_policy"]
    assert pol["client_name"] == 'Acme "SAS": ACME' and pol["timezone"] == "Europe/Paris"
    assert pol["patch"]["mode"] == "security" and pol["patch"]["reboot"] == "if_required"
    assert pol["windows"] == ["Mon-Fri 20:00-06:00", "Sat-Sun 00:00-24:00"]
    assert {"probe", "watch", "maintenance"} <= set(pol["schedule"]) and pol["report"]["locale"] == "fr"
    assert policy.validate_policy("acme") == []
    connection = yaml.safe_load((folder / "group_vars/all/connection.yml").read_text(encoding="utf-8"))
    assert "StrictHostKeyChecking=yes" in connection["ansible_ssh_common_args"]
    # The vault is encrypted with the password in <vault dir>/acme.pass (0600), nothing else.
    password_file = place / "vault" / "acme.pass"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(password_file.parent.stat().st_mode) == 0o700
    vault = (folder / "group_vars/all/vault.yml").read_bytes()
    assert vault.startswith(b"$ANSIBLE_VAULT;1.1;AES256")
    from ansible.parsing.vault import VaultLib, VaultSecret

    password = password_file.read_text(encoding="utf-8").strip()
    assert len(password) >= 40
    clear = VaultLib([("default", VaultSecret(password.encode()))]).decrypt(vault).decode()
    assert yaml.safe_load(clear) == {} and "ansible-vault edit" in clear
    assert policy.vault_password_file("acme") == password_file
    # Each client gets its own password.
    assert cli.main(["client", "new", "beta", "--name", "Beta", "--timezone", "UTC"]) == 0
    assert (place / "vault" / "beta.pass").read_text(encoding="utf-8").strip() != password


def test_the_new_client_validates_once_a_host_is_added(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cmd_client.create_client("acme", "Acme SAS", "Europe/Paris")
    # As created: valid, with a warning that there is nothing to run yet; a run refuses it.
    assert cli.main(["validate", "--client", "acme"]) == 0
    captured = capsys.readouterr()
    assert "acme: ok (0 hosts)" in captured.out and "acme: no hosts yet" in captured.err
    assert cli.main(["run", "--client", "acme", "--check"]) == 2
    assert "no hosts" in capsys.readouterr().err
    _add_host(place / "inventories" / "acme")
    assert cli.main(["validate", "--client", "acme"]) == 0
    assert "acme: ok (1 hosts)" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["Acme", "--name", "x", "--timezone", "UTC"], "client name 'Acme' is invalid"),
    (["../evil", "--name", "x", "--timezone", "UTC"], "is invalid"),
    (["-x", "--name", "x", "--timezone", "UTC"], None),  # argparse: not a name at all
    (["acme", "--name", "x", "--timezone", "Mars/Olympus"], "--timezone 'Mars/Olympus': not an IANA timezone"),
    (["acme", "--name", "x", "--timezone", "UTC", "--locale", "de"], "--locale 'de': choose from en, fr"),
    (["acme", "--name", "two\nlines", "--timezone", "UTC"], "--name: one line of text"),
])
def test_client_new_refuses_bad_input_in_one_line(place: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                                  message: str | None) -> None:
    if message is None:
        with pytest.raises(SystemExit) as exc:
            cli.main(["client", "new", *argv])
        assert exc.value.code == 2
        return
    assert cli.main(["client", "new", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list((place / "inventories").iterdir()) == [] and not (place / "vault" / "acme.pass").exists()


def test_client_new_refuses_an_existing_client_or_password_file(place: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    cmd_client.create_client("acme", "Acme SAS", "Europe/Paris")
    before = (place / "vault" / "acme.pass").read_bytes()
    assert cli.main(["client", "new", "acme", "--name", "Other", "--timezone", "UTC"]) == 2
    assert "client 'acme' already exists" in capsys.readouterr().err
    assert (place / "vault" / "acme.pass").read_bytes() == before
    (place / "vault" / "old.pass").write_text("kept\n", encoding="utf-8")
    assert cli.main(["client", "new", "old", "--name", "Old", "--timezone", "UTC"]) == 2
    assert "vault password file" in capsys.readouterr().err
    assert not (place / "inventories" / "old").exists()
    assert (place / "vault" / "old.pass").read_text(encoding="utf-8") == "kept\n"


def test_a_failure_half_way_leaves_nothing(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(plaintext: str, password: str) -> bytes:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cmd_client, "encrypt", broken)
    assert cli.main(["client", "new", "acme", "--name", "Acme", "--timezone", "UTC"]) == 1
    assert list((place / "inventories").iterdir()) == []
    assert not (place / "vault" / "acme.pass").exists()

    def rename_fails(src: str, dst: str) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.undo()
    for name, sub in (("MAINT_INVENTORIES", "inventories"), ("MAINT_VAULT_DIR", "vault"), ("MAINT_HOME", "home")):
        monkeypatch.setenv(name, str(place / sub))
    monkeypatch.setattr(os, "rename", rename_fails)
    with pytest.raises(OSError):
        cmd_client.create_client("acme", "Acme", "UTC")
    assert list((place / "inventories").iterdir()) == []
    assert not (place / "vault" / "acme.pass").exists()


def test_client_list_shows_hosts_timezone_next_window_and_last_run(place: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cmd_client.create_client("acme", "Acme SAS", "Europe/Paris")
    cmd_client.create_client("tokyo", "Tokyo KK", "Asia/Tokyo")
    _add_host(place / "inventories" / "acme")
    with Store() as store:
        for run_id, kind, started in (("r1", "scheduled", "2026-11-23T20:00:00Z"),
                                      ("p1", "probe", "2026-11-24T09:59:00Z")):
            store.start_run({"run_id": run_id, "client": "acme", "kind": kind, "areas": "hardware",
                             "started": started, "hosts_total": 1})
            store.finish_run(run_id, "completed", 0, started)
    assert cli.main(["client", "list", "--json"]) == 0
    rows = {r["client"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["acme"]["hosts"] == 1 and rows["tokyo"]["hosts"] == 0
    assert rows["acme"]["next_window"] == "2026-11-24T20:00:00+01:00"
    assert rows["tokyo"]["timezone"] == "Asia/Tokyo" and rows["tokyo"]["in_window_until"] is None
    assert rows["acme"]["last_run"]["run_id"] == "r1"  # a probe cycle is not "the last run"
    assert rows["tokyo"]["last_run"] is None
    assert cli.main(["client", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["client", "hosts", "timezone"]
    assert lines[1].split()[:5] == ["acme", "1", "Europe/Paris", "2026-11-24", "20:00"]
    assert "2026-11-23 20:00 scheduled hardware completed" in lines[1]
    assert lines[2].split()[:3] == ["tokyo", "0", "Asia/Tokyo"] and lines[2].endswith("never")


def test_client_list_shows_a_broken_client_without_stopping(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cmd_client.create_client("acme", "Acme SAS", "Europe/Paris")
    cmd_client.create_client("broken", "Broken", "UTC")
    (place / "inventories" / "broken" / "group_vars" / "all" / "policy.yml").write_text("maint_policy: [\n")
    assert cli.main(["client", "list"]) == 0
    out = capsys.readouterr().out
    assert "acme" in out and "broken" in out and "invalid YAML" in out
