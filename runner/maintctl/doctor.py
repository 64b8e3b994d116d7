"""``maintctl doctor``: every prerequisite of the controller, the lab and the tests.

Each check is a small pure function (its inputs -> a list of :class:`Problem`), and a thin
collector feeds it what it reads from this machine (``/proc``, ``dpkg-query``, the venv,
the project's files). A problem is one line: what is wrong, why it matters, and the fix.

Where the facts come from, so nothing is written twice:

- the Debian packages are the Makefile's ``APT_PACKAGES`` (read from the Makefile); a tool
  this module needs must come from a package of that list, or doctor says so;
- the lab subnet is ``lab/hosts.yml``'s; podman's runtime and network backend are
  ``lab/podman/containers.conf``'s;
- the collections are ``collections/requirements.yml``'s.
"""

from __future__ import annotations

import configparser
import contextlib
import ipaddress
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from maintcore.config import PROJECT_DIR, vault_dir, with_system_path
from maintcore.errors import MaintError

SCOPES = ("controller", "lab", "tests")
# Where the system's tools live, searched as well as PATH so that a tool outside PATH is
# reported as "not on PATH" rather than "not installed".
SYSTEM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
# podman's default helper_binaries_dir: where it looks for netavark and aardvark-dns.
HELPER_DIRS = ("/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman")
# Ranges this machine's own network and the package registries use (LAB.md): never the lab's.
FORBIDDEN_NETS = (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("203.0.113.0/24"))
DEPS_FIX = "run 'make deps' as root"
VENV_FIX = "run 'make deps' (it installs the venv with pip install -e '.[dev]')"


class MissingPrerequisite(MaintError):
    """A prerequisite is missing or wrong: nothing was started (exit 2, like ``maintctl doctor``)."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One missing or wrong prerequisite, with its fix."""

    check: str
    message: str
    fix: str

    def line(self) -> str:
        """Return the one line doctor prints."""
        return f"{self.check}: {self.message}; fix: {self.fix}"


@dataclass(frozen=True)
class Tool:
    """A command some part of the project runs, and the Debian package that provides it."""

    name: str
    package: str
    scopes: tuple[str, ...]
    why: str


# Commands run from PATH (or by their absolute path), by what needs them.
SYSTEM_TOOLS = (
    Tool("ssh", "openssh-client", ("controller", "lab"), "Ansible reaches every host over SSH"),
    Tool("ssh-keygen", "openssh-client", ("lab",), "the lab generates its SSH key"),
    Tool("ssh-keyscan", "openssh-client", ("lab",), "the lab records its hosts' keys"),
    Tool("podman", "podman", ("lab",), "the lab hosts are podman containers"),
    Tool("runc", "runc", ("lab",), "lab/podman/containers.conf sets runtime = \"runc\""),
    Tool("mmdebstrap", "mmdebstrap", ("lab",), "lab/build-image.sh builds the lab image"),
    Tool("dpkg-deb", "dpkg", ("lab",), "lab/setup_patch.yml builds the local apt repository's packages"),
    Tool("apt-ftparchive", "apt-utils", ("lab",), "lab/setup_patch.yml indexes the local apt repository"),
    Tool("restic", "restic", ("tests",), "the restore tests run real restic repositories"),
    Tool("borg", "borgbackup", ("tests",), "the restore tests run real borg repositories"),
    Tool("clamscan", "clamav", ("tests",), "the antivirus tests scan with the real ClamAV"),
    Tool("sigtool", "clamav", ("tests",), "the antivirus tests build a signature database"),
    Tool("chromium", "chromium", ("tests",), "the report tests render the HTML report headless"),
)
# Helpers podman runs from its helper_binaries_dir (never from PATH).
PODMAN_HELPERS = (
    Tool("netavark", "netavark", ("lab",), "containers.conf sets network_backend = \"netavark\""),
    Tool("aardvark-dns", "aardvark-dns", ("lab",), "the lab network has DNS enabled"),
)
# netavark's firewall driver on Debian 12 (netavark 1.4): see check_firewall.
FIREWALL_TOOLS = (Tool("iptables", "iptables", ("lab",), "netavark's firewall driver"),)
# Files the tests read.
DATA_FILES = (("/usr/share/clamav-testfiles/clam.exe", "clamav-testfiles", "the antivirus detection test"),)
# The venv's own tools: maintctl runs these next to sys.executable, whatever PATH is.
VENV_TOOLS: Mapping[str, tuple[str, ...]] = {
    "controller": ("ansible", "ansible-playbook", "ansible-inventory", "ansible-runner", "ansible-vault", "maintctl"),
    "lab": ("ansible-playbook",),
    "tests": ("ansible-doc", "ansible-lint", "molecule", "yamllint", "ruff", "mypy", "pytest"),
}
# The first netavark release with an nftables firewall driver; older ones need iptables.
NETAVARK_NFT = (1, 9)


