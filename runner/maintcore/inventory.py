"""A client's files: its inventory folder, the one safe YAML reader, and its policy document.

Both the orchestrator (maintctl) and the reports (maintreport) read a client's files
through this module, so that a hostile file (an alias bomb, a binary blob, a repeated key)
is refused the same way everywhere, as one :class:`~maintcore.errors.InvalidInput` line.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.reader import ReaderError

from .config import PROJECT_DIR, inventories_dir
from .errors import InvalidInput, clip

CLIENT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
POLICY_FILE = Path("group_vars") / "all" / "policy.yml"


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


def project_relative(path: Path) -> str:
    """Return ``path`` relative to the project when it is inside it (for messages)."""
    try:
        return str(path.relative_to(PROJECT_DIR))
    except ValueError:
        return str(path)


# Bounds of what read_yaml accepts: far above any real inventory or policy, far below what
# hurts (a "billion laughs" alias bomb expands to 10^9 nodes from a 1 kB file).
MAX_YAML_BYTES = 8 * 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 1000
MAX_YAML_NODES = 200_000


class Vaulted(str):
    """An inline ``!vault`` value: its clear text is unknown to maintctl (empty string)."""


class YAMLLimitError(yaml.MarkedYAMLError):
    """A YAML document that exceeds :data:`MAX_YAML_DEPTH`, aliases or nodes, or repeats a key."""


class SafeLimitedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses hostile documents instead of choking on them.

    * a key repeated in one mapping (which YAML keeps silently: the last one wins, so a
      reviewed value can be overridden further down the file);
    * nesting deeper than :data:`MAX_YAML_DEPTH`;
    * more than :data:`MAX_YAML_ALIASES` alias uses, a recursive alias, or a document that
      would expand to more than :data:`MAX_YAML_NODES` nodes (an alias bomb);
    * Ansible's ``!vault`` (a :class:`Vaulted` placeholder) and ``!unsafe`` tags are read.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        # Expanded size of every node composed so far; a collection gets its size once all
        # its children are composed, so an alias to a node without one is recursive.
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, counting depth, aliases and the expanded size."""
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise YAMLLimitError(None, None, f"more than {MAX_YAML_ALIASES} aliases (*name)", mark)
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise YAMLLimitError(None, None, f"recursive alias *{event.anchor}", mark)
            return node
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise YAMLLimitError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        size = 1 + sum(self._sizes[id(child)] for child in children)
        if size > MAX_YAML_NODES:
            raise YAMLLimitError(None, None, f"expands to more than {MAX_YAML_NODES} values (an alias bomb?)",
                                 mark)
        self._sizes[id(node)] = size
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        """Refuse a key repeated in one mapping (merge keys ``<<`` may be overridden)."""
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue
                if first is not key_node:
                    raise YAMLLimitError(None, None, f"duplicate key {clip(key, 60)!r} (first on line "
                                         f"{first.start_mark.line + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _construct_vault(loader: yaml.SafeLoader, node: yaml.Node) -> Vaulted:
    return Vaulted("")


def _construct_unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


SafeLimitedLoader.add_constructor("!vault", _construct_vault)
SafeLimitedLoader.add_constructor("!unsafe", _construct_unsafe)


def read_yaml(path: Path) -> Any:
    """Parse one client file safely; any problem is one line naming the file (InvalidInput).

    The file must be a regular file of UTF-8 text under :data:`MAX_YAML_BYTES`; it is parsed
    with :class:`SafeLimitedLoader` (no duplicate keys, bounded depth and aliases). Syntax
    errors name the line. This is the one reader for every client file maintctl opens.
    """
    where = project_relative(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"{where}: not a regular file")
        if info.st_size > MAX_YAML_BYTES:
            raise InvalidInput(f"{where}: {info.st_size} bytes, more than the {MAX_YAML_BYTES} a client file may have")
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{where}: cannot read: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
                           "save it as UTF-8") from None
    loader: SafeLimitedLoader | None = None
    try:
        loader = SafeLimitedLoader(text)
        return loader.get_single_data()
    except ReaderError as exc:
        raise InvalidInput(f"{where}: invalid YAML: character #x{exc.character:04x} at offset {exc.position} "
                           "is not allowed (a binary file?)") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}" if mark else "?"
        raise InvalidInput(f"{where}: {line}: invalid YAML: {clip(exc.problem, 200)}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{where}: invalid YAML: {clip(exc, 200)}") from None
    except RecursionError:
        raise InvalidInput(f"{where}: invalid YAML: nested too deep") from None
    except MemoryError:
        raise InvalidInput(f"{where}: invalid YAML: too large to load") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date such as 2026-13-01
        raise InvalidInput(f"{where}: invalid YAML value: {clip(exc, 200)}") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_policy(client: str) -> dict[str, Any]:
    """Return a client's ``maint_policy`` document (not yet validated)."""
    path = client_dir(client) / POLICY_FILE
    if not path.is_file():
        raise InvalidInput(f"{project_relative(path)}: missing: every client needs a policy (key maint_policy)")
    return policy_from(path, read_yaml(path))


def policy_from(path: Path, data: Any) -> dict[str, Any]:
    """Return the ``maint_policy`` document of the parsed policy file ``path``, or raise InvalidInput."""
    if not isinstance(data, dict) or not isinstance(data.get("maint_policy"), dict):
        raise InvalidInput(f"{project_relative(path)}: maint_policy: missing or not a mapping")
    policy: dict[str, Any] = data["maint_policy"]
    return policy


# A host or group name maintctl can count on its own: no range (web[01:10]), no port (web:2222), no pattern.
PLAIN_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
GROUP_KEYS = frozenset({"hosts", "children", "vars"})


def yaml_inventory_groups(data: Any) -> dict[str, set[str]] | None:
    """Return every group of a parsed hosts.yml with all its hosts (its children's included), or None.

    Ansible's YAML inventory shape read strictly: groups are mappings of ``hosts`` (a mapping of
    plain host names), ``children`` (a mapping of groups) and ``vars``. Anything else (host ranges,
    ports, an inventory plugin's configuration, an unexpected key or type) is None: then only
    Ansible knows the hosts. ``all`` always holds every host.
    """
    if not isinstance(data, dict):
        return None
    groups: dict[str, set[str]] = {}

    def walk(name: Any, body: Any, depth: int) -> set[str] | None:
        if not isinstance(name, str) or not PLAIN_NAME_RE.match(name) or depth > MAX_YAML_DEPTH:
            return None
        if body is None:
            body = {}
        if not isinstance(body, dict) or not set(body) <= GROUP_KEYS:
            return None
        hosts, children = body.get("hosts") or {}, body.get("children") or {}
        if not isinstance(hosts, dict) or not isinstance(children, dict) \
                or not isinstance(body.get("vars") or {}, dict):
            return None
        if not all(isinstance(h, str) and PLAIN_NAME_RE.match(h) for h in hosts):
            return None
        found = set(hosts)
        for child, sub in children.items():
            below = walk(child, sub, depth + 1)
            if below is None:
                return None
            found |= below
        groups[name] = groups.get(name, set()) | found
        return found

    for name, body in data.items():
        if walk(name, body, 0) is None:
            return None
    groups["all"] = set().union(*groups.values()) if groups else set()
    return groups
