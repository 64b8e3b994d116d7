"""Every module and the callback document themselves in a form ansible-doc can read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))


def _doc(kind: str, name: str) -> dict:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-j", "-t", kind, name],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert proc.returncode == 0 and "[ERROR]" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)[name]


@pytest.mark.parametrize("name", MODULES)
def test_module_documentation_parses(name: str) -> None:
    doc = _doc("module", name)["doc"]
    assert doc["short_description"]
    assert doc.get("options") is not None


def test_callback_documents_its_options() -> None:
    options = _doc("callback", "maint_collector")["doc"]["options"]
    assert {o["name"] for o in options["results_file"]["env"]} == {"MAINT_RESULTS_FILE"}
    assert options["results_file"]["ini"][0]["section"] == "maint_collector"
