"""Hostile input never disarms a check or stops the other clients.

Each case is one short line naming the file (and the key), exit 2 for that client, while
the other clients are still validated or ticked.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from maintcore import inventory
from maintcore.errors import InvalidInput
from maintctl import cli, lab, policy

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "hostile"
MAX_LINE = 320  # "about 300" characters, with the client prefix of tick's lines
MON_2105_CET = "2026-11-23T20:05:00Z"


@pytest.fixture()
def clients(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, maint_home: Path) -> Path:
    """Two copies of the demo client, 'acme' and 'bravo', in a private inventories folder."""
    inv = tmp_path / "inventories"
    (tmp_path / "vault").mkdir()
    for name in ("acme", "bravo"):
        shutil.copytree(ROOT / "inventories" / "demo", inv / name)
        (tmp_path / "vault" / f"{name}.pass").write_text((ROOT / "lab" / "demo-vault-password.txt").read_text())
        (tmp_path / "vault" / f"{name}.pass").chmod(0o600)
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    return inv


def _policy_file(inv: Path, client: str = "acme") -> Path:
    return inv / client / "group_vars" / "all" / "policy.yml"


def _edit(inv: Path, old: str, new: str, client: str = "acme") -> None:
    path = _policy_file(inv, client)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _validate_all(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    code = cli.main(["validate"])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert all(len(line) <= MAX_LINE for line in lines), [len(line) for line in lines]
    return code, out, lines


# -- numbers that disarm a check ---------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "key"), [
    ("temp_crit_c: 75", "temp_crit_c: .nan", "maint_policy.hardware.temp_crit_c"),
    ("disk_crit_free_pct: 10", "disk_crit_free_pct: .NaN", "maint_policy.hardware.disk_crit_free_pct"),
    ("signature_crit_days: 7", "signature_crit_days: .inf", "maint_policy.antivirus.signature_crit_days"),
    ("disk_warn_free_pct: 20", "disk_warn_free_pct: -.inf", "maint_policy.hardware.disk_warn_free_pct"),
    ("rpo_hours: 26", "rpo_hours: .nan", "maint_policy.backup.rpo_hours"),
    ("read_data_subset_pct: 10", "read_data_subset_pct: .nan", "maint_policy.backup.integrity.read_data_subset_pct"),
    ("response_hours: {P1: 4,", "response_hours: {P1: .inf,", "maint_policy.sla.response_hours.P1"),
])
def test_non_finite_numbers_are_refused(clients: Path, capsys: pytest.CaptureFixture[str],
                                        old: str, new: str, key: str) -> None:
    _edit(clients, old, new)
    code, out, lines = _validate_all(capsys)
    assert code == 2 and "bravo: ok (5 hosts)" in out
    assert lines == [f"{_policy_file(clients)}: {key}: not a finite number (.nan and .inf are refused)"]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("temp_warn_c: 60", "temp_warn_c: -300", "maint_policy.hardware.temp_warn_c: -300 is less than the minimum of -40"),
    ("temp_crit_c: 75", "temp_crit_c: 400", "maint_policy.hardware.temp_crit_c: 400 is greater than the maximum of 150"),
    ("signature_crit_days: 7", "signature_crit_days: 100000", "signature_crit_days: 100000 is greater than the maximum"),
    ("security_max_age_days: 14", "security_max_age_days: 1.0e+9", "security_max_age_days: 1000000000.0 is greater"),
    ("load_crit_per_cpu: 4.0", "load_crit_per_cpu: 1.0e+300", "load_crit_per_cpu: 1e+300 is greater than the maximum"),
    ("security_max_age_days: 14", "security_max_age_days: 14\n    last_patched_warn_days: 120",
     "maint_policy.patch.last_patched_warn_days: 120 is above the critical threshold 90 (last_patched_crit_days)"),
    ("  window_exceptions: []", "  window_exceptions: []\n  window_min_remaining_minutes: 100000",
     "window_min_remaining_minutes: 100000 is greater than the maximum of 1440"),
])
def test_out_of_range_thresholds_are_refused(clients: Path, capsys: pytest.CaptureFixture[str],
                                             old: str, new: str, expected: str) -> None:
    _edit(clients, old, new)
    code, out, lines = _validate_all(capsys)
    assert code == 2 and "bravo: ok" in out
    assert len(lines) == 1 and expected in lines[0] and lines[0].startswith(str(_policy_file(clients)))


@pytest.mark.parametrize(("old", "new", "key"), [
    ("security_max_age_days: 14", "security_max_age_days: 14\n    security_pattern: '(?i)secur(ity'",
     "maint_policy.patch.security_pattern: '(?i)secur(ity' is not a valid regex"),
    ("security_max_age_days: 14", "security_max_age_days: 14\n    exclude_titles: ['Preview', '[Feature']",
     "maint_policy.patch.exclude_titles[1]: '[Feature' is not a valid regex"),
])
def test_invalid_regexes_are_refused(clients: Path, capsys: pytest.CaptureFixture[str],
                                     old: str, new: str, key: str) -> None:
    _edit(clients, old, new)
    code, _, lines = _validate_all(capsys)
    assert code == 2 and len(lines) == 1 and key in lines[0]


# -- files that are not what they claim ---------------------------------------------------------

def _bomb(path: Path) -> None:
    shutil.copy(FIXTURES / "billion_laughs.yaml.txt", path)


def _binary(path: Path) -> None:
    shutil.copy(FIXTURES / "binary.yaml.txt", path)


def _latin1(path: Path) -> None:
    path.write_bytes("maint_policy:\n  client_name: Société\n".encode("latin-1"))


def _deep(path: Path) -> None:
    path.write_text("x: " + "[" * 100_000 + "\n")


def _deep_block(path: Path) -> None:
    path.write_text("".join(f"{' ' * i}k{i}:\n" for i in range(200)) + " " * 200 + "v: 1\n")


def _recursive(path: Path) -> None:
    path.write_text("a: &a [1, *a]\n")


def _nul(path: Path) -> None:
    path.write_text("a: \x00\n")


def _bad_date(path: Path) -> None:
    path.write_text("when: 2026-13-45\n")


HOSTILE = {"alias bomb": (_bomb, "expands to more than"), "binary": (_binary, "not UTF-8 text"),
           "latin-1": (_latin1, "not UTF-8 text (byte 0xe9"), "deep flow": (_deep, "nested deeper than 64"),
           "deep block": (_deep_block, "nested deeper than 64"), "recursive alias": (_recursive, "recursive alias"),
           "NUL": (_nul, "#x0000"), "bad date": (_bad_date, "month must be in 1..12")}
TARGETS = ["hosts.yml", "group_vars/all/policy.yml", "group_vars/all/connection.yml", "host_vars/web02.yml"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_files_are_one_short_line_and_the_other_client_is_still_checked(
        clients: Path, capsys: pytest.CaptureFixture[str], kind: str, target: str) -> None:
    make, expected = HOSTILE[kind]
    make(clients / "acme" / target)
    code, out, lines = _validate_all(capsys)
    assert code == 2
    assert "bravo: ok (5 hosts)" in out and "acme: ok" not in out
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{clients / 'acme' / target}: ") and expected in lines[0], lines[0]


def test_a_hostile_client_does_not_stop_the_tick(clients: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for kind, target in (("alias bomb", "hosts.yml"), ("binary", "group_vars/all/policy.yml")):
        shutil.rmtree(clients / "acme")
        shutil.copytree(ROOT / "inventories" / "demo", clients / "acme")
        HOSTILE[kind][0](clients / "acme" / target)
        monkeypatch.setenv("MAINT_TEST_NOW", MON_2105_CET)
        assert cli.main(["tick", "--dry-run"]) == 2
        captured = capsys.readouterr()
        assert "would start bravo:" in captured.out and "acme" not in captured.out
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("acme: skipped: ") and len(lines[0]) <= MAX_LINE, lines


def test_a_duplicate_key_names_file_line_and_key(clients: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(FIXTURES / "duplicate_key.yaml.txt", clients / "acme" / "hosts.yml")
    code, _, lines = _validate_all(capsys)
    assert code == 2
    assert lines == [f"{clients / 'acme' / 'hosts.yml'}: line 8: invalid YAML: duplicate key 'ansible_host' "
                     "(first on line 7)"]


def test_a_duplicate_policy_key_cannot_override_a_reviewed_value(clients: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _edit(clients, "    temp_crit_c: 75\n", "    temp_crit_c: 75\n    temp_crit_c: 1000000\n")
    code, _, lines = _validate_all(capsys)
    first = (clients / "acme" / "group_vars" / "all" / "policy.yml").read_text().splitlines().index("    temp_crit_c: 75") + 1
    assert code == 2 and len(lines) == 1 and \
        f"policy.yml: line {first + 1}: invalid YAML: duplicate key 'temp_crit_c' (first on line {first})" in lines[0]


def test_merge_keys_and_ansibles_stricter_view(clients: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (clients / "acme" / "host_vars" / "web01.yml").write_text(
        "base: &base {a: 1, b: 2}\nderived:\n  <<: *base\n  a: 3\n")
    # maintctl's loader lets a key override a merged one (YAML's merge key semantics)...
    assert inventory.read_yaml(clients / "acme" / "host_vars" / "web01.yml")["derived"] == {"a": 3, "b": 2}
    # ...but ansible-core 2.19 with duplicate_dict_key = error counts it as a duplicate.
    code, out, lines = _validate_all(capsys)
    assert code == 2 and "bravo: ok" in out
    assert len(lines) == 1 and "duplicate mapping key 'a'" in lines[0]


def test_validate_reads_the_inventory_before_ansible_does(clients: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (clients / "acme" / "host_vars" / "web01.yml").write_text("patch_canary: true\npatch_canary: false\n")
    calls: list[str] = []
    monkeypatch.setattr(policy, "list_hosts", lambda client, limit=None, allow_empty=False: calls.append(client) or ["files01", "web01"])
    code, _, lines = _validate_all(capsys)
    assert code == 2 and calls == ["bravo"]
    assert lines == [f"{clients / 'acme' / 'host_vars' / 'web01.yml'}: line 2: invalid YAML: duplicate key "
                     "'patch_canary' (first on line 1)"]


def test_ansibles_own_parser_refuses_duplicate_keys(clients: Path) -> None:
    """ansible.cfg sets duplicate_dict_key = error: the run's ansible-inventory refuses them too."""
    (clients / "acme" / "host_vars" / "web01.yml").write_text("patch_canary: true\npatch_canary: false\n")
    with pytest.raises(InvalidInput, match="duplicate mapping key 'patch_canary'"):
        policy.list_hosts("acme")


