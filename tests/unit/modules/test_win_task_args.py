"""Windows module arguments in every task match what the module documents.

ansible-lint does not check ansible.windows.* arguments, and no Windows host runs
here (LAB.md), so a misspelt option would only fail on a client's machine. This
scans every task of roles/*/tasks, roles/*/handlers, roles/*/molecule and
playbooks/, and checks the options of each ansible.windows.* / community.windows.*
task, and of the project's own win_* modules (plugins/modules), against
``ansible-doc -j MODULE`` (run once per module per test session).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.playbook.task import Task

ROOT = Path(__file__).resolve().parents[3]
WINDOWS_PREFIXES = ("ansible.windows.", "community.windows.")
LOCAL_WIN_MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("win_*.ps1"))
TASK_KEYWORDS = set(Task.fattributes) | {"local_action", "block", "rescue", "always"}
FREE_FORM = {"_raw_params", "free_form"}  # how modules document a free-form argument


def _task_files() -> list[Path]:
    patterns = ("roles/*/tasks/*.yml", "roles/*/handlers/*.yml", "roles/*/molecule/*/*.yml", "playbooks/*.yml")
    return sorted({p for pattern in patterns for p in ROOT.glob(pattern)})


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Yield every task mapping in a tasks file or playbook (plays, blocks, handlers)."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        if "hosts" in node or "import_playbook" in node or "ansible.builtin.import_playbook" in node:
            for key in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                yield from _walk(node.get(key) or [])
            return
        if any(key in node for key in ("block", "rescue", "always")):
            for key in ("block", "rescue", "always"):
                yield from _walk(node.get(key) or [])
            return
        yield node


def _action(task: dict[str, Any]) -> tuple[str, Any] | None:
    for key, value in task.items():
        if key in TASK_KEYWORDS or key.startswith("with_"):
            continue
        return key, value
    return None


def windows_tasks(document: Any) -> Iterator[tuple[str, str, Any]]:
    """Yield (task name, module, arguments) for every Windows module task of a parsed file."""
    for task in _walk(document):
        found = _action(task)
        if not found:
            continue
        module, args = found
        short = module.rsplit(".", 1)[-1]
        if not (module.startswith(WINDOWS_PREFIXES) or (module == short and short in LOCAL_WIN_MODULES)):
            continue
        if isinstance(task.get("args"), dict):
            args = {**(args if isinstance(args, dict) else {}), **task["args"]}
        yield str(task.get("name", "(unnamed)")), module, args


@functools.cache
def documented_options(module: str) -> frozenset[str]:
    """Return the option names and aliases ``ansible-doc -j MODULE`` lists (cached per session)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-j", module], capture_output=True, text=True, env=env, check=False,
                          timeout=120)
    assert proc.returncode == 0, f"ansible-doc -j {module} failed: {proc.stderr.strip()[:300]}"
    data = json.loads(proc.stdout)
    assert data, f"ansible-doc knows no module {module}"
    options = next(iter(data.values()))["doc"].get("options") or {}
    names = set(options)
    for spec in options.values():
        names.update(spec.get("aliases") or [])
    return frozenset(names)


def problems(module: str, args: Any) -> list[str]:
    """Return what is wrong with ``args`` for ``module`` (empty when every option is documented)."""
    options = documented_options(module)
    if isinstance(args, str):
        if "{{" in args:
            return []
        return [] if FREE_FORM & options else [f"{module} takes no free-form argument: {args!r}"]
    if args is None:
        return []
    if not isinstance(args, dict):
        return [f"{module}: arguments must be a mapping, got {type(args).__name__}"]
    unknown = sorted(set(args) - options)
    return [f"{module}: unknown option {name!r} (documented: {', '.join(sorted(options))})" for name in unknown]


def _all_windows_tasks() -> list[tuple[str, str, str, Any]]:
    found = []
    for path in _task_files():
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name, module, args in windows_tasks(document):
            found.append((str(path.relative_to(ROOT)), name, module, args))
    return found


ALL_TASKS = _all_windows_tasks()


def test_windows_tasks_are_found() -> None:
    assert any(module == "win_hardware" for _, _, module, _ in ALL_TASKS)


@pytest.mark.parametrize(("path", "name", "module", "args"), ALL_TASKS,
                         ids=[f"{p}:{n}" for p, n, _, _ in ALL_TASKS])
def test_task_uses_only_documented_options(path: str, name: str, module: str, args: Any) -> None:
    assert not problems(module, args), f"{path}: task '{name}': {problems(module, args)}"


NEGATIVE = """
- name: Play
  hosts: windows
  tasks:
    - name: Good
      ansible.windows.win_command:
        cmd: whoami
    - name: Free form
      ansible.windows.win_shell: Get-Date
    - name: Misspelt option
      ansible.windows.win_service:
        nmae: Spooler
        state: started
    - name: Inside a block
      block:
        - name: Bad option in a block
          ansible.windows.win_command:
            cmd: whoami
            timeout_s: 3
    - name: Not Windows
      ansible.builtin.command:
        cmd: whoami
        bogus: 1
"""


def test_bad_options_are_detected() -> None:
    tasks = list(windows_tasks(yaml.safe_load(NEGATIVE)))
    assert [name for name, _, _ in tasks] == ["Good", "Free form", "Misspelt option", "Bad option in a block"]
    verdicts = {name: problems(module, args) for name, module, args in tasks}
    assert verdicts["Good"] == [] and verdicts["Free form"] == []
    assert "unknown option 'nmae'" in verdicts["Misspelt option"][0]
    assert "unknown option 'timeout_s'" in verdicts["Bad option in a block"][0]
    assert problems("win_hardware", {"policy": {}, "polcy": {}})[0].startswith(
        "win_hardware: unknown option 'polcy'")
    assert problems("ansible.windows.win_service", "Spooler")  # no free form
