# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The hardware area: its catalogue of checks (``CHECKS``) and the Linux decide code (pure Python, no I/O).

``hardware_linux`` (the Linux module) collects raw facts in one call per host and hands them
to ``decide_linux``; ``hardware_win`` (Windows) and ``hardware_smart`` (one smartctl output)
reuse the table and the graders below. Thresholds come from the client policy's ``hardware``
section, merged with the table's defaults by ``effective_policy``: ``CHECKS`` is the one place a
default is stated (``schemas/policy/hardware.schema.json`` and the role's
``meta/argument_specs.yml`` document them; unit tests keep them equal).
"""

from __future__ import annotations

import fnmatch
import re

try:
    from ansible.module_utils.maint_result import (
        DATA_ERRORS,
        M_,
        N_,
        Check,
        Msg,
        PolicyError,
        grade_high,
        grade_low,
        guarded,
        make_result,
        number,
        policy_defaults,
        unreadable_result,
        with_defaults,
        worst,
    )
except ImportError:  # pragma: no cover - outside Ansible (maintctl, tests)
    from maint_utils.maint_result import (
        DATA_ERRORS,
        M_,
        N_,
        Check,
        Msg,
        PolicyError,
        grade_high,
        grade_low,
        guarded,
        make_result,
        number,
        policy_defaults,
        unreadable_result,
        with_defaults,
        worst,
    )

try:
    from ansible.module_utils import hardware_smart
except ImportError:  # pragma: no cover - outside Ansible (maintctl, tests)
    from maint_utils import hardware_smart

_UNIT = "tests/unit/maint_utils/test_hardware_decide.py::"
_LAB = "tests/integration/test_hardware_lab.py::"

# The catalogue of the hardware area: one entry per check id it can emit, on Linux and Windows.
# ``remediation`` is the advice of a warning or critical finding (a message template:
# ``CHECK.fix(item=...)``, %(item)s the result's item).
CHECKS = (
    Check(
        id="hardware.disk_free",
        measures="Free space of each mounted filesystem (Linux) or local volume with a drive letter or mount "
                 "folder (Windows, hardware_win:decide_volumes), in % of the size usable by users",
        policy={"disk_warn_free_pct": 20, "disk_crit_free_pct": 10},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="hardware_decide:_mount_results",
        remediation=N_("Free space on %(item)s: find large files (du -xh --max-depth=2 %(item)s), rotate logs, "
                       "clean package caches, or grow the filesystem."),
        unit_test=_UNIT + "test_disk_free_grades",
        lab_test=_LAB + "test_db01_full_filesystem_is_critical",
    ),
    Check(
        id="hardware.inode_free",
        measures="Free inodes of each mounted filesystem, in %; skipped where the filesystem has no fixed "
                 "inode table (btrfs)",
        policy={"inode_warn_free_pct": 20, "inode_crit_free_pct": 10},
        statuses=("ok", "warning", "critical", "unknown", "skipped"),
        decide="hardware_decide:_inode_result",
        remediation=N_("Inodes run out on %(item)s: find folders with many small files "
                       "(du --inodes -x %(item)s | sort -n | tail) and clean them."),
        unit_test=_UNIT + "test_disk_free_grades",
        lab_test=_LAB + "test_inodes_and_uptime_are_read",
    ),
    Check(
        id="hardware.smart",
        measures="Health of each disk: smartctl --json --xall on Linux (overall verdict, ATA 5/187/188/197/198 "
                 "and failing attributes, NVMe critical warning, media errors and wear, SCSI grown defects and "
                 "uncorrected errors, drive temperature, exit status bits); MSFT_PhysicalDisk health, "
                 "operational status and reliability counters on Windows (hardware_win:decide_disks)",
        policy={
            "smart_reallocated_crit": 100,
            "smart_error_count_crit": 10,
            "smart_command_timeout_warn": 100,
            "smart_wear_warn_pct": 80,
            "smart_wear_crit_pct": 100,
            "disk_temp_warn_c": 55,
            "disk_temp_crit_c": 65,
            "nvme_temp_warn_c": 70,
            "nvme_temp_crit_c": 80,
        },
        statuses=("ok", "warning", "critical", "unknown"),
        decide="hardware_smart:evaluate_device",
        remediation=N_("Back up the data on this disk now and replace the disk; "
                       "check the full output with smartctl --xall."),
        unit_test="tests/unit/maint_utils/test_hardware_smart.py::test_every_fixture_evaluates",
        lab_test=_LAB + "test_smart_is_unknown_on_every_host",
    ),
    Check(
        id="hardware.temperature",
        measures="The hottest plausible hwmon sensor or thermal zone of a Linux host, in Celsius",
        policy={"temp_warn_c": 60, "temp_crit_c": 75},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="hardware_decide:decide_temperature",
        remediation=N_("Check the fans, the air flow and the room temperature; clean dust filters."),
        unit_test=_UNIT + "test_temperature",
        lab_test=_LAB + "test_host_wide_checks",
    ),
    Check(
        id="hardware.memory",
        measures="Available memory in % of the total (MemAvailable on Linux, free physical memory on Windows)",
        policy={"memory_warn_avail_pct": 10, "memory_crit_avail_pct": 5},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="hardware_decide:decide_memory",
        remediation=N_("Find the processes using memory (ps aux --sort=-rss | head) and plan more RAM."),
        unit_test=_UNIT + "test_memory",
        lab_test=_LAB + "test_host_wide_checks",
    ),
    Check(
        id="hardware.load",
        measures="The 15-minute load average per CPU this process may use (Linux)",
        policy={"load_warn_per_cpu": 2.0, "load_crit_per_cpu": 4.0},
        statuses=("ok", "warning", "critical", "unknown"),
        decide="hardware_decide:decide_load",
        remediation=N_("Find what keeps the host busy (top, iotop); a high load with idle CPUs points at I/O waits."),
        unit_test=_UNIT + "test_load",
        lab_test=_LAB + "test_host_wide_checks",
    ),
    Check(
        id="hardware.uptime",
        measures="Days since boot: a very long uptime means kernel and library updates never took effect",
        policy={"uptime_warn_days": 180},
        statuses=("ok", "warning", "unknown"),
        decide="hardware_decide:decide_uptime",
        remediation=N_("Plan a reboot in a maintenance window so that kernel and library updates take effect."),
        unit_test=_UNIT + "test_uptime",
        lab_test=_LAB + "test_inodes_and_uptime_are_read",
    ),
    Check(
        id="hardware.pending_reboot",
        measures="Whether the host waits for a reboot: /var/run/reboot-required, needs-restarting -r and the "
                 "running against the newest installed kernel on Linux; Component Based Servicing, Windows "
                 "Update and a pending computer rename on Windows (hardware_win:decide_pending_reboot)",
        statuses=("ok", "warning", "unknown"),
        decide="hardware_decide:decide_pending_reboot",
        remediation=N_("Reboot the host in its next maintenance window."),
        unit_test=_UNIT + "test_pending_reboot",
        lab_test=_LAB + "test_host_wide_checks",
    ),
    Check(
        id="hardware.raid",
        measures="State of each Linux md array in /proc/mdstat (degraded, inactive, rebuilding, firmware RAID "
                 "containers); skipped without any",
        statuses=("ok", "warning", "critical", "unknown", "skipped"),
        decide="hardware_decide:decide_raid",
        remediation=N_("Replace the failed disk and re-add it (mdadm --manage %(item)s --add DEVICE); "
                       "check mdadm --detail %(item)s first."),
        unit_test=_UNIT + "test_raid",
        lab_test=_LAB + "test_host_wide_checks",
    ),
)
# The entries by the last part of their id, for the decide code: DISK_FREE.id, DISK_FREE.remediation.
BY_NAME = {check.id.partition(".")[2]: check for check in CHECKS}
DISK_FREE, INODE_FREE, SMART = BY_NAME["disk_free"], BY_NAME["inode_free"], BY_NAME["smart"]
TEMPERATURE, MEMORY, LOAD = BY_NAME["temperature"], BY_NAME["memory"], BY_NAME["load"]
UPTIME, PENDING_REBOOT, RAID = BY_NAME["uptime"], BY_NAME["pending_reboot"], BY_NAME["raid"]

# Every key of the policy section and its default: the thresholds of the table, and the mounts
# (fnmatch globs) that no check reads.
DEFAULTS = dict(policy_defaults(CHECKS), mount_exclude=[])

# Filesystems that hold no user data: never checked for free space.
PSEUDO_FSTYPES = frozenset((
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "efivarfs", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal", "fusectl",
    "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs", "rpc_pipefs", "securityfs",
    "selinuxfs", "sysfs", "tracefs", "iso9660", "udf", "squashfs", "overlay.lower", "nfsd",
))
# tmpfs is checked (a full /tmp or a RAM-backed data folder is real), except where
# the system keeps its own runtime files.
SYSTEM_TMPFS_PREFIXES = ("/dev", "/run", "/sys", "/proc", "/var/run", "/var/lock")
# Mounts that container runtimes make for their containers (checked inside the containers).
RUNTIME_PREFIXES = ("/var/lib/docker/", "/var/lib/containers/", "/var/lib/kubelet/", "/run/containers/",
                    "/run/docker/", "/run/k3s/", "/var/lib/rancher/")

MD_LINE_RE = re.compile(r"^(md\S+)\s*:\s*(\S+)\s*(?:\((\S+)\)\s*)?(\S+)?")
# "super external:imsm" (or ddf): a container of Intel IMSM / SNIA DDF metadata, which holds
# the volumes; "super external:/md127/0": a volume inside the container md127.
MD_SUPER_RE = re.compile(r"\bsuper\s+external:(\S+)")
MD_MAP_RE = re.compile(r"\[(\d+)/(\d+)\]\s*\[([U_]+)\]")
MD_LEVEL_RE = re.compile(r"^(raid\d+|linear|multipath|faulty)$")
MD_ACTION_RE = re.compile(r"\b(recovery|resync|reshape|check|repair)\s*=\s*([\d.]+)%")

# Low is bad (free space, memory): the warning threshold must not be below the critical one.
LOW_IS_BAD_PAIRS = (("disk_warn_free_pct", "disk_crit_free_pct"), ("inode_warn_free_pct", "inode_crit_free_pct"),
                    ("memory_warn_avail_pct", "memory_crit_avail_pct"))
# High is bad (temperatures, load, wear): the warning threshold must not be above the critical one.
HIGH_IS_BAD_PAIRS = (("temp_warn_c", "temp_crit_c"), ("load_warn_per_cpu", "load_crit_per_cpu"),
                     ("smart_wear_warn_pct", "smart_wear_crit_pct"), ("disk_temp_warn_c", "disk_temp_crit_c"),
                     ("nvme_temp_warn_c", "nvme_temp_crit_c"))


def effective_policy(section=None):
    """Return the hardware policy ``section`` merged with the table's defaults (``DEFAULTS``).

    Raises:
        PolicyError: for a section that is not a mapping, an unknown key or a value of the
            wrong type (with the key named), or thresholds that contradict each other.
    """
    merged = with_defaults(DEFAULTS, section)
    for key, value in (section or {}).items():
        if key not in DEFAULTS:
            raise PolicyError("hardware policy: unknown key %r (known: %s)" % (key, ", ".join(sorted(DEFAULTS))))
        if value is None:
            continue
        if key == "mount_exclude":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise PolicyError("hardware policy: mount_exclude must be a list of strings")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PolicyError("hardware policy: %s must be a number, got %r" % (key, value))
        elif value < 0:
            raise PolicyError("hardware policy: %s must not be negative, got %r" % (key, value))
    for warn, crit in LOW_IS_BAD_PAIRS:
        if merged[crit] > merged[warn]:
            raise PolicyError("hardware policy: %s (%s) must not exceed %s (%s)"
                              % (crit, merged[crit], warn, merged[warn]))
    errors = validate_policy(merged)
    if errors:
        raise PolicyError("hardware policy: " + errors[0])
    return merged


def validate_policy(section):
    """Return the semantic errors of a hardware policy section, one line each (``maintctl validate``).

    The schema checks types and ranges; this checks that each warning threshold of
    a value where high is bad (temperatures, load, wear) is not above its critical
    threshold, and that of a value where low is bad (free space, memory) is not below it.
    """
    merged = with_defaults(DEFAULTS, dict((k, v) for k, v in (section or {}).items() if k in DEFAULTS))
    errors = []
    for warn, crit in HIGH_IS_BAD_PAIRS:
        values = merged[warn], merged[crit]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) and values[0] > values[1]:
            errors.append("maint_policy.hardware.%s: %s is above the critical threshold %s (%s)"
                          % (warn, values[0], values[1], crit))
    for warn, crit in LOW_IS_BAD_PAIRS:
        values = merged[warn], merged[crit]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) and values[0] < values[1]:
            errors.append("maint_policy.hardware.%s: %s is below the critical threshold %s (%s)"
                          % (warn, values[0], values[1], crit))
    return errors


# -- disks -------------------------------------------------------------------
def wanted_mount(fstype, mountpoint, options=()):
    """Return True when a mount holds data worth a free-space check.

    Pseudo filesystems, read-only mounts, the system's runtime tmpfs and the mounts a
    container runtime makes for its containers (overlay roots, shm) are left out.
    """
    if fstype in PSEUDO_FSTYPES or fstype.startswith("fuse.") and fstype != "fuse.sshfs":
        return False
    if "ro" in options:
        return False
    if fstype == "overlay" and mountpoint != "/":
        return False  # a container's root seen from its host: the same disk as the runtime's folder
    if mountpoint.startswith(RUNTIME_PREFIXES):
        return False
    if fstype in ("tmpfs", "devtmpfs"):
        if mountpoint.endswith("/shm"):
            return False  # a container's /dev/shm seen from its host
        for prefix in SYSTEM_TMPFS_PREFIXES:
            if mountpoint == prefix or mountpoint.startswith(prefix + "/"):
                return False
    return True


def _pct(part, whole):
    part, whole = number(part), number(whole)
    if part is None or not whole:
        return None
    return round(100.0 * part / whole, 2)


def human_bytes(nbytes):
    """Return a byte count as a short human string (1024 based): ``2.0 MiB``, ``77.6 GiB``."""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024.0 or unit == "TiB":
            return "%.1f %s" % (value, unit) if unit != "B" else "%d B" % value
        value /= 1024.0
    return "%.1f PiB" % value  # pragma: no cover - unreachable


def _excluded(mountpoint, patterns):
    return any(fnmatch.fnmatchcase(mountpoint, pattern) for pattern in patterns or ())


def disk_free_result(point, avail_bytes, size_bytes, observed, thr, remediation):
    """Return one ``hardware.disk_free`` result for ``avail_bytes`` free of ``size_bytes`` usable.

    ``remediation`` is used only when the status is warning or critical.
    """
    threshold = {"warn_free_pct": thr["disk_warn_free_pct"], "crit_free_pct": thr["disk_crit_free_pct"]}
    free_pct = _pct(avail_bytes, size_bytes)
    status = grade_low(free_pct, thr["disk_warn_free_pct"], thr["disk_crit_free_pct"])
    if status == "unknown":
        return make_result(DISK_FREE.id, point, "unknown", M_("%(mount)s: free space not read (size 0)", mount=point),
                           observed=observed, threshold=threshold,
                           remediation=M_("Check that the volume is mounted and answers."))
    observed = dict(observed, free_pct=free_pct, size_bytes=size_bytes, avail_bytes=avail_bytes,
                    used_bytes=size_bytes - avail_bytes)
    summary = M_("%(mount)s: %(free_pct)s %% free (%(avail)s of %(size)s)", mount=point, free_pct=round(free_pct, 1),
                 avail=human_bytes(avail_bytes), size=human_bytes(size_bytes))
    return make_result(DISK_FREE.id, point, status, summary, observed=observed, threshold=threshold,
                       remediation=remediation if status in ("warning", "critical") else "")


def decide_disk_free(mounts, thr):
    """Return ``hardware.disk_free`` and ``hardware.inode_free`` results, one each per mount.

    Each mount is a dict with ``mount``, ``fstype``, ``device`` and the statvfs
    numbers (``frsize``, ``blocks``, ``bfree``, ``bavail``, ``files``, ``ffree``,
    ``favail``), or ``error`` when statvfs failed or timed out.
    """
    results = []
    for mount in _listed(mounts):
        point = (mount.get("mount") if isinstance(mount, dict) else None) or "?"
        try:
            results.extend(_mount_results(mount, point, thr))
        except DATA_ERRORS as exc:  # one odd mount costs its own result only
            results.append(unreadable_result(DISK_FREE.id, str(point), "statvfs facts", error=exc))
    if not results:
        results.append(make_result(DISK_FREE.id, "", "unknown", M_("no mounted filesystem was read"),
                                   remediation=M_("Check the mount table of this host (/proc/mounts).")))
    return results


def _listed(value):
    """Return ``value`` when it is a list, else ``[value]`` (one odd entry, graded on its own) or ``[]``."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _count(mount, key, default=None):
    """Return a statvfs count of ``mount`` as an int, or raise ValueError naming the value."""
    raw = mount.get(key, default)
    value = number(raw)
    if value is None or value < 0:
        raise ValueError("%s is not a count: %r" % (key, raw))
    return int(value)


