"""What a report must never show or execute: vault values, and cells a spreadsheet would run.

* :func:`vault_values` decrypts a client's Ansible Vault content (whole-file vaults and inline
  ``!vault`` values under the client's inventory folder) with the client's password file
  ``<vault dir>/<client>.pass``, in memory only, and returns every string value of at least
  :data:`MIN_SECRET` characters. Nothing decrypted is written anywhere.
* :class:`Redactor` replaces those values with :data:`REDACTED` in the report document
  (every format is rendered from it, so JSON, HTML, PDF, CSV, Markdown, the e-mail and the
  webhook payload all get the redacted text).
* :func:`neutralise_csv_cell` is the CSV injection rule (OWASP): a text cell that begins with
  ``= + - @``, a tab or a carriage return (or their full-width forms) gets a leading ``'``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from maintcore.config import vault_dir
from maintcore.errors import InvalidInput

REDACTED = "[redacted]"
MIN_SECRET = 4  # shorter vault values (ports, flags) are too common to redact
VAULT_HEADER = b"$ANSIBLE_VAULT;"
MAX_VAULT_BYTES = 4 * 1024 * 1024
MAX_VAULT_NODES = 100_000  # values walked per decrypted document (a YAML alias bomb stops here)

# -- CSV injection -----------------------------------------------------------------------------
# OWASP "CSV Injection": cells beginning with these are formulas (or DDE) in Excel, LibreOffice
# and Google Sheets. The full-width forms are read as formulas by some East Asian locales.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# A text cell that is only a plain decimal number (``-12.5``, ``+3``, ``-1e3``) is a number to
# every spreadsheet, never a formula: it is left readable instead of turned into text.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_csv_cell(value: Any) -> str:
    """Return a CSV cell that no spreadsheet evaluates as a formula.

    Numbers the report computed are written as numbers (non-finite ones as an empty cell);
    ``None`` is an empty cell. Text that begins with a formula character gets a leading
    single quote, unless the whole text is a plain decimal number.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) and math.isfinite(value) else (
            "" if isinstance(value, float) else str(value))
    text = str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


# -- vault values ------------------------------------------------------------------------------
class _Vaulted:
    """An inline ``!vault`` value, still encrypted."""

    def __init__(self, ciphertext: str) -> None:
        self.ciphertext = ciphertext


class _VaultLoader(yaml.SafeLoader):
    """SafeLoader that keeps ``!vault`` values encrypted and reads other Ansible tags plainly."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if suffix == "vault" and isinstance(node, yaml.ScalarNode):
        return _Vaulted(str(loader.construct_scalar(node)))
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None  # !unsafe: the text


_VaultLoader.add_multi_constructor("!", _tagged)


def _walk(data: Any, where: str) -> Iterator[Any]:
    """Yield every leaf and mapping key of a parsed document, at most MAX_VAULT_NODES of them."""
    stack = [data]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_VAULT_NODES:
            raise InvalidInput(f"{where}: more than {MAX_VAULT_NODES} values (a YAML alias bomb?)")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
        else:
            yield node


def _strings(value: str) -> Iterator[str]:
    """A secret, and each line of a multi-line one (a key or certificate)."""
    if len(value) >= MIN_SECRET:
        yield value
    if "\n" in value:
        for line in value.splitlines():
            line = line.strip()
            if len(line) >= MIN_SECRET:
                yield line


def _vault_files(folder: Path) -> Iterator[tuple[Path, bytes]]:
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink() and not path.resolve().is_relative_to(folder.resolve()):
            continue
        try:
            if path.stat().st_size > MAX_VAULT_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if data.startswith(VAULT_HEADER) or (b"!vault" in data and VAULT_HEADER in data):
            yield path, data


def vault_values(client: str, folder: Path) -> frozenset[str]:
    """Decrypt a client's vault content in memory; return its string values (>= MIN_SECRET chars).

    ``folder`` is the client's inventory folder. Fails closed: vault content without the
    client's password file, or with a wrong password, is an InvalidInput (the report would
    otherwise be written without knowing what to hide).
    """
    found = list(_vault_files(folder))
    if not found:
        return frozenset()
    password_file = vault_dir() / f"{client}.pass"
    try:
        password = password_file.read_bytes().strip()
    except OSError:
        raise InvalidInput(f"{found[0][0].name} of client {client!r} is vault-encrypted and the vault password"
                           f" file {password_file} cannot be read: the report cannot hide the vault's values"
                           ) from None
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import VaultLib, VaultSecret

    lib = VaultLib([("default", VaultSecret(password))])
    values: set[str] = set()

    def decrypt(ciphertext: bytes | str, where: str) -> str:
        try:
            plain: bytes = lib.decrypt(ciphertext)
        except AnsibleError:
            raise InvalidInput(f"{where}: vault decryption failed: wrong vault password for client {client!r}"
                               ) from None
        return plain.decode("utf-8", "replace")

    for path, data in found:
        where = f"{client}/{path.relative_to(folder)}"
        text = decrypt(data, where) if data.startswith(VAULT_HEADER) else data.decode("utf-8", "replace")
        try:
            doc = yaml.load(text, Loader=_VaultLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError:
            if data.startswith(VAULT_HEADER):  # a vaulted file that is not YAML: every line is secret
                values.update(_strings(text))
            continue
        for leaf in _walk(doc, where):
            if isinstance(leaf, _Vaulted):
                values.update(_strings(decrypt(leaf.ciphertext, where)))
            elif isinstance(leaf, str) and data.startswith(VAULT_HEADER):
                values.update(_strings(leaf))
    return frozenset(values)


# -- redaction ---------------------------------------------------------------------------------
class Redactor:
    """Replace every secret with REDACTED in strings, nested documents and stored JSON text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms.add(secret)
            forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])  # as it stands in stored JSON text
        ordered = sorted((f for f in forms if len(f) >= MIN_SECRET), key=lambda f: (-len(f), f))
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self.pattern is not None

    def text(self, value: str) -> str:
        """Return ``value`` with every secret replaced."""
        if self.pattern is None or not self.pattern.search(value):
            return value
        return self.pattern.sub(REDACTED, value)

    def json_text(self, value: str) -> str:
        """Redact a stored JSON text by value, so that the result is still valid JSON."""
        if self.pattern is None or not self.pattern.search(value):
            return value
        try:
            parsed = json.loads(value)
        except ValueError:
            return self.text(value)
        return json.dumps(self.obj(parsed), sort_keys=True, ensure_ascii=False)

    def obj(self, value: Any) -> Any:
        """Return a copy of a JSON-like document with every string (keys too) redacted."""
        if self.pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.obj(v) for v in value]
        return value
