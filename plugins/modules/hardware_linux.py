#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Collect a Linux host's hardware facts in one call and decide the hardware checks (and, for the watch, more)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: hardware_linux
short_description: Read a Linux host's disks, SMART, sensors, memory, load, uptime, reboot and RAID state
description:
  - Reads, in one call, everything the hardware checks need, and returns it as raw
    facts under RV(hardware_raw) and as check results under RV(maint_results).
  - "Mounts: C(/proc/mounts) with C(statvfs) (space and inodes); pseudo filesystems,
    read-only mounts, the system's runtime tmpfs (C(/dev), C(/run), ...), mount points
    that are files and second mounts of one filesystem are left out. A mount whose
    statvfs does not answer within O(statvfs_timeout) seconds gives C(unknown)."
  - "SMART: C(smartctl --scan-open --json), then C(smartctl --json --xall -d TYPE DEVICE)
    for every device found. Without smartctl, or when no device answers, the result is
    C(unknown), never C(ok)."
  - "Temperatures: C(/sys/class/hwmon/*/temp*_input) and C(/sys/class/thermal/thermal_zone*/temp);
    C(unknown) when there is neither (VMs, containers)."
  - "Memory (C(/proc/meminfo)), load (C(/proc/loadavg) and the CPUs this process may use),
    uptime (C(/proc/uptime)), pending reboot (C(/var/run/reboot-required),
    C(needs-restarting -r), running against installed kernels) and md RAID (C(/proc/mdstat))."
  - The decisions are made by C(plugins/module_utils/hardware_decide.py) against the
    policy thresholds; the defaults are its C(CHECKS) table's, documented in
    C(schemas/policy/hardware.schema.json).
  - "With O(watch=true) (the health watch, C(playbooks/watch.yml), every few minutes) the same call
    also reads, for C(plugins/module_utils/watch_decide.py): the state of the units of
    O(supervision.critical_services) (C(systemctl show -p Id,LoadState,ActiveState,SubState), so that
    aliases such as C(sshd) resolve), the failed units (C(systemctl list-units --state=failed)), and the
    failed logins since O(since) (C(journalctl -o json) with sshd's and the C(authpriv) facility's entries);
    results C(service.systemd) and C(security.failed_logins). SMART is then read lighter
    (C(smartctl --json -i -H -A -l error): the verdict, attributes and error counters, not the
    self-test and extended logs). Without systemd (no C(/run/systemd/system)) or a readable journal
    those results are C(unknown)."
  - Never changes anything on the host; C(changed) is always false.
version_added: "0.1.0"
options:
  policy:
    description:
      - The C(hardware) section of the client policy (thresholds). Omitted keys take
        the defaults of the C(hardware_decide.CHECKS) table.
    type: dict
    default: {}
  smartctl_timeout:
    description: Seconds allowed for each smartctl call.
    type: int
    default: 60
  statvfs_timeout:
    description: Seconds allowed for each mount's statvfs (a hung network mount gives C(unknown)).
    type: int
    default: 10
  watch:
    description:
      - Run as the health watch, adding C(service.systemd) and C(security.failed_logins) to the
        hardware results (see the description). False for the nightly hardware run.
    type: bool
    default: false
  supervision:
    description:
      - The C(supervision) section of the client policy (C(critical_services), C(failed_logins_warn),
        C(failed_logins_crit)); its other keys (probes, alerts) are ignored here. Omitted keys take the
        defaults of the C(watch_decide.CHECKS) table. Used only with O(watch=true).
    type: dict
    default: {}
  since:
    description:
      - ISO 8601 UTC time from which failed logins are counted (the RV(watch_until) of the previous
        watch of this host). Default, 15 minutes before the host's clock. Used only with O(watch=true).
    type: str
notes:
  - Needs root (C(become)) to read SMART data; without it every disk gives C(unknown).
  - Supports check mode; it reads only.
author:
  - maintctl contributors
"""

EXAMPLES = r"""
- name: Read hardware facts and decide the hardware checks
  hardware_linux:
    policy: "{{ maint_policy.hardware | default({}) }}"
  register: hw

