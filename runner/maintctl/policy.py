"""Per-client inventories and policies: loading and validation.

Every error names the file, the key and the problem on one line, and is raised as
:class:`InvalidInput` (exit 2) before anything runs.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import re
import subprocess
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from . import clock
from .config import PROJECT_DIR, inventories_dir, vault_dir, venv_bin
from .errors import InvalidInput

CLIENT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
POLICY_FILE = Path("group_vars") / "all" / "policy.yml"
SCHEMA_DIR = PROJECT_DIR / "schemas" / "policy"
VAULT_HEADER = b"$ANSIBLE_VAULT;"

# Policy sections whose decide module may add semantic checks beyond the schema: an area's
# ``maint_utils.<area>_decide.validate_policy(section) -> list[str]`` is called when it exists,
# so the rules live once, next to the code that applies them.
SECTION_MODULES = {"hardware": "hardware_decide", "antivirus": "antivirus_decide",
                   "backup": "backup_decide", "patch": "patch_decide"}


def _section_validator(section: str) -> Callable[[dict[str, Any]], list[str]] | None:
    try:
        module = importlib.import_module(f"maint_utils.{SECTION_MODULES[section]}")
    except ImportError:
        return None
    check: Callable[[dict[str, Any]], list[str]] | None = getattr(module, "validate_policy", None)
    return check


def client_dir(client: str) -> Path:
    """Return a client's inventory folder, or raise InvalidInput."""
    if not CLIENT_RE.match(client or ""):
        raise InvalidInput(f"client name {client!r} is invalid: use lower-case letters, digits, '-' and '_'")
    path = inventories_dir() / client
    if not (path / "hosts.yml").is_file():
        raise InvalidInput(f"unknown client {client!r}: {path / 'hosts.yml'} does not exist")
    return path


def clients() -> list[str]:
    """Return every client that has an inventory."""
    return sorted(p.parent.name for p in inventories_dir().glob("*/hosts.yml") if CLIENT_RE.match(p.parent.name))


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_DIR))
    except ValueError:
        return str(path)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error becomes one line naming the file and line."""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark else "?"
        raise InvalidInput(f"{_rel(path)}: {where}: invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{_rel(path)}: invalid YAML: {exc}") from exc
    except OSError as exc:
        raise InvalidInput(f"{_rel(path)}: cannot read: {exc.strerror}") from exc


def load_policy(client: str) -> dict[str, Any]:
    """Return a client's ``maint_policy`` document (not yet validated)."""
    path = client_dir(client) / POLICY_FILE
    if not path.is_file():
        raise InvalidInput(f"{_rel(path)}: missing: every client needs a policy (key maint_policy)")
    data = read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("maint_policy"), dict):
        raise InvalidInput(f"{_rel(path)}: maint_policy: missing or not a mapping")
    policy: dict[str, Any] = data["maint_policy"]
    return policy


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


def validate_policy(client: str, policy: dict[str, Any] | None = None) -> list[str]:
    """Return every problem of a client's policy, one line each (empty when valid)."""
    path = _rel(client_dir(client) / POLICY_FILE)
    policy = load_policy(client) if policy is None else policy
    root, registry = _registry()
    validator = Draft202012Validator(root, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [
        f"{path}: {_key(err.absolute_path)}: {err.message}"
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
    for section in SECTION_MODULES:
        check = _section_validator(section)
        if check and isinstance(policy.get(section), dict):
            errors += [f"{path}: {line}" for line in check(policy[section])]
    return errors


def require_valid(client: str) -> None:
    """Raise InvalidInput (exit 2) with the policy's first problem, and how many more there are."""
    problems = validate_policy(client)
    if problems:
        more = f" (and {len(problems) - 1} more: maintctl validate)" if len(problems) > 1 else ""
        raise InvalidInput(problems[0] + more)


def _window_problems(policy: dict[str, Any]) -> list[str]:
    """Check the windows and the run schedule the schema cannot (syntax, days, times, overlap)."""
    from . import mschedule, mwindows
    from .orchestrator import AREAS

    try:
        windows = mwindows.from_policy(policy)
    except InvalidInput as exc:
        return [f"windows: {exc}"]
    if policy.get("worker"):
        from .remote import parse_worker

        try:
            parse_worker(policy["worker"])
        except InvalidInput as exc:
            return [f"worker: {exc}"]
    try:
        runs = mschedule.from_policy(policy, tuple(AREAS))
    except InvalidInput as exc:
        return [str(exc)]
    return mschedule.outside_windows(runs, windows, clock.now())


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
    :func:`maintctl.config.vault_dir`); one client's
    run is never handed another client's password.
    """
    encrypted = [
        p for p in client_dir(client).rglob("*.yml")
        if p.is_file() and p.read_bytes()[:len(VAULT_HEADER)] == VAULT_HEADER
    ]
    candidate = vault_dir() / f"{client}.pass"
    if candidate.is_file():
        return candidate
    if encrypted:
        raise InvalidInput(
            f"{_rel(encrypted[0])} is vault-encrypted but the vault password file {candidate} is missing"
        )
    return None


def list_hosts(client: str, limit: str | None = None) -> list[str]:
    """Return the inventory's hosts (after ``limit``), parsing it with Ansible itself."""
    inventory = read_yaml(client_dir(client) / "hosts.yml")
    if not isinstance(inventory, dict):
        where = _rel(client_dir(client) / "hosts.yml")
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
    where = _rel(client_dir(client) / "hosts.yml")
    if proc.returncode != 0 or "Unable to parse" in err:
        msg = re.sub(r"\s+", " ", err) or f"ansible-inventory exited {proc.returncode}"
        if "Decryption failed" in msg or "decrypt" in msg.lower():
            msg = "vault decryption failed: wrong vault password for this client"
        raise InvalidInput(f"{where}: {msg[:300]}")
    try:
        listing = json.loads(proc.stdout)
        hosts = sorted(set(listing.get("_meta", {}).get("hostvars", {})).union(
            *(group.get("hosts", []) for name, group in listing.items() if name != "_meta")))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where}: ansible-inventory returned no inventory") from exc
    if not hosts:
        raise InvalidInput(f"{where}: no hosts" + (f" match --limit {limit!r}" if limit else ""))
    return hosts
