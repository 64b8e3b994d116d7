"""Paths and safe file writing shared by the orchestrator and the reports."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(os.environ.get("MAINT_PROJECT_DIR") or Path(__file__).resolve().parents[2])


def maint_home() -> Path:
    """Return the state folder (``$MAINT_HOME``, default ``./var``), created 0700."""
    home = Path(os.environ.get("MAINT_HOME") or PROJECT_DIR / "var").resolve()
    ensure_dir(home)
    return home


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 if missing, and return it."""
    missing = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    return path


def vault_dir() -> Path:
    """Return the folder of per-client vault password files (``<client>.pass``).

    It is kept outside ``$MAINT_HOME`` on purpose: nothing in the state folder holds a
    secret. Default ``~/.config/maintctl/vault``; set ``MAINT_VAULT_DIR`` to move it.
    """
    return Path(os.environ.get("MAINT_VAULT_DIR") or Path.home() / ".config" / "maintctl" / "vault")


def inventories_dir() -> Path:
    """Return the folder holding one inventory per client."""
    return Path(os.environ.get("MAINT_INVENTORIES") or PROJECT_DIR / "inventories")


def atomic_write(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + rename)."""
    ensure_dir(path.parent)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically, mode 0600."""
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def venv_bin(name: str) -> str:
    """Return the path of a tool of the venv: the one next to the running Python.

    PATH is never consulted: an ``ansible-playbook`` from elsewhere would run another
    Ansible than the one this project was installed with, and ansible-runner given a bare
    name that PATH lacks fails without a reason. A missing tool raises MaintError, which
    names it; ``maintctl doctor`` lists every one.
    """
    import sys

    from .errors import MaintError

    candidate = Path(sys.executable).parent / name
    if not candidate.is_file():
        raise MaintError(f"{name} is not in {candidate.parent} (the venv of the running Python): "
                         "run 'make deps'; 'maintctl doctor' lists what is missing")
    return str(candidate)


SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def with_system_path(path: str) -> str:
    """Return ``path`` with the system's tool folders appended (those it lacks).

    podman's netavark runs ``iptables`` by name from the PATH it is given: the lab keeps the
    system folders on it even when the caller's PATH is bare (cron, systemd, PATH=/usr/bin:/bin).
    """
    dirs = [d for d in path.split(os.pathsep) if d]
    return os.pathsep.join(dirs + [d for d in SYSTEM_PATH if d not in dirs])
