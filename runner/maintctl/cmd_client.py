"""``maintctl client new|list``: a new client's inventory in one command, and every client at a glance.

``client new NAME`` copies the documented template of ``templates/client/`` into
``inventories/NAME/`` (``$MAINT_INVENTORIES/NAME``): hosts.yml with commented Linux and Windows
examples, a policy with safe defaults (security patches only, windows after business hours, no
reboot outside a window, supervision in the schedule), the SSH connection settings with host key
checking, and a vault encrypted with a fresh random password written to
``<vault dir>/NAME.pass`` (0600). Everything is written into a hidden temporary folder first
and renamed into place at the end: a failure leaves no half-written client and no password file.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sqlite3
import string
import tempfile
import zoneinfo
from pathlib import Path
from typing import Any

from maint_utils import maint_clock, maint_window
from maintcore import inventory
from maintcore.config import PROJECT_DIR, ensure_dir, inventories_dir, vault_dir
from maintcore.errors import InvalidInput, MaintError, clip
from maintcore.store import Store

from .orchestrator import SUPERVISION_KINDS

TEMPLATE_DIR = Path(__file__).with_name("templates") / "client"
VAULT_FILE = Path("group_vars") / "all" / "vault.yml"
REPORT_SCHEMA = PROJECT_DIR / "schemas" / "policy" / "report.schema.json"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``client`` subcommand (``new``, ``list``)."""
    parser = sub.add_parser("client", help="create a client's inventory, or list the clients")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="create inventories/NAME from the documented template, with its vault")
    new.add_argument("name", metavar="NAME", help="the client's inventory name: lower-case letters, digits, - and _")
    new.add_argument("--name", dest="display_name", required=True, metavar="TEXT",
                     help='the client\'s name in reports, e.g. "Acme SAS"')
    new.add_argument("--timezone", required=True, metavar="ZONE", help="IANA timezone, e.g. Europe/Paris")
    new.add_argument("--locale", default="en", metavar="LANG", help="language of the reports (default en)")
    new.set_defaults(func=run_new)
    listing = actions.add_parser("list", help="every client: hosts, timezone, next window, last run")
    listing.add_argument("--json", action="store_true", help="print JSON instead of text")
    listing.set_defaults(func=run_list)


# -- client new -----------------------------------------------------------------------------

def locales() -> list[str]:
    """Return the report languages the policy schema accepts (``maint_policy.report.locale``)."""
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    return list(schema["properties"]["locale"]["enum"])


def check_new(name: str, display_name: str, timezone: str, locale: str) -> Path:
    """Return the new client's folder, or raise InvalidInput (one line) when anything is wrong."""
    if not inventory.CLIENT_RE.match(name or ""):
        raise InvalidInput(f"client name {clip(name, 70)!r} is invalid: use lower-case letters, digits, '-' and '_' "
                           "(at most 63, starting with a letter or a digit)")
    folder = inventories_dir() / name
    if folder.exists() or folder.is_symlink():
        raise InvalidInput(f"client {name!r} already exists: {folder}")
    password = vault_dir() / f"{name}.pass"
    if password.exists() or password.is_symlink():
        raise InvalidInput(f"vault password file {password} already exists (a former client {name!r}?): "
                           "move it away or pick another name")
    if not display_name.strip() or len(display_name) > 200 or any(ord(c) < 32 for c in display_name):
        raise InvalidInput("--name: one line of text, at most 200 characters")
    try:
        maint_window.load_timezone(timezone)
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"--timezone {clip(timezone, 60)!r}: not an IANA timezone (e.g. Europe/Paris)") from None
    if locale not in locales():
        raise InvalidInput(f"--locale {clip(locale, 20)!r}: choose from {', '.join(locales())}")
    return folder


def render(text: str, values: dict[str, str]) -> str:
    """Fill a template file's ``${name}`` placeholders (``$$`` is a literal ``$``)."""
    return string.Template(text).substitute(values)


