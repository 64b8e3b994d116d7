"""The report's view of a client's policy: the ``report`` section with its defaults.

The defaults here are the documented defaults of ``schemas/policy/report.schema.json``.
"""

from __future__ import annotations

import math
import zoneinfo
from pathlib import Path
from typing import Any

import yaml

from maintcore.config import inventories_dir
from maintcore.errors import InvalidInput, MaintError
from maintcore.inventory import load_policy

from .secrets import Redactor, vault_values

MAX_POLICY_NODES = 20_000  # values in one policy, aliases counted each time they are used
MAX_ERROR = 240  # characters of an error's own text (the line names the client and the file too)

# Weights of the compliance score (see reports/README.md, "Compliance score"): the run-based
# areas, time-based availability and the alerts handled within SLA.
DEFAULT_WEIGHTS: dict[str, float] = {
    "hardware": 25.0, "antivirus": 20.0, "backup": 25.0, "patch": 20.0, "reachability": 10.0,
    "availability": 20.0, "alerts": 10.0,
}
DEFAULT_AVAILABILITY_TARGET = 99.5  # maint_policy.supervision.availability_target_pct
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


def policy_path(client: str) -> Path:
    """Return the path of a client's policy file."""
    return Path(inventories_dir()) / client / "group_vars" / "all" / "policy.yml"


def load_client_policy(client: str) -> dict[str, Any]:
    """Return a client's ``maint_policy``; raise InvalidInput for an unknown or unreadable one.

    Reads it with ``maintcore.inventory.load_policy``, as the orchestrator does. Whatever
    the file holds (binary data, invalid YAML, an alias bomb, wrong types), the result is a
    policy of bounded size whose report settings are usable, or one InvalidInput line.
    """
    where = f"{client}/group_vars/all/policy.yml"
    try:
        policy = load_policy(client)
    except MaintError:
        raise
    except (ValueError, yaml.YAMLError, RecursionError, MemoryError, OSError) as exc:
        raise InvalidInput(f"{where}: cannot read the policy: {one_line(exc)}") from None
    _check_size(policy, where)
    report_settings(policy, where)  # raise on unusable report settings now, not while rendering
    return policy


def one_line(exc: BaseException, limit: int = MAX_ERROR) -> str:
    """Return an exception as one line of at most ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, MaintError):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _check_size(policy: Any, where: str) -> None:
    """Refuse a policy that expands past MAX_POLICY_NODES values (YAML aliases count each use)."""
    stack, seen = [policy], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_POLICY_NODES:
            raise InvalidInput(f"{where}: maint_policy: more than {MAX_POLICY_NODES} values once YAML aliases"
                               " are expanded (an alias bomb?)")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def client_redactor(client: str) -> Redactor:
    """Return the redactor of a client's vault values (empty when the client has no vault)."""
    return Redactor(vault_values(client, Path(inventories_dir()) / client))


def insecure_transport(policy: dict[str, Any]) -> dict[str, str] | None:
    """Return ``{"reason": ...}`` when the policy turns host key or certificate checks off.

    Reads ``maint_policy.insecure_transport: {reason: "..."}``, the same key as
    ``maintctl.policy.insecure_transport``. Any other true value counts too, with no reason.
    """
    value = policy.get("insecure_transport")
    if not value:
        return None
    reason = value.get("reason") if isinstance(value, dict) else None
    return {"reason": " ".join(str(reason).split())[:500] if reason else "-"}


NUMBER_KEYS = ("technician_rate", "emergency_multiplier", "staff_cost_per_hour", "staff_count", "outage_hours",
               "emergency_hours", "planned_fix_hours", "disk_part_cost", "trend_months", "findings_lookback_days")
OPTIONAL_KEYS = ("technician_rate", "staff_cost_per_hour", "staff_count")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def report_settings(policy: dict[str, Any], where: str = "policy.yml") -> dict[str, Any]:
    """Return the policy's ``report`` section merged over the defaults.

    Raises InvalidInput, naming the key, when a setting cannot be used (not a number, NaN,
    negative, an unknown timezone or locale...): the schema is the policy's contract, and
    this keeps a policy that was never validated from crashing the report.
    """
    section = policy.get("report") or {}
    if not isinstance(section, dict):
        raise InvalidInput(f"{where}: maint_policy.report: not a mapping")
    weights = section.get("score_weights") or {}
    if not isinstance(weights, dict):
        raise InvalidInput(f"{where}: maint_policy.report.score_weights: not a mapping")
    merged = {**REPORT_DEFAULTS, **section}
    merged["score_weights"] = {**DEFAULT_WEIGHTS, **weights}
    for area, weight in merged["score_weights"].items():
        if not _finite(weight):
            raise InvalidInput(f"{where}: maint_policy.report.score_weights.{str(area)[:40]}: not a number >= 0")
    for key in NUMBER_KEYS:
        if not (_finite(merged[key]) or (merged[key] is None and key in OPTIONAL_KEYS)):
            raise InvalidInput(f"{where}: maint_policy.report.{key}: not a number >= 0")
    if not 1 <= merged["trend_months"] <= 120 or merged["findings_lookback_days"] > 3660:
        raise InvalidInput(f"{where}: maint_policy.report: trend_months (1-120) or findings_lookback_days"
                           " (0-3660) out of range")
    if not isinstance(merged["currency"], str) or len(merged["currency"]) > 12:
        raise InvalidInput(f"{where}: maint_policy.report.currency: not a short text")
    if merged["locale"] not in ("en", "fr"):
        raise InvalidInput(f"{where}: maint_policy.report.locale: use en or fr")
    tz = policy.get("timezone") or "UTC"
    try:
        zoneinfo.ZoneInfo(tz if isinstance(tz, str) else "")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{where}: maint_policy.timezone: unknown timezone") from None
    sla_hours(policy, where)
    sla_hours(policy, where, "resolve_hours")
    availability_target(policy, where)
    return merged


def sla_hours(policy: dict[str, Any], where: str = "policy.yml", table_name: str = "response_hours",
              ) -> dict[str, float]:
    """Return an SLA table in hours per severity (P1..P4): ``response_hours`` or ``resolve_hours``."""
    sla = policy.get("sla") or {}
    table = (sla.get(table_name) if isinstance(sla, dict) else None) or {}
    if not isinstance(sla, dict) or not isinstance(table, dict):
        raise InvalidInput(f"{where}: maint_policy.sla.{table_name}: not a mapping")
    for key, hours in table.items():
        if not _finite(hours) or hours > 24 * 366:
            raise InvalidInput(f"{where}: maint_policy.sla.{table_name}.{str(key)[:10]}: not a number of hours")
    return {str(k): float(v) for k, v in table.items()}


def availability_target(policy: dict[str, Any], where: str = "policy.yml") -> float:
    """Return ``maint_policy.supervision.availability_target_pct`` (default 99.5), a percentage."""
    section = policy.get("supervision") or {}
    value = section.get("availability_target_pct", DEFAULT_AVAILABILITY_TARGET) if isinstance(section, dict) \
        else DEFAULT_AVAILABILITY_TARGET
    if not _finite(value) or value > 100:
        raise InvalidInput(f"{where}: maint_policy.supervision.availability_target_pct: not a percentage")
    return float(value)


def client_name(policy: dict[str, Any], client: str) -> str:
    """Return the policy's ``client_name`` as one line of text, else the inventory name."""
    name = policy.get("client_name")
    if not isinstance(name, str | int | float) or isinstance(name, bool) or not str(name).strip():
        return client
    return " ".join(str(name).split())[:200]
