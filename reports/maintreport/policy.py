"""The report's view of a client's policy: the ``report`` section with its defaults.

The defaults here are the documented defaults of ``schemas/policy/report.schema.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from maintctl.config import inventories_dir
from maintctl.errors import InvalidInput

# Weights of the compliance score (see reports/README.md, "Compliance score").
DEFAULT_WEIGHTS: dict[str, float] = {
    "hardware": 25.0, "antivirus": 20.0, "backup": 25.0, "patch": 20.0, "reachability": 10.0,
}
REPORT_DEFAULTS: dict[str, Any] = {
    "currency": "EUR",
    "technician_rate": None,        # per hour, planned work
    "emergency_multiplier": 1.5,    # emergency labour costs this many times the technician rate
    "staff_cost_per_hour": None,    # loaded cost of one member of the client's staff, per hour
    "staff_count": None,            # staff who stop working when a server is down
    "outage_hours": 8.0,            # business hours lost when a failure is found late
    "emergency_hours": 4.0,         # technician hours to recover from a late failure
    "planned_fix_hours": 1.0,       # technician hours to fix a finding early
    "disk_part_cost": 150.0,        # price of a replacement disk
    "trend_months": 6,
    "findings_lookback_days": 92,   # how far back the first-seen time of an open finding is looked for
    "score_weights": DEFAULT_WEIGHTS,
    "locale": "en",
}


def load_client_policy(client: str) -> dict[str, Any]:
    """Return a client's ``maint_policy``; raise InvalidInput for an unknown client.

    Uses the orchestrator's ``maintctl.policy.load_policy`` when it is available.
    """
    try:
        from maintctl.policy import load_policy
    except ImportError:  # pragma: no cover - only before the lead's policy module landed
        return _read_policy(client)
    policy: dict[str, Any] = load_policy(client)
    return policy


def _read_policy(client: str) -> dict[str, Any]:
    path = Path(inventories_dir()) / client / "group_vars" / "all" / "policy.yml"
    if not path.is_file():
        raise InvalidInput(f"unknown client {client!r}: {path} does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("maint_policy"), dict):
        raise InvalidInput(f"{path}: maint_policy: missing or not a mapping")
    policy: dict[str, Any] = data["maint_policy"]
    return policy


def report_settings(policy: dict[str, Any]) -> dict[str, Any]:
    """Return the policy's ``report`` section merged over the defaults."""
    section = policy.get("report") or {}
    merged = {**REPORT_DEFAULTS, **section}
    merged["score_weights"] = {**DEFAULT_WEIGHTS, **(section.get("score_weights") or {})}
    return merged


def sla_hours(policy: dict[str, Any]) -> dict[str, float]:
    """Return the SLA response time in hours per severity (P1..P4)."""
    table = (policy.get("sla") or {}).get("response_hours") or {}
    return {str(k): float(v) for k, v in table.items()}
