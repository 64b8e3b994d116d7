# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Patch decisions: the catalogue of the patch checks, what every engine shares, and the host-failed rule.

Pure Python, no I/O, no Ansible import. Collect code (``patch_linux`` with ``manager`` apt or
dnf, the Windows tasks through ``patch_win``) reads raw facts; the engine modules turn them
into this module's inputs (``patch_apt``: dpkg and apt logs; ``patch_dnf``: dnf and rpm
output; ``patch_win``: win_updates returns), and this module turns them into a plan (which
package goes to which version) and into check results (``patch.*``). Unit-tested on recorded
inputs (tests/unit/maint_utils/test_patch_*.py).

Policy (``maint_policy.patch``, schema in schemas/policy/patch.schema.json); every default is
stated once, in ``CHECKS`` below (``DEFAULTS`` gathers them):

* ``mode``: ``security`` installs only updates published by a security source; ``all``
  installs every pending update.
* ``exclude``: package globs never installed (Linux); ``exclude_kbs``/``exclude_titles``
  (KB numbers, title regexes) for Windows. Exclusions always win.
* ``accept``: package globs whose updates are installed even in security mode.
* Held packages (``apt-mark hold``/``dpkg --set-selections``, dnf versionlock) are never
  installed, whatever the policy says.
* ``reboot``: ``never``, ``if_required`` or ``always``.
"""

from __future__ import annotations

import datetime
import fnmatch
import re

try:
    from ansible.module_utils.maint_result import (
        M_,
        N_,
        Check,
        Msg,
        PolicyError,
        grade_high,
        make_result,
        number,
        policy_defaults,
        with_defaults,
        worst,
    )
except ImportError:  # pragma: no cover - used outside Ansible (maintctl, tests)
    from maint_utils.maint_result import (
        M_,
        N_,
        Check,
        Msg,
        PolicyError,
        grade_high,
        make_result,
        number,
        policy_defaults,
        with_defaults,
        worst,
    )

__all__ = ["CHECKS", "DEFAULTS", "PolicyError", "effective_policy", "validate_policy", "host_failed"]

# The check ids, used by the table and by the decide code of every engine.
PENDING = "patch.pending"
PENDING_SECURITY = "patch.pending_security"
REBOOT_REQUIRED = "patch.reboot_required"
LAST_PATCHED = "patch.last_patched"
PRECHECK = "patch.precheck"
INSTALLED = "patch.installed"
FAILED = "patch.failed"
REBOOTED = "patch.rebooted"
POST_CHECK = "patch.post_check"
DEFERRED = "patch.deferred"

_UNIT = "tests/unit/maint_utils/test_patch_decide.py::"
_LAB = "tests/integration/test_patch_lab.py::"

CHECKS = (
    Check(
        id=PENDING,
        measures="Pending updates (apt, dnf, Windows Update), each classified by the policy: installable, "
                 "excluded, held, blocked by its dependencies",
        policy={"mode": "security", "exclude": [], "accept": [], "exclude_kbs": [], "exclude_titles": [],
                "categories": ["CriticalUpdates", "SecurityUpdates", "UpdateRollups"],
                "security_pattern": "(?i)security"},
        statuses=("ok", "warning", "unknown"),
        decide="patch_decide:scan_results",
        remediation=N_("Install the pending updates in the next maintenance window."),
        unit_test=_UNIT + "test_scan_results_count_exactly_and_grade",
        lab_test=_LAB + "test_scan_reports_exactly_the_pending_updates",
    ),
    Check(
        id=PENDING_SECURITY,
        measures="Pending security updates and the age in days of the oldest (apt: Release date, a lower "
                 "bound; dnf: the advisory's Issued date)",
        policy={"security_max_age_days": 14},
        decide="patch_decide:scan_results",
        remediation=N_("Install the security updates in the next window; review held packages."),
        unit_test=_UNIT + "test_scan_results_recent_security_is_a_warning_and_stale_lists_unknown",
        lab_test=_LAB + "test_scan_reports_exactly_the_pending_updates",
    ),
    Check(
        id=REBOOT_REQUIRED,
        measures="Whether the host asks for a reboot (/var/run/reboot-required, needs-restarting -r, "
                 "Windows Update)",
        statuses=("ok", "warning", "unknown"),
        decide="patch_decide:scan_results",
        remediation=N_("Reboot the host in a maintenance window."),
        unit_test=_UNIT + "test_all_mode_pending_is_a_warning_and_reboot_flag",
        lab_test=_LAB + "test_a_failed_reboot_is_recorded_and_fails_the_host",
    ),
    Check(
        id=LAST_PATCHED,
        measures="Days since the last successful upgrade in the package manager's logs",
        policy={"last_patched_warn_days": 35, "last_patched_crit_days": 90},
        decide="patch_decide:scan_results",
        remediation=N_("Patch this host: it has not been updated for too long."),
        unit_test="tests/unit/maint_utils/test_patch_apt.py::test_last_patched_from_recorded_history_and_dpkg_log",
        lab_test=_LAB + "test_install_inside_the_window",
    ),
    Check(
        id=PRECHECK,
        measures="Before an install: free space on / and /var (C: on Windows), package manager locks, the list "
                 "of installed packages, and the backup age when the policy asks",
        policy={"min_free_mb": 500, "require_backup_within_rpo": False},
        statuses=("ok", "critical"),
        decide="patch_decide:precheck",
        remediation=N_("Fix the cause (free space, a running package manager, backups), then run again."),
        unit_test=_UNIT + "test_precheck_lock_held_skips_the_host",
        lab_test=_LAB + "test_install_inside_the_window",
    ),
    Check(
        id=INSTALLED,
        measures="Every package the install changed (planned updates, dependencies pulled in, removals) "
                 "and the updates the plan guard blocked",
        statuses=("ok", "warning", "unknown"),
        decide="patch_decide:install_results",
        remediation=N_("Review the blocked updates: install them by hand or adjust the policy."),
        unit_test=_UNIT + "test_install_results_report_every_change_not_only_the_plan",
        lab_test=_LAB + "test_update_whose_dependency_is_excluded_is_blocked",
    ),
    Check(
        id=FAILED,
        measures="Whether an update failed: a planned version not reached, the install's error, or a change "
                 "the policy forbids (fails the host)",
        statuses=("ok", "critical"),
        decide="patch_decide:install_results",
        remediation=N_("Read the run's log for this host, fix the package problem, then run again."),
        unit_test=_UNIT + "test_install_results_flag_changes_the_policy_forbids",
        lab_test=_LAB + "test_update_whose_dependency_is_excluded_is_blocked",
    ),
    Check(
        id=REBOOTED,
        measures="The reboot decision and its outcome (rebooted and back, deferred, not needed, not allowed, "
                 "not confirmed: fails the host)",
        policy={"reboot": "if_required"},
        statuses=("ok", "warning", "critical", "skipped"),
        decide="patch_decide:reboot_result",
        remediation=N_("Check the host's console: it may not have come back."),
        unit_test=_UNIT + "test_reboot_decision",
        lab_test=_LAB + "test_a_failed_reboot_is_recorded_and_fails_the_host",
    ),
    Check(
        id=POST_CHECK,
        measures="After patching: every critical service of the policy has a running process (fails the host)",
        policy={"critical_services": []},
        statuses=("ok", "critical"),
        decide="patch_decide:post_check",
        remediation=N_("Start the service(s) and read their logs; roll back the update if needed."),
        unit_test=_UNIT + "test_post_check_uses_processes",
        lab_test=_LAB + "test_failing_canary_stops_the_rollout",
    ),
    Check(
        id=DEFERRED,
        measures="An install or a reboot not started because the maintenance window is closing",
        statuses=("warning",),
        decide="patch_decide:deferred_result",
        remediation=N_("Resume the run in the next maintenance window (maintctl run --resume)."),
        unit_test=_UNIT + "test_deferred_result",
        lab_test=_LAB + "test_closing_window_defers_every_host_and_exits_3",
    ),
)
CHECK = dict((check.id, check) for check in CHECKS)

# Policy keys that are play keywords of playbooks/patch.yml (templated before any host
# variable exists, so the playbook states them too), not thresholds of a check.
ROLLOUT_DEFAULTS = {"canary_group": "canary", "serial": [1, "50%"], "max_fail_percentage": 0}
DEFAULTS = dict(policy_defaults(CHECKS), **ROLLOUT_DEFAULTS)

MODES = ("security", "all")
REBOOT_POLICIES = ("never", "if_required", "always")
LIST_KEYS = ("exclude", "accept", "exclude_kbs", "exclude_titles", "categories", "critical_services")
NUMBER_KEYS = ("min_free_mb", "security_max_age_days", "last_patched_warn_days", "last_patched_crit_days")
# The checks whose critical result fails a patched host (and so stops a canary rollout).
HOST_FAILING = (FAILED, POST_CHECK, REBOOTED)


def _remedy(check_id):
    """The default remediation of a check, from the table, as a message (``Msg``)."""
    return CHECK[check_id].fix()


def _stale(summary, stale):
    """A summary (``Msg``) with the reason the package lists could not be refreshed."""
    return M_("%(summary)s (package lists could not be refreshed: %(error)s)", summary=[summary], error=str(stale))


def effective_policy(section):
    """Return the policy ``section`` merged over ``DEFAULTS``, checked; raise PolicyError if malformed.

    Keys the role does not use here (``canary_group``, ``serial``, ``max_fail_percentage``)
    are kept: they are play keywords.
    """
    merged = with_defaults(DEFAULTS, section)
    if merged["mode"] not in MODES:
        raise PolicyError("patch policy mode %r: use one of %s" % (merged["mode"], ", ".join(MODES)))
    if merged["reboot"] not in REBOOT_POLICIES:
        raise PolicyError("patch policy reboot %r: use one of %s" % (merged["reboot"], ", ".join(REBOOT_POLICIES)))
    for key in LIST_KEYS:
        value = merged[key]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            raise PolicyError("patch policy %s: expected a list of strings" % key)
        merged[key] = [str(v) for v in value]
    for key in NUMBER_KEYS:
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PolicyError("patch policy %s: expected a number >= 0, got %r" % (key, value))
    for regex in merged["exclude_titles"] + [merged["security_pattern"]]:
        try:
            re.compile(regex)
        except re.error as exc:
            raise PolicyError("patch policy regex %r: %s" % (regex, exc)) from exc
    return merged


def _clip(text, limit=60):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def validate_policy(section):
    """Return the semantic problems of a patch policy section the schema cannot see, one line each.

    Regexes that must compile (``security_pattern``, ``exclude_titles``) and the order of
    the ``last_patched`` thresholds. Lines start with ``maint_policy.patch.<key>``.
    """
    problems = []
    section = section if isinstance(section, dict) else {}
    regexes = [("security_pattern", section.get("security_pattern"))]
    regexes += [("exclude_titles[%d]" % i, rx) for i, rx in enumerate(section.get("exclude_titles") or [])]
    for key, regex in regexes:
        if isinstance(regex, str):
            try:
                re.compile(regex)
            except re.error as exc:
                problems.append("maint_policy.patch.%s: %r is not a valid regex: %s" % (key, _clip(regex), exc))
    merged = dict(DEFAULTS, **section)
    warn, crit = merged.get("last_patched_warn_days"), merged.get("last_patched_crit_days")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (warn, crit)) and warn > crit:
        problems.append("maint_policy.patch.last_patched_warn_days: %s is above the critical threshold %s "
                        "(last_patched_crit_days)" % (warn, crit))
    return problems


def host_failed(results):
    """Return True when ``results`` fail a patched host (the one statement of this rule).

    An update failed, the reboot was not confirmed or a critical service is down: a critical
    ``patch.failed``, ``patch.rebooted`` or ``patch.post_check``. The play fails the host on
    it (which stops a canary rollout), and a host whose install failed is not rebooted.
    """
    return any(isinstance(r, dict) and r.get("check") in HOST_FAILING and r.get("status") == "critical"
               for r in results or [])


def failure_message(results):
    """Return the summaries of the critical results, joined (the failed host's message)."""
    return "; ".join(str(r.get("summary")) for r in results or []
                     if isinstance(r, dict) and r.get("status") == "critical")


def window_decision(install_planned, guard):
    """Return ``(install_now, deferred_reason)`` from the window guard (``maint_window_guard``'s dict).

    An install is started only when it is planned and the guard allows it; a planned install
    the guard refuses is deferred with the guard's reason. A scan is never deferred.
    """
    guard = guard if isinstance(guard, dict) else {}
    if not install_planned:
        return False, ""
    if guard.get("allowed", True):
        return True, ""
    return False, str(guard.get("reason") or "the maintenance window is closing")


# -- sources and selection -------------------------------------------------------------------

def is_security_origin(origin, pattern=DEFAULTS["security_pattern"]):
    """Return True when an apt origin (label, suite/archive, codename, origin) is a security source.

    Debian publishes security updates from the ``bookworm-security`` suite labelled
    ``Debian-Security``; Ubuntu from ``jammy-security``. The lab uses ``lab-security``.
    """
    regex = re.compile(pattern)
    return any(regex.search(str(origin.get(key) or ""))
               for key in ("label", "archive", "suite", "codename", "origin"))


def _matches(name, globs):
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs)


