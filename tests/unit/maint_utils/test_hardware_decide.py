"""Hardware decisions for Linux hosts (plugins/module_utils/hardware_decide.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from maint_utils import hardware_decide as hd
from maint_utils.maint_result import PolicyError, policy_defaults
from tests.conftest import assert_valid_results

ROOT = Path(__file__).resolve().parents[3]
SMART_FIXTURES = ROOT / "tests" / "fixtures" / "smartctl"
THR = hd.effective_policy({})


def _stamp(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for res in results:
        res.update(client="c", host="h", run_id="r")
    return results


def _mount(point: str, blocks: int, bfree: int, bavail: int, files: int = 1000, ffree: int = 900,
           fstype: str = "ext4") -> dict[str, Any]:
    return {"mount": point, "device": "/dev/x", "fstype": fstype, "frsize": 4096, "blocks": blocks,
            "bfree": bfree, "bavail": bavail, "files": files, "ffree": ffree, "favail": ffree}


# -- policy --------------------------------------------------------------------------
def test_policy_defaults_and_overrides() -> None:
    assert hd.effective_policy(None) == hd.DEFAULTS
    assert hd.effective_policy({"disk_warn_free_pct": 30})["disk_warn_free_pct"] == 30
    assert hd.effective_policy({"disk_warn_free_pct": None})["disk_warn_free_pct"] == 20


@pytest.mark.parametrize(("policy", "needle"), [
    ({"disk_warn_pct": 20}, "unknown key 'disk_warn_pct'"),
    ({"disk_crit_free_pct": "10"}, "disk_crit_free_pct must be a number"),
    ({"disk_crit_free_pct": True}, "must be a number"),
    ({"load_warn_per_cpu": -1}, "must not be negative"),
    ({"mount_exclude": "/tmp"}, "mount_exclude must be a list"),
    ({"disk_warn_free_pct": 5, "disk_crit_free_pct": 10}, "must not exceed disk_warn_free_pct"),
    (["x"], "must be a mapping"),
])
def test_policy_errors(policy: Any, needle: str) -> None:
    with pytest.raises(PolicyError, match=needle):
        hd.effective_policy(policy)


def test_validate_policy_for_maintctl() -> None:
    assert hd.validate_policy({}) == []
    assert hd.validate_policy(hd.DEFAULTS) == []
    errors = hd.validate_policy({"temp_warn_c": 80, "load_warn_per_cpu": 5, "nvme_temp_crit_c": 60})
    assert errors == [
        "maint_policy.hardware.temp_warn_c: 80 is above the critical threshold 75 (temp_crit_c)",
        "maint_policy.hardware.load_warn_per_cpu: 5 is above the critical threshold 4.0 (load_crit_per_cpu)",
        "maint_policy.hardware.nvme_temp_warn_c: 70 is above the critical threshold 60 (nvme_temp_crit_c)",
    ]
    assert hd.validate_policy({"temp_warn_c": "hot"}) == []  # types are the schema's job
    with pytest.raises(PolicyError, match="temp_warn_c: 80 is above"):
        hd.effective_policy({"temp_warn_c": 80})


def test_defaults_come_from_the_table() -> None:
    """Every default is stated once, in CHECKS; DEFAULTS adds only mount_exclude, which no threshold is."""
    assert dict(policy_defaults(hd.CHECKS), mount_exclude=[]) == hd.DEFAULTS
    keys = [key for check in hd.CHECKS for key in check.policy]
    assert len(keys) == len(set(keys)), "a policy key is stated by two checks"
    assert hd.CHECKS[0] is hd.DISK_FREE and {c.id for c in hd.CHECKS} == {"hardware." + n for n in hd.BY_NAME}


def test_defaults_match_schema_and_argument_specs() -> None:
    """The defaults live in the CHECKS table; the schema and the role's argument specs document them."""
    schema = json.loads((ROOT / "schemas" / "policy" / "hardware.schema.json").read_text(encoding="utf-8"))
    documented = {key: spec.get("default") for key, spec in schema["properties"].items()}
    assert documented == hd.DEFAULTS
    specs = yaml.safe_load((ROOT / "roles" / "hardware" / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]["hardware_policy"]["options"]
    assert set(options) == set(hd.DEFAULTS)
    for key, option in options.items():
        text = " ".join(option["description"]) if isinstance(option["description"], list) else option["description"]
        assert f"Default {json.dumps(hd.DEFAULTS[key])}." in text, key
        assert "default" not in option, f"{key}: defaults live in Python only"


# -- mounts ------------------------------------------------------------------------
@pytest.mark.parametrize(("fstype", "point", "options", "wanted"), [
    ("ext4", "/", ["rw"], True),
    ("overlay", "/", ["rw"], True),
    ("tmpfs", "/srv/data", ["rw"], True),
    ("tmpfs", "/tmp", ["rw"], True),
    ("tmpfs", "/run", ["rw"], False),
    ("tmpfs", "/run/user/1000", ["rw"], False),
    ("tmpfs", "/dev/shm", ["rw"], False),
    ("tmpfs", "/devices", ["rw"], True),
    ("proc", "/proc", ["rw"], False),
    ("cgroup2", "/sys/fs/cgroup", ["rw"], False),
    ("squashfs", "/snap/core/1", ["ro"], False),
    ("ext4", "/srv/lab-apt", ["ro", "relatime"], False),
    ("xfs", "/var", ["rw", "noatime"], True),
    ("nfs4", "/mnt/share", ["rw"], True),
    ("fuse.lxcfs", "/proc/cpuinfo", ["rw"], False),
    ("fuse.sshfs", "/mnt/remote", ["rw"], True),
    ("overlay", "/var/lib/docker/overlay2/0123/merged", ["rw"], False),
    ("overlay", "/srv/podman/storage/overlay/0123/merged", ["rw"], False),
    ("tmpfs", "/srv/podman/storage/overlay-containers/0123/userdata/shm", ["rw"], False),
    ("tmpfs", "/var/lib/kubelet/pods/0123/volumes/kubernetes.io~secret/token", ["rw"], False),
    ("ext4", "/var/lib/docker", ["rw"], True),
])
def test_wanted_mount(fstype: str, point: str, options: list[str], wanted: bool) -> None:
    assert hd.wanted_mount(fstype, point, options) is wanted


def test_disk_free_grades() -> None:
    mounts = [
        _mount("/", 1000, 600, 550),                 # 55 % free
        _mount("/var", 1000, 180, 150, ffree=50),    # 15 % free, 5 % inodes
        _mount("/srv/data", 8192, 512, 512, fstype="tmpfs", files=3085510, ffree=3085508),  # 6.25 %
    ]
    results = hd.decide_disk_free(mounts, THR)
    assert_valid_results(_stamp(results))
    by = {(r["check"], r["item"]): r for r in results}
    assert by[("hardware.disk_free", "/")]["status"] == "ok"
    assert by[("hardware.disk_free", "/")]["remediation"] == ""
    assert by[("hardware.disk_free", "/var")]["status"] == "warning"
    assert by[("hardware.inode_free", "/var")]["status"] == "critical"
    data = by[("hardware.disk_free", "/srv/data")]
    assert data["status"] == "critical"
    assert data["observed"]["free_pct"] == 6.25
    assert data["observed"]["avail_bytes"] == 512 * 4096
    assert data["threshold"] == {"warn_free_pct": 20, "crit_free_pct": 10}
    assert "/srv/data: 6.2 % free (2.0 MiB of 32.0 MiB)" in data["summary"]
    assert "du -xh" in data["remediation"]


def test_disk_free_uses_space_available_to_users() -> None:
    # 5 % reserved for root: bfree 100 but bavail 50 -> 50 / (900 + 50) free
    res = hd.decide_disk_free([_mount("/", 1000, 100, 50)], THR)[0]
    assert res["observed"]["free_pct"] == pytest.approx(5.26, abs=0.01)
    assert res["status"] == "critical"


def test_disk_free_unknown_and_skipped() -> None:
    mounts = [{"mount": "/mnt/nfs", "fstype": "nfs4", "device": "srv:/x", "error": "statvfs did not answer within 10 s"},
              _mount("/data", 1000, 900, 900, files=0, ffree=0, fstype="btrfs")]
    by = {(r["check"], r["item"]): r for r in hd.decide_disk_free(mounts, THR)}
    assert by[("hardware.disk_free", "/mnt/nfs")]["status"] == "unknown"
    assert "did not answer" in by[("hardware.disk_free", "/mnt/nfs")]["summary"]
    assert by[("hardware.inode_free", "/data")]["status"] == "skipped"
    assert hd.decide_disk_free([], THR)[0]["status"] == "unknown"


def test_mount_exclude() -> None:
    thr = hd.effective_policy({"mount_exclude": ["/srv/*"]})
    results = hd.decide_disk_free([_mount("/", 10, 5, 5), _mount("/srv/data", 10, 0, 0)], thr)
    assert {r["item"] for r in results} == {"/"}


# -- SMART -----------------------------------------------------------------------------
def test_smart_without_smartctl_or_devices_is_unknown() -> None:
    missing = hd.decide_smart({"smartctl": None, "devices": []}, THR)
    assert [(r["status"], r["summary"]) for r in missing] == [("unknown", "smartctl is not installed: SMART not read")]
    empty = hd.decide_smart({"smartctl": "/usr/sbin/smartctl", "devices": []}, THR)
    assert empty[0]["status"] == "unknown" and "no disk answered" in empty[0]["summary"]
    failed = hd.decide_smart({"smartctl": "/usr/sbin/smartctl", "scan_error": "Permission denied"}, THR)
    assert failed[0]["status"] == "unknown"
    assert hd.decide_smart(None, THR)[0]["status"] == "unknown"


def test_smart_devices() -> None:
    bad = json.loads((SMART_FIXTURES / "ST3500418AS_12.json").read_text())
    smart = {"smartctl": "/usr/sbin/smartctl", "devices": [
        {"name": "/dev/sda", "info_name": "/dev/sda [SAT]", "type": "sat", "output": bad},
        {"name": "/dev/sdb", "info_name": "/dev/sdb", "type": "scsi", "output": None,
         "error": "Permission denied"},
    ]}
    results = hd.decide_smart(smart, THR)
    assert [(r["item"], r["status"]) for r in results] == [("/dev/sda [SAT]", "critical"), ("/dev/sdb", "unknown")]
    assert "Permission denied" in results[1]["summary"]


# -- host-wide ---------------------------------------------------------------------------
def test_temperature() -> None:
    assert hd.decide_temperature({"readings": []}, THR)[0]["status"] == "unknown"
    assert hd.decide_temperature(None, THR)[0]["status"] == "unknown"
    implausible = {"readings": [{"source": "thermal", "chip": "z0", "label": "acpitz", "millicelsius": -273000},
                                {"source": "hwmon", "chip": "x", "label": "t", "millicelsius": 255000}]}
    assert hd.decide_temperature(implausible, THR)[0]["status"] == "unknown"
    readings = {"readings": [
        {"source": "hwmon", "chip": "coretemp", "label": "Package id 0", "millicelsius": 48000},
        {"source": "hwmon", "chip": "coretemp", "label": "Core 1", "millicelsius": 63500},
        {"source": "thermal", "chip": "thermal_zone0", "label": "x86_pkg_temp", "millicelsius": 47000},
    ]}
    res = hd.decide_temperature(readings, THR)[0]
    assert res["status"] == "warning"
    assert res["observed"]["max_c"] == 63.5
    assert res["observed"]["hottest"] == "hwmon/coretemp/Core 1"
    assert res["observed"]["sensors"] == 3
    readings["readings"][1]["millicelsius"] = 80000
    assert hd.decide_temperature(readings, THR)[0]["status"] == "critical"
    readings["readings"][1]["millicelsius"] = 40000
    assert hd.decide_temperature(readings, THR)[0]["status"] == "ok"


@pytest.mark.parametrize(("avail", "status"), [(8000, "ok"), (900, "warning"), (400, "critical")])
def test_memory(avail: int, status: str) -> None:
    res = hd.decide_memory({"MemTotal": 10000, "MemAvailable": avail, "SwapTotal": 100, "SwapFree": 25}, THR)[0]
    assert res["status"] == status
    assert res["observed"]["avail_pct"] == avail / 100
    assert res["observed"]["swap_used_pct"] == 75.0


def test_memory_unread() -> None:
    assert hd.decide_memory({"MemTotal": 1000}, THR)[0]["status"] == "unknown"
    assert hd.decide_memory({}, THR)[0]["status"] == "unknown"


@pytest.mark.parametrize(("load15", "cpus", "status"), [(1.0, 2, "ok"), (4.0, 2, "warning"), (17.0, 4, "critical")])
def test_load(load15: float, cpus: int, status: str) -> None:
    res = hd.decide_load({"load1": 0.1, "load5": 0.2, "load15": load15, "cpus": cpus}, THR)[0]
    assert res["status"] == status
    assert res["observed"]["load15_per_cpu"] == round(load15 / cpus, 2)


def test_load_and_uptime_unread() -> None:
    assert hd.decide_load({"cpus": 2}, THR)[0]["status"] == "unknown"
    assert hd.decide_load({"load15": 1.0, "cpus": 0}, THR)[0]["status"] == "unknown"
    assert hd.decide_uptime(None, THR)[0]["status"] == "unknown"


def test_uptime() -> None:
    assert hd.decide_uptime(86400 * 10, THR)[0]["status"] == "ok"
    res = hd.decide_uptime(86400 * 200, THR)[0]
    assert res["status"] == "warning" and res["observed"]["uptime_days"] == 200.0


@pytest.mark.parametrize(("reboot", "status", "needle"), [
    ({"reboot_required_file": True, "reboot_required_pkgs": ["linux-image-6.1.0-21-amd64"], "debian_like": True},
     "warning", "linux-image-6.1.0-21-amd64"),
    ({"reboot_required_file": False, "debian_like": True}, "ok", "reboot-required"),
    ({"reboot_required_file": False, "debian_like": False}, "unknown", "no reboot indicator"),
    ({"debian_like": False, "needs_restarting": {"rc": 1}}, "warning", "needs-restarting"),
    ({"debian_like": False, "needs_restarting": {"rc": 0}}, "ok", "needs-restarting"),
    ({"debian_like": False, "needs_restarting": {"rc": 127}}, "unknown", "no reboot indicator"),
    ({"debian_like": True, "running_kernel": "6.1.0-18-amd64",
      "installed_kernels": ["6.1.0-18-amd64", "6.1.0-21-amd64"]}, "warning", "newer 6.1.0-21-amd64"),
    ({"debian_like": True, "running_kernel": "6.1.0-9-amd64",
      "installed_kernels": ["6.1.0-10-amd64"]}, "warning", "no longer installed"),
    ({"debian_like": False, "running_kernel": "5.14.0-427.el9.x86_64",
      "installed_kernels": ["5.14.0-70.el9.x86_64", "5.14.0-427.el9.x86_64"]}, "ok", "kernel"),
    ({"debian_like": False, "running_kernel": "6.18.44", "installed_kernels": []}, "unknown", "no reboot"),
])
def test_pending_reboot(reboot: dict[str, Any], status: str, needle: str) -> None:
    res = hd.decide_pending_reboot(reboot)[0]
    assert res["status"] == status
    assert needle in res["summary"]


MDSTAT_HEALTHY = """Personalities : [raid1] [raid0]
md0 : active raid1 sdb1[1] sda1[0]
      976630464 blocks super 1.2 [2/2] [UU]
      bitmap: 0/8 pages [0KB], 65536KB chunk

md1 : active raid0 sdd[1] sdc[0]
      1953260544 blocks super 1.2 512k chunks

unused devices: <none>
"""
MDSTAT_DEGRADED = """Personalities : [raid1] [raid6] [raid5] [raid4]
md0 : active raid1 sda1[0] sdb1[1](F)
      976630464 blocks super 1.2 [2/1] [U_]

md2 : active raid5 sdf1[3] sde1[1] sdd1[0]
      1953262592 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [UU_]
      [=>...................]  recovery =  8.5% (83000000/976631296) finish=85.0min speed=175000K/sec

md3 : active raid1 sdg1[0] sdh1[1]
      976630464 blocks super 1.2 [2/2] [UU]
      [==>..................]  resync = 12.0% (117195676/976630464) finish=70.0min speed=200000K/sec

md127 : inactive sdi[0](S)
      976631512 blocks super 1.2

unused devices: <none>
"""


def test_raid() -> None:
    assert hd.decide_raid(None)[0]["status"] == "skipped"
    assert hd.decide_raid("Personalities : \nunused devices: <none>\n")[0]["status"] == "skipped"
    healthy = hd.decide_raid(MDSTAT_HEALTHY)
    assert [(r["item"], r["status"]) for r in healthy] == [("/dev/md0", "ok"), ("/dev/md1", "ok")]
    results = hd.decide_raid(MDSTAT_DEGRADED)
    assert_valid_results(_stamp(results))
    by = {r["item"]: r for r in results}
    assert by["/dev/md0"]["status"] == "critical" and "[U_]" in by["/dev/md0"]["summary"]
    assert by["/dev/md2"]["status"] == "critical" and "recovery at 8.5 %" in by["/dev/md2"]["summary"]
    assert by["/dev/md3"]["status"] == "warning" and "resync" in by["/dev/md3"]["summary"]
    assert by["/dev/md127"]["status"] == "critical" and "inactive" in by["/dev/md127"]["summary"]
    assert "mdadm" in by["/dev/md0"]["remediation"]


def test_decide_linux_lab_like_host() -> None:
    """The facts of a lab container: full tmpfs, no SMART device, no sensors."""
    facts = {
        "mounts": [_mount("/", 26000000, 20000000, 20000000, files=16777216, ffree=16000000, fstype="overlay"),
                   _mount("/srv/data", 8192, 512, 512, files=3085510, ffree=3085508, fstype="tmpfs")],
        "smart": {"smartctl": "/usr/sbin/smartctl", "devices": []},
        "sensors": {"hwmon_present": False, "thermal_present": False, "readings": []},
        "meminfo": {"MemTotal": 24000000, "MemAvailable": 23000000},
        "load": {"load1": 0.2, "load5": 0.2, "load15": 0.2, "cpus": 2},
        "uptime_seconds": 3600.0,
        "reboot": {"reboot_required_file": False, "debian_like": True, "running_kernel": "6.18", "installed_kernels": []},
        "mdstat": None,
    }
    results = hd.decide_linux(facts, {"disk_crit_free_pct": 10})
    assert_valid_results(_stamp(results))
    status = {(r["check"], r["item"]): r["status"] for r in results}
    assert status == {
        ("hardware.disk_free", "/"): "ok", ("hardware.inode_free", "/"): "ok",
        ("hardware.disk_free", "/srv/data"): "critical", ("hardware.inode_free", "/srv/data"): "ok",
        ("hardware.smart", ""): "unknown", ("hardware.temperature", ""): "unknown",
        ("hardware.memory", ""): "ok", ("hardware.load", ""): "ok", ("hardware.uptime", ""): "ok",
        ("hardware.pending_reboot", ""): "ok", ("hardware.raid", ""): "skipped",
    }
    assert hd.overall(results) == "critical"
    with pytest.raises(PolicyError):
        hd.decide_linux(facts, {"bogus": 1})


def test_human_bytes() -> None:
    assert hd.human_bytes(512) == "512 B"
    assert hd.human_bytes(2 * 1024 * 1024) == "2.0 MiB"
    assert hd.human_bytes(3 * 1024**4) == "3.0 TiB"


# -- hostile input: one odd value costs one result, never the host's others ------------------
MDSTAT_FIXTURES = ROOT / "tests" / "fixtures" / "mdstat"


def _good_facts() -> dict[str, Any]:
    return {
        "mounts": [_mount("/", 26000000, 20000000, 20000000), _mount("/srv", 8192, 4000, 4000)],
        "smart": {"smartctl": "/usr/sbin/smartctl", "devices": []},
        "sensors": {"readings": [{"source": "hwmon", "chip": "coretemp", "label": "Core 0", "millicelsius": 45000}]},
        "meminfo": {"MemTotal": 24000000, "MemAvailable": 23000000},
        "load": {"load1": 0.2, "load5": 0.2, "load15": 0.2, "cpus": 2},
        "uptime_seconds": 3600.0,
        "reboot": {"reboot_required_file": False, "debian_like": True, "running_kernel": "6.18",
                   "installed_kernels": []},
        "mdstat": MDSTAT_HEALTHY,
    }


def _keys(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["check"], r["item"]): r for r in results}


