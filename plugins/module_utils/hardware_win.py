# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Decide the hardware checks of a Windows host from ``win_hardware`` output (pure).

The PowerShell module only collects; this file decides, with the catalogue entries,
thresholds and graders of ``hardware_decide``. Field values follow Microsoft's documentation of
the Storage Management API classes:

* ``MSFT_PhysicalDisk.HealthStatus``: 0 Healthy, 1 Warning, 2 Unhealthy, 5 Unknown;
* ``OperationalStatus`` (an array): 0 Unknown, 1 Other, 2 OK, 3 Degraded, 4 Stressed,
  5 Predictive Failure, 6 Error, 7 Non-Recoverable Error, 8 Starting, 9 Stopping,
  10 Stopped, 11 In Service, 12 No Contact, 13 Lost Communication, 14 Aborted,
  15 Dormant, 16 Supporting Entity in Error, 17 Completed, 18 Power Mode, 19 Relocating;
  other values (Microsoft- and vendor-reserved) are reported as a warning with the
  module's ``OperationalDetails`` text;
* ``MSFT_StorageReliabilityCounter``: Temperature, ReadErrorsUncorrected,
  WriteErrorsUncorrected, Wear (percent of rated life used), PowerOnHours;
* ``Win32_Volume.DriveType`` 3 = local disk (only those are checked).