# -- pure checks -----------------------------------------------------------------------


def find_tool(name: str, dirs: Iterable[str], root: Path = Path("/")) -> str | None:
    """Return the first executable ``name`` in ``dirs`` (under ``root``), else None."""
    for folder in dirs:
        if not folder:
            continue
        candidate = root / folder.lstrip("/") / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(Path("/") / folder.lstrip("/") / name)
    return None


def check_tools(tools: Iterable[Tool], path_dirs: Sequence[str], root: Path = Path("/")) -> list[Problem]:
    """Each tool must be on PATH; one found only outside PATH is reported as such."""
    problems = []
    for tool in tools:
        if find_tool(tool.name, path_dirs, root):
            continue
        elsewhere = find_tool(tool.name, SYSTEM_DIRS, root)
        if elsewhere:
            folder = str(Path(elsewhere).parent)
            problems.append(Problem(tool.name, f"{elsewhere} is not on PATH ({tool.why})",
                                    f"add {folder} to PATH"))
        else:
            problems.append(Problem(tool.name, f"not installed ({tool.why})",
                                    f"apt-get install {tool.package}, or {DEPS_FIX}"))
    return problems


def check_helpers(tools: Iterable[Tool], root: Path = Path("/")) -> list[Problem]:
    """Podman's helpers must be in one of its helper folders."""
    return [
        Problem(tool.name, f"not in {' or '.join(HELPER_DIRS[-2:])} ({tool.why})",
                f"apt-get install {tool.package}, or {DEPS_FIX}")
        for tool in tools if not find_tool(tool.name, HELPER_DIRS, root)
    ]


def check_files(files: Iterable[tuple[str, str, str]], root: Path = Path("/")) -> list[Problem]:
    """Each data file must exist."""
    return [
        Problem(Path(path).name, f"{path} is missing ({why})", f"apt-get install {package}, or {DEPS_FIX}")
        for path, package, why in files if not (root / path.lstrip("/")).is_file()
    ]


def check_venv(bindir: Path, names: Iterable[str]) -> list[Problem]:
    """The venv's tools must sit next to the running Python (PATH is never consulted)."""
    return [
        Problem(name, f"not in {bindir} (maintctl runs the venv's own {name}, never one from PATH)", VENV_FIX)
        for name in names if not (bindir / name).is_file()
    ]