@pytest.mark.parametrize("bad", ["abc", float("nan"), float("inf"), [1, 2], {"x": 1}, True])
def test_one_odd_disk_costs_only_its_own_result(bad: Any) -> None:
    facts = _good_facts()
    facts["mounts"][1]["blocks"] = bad
    results = hd.decide_linux(facts)
    assert_valid_results(_stamp(results))
    by = _keys(results)
    assert by[("hardware.disk_free", "/srv")]["status"] == "unknown"
    assert "unreadable" in by[("hardware.disk_free", "/srv")]["summary"]
    assert "blocks" in by[("hardware.disk_free", "/srv")]["summary"]
    # The other mount and every other check of the host are still there and graded.
    assert by[("hardware.disk_free", "/")]["status"] == "ok"
    assert by[("hardware.inode_free", "/srv")]["status"] == "ok"
    for check in ("hardware.temperature", "hardware.memory", "hardware.load", "hardware.uptime",
                  "hardware.pending_reboot"):
        assert by[(check, "")]["status"] == "ok", check
    assert by[("hardware.raid", "/dev/md0")]["status"] == "ok"


@pytest.mark.parametrize(("key", "bad"), [("bavail", float("nan")), ("bfree", "12x"), ("frsize", None),
                                          ("bavail", -5)])