def _mount_results(mount, point, thr):
    """Return the disk_free and inode_free results of one mount (see ``decide_disk_free``)."""
    disk_thr = {"warn_free_pct": thr["disk_warn_free_pct"], "crit_free_pct": thr["disk_crit_free_pct"]}
    inode_thr = {"warn_free_pct": thr["inode_warn_free_pct"], "crit_free_pct": thr["inode_crit_free_pct"]}
    if not isinstance(mount, dict):
        return [unreadable_result(DISK_FREE.id, "?", "mount entry", value=mount)]
    if _excluded(point, thr.get("mount_exclude")):
        return []
    base = {"fstype": mount.get("fstype"), "device": mount.get("device")}
    if mount.get("error") or not mount.get("blocks"):
        reason = mount.get("error") or "the filesystem reports a size of 0"
        return [make_result(DISK_FREE.id, point, "unknown",
                            M_("%(mount)s: free space not read: %(reason)s", mount=point, reason=reason),
                            observed=base, threshold=disk_thr,
                            remediation=M_("Check that the mount answers (stale network mount?)."))]
    results = []
    try:
        blocks, bfree, avail = _count(mount, "blocks"), _count(mount, "bfree", 0), _count(mount, "bavail", 0)
        frsize = _count(mount, "frsize", 1) or 1
    except ValueError as exc:
        results.append(unreadable_result(DISK_FREE.id, point, "free space", error=exc,
                                         observed=base,
                                         remediation=M_("Run stat -f %(mount)s on the host.", mount=point)))
    else:
        if not blocks:
            results.append(make_result(DISK_FREE.id, point, "unknown",
                                       M_("%(mount)s: free space not read: the filesystem reports a size of 0",
                                          mount=point),
                                       observed=base, threshold=disk_thr,
                                       remediation=M_("Check that the mount answers (stale network mount?).")))
        else:
            remediation = DISK_FREE.fix(item=point)
            used = blocks - bfree
            results.append(disk_free_result(point, avail * frsize, (used + avail) * frsize, base, thr,
                                            remediation))
    results.append(_inode_result(mount, point, base, thr, inode_thr))
    return results