def parse_netavark_version(text: str) -> tuple[int, ...] | None:
    """Return the version of ``netavark --version`` output ("netavark 1.4.0"), else None."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part) for part in match.groups() if part is not None) if match else None


def check_firewall(version: tuple[int, ...] | None, driver: str, path_dirs: Sequence[str],
                   root: Path = Path("/")) -> list[Problem]:
    """The firewall driver of netavark must find its tool on PATH (podman passes its PATH on).

    netavark before 1.9 has only the iptables driver ("nftables support presently not
    available" in 1.4); it runs ``iptables`` and ``ip6tables`` from PATH. Without them,
    or without their folder on PATH, ``podman run`` fails with "netavark: No such file or
    directory (os error 2)". From 1.9 the nftables driver (``nft``) works as well.
    ``driver`` is NETAVARK_FW or containers.conf's firewall_driver ("" when unset).
    """
    if driver in ("none", "firewalld"):
        return []
    shown = ".".join(map(str, version)) if version else "(unknown version)"
    why = (f"netavark {shown} runs it as its firewall driver; without it podman run fails with "
           "'netavark: No such file or directory (os error 2)'")
    nft = Tool("nft", "nftables", ("lab",), why)
    if driver == "nftables":
        return check_tools([nft], path_dirs, root)
    iptables = [Tool("iptables", "iptables", ("lab",), why), Tool("ip6tables", "iptables", ("lab",), why)]
    problems = check_tools(iptables, path_dirs, root)
    if problems and not driver and version is not None and version >= NETAVARK_NFT \
            and not check_tools([nft], path_dirs, root):
        return []
    # One line for the pair iptables/ip6tables when both miss for the same reason.
    return problems[:1] if len(problems) == 2 and problems[0].fix == problems[1].fix else problems


def parse_apt_packages(makefile_text: str) -> list[str]:
    """Return the ``APT_PACKAGES`` of a Makefile (backslash continuations joined)."""
    text = makefile_text.replace("\\\n", " ")
    match = re.search(r"^APT_PACKAGES\s*:?=(.*)$", text, re.MULTILINE)
    return match.group(1).split() if match else []


def check_apt_list(listed: Sequence[str], tools: Iterable[Tool],
                   files: Iterable[tuple[str, str, str]] = ()) -> list[Problem]:
    """Every package doctor's fixes name must be in the Makefile's APT_PACKAGES.

    ``dpkg`` is Essential (always installed) and therefore need not be listed.
    """
    needed: dict[str, str] = {}
    for tool in tools:
        needed.setdefault(tool.package, f"{tool.name}: {tool.why}")
    for path, package, why in files:
        needed.setdefault(package, f"{path}: {why}")
    return [
        Problem("Makefile", f"APT_PACKAGES lacks {package} ({what}): 'make deps' does not install it",
                f"add {package} to APT_PACKAGES in the Makefile")
        for package, what in sorted(needed.items()) if package not in listed and package != "dpkg"
    ]


def parse_dpkg_status(text: str) -> set[str]:
    """Return the installed packages of ``dpkg-query -W -f '${Package} ${db:Status-Abbrev}'`` lines."""
    installed = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("ii"):
            installed.add(parts[0].split(":")[0])
    return installed


def check_installed(listed: Sequence[str], installed: set[str]) -> list[Problem]:
    """Every package of APT_PACKAGES must be installed."""
    missing = [package for package in listed if package not in installed]
    if not missing:
        return []
    return [Problem("apt", f"not installed: {' '.join(missing)}", DEPS_FIX)]


def check_overlay(filesystems: str, module_available: bool) -> list[Problem]:
    """The overlay filesystem (storage ``driver = "overlay"``) must be in the kernel or loadable."""
    names = {line.split()[-1] for line in filesystems.splitlines() if line.split()}
    if "overlay" in names or module_available:
        return []
    return [Problem("kernel", "no overlay filesystem (podman's storage driver is overlay)",
                    "load it with 'modprobe overlay' or use a kernel with CONFIG_OVERLAY_FS")]


def mount_types(mounts: str) -> list[tuple[str, str]]:
    """Return (mount point, filesystem type) pairs of ``/proc/self/mounts``."""
    pairs = []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            pairs.append((fields[1].replace("\\040", " "), fields[2]))
    return pairs


def check_cgroups(mounts: str) -> list[Problem]:
    """The cgroup filesystems must be mounted: cgroup2, or v1 with the devices controller runc needs."""
    fix = "mount the cgroup filesystems under /sys/fs/cgroup (systemd does it at boot)"
    pairs = mount_types(mounts)
    if any(kind == "cgroup2" and point.startswith("/sys/fs/cgroup") for point, kind in pairs):
        return []
    v1 = [point for point, kind in pairs if kind == "cgroup" and point.startswith("/sys/fs/cgroup")]
    if not v1:
        return [Problem("kernel", "no cgroup filesystem under /sys/fs/cgroup (runc needs one)", fix)]
    if not any(Path(point).name == "devices" or ",devices" in point for point in v1):
        return [Problem("kernel", "cgroup v1 without the devices controller (runc needs it)", fix)]
    return []


def check_storage_fs(path: Path, mounts: str) -> list[Problem]:
    """The lab's overlay storage cannot live on an overlay filesystem itself."""
    target = str(path)
    best, kind = "", ""
    for point, fstype in mount_types(mounts):
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, fstype
    if kind == "overlay":
        return [Problem("storage", f"{path} is on an overlay filesystem ({best}): podman's overlay storage fails there",
                        "set MAINT_HOME to a folder on another filesystem")]
    return []


def check_root(euid: int) -> list[Problem]:
    """The lab runs rootful podman (its bridge on a fixed subnet); it is built and tried as root."""
    if euid == 0:
        return []
    return [Problem("lab", "not running as root (the lab's bridge and podman storage need root)",
                    "run 'make lab' / 'maintctl lab up' as root")]


def parse_proc_route(text: str) -> list[tuple[str, ipaddress.IPv4Network]]:
    """Return (interface, network) pairs of ``/proc/net/route`` (IPv4, main table)."""
    routes = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            dest = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
            mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
            routes.append((fields[0], ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)))
        except ValueError:
            continue
    return routes


