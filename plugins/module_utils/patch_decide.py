# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Patch decisions: pure Python, no I/O, no Ansible import.

Collect code (``apt_patch_facts``, ``dnf_patch_facts``, the Windows tasks) reads raw facts;
this module turns them into a plan (which package goes to which version) and into check
results (``patch.*``). It is unit-tested on recorded inputs (tests/unit/test_patch_decide.py).

Policy (``maint_policy.patch``, schema in schemas/policy/patch.schema.json), defaults in
``DEFAULTS``:

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
    from ansible.module_utils.maint_result import grade_high, make_result, number, worst
except ImportError:  # pragma: no cover - used outside Ansible (maintctl, tests)
    from maint_utils.maint_result import grade_high, make_result, number, worst

MODES = ("security", "all")
REBOOT_POLICIES = ("never", "if_required", "always")
DEFAULTS = {
    "mode": "security",
    "exclude": [],
    "accept": [],
    "exclude_kbs": [],
    "exclude_titles": [],
    "categories": ["CriticalUpdates", "SecurityUpdates", "UpdateRollups"],
    "reboot": "if_required",
    "min_free_mb": 500,
    "critical_services": [],
    "require_backup_within_rpo": False,
    "security_pattern": "(?i)security",
    "security_max_age_days": 14,
    "last_patched_warn_days": 35,
    "last_patched_crit_days": 90,
}
LIST_KEYS = ("exclude", "accept", "exclude_kbs", "exclude_titles", "categories", "critical_services")
LOCK_FILES = ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock")
# dnf 4: rpm's own fcntl lock on its database, and dnf's process lock (a PID file,
# dnf/lock.py build_rpmdb_lock under persistdir /var/lib/dnf).
DNF_FCNTL_LOCKS = ("/var/lib/rpm/.rpm.lock",)
DNF_PID_LOCKS = ("/var/lib/dnf/rpmdb_lock.pid",)


class PolicyError(ValueError):
    """The patch policy holds a value the role cannot act on (one-line message)."""


def effective_policy(policy):
    """Return ``policy`` merged over ``DEFAULTS``, checked; raise PolicyError if malformed.

    Keys the role does not use here (``canary``, ``serial``, ``max_fail_percentage``) are
    kept as they are: they are play keywords.
    """
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        raise PolicyError("patch policy must be a mapping, got %s" % type(policy).__name__)
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in policy.items() if v is not None})
    if merged["mode"] not in MODES:
        raise PolicyError("patch policy mode %r: use one of %s" % (merged["mode"], ", ".join(MODES)))
    if merged["reboot"] not in REBOOT_POLICIES:
        raise PolicyError("patch policy reboot %r: use one of %s" % (merged["reboot"], ", ".join(REBOOT_POLICIES)))
    for key in LIST_KEYS:
        value = merged[key]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            raise PolicyError("patch policy %s: expected a list of strings" % key)
        merged[key] = [str(v) for v in value]
    for key in ("min_free_mb", "security_max_age_days", "last_patched_warn_days", "last_patched_crit_days"):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PolicyError("patch policy %s: expected a number >= 0, got %r" % (key, value))
    for regex in merged["exclude_titles"] + [merged["security_pattern"]]:
        try:
            re.compile(regex)
        except re.error as exc:
            raise PolicyError("patch policy regex %r: %s" % (regex, exc)) from exc
    return merged


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


def install_specs(classified):
    """Return ``name=version`` pins for the packages that have a target."""
    return ["%s=%s" % (p["name"], p["target"]) for p in classified if p["target"]]


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


# -- installed packages, before and after ------------------------------------------------------

# dpkg states in which a package is usable; any other state but not-installed/config-files
# is a package left half-way (shown in its version, so a diff and the verify see it).
_DPKG_OK = ("installed", "triggers-pending", "triggers-awaiting")
_DPKG_ABSENT = ("not-installed", "config-files")
DPKG_QUERY_FORMAT = "${Package}\\t${Architecture}\\t${Version}\\t${db:Status-Status}\\n"


