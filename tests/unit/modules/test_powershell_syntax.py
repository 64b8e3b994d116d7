"""Every PowerShell file of the project parses with tree-sitter-powershell.

No PowerShell runs on the CI machine (see LAB.md), so this is the syntax check of
every *.ps1 under roles/ and plugins/: a parse tree with an ERROR or MISSING node
fails, with the file, line and column.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

ROOT = Path(__file__).resolve().parents[3]
PS_FILES = sorted(p for folder in ("roles", "plugins") for p in (ROOT / folder).rglob("*.ps1")
                  if ".venv" not in p.parts)
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def syntax_errors(source: bytes) -> list[str]:
    """Return 'line:column: ERROR|MISSING <text>' for every bad node of ``source``'s parse tree."""
    tree = PARSER.parse(source)
    found: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            kind = "MISSING" if node.is_missing else "ERROR"
            text = source[node.start_byte:node.end_byte][:40].decode("utf-8", "replace")
            found.append(f"{node.start_point[0] + 1}:{node.start_point[1] + 1}: {kind} {text!r}")
        stack.extend(node.children)
    if tree.root_node.has_error and not found:
        found.append("1:1: parse error")
    return sorted(found)


def test_there_are_powershell_files() -> None:
    assert PS_FILES, "no *.ps1 found under roles/ or plugins/"


@pytest.mark.parametrize("path", PS_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_parses_without_errors(path: Path) -> None:
    errors = syntax_errors(path.read_bytes())
    assert not errors, f"{path.relative_to(ROOT)}: " + "; ".join(errors)


@pytest.mark.parametrize("snippet", [
    b"if ($x { Write-Output 1 }",
    b"$h = @{ a = 1\n",
    b"function f { param([string]$a) ",
    b"try { 1 } catch {",
    b"$x = (1 + )",
])
def test_broken_snippets_are_detected(snippet: bytes) -> None:
    assert syntax_errors(snippet)


def test_valid_snippet_passes() -> None:
    source = b"#AnsibleRequires -CSharpUtil Ansible.Basic\n$spec = @{ options = @{} }\nif ($true) { $x = 1 }\n"
    assert syntax_errors(source) == []