def check_lab_subnet(subnet: str, routes: Iterable[tuple[str, ipaddress.IPv4Network]],
                     own_interface: str | None) -> list[Problem]:
    """The lab subnet must stay out of the forbidden ranges and of every other route."""
    fix = "choose another subnet in lab/hosts.yml (198.51.100.0/25 is the lab's, see LAB.md)"
    try:
        net = ipaddress.ip_network(subnet)
    except ValueError as exc:
        return [Problem("network", f"lab/hosts.yml subnet {subnet!r} is not a network ({exc})", fix)]
    problems = [
        Problem("network", f"lab subnet {net} overlaps {bad}, a range this machine's network or the "
                "package registries use", fix)
        for bad in FORBIDDEN_NETS if net.overlaps(bad)
    ]
    for iface, route in routes:
        if route.prefixlen == 0 or iface == own_interface:
            continue
        if net.overlaps(route):
            problems.append(Problem("network", f"lab subnet {net} overlaps the route {route} on {iface}",
                                    f"{fix}, or remove that route"))
    return problems


def check_private_dir(label: str, path: Path, uid: int, *, missing_ok: bool = True) -> list[Problem]:
    """A private folder: a real folder, owned by ``uid``, mode 0700, writable."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return [] if missing_ok else [Problem(label, f"{path} does not exist", f"mkdir -m 0700 {path}")]
    if not stat.S_ISDIR(info.st_mode):
        return [Problem(label, f"{path} is not a folder", f"remove it, then mkdir -m 0700 {path}")]
    problems = []
    if info.st_uid != uid:
        problems.append(Problem(label, f"{path} is owned by uid {info.st_uid}, not {uid}", f"chown {uid} {path}"))
    if stat.S_IMODE(info.st_mode) != 0o700:
        problems.append(Problem(label, f"{path} has mode {stat.S_IMODE(info.st_mode):04o}, not 0700",
                                f"chmod 0700 {path}"))
    if not os.access(path, os.W_OK | os.X_OK):
        problems.append(Problem(label, f"{path} is not writable", f"chmod u+rwx {path}"))
    return problems


def check_vault_dir(path: Path, uid: int) -> list[Problem]:
    """The vault folder is 0700 and its own; every ``*.pass`` a regular 0600 file of its own."""
    problems = check_private_dir("vault", path, uid)
    if problems or not path.is_dir():
        return problems
    for item in sorted(path.glob("*.pass")):
        info = item.lstat()
        if not stat.S_ISREG(info.st_mode):
            problems.append(Problem("vault", f"{item} is not a regular file (a symlink or other)",
                                    f"replace it with a regular file (install -m 0600 SOURCE {item})"))
            continue
        mode = stat.S_IMODE(info.st_mode)
        if mode != 0o600:
            problems.append(Problem("vault", f"{item} has mode {mode:04o}, not 0600", f"chmod 0600 {item}"))
        if info.st_uid != uid:
            problems.append(Problem("vault", f"{item} is owned by uid {info.st_uid}, not {uid}",
                                    f"chown {uid} {item}"))
    return problems


def required_collections(requirements_text: str) -> list[str]:
    """Return the collection names of a ``requirements.yml``."""
    data = yaml.safe_load(requirements_text) or {}
    names = []
    for entry in data.get("collections") or []:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(name, str):
            names.append(name)
    return names


def check_collections(names: Iterable[str], search: Iterable[Path]) -> list[Problem]:
    """Each collection must be in one of the ``ansible_collections`` folders Ansible searches."""
    roots = list(search)
    problems = []
    for name in names:
        namespace, _, collection = name.partition(".")
        if not any((root / namespace / collection).is_dir() for root in roots):
            problems.append(Problem("collections", f"{name} is not installed (collections/requirements.yml)",
                                    f"{VENV_FIX}; the ansible package ships it"))
    return problems


# -- collectors: read this machine and feed the pure checks ------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def path_dirs(env: Mapping[str, str] | None = None) -> list[str]:
    """Return the folders of PATH."""
    return [d for d in (env if env is not None else os.environ).get("PATH", "").split(os.pathsep) if d]


def makefile_packages() -> list[str]:
    """Return the Makefile's APT_PACKAGES (empty outside a checkout)."""
    return parse_apt_packages(_read(PROJECT_DIR / "Makefile"))


