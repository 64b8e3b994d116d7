"""Time-based availability in the monthly report, from real probe spans written by the alert engine.

The store is filled the way ``maintctl probe`` and ``maintctl run`` fill it: one
``supervision.observe`` per minute with every host's availability probe (interval 60 s), and
nightly runs stored then passed through ``supervision.ingest_run``. November 2026, client
timezone Europe/Paris, reported on December 1st (the whole month is over):

* srv1: down 08:00-18:00 UTC on Nov 2, 3 and 4, up the rest of those days; every nightly run
  (21:30) finds it reachable, so the old run-based figure read 100 %;
* srv2: up, but nobody probed it on Nov 3 from 12:00 to 14:00 (a gap: unknown);
* srv3: down Nov 3 02:00-03:00 inside a scheduled downtime 01:30-03:30 (planned, not down);
* srv4: only in the nightly runs, never probed: not measured.

Probing covers Nov 2 00:00 to Nov 5 00:00 UTC; the rest of the month is unknown for every host.
The alerts of that data are tested in test_alerts_section.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from maintcore import supervision
from maintcore.store import Store
from maintreport import api, build

T0 = dt.datetime(2026, 11, 2, 0, 0, tzinfo=dt.UTC)
DAYS = 3
CLIENT = "acme"
POLICY: dict[str, Any] = {
    "client_name": "Acme SA", "timezone": "Europe/Paris",
    "sla": {"response_hours": {"P1": 1, "P2": 4, "P3": 24, "P4": 72},
            "resolve_hours": {"P1": 12, "P2": 24, "P3": 72, "P4": 168}},
    "supervision": {"availability_target_pct": 99.5, "open_after": {"availability": 2, "other": 1}},
    "report": {"locale": "en"},
}
HOSTS = ("srv1", "srv2", "srv3", "srv4")


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def result(host: str, check: str, item: str, status: str, at: dt.datetime, run_id: str, *,
           availability: bool = False, severity: str | None = None) -> dict[str, Any]:
    observed: dict[str, Any] = {"availability": True, "elapsed_ms": 3} if availability else {"free_pct": 50.0}
    return {"client": CLIENT, "host": host, "run_id": run_id, "check": check, "item": item, "status": status,
            "summary": f"{host} {check} {status}", "observed": observed, "threshold": {}, "remediation": "",
            "changed": False, "started": iso(at), "finished": iso(at),
            "severity": severity if severity else ("P1" if status == "critical" else None)}


def probe_status(host: str, t: dt.datetime) -> str | None:
    """What the availability probe of ``host`` saw at ``t`` (None: not probed)."""
    minute = t.hour * 60 + t.minute
    if host == "srv1":
        return "critical" if 8 * 60 <= minute < 18 * 60 else "ok"
    if host == "srv2":
        return None if t.day == 3 and 12 * 60 <= minute < 14 * 60 else "ok"
    if host == "srv3":
        return "critical" if t.day == 3 and 2 * 60 <= minute < 3 * 60 else "ok"
    return None


def nightly_run(store: Store, day: int) -> None:
    at = dt.datetime(2026, 11, day, 21, 30, tzinfo=dt.UTC)
    run_id = f"night-{day}"
    store.start_run({"run_id": run_id, "client": CLIENT, "kind": "scheduled", "areas": "hardware",
                     "check_mode": False, "started": iso(at)})
    results = [result(h, "run.reachability", "", "ok", at, run_id) for h in HOSTS]
    results += [result(h, "hardware.disk_free", "/", "ok", at, run_id) for h in HOSTS]
    with store.transaction() as db:
        ids = store.insert_results(db, results)
    supervision.ingest_run(store, CLIENT, results, ids, POLICY)
    store.finish_run(run_id, "completed", 0, iso(at + dt.timedelta(minutes=5)))


def watch(store: Store, at: dt.datetime, results: list[dict[str, Any]]) -> supervision.Outcome:
    run = {"run_id": f"watch-{iso(at)}", "kind": "watch", "areas": "hardware", "started": iso(at)}
    for res in results:
        res["run_id"] = run["run_id"]
    return supervision.observe(store, CLIENT, run, results, POLICY)


def fill(store: Store) -> dict[str, int]:
    """Write the month (see the module docstring); return the ids of the alerts people handle."""
    store.db.execute("PRAGMA synchronous=OFF")  # a test store: thousands of one-minute cycles
    # an alert opened before the month by the watch, resolved by hand on Nov 1 (carried over)
    early = dt.datetime(2026, 10, 30, 10, 0, tzinfo=dt.UTC)
    carried = watch(store, early, [result("srv2", "backup.freshness", "nas", "critical", early, "")]).opened[0]
    supervision.resolve(store, CLIENT, carried, "dave", "restarted the backup job", at="2026-11-01T10:00:00Z")
    supervision.add_downtime(store, CLIENT, "srv3", "2026-11-03T01:30:00Z", "2026-11-03T03:30:00Z",
                             "RAID controller firmware", "alice")
    ids: dict[str, int] = {"carried": carried}

    def srv1_alert() -> int:
        (alert,) = [a["id"] for a in supervision.list_alerts(store, CLIENT, host="srv1")]
        return int(alert)

    def disk_warning(t: dt.datetime) -> None:
        # a watch finds a disk filling up on srv2; alice takes it and resolves it by hand the next morning
        res = result("srv2", "hardware.disk_free", "/var", "warning", t, "", severity="P3")
        ids["disk"] = watch(store, t, [res]).opened[0]

    # what people do, at the minute they do it (after that minute's probe cycle)
    actions = {
        "2026-11-02T08:30:00Z": lambda t: supervision.acknowledge(store, CLIENT, srv1_alert(), "alice", "on it",
                                                                   at=iso(t)),
        "2026-11-03T10:00:00Z": disk_warning,
        "2026-11-03T10:01:00Z": lambda t: supervision.acknowledge(store, CLIENT, srv1_alert(), "bob", None, at=iso(t)),
        "2026-11-03T11:00:00Z": lambda t: supervision.acknowledge(store, CLIENT, ids["disk"], "alice", None, at=iso(t)),
        "2026-11-04T09:00:00Z": lambda t: supervision.resolve(store, CLIENT, ids["disk"], "alice", "old logs removed",
                                                               at=iso(t)),
    }
    opened: list[int] = []
    for minute in range(DAYS * 1440):
        t = T0 + dt.timedelta(minutes=minute)
        run_id = f"probe-{iso(t)}"
        results = [result(h, "service.tcp", "ssh:22", status, t, run_id, availability=True)
                   for h in HOSTS if (status := probe_status(h, t)) is not None]
        out = supervision.observe(store, CLIENT, {"run_id": run_id, "kind": "probe", "areas": "probe",
                                                  "started": iso(t)}, results, POLICY, interval_s=60)
        opened += out.opened
        if iso(t) in actions:
            actions[iso(t)](t)
        if t.hour == 21 and t.minute == 30:
            nightly_run(store, t.day)
    srv1 = [a for a in opened if supervision.get_alert(store, CLIENT, a)["host"] == "srv1"]
    assert len(srv1) == DAYS
    ids.update({f"srv1_day{n}": a for n, a in enumerate(srv1, 1)})
    ids["srv3"] = next(a for a in opened if supervision.get_alert(store, CLIENT, a)["host"] == "srv3")
    return ids


class Month:
    """The filled store of the module, the ids of its alerts, and a report builder."""

    def __init__(self, base: Path) -> None:
        inv = base / "inventories" / CLIENT / "group_vars" / "all"
        inv.mkdir(parents=True)
        hosts = {"all": {"hosts": {h: {} for h in HOSTS}}}
        (base / "inventories" / CLIENT / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
        (inv / "policy.yml").write_text(yaml.safe_dump({"maint_policy": POLICY}), encoding="utf-8")
        (base / "home").mkdir(mode=0o700)
        self.base = base
        self.db_path = base / "home" / "store.db"
        self.env = {"MAINT_HOME": str(base / "home"), "MAINT_INVENTORIES": str(base / "inventories"),
                    "MAINT_TEST_NOW": "2026-12-01T08:00:00Z"}
        with pytest.MonkeyPatch.context() as mp:
            for key, value in self.env.items():
                mp.setenv(key, value)
            with Store(self.db_path) as store:
                self.alerts = fill(store)

    def doc(self, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> dict[str, Any]:
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        with Store(self.db_path) as store:
            return api.build_document(store, CLIENT, period="2026-11", **kwargs)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    yield Month(tmp_path_factory.mktemp("supervised-month"))


@pytest.fixture()
def doc(month: Month, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return month.doc(monkeypatch)


def host(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(h for h in doc["availability"]["hosts"] if h["host"] == name)


MONTH_MINUTES = 30 * 1440
PROBED = DAYS * 1440


def test_a_host_down_from_8_to_18_every_day_is_58_percent_not_100(doc: dict[str, Any]) -> None:
    srv1 = host(doc, "srv1")
    assert srv1["rate"] == round(100 * 14 / 24, 3) == 58.333 and srv1["measured"]
    assert (srv1["down_minutes"], srv1["up_minutes"]) == (DAYS * 600.0, DAYS * 840.0)
    assert srv1["outages"] == DAYS and srv1["longest_outage_minutes"] == 600.0
    assert srv1["meets_target"] is False and srv1["target"] == 99.5
    assert srv1["unknown_minutes"] == MONTH_MINUTES - PROBED and srv1["coverage"] == round(100 * PROBED / MONTH_MINUTES, 1)
    first = srv1["outage_list"][0]
    assert (first["start"], first["end"], first["minutes"]) == ("2026-11-02T08:00:00Z", "2026-11-02T18:00:00Z", 600.0)
    # every nightly run found it reachable: the run-based reachability is untouched, and says 100
    areas = {a["area"]: a for a in doc["summary"]["areas"]}
    assert areas["reachability"]["score"] == 100.0


def test_outages_link_the_probe_results_that_saw_them(doc: dict[str, Any]) -> None:
    appendix = doc["appendix"]
    rows = {r["id"]: r for h in appendix.hosts for r in appendix.host_objects(h)["results"]}
    first = host(doc, "srv1")["outage_list"][0]
    seen = [(rows[i]["status"], rows[i]["time"]) for i in first["evidence"]]
    assert seen == [("critical", "2026-11-02T08:00:00Z"), ("ok", "2026-11-02T18:00:00Z")]
    assert rows[first["evidence"][0]]["run_id"].startswith("probe-")


def test_a_probing_gap_is_unknown_never_available(doc: dict[str, Any]) -> None:
    srv2 = host(doc, "srv2")
    assert srv2["rate"] == 100.0 and srv2["down_minutes"] == 0.0 and srv2["outages"] == 0
    assert srv2["up_minutes"] == PROBED - 120
    assert srv2["unknown_minutes"] == MONTH_MINUTES - PROBED + 120
    assert {"start": "2026-11-03T12:00:00Z", "end": "2026-11-03T14:00:00Z", "state": "unknown"} in srv2["timeline"]


def test_scheduled_downtime_is_planned_and_left_out(doc: dict[str, Any]) -> None:
    srv3 = host(doc, "srv3")
    assert srv3["planned_minutes"] == 120.0 and srv3["down_minutes"] == 0.0 and srv3["outages"] == 0
    assert srv3["rate"] == 100.0 and srv3["up_minutes"] == PROBED - 120
    assert {"start": "2026-11-03T01:30:00Z", "end": "2026-11-03T03:30:00Z", "state": "planned"} in srv3["timeline"]
    (down,) = doc["availability"]["downtimes"]
    assert (down["host"], down["reason"], down["source"], down["who"]) == ("srv3", "RAID controller firmware",
                                                                          "manual", "alice")


def test_a_host_never_probed_is_not_measured(doc: dict[str, Any]) -> None:
    srv4 = host(doc, "srv4")
    assert srv4["rate"] is None and not srv4["measured"] and srv4["coverage"] == 0.0
    assert srv4["timeline"] == [{"start": "2026-10-31T23:00:00Z", "end": "2026-11-30T23:00:00Z", "state": "unknown"}]
    assert doc["availability"]["hosts_not_measured"] == ["srv4"]


def test_the_clients_figures_sum_its_hosts_minutes(doc: dict[str, Any]) -> None:
    avail = doc["availability"]
    up = DAYS * 840 + (PROBED - 120) * 2
    assert avail["rate"] == round(100 * up / (up + DAYS * 600), 3)
    assert avail["down_minutes"] == DAYS * 600 and avail["planned_minutes"] == 120.0
    assert (avail["hosts_total"], avail["hosts_measured"], avail["hosts_meeting_target"]) == (4, 3, 2)
    assert avail["since"] == "2026-10-31T23:00:00Z" and avail["until"] == "2026-11-30T23:00:00Z"


def test_probe_and_watch_runs_do_not_skew_the_run_based_sections(doc: dict[str, Any]) -> None:
    assert [r["run_id"] for r in doc["runs"]] == ["night-2", "night-3", "night-4"]
    assert doc["summary"]["runs"] == 3 and doc["trends"]["periods"][-1]["runs"] == 3
    assert doc["summary"]["results"] == 3 * 2 * len(HOSTS)
    # the latest state and the per-area sections are the nightly runs' (the watch's disk warning is not there)
    hardware = next(a for a in doc["areas"] if a["area"] == "hardware")
    assert hardware["checks"] == [{"check": "hardware.disk_free", "ok": 4, "warning": 0, "critical": 0, "unknown": 0,
                                   "skipped": 0}]
    assert doc["findings"] == []


def test_the_score_counts_availability_against_target_and_says_what_it_left_out(doc: dict[str, Any]) -> None:
    components = {c["component"]: c for c in doc["summary"]["components"]}
    avail = doc["availability"]
    assert components["availability"]["score"] == round(100 * avail["rate"] / 99.5, 1)
    assert components["alerts"]["score"] == doc["sla"]["met_rate"] == 40.0
    counted = {k: c for k, c in components.items() if c["counted"]}
    assert set(counted) == {"hardware", "reachability", "availability", "alerts"}
    assert doc["summary"]["left_out"] == ["antivirus", "backup", "patch"]
    expected = sum(c["weight"] * c["score"] for c in counted.values()) / sum(c["weight"] for c in counted.values())
    assert doc["summary"]["score"] == round(expected, 1)
    assert doc["trends"]["periods"][-1]["availability"] == components["availability"]["score"]


def test_the_score_moves_with_availability(month: Month, monkeypatch: pytest.MonkeyPatch,
                                           doc: dict[str, Any]) -> None:
    with Store(month.db_path) as store:
        added = supervision.add_downtime(store, CLIENT, "srv1", "2026-11-02T08:00:00Z", "2026-11-02T18:00:00Z",
                                         "planned move", "alice")
    try:
        moved = month.doc(monkeypatch)
    finally:
        with Store(month.db_path) as store:
            store.db.execute("DELETE FROM downtimes WHERE id=?", (added,))
            store.db.commit()
    srv1 = host(moved, "srv1")
    assert srv1["planned_minutes"] == 600.0 and srv1["outages"] == DAYS - 1
    assert moved["availability"]["rate"] > doc["availability"]["rate"]
    assert moved["summary"]["score"] > doc["summary"]["score"]


def test_pure_score_components() -> None:
    assert build.availability_score(58.333, 99.5) == 58.6 and build.availability_score(99.9, 99.5) == 100.0
    assert build.availability_score(None, 99.5) is None
    weights = {"hardware": 25.0, "availability": 20.0, "alerts": 10.0}
    base = {"hardware": 100.0, "availability": 58.6, "alerts": None}
    assert build.compliance_score(base, weights) == round((2500 + 20 * 58.6) / 45, 1)
    assert build.compliance_score({**base, "alerts": 50.0}, weights) == round((2500 + 20 * 58.6 + 500) / 55, 1)
    assert [c["counted"] for c in build.score_components(base, weights)][-2:] == [True, False]


def test_the_document_validates(doc: dict[str, Any]) -> None:
    api.validate(doc)