- name: The health watch of one host, counting failed logins since the previous watch
  hardware_linux:
    policy: "{{ maint_policy.hardware | default({}) }}"
    watch: true
    supervision: "{{ maint_policy.supervision | default({}) }}"
    since: "2026-11-22T21:00:00Z"

- name: Show the worst findings
  ansible.builtin.debug:
    msg: "{{ hw.maint_results | selectattr('status', 'in', ['warning', 'critical']) | list }}"
"""

RETURN = r"""
maint_results:
  description: Check results in the shape of schemas/check_result.schema.json (without client, host and run_id).
  returned: always
  type: list
  elements: dict
  sample:
    - check: hardware.disk_free
      item: /srv/data
      status: critical
      summary: "/srv/data: 6.2 % free (0.00 GiB of 0.03 GiB)"
      observed: {free_pct: 6.25, fstype: tmpfs}
      threshold: {warn_free_pct: 20, crit_free_pct: 10}
      remediation: "Free space on /srv/data: ..."
      changed: false
      started: "2026-11-22T21:00:00Z"
      finished: "2026-11-22T21:00:00Z"
hardware_raw:
  description: The raw facts the results were decided from.
  returned: always
  type: dict
  contains:
    mounts:
      description: One entry per mount checked, with its statvfs numbers or an error.
      type: list
      elements: dict
    smart:
      description: smartctl path, scan error, and per device the parsed smartctl JSON or an error.
      type: dict
    sensors:
      description: Temperature readings (millidegrees Celsius) from hwmon and thermal zones.
      type: dict
    meminfo:
      description: Selected /proc/meminfo values in kB.
      type: dict
    load:
      description: Load averages and usable CPU count.
      type: dict
    uptime_seconds:
      description: Seconds since boot.
      type: float
    reboot:
      description: Reboot indicators read.
      type: dict
    mdstat:
      description: The text of /proc/mdstat, or null when absent.
      type: str
    services:
      description: >-
        With O(watch=true): C(systemd) (whether it runs), C(failed) (the failed units, or null when not
        read) and per critical service C(name), C(Id), C(LoadState), C(ActiveState), C(SubState).
      type: dict
    failed_logins:
      description: >-
        With O(watch=true): C(readable), C(error), C(since), C(until), C(count), C(entries_read) and
        C(groups) (by source address and user, largest first).
      type: dict
watch_since:
  description: With O(watch=true), the start of the failed-login window (ISO UTC).
  returned: when watch is true
  type: str
  sample: "2026-11-22T21:00:00Z"
watch_until:
  description: >-
    With O(watch=true), the host's clock when the journal was read (ISO UTC): the O(since) of the next watch.
  returned: when watch is true
  type: str
  sample: "2026-11-22T21:15:00Z"
