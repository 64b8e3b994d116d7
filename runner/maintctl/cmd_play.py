"""``maintctl play`` and ``maintctl adhoc``: a playbook or one module on a client's hosts, right now.

Both go through the orchestrator like a run: the client's inventory and vault only, its lock,
a run folder, progress, the collector and the store. They are runs of kind ``adhoc`` (areas
``adhoc``) whose run.json says who ran what (``adhoc``: by, what, hosts), with secrets masked;
the collector adds one ``adhoc.task`` result per host (ok, changed, failed, unreachable).

Refused, one line and exit 2, before anything runs: a playbook outside the client's folder and
the project (symlinks resolved; other clients' folders and the state folder are outside), a
``--limit`` that names another client's host or matches none of the client's hosts, a module
name that is not a plain FQCN or short name, an ``-e`` that would override what guards a run,
and a change (not ``--check``) on more than one host without a confirmation (``--yes``, or
``y`` on the terminal).
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from maintcore import inventory
from maintcore.config import PROJECT_DIR, inventories_dir, maint_home, vault_dir
from maintcore.errors import InvalidInput, clip
from maintcore.store import Store

from . import orchestrator, policy
from .orchestrator import MASK, RunOutcome, RunRequest
from .progress import execute_with_progress

MODULE_RE = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)*$")
VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A variable (an -e NAME, a module argument) whose name says it holds a secret: its value is masked.
SECRET_NAME_RE = re.compile(r"pass|token|secret|key|credential", re.IGNORECASE)
WHO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,79}$")
# Shorter vault values are not masked in the run folder: masking "yes" would garble every log.
MIN_SECRET_LEN = 4
PLAYBOOK_SUFFIXES = (".yml", ".yaml")
HOST_PATTERN_CHARS = re.compile(r"[*?\[\]~]")
ADHOC_ITEM_VAR = "maint_adhoc_item"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client", required=True, help="client (inventory) name")
    parser.add_argument("--check", action="store_true", help="check mode: change nothing, say what would change")
    parser.add_argument("-e", "--extra-var", dest="extra", action="append", metavar="NAME=VALUE",
                        help="an extra variable (lists and mappings as YAML flow); secret-looking names are masked")
    parser.add_argument("--yes", action="store_true", help="do not ask before changing more than one host")
    parser.add_argument("--as", dest="who", metavar="NAME", help="who runs it, for the record (default: the OS user)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``play`` and ``adhoc`` subcommands."""
    play = sub.add_parser("play", help="run a playbook ad hoc on one client's hosts (recorded as a run)")
    play.add_argument("playbook", metavar="PLAYBOOK",
                      help="a path, or a name of playbooks/ or of the client's inventories/<client>/playbooks/")
    play.add_argument("--limit", metavar="PATTERN", help="Ansible host pattern of the client's hosts")
    _common(play)
    play.set_defaults(func=run_play)
    adhoc = sub.add_parser("adhoc", help="run one module ad hoc on some of a client's hosts (recorded as a run)")
    adhoc.add_argument("--limit", required=True, metavar="PATTERN", help="Ansible host pattern of the client's hosts")
    adhoc.add_argument("-m", "--module", required=True, metavar="MODULE", help="module name, e.g. ansible.builtin.file")
    adhoc.add_argument("-a", "--args", dest="module_args", metavar="ARGS", help="module arguments (k=v ... or JSON)")
    _common(adhoc)
    adhoc.set_defaults(func=run_adhoc)


# -- what may run ---------------------------------------------------------------------------

