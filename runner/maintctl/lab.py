"""The local lab: podman containers from a locally built Debian 12 image, over real SSH.

``maintctl lab up`` builds the image once (mmdebstrap + podman import), creates the
lab bridge on 198.51.100.0/25, starts one container per host of ``lab/hosts.yml``
running sshd, records their host keys, then runs every ``lab/setup_*.yml`` playbook
against ``inventories/demo`` to lay down each area's fixtures. Podman's configuration
stays inside the project (``lab/podman``) and under ``$MAINT_HOME/lab``.

The worker nodes of ``lab/hosts.yml`` (``workers:``, in no client's inventory) get, without
internet, ansible-core and ansible-runner of the controller's versions from wheels the controller
downloads, and the demo inventory's SSH key and known_hosts at the path the inventory names:
``maintctl run --worker "$(worker command)"`` then runs the demo hosts from there (``worker_command``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from maintcore.config import PROJECT_DIR, atomic_write, ensure_dir, maint_home, vault_dir, venv_bin, with_system_path
from maintcore.errors import LabError

from . import doctor

LAB_DIR = PROJECT_DIR / "lab"
PREFIX = "maintlab-"
# The name molecule scenarios use; always tagged onto the current image.
STABLE_REF = "localhost/maintlab-debian:12"
# A worker node's tools: the controller's versions, in a venv linked into /usr/local/bin (on PATH over ssh).
WORKER_VENV = "/opt/maint-worker"
WORKER_TOOLS = ("ansible-core", "ansible-runner")
WORKER_KEY = "id_worker_ed25519"  # the controller's key to its worker nodes, never given to a client's host
Echo = Callable[[str], None]


def lab_home() -> Path:
    """Return ``$MAINT_HOME/lab``."""
    return ensure_dir(maint_home() / "lab")


def spec() -> dict[str, Any]:
    """Return the lab's host list (``lab/hosts.yml``)."""
    with open(LAB_DIR / "hosts.yml", encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def podman_env() -> dict[str, str]:
    """Return the environment that points podman at the project's configuration."""
    home = lab_home()
    storage = home / "containers"
    ensure_dir(storage)
    conf = home / "storage.conf"
    text = (
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{storage / "storage"}"\n'
        f'runroot = "{storage / "run"}"\n'
    )
    if not conf.exists() or conf.read_text(encoding="utf-8") != text:
        atomic_write(conf, text)
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(LAB_DIR / "podman" / "containers.conf")
    env["CONTAINERS_STORAGE_CONF"] = str(conf)
    env["PATH"] = with_system_path(env.get("PATH", ""))
    return env


def podman(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
    """Run podman with the lab's configuration."""
    proc = subprocess.run(
        ["podman", *args], env=podman_env(), text=True, capture_output=capture, check=False
    )
    if check and proc.returncode != 0:
        err = (proc.stderr or "").strip().splitlines()
        raise LabError(f"podman {args[0]} failed: {err[-1] if err else 'rc ' + str(proc.returncode)}")
    return proc


def image_ref() -> str:
    """Return the image reference, tagged by a hash of what builds it."""
    digest = hashlib.sha256((LAB_DIR / "build-image.sh").read_bytes()).hexdigest()[:12]
    return f"localhost/maintlab-debian:12-{digest}"


def ensure_image(echo: Echo) -> str:
    """Build the lab image unless it already exists."""
    ref = image_ref()
    if podman("image", "exists", ref, check=False).returncode == 0:
        podman("tag", ref, STABLE_REF)
        return ref
    for tool in ("mmdebstrap", "podman"):
        if not shutil.which(tool):
            raise LabError(f"{tool} is not installed: run 'make deps' (as root) first")
    echo(f"building lab image {ref} (mmdebstrap, about a minute)")
    proc = subprocess.run(
        ["bash", str(LAB_DIR / "build-image.sh"), ref], env=podman_env(), text=True,
        capture_output=True, check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LabError(f"building the lab image failed: {tail[0]}")
    podman("tag", ref, STABLE_REF)
    return ref


def ensure_ssh_key() -> Path:
    """Create the lab's SSH key pair and the authorized_keys folder mounted into hosts."""
    sshdir = ensure_dir(lab_home() / "ssh")
    key = sshdir / "id_ed25519"
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maintlab", "-f", str(key)],
            check=True,
        )
    auth = ensure_dir(sshdir / "authorized_keys")
    os.chmod(auth, 0o755)
    target = auth / "maint"
    pub = (sshdir / "id_ed25519.pub").read_text(encoding="utf-8")
    if not target.exists() or target.read_text(encoding="utf-8") != pub:
        atomic_write(target, pub, mode=0o644)
    return key


def ensure_worker_key() -> Path:
    """Create the controller's key to the worker nodes and the authorized_keys folder mounted into them."""
    sshdir = ensure_dir(lab_home() / "ssh")
    key = sshdir / WORKER_KEY
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maintlab-controller", "-f", str(key)],
                       check=True)
    auth = ensure_dir(sshdir / "worker_authorized_keys")
    os.chmod(auth, 0o755)
    pub = (sshdir / f"{WORKER_KEY}.pub").read_text(encoding="utf-8")
    target = auth / "maint"
    if not target.exists() or target.read_text(encoding="utf-8") != pub:
        atomic_write(target, pub, mode=0o644)
    return key


def ensure_network(net: dict[str, Any]) -> None:
    """Create the lab bridge if it is missing."""
    if podman("network", "exists", net["name"], check=False).returncode == 0:
        return
    podman("network", "create", "--subnet", net["subnet"], "--gateway", net["gateway"], net["name"])


def container_state(name: str) -> str:
    """Return a container's state ('running', 'exited', ...) or 'missing'."""
    proc = podman("container", "inspect", "--format", "{{.State.Status}}", PREFIX + name, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else "missing"


def run_args(name: str, host: dict[str, Any], net: str, ref: str, worker: bool = False) -> list[str]:
    """Return the ``podman run`` arguments for one lab host (or, with ``worker``, one worker node).

    A host with ``systemd: true`` in ``lab/hosts.yml`` boots ``/sbin/init``; every other host runs
    ``sshd -D -e`` as PID 1. A worker node trusts the controller's worker key, not the hosts' key.
    """
    home = lab_home()
    apt = ensure_dir(home / "aptrepo")
    os.chmod(apt, 0o755)
    keys = "worker_authorized_keys" if worker else "authorized_keys"
    args = [
        "run", "--detach", "--name", PREFIX + name, "--hostname", name,
        "--network", net, "--ip", host["ip"], "--restart", "always",
        "--label", "maintlab=1",
        "--volume", f"{home / 'ssh' / keys}:/etc/ssh/authorized_keys:ro",
    ]
    if not worker:
        args += ["--volume", f"{apt}:/srv/lab-apt:ro"]
    for mount, size in (host.get("tmpfs") or {}).items():
        args += ["--mount", f"type=tmpfs,destination={mount},tmpfs-size={size}"]
    if host.get("systemd"):
        # systemd as PID 1: sshd is ssh.service (its host keys made by the image's drop-in), journald logs it.
        args += ["--systemd", "always", ref, "/sbin/init"]
        return args
    args += [ref, "/bin/sh", "-c",
             "test -f /etc/ssh/ssh_host_ed25519_key || ssh-keygen -A; mkdir -p /run/sshd; "
             "exec /usr/sbin/sshd -D -e"]
    return args


def wait_ssh(ip: str, timeout: float = 30.0) -> None:
    """Wait until the host's sshd accepts TCP connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, 22), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise LabError(f"sshd on {ip} did not answer within {timeout:.0f} s")


def record_host_keys(hosts: dict[str, dict[str, Any]]) -> None:
    """Write the lab hosts' keys to the known_hosts file the demo inventory trusts."""
    lines: list[str] = []
    for host in hosts.values():
        proc = subprocess.run(
            ["ssh-keyscan", "-T", "5", "-t", "ed25519", host["ip"]],
            capture_output=True, text=True, check=False,
        )
        keys = [line for line in proc.stdout.splitlines() if line and not line.startswith("#")]
        if not keys:
            raise LabError(f"could not read the host key of {host['ip']}")
        lines += keys
    atomic_write(lab_home() / "ssh" / "known_hosts", "\n".join(sorted(lines)) + "\n")


def workers() -> dict[str, dict[str, Any]]:
    """Return the lab's worker nodes (``workers:`` of ``lab/hosts.yml``)."""
    found: dict[str, dict[str, Any]] = spec().get("workers") or {}
    return found


def worker_command(name: str = "worker01") -> str:
    """Return the ``--worker`` command that runs a job on the lab's worker node ``name`` over ssh.

    The controller's own worker key, the lab's known_hosts (which ``lab up`` records the
    worker's key in) and strict host key checking; ``--delete`` removes the job's folder,
    the client's inventory and vault password with it, when the job ends.
    """
    ssh = lab_home() / "ssh"
    argv = ["ssh", "-T", "-i", str(ssh / WORKER_KEY), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={ssh / 'known_hosts'}", "-o", "StrictHostKeyChecking=yes",
            f"maint@{workers()[name]['ip']}", "ansible-runner", "worker", "--delete"]
    return shlex.join(argv)


def _exec(name: str, *argv: str, user: str = "root") -> subprocess.CompletedProcess[str]:
    return podman("exec", "--user", user, PREFIX + name, *argv)


def worker_wheels(python: str, echo: Echo) -> Path:
    """Download, once, the wheels of the controller's ansible-core and ansible-runner for ``python``.

    The worker node has no internet: the controller fetches them from PyPI with pip into
    ``$MAINT_HOME/lab/worker-wheels/py<version>``, for the worker's Python and this machine's
    architecture (the containers run on it).
    """
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in (*WORKER_TOOLS, "pip")]
    folder = ensure_dir(lab_home() / "worker-wheels" / f"py{python}")
    stamp = folder / "requirements.txt"
    wanted = "\n".join(pins) + "\n"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        return folder
    echo(f"downloading the worker's wheels ({', '.join(pins)}) for Python {python}")
    arch = platform.machine()
    platforms = [f"--platform={tag}_{arch}" for tag in ("manylinux_2_28", "manylinux_2_17", "manylinux2014")]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--dest", str(folder),
         "--only-binary=:all:", f"--python-version={python}", "--implementation=cp", *platforms, *pins],
        text=True, capture_output=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LabError(f"pip download of the worker's wheels failed: {tail[0]}")
    atomic_write(stamp, wanted, mode=0o644)
    return folder