def _version_is_security(version, pattern):
    if "security" in version:
        return bool(version["security"])
    return any(is_security_origin(o, pattern) for o in version.get("origins") or [])


def classify(upgradable, held, policy):
    """Classify pending updates and choose the target version of each.

    Args:
        upgradable: one dict per package with a newer version available: ``name``,
            ``installed``, ``candidate``, ``versions`` (newer versions, best first, each with
            ``version`` and ``origins`` or a precomputed ``security`` flag).
        held: names of held packages.
        policy: an ``effective_policy()``.

    Returns:
        A list of dicts ``name, installed, candidate, security, security_version, held,
        target, reason``: ``target`` is the version to install, or None with the reason.
    """
    held = set(held or [])
    pattern = policy["security_pattern"]
    out = []
    for pkg in sorted(upgradable, key=lambda p: p["name"]):
        versions = pkg.get("versions") or [{"version": pkg["candidate"], "origins": pkg.get("origins") or []}]
        sec_versions = [v["version"] for v in versions if _version_is_security(v, pattern)]
        entry = {
            "name": pkg["name"],
            "installed": pkg.get("installed"),
            "candidate": pkg.get("candidate"),
            "security": bool(sec_versions),
            "security_version": sec_versions[0] if sec_versions else None,
            "held": pkg["name"] in held,
            "target": None,
            "reason": "",
        }
        if entry["held"]:
            entry["reason"] = "held"
        elif _matches(pkg["name"], policy["exclude"]):
            entry["reason"] = "excluded by policy"
        elif policy["mode"] == "all" or _matches(pkg["name"], policy["accept"]):
            entry["target"] = pkg.get("candidate")
            entry["reason"] = "mode all" if policy["mode"] == "all" else "accepted by policy"
        elif entry["security"]:
            # The best version from a security source, not the candidate: the candidate may
            # come from an ordinary updates suite that security-only mode must not install.
            entry["target"] = entry["security_version"]
            entry["reason"] = "security update"
        else:
            entry["reason"] = "not a security update (mode security)"
        out.append(entry)
    return out



