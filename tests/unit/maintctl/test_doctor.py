"""maintctl doctor: each check on a crafted root, PATH or folder, and the CLI without the venv on PATH."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from maintcore import config
from maintcore.errors import MaintError
from maintctl import doctor

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SYSTEM_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
# /proc/net/route of this VM with the lab up (eth0 192.0.2.2/24, the lab bridge podman1).
PROC_ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
podman1\t006433C6\t00000000\t0001\t0\t0\t0\t80FFFFFF\t0\t0\t0
"""
# /proc/self/mounts of this VM (cgroup v1, hybrid), trimmed.
MOUNTS_V1 = """/dev/vda / ext4 rw,relatime 0 0
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/devices cgroup rw,relatime,devices 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
"""


def make_root(tmp_path: Path, *tools: str) -> Path:
    """A fake root whose tools are executables at the given absolute paths."""
    root = tmp_path / "root"
    for tool in tools:
        path = root / tool.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n", encoding="utf-8")
        path.chmod(0o755)
    root.mkdir(parents=True, exist_ok=True)
    return root


# -- netavark's firewall driver ---------------------------------------------------------


def test_root_without_iptables_names_iptables_and_the_netavark_error(tmp_path: Path) -> None:
    root = make_root(tmp_path, "/usr/lib/podman/netavark")
    problems = doctor.check_firewall((1, 4, 0), "", SYSTEM_PATH, root)
    assert [p.line() for p in problems] == [
        "iptables: not installed (netavark 1.4.0 runs it as its firewall driver; without it podman run fails "
        "with 'netavark: No such file or directory (os error 2)'); fix: apt-get install iptables, "
        "or run 'make deps' as root"
    ]


def test_iptables_outside_path_is_named_with_the_folder_to_add(tmp_path: Path) -> None:
    # Measured: netavark 1.4 with PATH=/usr/bin:/bin fails the same way, iptables installed.
    root = make_root(tmp_path, "/usr/sbin/iptables", "/usr/sbin/ip6tables")
    problems = doctor.check_firewall((1, 4, 0), "", ["/usr/bin", "/bin"], root)
    assert len(problems) == 1
    assert problems[0].line().startswith("iptables: /usr/sbin/iptables is not on PATH (netavark 1.4.0")
    assert problems[0].fix == "add /usr/sbin to PATH"
    assert doctor.check_firewall((1, 4, 0), "", SYSTEM_PATH, root) == []


def test_ip6tables_is_needed_too(tmp_path: Path) -> None:
    root = make_root(tmp_path, "/usr/sbin/iptables")
    assert [p.check for p in doctor.check_firewall((1, 4, 0), "", SYSTEM_PATH, root)] == ["ip6tables"]


def test_nft_is_enough_from_netavark_1_9_but_not_before(tmp_path: Path) -> None:
    root = make_root(tmp_path, "/usr/sbin/nft")
    assert doctor.check_firewall((1, 12, 2), "", SYSTEM_PATH, root) == []
    assert [p.check for p in doctor.check_firewall((1, 4, 0), "", SYSTEM_PATH, root)] == ["iptables"]
    assert doctor.check_firewall((1, 4, 0), "nftables", SYSTEM_PATH, root) == []
    assert [p.check for p in doctor.check_firewall((1, 12, 2), "nftables", SYSTEM_PATH,
                                                 make_root(tmp_path / "empty"))] == ["nft"]


def test_netavark_version_is_parsed() -> None:
    assert doctor.parse_netavark_version("netavark 1.4.0\n") == (1, 4, 0)
    assert doctor.parse_netavark_version("") is None


# -- tools, helpers, files, venv ----------------------------------------------------------


def test_missing_system_tool_names_its_package(tmp_path: Path) -> None:
    root = make_root(tmp_path, "/usr/bin/ssh", "/usr/bin/ssh-keyscan", "/usr/bin/podman")
    tools = [t for t in doctor.SYSTEM_TOOLS if t.name in ("ssh", "ssh-keygen", "ssh-keyscan", "podman", "mmdebstrap")]
    lines = [p.line() for p in doctor.check_tools(tools, ["/usr/bin"], root)]
    assert lines == [
        "ssh-keygen: not installed (the lab generates its SSH key); fix: apt-get install openssh-client, "
        "or run 'make deps' as root",
        "mmdebstrap: not installed (lab/build-image.sh builds the lab image); fix: apt-get install mmdebstrap, "
        "or run 'make deps' as root",
    ]


