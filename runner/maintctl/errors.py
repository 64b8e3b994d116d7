"""The small exception hierarchy of maintctl; each maps to an exit code."""

from __future__ import annotations


class MaintError(Exception):
    """Base class: a one-line message for the user and an exit code."""

    exit_code = 1


class InvalidInput(MaintError):
    """Bad inventory, policy, schedule or argument: nothing ran (exit 2)."""

    exit_code = 2


class Interrupted(MaintError):
    """The run was interrupted and can be resumed (exit 3)."""

    exit_code = 3


class LockHeld(MaintError):
    """Another run holds the client's lock (exit 4)."""

    exit_code = 4


class LabError(MaintError):
    """The lab could not be built, started or stopped."""

    exit_code = 1