def _inode_result(mount, point, base, thr, inode_thr):
    """Return the ``hardware.inode_free`` result of one mount."""
    try:
        files = _count(mount, "files", 0) if mount.get("files") is not None else 0
        ifree = _count(mount, "favail", mount.get("ffree", 0)) if "favail" in mount else _count(mount, "ffree", 0)
    except ValueError as exc:
        return unreadable_result(INODE_FREE.id, point, "free inodes", error=exc, observed=base)
    if not files:
        return make_result(INODE_FREE.id, point, "skipped",
                           M_("%(mount)s: %(fstype)s has no fixed inode table", mount=point,
                              fstype=str(mount.get("fstype"))),
                           observed=base, threshold=inode_thr)
    ipct = _pct(ifree, files)
    istatus = grade_low(ipct, thr["inode_warn_free_pct"], thr["inode_crit_free_pct"])
    iremediation = ""
    if istatus in ("warning", "critical"):
        iremediation = INODE_FREE.fix(item=point)
    return make_result(
        INODE_FREE.id, point, istatus, M_("%(mount)s: %(free_pct)s %% inodes free (%(free)s of %(total)s)",
                                          mount=point, free_pct=round(ipct, 1), free=ifree, total=files),
        observed=dict(base, free_pct=ipct, inodes_free=ifree, inodes_total=files),
        threshold=inode_thr, remediation=iremediation)