def _base_name(name):
    """``libc6:i386`` -> ``libc6`` (held lists and policy globs use bare names)."""
    return str(name).split(":", 1)[0]


def plan_problems(sim, targets, held, policy):
    """Return why installing ``targets`` would step outside the policy (empty list: it would not).

    A package manager installs an update's dependencies too: they must obey the policy as
    much as the update itself.

    Args:
        sim: a dry run of installing ``targets``: ``error`` (the resolver's message, or None)
            and ``changes``, each ``name``, ``change`` (``upgrade``, ``install``, ``remove``,
            ``downgrade``), ``from``, ``to`` and ``origins`` (of the new version).
        targets: name -> version of the packages asked for.
        held: names of held packages.
        policy: an ``effective_policy()``.
    """
    if sim.get("error"):
        return ["dependencies cannot be resolved: %s" % sim["error"]]
    held = set(held or [])
    problems = []
    for change in sim.get("changes") or []:
        name, kind, base = change["name"], change["change"], _base_name(change["name"])
        if name in targets and kind == "upgrade" and change.get("to") == targets[name]:
            continue
        if base in held:
            problems.append("would change the held package %s" % name)
        elif _matches(base, policy["exclude"]):
            problems.append("would %s %s (excluded by policy)" % (kind, name))
        elif kind in ("remove", "downgrade"):
            problems.append("would %s %s" % (kind, name))
        elif name in targets:
            problems.append("would install %s %s instead of %s" % (name, change.get("to"), targets[name]))
        elif (kind == "upgrade" and policy["mode"] == "security" and not _matches(base, policy["accept"])
              and not _version_is_security({"origins": change.get("origins") or []}, policy["security_pattern"])):
            problems.append("would upgrade %s to %s, not a security update" % (name, change.get("to")))
    return problems


