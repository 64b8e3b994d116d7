# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""The one clock of the project, so that tests can stamp runs with a past time.

Pure Python, standard library only: the orchestrator, the store, the reports and the
``maint_window`` filter plugin all read "now" here.

``MAINT_TEST_NOW`` (an ISO 8601 time, e.g. ``2026-10-05T21:00:00Z``) is a setting
for tests only: it fixes "now" for the orchestrator, the window logic and the store.
Results measured on hosts are shifted by the same offset when they are loaded.
"""

from __future__ import annotations

import datetime as dt
import os

UTC = dt.timezone.utc


def parse_iso(value: str) -> dt.datetime:
    """Parse an ISO 8601 time (``Z`` allowed); naive times are taken as UTC."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_iso(value: dt.datetime) -> str:
    """Format a time as ISO 8601 UTC with a Z suffix, to the second."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def real_now() -> dt.datetime:
    """Return the wall clock in UTC."""
    return dt.datetime.now(UTC)


def now() -> dt.datetime:
    """Return "now": the wall clock, or ``MAINT_TEST_NOW`` when tests set it."""
    fake = os.environ.get("MAINT_TEST_NOW")
    return parse_iso(fake) if fake else real_now()


def offset() -> dt.timedelta:
    """Return how far the test clock is from the wall clock (zero in production)."""
    fake = os.environ.get("MAINT_TEST_NOW")
    # Whole seconds: results are stamped to the second, so a result can never be shifted to a
    # time before the test clock's "now" (a run at 19:30:00 stamped 19:29:59).
    return parse_iso(fake) - real_now().replace(microsecond=0) if fake else dt.timedelta(0)
