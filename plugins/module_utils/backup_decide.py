# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The backup checks: their catalogue (``CHECKS``) and the entry points of the backup area.

Pure Python, no I/O and no Ansible import. The random restore test yields three results per
backup source, one ``Check`` each in ``CHECKS`` below, where every policy key and its default
is stated once (``DEFAULTS``; documented in ``schemas/policy/backup.schema.json`` and the
role's ``meta/argument_specs.yml``). The work is split by concern:

``backup_policy``
    the policy section: :func:`effective_policy`, :func:`validate_policy`,
    :func:`sources_for_host` and the scratch-root safety rules;
``backup_verdict``
    the verdict of each check from a source's raw facts (and reading the tools' errors and
    times);
``backup_collect``, ``backup_restic``, ``backup_borg``, ``backup_copy``
    the Linux collectors run by ``plugins/modules/backup_restore.py`` (the Windows collector
    is ``plugins/modules/win_backup_restic.ps1``, decided on the controller by the same code).

The functions below are what the module, ``maintctl validate`` and the tests call. Runs on
the managed host's Python 3 (module payload) and on the controller.
"""

from __future__ import annotations

import datetime
import json

try:
    from ansible.module_utils import backup_policy, backup_verdict
    from ansible.module_utils.backup_policy import SCRATCH_BASE
    from ansible.module_utils.maint_result import (
        DATA_ERRORS,
        M_,
        Check,
        make_result,
        policy_defaults,
        unreadable_result,
        worst,
    )
except ImportError:  # pragma: no cover - outside Ansible
    from maint_utils import backup_policy, backup_verdict
    from maint_utils.backup_policy import SCRATCH_BASE
    from maint_utils.maint_result import DATA_ERRORS, Check, make_result, policy_defaults, unreadable_result, worst

# The check ids, used by the table below and by backup_verdict.
FRESHNESS = "backup.freshness"
RESTORE_SAMPLE = "backup.restore_sample"
INTEGRITY = "backup.integrity"

_UNIT = "tests/unit/maint_utils/test_backup_decide.py::"
_LAB = "tests/integration/test_backup_lab.py::"

CHECKS = (
    Check(
        id=FRESHNESS,
        measures="Age of the newest restic snapshot, borg archive or copied file of each backup source, in "
                 "hours, against the RPO; a repository that cannot be opened (wrong password, missing) or "
                 "holds no snapshot at all is critical",
        policy={"rpo_hours": 26},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="backup_verdict:freshness",
        remediation="The backup job has stopped or fails: check its log and schedule, then run it.",
        unit_test=_UNIT + "test_stale_snapshot_is_critical",
        lab_test=_LAB + "test_stale_source_is_critical_on_freshness",
    ),
    Check(
        id=RESTORE_SAMPLE,
        measures="A random, replayable sample of files of the newest snapshot restored into a fresh 0700 "
                 "scratch folder and verified (size and SHA-256 against the snapshot's metadata and the "
                 "unchanged live file), with the restore time and bytes",
        # scratch_root: the allowed base itself (a safety rule of backup_policy) is the default.
        policy={"sample_size": 5, "scratch_root": SCRATCH_BASE, "timeout_seconds": 1800,
                "max_sample_file_mb": 1024},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="backup_verdict:restore_sample",
        remediation="Restore by hand from this repository now; it may be corrupt. Keep the seed to replay.",
        unit_test=_UNIT + "test_one_missing_file_is_critical",
        lab_test=_LAB + "test_healthy_sources_pass_with_evidence",
    ),
    Check(
        id=INTEGRITY,
        measures="The repository check: restic check --read-data-subset=P%, borg check --repository-only or "
                 "--verify-data; any error is critical (a plain copy has none: skipped)",
        policy={"integrity": {"enabled": True, "read_data_subset_pct": 5, "verify_data": False}},
        statuses=("ok", "critical", "unknown", "skipped"),
        decide="backup_verdict:integrity",
        remediation="The repository is damaged: stop pruning, run a full check, and start a new repository if "
                    "it cannot be repaired.",
        unit_test=_UNIT + "test_integrity",
        lab_test=_LAB + "test_corrupt_repository_is_never_ok",
    ),
)
CHECK = {check.id: check for check in CHECKS}
# Defaults of the policy's backup section; each may be overridden per source.
DEFAULTS = policy_defaults(CHECKS)


# -- policy -----------------------------------------------------------------
def effective_policy(section):
    """Return the policy section merged with ``DEFAULTS`` (``integrity`` key by key); raise ``PolicyError``."""
    return backup_policy.merge(DEFAULTS, section)


def validate_policy(section):
    """Return every semantic problem of the policy's ``backup`` section, one line each.

    Called by ``maintctl validate`` next to the JSON Schema and by the module (see
    ``backup_policy.validate``).
    """
    return backup_policy.validate(DEFAULTS, section)


def sources_for_host(section, host, only=None):
    """Return the host's sources, merged with the defaults, in policy order (``only``: these names)."""
    return backup_policy.sources_for_host(DEFAULTS, section, host, only)


# -- decide -----------------------------------------------------------------
def decide(facts, now):
    """Return the three results of one source from its raw facts.

    ``facts`` is what a collector returns for one source (see the module's RETURN
    block); ``now`` is epoch seconds.
    """
    verdicts = {FRESHNESS: lambda check, f: backup_verdict.freshness(check, f, now),
                RESTORE_SAMPLE: backup_verdict.restore_sample,
                INTEGRITY: backup_verdict.integrity}
    try:
        facts = backup_verdict.normalize_facts(facts)
        name = str((facts.get("config") or {}).get("name") or "")
        results = []
        # Each check is decided on its own: odd data in one costs that check, never the others.
        for check in CHECKS:
            try:
                results.append(verdicts[check.id](check, facts))
            except DATA_ERRORS as exc:
                results.append(unreadable_result(check.id, name, "collected facts", error=exc,
                                                 remediation=backup_verdict.REMEDIATION["unreadable"]))
        return results
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        # Facts of an unexpected shape (a changed collector, a hand-edited file): nobody
        # read the values, so every check is unknown, and the reason is said once.
        cfg = facts.get("config") if isinstance(facts, dict) and isinstance(facts.get("config"), dict) else {}
        name = cfg.get("name") if isinstance(cfg.get("name"), str) else ""
        summary = M_("collected facts of an unexpected shape, nothing decided (%(error)s)",
                     error="%s: %s" % (type(exc).__name__, str(exc)[:120]))
        return [make_result(check.id, name, "unknown", summary, {"error": "unreadable"}, {},
                            backup_verdict.REMEDIATION["unreadable"]) for check in CHECKS]


def decide_all(facts_list, now):
    """Return the results of every source of a host, in order."""
    out = []
    for facts in facts_list or []:
        out.extend(decide(facts, now))
    return out


def overall(results):
    """Return the worst status of a list of results (``unknown`` when empty)."""
    return worst([r["status"] for r in results])


def evaluate_text(text, source):
    """Evaluate a saved collector output (JSON: one facts object or a list), for ``maintctl evaluate``."""
    data = json.loads(text)
    if isinstance(data, dict) and "sources" in data:
        data = data["sources"]
    if isinstance(data, dict):
        data = [data]
    now = backup_verdict.parse_time((data[0] or {}).get("collected_at")) if data else None
    if now is None:
        now = (datetime.datetime.utcnow() - backup_verdict.EPOCH).total_seconds()
    return decide_all(data, now)