def guard_plan(pending, held, policy, simulate):
    """Drop from the plan every update whose install would change more than the policy allows.

    ``simulate(targets)`` dry-runs installing ``targets`` (name -> version) and returns the
    ``plan_problems`` input; it must not change the host. The whole plan is tried first;
    when it would break the policy, each update is tried alone and the guilty ones lose
    their target (``reason`` says why, ``blocked`` lists the problems); then the rest is
    tried together once more, and is blocked as a whole if it still breaks the policy.

    Returns the changes the remaining plan would make (``[]`` when nothing is planned).
    """
    def planned():
        return dict((e["name"], e["target"]) for e in pending if e["target"])

    def block(entry, problems):
        entry["target"] = None
        entry["blocked"] = problems
        entry["reason"] = "blocked: " + "; ".join(problems)

    if not planned():
        return []
    sim = simulate(planned())
    if not plan_problems(sim, planned(), held, policy):
        return sim.get("changes") or []
    for entry in [e for e in pending if e["target"]]:
        alone = {entry["name"]: entry["target"]}
        problems = plan_problems(simulate(alone), alone, held, policy)
        if problems:
            block(entry, problems)
    if not planned():
        return []
    sim = simulate(planned())
    problems = plan_problems(sim, planned(), held, policy)
    if problems:
        for entry in [e for e in pending if e["target"]]:
            block(entry, ["together with the other updates: " + "; ".join(problems)])
        return []
    return sim.get("changes") or []



def package_diff(before, after):
    """Return every package change between two snapshots (``"name:arch"`` -> versions).

    Each change is ``name``, ``arch``, ``change`` (``upgraded``: the version changed;
    ``installed``: new; ``removed``: gone), ``from`` and ``to``, sorted by name. The
    install tasks never downgrade (``allow_downgrade: false``), so a version change is
    reported as ``upgraded``. A second version of a multi-version package (a kernel) is
    ``installed``.
    """
    changes = []
    for key in sorted(set(before) | set(after), key=lambda k: k.rpartition(":")[::2]):
        old, new = set(before.get(key) or []), set(after.get(key) or [])
        gone, added = sorted(old - new), sorted(new - old)
        name, _, arch = key.rpartition(":")
        if len(gone) == 1 and len(added) == 1:
            changes.append({"name": name, "arch": arch, "change": "upgraded", "from": gone[0], "to": added[0]})
            continue
        changes.extend({"name": name, "arch": arch, "change": "installed", "from": None, "to": v} for v in added)
        changes.extend({"name": name, "arch": arch, "change": "removed", "from": v, "to": None} for v in gone)
    return changes


def parse_release_date(text):
    """Parse a Release file's ``Date:`` (RFC 2822) into an aware UTC datetime, or None."""
    if not text:
        return None
    for fmt in ("%a, %d %b %Y %H:%M:%S %Z", "%a, %d %b %Y %H:%M:%S %z"):
        try:
            parsed = datetime.datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.astimezone(datetime.timezone.utc)
    return None