def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def resolve_playbook(client: str, text: str) -> tuple[Path, str]:
    """Return (the playbook's resolved path, its name for the record), or raise InvalidInput.

    A name without ``/`` is looked up in the client's ``playbooks/`` and the project's
    ``playbooks/`` (``.yml`` may be left out; a name in both is ambiguous). The file, symlinks
    resolved, must be a ``.yml``/``.yaml`` file inside the client's folder, or inside the project
    but not in another client's folder, the state folder or the vault folder.
    """
    folder = inventory.client_dir(client).resolve()
    project = PROJECT_DIR.resolve()
    if "/" in text or text in (".", ".."):
        candidate = Path(text).expanduser()
    else:
        names = [text] if text.endswith(PLAYBOOK_SUFFIXES) else [text, text + ".yml"]
        found = [base / name for base in (folder / "playbooks", project / "playbooks") for name in names
                 if (base / name).is_file()]
        homes = {p.parent for p in found}
        if not found:
            raise InvalidInput(f"playbook {text!r}: not in inventories/{client}/playbooks/ nor in playbooks/")
        if len(homes) > 1:
            raise InvalidInput(f"playbook {text!r} is in both inventories/{client}/playbooks/ and playbooks/: "
                               "give its path")
        candidate = found[0]
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidInput(f"playbook {clip(text, 120)!r}: no such file") from None
    outside = (f"playbook {clip(text, 120)!r} resolves to {clip(resolved, 120)}, outside the client's folder and "
               "the project: only playbooks of the project or of inventories/" + client + "/ run")
    if _inside(resolved, folder):
        name = f"inventories/{client}/{resolved.relative_to(folder)}"
    elif _inside(resolved, project) and not any(
            _inside(resolved, other) for other in (inventories_dir().resolve(), maint_home(), vault_dir().resolve())):
        name = str(resolved.relative_to(project))
    else:
        raise InvalidInput(outside)
    if not resolved.is_file() or resolved.suffix not in PLAYBOOK_SUFFIXES:
        raise InvalidInput(f"playbook {clip(text, 120)!r}: not a .yml or .yaml file")
    return resolved, name


def check_module(name: str) -> str:
    """Return a module name that is a plain FQCN or short name (``[a-z0-9_.]``), or raise InvalidInput."""
    if not MODULE_RE.match(name or "") or len(name) > 200:
        raise InvalidInput(f"module {clip(name, 80)!r}: not a module name (lower-case letters, digits, '_' "
                           "and dots, e.g. ansible.builtin.file)")
    return name


def inventory_names(data: Any) -> tuple[set[str], set[str]]:
    """Return (host names, group names) of a parsed hosts.yml (Ansible's YAML inventory shape)."""
    hosts: set[str] = set()
    groups: set[str] = set()

    def group(name: str, body: Any, depth: int) -> None:
        groups.add(name)
        if not isinstance(body, dict) or depth > 50:
            return
        if isinstance(body.get("hosts"), dict):
            hosts.update(str(h) for h in body["hosts"])
        if isinstance(body.get("children"), dict):
            for child, sub in body["children"].items():
                group(str(child), sub, depth + 1)

    if isinstance(data, dict):
        for name, body in data.items():
            group(str(name), body, 0)
    return hosts, groups


def _other_clients_hosts(client: str) -> Iterator[tuple[str, set[str]]]:
    """Yield (client, host names) of every other client, from its hosts.yml only (never its variables)."""
    for other in inventory.clients():
        if other == client:
            continue
        try:
            yield other, inventory_names(inventory.read_yaml(inventory.client_dir(other) / "hosts.yml"))[0]
        except InvalidInput:
            continue


def check_limit(client: str, limit: str | None) -> list[str]:
    """Return the client's hosts the limit selects, or raise InvalidInput.

    Refused: a limit file (``@file``), a name that is a host of another client and not a host
    or group of this one, and a limit that matches none of the client's hosts.
    """
    if limit is not None:
        if not limit.strip() or any(p.strip().startswith("@") for p in re.split(r"[,:]", limit)):
            raise InvalidInput(f"--limit {clip(limit, 80)!r}: give host names, groups or patterns (no @file)")
        own_hosts, own_groups = inventory_names(inventory.read_yaml(inventory.client_dir(client) / "hosts.yml"))
        names = [p.strip().lstrip("!&") for p in re.split(r"[,:]", limit)]
        plain = [n for n in names if n and not HOST_PATTERN_CHARS.search(n) and n not in own_hosts | own_groups]
        for other, hosts in _other_clients_hosts(client) if plain else ():
            for name in plain:
                if name in hosts:
                    raise InvalidInput(f"--limit {clip(limit, 80)!r}: {name} is a host of client {other!r}, "
                                       f"not of {client!r}: nothing ran")
    try:
        return policy.list_hosts(client, limit)
    except InvalidInput as exc:
        if limit and "no hosts" in str(exc):
            raise InvalidInput(f"--limit {clip(limit, 80)!r} matches none of the hosts of client {client!r}") from None
        raise