def test_a_huge_value_gives_a_short_line(clients: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(clients, "client_name: Demo SARL", "client_name: [" + ", ".join(["'" + "x" * 1000 + "'"] * 500) + "]")
    code, _, lines = _validate_all(capsys)
    assert code == 2 and len(lines) == 1 and "maint_policy.client_name" in lines[0]


# -- the validated policy is the effective one -------------------------------------------------

@pytest.mark.parametrize(("target", "text", "key"), [
    ("host_vars/web01.yml", "maint_policy: {timezone: UTC, windows: ['Mon-Sun 00:00-24:00']}\n", "maint_policy"),
    ("group_vars/linux.yml", "maint_policy: {timezone: UTC, windows: ['Mon-Sun 00:00-24:00']}\n", "maint_policy"),
    ("group_vars/all/zz-override.yml", "maint_policy: {timezone: UTC, windows: ['Mon-Sun 00:00-24:00']}\n",
     "maint_policy"),
])
def test_maint_policy_set_anywhere_else_is_refused(clients: Path, capsys: pytest.CaptureFixture[str],
                                                   target: str, text: str, key: str) -> None:
    path = clients / "acme" / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    code, _, lines = _validate_all(capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"{path}: {key}: maint_policy is set here, but only group_vars/all/policy.yml")


def test_maint_policy_in_the_hosts_file_is_refused(clients: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hosts = clients / "acme" / "hosts.yml"
    hosts.write_text(hosts.read_text().replace(
        "    canary:\n", "      vars:\n        maint_policy: {timezone: UTC}\n    canary:\n", 1))
    code, _, lines = _validate_all(capsys)
    assert code == 2 and lines == [
        f"{hosts}: all.children.linux.vars.maint_policy: maint_policy is set here, but only "
        "group_vars/all/policy.yml may set it (the validated policy must be the one every host gets)"]


def test_a_backup_source_on_an_unknown_host_is_refused(clients: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(clients, "- {name: files01-copy, host: files01,", "- {name: files01-copy, host: files99,")
    code, out, lines = _validate_all(capsys)
    assert code == 2 and "bravo: ok" in out and "acme: ok" not in out
    assert lines == [f"{_policy_file(clients)}: maint_policy.backup.sources[2].host: 'files99' is not a host of "
                     f"{clients / 'acme' / 'hosts.yml'}"]


# -- the vault password file -------------------------------------------------------------------

def _password(tmp_path: Path, client: str = "acme") -> Path:
    return tmp_path / "vault" / f"{client}.pass"


@pytest.mark.parametrize(("mode", "fix"), [(0o644, "mode 0644"), (0o640, "mode 0640"), (0o700, "mode 0700"),
                                           (0o604, "mode 0604")])
def test_a_vault_password_file_readable_by_others_or_executable_is_refused(
        clients: Path, tmp_path: Path, mode: int, fix: str) -> None:
    _password(tmp_path).chmod(mode)
    with pytest.raises(InvalidInput) as err:
        policy.vault_password_file("acme")
    assert fix in str(err.value) and f"chmod 600 {_password(tmp_path)}" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_vault_password_file_of_0400_is_fine(clients: Path, tmp_path: Path) -> None:
    _password(tmp_path).chmod(0o400)
    assert policy.vault_password_file("acme") == _password(tmp_path)


def test_a_symlinked_vault_password_file_is_refused(clients: Path, tmp_path: Path) -> None:
    # acme.pass -> bravo.pass would hand acme's run bravo's password.
    _password(tmp_path, "acme").unlink()
    _password(tmp_path, "acme").symlink_to(_password(tmp_path, "bravo"))
    with pytest.raises(InvalidInput, match="acme.pass is a symlink: replace it with the file itself"):
        policy.vault_password_file("acme")


def test_a_vault_password_path_that_is_a_folder_or_fifo_is_refused(clients: Path, tmp_path: Path) -> None:
    _password(tmp_path).unlink()
    _password(tmp_path).mkdir()
    with pytest.raises(InvalidInput, match="is not a regular file"):
        policy.vault_password_file("acme")
    _password(tmp_path).rmdir()
    os.mkfifo(_password(tmp_path), 0o600)
    with pytest.raises(InvalidInput, match="is not a regular file"):
        policy.vault_password_file("acme")


def test_a_vault_password_file_of_another_user_is_refused(clients: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    owner = _password(tmp_path).stat().st_uid
    monkeypatch.setattr(policy.os, "geteuid", lambda: owner + 1)
    with pytest.raises(InvalidInput, match=rf"owned by uid {owner}, not by this user .*: chown {owner + 1} "):
        policy.vault_password_file("acme")


def test_a_bad_vault_password_file_is_one_line_in_validate(clients: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    _password(tmp_path).chmod(0o644)
    code, out, lines = _validate_all(capsys)
    assert code == 2 and "bravo: ok" in out
    assert len(lines) == 1 and "acme.pass: mode 0644, must be 0600 or stricter" in lines[0]


def test_the_lab_installs_a_password_file_that_passes(clients: Path, tmp_path: Path) -> None:
    target = lab.install_demo_vault_password()
    assert target == tmp_path / "vault" / "demo.pass"
    policy._check_password_file(target, os.lstat(target))


def test_a_service_probe_on_an_unknown_host_is_refused(clients: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(clients, "    critical_services: [sshd]\n",
          "    critical_services: [sshd]\n    services:\n      - {host: web09, name: site, type: tcp, port: 443}\n")
    code, out, lines = _validate_all(capsys)
    assert code == 2 and "bravo: ok" in out and "acme: ok" not in out
    assert lines == [f"{_policy_file(clients)}: maint_policy.supervision.services[0].host: 'web09' is not a host of "
                     f"{clients / 'acme' / 'hosts.yml'}"]