def test_disk_free_never_ok_on_an_unreadable_count(key: str, bad: Any) -> None:
    mount = _mount("/data", 1000, 1, 1)  # would be critical if read
    mount[key] = bad
    by = _keys(hd.decide_disk_free([mount], THR))
    assert by[("hardware.disk_free", "/data")]["status"] == "unknown"


def test_odd_mount_entries_and_containers() -> None:
    good = _mount("/", 1000, 900, 900)
    results = hd.decide_disk_free([good, "garbage", None, [1, 2]], THR)
    assert_valid_results(_stamp(results))
    statuses = [(r["check"], r["item"], r["status"]) for r in results]
    assert ("hardware.disk_free", "/", "ok") in statuses
    assert sum(1 for s in statuses if s[2] == "unknown") == 3
    # A dict where a list is expected is one entry, not its keys.
    one = hd.decide_disk_free(_mount("/x", 1000, 900, 900), THR)
    assert [(r["check"], r["status"]) for r in one] == [("hardware.disk_free", "ok"), ("hardware.inode_free", "ok")]


@pytest.mark.parametrize(("section", "value", "check"), [
    ("meminfo", {"MemTotal": 24000000, "MemAvailable": float("nan")}, "hardware.memory"),
    ("meminfo", {"MemTotal": "lots", "MemAvailable": 100}, "hardware.memory"),
    ("meminfo", [1, 2, 3], "hardware.memory"),
    ("load", {"load15": float("nan"), "cpus": 2}, "hardware.load"),
    ("load", {"load15": 0.5, "cpus": "two"}, "hardware.load"),
    ("uptime_seconds", float("nan"), "hardware.uptime"),
    ("uptime_seconds", "a while", "hardware.uptime"),
    ("uptime_seconds", float("inf"), "hardware.uptime"),
])
def test_nan_and_strings_are_unknown_never_ok(section: str, value: Any, check: str) -> None:
    facts = _good_facts()
    facts[section] = value
    results = hd.decide_linux(facts)
    assert_valid_results(_stamp(results))
    by = _keys(results)
    assert by[(check, "")]["status"] == "unknown"
    assert len(results) == len(hd.decide_linux(_good_facts()))  # nothing else lost
    assert by[("hardware.disk_free", "/")]["status"] == "ok"