Checks: ``hardware.disk_free`` (per volume with a drive letter or mount folder),
``hardware.smart`` (per physical disk), ``hardware.pending_reboot``,
``hardware.memory`` and ``hardware.uptime``. ``PendingFileRenameOperations`` is
deliberately not a reboot indicator: antivirus and installers set it all the time.
"""

from __future__ import annotations

import fnmatch

try:
    from ansible.module_utils.hardware_decide import (
        DISK_FREE,
        MEMORY,
        PENDING_REBOOT,
        SMART,
        UPTIME,
        decide_memory,
        decide_uptime,
        disk_free_result,
        effective_policy,
    )
    from ansible.module_utils.maint_result import (
        DATA_ERRORS,
        M_,
        N_,
        Msg,
        guarded,
        make_result,
        number,
        unreadable_result,
        worst,
    )
except ImportError:  # pragma: no cover - outside Ansible (maintctl, tests)
    from maint_utils.hardware_decide import (
        DISK_FREE,
        MEMORY,
        PENDING_REBOOT,
        SMART,
        UPTIME,
        decide_memory,
        decide_uptime,
        disk_free_result,
        effective_policy,
    )
    from maint_utils.maint_result import (
        DATA_ERRORS,
        M_,
        N_,
        Msg,
        guarded,
        make_result,
        number,
        unreadable_result,
        worst,
    )

HEALTH_STATUS = {0: ("ok", "Healthy"), 1: ("warning", "Warning"), 2: ("critical", "Unhealthy"),
                 5: ("unknown", "Unknown")}
OPERATIONAL_STATUS = {
    0: ("unknown", "Unknown"), 1: ("warning", "Other"), 2: ("ok", "OK"), 3: ("warning", "Degraded"),
    4: ("warning", "Stressed"), 5: ("critical", "Predictive Failure"), 6: ("critical", "Error"),
    7: ("critical", "Non-Recoverable Error"), 8: ("warning", "Starting"), 9: ("warning", "Stopping"),
    10: ("critical", "Stopped"), 11: ("warning", "In Service"), 12: ("critical", "No Contact"),
    13: ("critical", "Lost Communication"), 14: ("critical", "Aborted"), 15: ("warning", "Dormant"),
    16: ("critical", "Supporting Entity in Error"), 17: ("ok", "Completed"), 18: ("ok", "Power Mode"),
    19: ("warning", "Relocating"),
}
MEDIA_TYPE = {0: "Unspecified", 3: "HDD", 4: "SSD", 5: "SCM"}
BUS_TYPE = {1: "SCSI", 2: "ATAPI", 3: "ATA", 4: "1394", 5: "SSA", 6: "Fibre Channel", 7: "USB", 8: "RAID",
            9: "iSCSI", 10: "SAS", 11: "SATA", 12: "SD", 13: "MMC", 15: "File Backed Virtual",
            16: "Storage Spaces", 17: "NVMe"}
LOCAL_DISK = 3


def _num(value):
    """A JSON number of the collector (NaN, inf, strings and bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return number(value)


def _code(value):
    """A CIM enumeration code: an int, else None (a list or a dict is no code)."""
    value = _num(value)
    return int(value) if value is not None and value == int(value) else None


def _listed(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def decide_volumes(volumes, thr, error=None):
    """Return ``hardware.disk_free`` results for the local volumes that have an access path."""
    if error:
        return [make_result(DISK_FREE.id, "", "unknown", M_("volumes not read: %(error)s", error=str(error)),
                            remediation=M_("Run Get-CimInstance Win32_Volume on the host and fix the error."))]
    results = []
    for volume in _listed(volumes):
        try:
            results.extend(_volume_results(volume, thr))
        except DATA_ERRORS as exc:
            name = volume.get("name") if isinstance(volume, dict) and isinstance(volume.get("name"), str) else "?"
            results.append(unreadable_result(DISK_FREE.id, name, "volume facts", error=exc))
    if not results:
        results.append(make_result(DISK_FREE.id, "", "unknown", M_("no local volume with a drive letter read"),
                                   remediation=M_("Run Get-CimInstance Win32_Volume on the host.")))
    return results


def _volume_results(volume, thr):
    """Return the ``hardware.disk_free`` result of one Win32_Volume entry ([] when it is not checked)."""
    results = []
    if not isinstance(volume, dict):
        return [unreadable_result(DISK_FREE.id, "?", "volume entry", value=volume)]
    name = volume.get("name") or ""
    name = name if isinstance(name, str) else ""
    if _code(volume.get("drive_type")) != LOCAL_DISK or not name or name.startswith("\\\\?\\"):
        return results  # removable, network, optical, or no drive letter / mount folder (recovery, EFI)
    if any(fnmatch.fnmatchcase(name, p) for p in thr.get("mount_exclude") or ()):
        return results
    raw_capacity, raw_free = volume.get("capacity"), volume.get("free_space")
    capacity, free = _num(raw_capacity), _num(raw_free)
    observed = {"label": str(volume.get("label") or ""), "fstype": str(volume.get("file_system") or "")}
    if raw_capacity is None or raw_free is None:
        results.append(make_result(DISK_FREE.id, name, "unknown", M_("%(mount)s: free space not read", mount=name),
                                   observed=observed, remediation=M_("Check that the volume is online.")))
        return results
    if capacity is None or free is None or capacity < 0 or free < 0:
        bad = ("capacity", raw_capacity) if capacity is None or capacity < 0 else ("free space", raw_free)
        results.append(unreadable_result(DISK_FREE.id, name, bad[0], value=bad[1], observed=observed,
                                         remediation=M_("Check that the volume is online.")))
        return results
    remediation = M_("Free space on %(mount)s: run Disk Cleanup (cleanmgr /sageset), empty the recycle bin, "
                     "clear old update files (DISM /Online /Cleanup-Image /StartComponentCleanup), "
                     "or extend the volume.", mount=name)
    results.append(disk_free_result(name, int(free), int(capacity), observed, thr, remediation))
    return results


def _disk_name(disk):
    name = str(disk.get("friendly_name") or "").strip() or "disk %s" % disk.get("device_id")
    serial = str(disk.get("serial_number") or "").strip()
    return "%s %s" % (name, serial) if serial else name


def _reliability(rel, thr, media, findings, observed):
    if not isinstance(rel, dict):
        return
    counters = dict((k, _num(v)) for k, v in rel.items() if _num(v) is not None)
    observed["reliability"] = counters
    temp = counters.get("temperature")
    if temp:  # 0 means "not reported" for this counter
        warn, crit = (thr["nvme_temp_warn_c"], thr["nvme_temp_crit_c"]) if media == "NVMe" else (
            thr["disk_temp_warn_c"], thr["disk_temp_crit_c"])
        if temp >= crit:
            findings.append(("critical", M_("temperature %(celsius)s C (limit %(limit)s C)", celsius=int(temp),
                                            limit=crit)))
        elif temp >= warn:
            findings.append(("warning", M_("temperature %(celsius)s C (warning at %(limit)s C)", celsius=int(temp),
                                           limit=warn)))
    uncorrected = sum(counters.get(k) or 0 for k in ("read_errors_uncorrected", "write_errors_uncorrected"))
    if uncorrected:
        status = "critical" if uncorrected >= thr["smart_error_count_crit"] else "warning"
        findings.append((status, M_("%(count)s uncorrected read/write errors", count=int(uncorrected))))
    wear = counters.get("wear")
    if wear is not None:
        if wear >= thr["smart_wear_crit_pct"]:
            findings.append(("critical", M_("%(pct)s %% of rated endurance used", pct=int(wear))))
        elif wear >= thr["smart_wear_warn_pct"]:
            findings.append(("warning", M_("%(pct)s %% of rated endurance used", pct=int(wear))))


def _operational(disk, findings, observed):
    """Grade the OperationalStatus codes of one disk; return their names."""
    op_texts = []
    details = [str(d) for d in _listed(disk.get("operational_details")) if d]
    for raw in _listed(disk.get("operational_status")):
        code = _code(raw)
        default = ("warning", "code 0x%X" % code if code is not None else "code %s" % str(raw)[:40])
        status, text = OPERATIONAL_STATUS.get(code, default) if code is not None else default
        op_texts.append(text)
        if status in ("warning", "critical"):
            findings.append((status, M_("operational status %(state)s (%(details)s)", state=text,
                                        details=", ".join(details)) if details
                             else M_("operational status %(state)s", state=text)))
    observed["operational_status"] = op_texts
    if details:
        observed["operational_details"] = details
    return op_texts


def decide_disks(disks, thr, error=None):
    """Return one ``hardware.smart`` result per physical disk (MSFT_PhysicalDisk + reliability counters)."""
    if error:
        return [make_result(SMART.id, "", "unknown", M_("physical disks not read: %(error)s", error=str(error)),
                            remediation=M_("Run Get-PhysicalDisk as an administrator and fix the error."))]
    results = []
    for disk in _listed(disks):
        if not isinstance(disk, dict):
            results.append(unreadable_result(SMART.id, "?", "physical disk entry", value=disk))
            continue
        item = _disk_name(disk)
        results.extend(guarded(SMART.id, item, _disk_result, disk, item, thr))
    if not results:
        results.append(make_result(SMART.id, "", "unknown", M_("no physical disk listed by Get-PhysicalDisk"),
                                   remediation=M_("On a VM the disks' health is read on the hypervisor.")))
    return results


def _disk_result(disk, item, thr):
    """Return the ``hardware.smart`` result of one MSFT_PhysicalDisk entry."""
    bus = BUS_TYPE.get(_code(disk.get("bus_type")), str(disk.get("bus_type")))
    observed = {"device_id": disk.get("device_id"),
                "media_type": MEDIA_TYPE.get(_code(disk.get("media_type")), "?"),
                "bus_type": bus, "size_bytes": _num(disk.get("size"))}
    findings = []
    health = disk.get("health_status")
    health_status, health_text = HEALTH_STATUS.get(_code(health), ("unknown", "code %s" % str(health)[:40]))
    observed["health_status"] = health_text
    if health_status == "ok":
        findings.append(("ok", "Healthy"))
    elif health_status != "unknown":
        findings.append((health_status, M_("health status %(state)s", state=health_text)))
    op_texts = _operational(disk, findings, observed)
    _reliability(disk.get("reliability"), thr, "NVMe" if bus == "NVMe" else "", findings, observed)
    if disk.get("reliability_error"):
        observed["reliability_error"] = disk["reliability_error"]
    status = worst([s for s, _ in findings], default="unknown")
    if health_status == "unknown" and status == "ok":
        status = "unknown"  # a Healthy reading is needed before a disk is ok
    problems = [t for s, t in findings if s in ("warning", "critical")]
    if status == "ok":
        summary = (M_("%(disk)s: Healthy, operational status %(states)s", disk=item, states=", ".join(op_texts))
                   if op_texts else M_("%(disk)s: Healthy, operational status not reported", disk=item))
        remediation = ""
    elif status == "unknown":
        summary = M_("%(disk)s: health not read (HealthStatus %(state)s)", disk=item, state=health_text)
        remediation = M_("Check the disk in Server Manager or with the vendor's tool (storage behind RAID?).")
    else:
        summary = M_("%(disk)s: %(problems)s", disk=item, problems=problems)
        remediation = (M_("Back up the data on this disk now and replace it.") if status == "critical" else
                       M_("Watch this disk and plan a replacement; check Get-StorageReliabilityCounter."))
    return make_result(SMART.id, item, status, summary, observed=observed,
                       threshold={k: thr[k] for k in ("smart_error_count_crit", "smart_wear_warn_pct",
                                                      "smart_wear_crit_pct", "disk_temp_warn_c",
                                                      "disk_temp_crit_c")},
                       remediation=remediation)


def decide_pending_reboot(reboot):
    """Return one ``hardware.pending_reboot`` result from the registry indicators read."""
    if not isinstance(reboot, dict) or reboot.get("error"):
        reason = reboot.get("error") if isinstance(reboot, dict) else "not collected"
        return [make_result(PENDING_REBOOT.id, "", "unknown", M_("reboot indicators not read: %(reason)s",
                                                                 reason=str(reason)),
                            remediation=M_("Check the registry keys under Component Based Servicing and "
                                           "WindowsUpdate."))]
    reasons = []
    if reboot.get("cbs_reboot_pending"):
        reasons.append(Msg(N_("Component Based Servicing RebootPending"), {}))
    if reboot.get("wu_reboot_required"):
        reasons.append(Msg(N_("Windows Update RebootRequired"), {}))
    active, pending = reboot.get("active_computer_name"), reboot.get("pending_computer_name")
    if isinstance(active, str) and isinstance(pending, str) and active and pending \
            and active.lower() != pending.lower():
        reasons.append(M_("computer rename %(active)s -> %(pending)s", active=active, pending=pending))
    observed = dict((k, reboot.get(k)) for k in ("cbs_reboot_pending", "wu_reboot_required",
                                                  "active_computer_name", "pending_computer_name"))
    if reasons:
        return [make_result(PENDING_REBOOT.id, "", "warning", M_("reboot pending: %(reasons)s", reasons=reasons),
                            observed=observed, remediation=PENDING_REBOOT.remediation)]
    return [make_result(PENDING_REBOOT.id, "", "ok",
                        M_("no reboot pending (CBS, Windows Update, computer name)"), observed=observed)]


def decide_windows(facts, policy=None):
    """Return every hardware result of one Windows host from ``win_hardware`` output (its ``hardware_raw``).

    Raises:
        PolicyError: when the policy holds an unusable value.
    """
    thr = effective_policy(policy)
    facts = facts if isinstance(facts, dict) else {}
    osinfo = facts.get("os") if isinstance(facts.get("os"), dict) else {}
    results = []
    # Each check is decided on its own: odd data in one costs that check, never the others.
    results.extend(guarded(DISK_FREE.id, "", decide_volumes, facts.get("volumes"), thr,
                           facts.get("volumes_error")))
    results.extend(guarded(SMART.id, "", decide_disks, facts.get("physical_disks"), thr,
                           facts.get("physical_disks_error")))
    results.extend(guarded(PENDING_REBOOT.id, "", decide_pending_reboot, facts.get("reboot")))
    results.extend(guarded(MEMORY.id, "", decide_memory,
                           {"MemTotal": osinfo.get("total_visible_memory_kb"),
                            "MemAvailable": osinfo.get("free_physical_memory_kb")}, thr,
                           remediation=M_("Find the processes using memory (Task Manager, Get-Process | "
                                          "Sort-Object WS -Descending) and plan more RAM.")))
    results.extend(guarded(UPTIME.id, "", decide_uptime, osinfo.get("uptime_seconds"), thr))
    return results
