"""The policy's backup section (plugins/module_utils/backup_policy.py): merging, validation, each host's sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from maint_utils import backup_decide as bd
from maint_utils import backup_policy as bp
from maint_utils.maint_result import PolicyError

ROOT = Path(__file__).resolve().parents[3]


def source(**over: Any) -> dict[str, Any]:
    src = {"name": "srv-restic", "host": "srv01", "type": "restic", "repository": "/backup/restic",
           "source": "/srv/data", "password_var": "vault_pw"}
    src.update(over)
    return src


def test_demo_policy_is_valid() -> None:
    data = yaml.safe_load((ROOT / "inventories/demo/group_vars/all/policy.yml").read_text(encoding="utf-8"))
    assert bd.validate_policy(data["maint_policy"]["backup"]) == []


def test_empty_and_missing_sections_are_valid() -> None:
    assert bd.validate_policy(None) == []
    assert bd.validate_policy({}) == []


@pytest.mark.parametrize("root, words", [
    ("/tmp/restore", "outside /var/tmp/maint-restore"),
    ("/var/tmp/maint-restore-evil", "outside /var/tmp/maint-restore"),
    ("/var/tmp/maint-restore/../../etc", "'..'"),
    ("var/tmp/maint-restore", "not an absolute path"),
    ("/", "outside"),
])
def test_scratch_root_outside_the_base_is_rejected(root: str, words: str) -> None:
    errors = bd.validate_policy({"sources": [source(scratch_root=root)]})
    assert len(errors) == 1
    assert errors[0].startswith("maint_policy.backup.sources[0].scratch_root: ")
    assert words in errors[0]


def test_section_scratch_root_is_checked_once() -> None:
    errors = bd.validate_policy({"scratch_root": "/home/x", "sources": [source(), source(name="b")]})
    assert errors == ["maint_policy.backup.scratch_root: /home/x is outside /var/tmp/maint-restore"]


def test_scratch_root_inside_the_base_is_accepted() -> None:
    assert bd.validate_policy({"sources": [source(scratch_root="/var/tmp/maint-restore/srv01")]}) == []


def test_scratch_root_overlapping_the_source_is_rejected() -> None:
    errors = bd.validate_policy({"sources": [source(source="/var/tmp")]})
    assert errors == ["maint_policy.backup.sources[0].scratch_root (inherited): "
                      "/var/tmp/maint-restore overlaps the source path /var/tmp"]
    errors = bd.validate_policy({"sources": [source(repository="/var/tmp/maint-restore/repo")]})
    assert "overlaps the repository path" in errors[0]


def test_remote_repository_cannot_overlap() -> None:
    assert bd.validate_policy({"sources": [source(repository="sftp:backup@nas:/restic")]}) == []


def test_windows_scratch_root() -> None:
    ok = source(windows=True, source="C:\\Users\\Public")
    assert bd.validate_policy({"sources": [ok]}) == []
    bad = source(windows=True, source="C:\\Users\\Public", scratch_root="C:\\Temp\\x")
    assert "outside C:\\ProgramData\\maint-restore" in bd.validate_policy({"sources": [bad]})[0]
    dots = source(windows=True, scratch_root="C:\\ProgramData\\maint-restore\\..\\x")
    assert "'..'" in bd.validate_policy({"sources": [dots]})[0]


@pytest.mark.parametrize("src, words", [
    (source(type="tar"), "type: 'tar' must be one of restic, borg, copy"),
    (source(password_var=None), "needs password_var or password_file"),
    (source(password_file="/etc/pw"), "not both"),
    (source(type="copy", password_var="x"), "takes no password"),
    (source(sample_size=0), "sample_size: 0 must be a number from 1 to 1000"),
    (source(integrity={"read_data_subset_pct": 150}), "read_data_subset_pct: 150"),
    (source(name="bad name"), "name: 'bad name'"),
    (source(colour="red"), "unknown key(s) colour"),
    (source(type="borg", windows=True), "only restic sources"),
])
def test_semantic_errors(src: dict[str, Any], words: str) -> None:
    errors = bd.validate_policy({"sources": [src]})
    assert any(words in e for e in errors), errors


def test_duplicate_names_are_rejected() -> None:
    errors = bd.validate_policy({"sources": [source(), source()]})
    assert errors == ["maint_policy.backup.sources[1].name: 'srv-restic' is used by another source"]


def test_sources_for_host_merges_defaults() -> None:
    section = {"sample_size": 7, "integrity": {"read_data_subset_pct": 20},
               "sources": [source(), source(name="other", host="srv02"), source(name="b", rpo_hours=48)]}
    got = bd.sources_for_host(section, "srv01")
    assert [s["name"] for s in got] == ["srv-restic", "b"]
    assert got[0]["sample_size"] == 7 and got[0]["rpo_hours"] == 26
    assert got[0]["integrity"] == {"enabled": True, "read_data_subset_pct": 20, "verify_data": False}
    assert got[0]["scratch_root"] == bp.SCRATCH_BASE and got[0]["index"] == 0
    assert got[1]["rpo_hours"] == 48 and got[1]["index"] == 2
    assert [s["name"] for s in bd.sources_for_host(section, "srv01", ["b"])] == ["b"]
    win = bd.sources_for_host({"sources": [source(windows=True)]}, "srv01")[0]
    assert win["scratch_root"] == bp.SCRATCH_BASE_WINDOWS


@pytest.mark.parametrize("repo", ["rest:https://backup:S3cr3t-pw@rest.example/srv", "sftp://u:S3cr3t-pw@h//srv"])
def test_repository_url_with_a_password_is_rejected_without_echoing_it(repo: str) -> None:
    errors = bd.validate_policy({"sources": [source(repository=repo)]})
    assert len(errors) == 1 and "holds a password" in errors[0]
    assert "S3cr3t-pw" not in errors[0]
    assert bd.validate_policy({"sources": [source(type="borg", repository="ssh://borg@h:22/./repo")]}) == []


# -- maintctl validate calls validate_policy ----------------------------------------
@pytest.mark.parametrize("root, code", [("/tmp/restore-here", 2), ("/var/tmp/maint-restore/x/../../..", 2),
                                        ("/var/tmp/maint-restore/client-a", 0)])
def test_maintctl_validate_rejects_a_scratch_root_outside_the_base(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        root: str, code: int) -> None:
    from maintctl.cli import main

    client = tmp_path / "inventories" / "acme"
    (client / "group_vars" / "all").mkdir(parents=True)
    (client / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"srv01": {"ansible_host": "127.0.0.1"}}}}))
    policy = {"maint_policy": {"timezone": "Europe/Paris", "windows": ["Mon-Fri 20:00-06:00"],
                               "backup": {"sources": [source(host="srv01", scratch_root=root)]}}}
    (client / "group_vars" / "all" / "policy.yml").write_text(yaml.safe_dump(policy))
    monkeypatch.setenv("MAINT_INVENTORIES", str(tmp_path / "inventories"))
    monkeypatch.setenv("MAINT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MAINT_VAULT_DIR", str(tmp_path / "vault"))
    assert main(["validate", "--client", "acme"]) == code
    err = capsys.readouterr().err
    if code:
        assert "maint_policy.backup.sources[0].scratch_root: " in err
        assert "outside /var/tmp/maint-restore" in err or "'..'" in err
    else:
        assert err == ""


# -- effective_policy: the one merge with the catalogue's defaults -------------------
def test_effective_policy_merges_the_section_with_the_defaults() -> None:
    got = bd.effective_policy({"sample_size": 7, "integrity": {"read_data_subset_pct": 20}})
    assert got["sample_size"] == 7 and got["rpo_hours"] == bd.DEFAULTS["rpo_hours"] == 26
    assert got["integrity"] == {"enabled": True, "read_data_subset_pct": 20, "verify_data": False}
    assert bd.effective_policy(None) == bd.effective_policy({}) == bd.DEFAULTS
    # backup_policy restates no default: the entry points hand it the catalogue's.
    defaults = {**bd.DEFAULTS, "rpo_hours": 1}
    assert bp.merge(defaults, {})["rpo_hours"] == 1
    assert bp.sources_for_host(defaults, {"sources": [source()]}, "srv01")[0]["rpo_hours"] == 1


@pytest.mark.parametrize("section", [[], "sample_size: 5", {"integrity": ["enabled"]}])
def test_effective_policy_refuses_what_is_not_a_mapping(section: Any) -> None:
    with pytest.raises(PolicyError):
        bd.effective_policy(section)


def test_a_source_integrity_that_is_not_a_mapping_is_a_policy_problem() -> None:
    errors = bd.validate_policy({"sources": [source(integrity="yes")]})
    assert errors == ["maint_policy.backup.sources[0]: sources[].integrity must be a mapping, not str"]


def test_plan_helpers_for_the_role() -> None:
    sources = bd.sources_for_host({"sources": [source(), source(name="b", type="copy", password_var=None)]}, "srv01")
    assert bp.password_vars(sources) == {"srv-restic": "vault_pw"}
    assert bp.scratch_tag("20260101T000000Z-a b/c") == "20260101T000000Z-a_b_c"
    assert bp.scratch_tag("") == "adhoc" and len(bp.scratch_tag("x" * 99)) == 40