def encrypt(plaintext: str, password: str) -> bytes:
    """Return ``plaintext`` encrypted with ansible-vault (AES256) under ``password``."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    lib = VaultLib([("default", VaultSecret(password.encode("utf-8")))])
    encrypted: bytes = lib.encrypt(plaintext.encode("utf-8"), secret=VaultSecret(password.encode("utf-8")))
    return encrypted


def _write_password(path: Path, password: str) -> None:
    """Create the vault password file, mode 0600, refusing to replace one (O_EXCL)."""
    ensure_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def create_client(name: str, display_name: str, timezone: str, locale: str = "en") -> Path:
    """Create the client's folder and vault password file, all or nothing; return the folder."""
    folder = check_new(name, display_name, timezone, locale)
    values = {"client": name, "client_name": display_name, "client_name_yaml": json.dumps(display_name),
              "timezone": timezone, "locale": locale}
    password = secrets.token_urlsafe(32)
    password_file = vault_dir() / f"{name}.pass"
    ensure_dir(folder.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.new-", dir=folder.parent))
    wrote_password = False
    try:
        for source in sorted(TEMPLATE_DIR.rglob("*")):
            if source.is_dir() or "__pycache__" in source.parts:
                continue
            rel = source.relative_to(TEMPLATE_DIR)
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            text = render(source.read_text(encoding="utf-8"), values)
            data = encrypt(text, password) if rel == VAULT_FILE else text.encode("utf-8")
            target.write_bytes(data)
            os.chmod(target, 0o600)
        for path in [staging, *staging.rglob("*")]:
            if path.is_dir():
                os.chmod(path, 0o700)
        _write_password(password_file, password)
        wrote_password = True
        if folder.exists():  # created meanwhile by someone else: theirs wins
            raise InvalidInput(f"client {name!r} already exists: {folder}")
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if wrote_password:
            password_file.unlink(missing_ok=True)
        raise
    return folder


def run_new(args: argparse.Namespace) -> int:
    """Create the client and print the next three steps."""
    try:
        folder = create_client(args.name, args.display_name, args.timezone, args.locale)
    except OSError as exc:
        raise MaintError(f"client {args.name!r} not created: {exc.strerror or exc}: nothing was left behind") from None
    rel = inventory.project_relative(folder)
    print(f"client {args.name} ({args.display_name}) created in {rel}; vault password in "
          f"{vault_dir() / (args.name + '.pass')} (0600: back it up with the MSP's secrets)")
    print("next steps:")
    print(f"  1. add the hosts to {rel}/hosts.yml and record their SSH host keys, checked out of band, in "
          f"{rel}/known_hosts (Windows: see the commented example)")
    print(f"  2. adjust the policy ({rel}/group_vars/all/policy.yml), put credentials in the vault "
          f"(ansible-vault edit --vault-password-file {vault_dir() / (args.name + '.pass')} {rel}/{VAULT_FILE}), "
          f"then: maintctl validate --client {args.name}")
    print(f"  3. look before changing anything: maintctl run --client {args.name} --check, "
          f"then maintctl window --client {args.name}")
    return 0


# -- client list ----------------------------------------------------------------------------

def host_count(client: str) -> int:
    """Count the hosts of a client's hosts.yml (read safely; no vault, no Ansible)."""
    from .cmd_play import inventory_names

    return len(inventory_names(inventory.read_yaml(inventory.client_dir(client) / "hosts.yml"))[0])


def last_run(store: Store, client: str) -> dict[str, Any] | None:
    """Return the client's latest run that is not a probe or a watch cycle, or None."""
    marks = ",".join("?" * len(SUPERVISION_KINDS))
    row = store.db.execute(
        f"SELECT run_id, kind, areas, status, started, check_mode FROM runs WHERE client=? AND kind NOT IN ({marks})"
        " ORDER BY started DESC LIMIT 1", (client, *SUPERVISION_KINDS)).fetchone()
    return dict(row) if row else None


def describe(store: Store | None, client: str) -> dict[str, Any]:
    """Return one client's line: hosts, timezone, current or next window, last run (problems as text)."""
    out: dict[str, Any] = {"client": client, "hosts": None, "timezone": None, "next_window": None,
                           "in_window_until": None, "last_run": None, "problem": None}
    try:
        out["hosts"] = host_count(client)
        pol = inventory.load_policy(client)
        windows = maint_window.from_policy(pol)
        out["timezone"] = str(windows.tz)
        now = maint_clock.now()
        current = windows.current(now)
        if current:
            out["in_window_until"] = current.end.astimezone(windows.tz).isoformat()
        upcoming = windows.next(now, 1)
        if upcoming:
            out["next_window"] = upcoming[0].start.astimezone(windows.tz).isoformat()
    except (InvalidInput, ValueError) as exc:  # PolicyError is a ValueError
        out["problem"] = clip(exc, 160)
    if store is not None:
        out["last_run"] = last_run(store, client)
    return out


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else "-"


def run_list(args: argparse.Namespace) -> int:
    """Print one line per client (exit 0), or say there is none."""
    names = inventory.clients()
    store: Store | None
    try:
        store = Store()
    except sqlite3.Error:
        store = None
    try:
        rows = [describe(store, name) for name in names]
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no clients in {inventories_dir()}: maintctl client new NAME --name TEXT --timezone ZONE")
        return 0
    print(f"{'client':<16} {'hosts':>5}  {'timezone':<18} {'next window':<17}  last run")
    for row in rows:
        run = row["last_run"]
        last = (f"{_when(run['started'])} {run['kind']} {run['areas']} {run['status']}"
                + (" (check)" if run["check_mode"] else "")) if run else "never"
        window = f"now, until {_when(row['in_window_until'])[11:]}" if row["in_window_until"] \
            else _when(row["next_window"])
        hosts = "?" if row["hosts"] is None else str(row["hosts"])
        line = f"{row['client']:<16} {hosts:>5}  {row['timezone'] or '?':<18} {window:<17}  {last}"
        print(line + (f"  [{row['problem']}]" if row["problem"] else ""))
    return 0
