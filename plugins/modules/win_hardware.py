# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0

# Documentation of win_hardware.ps1, as ansible.windows ships it: no code here.

DOCUMENTATION = r"""
module: win_hardware
short_description: Read a Windows host's volumes, physical disk health, reboot indicators, memory and uptime
description:
  - Collects, in one call, what the hardware checks need on Windows, and returns it
    under RV(hardware_raw), with enum values as numbers.
  - "Volumes: C(Win32_Volume) name (drive letter or mount folder), label, file system,
    drive type, capacity and free space."
  - "Physical disks: C(MSFT_PhysicalDisk) HealthStatus (0 Healthy, 1 Warning, 2 Unhealthy,
    5 Unknown), OperationalStatus codes and details, media and bus type, and the
    C(Get-StorageReliabilityCounter) counters (temperature, uncorrected read/write errors,
    wear, power-on hours)."
  - "Pending reboot: the Component Based Servicing C(RebootPending) key, the Windows Update
    C(RebootRequired) key and a pending computer rename. C(PendingFileRenameOperations) is
    ignored on purpose: antivirus and installers set it all the time."
  - "Memory and uptime: C(Win32_OperatingSystem)."
  - The project's C(win_hardware) action plugin (C(plugins/action/win_hardware.py)) runs this
    module and adds RV(maint_results), decided in Python by
    C(plugins/module_utils/hardware_win.py) on the controller.
  - Never changes anything on the host.
options:
  policy:
    description:
      - The C(hardware) section of the client policy (thresholds), used by the action plugin
        to decide; the PowerShell module ignores it.
    type: dict
    default: {}
notes:
  - Verified only against documented field values and reconstructed recordings
    (tests/fixtures/windows/hardware/); run roles/hardware/molecule/windows against a
    real Windows host to verify it there.
  - Get-StorageReliabilityCounter needs an administrator; without it the counters are absent.
author:
  - maintctl contributors
"""

EXAMPLES = r"""
- name: Read Windows hardware facts and decide the hardware checks
  win_hardware:
    policy: "{{ maint_policy.hardware | default({}) }}"
  register: hw
"""

RETURN = r"""
hardware_raw:
  description: The raw facts read.
  returned: always
  type: dict
  contains:
    volumes:
      description: Win32_Volume entries.
      type: list
      elements: dict
    physical_disks:
      description: MSFT_PhysicalDisk entries with a C(reliability) dict of counters (or C(reliability_error)).
      type: list
      elements: dict
    reboot:
      description: Reboot indicators read from the registry.
      type: dict
    os:
      description: Memory in kB and uptime in seconds.
      type: dict
maint_results:
  description: Check results (added by the role's action plugin), in the shape of schemas/check_result.schema.json.
  returned: always (added by the action plugin)
  type: list
  elements: dict
"""