def parse_dpkg_snapshot(text):
    r"""Parse ``dpkg-query -W -f '${Package}\t${Architecture}\t${Version}\t${db:Status-Status}\n'``.

    Returns ``"name:arch"`` -> sorted list of versions; a package in a broken state (for
    example ``half-configured`` after an interrupted install) has its state appended:
    ``"1.1 (half-configured)"``. Removed packages (even with their conffiles left) are absent.
    """
    out = {}
    for line in (text or "").splitlines():
        parts = line.split("\t")
        if len(parts) != 4 or not parts[0] or parts[3] in _DPKG_ABSENT or not parts[2]:
            continue
        version = parts[2] if parts[3] in _DPKG_OK else "%s (%s)" % (parts[2], parts[3])
        out.setdefault("%s:%s" % (parts[0], parts[1]), []).append(version)
    return dict((k, sorted(set(v))) for k, v in out.items())


def parse_rpm_snapshot(text):
    r"""Parse ``rpm -qa --qf '%{NAME} %{EPOCH} %{VERSION}-%{RELEASE} %{ARCH}\n'``: ``"name:arch"`` -> versions.

    Versions are written as dnf writes them (``parse_rpm_query``). Several versions of
    one name and arch (kernels) are all kept.
    """
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) not in (3, 4):
            continue
        arch = parts[3] if len(parts) == 4 else ""
        out.setdefault("%s:%s" % (parts[0], arch), []).append(_evr(parts[1], parts[2]))
    return dict((k, sorted(set(v))) for k, v in out.items())


def snapshot_version(snapshot, name, native_arch):
    """Return the installed version of apt package ``name`` from a dpkg snapshot, or None.

    ``name`` is python-apt's: bare for the native architecture (or ``all``), ``name:arch``
    for a foreign one.
    """
    keys = [name] if ":" in name else ["%s:%s" % (name, native_arch), "%s:all" % name]
    for key in keys:
        versions = snapshot.get(key)
        if versions:
            return versions[-1] if len(versions) == 1 else ", ".join(versions)
    return None


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


# -- logs ----------------------------------------------------------------------------------------

_HIST_DATE = re.compile(r"^Start-Date:\s*(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2})", re.M)


def _parse_local(date_text):
    return datetime.datetime.strptime(date_text, "%Y-%m-%d %H:%M:%S")


def last_upgrade_from_history(text):
    """Return the naive local time of the last apt transaction that upgraded without error.

    ``text`` is /var/log/apt/history.log (rotated files concatenated, any order). Returns
    None when no such transaction is recorded.
    """
    best = None
    for block in re.split(r"\n\s*\n", text or ""):
        match = _HIST_DATE.search(block)
        if not match or not re.search(r"^Upgrade:", block, re.M) or re.search(r"^Error:", block, re.M):
            continue
        when = _parse_local("%s %s" % match.groups())
        best = when if best is None or when > best else best
    return best


def last_upgrade_from_dpkg_log(text):
    """Return the naive local time of the last ``upgrade`` action in dpkg.log, or None."""
    best = None
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "upgrade":
            try:
                when = _parse_local("%s %s" % (parts[0], parts[1]))
            except ValueError:
                continue
            best = when if best is None or when > best else best
    return best


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