def age_days(delta):
    """Return a timedelta in days, to one decimal."""
    return round(delta.total_seconds() / 86400.0, 1)


def security_age_days(pending, releases, now):
    """Return the age in days of the oldest pending security update, or None if unknown.

    apt metadata carries no per-package date; the ``Date`` of the Release file of the suite
    that offers the update is the latest time the suite changed, so the age is a LOWER
    bound. ``pending`` entries need ``security_origins`` (origins of the security version);
    ``releases`` are dicts with origin/label/suite/codename and ``date`` (RFC 2822 text).
    """
    ages = []
    for pkg in pending:
        for origin in pkg.get("security_origins") or []:
            for rel in releases or []:
                if (rel.get("suite") or rel.get("codename")) in (origin.get("archive"), origin.get("codename")) \
                        and (rel.get("label") or "") == (origin.get("label") or "") \
                        and (rel.get("origin") or "") == (origin.get("origin") or ""):
                    date = parse_release_date(rel.get("date"))
                    if date is not None:
                        ages.append(max(age_days(now - date), 0.0))
    return max(ages) if ages else None


# -- results ---------------------------------------------------------------------------------

def _readable_pending(facts):
    """Return ``(pending entries that can be read, refresh_error)``.

    An entry nobody can read makes the counts untrue: it is said in the refresh error,
    which turns the pending results ``unknown``.
    """
    raw = facts.get("pending") or []
    raw = raw if isinstance(raw, list) else [raw]
    pending = [dict(p, held=bool(p.get("held")), security=bool(p.get("security"))) for p in raw
               if isinstance(p, dict) and isinstance(p.get("name"), str)]
    stale = facts.get("refresh_error")
    if len(pending) != len(raw):
        stale = "; ".join(x for x in (stale, "%d pending entr(y/ies) unreadable" % (len(raw) - len(pending))) if x)
    return pending, stale


def _security_age(facts, security_pending, now):
    """Return ``(age in days of the oldest pending security update or None, basis)``."""
    if "security_age_days" in facts:  # dnf: from the advisories' Issued dates
        return number(facts["security_age_days"]), "advisory_issued_date"  # NaN or text: not known
    try:  # apt: from the Release files' dates
        age = security_age_days(security_pending, facts.get("releases"), now)
    except (TypeError, ValueError, AttributeError):
        age = None  # a Release entry of an odd shape: the age is not known
    return age, "release_file_date_lower_bound"


def scan_results(facts, policy, now):
    """Return the state results of a scan: pending, pending_security, reboot_required, last_patched.

    Args:
        facts: dict from a collect module: ``manager``, ``refresh_error`` (str or None),
            ``pending`` (output of ``classify`` plus optional ``security_origins``),
            ``releases``, ``reboot_required`` (bool or None), ``reboot_required_pkgs``,
            ``last_upgrade`` (aware datetime or None) and ``logs_since`` (text or None).
        policy: an ``effective_policy()``.
        now: aware datetime.
    """
    results = []
    pending, stale = _readable_pending(facts)
    free = [p for p in pending if not p["held"]]
    held = [p for p in pending if p["held"]]
    sec = [p for p in free if p["security"]]
    held_sec = [p for p in held if p["security"]]
    installable = [p for p in free if p.get("target")]
    listing = [{"name": p["name"], "installed": p.get("installed"), "candidate": p.get("candidate"),
                "security": p["security"], "target": p.get("target"), "reason": p.get("reason")} for p in pending]

    if stale:
        status = "unknown"
    elif free and policy["mode"] == "all":
        status = "warning"
    else:
        status = "ok"
    pending_summary = M_("%(count)s pending update(s), %(installable)s installable by policy, %(held)s held",
                         count=len(free), installable=len(installable), held=len(held))
    if stale:  # a value not read: the report says "not measured" from the status
        pending_summary = _stale(pending_summary, stale)
    results.append(make_result(
        PENDING, "", status, pending_summary,
        observed={"count": len(free), "installable": len(installable), "held": [p["name"] for p in held],
                  "packages": listing, "manager": facts.get("manager")},
        threshold={"mode": policy["mode"], "exclude": policy["exclude"], "accept": policy["accept"]},
        remediation=(M_("Refresh the host's package sources and scan again.") if stale else
                     _remedy(PENDING) if status == "warning" else ""),
    ))

    age, basis = _security_age(facts, sec + held_sec, now)
    if stale:
        status = "unknown"
    elif sec and age is not None and age >= policy["security_max_age_days"]:
        status = "critical"
    elif sec or held_sec:
        status = "warning"
    else:
        status = "ok"
    summary = _security_summary(sec, held_sec, age, basis)
    if stale:
        summary = _stale(summary, stale)
    results.append(make_result(
        PENDING_SECURITY, "", status, summary,
        observed={"count": len(sec), "packages": [p["name"] for p in sec],
                  "held": [p["name"] for p in held_sec], "oldest_age_days": age,
                  "age_basis": basis if age is not None else None},
        threshold={"max_age_days": policy["security_max_age_days"]},
        remediation=(M_("Install the security updates now; they are older than the policy allows.")
                     if status == "critical" else
                     _remedy(PENDING_SECURITY)
                     if status == "warning" else ""),
    ))

    reboot = facts.get("reboot_required")
    if reboot is None:
        status, summary = "unknown", M_("whether a reboot is required could not be read")
    elif reboot:
        pkgs = facts.get("reboot_required_pkgs") or []
        status = "warning"
        summary = M_("reboot required by %(packages)s", packages=", ".join(pkgs)) if pkgs else M_("reboot required")
    else:
        status, summary = "ok", M_("no reboot required")
    results.append(make_result(
        REBOOT_REQUIRED, "", status, summary,
        observed={"reboot_required": reboot, "packages": facts.get("reboot_required_pkgs") or []},
        threshold={"reboot_policy": policy["reboot"]},
        remediation=_remedy(REBOOT_REQUIRED) if status == "warning" else "",
    ))

    last = facts.get("last_upgrade")
    last = last if isinstance(last, datetime.datetime) and last.tzinfo is not None else None
    if last is None:
        results.append(make_result(
            LAST_PATCHED, "", "unknown",
            M_("no successful upgrade recorded in the package manager's logs"),
            observed={"days": None, "logs_since": facts.get("logs_since")},
            threshold={"warn_days": policy["last_patched_warn_days"], "crit_days": policy["last_patched_crit_days"]},
            remediation=M_("Check the host's patch history; logs may have been rotated away."),
        ))
    else:
        days = max(age_days(now - last), 0.0)
        status = grade_high(days, policy["last_patched_warn_days"], policy["last_patched_crit_days"])
        results.append(make_result(
            LAST_PATCHED, "", status, M_("last successful upgrade %(days)s day(s) ago", days=round(days, 1)),
            observed={"days": days, "last_upgrade": last.astimezone(datetime.timezone.utc).isoformat()},
            threshold={"warn_days": policy["last_patched_warn_days"], "crit_days": policy["last_patched_crit_days"]},
            remediation=_remedy(LAST_PATCHED) if status != "ok" else "",
        ))
    return results


