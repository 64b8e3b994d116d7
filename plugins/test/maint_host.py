# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Tests about the managed host, defined once for every role and playbook.

``hostvars[inventory_hostname] is maint_windows``: true for a host reached over WinRM or
PSRP, with a PowerShell or cmd shell, or in the ``windows`` group. No facts need gathering.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: maint_windows
short_description: Is this host a Microsoft Windows host?
description:
  - True when the host's C(ansible_connection) is C(winrm) or C(psrp), its C(ansible_shell_type) is
    C(powershell) or C(cmd), or it is in the C(windows) group. Pass C(hostvars[inventory_hostname]).
options:
  _input:
    description: The host's variables, C(hostvars[inventory_hostname]).
    type: dict
    required: true
"""

WINDOWS_CONNECTIONS = ("winrm", "psrp")
WINDOWS_SHELLS = ("powershell", "cmd")


def maint_windows(host_vars):
    """Return True for a Microsoft Windows host (from its connection, shell or group)."""
    host_vars = host_vars or {}
    connection = host_vars.get("ansible_connection") or "ssh"
    shell = host_vars.get("ansible_shell_type") or "sh"
    groups = host_vars.get("group_names") or []
    return connection in WINDOWS_CONNECTIONS or shell in WINDOWS_SHELLS or "windows" in groups


class TestModule:
    """The project's host tests."""

    def tests(self):
        """Return the tests by name."""
        return {"maint_windows": maint_windows}
