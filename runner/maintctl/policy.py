"""Per-client inventories and policies: loading and validation.

Every error names the file, the key and the problem on one line, and is raised as
:class:`InvalidInput` (exit 2) before anything runs.
"""

from __future__ import annotations

import binascii
import fnmatch
import hashlib
import hmac
import importlib
import json
import math
import os
import re
import stat
import subprocess
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from maint_utils.checks import AREAS
from maint_utils.maint_result import PolicyError
from maintcore.config import PROJECT_DIR, vault_dir, venv_bin
from maintcore.errors import INVALID_MESSAGE, InvalidInput, clip
from maintcore.inventory import (
    POLICY_FILE,
    Vaulted,
    client_dir,
    load_policy,
    policy_from,
    project_relative,
    read_yaml,
    yaml_inventory_groups,
)

SCHEMA_DIR = PROJECT_DIR / "schemas" / "policy"
VAULT_HEADER = b"$ANSIBLE_VAULT;"



def _section_validator(area: str) -> Callable[[dict[str, Any]], list[str]] | None:
    """Return ``maint_utils.<area>_decide.validate_policy`` when the area has one.

    A policy section's decide module may add semantic checks beyond the schema: the rules
    live once, next to the code that applies them.
    """
    try:
        module = importlib.import_module(f"maint_utils.{area}_decide")
    except ImportError:
        return None
    check: Callable[[dict[str, Any]], list[str]] | None = getattr(module, "validate_policy", None)
    return check


def _registry() -> tuple[dict[str, Any], Registry[Any]]:
    resources = []
    root: dict[str, Any] = {}
    for schema_path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
        if schema_path.name == "policy.schema.json":
            root = schema
    return root, Registry().with_resources(resources)


def _key(path: Any) -> str:
    out = "maint_policy"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


# -- the client's inventory files, read by maintctl itself --------------------------------

VARS_SUFFIXES = ("", ".yml", ".yaml", ".json")


def inventory_files(client: str) -> list[Path]:
    """Return the client's inventory files Ansible reads: hosts.yml, group_vars/**, host_vars/**.

    Whole-file vault-encrypted files are left out (maintctl cannot read them; Ansible checks
    them with the vault password). Hidden files and other suffixes are ignored, as Ansible does.
    """
    hosts_file, *var_files = _candidate_files(client)
    return [hosts_file, *(path for path in var_files if not _is_vault_file(path))]


def _candidate_files(client: str) -> list[Path]:
    """hosts.yml and every file of group_vars/** and host_vars/** Ansible may read, vault-encrypted or not."""
    folder = client_dir(client)
    found = [folder / "hosts.yml"]
    for sub in ("group_vars", "host_vars"):
        for path in sorted((folder / sub).rglob("*")):
            rel_parts = path.relative_to(folder).parts
            if any(part.startswith(".") for part in rel_parts) or path.suffix not in VARS_SUFFIXES:
                continue
            if path.is_file():
                found.append(path)
    return found


def _is_vault_file(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(VAULT_HEADER)) == VAULT_HEADER
    except OSError:
        return False


