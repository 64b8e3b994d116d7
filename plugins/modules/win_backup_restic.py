# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0

# Documentation of win_backup_restic.ps1, as ansible.windows ships it: no code here.

DOCUMENTATION = r"""
module: win_backup_restic
short_description: Restore a random, replayable sample from restic repositories on Windows and collect the facts
description:
  - Collect side of the backup restore test on a Windows host, for restic sources. In one call,
    for each source of O(sources) (the host's sources merged with the policy defaults by
    C(backup_restore mode=plan)), reads the newest snapshot (C(restic snapshots --json)),
    lists its files (C(restic ls --json)), draws the sample the same way as
    C(plugins/module_utils/backup_collect.py) (the N paths with the lowest SHA-256 of
    C(seed + newline + path)), restores those files with C(restic restore --include --verify)
    into a fresh folder under C(C:\\ProgramData\\maint-restore) (created with an ACL for SYSTEM
    and Administrators only), hashes the restored and the live files, measures the restore time,
    runs C(restic check --read-data-subset), and always removes the scratch folder.
  - Returns raw facts only (RV(backup_sources)); the checks are decided on the controller by
    C(backup_restore mode=evaluate), the same Python as on Linux.
  - restic runs with C(--no-lock). The password goes to restic through C(RESTIC_PASSWORD) (or
    C(RESTIC_PASSWORD_FILE)) in the child process's environment only; it is never on a command
    line and is scrubbed from every returned message.
  - "Verified only on real Windows (no Windows host in the project's lab): the C(--include) path
    form, the ACL of the scratch root and the process handling. The decide side is unit-tested
    on facts reconstructed from restic's documented JSON formats."
options:
  sources:
    description: The host's restic sources, merged with the policy defaults (C(backup_restore mode=plan)).
    type: list
    elements: dict
    required: true
  passwords:
    description: Source name to repository password (from the client's vault).
    type: dict
    default: {}
  seed:
    description: Replay a recorded sample with this seed (random when empty).
    type: str
    default: ""
  scratch_tag:
    description: Tag in the scratch folder's name (C(brt-TAG-SOURCE-XXXXXXXX)), usually the run id.
    type: str
    default: adhoc
  restic_path:
    description: Path of restic.exe (found on PATH by default).
    type: str
    default: restic.exe
notes:
  - Supports check mode; the test is a probe and runs fully in check mode.
author: maintctl contributors
"""

EXAMPLES = r"""
- name: Restore-test the restic sources of a Windows host
  win_backup_restic:
    sources: "{{ plan.sources }}"
    passwords:
      ws01-restic: "{{ vault_ws01_restic_password }}"
  register: collected
"""

RETURN = r"""
backup_sources:
  description:
    - One facts object per source, in the shape backup_decide.decide reads (config, seed,
      snapshot with epoch time, snapshot_count, listing, sample with sizes, SHA-256 and live-file
      data, restore timing, integrity with the tail of restic's output on failure).
  returned: always
  type: list
  elements: dict
seed:
  description: The seed this call used.
  returned: always
  type: str
"""