"""

import glob
import json
import os
import stat
import subprocess
import threading
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.hardware_decide import decide_linux, wanted_mount
from ansible.module_utils.maint_result import PolicyError
from ansible.module_utils.watch_decide import decide_watch_linux, journal_failures, parse_iso, summarize
from ansible.module_utils.watch_decide import effective_policy as watch_policy

MEMINFO_KEYS = ("MemTotal", "MemAvailable", "MemFree", "SwapTotal", "SwapFree")
REBOOT_REQUIRED = "/var/run/reboot-required"
# The nightly run reads everything smartctl knows; the watch, every few minutes, the verdict,
# the attributes and the error counters.
SMART_FULL = ("--json", "--xall")
SMART_LIGHT = ("--json", "--info", "--health", "--attributes", "--log=error")
SYSTEMD_RUNNING = "/run/systemd/system"
SHOW_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState")
# The journal entries of failed logins: sshd's (sshd-session from OpenSSH 9.8), and those of the
# authpriv facility (10), where pam_unix writes for every service (su, login, sudo...).
JOURNAL_MATCHES = ("SYSLOG_IDENTIFIER=sshd", "SYSLOG_IDENTIFIER=sshd-session", "+", "_COMM=sshd", "+",
                   "_COMM=sshd-session", "+", "SYSLOG_FACILITY=10")
JOURNAL_FIELDS = "MESSAGE,SYSLOG_IDENTIFIER,_COMM,_PID,__REALTIME_TIMESTAMP"
DEFAULT_WINDOW_SECONDS = 15 * 60
JOURNAL_FILES = ("/run/log/journal/*/*.journal", "/var/log/journal/*/*.journal")


def _read(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _unescape(field):
    r"""Undo the octal escapes of /proc/mounts (\040 for a space)."""
    return field.encode("latin-1").decode("unicode_escape") if "\\" in field else field


def _statvfs(path, timeout):
    """Run statvfs in a daemon thread so that a hung network mount cannot block the module."""
    box = {}

    def target():
        try:
            box["st"] = os.statvfs(path)
        except OSError as exc:
            box["error"] = exc.strerror or str(exc)

    thread = threading.Thread(target=target)
    thread.daemon = True
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return None, "statvfs did not answer within %d s" % timeout
    return box.get("st"), box.get("error")


def collect_mounts(timeout):
    """Return the mounts worth checking, each with its statvfs numbers or an error."""
    mounts, seen = [], set()
    text = _read("/proc/self/mounts") or _read("/proc/mounts") or ""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        device, point, fstype, options = _unescape(fields[0]), _unescape(fields[1]), fields[2], fields[3].split(",")
        if not wanted_mount(fstype, point, options):
            continue
        rows.append((device, point, fstype))
    # Shortest paths first, so that a second mount of one filesystem (bind mounts) is dropped.
    for device, point, fstype in sorted(rows, key=lambda r: (len(r[1]), r[1])):
        try:
            info = os.stat(point)
        except OSError:
            info = None
        if info is not None:
            if not stat.S_ISDIR(info.st_mode):
                continue  # a file bind-mounted over a file (/etc/hosts in a container)
            if info.st_dev in seen:
                continue
            seen.add(info.st_dev)
        entry = {"mount": point, "device": device, "fstype": fstype}
        st, error = _statvfs(point, timeout)
        if st is None:
            entry["error"] = error or "statvfs failed"
        else:
            entry.update(frsize=st.f_frsize, blocks=st.f_blocks, bfree=st.f_bfree, bavail=st.f_bavail,
                         files=st.f_files, ffree=st.f_ffree, favail=st.f_favail)
        mounts.append(entry)
    return mounts


def _run(argv, timeout):
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        return None, "", exc.strerror or str(exc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None, "", "timed out after %d s" % timeout
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def collect_smart(module, timeout, light=False):
    """Scan for devices with smartctl and read each one's --xall JSON (``light``: -i -H -A -l error)."""
    smartctl = module.get_bin_path("smartctl", opt_dirs=["/usr/sbin", "/sbin", "/usr/local/sbin"])
    facts = {"smartctl": smartctl, "devices": []}
    if not smartctl:
        return facts
    rc, out, err = _run([smartctl, "--scan-open", "--json"], timeout)
    try:
        scan = json.loads(out) if out else None
    except ValueError:
        scan = None
    if not isinstance(scan, dict):
        lines = (err or out or "").strip().splitlines()
        facts["scan_error"] = lines[0][:300] if lines else "no JSON output (rc %s)" % rc
        return facts
    for dev in scan.get("devices") or []:
        name, dtype = dev.get("name"), dev.get("type")
        if not name:
            continue
        entry = {"name": name, "info_name": dev.get("info_name") or name, "type": dtype, "output": None}
        if dev.get("open_error"):
            entry["error"] = dev["open_error"]
            facts["devices"].append(entry)
            continue
        argv = [smartctl] + list(SMART_LIGHT if light else SMART_FULL)
        if dtype:
            argv += ["-d", dtype]
        argv.append(name)
        rc, out, err = _run(argv, timeout)
        try:
            entry["output"] = json.loads(out)
        except ValueError:
            entry["error"] = (err.strip() or "smartctl gave no JSON (rc %s)" % rc)[:300]
        facts["devices"].append(entry)
    return facts