def podman_conf() -> configparser.ConfigParser:
    """Return the lab's containers.conf (TOML read as ini: only plain ``key = "value"`` lines)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    with contextlib.suppress(configparser.Error):
        parser.read_string(_read(PROJECT_DIR / "lab" / "podman" / "containers.conf"))
    return parser


def _conf_value(section: str, key: str) -> str:
    value = podman_conf().get(section, key, fallback="")
    return value.strip().strip('"')


def netavark_version() -> tuple[int, ...] | None:
    """Return the installed netavark's version, else None."""
    binary = find_tool("netavark", HELPER_DIRS)
    if not binary:
        return None
    try:
        proc = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_netavark_version(proc.stdout + proc.stderr)


def lab_network() -> dict[str, Any]:
    """Return ``lab/hosts.yml``'s network section."""
    data = yaml.safe_load(_read(PROJECT_DIR / "lab" / "hosts.yml")) or {}
    network: dict[str, Any] = data.get("network") or {}
    return network


def own_interface(name: str) -> str | None:
    """Return the bridge of the lab network if podman created it already (netavark's file)."""
    folder = Path(_conf_value("network", "network_config_dir") or "/etc/containers/networks")
    try:
        data = json.loads(_read(folder / f"{name}.json") or "{}")
    except ValueError:
        return None
    iface = data.get("network_interface") if isinstance(data, dict) else None
    return iface if isinstance(iface, str) else None


def collection_roots() -> list[Path]:
    """Return the ``ansible_collections`` folders: the project's (ansible.cfg) and the venv's."""
    roots = [PROJECT_DIR / "collections" / "ansible_collections"]
    roots += [Path(entry) / "ansible_collections" for entry in sys.path if entry]
    return roots


def check_store(url: str, error: str | None) -> list[Problem]:
    """With ``MAINT_STORE`` a PostgreSQL URL: the server must answer (``error``: why not; the password never shown)."""
    from maintcore import db

    if not db.is_postgres(url) or error is None:
        return []
    return [Problem("MAINT_STORE", f"{db.redact(url)}: {error}",
                    "start that PostgreSQL server, or correct MAINT_STORE (postgresql://user:password@host:port/db)")]


def _check_store() -> list[Problem]:
    """Only when ``MAINT_STORE`` is a PostgreSQL URL: psycopg is installed and the server answers."""
    from maintcore import db
    from maintcore.errors import clip

    url = os.environ.get("MAINT_STORE", "")
    if not db.is_postgres(url):
        return []
    try:
        import psycopg
    except ImportError:
        return [Problem("MAINT_STORE", "psycopg (the PostgreSQL driver) is not in the venv", VENV_FIX)]
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        return check_store(url, db.hide(clip(f"cannot connect: {exc}", 200), url))
    return []


def _maint_home_path() -> Path:
    return Path(os.environ.get("MAINT_HOME") or PROJECT_DIR / "var").resolve()


def _tools(scopes: Sequence[str], table: Iterable[Tool]) -> list[Tool]:
    return [tool for tool in table if set(tool.scopes) & set(scopes)]