def test_nested_garbage_in_every_section_never_raises() -> None:
    garbage: list[Any] = [None, "x", 3, float("nan"), [None, {"a": [1]}], {"readings": "no"}, {"devices": {"a": 1}}]
    for value in garbage:
        for section in ("mounts", "smart", "sensors", "meminfo", "load", "uptime_seconds", "reboot", "mdstat"):
            facts = _good_facts()
            facts[section] = value
            results = hd.decide_linux(facts)
            assert_valid_results(_stamp(results))
            assert all(r["status"] in ("ok", "warning", "critical", "unknown", "skipped") for r in results)
            assert ("hardware.memory", "") in _keys(results) or section == "meminfo"


def test_odd_smart_device_entries() -> None:
    smart = {"smartctl": "/usr/sbin/smartctl",
             "devices": ["sda", {"name": "/dev/sdb", "output": {"smartctl": {"exit_status": float("nan")},
                                                                 "ata_smart_attributes": [1, 2],
                                                                 "smart_status": {"passed": True}}}]}
    results = hd.decide_smart(smart, THR)
    assert_valid_results(_stamp(results))
    assert [r["status"] for r in results] == ["unknown", "ok"]


def test_temperature_nan_reading_is_not_a_reading() -> None:
    sensors = {"readings": [{"source": "hwmon", "label": "a", "millicelsius": float("nan")},
                            {"source": "hwmon", "label": "b", "millicelsius": "80000"}, "junk"]}
    results = hd.decide_temperature(sensors, THR)
    # "80000" is a number sent as text: read, and 80 C is critical.
    assert results[0]["status"] == "critical" and results[0]["observed"]["sensors"] == 1


