"""The report's aggregation (maintreport.build and api.build_document) on recorded real lab runs.

tests/fixtures/report/lab_runs.json holds five real hardware runs against the lab across two
months (see its README): web03 unreachable once, db01's full filesystem critical, resolved
once by a policy change, then critical again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from maintcore import supervision
from maintcore.errors import InvalidInput
from maintcore.store import Store
from maintreport import api, build, query
from maintreport.i18n import Text

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "report" / "lab_runs.json").read_text(encoding="utf-8"))
RUN_IDS = [r["run_id"] for r in FIXTURE["runs"]]
POLICY = {
    "client_name": "Demo SARL", "timezone": "Europe/Paris", "windows": ["Mon-Fri 20:00-06:00"],
    "sla": {"response_hours": {"P1": 4, "P2": 8, "P3": 24, "P4": 72}},
    "report": {"currency": "EUR", "technician_rate": 85, "staff_cost_per_hour": 45, "staff_count": 12},
}


def load_fixture(store: Store) -> None:
    """Load the recorded runs as the orchestrator does: results stored, then through the alert engine."""
    for run in FIXTURE["runs"]:
        store.start_run(run)
        store.finish_run(run["run_id"], run["status"], run["exit_code"], run["finished"])
        results = [{k: v for k, v in r.items() if k != "id"} for r in FIXTURE["results"] if r["run_id"] == run["run_id"]]
        with store.transaction() as db:
            ids = store.insert_results(db, results)
        assert ids == [r["id"] for r in FIXTURE["results"] if r["run_id"] == run["run_id"]]
        supervision.ingest_run(store, "demo", results, ids, POLICY)


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    inv = tmp_path / "inventories" / "demo"
    (inv / "group_vars" / "all").mkdir(parents=True)
    hosts = {"all": {"children": {"linux": {"hosts": {h: {} for h in ("web01", "db01", "files01", "app01",
                                                                       "web02", "web03")}}}}}
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    (inv / "group_vars" / "all" / "policy.yml").write_text(yaml.safe_dump({"maint_policy": POLICY}), encoding="utf-8")
    monkeypatch.setenv("MAINT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MAINT_INVENTORIES", str(tmp_path / "inventories"))
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-10T23:00:00Z")
    # The signing key sits beside the vault folder: keep this machine's own out of the tests.
    monkeypatch.setenv("MAINT_VAULT_DIR", str(tmp_path / "vault"))
    monkeypatch.delenv("MAINT_SIGNING_KEY", raising=False)
    (tmp_path / "home").mkdir(mode=0o700)
    return tmp_path


@pytest.fixture()
def store(home: Path) -> Iterator[Store]:
    with Store(home / "home" / "store.db") as st:
        load_fixture(st)
        yield st


@pytest.fixture()
def doc(store: Store) -> dict[str, Any]:
    return api.build_document(store, "demo", period="2026-11")


def rows_of(store: Store, runs: list[str]) -> list[build.Row]:
    return list(query.result_rows(store, "demo", runs))


# -- score -------------------------------------------------------------------------------------
def test_area_scores_are_means_of_run_means() -> None:
    counts = [("r1", "hardware", "ok", 3), ("r1", "hardware", "critical", 1), ("r2", "hardware", "warning", 2),
              ("r2", "hardware", "skipped", 5), ("r1", "reachability", "ok", 4), ("r2", "reachability", "critical", 1),
              ("r2", "reachability", "ok", 3), ("r1", "run", "unknown", 1)]
    scores = build.area_scores(counts)
    assert scores["hardware"] == 62.5  # (75 + 50) / 2: skipped left out
    assert scores["reachability"] == 87.5  # (100 + 75) / 2
    assert scores["backup"] is None
    weights = {"hardware": 25.0, "antivirus": 20.0, "backup": 25.0, "patch": 20.0, "reachability": 10.0}
    assert build.compliance_score(scores, weights) == round((25 * 62.5 + 10 * 87.5) / 35, 1)
    assert build.compliance_score(dict.fromkeys(scores), weights) is None


def test_unknown_is_not_ok_in_the_score() -> None:
    scores = build.area_scores([("r", "hardware", "unknown", 4)])
    assert scores["hardware"] == 50.0


@pytest.mark.parametrize(("score", "open_", "light"), [
    (None, [], "grey"), (100.0, [], "green"), (90.0, ["critical"], "red"), (59.9, [], "red"),
    (84.9, [], "amber"), (99.0, ["unknown"], "amber"), (85.0, [], "green"),
])
def test_traffic_light(score: float | None, open_: list[str], light: str) -> None:
    assert build.traffic_light(score, open_) == light


def test_score_of_recorded_runs(doc: dict[str, Any], store: Store) -> None:
    areas = {a["area"]: a for a in doc["summary"]["areas"]}
    # third run: web03 of 6 hosts unreachable; fourth and fifth: all reachable
    assert areas["reachability"]["score"] == round((500 / 6 + 200) / 3, 1)
    per_run = []
    for run_id in RUN_IDS[2:]:
        statuses = [r[build.STATUS] for r in rows_of(store, [run_id]) if r[build.AREA] == "hardware"]
        scored = [build.POINTS[s] for s in statuses if s != "skipped"]
        per_run.append(100 * sum(scored) / len(scored))
    assert areas["hardware"]["score"] == round(sum(per_run) / 3, 1)
    assert areas["hardware"]["light"] == "red" and areas["reachability"]["light"] == "green"
    # no probe data: availability is left out; the one alert judged (db01's, answered 28 days late) missed
    components = {c["component"]: c for c in doc["summary"]["components"]}
    assert components["availability"]["score"] is None and not components["availability"]["counted"]
    assert components["alerts"]["score"] == 0.0 and components["alerts"]["counted"]
    assert doc["summary"]["left_out"] == ["antivirus", "backup", "patch", "availability"]
    assert doc["summary"]["score"] == round((25 * areas["hardware"]["score"] + 10 * areas["reachability"]["score"]
                                             + 10 * 0.0) / 45, 1)


# -- availability ------------------------------------------------------------------------------
def test_a_month_without_probe_data_is_not_measured(doc: dict[str, Any]) -> None:
    avail = doc["availability"]
    assert avail["rate"] is None and not avail["measured"] and avail["target"] == 99.5
    assert avail["hosts_not_measured"] == ["app01", "db01", "files01", "web01", "web02", "web03"]
    for host in avail["hosts"]:
        assert host["rate"] is None and not host["measured"] and host["coverage"] == 0.0
        assert host["timeline"] == [{"start": "2026-10-31T23:00:00Z", "end": "2026-11-10T23:00:00Z",
                                     "state": "unknown"}]  # measured up to as_of, not the month's end
    assert avail["unknown_minutes"] == 6 * 10 * 24 * 60
    db01 = next(h for h in avail["hosts"] if h["host"] == "db01")
    assert db01["uptime_days"] is not None and db01["reboots"] == 0  # still read by the nightly runs


def test_reboot_seen_when_uptime_goes_down(store: Store) -> None:
    rows = rows_of(store, RUN_IDS)
    # the fourth run's db01 uptime replaced by a smaller one: as if db01 had rebooted
    fourth = [list(r) for r in rows]
    target = next(r for r in fourth if r[build.RUN] == RUN_IDS[3] and r[build.HOST] == "db01"
                  and r[build.CHECK] == "hardware.uptime")
    target[build.OBSERVED] = json.dumps({"uptime_seconds": 5, "uptime_days": 0.0})
    db01 = build.uptime_and_reboots(fourth)["db01"]
    assert db01["reboots"] == 1 and db01["reboot_ids"] == [target[build.ID]]


# -- findings and alerts ---------------------------------------------------------------------
def test_findings_of_recorded_runs(store: Store) -> None:
    findings, latest = build.track(rows_of(store, RUN_IDS))
    by_key = [(f["host"], f["check"], f["item"], f["resolved"]) for f in findings]
    assert by_key == [
        ("db01", "hardware.disk_free", "/srv/data", True),    # Oct 6 -> Nov 3
        ("web03", "run.reachability", "", True),              # 2 h later
        ("db01", "hardware.disk_free", "/srv/data", False),   # Nov 10 19:30, still open
    ]
    first = findings[0]
    assert first["occurrences"] == 3 and first["first_seen"] == "2026-10-06T19:30:00Z"
    assert len(first["evidence"]) == 3  # first, last and the resolving ok result
    assert "sla" not in first and "deadline" not in first  # the SLA is judged on the alerts
    assert latest[("db01", "hardware.disk_free", "/srv/data")][build.STATUS] == "critical"


def test_alerts_the_recorded_runs_opened(doc: dict[str, Any]) -> None:
    # web03 unreachable in one run only: damped (an availability alert opens at the second bad observation)
    alerts = [(a["host"], a["check"], a["state"], a["carried_over"], a["sla"]) for a in doc["alerts"]]
    assert alerts == [("db01", "hardware.disk_free", "resolved", True, "missed"),
                      ("db01", "hardware.disk_free", "open", False, "pending")]
    carried, reopened = doc["alerts"]
    assert carried["opened"] == "2026-10-06T19:30:00Z" and carried["resolved"].startswith("2026-11-03T21:30")
    assert carried["response_hours"] == round((28 * 24 + 2 + 1 / 3600), 2) and carried["response_limit_hours"] == 8
    assert carried["resolved_by"] is None  # a good observation resolved it
    assert reopened["response"] == "pending" and reopened["response_hours"] is None
    sla = doc["sla"]
    assert (sla["met"], sla["missed"], sla["pending"], sla["met_rate"]) == (0, 1, 1, 0.0)
    assert (sla["alerts"], sla["opened_in_period"], sla["carried_over"], sla["active"]) == (2, 1, 1, 1)
    assert sla["resolution"]["none"] == 2  # this policy sets no resolve_hours
    # the October result that opened the carried-over alert joins the appendix: every link lands
    appendix = doc["appendix"]
    ids = {r["id"] for h in appendix.hosts for r in appendix.host_objects(h)["results"]}
    assert carried["opened_result"] in ids and all(set(a["evidence"]) <= ids for a in doc["alerts"])
    assert appendix.count == doc["summary"]["results"] + 1


def test_unknown_neither_extends_nor_resolves() -> None:
    def row(i: int, status: str) -> tuple[Any, ...]:
        return (i, f"r{i}", "h", "hardware.smart", "hardware", "", status, "P1", "s", "{}", "{}", "", 0,
                f"2026-11-0{i}T00:00:00Z")

    findings, _ = build.track([row(1, "critical"), row(2, "unknown"), row(3, "critical"), row(4, "ok")])
    assert len(findings) == 1 and findings[0]["occurrences"] == 2 and findings[0]["resolved_by"] == 4


def test_finding_open_before_the_period_is_carried_over(doc: dict[str, Any], store: Store) -> None:
    carried = query.open_before(store, "demo", "2026-10-31T23:00:00Z", "2026-08-01T00:00:00Z")
    assert [(c[0], c[1], c[2], c[3]) for c in carried] == [("db01", "hardware.disk_free", "/srv/data",
                                                             "2026-10-06T19:30:00Z")]
    disk = [f for f in doc["findings"] if f["check"] == "hardware.disk_free"]
    assert disk[0]["carried_over"] and disk[0]["first_seen"] == "2026-10-06T19:30:00Z"
    assert disk[0]["resolved"] and disk[0]["occurrences"] == 1
    assert not disk[1]["carried_over"] and not disk[1]["resolved"]
    appendix = doc["appendix"]
    ids = {r["id"] for h in appendix.hosts for r in appendix.host_objects(h)["results"]}
    assert all(set(f["evidence"]) <= ids for f in doc["findings"])


# -- trends, sections, recommendations --------------------------------------------------------
def test_trends_of_recorded_runs(doc: dict[str, Any]) -> None:
    periods = {p["period"]: p for p in doc["trends"]["periods"]}
    assert list(periods) == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    assert (periods["2026-10"]["runs"], periods["2026-11"]["runs"]) == (2, 3)
    assert periods["2026-10"]["findings"] == {"hardware": 2, "antivirus": 0, "backup": 0, "patch": 0,
                                              "reachability": 0}
    assert periods["2026-11"]["findings"]["reachability"] == 1
    assert periods["2026-11"]["score"] == doc["summary"]["score"]
    assert periods["2026-10"]["areas"]["reachability"] == 100.0 and periods["2026-09"]["score"] is None
    series = doc["trends"]["disk_free"]
    assert series[0]["host"] == "db01" and [p["free_pct"] for p in series[0]["points"]] == [6.2] * 5


def test_hardware_section_and_recommendations(doc: dict[str, Any]) -> None:
    (hardware,) = doc["areas"]
    assert hardware["area"] == "hardware" and hardware["hosts"] == 6
    assert [d["host"] for d in hardware["disks_at_risk"]] == ["db01"]
    assert hardware["smart_unread_hosts"] == ["app01", "db01", "files01", "web01", "web02", "web03"]
    recs = doc["recommendations"]
    assert [(r["check"], r["status"], r["severity"]) for r in recs] == [
        ("hardware.disk_free", "critical", "P2"), ("hardware.smart", "unknown", "P4"),
        ("hardware.temperature", "unknown", "P4")]
    cost = recs[0]["cost"]
    assert cost == {"kind": "outage", "currency": "EUR", "early": 85.0, "late": 4 * 85 * 1.5 + 8 * 12 * 45,
                    "avoided": 4 * 85 * 1.5 + 8 * 12 * 45 - 85.0, "fix_hours": 1.0, "fix_based_on": None,
                    "assumptions": cost["assumptions"]}
    assert "late: 8 h of outage x 12 staff x 45 EUR/h" in cost["assumptions"]
    assert recs[1]["cost"] is None  # nothing to price for a value nobody read


def test_disk_failure_cost_counts_the_part() -> None:
    settings = {"technician_rate": 100, "currency": "EUR", "planned_fix_hours": 1.0, "disk_part_cost": 150.0,
                "staff_count": 10, "staff_cost_per_hour": 40, "emergency_hours": 4.0, "emergency_multiplier": 1.5,
                "outage_hours": 8.0}
    cost = build.estimate_cost("hardware.smart", "critical", 2, settings, Text("en"))
    assert cost is not None and cost["kind"] == "disk"
    assert cost["early"] == 2 * (100 + 150) and cost["late"] == 2 * (4 * 100 * 1.5 + 8 * 10 * 40 + 150)
    settings["technician_rate"] = None
    assert build.estimate_cost("hardware.smart", "critical", 2, settings, Text("en")) is None


# -- the document ------------------------------------------------------------------------------
def test_document_validates_and_the_schema_rejects_a_broken_one(doc: dict[str, Any]) -> None:
    api.validate(doc)
    broken = {**doc, "summary": {**doc["summary"], "score": "high"}}
    with pytest.raises(ValueError, match="summary/score"):
        api.validate(broken)
    bad_row = list(next(iter(doc["appendix"].groups()))[1][0])
    bad_row[build.STATUS] = "fine"
    with pytest.raises(ValueError, match="schema"):
        api.validate({**doc, "appendix": build.Appendix([tuple(bad_row)])})


def test_run_report_and_bad_input(store: Store) -> None:
    one = api.build_document(store, "demo", run_id=RUN_IDS[2])
    assert one["period"]["kind"] == "run" and one["availability"]["rate"] is None  # no probe during the run
    with pytest.raises(InvalidInput, match="no runs for client 'demo' in period 2026-09"):
        api.build_document(store, "demo", period="2026-09")
    with pytest.raises(InvalidInput, match="malformed"):
        api.check_period("2026-1")
    with pytest.raises(InvalidInput, match="unknown format docx"):
        api.check_formats(["html", "docx"])
    with pytest.raises(InvalidInput, match="unknown run"):
        api.build_document(store, "demo", run_id="nope")


def test_months_are_the_clients_calendar_months() -> None:
    assert api.month_bounds("2026-11", "Europe/Paris") == ("2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z")
    assert api.month_bounds("2026-07", "Europe/Paris") == ("2026-06-30T22:00:00Z", "2026-07-31T22:00:00Z")
    assert api.shift_month("2026-01", -1) == "2025-12"


def test_coverage_and_patched_hosts_ignore_skipped_checks() -> None:
    def row(host: str, check: str, status: str) -> tuple[Any, ...]:
        return (1, "r", host, check, check.split(".")[0], "", status, None, "s", "{}", "{}", "", 0,
                "2026-11-02T00:00:00Z")

    av = [row("a", "antivirus.signature_age", "ok"), row("a", "antivirus.tamper_protection", "skipped"),
          row("b", "antivirus.signature_age", "ok"), row("b", "antivirus.update", "warning"),
          row("c", "antivirus.product", "skipped")]
    view = build._antivirus_view(av, {}, {"a", "b", "c"}, 4)
    assert view["protected_hosts"] == ["a"] and view["coverage"] == 25.0  # c: nothing checked, not protected
    patch = [row("a", "patch.pending_security", "ok"), row("a", "patch.deferred", "skipped"),
             row("b", "patch.pending_security", "unknown")]
    assert build._patch_view(patch, {}, {"a", "b"}, 2)["fully_patched_hosts"] == ["a"]