def _walk(data: Any, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """Yield (dotted key path, key, value) for every mapping item, depth first."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{prefix}.{key}" if prefix else str(key)
            yield where, str(key), value
            yield from _walk(value, where)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _walk(value, f"{prefix}[{index}]")


SSH_ARG_VARS = ("ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args",
                "ansible_scp_extra_args", "ansible_sftp_extra_args")
HOST_KEY_VARS = ("host_key_checking", "ansible_host_key_checking", "ansible_ssh_host_key_checking",
                 "ansible_paramiko_host_key_checking")
CERT_VARS = ("ansible_winrm_server_cert_validation", "ansible_psrp_cert_validation")
FALSY = ("false", "no", "off", "n", "f", "0", "0.0")
_STRICT_OFF = re.compile(r"StrictHostKeyChecking[\"']?(?:\s*=\s*|\s+)[\"']?(no|off|false|accept-new)(?![\w-])",
                         re.IGNORECASE)
_KNOWN_HOSTS_NULL = re.compile(r"UserKnownHostsFile[\"']?(?:\s*=\s*|\s+)[\"']?/dev/null(?![\w/])", re.IGNORECASE)


def _is_falsy(value: Any) -> bool:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    return isinstance(value, str) and value.strip().lower() in FALSY


def _transport_problem(key: str, value: Any) -> str | None:
    """Say how one inventory variable weakens the connection's security, or None."""
    if key in SSH_ARG_VARS:
        text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
        strict = _STRICT_OFF.search(text)
        if strict:
            blind = "accepts unknown host keys blindly" if strict.group(1).lower() == "accept-new" else \
                "turns SSH host key checking off"
            return f"StrictHostKeyChecking={strict.group(1)} {blind}"
        if _KNOWN_HOSTS_NULL.search(text):
            return "UserKnownHostsFile=/dev/null forgets every host key (host key checking off)"
    elif key in HOST_KEY_VARS and _is_falsy(value):
        return f"{value!r} turns SSH host key checking off"
    elif key in CERT_VARS and (str(value).strip().lower() == "ignore" or _is_falsy(value)):
        return f"{value!r} turns TLS certificate validation off"
    return None


def _file_problems(client: str) -> tuple[list[str], list[str], dict[Path, Any]]:
    """Read every inventory file with :func:`read_yaml`; return (errors, insecure transport lines, the data read)."""
    folder = client_dir(client)
    errors: list[str] = []
    insecure: list[str] = []
    parsed: dict[Path, Any] = {}
    for path in inventory_files(client):
        where = project_relative(path)
        try:
            data = parsed[path] = read_yaml(path)
        except InvalidInput as exc:
            errors.append(str(exc))
            continue
        is_policy_file = path == folder / POLICY_FILE
        for keypath, key, value in _walk(data):
            problem = _transport_problem(key, value)
            if problem:
                insecure.append(clip(f"{where}: {keypath}: {problem}"))
            if key == "maint_policy" and not is_policy_file and (path.name == "hosts.yml" or "." not in keypath):
                errors.append(clip(f"{where}: {keypath}: maint_policy is set here, but only {POLICY_FILE} "
                                   "may set it (the validated policy must be the one every host gets)"))
    return errors, insecure, parsed


def insecure_transport(client: str) -> str | None:
    """Return the reason the client's policy gives for accepting insecure transport, or None.

    The reason is ``maint_policy.insecure_transport.reason``; with it, ``maintctl validate``
    only warns about inventory settings that turn host key checking or TLS certificate
    validation off, and the report shows the reason. None when the policy sets none.
    Raises InvalidInput when the policy cannot be read.
    """
    return _exemption(load_policy(client))


def _exemption(policy: dict[str, Any]) -> str | None:
    section = policy.get("insecure_transport")
    reason = section.get("reason") if isinstance(section, dict) else None
    return clip(reason) if isinstance(reason, str) and reason.strip() else None


def transport_warnings(client: str) -> list[str]:
    """Return the insecure-transport lines a policy exemption allows (for ``validate`` to print)."""
    reason = insecure_transport(client)
    if reason is None:
        return []
    return [f"{line} (allowed by maint_policy.insecure_transport: {clip(reason, 80)})"
            for line in _file_problems(client)[1]]


# -- the policy -------------------------------------------------------------------------------

def _non_finite(data: Any, prefix: str = "maint_policy") -> Iterator[str]:
    """Yield the key of every NaN or infinite number (JSON Schema's minimum/maximum let NaN pass)."""
    if isinstance(data, float) and not math.isfinite(data):
        yield prefix
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _non_finite(value, f"{prefix}.{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _non_finite(value, f"{prefix}[{index}]")


def validate_policy(client: str, policy: dict[str, Any] | None = None) -> list[str]:
    """Return every problem of a client's inventory files and policy, one line each (empty when valid).

    The inventory files are read with :func:`read_yaml` (before ansible-inventory ever sees
    them); settings that turn host key checking or TLS certificate validation off are
    errors unless the policy's ``insecure_transport.reason`` accepts them. Nothing here
    depends on the date.
    """
    return _validate(client, policy)[0]


def _validate(client: str, policy: dict[str, Any] | None = None) -> tuple[list[str], dict[str, Any] | None]:
    """Return (every problem, the policy read): the policy file is read once, with the other inventory files."""
    policy_file = client_dir(client) / POLICY_FILE
    path = project_relative(policy_file)
    errors, insecure, parsed = _file_problems(client)
    if any(line.startswith(f"{path}: ") for line in errors):
        return errors, None  # the policy file itself cannot be read
    try:
        if policy is None:
            policy = policy_from(policy_file, parsed[policy_file]) if policy_file in parsed else load_policy(client)
    except InvalidInput as exc:
        return [*errors, str(exc)], None
    return _policy_problems(path, policy, errors, insecure), policy


def _policy_problems(path: str, policy: dict[str, Any], errors: list[str], insecure: list[str]) -> list[str]:
    """The problems of a policy read from ``path``, after those of the inventory files (``errors``)."""
    if insecure and _exemption(policy) is None:
        errors += [clip(f"{line}: remove it, or accept it with maint_policy.insecure_transport.reason", 300)
                   for line in insecure]
    errors += [f"{path}: {key}: not a finite number (.nan and .inf are refused)" for key in _non_finite(policy)]
    if errors:
        return [clip(e) for e in errors]
    root, registry = _registry()
    validator = Draft202012Validator(root, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [
        clip(f"{path}: {_key(err.absolute_path)}: {err.message}")
        for err in sorted(validator.iter_errors(policy), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if errors:
        return errors
    tz = policy.get("timezone", "")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors.append(f"{path}: maint_policy.timezone: unknown timezone {tz!r}")
    else:
        errors += [f"{path}: maint_policy.{line}" for line in _window_problems(policy)]
    for section in AREAS:
        check = _section_validator(section)
        if check and isinstance(policy.get(section), dict):
            errors += [f"{path}: {line}" for line in check(policy[section])]
    return [clip(e) for e in errors]


def host_problems(client: str, hosts: list[str], policy: dict[str, Any] | None = None) -> list[str]:
    """Return one line per policy reference to a host that is not in the inventory's ``hosts``.

    Backup sources (``maint_policy.backup.sources[i].host``) and service probes
    (``maint_policy.supervision.services[i].host``) name inventory hosts.
    """
    path = project_relative(client_dir(client) / POLICY_FILE)
    policy = load_policy(client) if policy is None else policy
    known = set(hosts)
    problems = []
    for section, key in (("backup", "sources"), ("supervision", "services")):
        for index, entry in enumerate(((policy.get(section) or {}).get(key)) or []):
            host = entry.get("host") if isinstance(entry, dict) else None
            if isinstance(host, str) and host not in known:
                problems.append(clip(f"{path}: maint_policy.{section}.{key}[{index}].host: {host!r} is not a host"
                                     f" of {project_relative(client_dir(client) / 'hosts.yml')}"))
    return problems


def require_valid(client: str) -> dict[str, Any]:
    """Return the client's valid policy, or raise InvalidInput (exit 2) with its first problem and how many more."""
    problems, policy = _validate(client)
    if problems or policy is None:
        problems = problems or [f"{project_relative(client_dir(client) / POLICY_FILE)}: maint_policy: not read"]
        more = f" (and {len(problems) - 1} more: maintctl validate)" if len(problems) > 1 else ""
        raise InvalidInput(problems[0] + more)
    return policy


def _window_problems(policy: dict[str, Any]) -> list[str]:
    """Check the windows and the run schedule the schema cannot (syntax, days, times, overlap).

    The schedule is checked against the weekly windows in wall-clock time, so the answer
    does not depend on today's date (see :func:`maintctl.schedule.outside_windows`).
    """
    from maint_utils import maint_window

    from . import schedule

    try:
        windows = maint_window.from_policy(policy)
    except PolicyError as exc:
        return [f"windows: {clip(exc, INVALID_MESSAGE)}"]
    if policy.get("worker"):
        from .worker import parse_worker

        try:
            parse_worker(policy["worker"])
        except InvalidInput as exc:
            return [f"worker: {exc}"]
    try:
        runs = schedule.from_policy(policy, AREAS)
    except PolicyError as exc:
        return [clip(exc, INVALID_MESSAGE)]
    return schedule.outside_windows(runs, windows)


def severity_for(policy: dict[str, Any], check: str, status: str) -> str | None:
    """Return the SLA severity (P1-P4) of a finding from the policy's rules (first match wins)."""
    if status not in ("warning", "critical", "unknown"):
        return None
    for rule in (policy.get("sla") or {}).get("rules") or []:
        if rule["status"] == status and fnmatch.fnmatchcase(check, rule["check"]):
            sev: str = rule["severity"]
            return sev
    return None


def vault_password_file(client: str) -> Path | None:
    """Return the client's vault password file, or None when the client has no vault.

    Each client's password lives in ``<vault dir>/<client>.pass`` (see
    :func:`maintcore.config.vault_dir`); one client's run is never handed another client's
    password. The file must be a regular file (not a symlink, which could lead to another
    client's password), owned by this user, mode 0600 or stricter and not executable
    (Ansible would run an executable one as a script): anything else is InvalidInput.
    """
    candidate = vault_dir() / f"{client}.pass"
    try:
        info = os.lstat(candidate)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise InvalidInput(f"vault password file {candidate}: cannot read: {exc.strerror}") from None
    if info is not None:
        _check_password_file(candidate, info)
        return candidate
    encrypted = [p for p in client_dir(client).rglob("*.yml") if p.is_file() and _is_vault_file(p)]
    if encrypted:
        raise InvalidInput(
            f"{project_relative(encrypted[0])} is vault-encrypted but the vault password file {candidate} is missing"
        )
    return None


def _check_password_file(path: Path, info: os.stat_result) -> None:
    where = f"vault password file {path}"
    if stat.S_ISLNK(info.st_mode):
        raise InvalidInput(f"{where} is a symlink: replace it with the file itself "
                           f"(cp --remove-destination \"$(readlink -f {path})\" {path}; chmod 600 {path})")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"{where} is not a regular file: put the password in a plain file, mode 0600")
    if info.st_uid != os.geteuid():
        raise InvalidInput(f"{where} is owned by uid {info.st_uid}, not by this user (uid {os.geteuid()}): "
                           f"chown {os.geteuid()} {path}")
    if info.st_mode & 0o177:
        raise InvalidInput(f"{where}: mode {stat.S_IMODE(info.st_mode):04o}, must be 0600 or stricter and not "
                           f"executable: chmod 600 {path}")


def inventory_listing(client: str, limit: str | None = None,
                      allow_empty: bool = False) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Return the inventory's hosts (after ``limit``) and their variables, parsed by Ansible itself.

    The variables hold the vault's decrypted values: they stay in this process's memory
    (a pipe from ``ansible-inventory``), are never written, and callers keep only what they need.
    """
    inventory = read_yaml(client_dir(client) / "hosts.yml")
    if not isinstance(inventory, dict):
        where = project_relative(client_dir(client) / "hosts.yml")
        raise InvalidInput(f"{where}: top level must be a mapping of groups (e.g. all:)")
    cmd = [venv_bin("ansible-inventory"), "-i", str(client_dir(client) / "hosts.yml"), "--list"]
    if limit:
        cmd += ["--limit", limit]
    vault = vault_password_file(client)
    if vault:
        cmd += ["--vault-password-file", str(vault)]
    env = {
        "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"),
        "PATH": str(Path(venv_bin("ansible")).parent) + ":/usr/bin:/bin",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        "HOME": str(Path.home()),
    }
    # The parsed inventory (with decrypted vault values) stays in this pipe; it is never written.
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PROJECT_DIR, check=False)
    err = " ".join(line.strip() for line in proc.stderr.splitlines() if line.strip())
    where = project_relative(client_dir(client) / "hosts.yml")
    if proc.returncode != 0 or "Unable to parse" in err:
        msg = re.sub(r"\s+", " ", err) or f"ansible-inventory exited {proc.returncode}"
        if "Decryption failed" in msg or "decrypt" in msg.lower():
            msg = "vault decryption failed: wrong vault password for this client"
        raise InvalidInput(f"{where}: {msg[:300]}")
    try:
        listing = json.loads(proc.stdout)
        hostvars = listing.get("_meta", {}).get("hostvars", {})
        hosts = sorted(set(hostvars).union(
            *(group.get("hosts", []) for name, group in listing.items() if name != "_meta")))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where}: ansible-inventory returned no inventory") from exc
    if not hosts and not allow_empty:
        raise InvalidInput(f"{where}: no hosts" + (f" match --limit {limit!r}" if limit else ""))
    return hosts, {host: dict(hostvars.get(host) or {}) for host in hosts}


# -- a run's hosts, counted by maintctl when it can be sure --------------------------------------

def vault_password_matches(vault_file: Path, password_file: Path) -> bool:
    """True when ``password_file`` opens the vault-encrypted ``vault_file`` (Ansible's AES256 format).

    Only the vault's HMAC is checked (nothing is decrypted): PBKDF2-HMAC-SHA256 of the password
    and the vault's salt, 10,000 rounds, gives the HMAC key Ansible signs the ciphertext with.
    False for a wrong password or anything not in the format (Ansible then says why).
    """
    try:
        password = password_file.read_bytes().strip()
        lines = vault_file.read_bytes().splitlines()
        header = lines[0].strip().split(b";")
        if header[0] != VAULT_HEADER.rstrip(b";") or len(header) < 3 or header[2].strip() != b"AES256":
            return False
        body = binascii.unhexlify(b"".join(line.strip() for line in lines[1:]))
        salt_hex, signature, cipher_hex = body.split(b"\n", 2)
        keys = hashlib.pbkdf2_hmac("sha256", password, binascii.unhexlify(salt_hex), 10000, 80)
        expected = hmac.new(keys[32:64], binascii.unhexlify(cipher_hex), hashlib.sha256).hexdigest().encode()
    except (OSError, IndexError, ValueError, binascii.Error):
        return False
    return bool(password) and hmac.compare_digest(expected, signature.strip())


def _has_inline_vault(data: Any) -> bool:
    if isinstance(data, Vaulted):
        return True
    if isinstance(data, dict):
        return any(_has_inline_vault(v) for v in data.values())
    if isinstance(data, list):
        return any(_has_inline_vault(v) for v in data)
    return False


def _counted_hosts(client: str, limit: str | None, vault: Path | None) -> list[str] | None:
    """The run's hosts from the client's files alone, or None when only Ansible can tell.

    Sure only when hosts.yml has Ansible's plain YAML shape (:func:`yaml_inventory_groups`),
    the limit (if any) is host and group names that all exist, no variable is an inline
    ``!vault`` value and every vault-encrypted file opens with the client's password (a wrong
    one is refused before the run, with Ansible's own message, by :func:`inventory_listing`).
    """
    folder = client_dir(client)
    groups = yaml_inventory_groups(read_yaml(folder / "hosts.yml"))
    if groups is None:
        return None
    encrypted = [p for p in _candidate_files(client) if _is_vault_file(p)]
    if encrypted and (vault is None or not all(vault_password_matches(p, vault) for p in encrypted)):
        return None
    if any(_has_inline_vault(read_yaml(p)) for p in inventory_files(client)):
        return None
    if not limit:
        return sorted(groups["all"])
    names = [n.strip() for n in re.split(r"[,:]", limit)]
    if not all(n and PLAIN_LIMIT_RE.match(n) for n in names):
        return None
    selected: set[str] = set()
    for name in names:
        found = groups.get(name, {name} if name in groups["all"] else None)
        if found is None:
            return None  # Ansible says it matches nothing
        selected |= found
    return sorted(selected) or None


PLAIN_LIMIT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def run_hosts(client: str, limit: str | None = None, vault: Path | None = None) -> list[str]:
    """Return a run's hosts (after ``limit``): counted from the client's files when sure, else by Ansible.

    ``vault`` is the client's vault password file (:func:`vault_password_file`). Counting here
    spares the ``ansible-inventory --list`` process (0.7 s); when in doubt (host ranges, host
    patterns, inline vault values, a vault the password does not open) :func:`list_hosts` asks
    Ansible, which also gives its own reason for an inventory it cannot use. No host is InvalidInput.
    """
    hosts = _counted_hosts(client, limit, vault)
    if hosts is None:
        return list_hosts(client, limit)
    if not hosts:
        raise InvalidInput(f"{project_relative(client_dir(client) / 'hosts.yml')}: no hosts")
    return hosts


def list_hosts(client: str, limit: str | None = None, allow_empty: bool = False) -> list[str]:
    """Return the inventory's hosts (after ``limit``), parsing it with Ansible itself.

    No host is InvalidInput unless ``allow_empty`` (``maintctl validate`` of a new client).
    """
    return inventory_listing(client, limit, allow_empty)[0]