def decide_smart(smart, thr):
    """Return ``hardware.smart`` results from the module's SMART facts (each device: ``hardware_smart``).

    ``smart`` holds ``smartctl`` (its path, or None when absent), ``scan_error``,
    and ``devices``: a list of ``{name, info_name, type, output, error}`` where
    ``output`` is the parsed ``smartctl --json --xall`` of the device.
    """
    smart = smart or {}
    if not isinstance(smart, dict):
        return [unreadable_result(SMART.id, "", "SMART facts", value=smart)]
    if not smart.get("smartctl"):
        return [make_result(SMART.id, "", "unknown", M_("smartctl is not installed: SMART not read"),
                            remediation=M_("Install smartmontools on this host."))]
    if smart.get("scan_error"):
        return [make_result(SMART.id, "", "unknown",
                            M_("smartctl --scan-open failed: %(error)s", error=str(smart["scan_error"])),
                            remediation=M_("Run smartctl --scan-open as root on the host and fix the error."))]
    results = []
    for device in _listed(smart.get("devices")):
        if not isinstance(device, dict):
            results.append(unreadable_result(SMART.id, "?", "SMART device entry", value=device))
            continue
        item = str(device.get("info_name") or device.get("name") or "?")
        if device.get("output") is None:
            reason = device.get("error") or "no output"
            results.append(make_result(
                SMART.id, item, "unknown", M_("%(disk)s: SMART not read: %(reason)s", disk=item, reason=str(reason)),
                observed={"device": device.get("name"), "type": device.get("type")},
                remediation=M_("Check the device with smartctl --xall -d TYPE as root.")))
            continue
        results.append(hardware_smart.evaluate_device(SMART, device["output"], thr, item=item))
    if not results:
        results.append(make_result(
            SMART.id, "", "unknown", M_("no disk answered SMART (smartctl --scan-open found no device)"),
            observed={"devices": 0},
            remediation=M_("On a VM or container SMART is read on the hypervisor; on hardware behind a RAID "
                           "controller, give smartctl the controller type (-d megaraid,N).")))
    return results


