"""A generated month of a 50-host client, written the way maintctl fills the store.

November 2026 (client timezone Europe/Paris), reported on December 1st. Weekly nightly runs of
every area (stored, then through ``supervision.ingest_run``, which opens the alerts), probe
cycles every six hours (``supervision.observe``), people's interventions, and the same in
September and October for the month over month; August has nothing (a month without data).

* 50 hosts (``srv01``..``srv50``), 26 results each per run (hardware, antivirus, backup, patch,
  reachability) with real check ids of the catalogue;
* srv07's disk /srv fills up (warning then critical), srv12's SMART fails, srv20-srv24 miss
  security updates, srv31's backup is stale and its restore test fails;
* srv40 is down for a day (Nov 10), srv50 is never probed (not measured);
* interventions: two by people (one linked to srv07's alert), patches installed by the roles.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import yaml

from maintcore import interventions, supervision
from maintcore.store import Store

CLIENT = "fifty"
HOSTS = tuple(f"srv{n:02d}" for n in range(1, 51))
POLICY: dict[str, Any] = {
    "client_name": "Cinquante SARL", "timezone": "Europe/Paris", "windows": ["Mon-Fri 20:00-06:00"],
    "sla": {"response_hours": {"P1": 4, "P2": 8, "P3": 24, "P4": 72},
            "resolve_hours": {"P1": 24, "P2": 48, "P3": 96, "P4": 168}},
    "supervision": {"availability_target_pct": 99.5},
    "report": {"currency": "EUR", "technician_rate": 85, "staff_cost_per_hour": 45, "staff_count": 12,
               "locale": "fr"},
}
# (check, area, item): what every host reports at every nightly run
CHECKS = (
    [("run.reachability", "run", "")]
    + [("hardware.disk_free", "hardware", m) for m in ("/", "/var", "/srv")]
    + [("hardware.smart", "hardware", "/dev/sda"), ("hardware.raid", "hardware", "md0"),
       ("hardware.memory", "hardware", ""), ("hardware.uptime", "hardware", ""),
       ("hardware.load", "hardware", ""), ("hardware.temperature", "hardware", "cpu")]
    + [("antivirus.product", "antivirus", ""), ("antivirus.protection", "antivirus", ""),
       ("antivirus.signature_age", "antivirus", ""), ("antivirus.scan_age", "antivirus", ""),
       ("antivirus.threats", "antivirus", "")]
    + [("backup.freshness", "backup", "nas"), ("backup.integrity", "backup", "nas"),
       ("backup.restore_sample", "backup", "nas")]
    + [("patch.pending", "patch", ""), ("patch.pending_security", "patch", ""),
       ("patch.reboot_required", "patch", ""), ("patch.last_patched", "patch", ""),
       ("patch.installed", "patch", ""), ("patch.precheck", "patch", ""), ("patch.post_check", "patch", ""),
       ("patch.deferred", "patch", "")]
)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_client(root: Path, policy: dict[str, Any] | None = None) -> None:
    """The client's inventory and policy under ``root/inventories``."""
    inv = root / "inventories" / CLIENT
    (inv / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    hosts: dict[str, Any] = {"all": {"children": {"linux": {"hosts": {h: {} for h in HOSTS}}}}}
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    (inv / "group_vars" / "all" / "policy.yml").write_text(
        yaml.safe_dump({"maint_policy": policy or POLICY}), encoding="utf-8")


def _status(host: str, check: str, item: str, week: int, month: int, rnd: random.Random) -> str:
    """What a check says on a host in a given week (0-3) of a month (9, 10, 11)."""
    n = int(host[3:])
    late = month == 11
    if check == "hardware.disk_free" and host == "srv07" and item == "/srv":
        return "critical" if late and week >= 2 else "warning" if late or week >= 3 else "ok"
    if check == "hardware.smart" and host == "srv12" and late:
        return "critical"
    if check == "patch.pending_security" and 20 <= n <= 24 and (late or n <= 21):
        return "warning"
    if check in ("backup.freshness", "backup.restore_sample") and host == "srv31" and late and week >= 1:
        return "critical"
    if check == "antivirus.signature_age" and host == "srv44" and late and week == 3:
        return "warning"
    if check == "hardware.temperature" and n % 17 == 0:
        return "unknown"  # a sensor nobody can read
    return "critical" if rnd.random() < 0.001 else "ok"


def _observed(check: str, status: str, rnd: random.Random) -> dict[str, Any]:
    if check == "hardware.disk_free":
        return {"free_pct": 4.0 if status == "critical" else 12.0 if status == "warning" else round(30 + rnd.random() * 50, 1)}
    if check == "backup.restore_sample":
        return {"files_restored": 0 if status != "ok" else 20, "checksum_verified": 0 if status != "ok" else 20,
                "restore_seconds": 12.5}
    if check == "patch.pending_security":
        return {"count": 3 if status != "ok" else 0, "oldest_age_days": 18 if status != "ok" else 0}
    if check == "hardware.uptime":
        return {"uptime_days": round(3 + rnd.random() * 20, 1)}
    return {"value": round(rnd.random() * 100, 1)}


def nightly_runs(store: Store, month: int) -> None:
    """Four weekly runs of every area in a month (Mondays 21:30 UTC), through the alert engine."""
    rnd = random.Random(month)
    first = {9: 7, 10: 5, 11: 2}[month]
    for week in range(4):
        at = dt.datetime(2026, month, first + 7 * week, 21, 30, tzinfo=dt.UTC)
        run_id = f"night-2026{month:02d}{first + 7 * week:02d}"
        store.start_run({"run_id": run_id, "client": CLIENT, "kind": "scheduled",
                         "areas": "hardware,antivirus,backup,patch", "check_mode": False, "started": iso(at),
                         "hosts_total": len(HOSTS)})
        results = []
        for host in HOSTS:
            for check, area, item in CHECKS:
                status = _status(host, check, item, week, month, rnd)
                severity = {"critical": "P2", "warning": "P3"}.get(status)
                changed = check == "patch.installed" and (int(host[3:]) + week) % 9 == 0
                results.append({
                    "client": CLIENT, "host": host, "run_id": run_id, "check": check, "item": item, "area": area,
                    "status": status, "severity": severity,
                    "summary": f"{check} {item} on {host}: {status}".replace("  ", " "),
                    "observed": _observed(check, status, rnd), "threshold": {"warn": 15, "crit": 5},
                    "remediation": "Follow the runbook for this check." if status != "ok" else "",
                    "changed": changed, "started": iso(at), "finished": iso(at + dt.timedelta(minutes=4)),
                })
        with store.transaction() as db:
            ids = store.insert_results(db, results)
        supervision.ingest_run(store, CLIENT, results, ids, POLICY)
        store.finish_run(run_id, "completed", 2, iso(at + dt.timedelta(minutes=6)))


def probes(store: Store, month: int) -> None:
    """Probe cycles every six hours over the month; srv40 down all of Nov 10, srv50 never probed."""
    interval = 6 * 3600
    t = dt.datetime(2026, month, 1, 0, 0, tzinfo=dt.UTC)
    end = dt.datetime(2026, month + 1, 1, tzinfo=dt.UTC)
    while t < end:
        run_id = f"probe-{iso(t)}"
        results = []
        for host in HOSTS[:-1]:
            down = host == "srv40" and month == 11 and t.day == 10
            status = "critical" if down else "ok"
            results.append({"client": CLIENT, "host": host, "run_id": run_id, "check": "service.tcp",
                            "item": "ssh:22", "status": status, "severity": "P1" if down else None,
                            "summary": f"ssh on {host}: {status}", "observed": {"availability": True},
                            "threshold": {}, "remediation": "", "changed": False, "started": iso(t),
                            "finished": iso(t)})
        supervision.observe(store, CLIENT, {"run_id": run_id, "kind": "probe", "areas": "probe", "started": iso(t)},
                            results, POLICY, interval_s=interval)
        t += dt.timedelta(seconds=interval)


def fill(store: Store) -> None:
    """Write September to November (see the module docstring)."""
    store.db.execute("PRAGMA synchronous=OFF")
    for month in (9, 10, 11):
        probes(store, month)
        nightly_runs(store, month)
    for alert in supervision.list_alerts(store, CLIENT, ("open",), since="2026-11-01T00:00:00Z"):
        opened = dt.datetime.strptime(alert["opened"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        supervision.acknowledge(store, CLIENT, int(alert["id"]), "alice", None, at=iso(opened + dt.timedelta(hours=2)))
    disk = next(a for a in supervision.list_alerts(store, CLIENT, supervision.STATES, host="srv07"))
    interventions.add(store, CLIENT, "Moved old exports off /srv", "alice", host="srv07", minutes=45,
                      at="2026-11-17T09:00:00Z", kind="corrective", alert_id=int(disk["id"]))
    interventions.add(store, CLIENT, "Checked the UPS and the server room", "bob", minutes=30,
                      at="2026-11-20T14:00:00Z", kind="preventive")