def provision_worker(name: str, echo: Echo) -> None:
    """Install the worker's tools (if their versions differ) and give it the demo client's SSH material.

    Idempotent: an installed venv of the right versions is kept; the key and known_hosts are
    copied each time (the lab's known_hosts changes when a host is recreated).
    """
    container = PREFIX + name
    pins = [f"{tool}=={importlib.metadata.version(tool)}" for tool in WORKER_TOOLS]
    probe = podman("exec", container, f"{WORKER_VENV}/bin/python", "-c",
                   "import importlib.metadata as m; print(' '.join(f'{n}=={m.version(n)}' for n in "
                   f"{WORKER_TOOLS!r}))", check=False)
    if probe.returncode != 0 or probe.stdout.split() != pins:
        python = _exec(name, "python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").stdout.strip()
        wheels = worker_wheels(python, echo)
        echo(f"installing {', '.join(pins)} on {name} (no internet: from the controller's wheels)")
        pip_wheel = sorted(wheels.glob("pip-*.whl"))[-1]
        drop = "/var/tmp/maint-wheels"
        _exec(name, "rm", "-rf", drop, WORKER_VENV)
        podman("cp", str(wheels), f"{container}:{drop}")
        # Debian's python3 lacks ensurepip: the venv gets pip from its own wheel, run as a zip.
        _exec(name, "python3", "-m", "venv", "--without-pip", WORKER_VENV)
        _exec(name, f"{WORKER_VENV}/bin/python", f"{drop}/{pip_wheel.name}/pip", "install", "--quiet",
              "--no-index", "--find-links", drop, "--disable-pip-version-check", f"pip=={pip_wheel.name.split('-')[1]}",
              *pins)
        _exec(name, "rm", "-rf", drop)
        for tool in ("ansible", "ansible-playbook", "ansible-inventory", "ansible-config", "ansible-galaxy",
                     "ansible-runner"):
            _exec(name, "ln", "-sf", f"{WORKER_VENV}/bin/{tool}", f"/usr/local/bin/{tool}")
    # What the demo inventory's connection.yml names, at the path it names ($MAINT_HOME travels in the job):
    # the demo hosts' key and the known_hosts of the demo hosts only.
    ssh = lab_home() / "ssh"
    ips = {host["ip"] for host in spec()["hosts"].values()}
    known = [line for line in (ssh / "known_hosts").read_text(encoding="utf-8").splitlines()
             if line.split()[:1] and line.split()[0] in ips]
    _exec(name, "install", "-d", "-o", "maint", "-g", "maint", "-m", "0700", str(ssh))
    with tempfile.TemporaryDirectory(prefix="maintlab-worker-") as tmp:
        known_file = Path(tmp) / "known_hosts"
        known_file.write_text("\n".join(known) + "\n", encoding="utf-8")
        for source, mode in ((ssh / "id_ed25519", "0600"), (known_file, "0644")):
            target = f"{ssh}/{source.name}"
            podman("cp", str(source), f"{container}:{target}")
            _exec(name, "chown", "maint:maint", target)
            _exec(name, "chmod", mode, target)