# -- secrets --------------------------------------------------------------------------------

def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)
    elif data is not None and not isinstance(data, bool):
        yield str(data)


def vault_values(client: str) -> list[str]:
    """Return every value of the client's vault files (decrypted in memory, never written)."""
    password_file = policy.vault_password_file(client)
    if password_file is None:
        return []
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import VaultLib, VaultSecret

    lib = VaultLib([("default", VaultSecret(password_file.read_bytes().strip()))])
    values: list[str] = []
    for path in sorted(inventory.client_dir(client).rglob("*")):
        if not path.is_file() or path.read_bytes()[:len(policy.VAULT_HEADER)] != policy.VAULT_HEADER:
            continue
        try:
            text = lib.decrypt(path.read_bytes()).decode("utf-8")
            loader = inventory.SafeLimitedLoader(text)
            try:
                data = loader.get_single_data()
            finally:
                loader.dispose()
        except (AnsibleError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise InvalidInput(f"{inventory.project_relative(path)}: cannot be decrypted with the client's vault "
                               f"password: {clip(exc, 120)}") from None
        values += [v for v in _strings(data) if len(v) >= MIN_SECRET_LEN]
    return values


def parse_extravars(items: list[str] | None) -> tuple[dict[str, Any], list[str]]:
    """Return (``-e NAME=VALUE`` as a dict, the values to mask: those whose name looks secret).

    Refused: a name that is not an identifier, or one that would override what maintctl sets
    or what guards a run (``maint_*``, ``ansible_*`` connection settings, policy sections, the
    window guard, commands run on hosts, the patch install switch).
    """
    out: dict[str, Any] = {}
    secret: list[str] = []
    for item in items or []:
        name, sep, value = item.partition("=")
        shown = clip(name if sep else item, 60)
        if not sep or not VAR_NAME_RE.match(name):
            raise InvalidInput(f"-e {shown!r}: expected NAME=VALUE")
        if name.startswith(("maint_", "ansible_")) or orchestrator.GUARD_VAR_RE.search(name) \
                or name in orchestrator.ORCHESTRATOR_VARS:
            raise InvalidInput(f"-e {shown}: maintctl sets it or it guards a run (maint_*, ansible_*, *_policy, "
                               "*_command, *_window_end, patch_install): it cannot be set ad hoc")
        try:
            out[name] = yaml.safe_load(value) if value[:1] in ("[", "{") else value
        except yaml.YAMLError as exc:
            raise InvalidInput(f"-e {name}: invalid YAML flow value: {clip(str(exc).splitlines()[0], 200)}") from None
        if SECRET_NAME_RE.search(name):
            secret += [value, *_strings(out[name])]
    return out, secret


def module_arg_secrets(text: str | None) -> list[str]:
    """Return the values of ``k=v`` module arguments whose key looks secret (``password=...``)."""
    if not text:
        return []
    from ansible.parsing.splitter import parse_kv

    try:
        parsed = parse_kv(text)
    except Exception:  # noqa: BLE001 - Ansible reports malformed arguments itself; mask what can be found
        parsed = {m.group(1): m.group(2) for m in re.finditer(r"(\w+)=(\S+)", text)}
    return [str(v) for k, v in parsed.items() if SECRET_NAME_RE.search(str(k)) and v not in (None, "")]


def masked(text: str, secrets_: list[str]) -> str:
    """Return ``text`` with every secret value replaced by the mask (longest first)."""
    for value in sorted({s for s in secrets_ if s}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def masked_vars(extra: dict[str, Any], secrets_: list[str]) -> dict[str, Any]:
    """The extra vars as recorded: secret-looking names masked whole, other values with secrets masked."""
    out: dict[str, Any] = {}
    for name, value in extra.items():
        if SECRET_NAME_RE.search(name):
            out[name] = MASK
        else:
            out[name] = yaml.safe_load(masked(yaml.safe_dump(value, default_flow_style=True), secrets_)) \
                if isinstance(value, (dict, list)) else masked(str(value), secrets_)
    return out


# -- who, and confirmation ------------------------------------------------------------------

def who_runs(name: str | None) -> tuple[str, str]:
    """Return (who, the OS user): ``--as NAME`` when given (a plain name), else the OS user."""
    os_user = pwd.getpwuid(os.geteuid()).pw_name
    if name is None:
        return os_user, os_user
    if not WHO_RE.match(name):
        raise InvalidInput(f"--as {clip(name, 40)!r}: a plain name (letters, digits, . _ @ + -), at most 80")
    return name, os_user


def confirm(what: str, hosts: list[str], check: bool, yes: bool, stdin: Any = None,
            ask: Callable[[str], str] = input) -> None:
    """Ask before a change on more than one host; raise InvalidInput when it is not confirmed.

    No question in check mode, on one host, or with ``--yes``. Without a terminal (cron, a
    pipe) and without ``--yes``, refuse: nobody can answer.
    """
    if check or yes or len(hosts) <= 1:
        return
    stdin = stdin or sys.stdin
    shown = ", ".join(hosts[:5]) + (f" and {len(hosts) - 5} more" if len(hosts) > 5 else "")
    if not getattr(stdin, "isatty", lambda: False)():
        raise InvalidInput(f"{what} may change {len(hosts)} hosts ({shown}): confirm with --yes (no terminal to "
                           "ask on), or use --check; nothing ran")
    try:
        answer = ask(f"run {what} on {len(hosts)} hosts ({shown}), changing them? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise InvalidInput(f"{what}: not confirmed; nothing ran")


# -- running --------------------------------------------------------------------------------

def build_request(args: argparse.Namespace, kind: str) -> RunRequest:
    """Check everything and return the run request (raises InvalidInput, exit 2, before anything runs)."""
    client = args.client
    inventory.client_dir(client)
    who, os_user = who_runs(args.who)
    extra, secret = parse_extravars(args.extra)
    playbook: Path | None = None
    if kind == "play":
        playbook, item = resolve_playbook(client, args.playbook)
        module = module_args = None
    else:
        module, module_args, item = check_module(args.module), args.module_args, args.module
        if module_args is not None and ("\n" in module_args or len(module_args) > 4000):
            raise InvalidInput("-a: module arguments must be one line of at most 4000 characters")
    hosts = check_limit(client, args.limit)
    secret += vault_values(client) + module_arg_secrets(module_args)
    what: dict[str, Any] = {"playbook": item} if kind == "play" else {
        "module": item, "args": masked(module_args or "", secret)}
    what["extravars"] = masked_vars(extra, secret)
    confirm(f"{kind} {item}", hosts, args.check, args.yes)
    return RunRequest(
        client=client, limit=args.limit, check=args.check, kind="adhoc",
        playbook=str(playbook) if playbook else None, module=module, module_args=module_args,
        extravars={**extra, ADHOC_ITEM_VAR: item},
        adhoc={"by": who, "os_user": os_user, "what": what, "hosts": hosts},
        mask=secret,
    )


def report(outcome: RunOutcome, req: RunRequest) -> int:
    """Print what happened on each host, and return the exit code."""
    assert req.adhoc is not None
    mode = " in check mode: nothing was changed" if req.check else ""
    print(f"run {outcome.run_id}: {outcome.status}{mode}, by {req.adhoc['by']}")
    for res in outcome.results:
        if res["check"].startswith("adhoc."):
            print(f"  {res['host']:<12} {res['status'].upper():8} {res['summary']}")
        elif res["status"] in ("critical", "warning", "unknown"):
            print(f"  {res['host']:<12} {res['status'].upper():8} {res['check']}: {res['summary']}")
    print(f"results: {outcome.run_dir / 'results.jsonl'}")
    return outcome.exit_code


def _run(args: argparse.Namespace, kind: str) -> int:
    req = build_request(args, kind)
    with Store() as store:
        outcome = execute_with_progress(req, store)
    return report(outcome, req)


def run_play(args: argparse.Namespace) -> int:
    """``maintctl play``: run a playbook ad hoc."""
    return _run(args, "play")


def run_adhoc(args: argparse.Namespace) -> int:
    """``maintctl adhoc``: run one module ad hoc."""
    return _run(args, "adhoc")
