# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Patch decisions for dnf 4 and dnf 5 (RHEL, Rocky, Alma, Fedora): parse recorded command output.

Pure Python, no I/O. ``patch_linux`` (``manager: dnf``) runs the listings (dnf 4 or dnf 5,
told apart there without running dnf); ``dnf_state`` turns their output into the facts
``patch_decide.scan_results`` and ``patch_decide.precheck`` read.
"""

from __future__ import annotations

import datetime
import re

try:
    from ansible.module_utils.patch_decide import age_days, classify
except ImportError:  # pragma: no cover - used outside Ansible (maintctl, tests)
    from maint_utils.patch_decide import age_days, classify

# dnf 4: rpm's own fcntl lock on its database, and dnf's process lock (a PID file,
# dnf/lock.py build_rpmdb_lock under persistdir /var/lib/dnf).
DNF_FCNTL_LOCKS = ("/var/lib/rpm/.rpm.lock",)
DNF_PID_LOCKS = ("/var/lib/dnf/rpmdb_lock.pid",)


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
    ages = [max(age_days(now - issued[a["advisory"]]), 0.0)
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