def _space_and_lock_problems(facts, policy):
    """Return (problems, unread) for free space and package manager locks."""
    problems, unread = [], []
    free = facts.get("free_mb") or {}
    for mount in sorted(free):
        value = number(free[mount])  # NaN or text never passes "value < minimum" as enough space
        if value is None:
            unread.append("free space on %s" % mount)
        elif value < policy["min_free_mb"]:
            problems.append("%s has %d MB free (minimum %d)" % (mount, value, policy["min_free_mb"]))
    if not free:
        unread.append("free space")
    for path, info in sorted((facts.get("locks") or {}).items()):
        if not isinstance(info, dict):
            unread.append("lock %s" % path)
        elif info.get("held"):
            who = " by pid %s" % info.get("pid") if info.get("pid") else ""
            problems.append("package manager lock %s is held%s" % (path, who))
    return problems, unread


def precheck(facts, policy, backup_age_hours=None, rpo_hours=None):
    """Decide whether installing is safe on this host now.

    ``facts``: ``free_mb`` (mount -> MB or None), ``locks`` (path -> {held, pid} or None).
    ``backup_age_hours``: age of the newest good backup of this host (None if unknown);
    only used when the policy sets ``require_backup_within_rpo``.

    Returns ``(ok, result)``: one ``patch.precheck`` result, ``critical`` when a check fails
    or cannot be read (installing blind is not safe).
    """
    problems, unread = _space_and_lock_problems(facts, policy)
    if facts.get("installed_list_read") is False:
        # Installing without the list of installed packages would change what the report cannot show.
        unread.append("the list of installed packages")
    locks = facts.get("locks")
    free = facts.get("free_mb") or {}
    if policy["require_backup_within_rpo"]:
        if backup_age_hours is None or rpo_hours is None:
            unread.append("backup age (no backup result within the RPO)")
        elif backup_age_hours > rpo_hours:
            problems.append("newest good backup is %.0f h old (RPO %.0f h)" % (backup_age_hours, rpo_hours))
    failures = problems + ["could not read %s" % u for u in unread]
    observed = {"free_mb": free, "locks": locks, "backup_age_hours": backup_age_hours}
    threshold = {"min_free_mb": policy["min_free_mb"],
                 "require_backup_within_rpo": policy["require_backup_within_rpo"], "rpo_hours": rpo_hours}
    if failures:
        return False, make_result(
            PRECHECK, "", "critical", M_("host skipped: %(problems)s", problems="; ".join(failures)),
            observed=observed, threshold=threshold,
            remediation=_remedy(PRECHECK),
        )
    return True, make_result(PRECHECK, "", "ok", M_("pre-checks passed"), observed=observed, threshold=threshold)


def _change_text(change):
    if change["change"] == "upgraded":
        return "%s %s -> %s" % (change["name"], change["from"], change["to"])
    if change["change"] == "installed":
        return "%s %s (new)" % (change["name"], change["to"])
    return "%s %s (removed)" % (change["name"], change["from"])


