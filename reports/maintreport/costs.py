"""Cost estimates for recommendations, in the seeds' own arithmetic.

A failing disk found early costs the part and a planned hour; found late it costs emergency
labour plus the hours the staff cannot work. Every estimate carries its assumptions as
sentences, shown next to the number. No estimate is made when the policy gives no costs.
When people recorded the time they spent on the same hosts and check (``maintctl intervention
add --minutes``), the planned fix is priced at that real time rather than the policy's guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Which failure a check's finding announces.
DISK_FAILURE = ("hardware.smart", "hardware.raid")
OUTAGE = ("hardware.disk_free", "hardware.memory", "run.reachability", "backup.")


def _kind(check: str) -> str:
    if check in DISK_FAILURE:
        return "disk"
    if any(check == p or (p.endswith(".") and check.startswith(p)) for p in OUTAGE):
        return "outage"
    return "planned"


def estimate_cost(check: str, status: str, hosts: int, settings: dict[str, Any],
                  text: Callable[..., str], real: dict[int, int] | None = None) -> dict[str, Any] | None:
    """Return ``{kind, early, late, avoided, currency, fix_hours, fix_based_on, assumptions}`` or None without costs.

    * ``early``: fixing now: planned hours at the technician rate (plus the part for a
      failing disk), for every host affected. The planned hours are the policy's
      ``planned_fix_hours``, or, with ``real`` (``{intervention id: minutes}``: what people
      spent on the same hosts and check this period), their mean (``fix_based_on``).
    * ``late``: the same failure found when it breaks: emergency hours at the technician
      rate times the emergency multiplier, plus outage hours x staff count x staff cost per
      hour (plus the part), per host. Only for findings that announce a failure (disk,
      outage kinds); for the rest ``late`` is None.
    * ``avoided``: late - early, the downtime cost avoided by acting now (at risk while open).
    """
    rate = settings.get("technician_rate")
    if rate is None or status == "unknown":
        return None
    kind = _kind(check)
    cur = settings["currency"]
    based_on = None
    if real:
        mean = round(sum(real.values()) / len(real), 1)
        based_on = {"count": len(real), "mean_minutes": mean, "interventions": sorted(real)}
        fix_h = mean / 60
        assumptions = [text("cost.assume_real", count=len(real), minutes=float(mean), rate=rate, currency=cur)]
    else:
        fix_h = float(settings["planned_fix_hours"])
        assumptions = [text("cost.assume_planned", hours=fix_h, rate=rate, currency=cur)]
    part = float(settings["disk_part_cost"]) if kind == "disk" else 0.0
    early = hosts * (fix_h * float(rate) + part)
    if part:
        assumptions.append(text("cost.assume_part", part=part, currency=cur))
    late = None
    staff, staff_cost = settings.get("staff_count"), settings.get("staff_cost_per_hour")
    if kind != "planned" and staff is not None and staff_cost is not None:
        em_h, mult = float(settings["emergency_hours"]), float(settings["emergency_multiplier"])
        out_h = float(settings["outage_hours"])
        late = hosts * (em_h * float(rate) * mult + out_h * float(staff) * float(staff_cost) + part)
        assumptions.append(text("cost.assume_emergency", hours=em_h, mult=mult))
        assumptions.append(text("cost.assume_outage", hours=out_h, staff=staff, cost=staff_cost, currency=cur))
    assumptions.append(text("cost.assume_hosts", hosts=hosts))
    return {
        "kind": kind, "currency": cur, "early": round(early, 2),
        "late": round(late, 2) if late is not None else None,
        "avoided": round(late - early, 2) if late is not None else None,
        "fix_hours": round(fix_h, 3), "fix_based_on": based_on,
        "assumptions": assumptions,
    }
