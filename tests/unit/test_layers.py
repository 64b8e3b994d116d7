"""Layers point one way, and no first-party import forms a circle.

Run alone with ``.venv/bin/pytest -q tests/unit/test_layers.py``. Every ``import`` and
``from ... import`` of every Python file of the project is read with ``ast`` (function-level
imports too: a late import is still a dependency), mapped to its first-party module, then:

- each layer imports only the layers below it (see ARCHITECTURE.md):
  ``maint_utils`` (plugins/module_utils, standard library only) <- the Ansible plugins
  (modules, action, filter, callback, test) <- ``maintcore`` <- ``maintreport`` <- ``maintctl``;
- the graph of first-party modules has no cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {  # first-party package -> its folder
    "maint_utils": ROOT / "plugins" / "module_utils",
    "maintcore": ROOT / "runner" / "maintcore",
    "maintreport": ROOT / "reports" / "maintreport",
    "maintctl": ROOT / "runner" / "maintctl",
}
PLUGIN_KINDS = ("modules", "action", "filter", "callback", "test")
# What each layer must never import (first-party packages above it).
FORBIDDEN = {
    "maint_utils": {"maintcore", "maintreport", "maintctl"},
    "plugins": {"maintcore", "maintreport", "maintctl"},
    "maintcore": {"maintreport", "maintctl"},
    "maintreport": {"maintctl"},
    "maintctl": set(),
}
STDLIB = set(sys.stdlib_module_names)


def _sources() -> list[tuple[str, str, Path]]:
    """Return (layer, module name, path) for every first-party Python file."""
    out = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            out.append((package, name, path))
    for kind in PLUGIN_KINDS:
        for path in sorted((ROOT / "plugins" / kind).glob("*.py")):
            out.append(("plugins", f"plugins.{kind}.{path.stem}", path))
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``path`` imports, absolute, with ansible.module_utils.<ours> read as maint_utils.<ours>."""
    ours = {p.stem for p in PACKAGES["maint_utils"].glob("*.py")}
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            head = target.split(".")
            if head[:2] == ["ansible", "module_utils"] and len(head) > 2 and head[2] in ours:
                target = "maint_utils." + ".".join(head[2:])
            found.add(target)
    return found


SOURCES = _sources()
NAMES = {name for _, name, _ in SOURCES}


def _first_party(target: str) -> str | None:
    """The first-party module ``target`` names (a module, or a package's __init__), else None."""
    while target:
        if target in NAMES:
            return target
        target = target.rpartition(".")[0]
    return None


def test_the_sources_are_found() -> None:
    layers = {layer for layer, _, _ in SOURCES}
    assert {"maint_utils", "plugins", "maintctl", "maintreport"} <= layers, layers


@pytest.mark.parametrize(("layer", "name", "path"), SOURCES, ids=[name for _, name, _ in SOURCES])
def test_imports_point_down(layer: str, name: str, path: Path) -> None:
    bad = sorted(t for t in _imports(name, path) if t.split(".")[0] in FORBIDDEN[layer])
    assert not bad, f"{path.relative_to(ROOT)} ({layer}) imports a layer above it: {', '.join(bad)}"


@pytest.mark.parametrize("path", [p for layer, _, p in SOURCES if layer == "maint_utils"],
                         ids=[n for layer, n, _ in SOURCES if layer == "maint_utils"])
def test_module_utils_use_the_standard_library_only(path: Path) -> None:
    """module_utils travel to managed hosts inside AnsiballZ payloads: nothing but the stdlib there."""
    allowed_top = STDLIB | {"maint_utils", "ansible", "__future__"}
    bad = sorted(t for t in _imports("maint_utils." + path.stem, path) if t.split(".")[0] not in allowed_top)
    assert not bad, f"{path.relative_to(ROOT)} imports {', '.join(bad)}"


def test_no_import_circle() -> None:
    graph: dict[str, set[str]] = {}
    for _, name, path in SOURCES:
        deps = {_first_party(t) for t in _imports(name, path)}
        graph[name] = {d for d in deps if d and d != name and not name.startswith(d + ".")}
    # A package's __init__ importing its own submodules is not a circle of the code.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)