def _outside_policy(changes, planned_names, held, policy):
    """Changes the plan did not ask for that the policy forbids (a last check, after the fact)."""
    held = set(held or [])
    problems = []
    for change in changes:
        base = _base_name(change["name"])
        if change["name"] in planned_names and change["change"] == "upgraded":
            continue
        if base in held:
            problems.append("held package %s changed" % change["name"])
        elif _matches(base, policy["exclude"]):
            problems.append("%s changed (excluded by policy)" % change["name"])
        elif change["change"] == "removed":
            problems.append("%s %s removed" % (change["name"], change["from"]))
        if change["to"] and change["to"].endswith(")"):
            problems.append("%s left as %s" % (change["name"], change["to"]))
    return problems


def install_results(planned, before, after, error=None, before_all=None, after_all=None, policy=None,
                    held=None, blocked=None):
    """Compare the host before and after the install; return patch.installed and patch.failed.

    ``patch.installed`` lists EVERY package change (the planned updates, the dependencies
    they pulled in, packages removed) from full snapshots of the installed packages; the
    plan is kept apart in ``observed.planned``.

    Args:
        planned: ``classify`` entries that had a target.
        before: name -> installed version of the planned packages before the install.
        after: name -> installed version of the planned packages after it (None when not installed).
        error: the install task's error message, if it failed.
        before_all: snapshot of every installed package before the install (``"name:arch"``
            -> versions, ``parse_dpkg_snapshot``/``parse_rpm_snapshot``); None when not read.
        after_all: the same after the install.
        policy: an ``effective_policy()``, to flag changes the policy forbids.
        held: names of held packages.
        blocked: ``{name, reason}`` of updates the plan guard kept out (``guard_plan``).
    """
    planned_names = set(p["name"] for p in planned)
    security = dict((p["name"], bool(p.get("security", False))) for p in planned)
    plan_view, failures = [], []
    for pkg in planned:
        name = pkg["name"]
        new = after.get(name)
        plan_view.append({"name": name, "from": before.get(name), "to": pkg["target"],
                          "security": security[name], "done": new == pkg["target"]})
        if new != pkg["target"]:
            failures.append({"name": name, "wanted": pkg["target"], "installed": new})
    complete = before_all is not None and after_all is not None
    if complete:
        changes = package_diff(before_all, after_all)
    else:  # the full lists were not read: only the planned packages can be compared
        changes = [{"name": p["name"], "arch": None, "change": "upgraded", "from": p["from"],
                    "to": after.get(p["name"])} for p in plan_view if after.get(p["name"]) not in (None, p["from"])]
    for change in changes:
        change["planned"] = change["name"] in planned_names
        change["security"] = security.get(change["name"], False)
    outside = _outside_policy(changes, planned_names, held, policy) if (policy and complete) else []
    extra = [c for c in changes if not c["planned"]]
    listed = ", ".join(_change_text(c) for c in changes)
    if changes and extra:
        summary = M_("changed %(count)s package(s) (%(extra)s pulled in or removed with the updates): %(packages)s",
                     count=len(changes), extra=len(extra), packages=listed)
    elif changes:
        summary = M_("changed %(count)s package(s): %(packages)s", count=len(changes), packages=listed)
    else:
        summary = M_("nothing to install")
    if blocked:
        summary = M_("%(summary)s; %(count)s update(s) blocked by policy: %(updates)s", summary=[summary],
                     count=len(blocked), updates=", ".join("%s (%s)" % (b["name"], b["reason"]) for b in blocked))
    if not complete:
        status = "unknown"
        summary = M_("%(summary)s (the full list of installed packages could not be read: other changes are not "
                     "shown)", summary=[summary])
    else:
        status = "warning" if blocked else "ok"
    results = [make_result(
        INSTALLED, "", status, summary,
        observed={"packages": changes, "count": len(changes), "planned": plan_view,
                  "blocked": list(blocked or []), "complete": complete},
        remediation=(_remedy(INSTALLED) if blocked else
                     M_("Read the host's package log (/var/log/apt/history.log, /var/log/dnf.rpm.log).")
                     if not complete else ""),
        changed=bool(changes),
    )]
    if failures or error or outside:
        detail = ", ".join("%s (wanted %s, has %s)" % (f["name"], f["wanted"], f["installed"]) for f in failures)
        results.append(make_result(
            FAILED, "", "critical",
            M_("update failed: %(problems)s", problems="; ".join(x for x in (detail, error, "; ".join(outside)) if x)),
            observed={"packages": failures, "error": error, "outside_policy": outside},
            remediation=_remedy(FAILED),
        ))
    else:
        results.append(make_result(FAILED, "", "ok", M_("no update failed"),
                                   observed={"packages": [], "error": None, "outside_policy": []}))
    return results


