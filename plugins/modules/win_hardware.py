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
  - "With O(watch=true) (the health watch): the services of O(supervision.critical_services)
    (C(Get-Service) by name, else by display name: status and start type as numbers), the automatic
    services that are not running and stopped with a non-zero exit code (C(Win32_Service)), and the
    failed logons since O(since) (Security log, event 4625, C(Get-WinEvent -FilterHashtable), at most
    5000: TargetUserName, TargetDomainName, IpAddress, IpPort, LogonType, Status, SubStatus), under
    C(hardware_raw.watch); the action plugin decides C(service.systemd) and C(security.failed_logins)
    with C(plugins/module_utils/watch_decide.py)."
  - Never changes anything on the host.
options:
  policy:
    description:
      - The C(hardware) section of the client policy (thresholds), used by the action plugin
        to decide; the PowerShell module ignores it.
    type: dict
    default: {}
  watch:
    description: Run as the health watch (see the description).
    type: bool
    default: false
  supervision:
    description:
      - The C(supervision) section of the client policy; the collector reads its C(critical_services),
        the action plugin its failed-logon thresholds. Used only with O(watch=true).
    type: dict
    default: {}
  since:
    description:
      - ISO 8601 UTC start of the failed-logon window (the previous watch's RV(watch_until)); default,
        15 minutes before the host's clock. Used only with O(watch=true).
    type: str
notes:
  - Verified only against documented field values and reconstructed recordings
    (tests/fixtures/windows/hardware/); run roles/hardware/molecule/windows against a
    real Windows host to verify it there.
  - Get-StorageReliabilityCounter needs an administrator; without it the counters are absent.
    Reading the Security log needs one too; without it C(security.failed_logins) is C(unknown).
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
    watch:
      description: >-
        With O(watch=true): C(services), C(failed), C(failed_error) and C(logon_failures)
        (C(readable), C(error), C(since), C(until), C(truncated), C(events)).
      type: dict
watch_since:
  description: With O(watch=true), the start of the failed-logon window (ISO UTC).
  returned: when watch is true
  type: str
watch_until:
  description: With O(watch=true), the host's clock when the Security log was read (ISO UTC).
  returned: when watch is true
  type: str
maint_results:
  description: Check results (added by the role's action plugin), in the shape of schemas/check_result.schema.json.
  returned: always (added by the action plugin)
  type: list
  elements: dict
"""
