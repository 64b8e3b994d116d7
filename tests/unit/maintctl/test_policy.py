"""Client inventories and policies: validation gives one line per problem and exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from maintcore import inventory
from maintcore.errors import InvalidInput
from maintctl import cli, policy

ROOT = Path(__file__).resolve().parents[3]


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


def _policy_file(inv: Path) -> Path:
    return inv / "acme" / "group_vars" / "all" / "policy.yml"


def test_demo_policy_is_valid(inventories: Path) -> None:
    assert policy.validate_policy("acme") == []
    assert "web01" in policy.list_hosts("acme")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("disk_warn_free_pct: 20", "disk_warn_free_pct: 150", "maint_policy.hardware.disk_warn_free_pct: 150 is greater than the maximum of 100"),
        ("disk_warn_free_pct: 20", "disk_warn_free_pct: 5", "maint_policy.hardware.disk_warn_free_pct: 5 is below the critical threshold 10"),
        ("timezone: Europe/Paris", "timezone: Mars/Olympus", "maint_policy.timezone: unknown timezone 'Mars/Olympus'"),
        ("timezone: Europe/Paris", "timezon: Europe/Paris", "maint_policy: Additional properties are not allowed ('timezon' was unexpected)"),
        ("{check: \"*\", status: warning, severity: P3}", "{check: \"*\", status: warning, severity: P9}", "maint_policy.sla.rules[6].severity: 'P9' is not one of"),
        ("- Mon-Fri 20:00-06:00", "- Mon-Fry 20:00-06:00", "maint_policy.windows: window 'Mon-Fry 20:00-06:00': unknown day 'Fry'"),
        ("- Mon-Fri 20:00-06:00", "- Mon-Fri 20:00", "maint_policy.windows: window 'Mon-Fri 20:00': expected 'DAYS HH:MM-HH:MM'"),
        ("maintenance: \"Mon-Fri 21:00\"", "maintenance: \"Mon-Fri 21h\"", "maint_policy.schedule.maintenance: 'Mon-Fri 21h': expected 'DAYS HH:MM'"),
        ("maintenance: \"Mon-Fri 21:00\"", "maintenance: \"Mon-Fri 24:00\"", "maint_policy.schedule.maintenance: 'Mon-Fri 24:00': bad time '24:00' (00:00 to 23:59)"),
        ("maintenance: \"Mon-Fri 21:00\"", "backups: \"Sun 03:00\"", "maint_policy.schedule.backups: unknown key 'backups'"),
        ("client_name: Demo SARL", "client_name: Demo SARL\n  worker: \"ssh 'site-b\"", "maint_policy.worker: --worker \"ssh 'site-b\": No closing quotation"),
        ("maintenance: \"Mon-Fri 21:00\"", "patch: \"Mon-Fri 21:00; Mon 07:00\"", "maint_policy.schedule.patch: 'Mon 07:00': Mon 07:00 is outside every maintenance window, and this run installs patches"),
    ],
)
def test_policy_errors_name_file_key_and_problem(inventories: Path, old: str, new: str, expected: str) -> None:
    path = _policy_file(inventories)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    errors = policy.validate_policy("acme")
    assert errors, "a broken policy must not validate"
    assert any(expected in e for e in errors), errors
    assert all(e.startswith("acme/group_vars/all/policy.yml: ") or "policy.yml: " in e for e in errors)
    assert all("\n" not in e for e in errors)


def test_malformed_yaml_is_one_line_with_line_number(inventories: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _policy_file(inventories).write_text("maint_policy:\n  timezone: [unclosed\n")
    assert cli.main(["validate", "--client", "acme"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "policy.yml: line" in err and "invalid YAML" in err


def test_malformed_inventory_is_rejected(inventories: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (inventories / "acme" / "hosts.yml").write_text("- just\n- a list\n")
    assert cli.main(["validate", "--client", "acme"]) == 2
    assert "hosts.yml: top level must be a mapping" in capsys.readouterr().err


def test_unknown_and_bad_client_names(inventories: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown client 'nope'"):
        inventory.client_dir("nope")
    with pytest.raises(InvalidInput, match="invalid"):
        inventory.client_dir("../demo")


def test_vault_without_password_file_is_an_error(inventories: Path, tmp_path: Path) -> None:
    (tmp_path / "vault" / "acme.pass").unlink()
    (inventories / "acme" / "group_vars" / "all" / "vault.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n3132\n")
    with pytest.raises(InvalidInput, match="vault-encrypted but the vault password file .* is missing"):
        policy.vault_password_file("acme")


def test_wrong_vault_password_is_exit_2(inventories: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    vault_file = inventories / "acme" / "group_vars" / "all" / "secret.yml"
    vault_file.write_text("vault_thing: hunter2\n")
    subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "encrypt", "--vault-password-file",
                    str(tmp_path / "vault" / "acme.pass"), str(vault_file)], check=True, capture_output=True)
    (tmp_path / "vault" / "acme.pass").write_text("not-the-password\n")
    assert cli.main(["validate", "--client", "acme"]) == 2
    err = capsys.readouterr().err
    assert "wrong vault password" in err and "hunter2" not in err


def test_severity_comes_from_the_sla_table() -> None:
    pol = {"sla": {"rules": [
        {"check": "backup.*", "status": "critical", "severity": "P1"},
        {"check": "*", "status": "critical", "severity": "P2"},
        {"check": "*", "status": "warning", "severity": "P3"},
    ]}}
    assert policy.severity_for(pol, "backup.integrity", "critical") == "P1"
    assert policy.severity_for(pol, "hardware.disk_free", "critical") == "P2"
    assert policy.severity_for(pol, "hardware.disk_free", "warning") == "P3"
    assert policy.severity_for(pol, "hardware.disk_free", "ok") is None
    assert policy.severity_for(pol, "hardware.disk_free", "unknown") is None


def test_each_client_gets_only_its_own_vault_password(inventories: Path, tmp_path: Path) -> None:
    shutil.copytree(inventories / "acme", inventories / "beta")
    (tmp_path / "vault" / "beta.pass").write_text("beta-only-password\n")
    (tmp_path / "vault" / "beta.pass").chmod(0o600)
    assert policy.vault_password_file("acme") == tmp_path / "vault" / "acme.pass"
    assert policy.vault_password_file("beta") == tmp_path / "vault" / "beta.pass"
    (tmp_path / "vault" / "beta.pass").unlink()
    # beta has vault files: without its own password file it is refused, never given acme's.
    assert any(p.read_bytes().startswith(b"$ANSIBLE_VAULT;") for p in (inventories / "beta").rglob("*.yml"))
    with pytest.raises(InvalidInput, match="beta.pass is missing"):
        policy.vault_password_file("beta")


DST_DATES = ["2026-03-20T12:00:00Z", "2026-03-28T23:30:00Z", "2026-03-29T01:30:00Z", "2026-07-01T12:00:00Z",
             "2026-10-18T12:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-12-31T23:59:00Z"]


def _dst_edge_policy(inv: Path) -> None:
    # Sun 02:30 is inside "Sun 02:00-03:00" on the wall clock; on 2026-03-29 in Europe/Paris
    # that hour does not exist, which used to make validate's verdict depend on today's date.
    path = _policy_file(inv)
    text = path.read_text().replace("    - Sat-Sun 00:00-24:00\n", "    - Sun 02:00-03:00\n", 1)
    path.write_text(text.replace('maintenance: "Mon-Fri 21:00"', 'maintenance: "Mon-Fri 21:00"\n    patch: "Sun 02:30"'))


@pytest.mark.parametrize("now", DST_DATES)
def test_validate_gives_the_same_answer_whatever_the_date(inventories: Path, monkeypatch: pytest.MonkeyPatch,
                                                           now: str) -> None:
    _dst_edge_policy(inventories)
    monkeypatch.setenv("MAINT_TEST_NOW", now)
    assert policy.validate_policy("acme") == []
    # And a schedule that is really outside gives the same line on every date.
    path = _policy_file(inventories)
    path.write_text(path.read_text().replace('patch: "Sun 02:30"', 'patch: "Sun 03:30; Wed 12:00"'))
    assert policy.validate_policy("acme") == [
        f"{path}: maint_policy.schedule.patch: 'Sun 03:30': Sun 03:30 is outside every maintenance window, "
        "and this run installs patches",
        f"{path}: maint_policy.schedule.patch: 'Wed 12:00': Wed 12:00 is outside every maintenance window, "
        "and this run installs patches",
    ]


def test_tick_does_not_skip_a_client_around_dst(inventories: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _dst_edge_policy(inventories)
    for now in DST_DATES:
        monkeypatch.setenv("MAINT_TEST_NOW", now)
        assert cli.main(["tick", "--dry-run"]) == 0, now
        assert "skipped" not in capsys.readouterr().err