# The patch.pending_security summaries, by (updates on held packages, how the oldest age is known).
_SECURITY_SUMMARIES = {
    (False, None): N_("%(count)s pending security update(s)"),
    (False, "release"): N_("%(count)s pending security update(s), oldest published at least %(days)s day(s) ago"),
    (False, "issued"): N_("%(count)s pending security update(s), oldest issued %(days)s day(s) ago"),
    (True, None): N_("%(count)s pending security update(s), %(held)s more on held package(s): %(held_packages)s"),
    (True, "release"): N_("%(count)s pending security update(s), %(held)s more on held package(s): "
                          "%(held_packages)s, oldest published at least %(days)s day(s) ago"),
    (True, "issued"): N_("%(count)s pending security update(s), %(held)s more on held package(s): "
                         "%(held_packages)s, oldest issued %(days)s day(s) ago"),
}


def _security_summary(sec, held_sec, age, basis):
    params = {"count": len(sec)}
    if held_sec:
        params.update(held=len(held_sec), held_packages=", ".join(p["name"] for p in held_sec))
    if age is not None:
        params["days"] = int(round(age))
    age_kind = None if age is None else "release" if basis.startswith("release") else "issued"
    return Msg(_SECURITY_SUMMARIES[(bool(held_sec), age_kind)], params)


def reboot_decision(policy, reboot_required, installed_any, guard_allowed, guard_reason="", install_failed=False):
    """Return ``(action, reason)``: action is ``reboot``, ``skip`` or ``defer``.

    ``if_required`` reboots when the host says so (also for an update installed by an
    earlier run); ``always`` also reboots after any install. ``reboot_required`` may be
    None (unknown): no reboot is started on a guess. A host whose install failed is never
    rebooted: a half-configured kernel or boot loader may not come back.
    """
    if policy["reboot"] == "never":
        return "skip", "reboots are not allowed by policy" + (" (one is required)" if reboot_required else "")
    wanted = bool(reboot_required) or (policy["reboot"] == "always" and installed_any)
    if not wanted:
        return "skip", "no reboot required"
    if install_failed:
        return "skip", "an update failed, so the host is not rebooted half-patched (one is required)"
    if not guard_allowed:
        return "defer", "reboot needed but the window is closing" + (": %s" % guard_reason if guard_reason else "")
    if reboot_required:
        return "reboot", "a reboot is required (policy %s)" % policy["reboot"]
    return "reboot", "updates installed (policy always)"


def reboot_result(action, reason, rebooted=None, elapsed=None):
    """Return the patch.rebooted result of a reboot decision (and the reboot, if it ran)."""
    if action == "reboot":
        if rebooted:
            return make_result(REBOOTED, "", "ok", M_("rebooted (%(reason)s) in %(seconds)s s", reason=reason,
                                                      seconds=elapsed),
                               observed={"rebooted": True, "elapsed_s": elapsed, "reason": reason}, changed=True)
        return make_result(REBOOTED, "", "critical",
                           M_("reboot attempted but not confirmed (%(reason)s)", reason=reason),
                           observed={"rebooted": False, "reason": reason},
                           remediation=_remedy(REBOOTED))
    if action == "defer":
        return make_result(REBOOTED, "", "warning", M_("reboot deferred: %(reason)s", reason=reason),
                           observed={"rebooted": False, "reason": reason},
                           remediation=M_("The reboot runs when the run is resumed in the next window."))
    status = "warning" if reason.endswith("(one is required)") else "skipped"
    return make_result(REBOOTED, "", status, M_("not rebooted: %(reason)s", reason=reason),
                       observed={"rebooted": False, "reason": reason},
                       remediation=M_("Reboot the host manually in a window.") if status == "warning" else "")


def post_check(processes, services):
    """Return a patch.post_check result: every critical service must have a running process.

    ``processes``: process names (comm) and command lines running on the host. A service
    matches a process whose name equals it or whose command's program name equals it.
    Without systemd (the lab's containers) processes are the ground truth.
    """
    names = set()
    for proc in processes or []:
        text = str(proc).strip()
        if not text:
            continue
        names.add(text)
        first = text.split()[0]
        names.add(first.rsplit("/", 1)[-1].rstrip(":"))
    missing = [s for s in services if s not in names]
    if not services:
        return make_result(POST_CHECK, "", "ok", M_("no critical service listed in the policy"),
                           observed={"services": [], "missing": []})
    if missing:
        return make_result(POST_CHECK, "", "critical",
                           M_("critical service(s) not running after patching: %(services)s",
                              services=", ".join(missing)),
                           observed={"services": services, "missing": missing},
                           threshold={"critical_services": services},
                           remediation=_remedy(POST_CHECK))
    return make_result(POST_CHECK, "", "ok",
                       M_("critical services running: %(services)s", services=", ".join(services)),
                       observed={"services": services, "missing": []}, threshold={"critical_services": services})


def deferred_result(reason, what="install"):
    """Return the patch.deferred result for a host not reached before the window closed."""
    return make_result(DEFERRED, what, "warning", M_("%(what)s deferred: %(reason)s", what=what, reason=reason),
                       observed={"reason": reason},
                       remediation=_remedy(DEFERRED))



def summarize_status(results):
    """Return the worst status of ``results`` (``unknown`` when there are none)."""
    return worst([r["status"] for r in results])