def test_missing_podman_helpers(tmp_path: Path) -> None:
    root = make_root(tmp_path, "/usr/lib/podman/aardvark-dns")
    assert [p.check for p in doctor.check_helpers(doctor.PODMAN_HELPERS, root)] == ["netavark"]
    root = make_root(tmp_path, "/usr/lib/podman/netavark")
    assert doctor.check_helpers(doctor.PODMAN_HELPERS, root) == []


def test_missing_test_data_file(tmp_path: Path) -> None:
    assert [p.message for p in doctor.check_files(doctor.DATA_FILES, make_root(tmp_path))] == [
        "/usr/share/clamav-testfiles/clam.exe is missing (the antivirus detection test)"]


def test_venv_tools_are_looked_for_next_to_python_only(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("ansible-inventory", "ansible-runner", "ansible-vault"):
        (bindir / name).write_text("", encoding="utf-8")
    problems = doctor.check_venv(bindir, ("ansible-playbook", "ansible-inventory", "ansible-runner", "ansible-vault"))
    assert [p.check for p in problems] == ["ansible-playbook"]
    assert "never one from PATH" in problems[0].message


def test_venv_bin_never_falls_back_to_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(MaintError, match="ansible-playbook is not in"):
        config.venv_bin("ansible-playbook")
    (tmp_path / "ansible-playbook").write_text("", encoding="utf-8")
    assert config.venv_bin("ansible-playbook") == str(tmp_path / "ansible-playbook")


# -- the Makefile's package list ------------------------------------------------------------


def test_makefile_lists_every_package_doctor_names() -> None:
    listed = doctor.parse_apt_packages((ROOT / "Makefile").read_text(encoding="utf-8"))
    assert "iptables" in listed and "chromium" in listed
    tools = doctor.SYSTEM_TOOLS + doctor.PODMAN_HELPERS + doctor.FIREWALL_TOOLS
    assert doctor.check_apt_list(listed, tools, doctor.DATA_FILES) == []


def test_makefile_without_iptables_is_named() -> None:
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace(" iptables ", " ")
    listed = doctor.parse_apt_packages(text)
    assert [p.line() for p in doctor.check_apt_list(listed, doctor.FIREWALL_TOOLS)] == [
        "Makefile: APT_PACKAGES lacks iptables (iptables: netavark's firewall driver): 'make deps' does not install it; "
        "fix: add iptables to APT_PACKAGES in the Makefile"]


def test_uninstalled_listed_packages_are_named() -> None:
    status = "podman ii \nrunc ii \niptables un \nlibpango-1.0-0:amd64 ii \n"
    installed = doctor.parse_dpkg_status(status)
    assert installed == {"podman", "runc", "libpango-1.0-0"}
    assert [p.message for p in doctor.check_installed(["podman", "runc", "iptables", "restic", "libpango-1.0-0"],
                                                      installed)] == ["not installed: iptables restic"]


# -- kernel -------------------------------------------------------------------------------


def test_overlay_filesystem() -> None:
    assert doctor.check_overlay("nodev\tcgroup\nnodev\toverlay\n", False) == []
    assert doctor.check_overlay("nodev\tcgroup\n", True) == []
    assert [p.message for p in doctor.check_overlay("nodev\tcgroup\n\text4\n", False)] == [
        "no overlay filesystem (podman's storage driver is overlay)"]


def test_cgroups() -> None:
    assert doctor.check_cgroups(MOUNTS_V1) == []
    assert doctor.check_cgroups("cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n") == []
    assert [p.message for p in doctor.check_cgroups("/dev/vda / ext4 rw 0 0\n")] == [
        "no cgroup filesystem under /sys/fs/cgroup (runc needs one)"]
    no_devices = MOUNTS_V1.replace("cgroup /sys/fs/cgroup/devices cgroup rw,relatime,devices 0 0\n", "")
    assert [p.message for p in doctor.check_cgroups(no_devices)] == [
        "cgroup v1 without the devices controller (runc needs it)"]


def test_storage_on_overlay_is_named() -> None:
    mounts = MOUNTS_V1 + "overlay /srv overlay rw 0 0\n"
    assert doctor.check_storage_fs(Path("/work/main/var"), mounts) == []
    assert [p.check for p in doctor.check_storage_fs(Path("/srv/maint/var"), mounts)] == ["storage"]


def test_lab_needs_root() -> None:
    assert doctor.check_root(0) == []
    assert [p.check for p in doctor.check_root(1000)] == ["lab"]


# -- lab network --------------------------------------------------------------------------


def test_proc_route_is_parsed() -> None:
    assert doctor.parse_proc_route(PROC_ROUTE) == [
        ("eth0", ipaddress.IPv4Network("0.0.0.0/0")),
        ("eth0", ipaddress.IPv4Network("192.0.2.0/24")),
        ("podman1", ipaddress.IPv4Network("198.51.100.0/25")),
    ]


def test_lab_subnet_ignores_its_own_bridge_and_the_default_route() -> None:
    routes = doctor.parse_proc_route(PROC_ROUTE)
    assert doctor.check_lab_subnet("198.51.100.0/25", routes, "podman1") == []
    # The same route on a bridge that is not the lab's is an overlap.
    assert [p.message for p in doctor.check_lab_subnet("198.51.100.0/25", routes, None)] == [
        "lab subnet 198.51.100.0/25 overlaps the route 198.51.100.0/25 on podman1"]


def test_lab_subnet_in_a_forbidden_range() -> None:
    routes = doctor.parse_proc_route(PROC_ROUTE)
    lines = [p.message for p in doctor.check_lab_subnet("192.0.2.128/25", routes, "podman1")]
    assert lines == [
        "lab subnet 192.0.2.128/25 overlaps 192.0.2.0/24, a range this machine's network or the package "
        "registries use",
        "lab subnet 192.0.2.128/25 overlaps the route 192.0.2.0/24 on eth0",
    ]
    assert [p.check for p in doctor.check_lab_subnet("203.0.113.0/24", [], None)] == ["network"]
    assert "is not a network" in doctor.check_lab_subnet("not-a-net", [], None)[0].message


def test_lab_subnet_from_hosts_yml_is_clear() -> None:
    assert doctor.lab_network()["subnet"] == "198.51.100.0/25"
    assert doctor.check_lab_subnet(doctor.lab_network()["subnet"], [], None) == []


# -- private folders ----------------------------------------------------------------------


def test_vault_dir_0755_is_named(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir(mode=0o755)
    vault.chmod(0o755)
    assert [p.line() for p in doctor.check_vault_dir(vault, os.geteuid())] == [
        f"vault: {vault} has mode 0755, not 0700; fix: chmod 0700 {vault}"]
    vault.chmod(0o700)
    assert doctor.check_vault_dir(vault, os.geteuid()) == []
    assert [p.check for p in doctor.check_vault_dir(vault, os.geteuid() + 1)] == ["vault"]


def test_vault_pass_files(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir(mode=0o700)
    good, wide, execu = vault / "acme.pass", vault / "beta.pass", vault / "gamma.pass"
    for path, mode in ((good, 0o600), (wide, 0o644), (execu, 0o700)):
        path.write_text("secret\n", encoding="utf-8")
        path.chmod(mode)
    (vault / "delta.pass").symlink_to(good)
    (vault / "notes.txt").write_text("not a password file", encoding="utf-8")
    messages = [p.message for p in doctor.check_vault_dir(vault, os.geteuid())]
    assert messages == [
        f"{wide} has mode 0644, not 0600",
        f"{vault / 'delta.pass'} is not a regular file (a symlink or other)",
        f"{execu} has mode 0700, not 0600",
    ]


def test_missing_vault_dir_is_fine(tmp_path: Path) -> None:
    assert doctor.check_vault_dir(tmp_path / "absent", os.geteuid()) == []


def test_maint_home_must_be_private(tmp_path: Path) -> None:
    home = tmp_path / "var"
    home.mkdir(mode=0o700)
    assert doctor.check_private_dir("MAINT_HOME", home, os.geteuid()) == []
    home.chmod(0o755)
    assert [p.line() for p in doctor.check_private_dir("MAINT_HOME", home, os.geteuid())] == [
        f"MAINT_HOME: {home} has mode 0755, not 0700; fix: chmod 0700 {home}"]
    file_home = tmp_path / "file"
    file_home.write_text("", encoding="utf-8")
    assert "is not a folder" in doctor.check_private_dir("MAINT_HOME", file_home, os.geteuid())[0].message


def test_maint_home_must_be_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "var"
    home.mkdir(mode=0o700)
    # Root can write any folder, so the refusal is simulated where doctor asks for it.
    monkeypatch.setattr(doctor.os, "access", lambda path, mode: False)
    assert [p.message for p in doctor.check_private_dir("MAINT_HOME", home, os.geteuid())] == [
        f"{home} is not writable"]


# -- collections --------------------------------------------------------------------------


def test_collections(tmp_path: Path) -> None:
    names = doctor.required_collections((ROOT / "collections" / "requirements.yml").read_text(encoding="utf-8"))
    assert "ansible.posix" in names and "community.general" in names
    fake = tmp_path / "ansible_collections"
    (fake / "ansible" / "posix").mkdir(parents=True)
    assert [p.message for p in doctor.check_collections(["ansible.posix", "containers.podman"], [fake])] == [
        "containers.podman is not installed (collections/requirements.yml)"]
    assert doctor.check_collections(names, doctor.collection_roots()) == []


# -- run, require, the CLI ----------------------------------------------------------------


def test_unknown_scope() -> None:
    with pytest.raises(ValueError, match="unknown doctor scope"):
        doctor.run(["lab", "fleet"])


def test_require_echoes_each_problem_and_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = doctor.Problem("iptables", "not installed", "apt-get install iptables")
    monkeypatch.setattr(doctor, "CHECKS", (("fake", ("lab",), lambda s: [problem]),))
    seen: list[str] = []
    with pytest.raises(doctor.MissingPrerequisite) as info:
        doctor.require(("lab",), seen.append, "maintctl lab up")
    assert seen == ["iptables: not installed; fix: apt-get install iptables"]
    assert info.value.exit_code == 2
    doctor.require(("controller",), seen.append, "maintctl demo")  # that check is not in this scope


def _bare_env(tmp_path: Path) -> dict[str, str]:
    """A new user's shell: the venv is not on PATH, only /usr/bin:/bin."""
    home = tmp_path / "var"
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MAINT_HOME": str(home),
            "MAINT_VAULT_DIR": str(tmp_path / "vault")}


def test_doctor_without_the_venv_on_path(tmp_path: Path) -> None:
    env = _bare_env(tmp_path)
    proc = subprocess.run([str(BIN / "maintctl"), "doctor", "--only", "controller"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stdout
    assert proc.stdout.startswith("doctor: ok, ")
    full = subprocess.run([str(BIN / "maintctl"), "doctor"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert full.returncode in (0, 2) and full.stderr == "", full.stderr
    assert not [line for line in full.stdout.splitlines() if "never one from PATH" in line]
    # The lab gives podman the system folders too (netavark runs iptables by name), so a bare
    # PATH is not a problem for it.
    assert not [line for line in full.stdout.splitlines() if line.startswith("iptables:")], full.stdout


def test_the_lab_keeps_the_system_folders_on_podmans_path(maint_home: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from maintctl import lab

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    dirs = lab.podman_env()["PATH"].split(":")
    assert dirs[:2] == ["/usr/bin", "/bin"] and "/usr/sbin" in dirs and "/sbin" in dirs


def test_validate_without_the_venv_on_path(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir(mode=0o700)
    shutil.copyfile(ROOT / "lab" / "demo-vault-password.txt", vault / "demo.pass")
    (vault / "demo.pass").chmod(0o600)
    proc = subprocess.run([str(BIN / "maintctl"), "validate", "--client", "demo"], env=_bare_env(tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_doctor_cli_rejects_an_unknown_scope(tmp_path: Path) -> None:
    proc = subprocess.run([str(BIN / "maintctl"), "doctor", "--only", "fleet"], env=_bare_env(tmp_path),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "--only takes controller, lab, tests" in proc.stdout


def test_lab_up_mends_a_demo_vault_password_file_left_0644(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maintctl import lab, policy

    monkeypatch.setenv("MAINT_VAULT_DIR", str(tmp_path / "vault"))
    (tmp_path / "vault").mkdir(mode=0o700)
    old = tmp_path / "vault" / "demo.pass"
    old.write_text((ROOT / "lab" / "demo-vault-password.txt").read_text())
    old.chmod(0o644)  # right content, mode an older version or a hand copy left
    target = lab.install_demo_vault_password()
    assert target.stat().st_mode & 0o777 == 0o600
    assert policy.vault_password_file("demo") == target