def _days(delta):
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
                        ages.append(max(_days(now - date), 0.0))
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
    stale_note = " (package lists could not be refreshed: %s)" % stale if stale else ""

    if stale:
        status = "unknown"
    elif free and policy["mode"] == "all":
        status = "warning"
    else:
        status = "ok"
    results.append(make_result(
        "patch.pending", "", status,
        "%d pending update(s), %d installable by policy, %d held%s"
        % (len(free), len(installable), len(held), stale_note),
        observed={"count": len(free), "installable": len(installable), "held": [p["name"] for p in held],
                  "packages": listing, "manager": facts.get("manager")},
        threshold={"mode": policy["mode"], "exclude": policy["exclude"], "accept": policy["accept"]},
        remediation=("Refresh the host's package sources and scan again." if stale else
                     "Install the pending updates in the next maintenance window." if status == "warning" else ""),
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
    summary = "%d pending security update(s)" % len(sec)
    if held_sec:
        summary += ", %d more on held package(s): %s" % (len(held_sec), ", ".join(p["name"] for p in held_sec))
    if age is not None:
        summary += (", oldest published at least %.0f day(s) ago" if basis.startswith("release")
                    else ", oldest issued %.0f day(s) ago") % age
    results.append(make_result(
        "patch.pending_security", "", status, summary + stale_note,
        observed={"count": len(sec), "packages": [p["name"] for p in sec],
                  "held": [p["name"] for p in held_sec], "oldest_age_days": age,
                  "age_basis": basis if age is not None else None},
        threshold={"max_age_days": policy["security_max_age_days"]},
        remediation=("Install the security updates now; they are older than the policy allows."
                     if status == "critical" else
                     "Install the security updates in the next window; review held packages."
                     if status == "warning" else ""),
    ))

    reboot = facts.get("reboot_required")
    if reboot is None:
        status, summary = "unknown", "whether a reboot is required could not be read"
    elif reboot:
        pkgs = facts.get("reboot_required_pkgs") or []
        status = "warning"
        summary = "reboot required" + (" by %s" % ", ".join(pkgs) if pkgs else "")
    else:
        status, summary = "ok", "no reboot required"
    results.append(make_result(
        "patch.reboot_required", "", status, summary,
        observed={"reboot_required": reboot, "packages": facts.get("reboot_required_pkgs") or []},
        threshold={"reboot_policy": policy["reboot"]},
        remediation="Reboot the host in a maintenance window." if status == "warning" else "",
    ))

    last = facts.get("last_upgrade")
    last = last if isinstance(last, datetime.datetime) and last.tzinfo is not None else None
    if last is None:
        results.append(make_result(
            "patch.last_patched", "", "unknown",
            "no successful upgrade recorded in the package manager's logs",
            observed={"days": None, "logs_since": facts.get("logs_since")},
            threshold={"warn_days": policy["last_patched_warn_days"], "crit_days": policy["last_patched_crit_days"]},
            remediation="Check the host's patch history; logs may have been rotated away.",
        ))
    else:
        days = max(_days(now - last), 0.0)
        status = grade_high(days, policy["last_patched_warn_days"], policy["last_patched_crit_days"])
        results.append(make_result(
            "patch.last_patched", "", status, "last successful upgrade %.1f day(s) ago" % days,
            observed={"days": days, "last_upgrade": last.astimezone(datetime.timezone.utc).isoformat()},
            threshold={"warn_days": policy["last_patched_warn_days"], "crit_days": policy["last_patched_crit_days"]},
            remediation="Patch this host: it has not been updated for too long." if status != "ok" else "",
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
            "patch.precheck", "", "critical", "host skipped: " + "; ".join(failures),
            observed=observed, threshold=threshold,
            remediation="Fix the cause (free space, a running package manager, backups), then run again.",
        )
    return True, make_result("patch.precheck", "", "ok", "pre-checks passed", observed=observed, threshold=threshold)


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
    if changes:
        summary = "changed %d package(s)%s: %s" % (
            len(changes), " (%d pulled in or removed with the updates)" % len(extra) if extra else "",
            ", ".join(_change_text(c) for c in changes))
    else:
        summary = "nothing to install"
    if blocked:
        summary += "; %d update(s) blocked by policy: %s" % (
            len(blocked), ", ".join("%s (%s)" % (b["name"], b["reason"]) for b in blocked))
    if not complete:
        status = "unknown"
        summary += " (the full list of installed packages could not be read: other changes are not shown)"
    else:
        status = "warning" if blocked else "ok"
    results = [make_result(
        "patch.installed", "", status, summary,
        observed={"packages": changes, "count": len(changes), "planned": plan_view,
                  "blocked": list(blocked or []), "complete": complete},
        remediation=("Review the blocked updates: install them by hand or adjust the policy." if blocked else
                     "Read the host's package log (/var/log/apt/history.log, /var/log/dnf.rpm.log)."
                     if not complete else ""),
        changed=bool(changes),
    )]
    if failures or error or outside:
        detail = ", ".join("%s (wanted %s, has %s)" % (f["name"], f["wanted"], f["installed"]) for f in failures)
        results.append(make_result(
            "patch.failed", "", "critical",
            "update failed: " + "; ".join(x for x in (detail, error, "; ".join(outside)) if x),
            observed={"packages": failures, "error": error, "outside_policy": outside},
            remediation="Read the run's log for this host, fix the package problem, then run again.",
        ))
    else:
        results.append(make_result("patch.failed", "", "ok", "no update failed",
                                   observed={"packages": [], "error": None, "outside_policy": []}))
    return results


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
            return make_result("patch.rebooted", "", "ok", "rebooted (%s) in %s s" % (reason, elapsed),
                               observed={"rebooted": True, "elapsed_s": elapsed, "reason": reason}, changed=True)
        return make_result("patch.rebooted", "", "critical", "reboot attempted but not confirmed (%s)" % reason,
                           observed={"rebooted": False, "reason": reason},
                           remediation="Check the host's console: it may not have come back.")
    if action == "defer":
        return make_result("patch.rebooted", "", "warning", "reboot deferred: %s" % reason,
                           observed={"rebooted": False, "reason": reason},
                           remediation="The reboot runs when the run is resumed in the next window.")
    status = "warning" if reason.endswith("(one is required)") else "skipped"
    return make_result("patch.rebooted", "", status, "not rebooted: %s" % reason,
                       observed={"rebooted": False, "reason": reason},
                       remediation="Reboot the host manually in a window." if status == "warning" else "")


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
        return make_result("patch.post_check", "", "ok", "no critical service listed in the policy",
                           observed={"services": [], "missing": []})
    if missing:
        return make_result("patch.post_check", "", "critical",
                           "critical service(s) not running after patching: %s" % ", ".join(missing),
                           observed={"services": services, "missing": missing},
                           threshold={"critical_services": services},
                           remediation="Start the service(s) and read their logs; roll back the update if needed.")
    return make_result("patch.post_check", "", "ok", "critical services running: %s" % ", ".join(services),
                       observed={"services": services, "missing": []}, threshold={"critical_services": services})


def deferred_result(reason, what="install"):
    """Return the patch.deferred result for a host not reached before the window closed."""
    return make_result("patch.deferred", what, "warning", "%s deferred: %s" % (what, reason),
                       observed={"reason": reason},
                       remediation="Resume the run in the next maintenance window (maintctl run --resume).")


# -- dnf (RHEL, Rocky, Alma, Fedora): parse recorded command output ---------------------------

_NEVRA_ARCHES = ("noarch", "x86_64", "aarch64", "i686", "ppc64le", "s390x", "src")


def parse_dnf_check_update(text):
    """Parse ``dnf -q check-update`` output into ``[{name, arch, version, repo}]``.

    Lines are ``name.arch  version-release  repo``; a line that wraps (a long name) goes on
    the next line. "Obsoleting Packages" and everything after it is ignored.
    """
    out = []
    tokens = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith(("Last metadata", "Security:", "Available upgrades", "Updating and loading",
                                        "Repositories loaded")):
            continue  # dnf 5 prints the last three (check-upgrade) when not fully quiet
        if line.startswith("Obsoleting"):
            break
        tokens.extend(line.split())
        while len(tokens) >= 3:
            namearch, version, repo = tokens[:3]
            tokens = tokens[3:]
            name, _, arch = namearch.rpartition(".")
            if not name or arch not in _NEVRA_ARCHES:
                continue
            out.append({"name": name, "arch": arch, "version": version, "repo": repo})
    return out


def _split_nevra(nevra):
    base, _, arch = nevra.rpartition(".")
    if arch not in _NEVRA_ARCHES:
        return None
    parts = base.rsplit("-", 2)
    if len(parts) != 3:
        return None
    name, version, release = parts
    return {"name": name, "version": "%s-%s" % (version, release), "arch": arch}


# Lines of dnf's advisory listings that are no advisory row and no sign of trouble.
_DNF_NOISE = ("Last metadata", "Updating and loading", "Updating Subscription", "Repositories loaded",
              "No matching advisor", "No advisor")
_DNF_HEADER = re.compile(r"^\s*Name\s+Type\s+Severity\s+Package", re.I)
_DNF_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DNF_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


def parse_dnf_advisory_rows(text):
    """Parse a dnf advisory listing into ``(rows, unrecognised)``.

    Accepted rows:

    * dnf 4 ``updateinfo list``: ``ADVISORY  Severity/Sec.  name-version-release.arch``;
      with ``--all`` or ``--installed`` each row starts with ``i`` (installed) or blanks;
    * dnf 5 ``advisory list`` (and its ``updateinfo`` alias): ``ADVISORY  type  Severity
      nevra  YYYY-MM-DD HH:MM:SS``, under a ``Name Type Severity Package Issued`` header;
      on a narrow terminal dnf 5 cuts the columns (``secu Importan``).

    Each row is ``{advisory, kind, severity, name, version, arch, installed, security}``.
    ``unrecognised`` counts the non-blank lines that are neither a row nor known noise
    (headers, "Last metadata expiration check"): output that nobody understood.
    """
    rows, unrecognised = [], 0
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith(_DNF_NOISE) or _DNF_HEADER.match(line):
            continue
        parts = line.split()
        installed = False
        if parts[0] in ("i", "I") and len(parts) > 3:
            installed, parts = True, parts[1:]
        while len(parts) > 3 and (_DNF_DATE.match(parts[-1]) or _DNF_TIME.match(parts[-1])):
            parts = parts[:-1]  # dnf 5's Issued column
        nevra = _split_nevra(parts[-1]) if len(parts) >= 3 else None
        if nevra is None:
            unrecognised += 1
            continue
        kind = " ".join(parts[1:-1])
        # dnf 4: "Important/Sec."; dnf 5: the type, then the severity.
        severity = kind.split("/")[0] if "/" in kind else parts[-2] if len(parts) >= 4 else ""
        rows.append({"advisory": parts[0], "kind": kind, "severity": severity, "name": nevra["name"],
                     "version": nevra["version"], "arch": nevra["arch"], "installed": installed,
                     "security": "sec" in kind.lower()})
    return rows, unrecognised


def parse_dnf_updateinfo_list(text):
    """Parse ``dnf -q updateinfo list --security`` (dnf 4) or ``dnf -q advisory list --security`` (dnf 5).

    Returns the pending security advisories: ``[{advisory, severity, name, version}]``
    (installed ones, the ``i`` rows of ``--all``, are not pending). See
    ``parse_dnf_advisory_rows`` for the formats.
    """
    rows, _ = parse_dnf_advisory_rows(text)
    return [{"advisory": r["advisory"], "severity": r["severity"], "name": r["name"], "version": r["version"]}
            for r in rows if r["security"] and not r["installed"]]


def dnf_output_not_understood(text):
    """Return True when a dnf listing has content but not one row could be read from it.

    Such output (a new dnf, a changed format, an error printed on stdout) must never read
    as "nothing pending".
    """
    rows, unrecognised = parse_dnf_advisory_rows(text)
    return bool(unrecognised) and not rows


def parse_dnf_updateinfo_info(text):
    """Parse ``dnf -q updateinfo info --security``: advisory id -> issued date (aware UTC)."""
    out = {}
    current = None
    for raw in (text or "").splitlines():
        if ":" not in raw:
            continue
        key, _, value = raw.partition(":")
        key, value = key.strip(), value.strip()
        if key == "Update ID" or (key == "Name" and re.match(r"^[A-Z][A-Za-z0-9]*-\S*\d", value)):
            current = value  # dnf 4 "Update ID", dnf 5 "Name"
        elif key == "Issued" and current:
            for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
                try:
                    when = datetime.datetime.strptime(value, fmt).replace(tzinfo=datetime.timezone.utc)
                except ValueError:
                    continue
                out[current] = when
                break
    return out


def dnf_pending(check_update_text, updateinfo_list_text, installed, locked=()):
    """Build ``classify`` input from dnf output: ``upgradable`` list and the locked names.

    ``installed``: name -> installed version (from rpm). ``locked``: versionlocked names.
    A package listed for two architectures (x86_64 and i686) is one entry: dnf upgrades
    both to the same version.
    """
    security = {}
    for adv in parse_dnf_updateinfo_list(updateinfo_list_text):
        security.setdefault(adv["name"], adv)
    upgradable, seen = [], set()
    for pkg in parse_dnf_check_update(check_update_text):
        if pkg["name"] in seen:
            continue
        seen.add(pkg["name"])
        adv = security.get(pkg["name"])
        upgradable.append({
            "name": pkg["name"], "installed": installed.get(pkg["name"]), "candidate": pkg["version"],
            "versions": [{"version": pkg["version"], "security": adv is not None,
                          "advisory": adv["advisory"] if adv else None}],
        })
    return upgradable, list(locked)


def dnf_security_age_days(updateinfo_list_text, updateinfo_info_text, now):
    """Return the age in days of the oldest pending security advisory (its Issued date), or None."""
    issued = parse_dnf_updateinfo_info(updateinfo_info_text)
    ages = [max(_days(now - issued[a["advisory"]]), 0.0)
            for a in parse_dnf_updateinfo_list(updateinfo_list_text) if a["advisory"] in issued]
    return max(ages) if ages else None


def _evr(epoch, version_release):
    """Format an EVR as dnf prints it: the epoch only when it is not 0."""
    epoch = (epoch or "").strip()
    if epoch in ("", "0", "(none)"):
        return version_release
    return "%s:%s" % (epoch, version_release)


def parse_rpm_query(text):
    r"""Parse ``rpm -qa --qf '%{NAME} %{EPOCH} %{VERSION}-%{RELEASE} %{ARCH}\n'``: name -> version.

    The version is written as dnf writes it (``1:3.0.7-27.el9_4.2``, epoch left out when
    it is 0 or unset), so that it compares equal to ``check-update``'s candidates.
    """
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) not in (3, 4):  # the arch column is optional
            continue
        out.setdefault(parts[0], _evr(parts[1], parts[2]))
    return out


def parse_dnf_versionlock(text):
    """Parse ``dnf -q versionlock list`` (dnf 4 plugin): the names of the locked packages.

    Lines are ``name-epoch:version-release.*``; ``!``-prefixed lines are exclusions of one
    version (not locks) and ``#`` lines comments.
    """
    names = set()
    for raw in (text or "").splitlines():
        line = raw.strip()
        if line.startswith("Package name:"):  # dnf 5: "Package name: bash" then "evr = ..." lines
            name = line.split(":", 1)[1].strip()
            if name:
                names.add(name)
            continue
        if not line or line.startswith(("#", "!", "Last metadata")) or "=" in line.split()[0] or \
                line.split()[0] in ("evr", "arch"):
            continue
        spec = line.split()[0]
        if spec.endswith(".*"):
            spec = spec[:-2]
        parts = spec.rsplit("-", 2)
        if len(parts) == 3 and parts[0]:
            names.add(parts[0])
    return sorted(names)


def parse_needs_restarting(rc, text):
    """Read ``needs-restarting -r`` (dnf-plugins-core): ``(reboot_required, packages)``.

    rc 1 with "Reboot is required" means a reboot is needed (the packages follow as
    ``  * name`` lines); rc 0 with "Reboot should not be necessary" means none is. Anything
    else (the plugin missing: "No such command", rc 1) is unknown: None.
    """
    text = text or ""
    packages = sorted(line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("* "))
    if rc == 1 and "Reboot is required" in text:
        return True, packages
    if rc == 0 and "Reboot should not be necessary" in text:
        return False, []
    return None, []


_DNF_LOG_LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(Z|[+-]\d{2}(?::?\d{2})?)?\s+\S+\s+(Upgrade|Upgraded):\s")


def last_upgrade_from_dnf_rpm_log(text):
    """Return the aware UTC time of the last upgrade in /var/log/dnf.rpm.log, or None.

    dnf 4 logs one line per package of a transaction, ``2024-08-22T09:15:04+0000 SUBDEBUG
    Upgrade: curl-7.76.1-29.el9_4.1.x86_64`` (older dnf writes the offset as ``+00``).
    """
    best = None
    for line in (text or "").splitlines():
        match = _DNF_LOG_LINE.match(line)
        if not match:
            continue
        day, clock, offset = match.group(1), match.group(2), match.group(3) or "Z"
        when = datetime.datetime.strptime("%s %s" % (day, clock), "%Y-%m-%d %H:%M:%S")
        if offset == "Z":
            delta = datetime.timedelta(0)
        else:
            digits = offset[1:].replace(":", "")
            delta = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            delta = -delta if offset[0] == "-" else delta
        when = (when - delta).replace(tzinfo=datetime.timezone.utc)
        best = when if best is None or when > best else best
    return best


def dnf_install_specs(classified):
    """Return ``name-version`` specs (``openssl-1:3.0.7-27.el9_4.2``) for the packages that have a target."""
    return ["%s-%s" % (p["name"], p["target"]) for p in classified if p["target"]]


def _dnf_error(what, cmd):
    lines = [line for line in ((cmd or {}).get("err") or (cmd or {}).get("out") or "").splitlines() if line.strip()]
    return "%s failed (rc %s)%s" % (what, (cmd or {}).get("rc"), ": " + lines[-1].strip() if lines else "")


def dnf_state(outputs, policy, now):
    """Turn the raw outputs of a dnf host into the facts ``scan_results`` and ``precheck`` read.

    Args:
        outputs: dict of command outputs, each ``{rc, out, err}``: ``check_update``
            (``dnf -q check-update``: rc 100 updates, 0 none, else an error),
            ``updateinfo_list`` and ``updateinfo_info`` (``--security``; on dnf 5
            ``advisory list``/``advisory info``), ``dnf_major`` (4 or 5, default 4), ``rpm``
            (``rpm -qa`` in ``parse_rpm_query``'s format), ``versionlock`` (None when the
            plugin is not installed), ``needs_restarting`` (None when not run); and
            ``rpm_log`` (text of /var/log/dnf.rpm.log and its rotations), ``logs_since``.
        policy: an ``effective_policy()``.
        now: aware datetime.

    Returns:
        The facts dict (``manager`` dnf, ``pending`` classified, ``held``, ``reboot_required``,
        ``security_age_days``, ``last_upgrade``...). When a listing failed, or printed
        something of which not one row could be read, ``refresh_error`` says which and
        nothing is pending (an empty plan: nothing is installed blind); the state results
        are then ``unknown``, never "no pending update".
    """
    cu, ul, ui = outputs.get("check_update") or {}, outputs.get("updateinfo_list") or {}, \
        outputs.get("updateinfo_info") or {}
    major = outputs.get("dnf_major") or 4
    list_cmd = "dnf updateinfo list --security" if major < 5 else "dnf5 advisory list --security"
    errors = []
    if cu.get("rc") not in (0, 100):
        errors.append(_dnf_error("dnf check-update", cu))
    elif cu.get("rc") == 100 and not parse_dnf_check_update(cu.get("out")):
        # rc 100 says updates are pending: a listing without one readable row is not "none".
        errors.append("dnf check-update output not understood (rc 100, no package line read)")
    if ul.get("rc") != 0:
        errors.append(_dnf_error(list_cmd, ul))
    elif dnf_output_not_understood(ul.get("out")):
        errors.append("%s output not understood (no advisory row read): %s"
                      % (list_cmd, (ul.get("out") or "").strip().splitlines()[0][:120]))
    rpm = outputs.get("rpm") or {}
    if rpm.get("rc") != 0:
        errors.append(_dnf_error("rpm -qa", rpm))
    lock = outputs.get("versionlock")
    held = parse_dnf_versionlock(lock.get("out")) if lock and lock.get("rc") == 0 else []
    if lock and lock.get("rc") != 0:
        errors.append(_dnf_error("dnf versionlock list", lock))
    pending = []
    if not errors:
        upgradable, locked = dnf_pending(cu.get("out"), ul.get("out"), parse_rpm_query(rpm.get("out")), held)
        pending = classify(upgradable, locked, policy)
    reboot, reboot_pkgs = (None, [])
    if outputs.get("needs_restarting") is not None:
        reboot, reboot_pkgs = parse_needs_restarting(outputs["needs_restarting"].get("rc"),
                                                     outputs["needs_restarting"].get("out"))
    age = None
    if not errors and ui.get("rc") == 0:
        age = dnf_security_age_days(ul.get("out"), ui.get("out"), now)
    return {
        "manager": "dnf",
        "dnf_major": major,
        "refresh_error": "; ".join(errors) or None,
        "pending": pending,
        "held": held,
        "reboot_required": reboot,
        "reboot_required_pkgs": reboot_pkgs,
        "security_age_days": age,
        "last_upgrade": last_upgrade_from_dnf_rpm_log(outputs.get("rpm_log")),
        "logs_since": outputs.get("logs_since"),
    }


# -- Windows (ansible.windows.win_updates return values) -----------------------------------------

def windows_update_args(policy):
    """Return the win_updates arguments that carry the policy (categories, reject/accept lists).

    KB numbers and title regexes both go to ``reject_list`` (win_updates matches each entry
    against the KB ids and the title). In security mode only the categories listed apply.
    """
    reject = ["KB%s" % str(k).upper().lstrip("KB") for k in policy["exclude_kbs"]] + list(policy["exclude_titles"])
    categories = list(policy["categories"])
    if policy["mode"] == "security":
        categories = [c for c in categories if c in ("SecurityUpdates", "CriticalUpdates")] or ["SecurityUpdates"]
    args = {"category_names": categories}
    if reject:
        args["reject_list"] = reject
    if policy["accept"]:
        args["accept_list"] = list(policy["accept"])
    return args


def _win_updates(ret, key="updates"):
    """The updates of a win_updates return, each a dict with list ``kb``/``categories`` (odd entries dropped)."""
    value = (ret or {}).get(key) or {}
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    out = []
    for update in items:
        if not isinstance(update, dict):
            continue
        update = dict(update, title=str(update.get("title") or ""), id=str(update.get("id") or ""))
        for listed in ("kb", "categories"):
            raw = update.get(listed)
            update[listed] = [str(x) for x in raw] if isinstance(raw, list) else [str(raw)] if raw else []
        out.append(update)
    return sorted(out, key=lambda u: (u["title"], u["id"]))


def windows_scan_results(ret, policy):
    """Turn a ``win_updates state=searched`` return into patch.pending, pending_security, reboot_required."""
    if not isinstance(ret, dict) or ret.get("failed") or "found_update_count" not in ret:
        msg = (ret if isinstance(ret, dict) else {}).get("msg") or "win_updates returned no search result"
        return [make_result(check, "", "unknown", "Windows Update search failed: %s" % msg,
                            observed={"error": msg}, remediation="Check the Windows Update service on the host.")
                for check in ("patch.pending", "patch.pending_security")]
    found = _win_updates(ret)
    filtered = _win_updates(ret, "filtered_updates")
    listing = [{"id": u.get("id"), "title": u.get("title"), "kb": u.get("kb") or [],
                "categories": u.get("categories") or []} for u in found]
    sec = [u for u in found if any("Security" in c or "Critical" in c for c in u.get("categories") or [])]
    reboot = ret.get("reboot_required")
    results = [
        make_result("patch.pending", "", "warning" if found and policy["mode"] == "all" else "ok",
                    "%d pending update(s), %d filtered by policy" % (len(found), len(filtered)),
                    observed={"count": len(found), "updates": listing,
                              "filtered": [{"title": u.get("title"), "reasons": u.get("filtered_reasons") or
                                            [u.get("filtered_reason")]} for u in filtered],
                              "manager": "windows_update"},
                    threshold={"mode": policy["mode"], "categories": policy["categories"]}),
        make_result("patch.pending_security", "", "warning" if sec else "ok",
                    "%d pending security or critical update(s)" % len(sec),
                    observed={"count": len(sec), "kbs": sorted({k for u in sec for k in u.get("kb") or []}),
                              "oldest_age_days": None},
                    remediation="Install them in the next maintenance window." if sec else ""),
        make_result("patch.reboot_required", "", "unknown" if reboot is None else "warning" if reboot else "ok",
                    "reboot required" if reboot else "no reboot required" if reboot is not None
                    else "reboot state not returned",
                    observed={"reboot_required": reboot}),
    ]
    return results


def windows_install_results(ret):
    """Turn a ``win_updates state=installed`` return into patch.installed and patch.failed."""
    if not isinstance(ret, dict) or "installed_update_count" not in ret:
        msg = (ret if isinstance(ret, dict) else {}).get("msg") or "win_updates returned no install result"
        return [make_result("patch.failed", "", "critical", "Windows Update install failed: %s" % msg,
                            observed={"error": msg},
                            remediation="Read the host's WindowsUpdate log and run again.")]
    updates = _win_updates(ret)
    done = [u for u in updates if u.get("installed")]
    failed = [u for u in updates if not u.get("installed") and (u.get("failure_hresult_code") or u.get("failure_msg"))]
    results = [make_result(
        "patch.installed", "", "ok",
        "installed %d update(s)%s" % (len(done), ": " + ", ".join(
            ("KB" + u["kb"][0]) if u.get("kb") else u.get("title", "?") for u in done) if done else ""),
        observed={"count": len(done), "updates": [{"id": u.get("id"), "title": u.get("title"),
                                                   "kb": u.get("kb") or []} for u in done]},
        changed=bool(done),
    )]
    count = int(number(ret.get("failed_update_count")) or 0) or len(failed)
    if count or failed:
        results.append(make_result(
            "patch.failed", "", "critical", "%d update(s) failed: %s" % (count, "; ".join(
                "%s (%s)" % (u.get("title"), u.get("failure_msg") or u.get("failure_hresult_code")) for u in failed)),
            observed={"count": count, "updates": [{"id": u.get("id"), "title": u.get("title"),
                                                   "hresult": u.get("failure_hresult_code"),
                                                   "message": u.get("failure_msg")} for u in failed]},
            remediation="Read the host's WindowsUpdate log, fix the cause, then run again."))
    else:
        results.append(make_result("patch.failed", "", "ok", "no update failed", observed={"count": 0}))
    results.append(make_result(
        "patch.reboot_required", "", "warning" if ret.get("reboot_required") else "ok",
        "reboot required" if ret.get("reboot_required") else "no reboot required",
        observed={"reboot_required": bool(ret.get("reboot_required"))}))
    return results


def summarize_status(results):
    """Return the worst status of ``results`` (``unknown`` when there are none)."""
    return worst([r["status"] for r in results])