def collect_sensors():
    """Read every temperature from hwmon and thermal zones (millidegrees Celsius)."""
    readings = []
    for path in sorted(glob.glob("/sys/class/hwmon/hwmon*/temp*_input")):
        raw = _read(path)
        if raw is None or not raw.strip().lstrip("-").isdigit():
            continue
        base = path[:-len("_input")]
        chip = (_read(os.path.join(os.path.dirname(path), "name")) or "").strip()
        label = (_read(base + "_label") or "").strip() or os.path.basename(base)
        readings.append({"source": "hwmon", "chip": chip, "label": label, "millicelsius": int(raw.strip())})
    for path in sorted(glob.glob("/sys/class/thermal/thermal_zone*/temp")):
        raw = _read(path)
        if raw is None or not raw.strip().lstrip("-").isdigit():
            continue
        zone = os.path.dirname(path)
        kind = (_read(os.path.join(zone, "type")) or "").strip()
        readings.append({"source": "thermal", "chip": os.path.basename(zone), "label": kind,
                         "millicelsius": int(raw.strip())})
    return {"hwmon_present": os.path.isdir("/sys/class/hwmon"),
            "thermal_present": bool(glob.glob("/sys/class/thermal/thermal_zone*")),
            "readings": readings}


def collect_meminfo():
    """Return the /proc/meminfo values the memory check needs (kB)."""
    values = {}
    for line in (_read("/proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        if key in MEMINFO_KEYS:
            fields = rest.split()
            if fields and fields[0].isdigit():
                values[key] = int(fields[0])
    return values


def collect_load():
    """Return the load averages and the number of CPUs this process may run on."""
    facts = {}
    fields = (_read("/proc/loadavg") or "").split()
    if len(fields) >= 3:
        try:
            facts.update(load1=float(fields[0]), load5=float(fields[1]), load15=float(fields[2]))
        except ValueError:
            facts["error"] = "unparsable /proc/loadavg"
    try:
        facts["cpus"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        facts["cpus"] = os.cpu_count()
    return facts


def collect_uptime():
    """Return the seconds since boot, or None."""
    fields = (_read("/proc/uptime") or "").split()
    try:
        return float(fields[0])
    except (IndexError, ValueError):
        return None


def collect_reboot(module):
    """Read the reboot indicators: reboot-required, needs-restarting, kernels."""
    facts = {"reboot_required_file": os.path.exists(REBOOT_REQUIRED),
             "debian_like": os.path.exists("/etc/debian_version"),
             "running_kernel": os.uname()[2]}
    pkgs = _read(REBOOT_REQUIRED + ".pkgs")
    if pkgs:
        facts["reboot_required_pkgs"] = sorted(set(p.strip() for p in pkgs.splitlines() if p.strip()))
    kernels = [os.path.basename(p)[len("vmlinuz-"):] for p in glob.glob("/boot/vmlinuz-*")]
    facts["installed_kernels"] = sorted(k for k in kernels if k and not k.endswith((".old", "-rescue")) and
                                        "rescue" not in k)
    tool = module.get_bin_path("needs-restarting")
    if tool:
        rc, _, err = _run([tool, "-r"], 60)
        facts["needs_restarting"] = {"path": tool, "rc": rc, "error": err.strip()[:200] if rc not in (0, 1) else ""}
    return facts


def _first_line(text, default):
    lines = (text or "").strip().splitlines()
    return lines[0][:300] if lines else default


def collect_services(module, critical):
    """Read whether systemd runs, its failed units, and the state of each critical service."""
    facts = {"systemd": os.path.isdir(SYSTEMD_RUNNING), "failed": None, "services": []}
    systemctl = module.get_bin_path("systemctl")
    if not facts["systemd"]:
        return facts
    if not systemctl:
        facts["failed_error"] = "systemctl not found"
        facts["services"] = [{"name": name, "error": "systemctl not found"} for name in critical]
        return facts
    rc, out, err = module.run_command([systemctl, "list-units", "--state=failed", "--all", "--plain",
                                       "--no-legend", "--no-pager", "--full"])
    if rc == 0:
        facts["failed"] = [line.split()[0] for line in out.splitlines() if line.strip()]
    else:
        facts["failed_error"] = _first_line(err or out, "systemctl list-units failed (rc %s)" % rc)
    for name in critical:
        argv = [systemctl, "show", "--no-pager"] + ["--property=%s" % p for p in SHOW_PROPERTIES] + ["--", name]
        rc, out, err = module.run_command(argv)
        if rc != 0:
            facts["services"].append({"name": name, "error": _first_line(err or out, "rc %s" % rc)})
            continue
        entry = {"name": name}
        for line in out.splitlines():
            key, sep, value = line.partition("=")
            if sep and key in SHOW_PROPERTIES:
                entry[key] = value
        facts["services"].append(entry)
    return facts


def collect_failed_logins(module, since):
    """Read the journal's failed logins from ``since`` (POSIX time) to the host's clock now."""
    until = int(time.time())
    since = until - DEFAULT_WINDOW_SECONDS if since is None else since
    journalctl = module.get_bin_path("journalctl")
    if not journalctl:
        return summarize([], readable=False, error="journalctl not found (no systemd journal)",
                         since=since, until=until)
    if not any(glob.glob(pattern) for pattern in JOURNAL_FILES):
        return summarize([], readable=False, error="no journal file on this host (/run/log/journal, "
                         "/var/log/journal): journald does not run or does not keep a journal",
                         since=since, until=until)
    argv = [journalctl, "--no-pager", "--quiet", "--output=json", "--output-fields=" + JOURNAL_FIELDS,
            "--since=@%d" % int(since), "--until=@%d" % until] + list(JOURNAL_MATCHES)
    rc, out, err = module.run_command(argv)
    if rc != 0 and "output-fields" in (err or ""):  # systemd before 236: every field
        rc, out, err = module.run_command([a for a in argv if not a.startswith("--output-fields=")])
    blocked = "No journal files" in (err or "") or "insufficient permissions" in (err or "")
    if rc != 0 or blocked:
        return summarize([], readable=False, error=_first_line(err or out, "journalctl failed (rc %s)" % rc),
                         since=since, until=until)
    entries, unreadable = [], 0
    for line in out.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            unreadable += 1
    return summarize(journal_failures(entries, since=since, until=until), since=since, until=until,
                     entries_read=len(entries), lines_unreadable=unreadable)


def main():
    """Collect, decide, return."""
    module = AnsibleModule(
        argument_spec=dict(
            policy=dict(type="dict", default={}),
            smartctl_timeout=dict(type="int", default=60),
            statvfs_timeout=dict(type="int", default=10),
            watch=dict(type="bool", default=False),
            supervision=dict(type="dict", default={}),
            since=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    watch = module.params["watch"]
    since = None
    if watch:
        try:
            supervision = watch_policy(module.params["supervision"])
        except PolicyError as exc:
            module.fail_json(msg=str(exc))
        if module.params["since"]:
            try:
                since = parse_iso(module.params["since"])
            except ValueError:
                module.fail_json(msg="since must be an ISO 8601 time such as 2026-11-22T21:00:00Z, got %r"
                                 % module.params["since"])
    facts = {
        "mounts": collect_mounts(module.params["statvfs_timeout"]),
        "smart": collect_smart(module, module.params["smartctl_timeout"], light=watch),
        "sensors": collect_sensors(),
        "meminfo": collect_meminfo(),
        "load": collect_load(),
        "uptime_seconds": collect_uptime(),
        "reboot": collect_reboot(module),
        "mdstat": _read("/proc/mdstat"),
    }
    extra = {}
    if watch:
        facts["services"] = collect_services(module, supervision["critical_services"])
        facts["failed_logins"] = collect_failed_logins(module, since)
        extra = {"watch_since": facts["failed_logins"]["since"], "watch_until": facts["failed_logins"]["until"]}
    try:
        results = decide_linux(facts, module.params["policy"])
        if watch:
            results += decide_watch_linux(facts, module.params["supervision"])
    except PolicyError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, maint_results=results, hardware_raw=facts, **extra)


if __name__ == "__main__":
    main()
