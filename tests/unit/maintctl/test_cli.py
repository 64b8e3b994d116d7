"""The command line imports only the invoked subcommand's module, and still lists every one."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from maintctl import __version__, cli


def _help_lines(parser: argparse.ArgumentParser) -> dict[str, str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {action.dest: str(action.help) for action in sub._choices_actions}


def test_the_help_lines_are_the_modules_own() -> None:
    """Every placeholder says what the module's own parser says, in the same order."""
    full = _help_lines(cli.build_parser())
    assert full == {name: helptext for name, _, helptext in cli.COMMANDS}
    assert list(full) == [name for name, _, _ in cli.COMMANDS]


@pytest.mark.parametrize("command", ["run", "validate", "adhoc", "alerts"])
def test_only_the_invoked_module_is_imported(command: str) -> None:
    code = ("import json, sys; from maintctl import cli; cli.build_parser(sys.argv[1:]);"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('maintctl.cmd_'))))")
    out = subprocess.run([sys.executable, "-c", code, command, "--client", "x"], capture_output=True, text=True,
                         check=True).stdout
    module = next(module for name, module, _ in cli.COMMANDS if name == command)
    assert json.loads(out) == [module]


def test_help_lists_every_subcommand_without_importing_them(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for name, _, helptext in cli.COMMANDS:
        assert f"    {name} " in out or f"    {name}\n" in out
        assert helptext.split()[0] in out
    assert _help_lines(cli.build_parser(["--help"])) == _help_lines(cli.build_parser())


def test_the_invoked_subcommand_has_its_full_parser(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser(["run", "--client", "acme", "--check"]).parse_args(["run", "--client", "acme", "--check"])
    assert args.command == "run" and args.client == "acme" and args.check and callable(args.func)
    with pytest.raises(SystemExit) as done:  # play's own parser, not a placeholder
        cli.main(["play", "--client", "acme"])
    assert done.value.code == 2 and "required: PLAYBOOK" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        cli.main(["nosuch"])
    assert done.value.code == 2 and "invalid choice: 'nosuch'" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"maintctl {__version__}"
