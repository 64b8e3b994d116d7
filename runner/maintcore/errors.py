"""The small exception hierarchy of maintctl and its reports; each maps to an exit code.

Every message is one line of at most :data:`MAX_MESSAGE` characters: whatever a hostile
file makes a parser say (a 72 MB alias bomb, a binary blob, a multi-line traceback), the
user sees one short line.

The pure code under plugins/module_utils (window arithmetic, decide code) raises
``maint_result.PolicyError`` (a ValueError): :class:`InvalidInput` is one too, so
``except PolicyError`` catches both, and ``maintctl`` exits 2 for either.
"""

from __future__ import annotations

import re

from maint_utils.maint_result import PolicyError

MAX_MESSAGE = 300
# An invalid input's message may be a little longer, for a prefix such as "and 3 more".
INVALID_MESSAGE = MAX_MESSAGE + 60


def clip(text: object, limit: int = MAX_MESSAGE) -> str:
    """Return ``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    line = str(text)
    if len(line) > 4 * limit:
        line = line[:4 * limit]
    line = re.sub(r"\s+", " ", line).strip()
    return line if len(line) <= limit else line[:limit - 3].rstrip() + "..."


class MaintError(Exception):
    """Base class: a one-line message for the user and an exit code."""

    exit_code = 1


class InvalidInput(MaintError, PolicyError):  # type: ignore[misc]  # mypy does not map maint_utils
    """Bad inventory, policy, schedule or argument: nothing ran (exit 2).

    The message is made one line and clipped (with a little room for a prefix such as
    "and 3 more"), so that no input can print a huge or multi-line error.
    """

    exit_code = 2

    def __init__(self, message: object = "") -> None:
        super().__init__(clip(message, INVALID_MESSAGE))


class Interrupted(MaintError):
    """The run was interrupted and can be resumed (exit 3)."""

    exit_code = 3


class LockHeld(MaintError):
    """Another run holds the client's lock (exit 4)."""

    exit_code = 4


class LabError(MaintError):
    """The lab could not be built, started or stopped."""

    exit_code = 1


def exit_code(exc: BaseException) -> int:
    """Return the exit code of an error: its own for a MaintError, 2 for any other PolicyError, else 1."""
    if isinstance(exc, MaintError):
        return exc.exit_code
    return InvalidInput.exit_code if isinstance(exc, PolicyError) else 1