def _venv_names(scopes: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(name for scope in scopes for name in VENV_TOOLS.get(scope, ())))


def _check_apt(scopes: Sequence[str]) -> list[Problem]:
    listed = makefile_packages()
    if not listed:
        return []
    tools = _tools(scopes, SYSTEM_TOOLS + PODMAN_HELPERS)
    files = DATA_FILES if "tests" in scopes else ()
    problems = check_apt_list(listed, tools + _tools(scopes, FIREWALL_TOOLS), files)
    if "tests" in scopes:
        try:
            proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", *listed],
                                  capture_output=True, text=True, timeout=60, check=False)
            problems += check_installed(listed, parse_dpkg_status(proc.stdout))
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(Problem("apt", f"dpkg-query failed ({exc})", DEPS_FIX))
    return problems


def _check_network() -> list[Problem]:
    net = lab_network()
    routes = parse_proc_route(_read(Path("/proc/net/route")))
    return check_lab_subnet(str(net.get("subnet", "")), routes, own_interface(str(net.get("name", ""))))


def _check_kernel() -> list[Problem]:
    release = os.uname().release
    module = any(Path(f"/lib/modules/{release}/kernel/fs/overlayfs").glob("overlay.ko*"))
    mounts = _read(Path("/proc/self/mounts"))
    return (check_overlay(_read(Path("/proc/filesystems")), module) + check_cgroups(mounts)
            + check_storage_fs(_maint_home_path(), mounts))


def _check_firewall() -> list[Problem]:
    driver = os.environ.get("NETAVARK_FW") or _conf_value("network", "firewall_driver")
    # The PATH the lab gives podman (maintctl.lab.podman_env), not the caller's bare one.
    return check_firewall(netavark_version(), driver, path_dirs({"PATH": with_system_path(os.environ.get("PATH", ""))}))


# (name, scopes, collector): the collectors run in this order.
CHECKS: tuple[tuple[str, tuple[str, ...], Callable[[Sequence[str]], list[Problem]]], ...] = (
    ("venv tools", SCOPES, lambda s: check_venv(Path(sys.executable).parent, _venv_names(s))),
    ("system tools", SCOPES, lambda s: check_tools(_tools(s, SYSTEM_TOOLS), path_dirs())),
    ("podman helpers", ("lab",), lambda s: check_helpers(PODMAN_HELPERS)),
    ("netavark firewall", ("lab",), lambda s: _check_firewall()),
    ("test data", ("tests",), lambda s: check_files(DATA_FILES)),
    ("apt packages", SCOPES, _check_apt),
    ("kernel", ("lab",), lambda s: _check_kernel()),
    ("lab network", ("lab",), lambda s: _check_network()),
    ("root", ("lab",), lambda s: check_root(os.geteuid())),
    ("MAINT_HOME", ("controller", "lab"),
     lambda s: check_private_dir("MAINT_HOME", _maint_home_path(), os.geteuid())),
    ("vault", ("controller", "lab"), lambda s: check_vault_dir(vault_dir(), os.geteuid())),
    ("store", ("controller",), lambda s: _check_store()),
    ("collections", ("controller", "tests"), lambda s: check_collections(
        required_collections(_read(PROJECT_DIR / "collections" / "requirements.yml")), collection_roots())),
)


def run(scopes: Sequence[str] = SCOPES) -> tuple[list[Problem], int]:
    """Run the checks of ``scopes``; return the problems and how many checks ran."""
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ValueError(f"unknown doctor scope(s): {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    problems: list[Problem] = []
    ran = 0
    for _name, check_scopes, collect in CHECKS:
        if set(check_scopes) & set(scopes):
            ran += 1
            problems += collect(scopes)
    return problems, ran


def require(scopes: Sequence[str], echo: Callable[[str], None], what: str) -> None:
    """Run the checks of ``scopes`` before ``what``; print each problem and raise if any."""
    problems, _ran = run(scopes)
    for problem in problems:
        echo(problem.line())
    if problems:
        raise MissingPrerequisite(f"{what} needs what the {len(problems)} line(s) above name; fix them "
                                  "first ('maintctl doctor' checks everything)")
