# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Filters for the in-play maintenance window guard.

The window logic lives in one place, ``plugins/module_utils/maint_window.py``; these filters
only call it. A filter runs in the controller's process, where ``ansible.module_utils`` holds
only Ansible's own files: the project's files are loaded with the shared loader
``../module_utils/maint_loader.py`` (by its path, so an AWX project checkout or a
``--worker`` that received only the Ansible content works), with the ``maint_utils`` package
(``pip install -e .``) as the fallback when that folder is not next to this one.

"Now" is ``maint_clock.now()``: the wall clock, or ``MAINT_TEST_NOW`` in tests, the same clock
the orchestrator used to compute ``maint_window_end``.
"""

from __future__ import annotations

import importlib.util
import os

from ansible.errors import AnsibleFilterError

_LOADER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "module_utils", "maint_loader.py")
_MODULES = {}


def _utils():
    """Return ``(maint_clock, maint_window, maint_result)``, loaded once."""
    if not _MODULES:
        if os.path.isfile(_LOADER_PATH):
            spec = importlib.util.spec_from_file_location("maint_loader", _LOADER_PATH)
            loader = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loader)
            # Dependencies first: each file's own "from ansible.module_utils.X import" needs the one before.
            window = loader.load("maint_result", "maint_clock", "maint_window")
            clock, result = loader.load("maint_clock"), loader.load("maint_result")
        else:  # pragma: no cover - the filter copied without the project's module_utils
            from maint_utils import maint_clock as clock
            from maint_utils import maint_result as result
            from maint_utils import maint_window as window
        _MODULES.update(clock=clock, window=window, result=result)
    return _MODULES["clock"], _MODULES["window"], _MODULES["result"]


def maint_window_remaining_minutes(window_end):
    """Minutes left until ``window_end`` (ISO UTC); None when ``window_end`` is empty."""
    clock, window, result = _utils()
    try:
        return window.remaining_minutes(str(window_end or ""), clock.now())
    except result.PolicyError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def maint_window_guard(window_end, min_remaining=30, needs_seconds=0):
    """Whether a new disruptive task may start now: dict with allowed, remaining_minutes, reason.

    ``needs_seconds`` is how long the task may take (a reboot's timeout); the window must
    have the larger of it and ``min_remaining`` minutes left.
    """
    clock, window, result = _utils()
    try:
        return window.guard(str(window_end or ""), min_remaining, clock.now(), needs_seconds)
    except result.PolicyError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule(object):
    """Maintenance window filters."""

    def filters(self):
        return {
            "maint_window_remaining_minutes": maint_window_remaining_minutes,
            "maint_window_guard": maint_window_guard,
        }
