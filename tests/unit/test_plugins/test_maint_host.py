"""maint_windows: the one definition of "this host is Microsoft Windows"."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

PATH = Path(__file__).resolve().parents[3] / "plugins" / "test" / "maint_host.py"


def _tests() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("maint_host_under_test", PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests: dict[str, Any] = module.TestModule().tests()
    return tests


@pytest.mark.parametrize(("host_vars", "expected"), [
    ({"ansible_connection": "winrm"}, True),
    ({"ansible_connection": "psrp"}, True),
    ({"ansible_shell_type": "powershell"}, True),
    ({"ansible_shell_type": "cmd", "ansible_connection": "ssh"}, True),  # OpenSSH on Windows
    ({"group_names": ["windows", "canary"]}, True),
    ({"ansible_connection": "ssh", "group_names": ["linux"]}, False),
    ({}, False),
    (None, False),
])
def test_maint_windows(host_vars: dict[str, Any] | None, expected: bool) -> None:
    assert _tests()["maint_windows"](host_vars) is expected
