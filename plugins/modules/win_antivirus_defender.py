# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0

# Documentation of win_antivirus_defender.ps1, as ansible.windows ships it: no code here.

DOCUMENTATION = r"""
module: win_antivirus_defender
short_description: Read Microsoft Defender's state, recent threats and SecurityCenter2 products in one call
description:
  - Collects, in one PowerShell call, what the antivirus checks need on Windows and returns it
    under RV(defender), dates as ISO 8601 UTC strings and enums as numbers.
  - "C(Get-MpComputerStatus): AMServiceEnabled, AntivirusEnabled, RealTimeProtectionEnabled,
    OnAccessProtectionEnabled, IoavProtectionEnabled, BehaviorMonitorEnabled, IsTamperProtected,
    AntivirusSignatureAge, AntivirusSignatureLastUpdated, AntivirusSignatureVersion, QuickScanAge,
    FullScanAge (4294967295 means never), AMRunningMode (Normal, Passive Mode, EDR Block Mode,
    SxS Passive Mode), the engine and product versions and DefenderSignaturesOutOfDate."
  - "C(Get-MpThreatDetection) entries of the last O(threat_days) days (status ids, action
    success, times, resources) and C(Get-MpThreat) for the threat names and IsActive."
  - "C(root/SecurityCenter2 AntiVirusProduct) entries with their C(productState), so that a
    third-party antivirus is recognised and Defender in passive mode is not a false alarm.
    SecurityCenter2 exists on client editions only: on Windows Server RV(defender.products)
    is null."
  - "Remediation, never in check mode: when O(update_signatures) is true and the signatures
    are O(update_if_age_days) days old or out of date, runs C(Update-MpSignature); when
    O(quick_scan_after_days) is above 0 and no scan ran for that many days, starts a quick scan
    in the background (C(Start-MpScan -ScanType QuickScan -AsJob)): the module waits at most
    O(scan_start_wait_seconds) to catch an immediate failure and reports the scan as started
    (C(started), C(job_state)), never as done. The status is read again after a signature
    update. RV(changed) is true when signatures changed or a scan was started."
  - Its action plugin (C(plugins/action/win_antivirus_defender.py)) takes only O(policy), computes
    the other options from it (C(antivirus_defender.defender_remediation_args)), runs this module
    and adds RV(maint_results), decided in Python by C(plugins/module_utils/antivirus_defender.py)
    on the controller. The other options are the action plugin's to set; they have no default
    here, so that the policy's thresholds are stated once (C(antivirus_decide.CHECKS)).
options:
  policy:
    description:
      - The C(antivirus) section of the client policy, the one option a task gives. The action
        plugin turns it into the options below (and decides the results with it); the PowerShell
        module ignores it.
    type: dict
    default: {}
  threat_days:
    description: Report threat detections of this many past days (set by the action plugin from O(policy)).
    type: int
    required: true
  update_signatures:
    description: Allow C(Update-MpSignature) when the signatures are stale (set by the action plugin from O(policy)).
    type: bool
    required: true
  update_if_age_days:
    description: Signature age (days) from which an update is started (set by the action plugin from O(policy)).
    type: int
    required: true
  quick_scan_after_days:
    description:
      - Start a quick scan when no scan ran for this many days; 0 never starts one (set by the action
        plugin from O(policy)).
    type: int
    required: true
  scan_start_wait_seconds:
    description: How long to wait for the background quick scan job to fail at once before reporting it started.
    type: int
    default: 5
notes:
  - Verified only against Microsoft's documented fields and reconstructed outputs
    (tests/fixtures/defender/); its syntax is checked with tree-sitter-powershell. Run
    roles/antivirus/molecule/windows against a real Windows host to verify it there.
  - Needs an administrator for Update-MpSignature and Start-MpScan.
  - Verified only on real Windows, not here - that the quick scan started with C(-AsJob) keeps
    running in the Defender service after the WinRM/PSRP session of the module ends.
author:
  - maintctl contributors
"""

EXAMPLES = r"""
- name: Read Defender's state (no remediation by default)
  win_antivirus_defender:
    policy: "{{ maint_policy.antivirus | default({}) }}"
  register: av

- name: Read Defender's state and update signatures from 3 days old
  win_antivirus_defender:
    policy:
      update_signatures: true
      signature_warn_days: 3
"""

RETURN = r"""
defender:
  description: The raw facts read.
  returned: always
  type: dict
  contains:
    collected:
      description: When the facts were read (ISO 8601 UTC).
      type: str
    computer_status:
      description: Get-MpComputerStatus fields; null when it failed (see RV(defender.error)).
      type: dict
    threats:
      description: Get-MpThreatDetection entries of the last O(threat_days) days; null when not readable.
      type: list
      elements: dict
    active_threats:
      description: Get-MpThreat entries (names, IsActive); null when not readable.
      type: list
      elements: dict
    products:
      description: SecurityCenter2 AntiVirusProduct entries (displayName, productState); null on Windows Server.
      type: list
      elements: dict
    remediation:
      description:
        - What was done, under C(signatures) and C(quick_scan) (attempted, before, after, error, changed).
        - For the quick scan also C(started), C(completed) and C(job_state) (the background job's state).
      type: dict
    errors:
      description: Non-fatal errors met while collecting.
      type: list
      elements: str
changed:
  description: True when signatures were updated or a quick scan was started.
  returned: always
  type: bool
"""
