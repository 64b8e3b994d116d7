#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Random restore test of restic, borg and plain-copy backups (collect side).

Thin: the collectors are in ``plugins/module_utils/backup_{collect,restic,borg,copy}.py``, the
decisions in ``backup_decide`` (``backup_policy``, ``backup_verdict``).
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_restore
short_description: Restore a random, replayable sample from each backup source and verify it
description:
  - For every backup source the policy assigns to this host, in one call, reads the
    newest snapshot (C(restic snapshots --json), C(borg list --json); for a copy folder
    the newest file), lists its regular files (C(restic ls --json), C(borg list --json-lines);
    a walk for a copy), picks a sample with a recorded seed, restores only those files into
    a fresh 0700 scratch folder under the policy's scratch root, verifies size and SHA-256
    against the snapshot's metadata and against the live file when it did not change since
    the snapshot, measures restore time and bytes, runs the repository check, and always
    removes the scratch folder.
  - Returns C(maint_results) (C(backup.freshness), C(backup.restore_sample),
    C(backup.integrity) per source) decided by C(backup_decide), plus the raw facts. The collectors
    are C(backup_restic), C(backup_borg) and C(backup_copy) in C(plugins/module_utils).
  - Read-only towards the repository. restic runs with C(--no-lock). borg reads
    (C(list), C(extract)) run with C(--bypass-lock) and leave the repository byte for byte
    unchanged. C(borg check) takes borg's own lock because it is not a pure read - it re-saves
    the repository config with the same content, and with C(verify_data) (any archives check)
    advances borg's nonce file.
  - Passwords come from O(passwords) (no_log) into C(RESTIC_PASSWORD)/C(BORG_PASSPHRASE), or
    from a password file on the host (C(RESTIC_PASSWORD_FILE), C(BORG_PASSCOMMAND=cat FILE)).
    They never appear in a command line, a result or the returned facts.
  - O(mode=plan) only returns what the play needs to run the test - the host's sources merged
    with the defaults, the vault variables holding their passwords, the scratch tag and the
    scratch bases its cleanup searches - and O(mode=evaluate) turns facts collected elsewhere
    (the Windows collector C(win_backup_restic)) into results; both do no I/O and run on the
    controller.
version_added: "0.1.0"
author: maintctl contributors
options:
  policy:
    description: The C(backup) section of the client policy (C(maint_policy.backup)).
    type: dict
    required: true
  host:
    description: The inventory name of this host; selects the sources whose C(host) matches.
    type: str
    required: true
  passwords:
    description: Source name to password, resolved from the vault variables named by C(password_var).
    type: dict
    default: {}
  seed:
    description: Replay the sample of a previous run with this seed (random when empty).
    type: str
    default: ""
  only:
    description: Restrict the test to these source names.
    type: list
    elements: str
    default: []
  scratch_tag:
    description:
      - Tag in the scratch folder's name (C(brt-TAG-SOURCE-XXXX)), usually the run id, so
        that the role's cleanup finds a folder left by a killed module.
    type: str
    default: adhoc
  mode:
    description: C(collect) on the host, C(plan) or C(evaluate) on the controller.
    type: str
    choices: [collect, plan, evaluate]
    default: collect
  facts:
    description: With O(mode=evaluate), the per-source facts a collector returned.
    type: list
    elements: dict
    default: []
notes:
  - Supports check mode; the test is a probe and runs fully in check mode.
"""

EXAMPLES = r"""
- name: Restore-test this host's backup sources
  backup_restore:
    policy: "{{ maint_policy.backup }}"
    host: "{{ inventory_hostname }}"
    passwords:
      files01-restic: "{{ vault_backup_restic_password }}"
  register: backup
  changed_when: false
  check_mode: false
"""

RETURN = r"""
maint_results:
  description: Three results per source, in the shape of schemas/check_result.schema.json.
  returned: always
  type: list
  elements: dict
backup_sources:
  description:
    - Raw facts per source (config without passwords, snapshot, listing counts, seed,
      sample with sizes, SHA-256 and live-file data, restore timing, integrity output).
  returned: always
  type: list
  elements: dict