def evaluate_smart_text(text, source="input", policy=None):
    """Return ``hardware.smart`` results for saved smartctl output: the entry point of ``maintctl evaluate smart``.

    Args:
        text: the file's content: one ``smartctl --json --xall`` object, or a JSON list of them.
        source: where the text came from (a file name), used in messages.
        policy: optional hardware policy section.

    Raises:
        PolicyError: when the policy holds an unusable value.
    """
    return hardware_smart.evaluate_text(SMART, text, effective_policy(policy), source)


# -- host-wide checks ----------------------------------------------------------
def _plausible(celsius):
    return celsius is not None and -30.0 < celsius < 150.0


def decide_temperature(sensors, thr):
    """Return one ``hardware.temperature`` result: the hottest readable sensor graded.

    ``sensors`` holds ``readings``: ``[{source, chip, label, millicelsius}]`` from
    hwmon and thermal zones. No plausible reading gives ``unknown``.
    """
    readings = []
    raw_readings = sensors.get("readings") if isinstance(sensors, dict) else None
    for reading in _listed(raw_readings):
        if not isinstance(reading, dict):
            continue  # not a reading; graded as no reading when none is usable
        raw = number(reading.get("millicelsius"))
        celsius = raw / 1000.0 if raw is not None else None
        if _plausible(celsius):
            name = "/".join(str(x) for x in (reading.get("source"), reading.get("chip"), reading.get("label"))
                            if x)
            readings.append((celsius, name))
    threshold = {"warn_c": thr["temp_warn_c"], "crit_c": thr["temp_crit_c"]}
    if not readings:
        return [make_result(TEMPERATURE.id, "", "unknown",
                            M_("no temperature sensor readable (no hwmon or thermal zone)"),
                            observed={"sensors": 0}, threshold=threshold,
                            remediation=M_("Nothing to do on a VM; on hardware, load the sensor drivers "
                                           "(sensors-detect) or read the BMC/iLO/iDRAC."))]
    readings.sort(reverse=True)
    hottest, name = readings[0]
    status = grade_high(hottest, thr["temp_warn_c"], thr["temp_crit_c"])
    observed = {"max_c": round(hottest, 1), "hottest": name, "sensors": len(readings),
                "readings": [{"sensor": n, "celsius": round(c, 1)} for c, n in readings[:20]]}
    remediation = ""
    if status in ("warning", "critical"):
        remediation = TEMPERATURE.fix()
    return [make_result(TEMPERATURE.id, "", status,
                        M_("hottest sensor %(sensor)s at %(celsius)s C (%(sensors)s sensors)", sensor=name,
                           celsius=round(hottest, 1), sensors=len(readings)),
                        observed=observed, threshold=threshold, remediation=remediation)]