def test_pending_reboot_odd_kernel_lists() -> None:
    results = hd.decide_pending_reboot({"running_kernel": "6.1.0-18", "installed_kernels": [None, 5, "6.1.0-20"],
                                        "reboot_required_file": True, "reboot_required_pkgs": "linux-image"})
    assert results[0]["status"] == "warning" and "6.1.0-20" in results[0]["summary"]


# -- firmware RAID (Intel IMSM / DDF): the container is not a failed array ---------------------
def test_imsm_container_is_not_critical_and_its_volume_is_graded() -> None:
    results = hd.decide_raid((MDSTAT_FIXTURES / "imsm_raid1_healthy.txt").read_text(encoding="utf-8"))
    assert_valid_results(_stamp(results))
    by = {r["item"]: r for r in results}
    assert by["/dev/md127"]["status"] == "ok" and "[UU]" in by["/dev/md127"]["summary"]
    assert by["/dev/md0"]["status"] == "ok"
    assert "imsm container" in by["/dev/md0"]["summary"] and "/dev/md127" in by["/dev/md0"]["summary"]
    assert by["/dev/md0"]["observed"]["volumes"] == ["/dev/md127"]
    assert hd.worst([r["status"] for r in results]) == "ok"


def test_imsm_degraded_volumes_stay_critical() -> None:
    results = hd.decide_raid((MDSTAT_FIXTURES / "imsm_two_volumes_degraded.txt").read_text(encoding="utf-8"))
    assert_valid_results(_stamp(results))
    status = {r["item"]: r["status"] for r in results}
    assert status == {"/dev/md125": "critical", "/dev/md126": "critical", "/dev/md127": "ok"}


def test_imsm_container_of_the_issue_text_and_without_volume() -> None:
    text = ("Personalities : [raid1]\n"
            "md126 : active raid1 sda[1] sdb[0]\n"
            "      976759808 blocks super external:/md127/0 [2/2] [UU]\n\n"
            "md127 : inactive sda[1](S) sdb[0](S)\n"
            "      5288 blocks super external:imsm\n\n"
            "unused devices: <none>\n")
    status = {r["item"]: r["status"] for r in hd.decide_raid(text)}
    assert status == {"/dev/md126": "ok", "/dev/md127": "ok"}
    # A container whose volume is not running: worth a look, but not a failed array.
    alone = hd.decide_raid("md127 : inactive sda[1](S) sdb[0](S)\n      5288 blocks super external:ddf\n")
    assert alone[0]["status"] == "warning" and "no running volume" in alone[0]["summary"]
    # An ordinary (internal metadata) inactive array with spare members is still critical.
    plain = hd.decide_raid("md127 : inactive nvme0n1p3[1](S)\n      369607751 blocks super 1.2\n")
    assert plain[0]["status"] == "critical"