seed:
  description: The seed this call used for every source (replay with O(seed)).
  returned: when mode is collect
  type: str
sources:
  description: With O(mode=plan), the host's sources merged with the defaults (none - nothing to test).
  returned: when mode is plan
  type: list
  elements: dict
password_vars:
  description: With O(mode=plan), source name to the vault variable that holds its password.
  returned: when mode is plan
  type: dict
scratch_tag:
  description: With O(mode=plan), the tag as it appears in scratch folder names (C(brt-TAG-SOURCE-XXXX)).
  returned: when mode is plan
  type: str
scratch_base:
  description: With O(mode=plan), the only folder scratch folders may live under on a POSIX host.
  returned: when mode is plan
  type: str
scratch_base_windows:
  description: With O(mode=plan), the only folder scratch folders may live under on a Windows host.
  returned: when mode is plan
  type: str
"""

import secrets
import time

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils import backup_collect as bc
    from ansible.module_utils import backup_decide as bd
    from ansible.module_utils import backup_policy as bp
    from ansible.module_utils import backup_verdict as bv
    from ansible.module_utils.backup_borg import BorgSource
    from ansible.module_utils.backup_copy import CopySource
    from ansible.module_utils.backup_restic import ResticSource
except ImportError:  # pragma: no cover - unit tests import it from the package
    from maint_utils import backup_collect as bc
    from maint_utils import backup_decide as bd
    from maint_utils import backup_policy as bp
    from maint_utils import backup_verdict as bv
    from maint_utils.backup_borg import BorgSource
    from maint_utils.backup_copy import CopySource
    from maint_utils.backup_restic import ResticSource

TOOLS = {"restic": ResticSource, "borg": BorgSource, "copy": CopySource}


def _verify_sample(tool, cfg, snap, sample, scratch, max_bytes):
    for entry in sample:
        got = bc.restored_file(scratch, entry["path"])
        entry["restored"] = got is not None
        if got:
            entry["restored_size"], entry["restored_sha256"] = got
        is_copy = cfg["type"] == "copy"
        live = tool.live(entry["path"]) if is_copy else bc.live_path(entry["path"], cfg.get("source"))
        entry["live"] = bc.live_facts(live, max_bytes)


def collect_source(cfg, password, seed, tag, scrub):
    """Collect the raw facts of one source; the scratch folder is always removed."""
    public = {k: v for k, v in cfg.items() if k != "index"}
    public["repository"] = bv.redact_location(public.get("repository"))
    facts = {"config": public, "seed": seed, "collected_at": bv.iso(time.time()), "error": None,
             "snapshot": None, "snapshot_count": 0, "sample": [], "restore": {}, "integrity": {"ran": False}}
    runner = bc.Runner(bc.tool_env(cfg, password), int(cfg["timeout_seconds"]), scrub)
    tool = TOOLS[cfg["type"]](cfg, runner, facts)
    max_bytes = int(cfg.get("max_sample_file_mb") or 0) * 1024 * 1024
    scratch = None
    stage = "setup"
    try:
        bc.check_password(cfg, password)
        stage = "snapshots"
        snap = tool.snapshot()
        facts["snapshot"] = snap
        if snap:
            stage = "ls"
            heap = bc.SampleHeap(cfg["sample_size"], seed, max_bytes)
            tool.listing(snap, heap)
            if heap.garbage and not heap.count:
                raise bc.SourceError("ls", "unreadable", "the listing of snapshot %s had %d unreadable line(s) "
                                     "and no file" % (snap.get("id"), heap.garbage))
            facts["listing"] = {"files": heap.count, "bytes": heap.bytes}
            sample = [dict(entry, path=path) for path, entry in heap.result()]
            facts["sample"] = sample
            if sample:
                stage = "scratch"
                scratch = bc.make_scratch(cfg, tag)
                facts["restore"]["scratch"] = scratch
                stage = "restore"
                started = time.monotonic()
                facts["restore"].update(tool.restore(snap, sample, scratch))
                facts["restore"]["seconds"] = round(time.monotonic() - started, 3)
                stage = "verify"
                _verify_sample(tool, cfg, snap, sample, scratch, max_bytes)
                facts["restore"]["bytes"] = sum(e.get("restored_size") or 0 for e in sample)
    except bc.SourceError as exc:
        facts["error"] = {"stage": exc.stage, "kind": exc.kind, "message": scrub(exc.message)[:300]}
    except Exception as exc:  # noqa: BLE001 - unexpected tool output becomes a result, never a crash
        facts["error"] = {"stage": stage, "kind": "unreadable",
                          "message": scrub("%s: %s" % (type(exc).__name__, exc))[:300]}
    finally:
        if scratch:
            facts["restore"]["scratch_removed"] = bc.remove_scratch(scratch)
    try:
        run_integrity(tool, cfg, facts, runner)
    except Exception as exc:  # noqa: BLE001 - as above
        facts["integrity"] = {"ran": False, "error_kind": "unreadable",
                              "error": scrub("%s: %s" % (type(exc).__name__, exc))[:300]}
    return facts


def run_integrity(tool, cfg, facts, runner):
    """Run the repository check unless the repository could not be opened at all."""
    error = facts.get("error") or {}
    if error.get("kind") in ("wrong_password", "password_missing", "repository_missing", "tool_missing"):
        return
    if not cfg["integrity"].get("enabled", True):
        return
    argv = tool.check()
    if not argv:
        return
    started = time.monotonic()
    try:
        rc, out, err, timed_out = runner.run(argv, "integrity")
    except bc.SourceError as exc:
        facts["integrity"] = {"ran": False, "error_kind": exc.kind}
        return
    text = (err or "") + "\n" + (out or "")
    facts["integrity"] = {
        "ran": True, "command": " ".join(argv), "rc": rc, "timed_out": timed_out,
        "seconds": round(time.monotonic() - started, 3),
        "errors": bv.error_lines(text) if rc != 0 or timed_out else [],
        "error_kind": bv.classify_error(text) if rc not in (0, 1) or timed_out else None,
    }
    if facts["integrity"]["error_kind"] in ("other", "repository_missing"):
        facts["integrity"]["error_kind"] = None


def main():
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "policy": {"type": "dict", "required": True},
            "host": {"type": "str", "required": True},
            "passwords": {"type": "dict", "default": {}, "no_log": True},
            "seed": {"type": "str", "default": ""},
            "only": {"type": "list", "elements": "str", "default": []},
            "scratch_tag": {"type": "str", "default": "adhoc"},
            "mode": {"type": "str", "default": "collect", "choices": ["collect", "plan", "evaluate"]},
            "facts": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    problems = bd.validate_policy(params["policy"])
    if problems:
        module.fail_json(msg="invalid backup policy: " + problems[0], problems=problems)
    sources = bd.sources_for_host(params["policy"], params["host"], params["only"])
    tag = bp.scratch_tag(params["scratch_tag"])
    if params["mode"] == "plan":
        module.exit_json(changed=False, sources=sources, password_vars=bp.password_vars(sources), scratch_tag=tag,
                         scratch_base=bp.SCRATCH_BASE, scratch_base_windows=bp.SCRATCH_BASE_WINDOWS, maint_results=[])
    if params["mode"] == "evaluate":
        by_name = {s["name"]: s for s in sources}
        facts_list = []
        for facts in params["facts"]:
            cfg = by_name.get((facts.get("config") or {}).get("name"))
            if cfg is None:
                continue
            facts = dict(facts, config={k: v for k, v in cfg.items() if k != "index"})
            facts_list.append(facts)
        module.exit_json(changed=False, maint_results=bd.decide_all(facts_list, time.time()),
                         backup_sources=facts_list)
    passwords = {str(k): str(v) for k, v in (params["passwords"] or {}).items() if v}
    scrub = bc.Scrubber(passwords.values())
    seed = params["seed"] or secrets.token_hex(8)
    facts_list = [collect_source(cfg, passwords.get(cfg["name"], ""), seed, tag, scrub) for cfg in sources]
    results = bd.decide_all(facts_list, time.time())
    module.exit_json(changed=False, maint_results=results, backup_sources=facts_list, seed=seed)


if __name__ == "__main__":
    main()