def decide_memory(meminfo, thr, remediation=None):
    """Return one ``hardware.memory`` result from ``/proc/meminfo`` values (kB).

    ``remediation`` replaces the Linux hint for other systems.
    """
    meminfo = meminfo if isinstance(meminfo, dict) else {}
    raw_total, raw_avail = meminfo.get("MemTotal"), meminfo.get("MemAvailable")
    total, avail = number(raw_total), number(raw_avail)
    threshold = {"warn_avail_pct": thr["memory_warn_avail_pct"], "crit_avail_pct": thr["memory_crit_avail_pct"]}
    if raw_avail is None or not raw_total:
        return [make_result(MEMORY.id, "", "unknown", M_("available memory not read (MemAvailable missing)"),
                            threshold=threshold, remediation=M_("Check /proc/meminfo on this host."))]
    if total is None or avail is None or total <= 0 or avail < 0:
        bad = ("MemTotal", raw_total) if total is None or total <= 0 else ("MemAvailable", raw_avail)
        return [unreadable_result(MEMORY.id, "", bad[0], value=bad[1],
                                  remediation=M_("Check /proc/meminfo on this host."))]
    total, avail = int(total), int(avail)
    pct = _pct(avail, total)
    status = grade_low(pct, thr["memory_warn_avail_pct"], thr["memory_crit_avail_pct"])
    observed = {"avail_pct": pct, "total_mib": total // 1024, "avail_mib": avail // 1024}
    swap_total, swap_free = number(meminfo.get("SwapTotal")), number(meminfo.get("SwapFree", 0))
    if swap_total and swap_free is not None:
        observed["swap_used_pct"] = _pct(swap_total - swap_free, swap_total)
    hint = remediation or MEMORY.fix()
    remediation = hint if status in ("warning", "critical") else ""
    summary = M_("%(avail_pct)s %% memory available (%(avail_mib)s of %(total_mib)s MiB)",
                 avail_pct=round(pct, 1), avail_mib=avail // 1024, total_mib=total // 1024)
    return [make_result(MEMORY.id, "", status, summary, observed=observed, threshold=threshold,
                        remediation=remediation)]


def decide_load(load, thr):
    """Return one ``hardware.load`` result: the 15-minute load average per CPU graded."""
    load = load if isinstance(load, dict) else {}
    raw_cpus, raw_load15 = load.get("cpus"), load.get("load15")
    threshold = {"warn_per_cpu": thr["load_warn_per_cpu"], "crit_per_cpu": thr["load_crit_per_cpu"]}
    if not raw_cpus or raw_load15 is None:
        return [make_result(LOAD.id, "", "unknown", M_("load average not read"), threshold=threshold,
                            remediation=M_("Check /proc/loadavg on this host."))]
    cpus, load15 = number(raw_cpus), number(raw_load15)
    if cpus is None or cpus < 1 or load15 is None or load15 < 0:
        bad = ("CPU count", raw_cpus) if cpus is None or cpus < 1 else ("15-minute load", raw_load15)
        return [unreadable_result(LOAD.id, "", bad[0], value=bad[1],
                                  remediation=M_("Check /proc/loadavg and nproc on this host."))]
    cpus = int(cpus)
    per_cpu = round(load15 / cpus, 2)
    status = grade_high(per_cpu, thr["load_warn_per_cpu"], thr["load_crit_per_cpu"])
    observed = {"load1": number(load.get("load1")), "load5": number(load.get("load5")), "load15": load15,
                "cpus": cpus,
                "load15_per_cpu": per_cpu}
    remediation = ""
    if status in ("warning", "critical"):
        remediation = LOAD.fix()
    return [make_result(LOAD.id, "", status, M_("load %(load15)s over 15 min on %(cpus)s CPUs (%(per_cpu)s per CPU)",
                                                load15=round(load15, 2), cpus=cpus, per_cpu=per_cpu),
                        observed=observed, threshold=threshold,
                        remediation=remediation)]


def decide_uptime(uptime_seconds, thr):
    """Return one ``hardware.uptime`` result: a very long uptime means kernel updates never applied."""
    threshold = {"warn_days": thr["uptime_warn_days"]}
    if uptime_seconds is None:
        return [make_result(UPTIME.id, "", "unknown", M_("uptime not read"), threshold=threshold,
                            remediation=M_("Check /proc/uptime on this host."))]
    raw, uptime_seconds = uptime_seconds, number(uptime_seconds)
    if uptime_seconds is None or uptime_seconds < 0:
        return [unreadable_result(UPTIME.id, "", "uptime", value=raw,
                                  remediation=M_("Check /proc/uptime on this host."))]
    days = round(uptime_seconds / 86400.0, 1)
    status = grade_high(days, thr["uptime_warn_days"], None)
    remediation = ""
    if status == "warning":
        remediation = UPTIME.fix()
    return [make_result(UPTIME.id, "", status, M_("up %(days)s days", days=days),
                        observed={"uptime_days": days, "uptime_seconds": int(uptime_seconds)},
                        threshold=threshold, remediation=remediation)]


def _version_key(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def decide_pending_reboot(reboot, thr=None):
    """Return one ``hardware.pending_reboot`` result.

    Sources, each used only when it could be read: ``/var/run/reboot-required``
    (Debian family), ``needs-restarting -r`` (Red Hat family; exit 1 means a reboot
    is needed) and the running kernel against the newest one in ``/boot``.
    No usable source gives ``unknown``.
    """
    reboot = reboot if isinstance(reboot, dict) else {}
    reasons, sources = [], []
    observed = {}
    if reboot.get("reboot_required_file"):
        pkgs = [str(p) for p in _listed(reboot.get("reboot_required_pkgs"))]
        reasons.append("/var/run/reboot-required exists" + (" (%s)" % ", ".join(pkgs[:10]) if pkgs else ""))
        observed["reboot_required_pkgs"] = pkgs
        sources.append("reboot-required")
    elif reboot.get("debian_like"):
        sources.append("reboot-required")
    needs = reboot.get("needs_restarting")
    if isinstance(needs, dict) and needs.get("rc") in (0, 1):
        sources.append("needs-restarting")
        if needs["rc"] == 1:
            reasons.append("needs-restarting -r reports that a reboot is required")
    running = reboot.get("running_kernel")
    running = running if isinstance(running, str) else None
    installed = sorted((k for k in _listed(reboot.get("installed_kernels")) if isinstance(k, str) and k),
                       key=_version_key)
    if running and installed:
        sources.append("kernel")
        observed.update(running_kernel=running, newest_kernel=installed[-1])
        if running not in installed:
            reasons.append("running kernel %s is no longer installed (newest %s)" % (running, installed[-1]))
        elif _version_key(installed[-1]) > _version_key(running):
            reasons.append("running kernel %s, newer %s installed" % (running, installed[-1]))
    observed["sources"] = sources
    if reasons:
        return [make_result(PENDING_REBOOT.id, "", "warning",
                            M_("reboot pending: %(reasons)s", reasons="; ".join(reasons)),
                            observed=observed,
                            remediation=PENDING_REBOOT.fix())]
    if not sources:
        return [make_result(PENDING_REBOOT.id, "", "unknown",
                            M_("no reboot indicator readable (no reboot-required mechanism, needs-restarting "
                               "or kernel in /boot)"), observed=observed,
                            remediation=M_("Install needs-restarting (dnf-utils) or check manually."))]
    return [make_result(PENDING_REBOOT.id, "", "ok", M_("no reboot pending (%(sources)s)", sources=", ".join(sources)),
                        observed=observed)]


def parse_mdstat(text):
    """Parse ``/proc/mdstat`` into ``[{name, state, level, devices, active, map, action, progress_pct}]``.

    Arrays with external metadata (Intel IMSM, SNIA DDF: firmware "fake RAID") also get
    ``external``: ``imsm`` or ``ddf`` for the container (always listed ``inactive``, its
    disks as spares ``(S)``), ``/md127/0`` for a volume inside the container ``md127``.
    """
    arrays = []
    current = None
    for line in (text or "").splitlines():
        match = MD_LINE_RE.match(line)
        if match:
            level = match.group(4) or ""
            current = {"name": match.group(1), "state": match.group(2),
                       "level": level if MD_LEVEL_RE.match(level) else "",
                       "failed_members": line.count("(F)"),
                       "members": len(re.findall(r"\S+\[\d+\]", line)),
                       "spare_members": line.count("(S)")}
            if match.group(3):  # "active (auto-read-only) raid1"
                current["mode"] = match.group(3)
            arrays.append(current)
            continue
        if current is None:
            continue
        external = MD_SUPER_RE.search(line)
        if external:
            current["external"] = external.group(1)
        found = MD_MAP_RE.search(line)
        if found:
            current.update(devices=int(found.group(1)), active=int(found.group(2)), map=found.group(3))
        action = MD_ACTION_RE.search(line)
        if action:
            current.update(action=action.group(1), progress_pct=float(action.group(2)))
    return arrays


def _is_container(array):
    """True for an IMSM/DDF metadata container (``super external:imsm``), not a volume."""
    external = array.get("external") or ""
    return bool(external) and not external.startswith("/")


def _container_result(array, arrays):
    """Grade an external-metadata container by the volumes it holds, not as an array of its own."""
    name = "/dev/" + array["name"]
    observed = dict((k, v) for k, v in array.items() if k != "name")
    volumes = ["/dev/" + a["name"] for a in arrays
               if (a.get("external") or "").startswith("/%s/" % array["name"])]
    observed["volumes"] = volumes
    kind, members = str(array["external"]), int(array.get("members", 0))
    if volumes:
        return make_result(RAID.id, name, "ok",
                           M_("%(array)s: %(kind)s container (%(members)s member disk(s)) of firmware RAID metadata, "
                              "inactive and all disks spare as it should be; its volume(s) %(volumes)s are graded on "
                              "their own", array=name, kind=kind, members=members, volumes=", ".join(volumes)),
                           observed=observed)
    return make_result(RAID.id, name, "warning",
                       M_("%(array)s: %(kind)s container (%(members)s member disk(s)) with no running volume in "
                          "/proc/mdstat", array=name, kind=kind, members=members), observed=observed,
                       remediation=M_("Check the firmware RAID volume (mdadm --detail-platform, mdadm -E %(array)s, "
                                      "mdadm --incremental --run) and the controller's BIOS screen.", array=name))


def decide_raid(mdstat_text):
    """Return ``hardware.raid`` results, one per md array; ``skipped`` when there is none.

    A container of external metadata (IMSM/DDF) is not an array: it is ``ok`` when a
    volume inside it is listed (the volume is graded), ``warning`` when none is.
    """
    if mdstat_text is None:
        return [make_result(RAID.id, "", "skipped", M_("no software RAID (/proc/mdstat absent)"))]
    if not isinstance(mdstat_text, str):
        return [unreadable_result(RAID.id, "", "/proc/mdstat text", value=mdstat_text)]
    arrays = parse_mdstat(mdstat_text)
    if not arrays:
        return [make_result(RAID.id, "", "skipped", M_("no md array in /proc/mdstat"))]
    results = []
    for array in arrays:
        results.extend(guarded(RAID.id, "/dev/" + array["name"], _array_result, array, arrays))
    return results


def _array_result(array, arrays):
    """Grade one md array of ``parse_mdstat``."""
    if _is_container(array):
        return _container_result(array, arrays)
    name = "/dev/" + array["name"]
    observed = dict((k, v) for k, v in array.items() if k != "name")
    params = {"array": name, "level": array.get("level", "")}
    if array["state"] == "inactive":
        status, what = "critical", N_("%(array)s %(level)s: inactive")
    elif ("devices" in array and array.get("active", 0) < array["devices"]) or "_" in array.get("map", ""):
        status = "critical"
        what = N_("%(array)s %(level)s: degraded: %(active)s of %(devices)s members active [%(map)s]")
        params.update(active=str(array.get("active")), devices=str(array.get("devices")), map=str(array.get("map")))
        if array.get("action") in ("recovery", "resync"):
            what = N_("%(array)s %(level)s: degraded: %(active)s of %(devices)s members active [%(map)s], "
                      "%(action)s at %(progress_pct)s %%")
            params.update(action=array["action"], progress_pct=round(array["progress_pct"], 1))
    elif array.get("failed_members"):
        status, what = "warning", N_("%(array)s %(level)s: %(failed)s failed member(s) kept as faulty")
        params["failed"] = int(array["failed_members"])
    elif array.get("action") in ("recovery", "resync", "reshape"):
        status, what = "warning", N_("%(array)s %(level)s: %(action)s at %(progress_pct)s %%")
        params.update(action=array["action"], progress_pct=round(array["progress_pct"], 1))
    elif "map" in array:
        status, what = "ok", N_("%(array)s %(level)s: healthy [%(map)s]")
        params["map"] = array["map"]
    elif array.get("level") in ("raid0", "linear"):
        status, what = "ok", N_("%(array)s %(level)s: healthy")
    else:
        status, what = "unknown", N_("%(array)s %(level)s: member map not read")
    remediation = ""
    if status == "critical":
        remediation = RAID.fix(item=name)
    elif status == "warning":
        remediation = M_("Watch the rebuild (cat /proc/mdstat) and remove faulty members (mdadm --remove).")
    return make_result(RAID.id, name, status, Msg(what, params),
                       observed=observed, remediation=remediation)


def decide_linux(facts, policy=None):
    """Return every hardware result of one Linux host from the raw facts of ``hardware_linux``.

    Raises:
        PolicyError: when the policy holds an unusable value.
    """
    thr = effective_policy(policy)
    facts = facts if isinstance(facts, dict) else {}
    results = []
    # Each check is decided on its own: odd data in one costs that check, never the others.
    results.extend(guarded(DISK_FREE.id, "", decide_disk_free, facts.get("mounts"), thr))
    results.extend(guarded(SMART.id, "", decide_smart, facts.get("smart"), thr))
    results.extend(guarded(TEMPERATURE.id, "", decide_temperature, facts.get("sensors"), thr))
    results.extend(guarded(MEMORY.id, "", decide_memory, facts.get("meminfo"), thr))
    results.extend(guarded(LOAD.id, "", decide_load, facts.get("load"), thr))
    results.extend(guarded(UPTIME.id, "", decide_uptime, facts.get("uptime_seconds"), thr))
    results.extend(guarded(PENDING_REBOOT.id, "", decide_pending_reboot, facts.get("reboot"), thr))
    results.extend(guarded(RAID.id, "", decide_raid, facts.get("mdstat")))
    return results


def overall(results):
    """Return the worst status of ``results``."""
    return worst([r["status"] for r in results], default="unknown")