def setup_playbooks() -> list[Path]:
    """Return the area fixture playbooks, in name order."""
    return sorted(LAB_DIR.glob("setup_*.yml"))


def install_demo_vault_password() -> Path:
    """Put the demo client's vault password where maintctl looks for it.

    The demo client's vault protects lab-only credentials; its password is
    committed in ``lab/demo-vault-password.txt`` for that reason only. Real
    clients keep theirs in ``<vault dir>/<client>.pass`` (0600), never in git.
    """
    target = ensure_dir(vault_dir()) / "demo.pass"
    text = (LAB_DIR / "demo-vault-password.txt").read_text(encoding="utf-8")
    if target.is_symlink() or not target.is_file() or target.read_text(encoding="utf-8") != text \
            or target.stat().st_mode & 0o7777 != 0o600:
        target.unlink(missing_ok=True)
        atomic_write(target, text)  # 0600, as maintctl requires of every vault password file
    return target


def run_setup(echo: Echo, only: Sequence[str] = ()) -> None:
    """Run the lab fixture playbooks against the demo inventory."""
    vault_pass = install_demo_vault_password()
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"),
        MAINT_HOME=str(maint_home()),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
        ANSIBLE_DISPLAY_OK_HOSTS="false",
        ANSIBLE_DISPLAY_SKIPPED_HOSTS="false",
    )
    env.pop("MAINT_RESULTS_FILE", None)
    for book in setup_playbooks():
        if only and book.stem.removeprefix("setup_") not in only:
            continue
        echo(f"lab fixtures: {book.name}")
        proc = subprocess.run(
            [venv_bin("ansible-playbook"), "-i", str(PROJECT_DIR / "inventories" / "demo"),
             "--vault-password-file", str(vault_pass), str(book)],
            env=env, cwd=PROJECT_DIR, text=True, capture_output=True, check=False,
        )
        if proc.returncode != 0:
            log = lab_home() / f"{book.stem}.log"
            atomic_write(log, proc.stdout + proc.stderr)
            raise LabError(f"lab fixture playbook {book.name} failed (log: {log})")


