# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Filters for the in-play maintenance window guard.

The window logic lives in one place, ``maintctl.mwindows`` (runner/maintctl/mwindows.py);
these filters only call it. Filters run on the controller, where maintctl is installed
(``pip install -e .``). When it is not installed (an AWX project checkout run by an
execution environment without the package), the project's ``runner/`` folder, two levels
above this file, is put on ``sys.path`` so the same code is used; mwindows depends only
on the standard library and ``maintctl.errors``/``maintctl.clock``.

"Now" is ``maintctl.clock.now()``: the wall clock, or ``MAINT_TEST_NOW`` in tests, the
same clock the orchestrator used to compute ``maint_window_end``.
"""

from __future__ import annotations

import os
import sys

from ansible.errors import AnsibleFilterError

try:
    from maintctl import clock, mwindows
    from maintctl.errors import InvalidInput
except ImportError:  # pragma: no cover - a checkout without the package installed
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runner"))
    from maintctl import clock, mwindows
    from maintctl.errors import InvalidInput


def maint_window_remaining_minutes(window_end):
    """Minutes left until ``window_end`` (ISO UTC); None when ``window_end`` is empty."""
    try:
        return mwindows.remaining_minutes(str(window_end or ""), clock.now())
    except InvalidInput as exc:
        raise AnsibleFilterError(str(exc)) from exc


def maint_window_guard(window_end, min_remaining=30, needs_seconds=0):
    """Whether a new disruptive task may start now: dict with allowed, remaining_minutes, reason.

    ``needs_seconds`` is how long the task may take (a reboot's timeout); the window must
    have the larger of it and ``min_remaining`` minutes left.
    """
    try:
        return mwindows.guard(str(window_end or ""), min_remaining, clock.now(), needs_seconds)
    except InvalidInput as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule(object):
    """Maintenance window filters."""

    def filters(self):
        return {
            "maint_window_remaining_minutes": maint_window_remaining_minutes,
            "maint_window_guard": maint_window_guard,
        }
