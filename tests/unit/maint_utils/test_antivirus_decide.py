"""Tests of plugins/module_utils/antivirus_decide.py: the catalogue of the antivirus checks and the policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maint_utils import antivirus_decide as av
from maint_utils import maint_result

ROOT = Path(__file__).resolve().parents[3]


# --------------------------------------------------------------------------- policy
@pytest.mark.parametrize("policy, message", [
    ({"signature_warn_days": "3"}, "must be a number"),
    ({"signature_warn_days": 9, "signature_crit_days": 7}, "must not exceed"),
    ({"detection_test": "yes"}, "true or false"),
    ({"linux_no_av_status": "fine"}, "must be one of"),
    ({"update_timeout_seconds": 0}, ">= 1"),
    ({"sigs_warn": 3}, "unknown antivirus policy key"),
])
def test_policy_errors(policy, message):
    with pytest.raises(maint_result.PolicyError, match=message):
        av.effective_policy(policy)
    assert message in av.validate_policy(policy)[0]
    assert av.validate_policy(policy)[0].startswith("maint_policy.antivirus: ")


def test_policy_defaults_match_the_schema():
    schema = json.loads((ROOT / "schemas" / "policy" / "antivirus.schema.json").read_text())
    assert {k: v["default"] for k, v in schema["properties"].items()} == av.DEFAULTS
    assert av.validate_policy({}) == []


def test_demo_policy_is_valid():
    import yaml
    policy = yaml.safe_load((ROOT / "inventories" / "demo" / "group_vars" / "all" / "policy.yml").read_text())
    assert av.validate_policy(policy["maint_policy"]["antivirus"]) == []