def up(echo: Echo, only: Sequence[str] = ()) -> None:
    """Build and start the lab (idempotent), then lay down the fixtures."""
    started = time.monotonic()
    doctor.require(("lab",), echo, "maintctl lab up")
    lab = spec()
    ref = ensure_image(echo)
    ensure_ssh_key()
    ensure_worker_key()
    ensure_network(lab["network"])
    nodes = lab.get("workers") or {}
    for name, host in [*lab["hosts"].items(), *nodes.items()]:
        state = container_state(name)
        if state == "running":
            continue
        if state != "missing":
            podman("rm", "--force", PREFIX + name)
        echo(f"starting {name} ({host['ip']})")
        podman(*run_args(name, host, lab["network"]["name"], ref, worker=name in nodes))
    for host in [*lab["hosts"].values(), *nodes.values()]:
        wait_ssh(host["ip"])
    record_host_keys({**lab["hosts"], **nodes})
    for name in nodes:
        provision_worker(name, echo)
    run_setup(echo, only)
    echo(f"lab up: {len(lab['hosts'])} hosts and {len(nodes)} worker nodes in {time.monotonic() - started:.0f} s")


def down(echo: Echo, purge: bool = False) -> None:
    """Remove every container and network the lab started (and the image with purge)."""
    lab = spec()
    proc = podman("ps", "--all", "--filter", "label=maintlab=1", "--format", "{{.Names}}", check=False)
    names = [n for n in proc.stdout.split() if n]
    if names:
        podman("rm", "--force", "--time", "0", *names)
        echo(f"removed {len(names)} containers")
    if podman("network", "exists", lab["network"]["name"], check=False).returncode == 0:
        podman("network", "rm", "--force", lab["network"]["name"])
        echo(f"removed network {lab['network']['name']}")
    if purge:
        podman("rmi", "--force", image_ref(), check=False)
        echo("removed the lab image")


def status() -> list[dict[str, str]]:
    """Return one row per lab host: name, address, container state, ssh reachability."""
    rows = []
    for name, host in [*spec()["hosts"].items(), *workers().items()]:
        state = container_state(name)
        reach = "no"
        if state == "running":
            try:
                with socket.create_connection((host["ip"], 22), timeout=1):
                    reach = "yes"
            except OSError:
                reach = "no"
        rows.append({"host": name, "ip": host["ip"], "state": state, "ssh": reach})
    return rows
