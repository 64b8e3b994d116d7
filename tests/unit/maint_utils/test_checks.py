"""The catalogue of checks is complete, true, and the one place each threshold is stated."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from maint_utils import checks
from maint_utils.maint_result import CHECK_ID_RE

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = checks.catalogue()
ENTRIES = list(CATALOGUE.values())
IDS = [c.id for c in ENTRIES]
# A quoted dotted id of one of the areas (or run.*), as code writes it: "hardware.disk_free".
ID_LITERAL = re.compile(r"""["']((?:{}|run)\.[a-z0-9_]+)["']""".format(
    "|".join(checks.AREAS + checks.SUPERVISION_FAMILIES)))


def _node_exists(node: str) -> bool:
    """True when a pytest node id (path[::test]) names a real file and a real test function in it."""
    path, _, name = node.partition("::")
    file = ROOT / path
    if not file.is_file():
        return False
    if not name:
        return True
    func = name.split("::")[-1].split("[")[0]
    return re.search(rf"^\s*def {re.escape(func)}\(", file.read_text(encoding="utf-8"), re.M) is not None


def test_every_area_has_its_table() -> None:
    areas = {c.area for c in ENTRIES}
    assert set(checks.AREAS) <= areas, f"areas without a CHECKS table: {set(checks.AREAS) - areas}"


@pytest.mark.parametrize("check", ENTRIES, ids=IDS)
def test_entry_is_complete_and_points_at_real_code_and_tests(check: checks.Check) -> None:
    assert CHECK_ID_RE.match(check.id) and check.measures.strip() and check.remediation.strip()
    where, _, func = check.decide.partition(":")
    file = ROOT / where if "/" in where else ROOT / "plugins" / "module_utils" / f"{where}.py"
    assert file.is_file(), f"{check.id}: decide file {file} does not exist"
    assert re.search(rf"^\s*def {re.escape(func)}\(", file.read_text(encoding="utf-8"), re.M), \
        f"{check.id}: {func} is not defined in {file.relative_to(ROOT)}"
    assert check.unit_test.startswith("tests/unit/") and _node_exists(check.unit_test), \
        f"{check.id}: unit test {check.unit_test} does not exist"
    if check.lab_test.startswith("tests/"):
        assert _node_exists(check.lab_test), f"{check.id}: lab test {check.lab_test} does not exist"
    else:
        assert len(check.lab_test) > 10, f"{check.id}: say why there is no lab test"


def test_every_check_id_the_code_writes_is_in_the_catalogue() -> None:
    """A check id in module_utils, modules, action plugins or the callback that nobody catalogued fails here."""
    found: dict[str, str] = {}
    for folder in ("module_utils", "modules", "action", "callback"):
        for path in (ROOT / "plugins" / folder).glob("*.py"):
            for match in ID_LITERAL.finditer(path.read_text(encoding="utf-8")):
                found.setdefault(match.group(1), str(path.relative_to(ROOT)))
    missing = {cid: where for cid, where in found.items() if cid not in CATALOGUE}
    assert not missing, f"check ids not in the catalogue: {missing}"


def test_each_check_id_is_defined_once() -> None:
    """`git grep '"hardware.disk_free"'` finds one definition: the catalogue entry, not copies in the code."""
    counts: dict[str, list[str]] = {}
    for folder in ("module_utils", "modules", "action", "callback"):
        for path in (ROOT / "plugins" / folder).glob("*.py"):
            text = path.read_text(encoding="utf-8")
            for cid in set(ID_LITERAL.findall(text)):
                quoted = text.count(f'"{cid}"') + text.count(f"'{cid}'")
                counts.setdefault(cid, []).append(f"{path.relative_to(ROOT)}:{quoted}")
    for cid, places in counts.items():
        total = sum(int(p.rsplit(":", 1)[1]) for p in places)
        assert total == 1, f"{cid} is written {total} times: {places} (define it once, in the CHECKS table)"


def test_docs_checks_md_is_generated_from_the_catalogue() -> None:
    path = ROOT / "docs" / "checks.md"
    assert path.is_file(), "docs/checks.md is missing: python -m maint_utils.checks > docs/checks.md"
    assert path.read_text(encoding="utf-8") == checks.markdown(), \
        "docs/checks.md is stale: python -m maint_utils.checks > docs/checks.md"


def _schema_properties(area: str) -> dict:
    schema = json.loads((ROOT / "schemas" / "policy" / f"{area}.schema.json").read_text(encoding="utf-8"))
    return schema.get("properties", {})


def _spec_options(area: str) -> dict:
    spec = yaml.safe_load((ROOT / "roles" / area / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    return spec["argument_specs"]["main"]["options"][f"{area}_policy"].get("options") or {}


@pytest.mark.parametrize("check", [c for c in ENTRIES if c.policy], ids=[c.id for c in ENTRIES if c.policy])
def test_policy_defaults_are_stated_once(check: checks.Check) -> None:
    """The schema's and the role's argument_specs defaults are the catalogue's."""
    props = _schema_properties(checks.policy_section(check))
    options = _spec_options(check.area) if check.area in checks.AREAS else {}
    for key, default in check.policy.items():
        assert key in props, f"{check.id}: policy key {key} is not in schemas/policy/{checks.policy_section(check)}.schema.json"
        if "default" in props[key]:
            assert props[key]["default"] == default, f"{check.id}: schema default of {key} differs"
        if key in options and "default" in options[key]:
            assert options[key]["default"] == default, f"{check.id}: argument_specs default of {key} differs"


@pytest.mark.parametrize("area", checks.AREAS)
def test_every_area_has_a_role_a_playbook_a_decide_module_and_report_labels(area: str) -> None:
    assert (ROOT / "roles" / area / "meta" / "argument_specs.yml").is_file()
    assert (ROOT / "playbooks" / f"{area}.yml").is_file()
    assert (ROOT / "plugins" / "module_utils" / f"{area}_decide.py").is_file()
    # the French translation of every label is held by tests/unit/maintreport/test_i18n.py
    labels = (ROOT / "reports" / "maintreport" / "labels.py").read_text("utf-8")
    assert f'L_("area.{area}", "' in labels, f"no report label for area {area}"
