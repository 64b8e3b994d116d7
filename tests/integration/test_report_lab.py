"""The monthly report built from real lab runs spread over two months.

Isolation (decided here): the runs go to a *separate* state folder and a *copy* of the demo
inventory, so the real store (and the demo's report) never sees runs stamped in the past.
The temporary ``MAINT_HOME`` links ``lab/`` to the real lab folder, where the lab's SSH key
and known_hosts live; ``MAINT_INVENTORIES`` points at the copy.

The copy adds ``web03``, a second name for web02's container, so that one host can really
be unreachable (pointed at a closed port on loopback) in one run and back in the next. Runs
are stamped with ``MAINT_TEST_NOW`` (the orchestrator shifts result times by the same
offset). db01's full filesystem (a lab fixture) is critical in every run, except in one run
where the copy's policy lowers the disk thresholds: that is how a finding gets resolved
without touching the shared lab fixture.

    R1 2026-10-06 19:30Z  R2 2026-10-20 19:30Z    October: db01 /srv/data critical: an alert opens (P2)
    R3 2026-11-03 19:30Z  web03 unreachable (one bad observation: damped), db01 critical (alert carried over)
    P  2026-11-03 19:40Z-19:46Z  one `maintctl probe` per minute: web03 pointed at a TEST-NET-3 address
                          (never routed) from 19:40 to 19:44, back from 19:45: a 5-minute outage; its
                          alert (service.tcp, P1) opens at the second bad probe, is acknowledged by
                          "tech" with `maintctl alerts ack` at 19:42:30 and resolved by the 19:45 probe
    R4 2026-11-03 21:30Z  web03 back, thresholds lowered: db01 ok (its alert resolved: 28 days, SLA missed)
    R5 2026-11-10 19:30Z  thresholds back: db01 critical again: a new alert, acknowledged at 21:00

The November report (as of Nov 10 23:00) therefore has 7 probed minutes per host (web03: 5 down,
2 up; the others up), every other minute unknown, and three alerts: met, missed, pending.

Set ``MAINT_RECORD_REPORT_FIXTURE=1`` to refresh tests/fixtures/report/lab_runs.json (the
recorded real data the unit tests use) from these runs (the maintenance runs only).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import report_language
from tests.integration.conftest import run_group

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
MAINTCTL = str(Path(sys.executable).parent / "maintctl")
REAL_HOME = Path(os.environ.get("MAINT_HOME") or ROOT / "var").resolve()
FIXTURE = ROOT / "tests" / "fixtures" / "report" / "lab_runs.json"
RUNS = (
    ("2026-10-06T19:30:00Z", {}),
    ("2026-10-20T19:30:00Z", {}),
    ("2026-11-03T19:30:00Z", {"web03_down": True}),
    ("2026-11-03T21:30:00Z", {"relaxed": True}),
    ("2026-11-10T19:30:00Z", {}),
)
# The probe cycles after R3: (stamp, web03 unreachable); and when "tech" acknowledges its alert.
PROBES = tuple((f"2026-11-03T19:4{m}:00Z", m < 5) for m in range(7))
PROBE_ACK = "2026-11-03T19:42:30Z"
DB01_ACK = "2026-11-10T21:00:00Z"
NOVEMBER = [now for now, _ in RUNS[2:]]


class Lab:
    """A private state folder and inventory copy for the report's runs."""

    def __init__(self, base: Path) -> None:
        self.home = base / "home"
        self.home.mkdir(mode=0o700)
        (self.home / "lab").symlink_to(REAL_HOME / "lab")
        self.inventories = base / "inventories"
        shutil.copytree(ROOT / "inventories" / "demo", self.inventories / "demo")
        self.client_dir = self.inventories / "demo"
        self.policy_path = self.client_dir / "group_vars" / "all" / "policy.yml"
        self.policy = yaml.safe_load(self.policy_path.read_text(encoding="utf-8"))
        self.run_ids: list[str] = []

    def env(self, now: str | None = None) -> dict[str, str]:
        env = {**os.environ, "MAINT_HOME": str(self.home), "MAINT_INVENTORIES": str(self.inventories)}
        env.pop("MAINT_TEST_NOW", None)
        if now:
            env["MAINT_TEST_NOW"] = now
        return env

    def configure(self, web03_down: bool = False, relaxed: bool = False, web03_dark: bool = False) -> None:
        hosts = yaml.safe_load((ROOT / "inventories" / "demo" / "hosts.yml").read_text(encoding="utf-8"))
        web02 = hosts["all"]["children"]["linux"]["hosts"]["web02"]
        web03 = {"ansible_host": "127.0.0.1", "ansible_port": 1} if web03_down else dict(web02)
        if web03_dark:
            # for the probes: the same management port (item ssh:22) on an address of the lab's own
            # bridge that no container holds (nothing answers; the traffic stays on this machine)
            web03 = {**web02, "ansible_host": "198.51.100.99"}
        hosts["all"]["children"]["linux"]["hosts"]["web03"] = web03
        (self.client_dir / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
        policy = json.loads(json.dumps(self.policy))
        # The lab's containers read this machine's load average: a loaded CI machine must not add
        # hardware.load findings to the month these tests count.
        policy["maint_policy"].setdefault("hardware", {}).update(load_warn_per_cpu=999, load_crit_per_cpu=1000)
        if relaxed:
            policy["maint_policy"].setdefault("hardware", {}).update(disk_warn_free_pct=5, disk_crit_free_pct=4)
        self.policy_path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")

    def maintctl(self, *args: str, now: str | None = None, timeout: int = 900) -> subprocess.CompletedProcess[str]:
        return run_group([MAINTCTL, *args], timeout=timeout, env=self.env(now))

    def run(self, now: str, **setup: bool) -> str:
        self.configure(**setup)
        proc = self.maintctl("run", "--client", "demo", "--only", "hardware", now=now)
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        match = re.search(r"^run (\S+):", proc.stdout, re.M)
        assert match, proc.stdout
        self.run_ids.append(match.group(1))
        return match.group(1)

    def probe(self, now: str, web03_dark: bool) -> None:
        self.configure(web03_dark=web03_dark)
        proc = self.maintctl("probe", "--client", "demo", now=now, timeout=120)
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        assert ("web03 service.tcp ssh:22: critical" in proc.stdout) == web03_dark, proc.stdout

    def alert_id(self, now: str, host: str, check: str) -> int:
        proc = self.maintctl("alerts", "list", "--client", "demo", "--format", "json", now=now)
        assert proc.returncode == 0, proc.stderr
        (alert,) = [a for a in json.loads(proc.stdout) if (a["host"], a["check_id"]) == (host, check)]
        return int(alert["id"])

    def ack(self, now: str, host: str, check: str) -> int:
        alert_id = self.alert_id(now, host, check)
        proc = self.maintctl("alerts", "ack", "--client", "demo", str(alert_id), "--as", "tech", now=now)
        assert proc.returncode == 0 and f"alert {alert_id} acknowledged by tech" in proc.stdout, proc.stderr
        return alert_id


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if not (REAL_HOME / "lab" / "ssh").is_dir():
        pytest.fail("the lab is not up: run `maintctl lab up` (make test does)")
    env = Lab(tmp_path_factory.mktemp("report-lab"))
    for now, setup in RUNS:
        env.run(now, **setup)
        if now == RUNS[2][0]:
            for stamp, dark in PROBES:
                env.probe(stamp, dark)
                if stamp == "2026-11-03T19:42:00Z":
                    env.ack(PROBE_ACK, "web03", "service.tcp")
        if now == RUNS[4][0]:
            env.ack(DB01_ACK, "db01", "hardware.disk_free")
    env.configure()
    if os.environ.get("MAINT_RECORD_REPORT_FIXTURE"):
        record_fixture(env.home / "store.db", FIXTURE)
    yield env


def record_fixture(db_path: Path, target: Path) -> None:
    """Write the maintenance runs and their results as the unit tests' recorded lab data."""
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    nightly = "kind NOT IN ('probe', 'watch')"
    runs = [dict(r) | {"run_dir": None} for r in db.execute(f"SELECT * FROM runs WHERE {nightly} ORDER BY started")]
    results = []
    for row in db.execute(f"SELECT * FROM results WHERE run_id IN (SELECT run_id FROM runs WHERE {nightly})"
                          " ORDER BY id"):
        rec = dict(row)
        rec["check"] = rec.pop("check_id")
        rec.pop("area")
        rec["observed"] = json.loads(rec["observed"])
        rec["threshold"] = json.loads(rec["threshold"])
        rec["changed"] = bool(rec["changed"])
        results.append(rec)
    target.parent.mkdir(parents=True, exist_ok=True)
    doc = {"source": "tests/integration/test_report_lab.py: real `maintctl run --client demo --only hardware`"
                     " runs against the lab, stamped with MAINT_TEST_NOW (see its docstring)",
           "runs": runs, "results": results}
    target.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def november(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("report-out")
    proc = lab.maintctl("report", "--client", "demo", "--period", "2026-11", "--format", "html,pdf,json,csv,md",
                        "--out", str(out), "--locale", "en", now="2026-11-10T23:00:00Z")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    paths = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    assert set(paths) == {"html", "pdf", "json", "csv", "md"}
    doc = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))
    return {"doc": doc, "paths": {k: Path(v) for k, v in paths.items()}, "out": out}


def _finding(doc: dict[str, Any], host: str, check: str, item: str = "") -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if (f["host"], f["check"], f["item"]) == (host, check, item)]


def _alerts(doc: dict[str, Any], host: str, check: str) -> list[dict[str, Any]]:
    return [a for a in doc["alerts"] if (a["host"], a["check"]) == (host, check)]


def test_runs_are_real_and_stamped(lab: Lab) -> None:
    db = sqlite3.connect(lab.home / "store.db")
    started = [r[0] for r in db.execute("SELECT started FROM runs WHERE kind NOT IN ('probe', 'watch')"
                                        " ORDER BY started")]
    assert started == [now for now, _ in RUNS]
    # the probe cycles that stored something (web03's bad probes and its recovery; the first cycle of each host)
    probes = [r[0] for r in db.execute("SELECT started FROM runs WHERE kind='probe' ORDER BY started")]
    assert probes and all(p.startswith("2026-11-03T19:4") for p in probes)
    hosts = {r[0] for r in db.execute("SELECT DISTINCT host FROM results")}
    assert hosts == {"web01", "db01", "files01", "app01", "web02", "web03"}
    # result times were shifted into each run's stamped time
    for run_id, now in zip(lab.run_ids, (n for n, _ in RUNS), strict=True):
        first = db.execute("SELECT MIN(finished) FROM results WHERE run_id=?", (run_id,)).fetchone()[0]
        assert first[:13] == now[:13], (run_id, first, now)


def test_json_document_is_valid_and_complete(november: dict[str, Any]) -> None:
    import jsonschema

    doc = november["doc"]
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(doc)  # the reference validator, on the file
    assert doc["period"] == {"kind": "month", "label": "2026-11", "month": "2026-11",
                             "since": "2026-10-31T23:00:00Z", "until": "2026-11-30T23:00:00Z"}
    assert [r["started"] for r in doc["runs"]] == NOVEMBER  # the maintenance runs only
    results = sum(len(g["results"]) for g in doc["appendix"])
    # the appendix: the runs' results, plus the probe and October results outages and alerts link to
    assert results > doc["summary"]["results"] > 100
    csv_rows = november["paths"]["csv"].read_text(encoding="utf-8").strip().splitlines()
    assert len(csv_rows) == results + 1
    for path in november["paths"].values():
        assert path.stat().st_mode & 0o777 == 0o600
    assert november["out"].stat().st_mode & 0o777 == 0o700


def test_availability_in_minutes_from_the_probes(november: dict[str, Any]) -> None:
    avail = november["doc"]["availability"]
    by_host = {h["host"]: h for h in avail["hosts"]}
    web03 = by_host["web03"]
    # 19:40-19:45 down, 19:45-19:47 up (each probe covers its minute); stamps drift by a second or two
    assert web03["down_minutes"] == pytest.approx(5.0, abs=0.1) and web03["up_minutes"] == pytest.approx(2.0, abs=0.1)
    assert web03["rate"] == pytest.approx(100 * 2 / 7, abs=1.0) and web03["meets_target"] is False
    assert web03["outages"] == 1 and web03["outage_list"][0]["start"].startswith("2026-11-03T19:40")
    # the nightly runs' reachability (web03 unreachable in R3) no longer makes the availability
    for name in ("web01", "db01", "files01", "app01", "web02"):
        assert by_host[name]["rate"] == 100.0 and by_host[name]["up_minutes"] == pytest.approx(7.0, abs=0.1)
    # every other minute of the month up to as_of is unknown, never available
    assert web03["unknown_minutes"] == pytest.approx(10 * 24 * 60 - 7, abs=0.2) and web03["coverage"] < 1
    assert avail["rate"] == pytest.approx(100 * 37 / 42, abs=0.5) and avail["target"] == 99.5
    assert avail["until"] == "2026-11-10T23:00:00Z" and avail["hosts_not_measured"] == []
    # each outage links the probe results that saw it start and end; they are rows of the appendix
    ids = {r["id"] for g in november["doc"]["appendix"] for r in g["results"]}
    assert len(web03["outage_list"][0]["evidence"]) == 2 and set(web03["outage_list"][0]["evidence"]) <= ids
    # uptime read on the hosts by the nightly runs, and no reboot between runs
    assert by_host["db01"]["uptime_days"] is not None and by_host["db01"]["reboots"] == 0


def test_score_follows_the_documented_formula(november: dict[str, Any], lab: Lab) -> None:
    doc = november["doc"]
    areas = {a["area"]: a for a in doc["summary"]["areas"]}
    assert areas["reachability"]["score"] == round((500 / 6 + 100 + 100) / 3, 1)
    # hardware: mean over the November runs of the points of its results, from the store itself
    db = sqlite3.connect(lab.home / "store.db")
    points = {"ok": 1.0, "warning": 0.5, "unknown": 0.5, "critical": 0.0}
    per_run = []
    for run_id in lab.run_ids[2:]:
        rows = db.execute("SELECT status FROM results WHERE run_id=? AND area='hardware'", (run_id,)).fetchall()
        scored = [points[s] for (s,) in rows if s in points]
        per_run.append(100 * sum(scored) / len(scored))
    assert areas["hardware"]["score"] == round(sum(per_run) / 3, 1)
    for absent in ("antivirus", "backup", "patch"):
        assert areas[absent]["score"] is None and areas[absent]["light"] == "grey"
    assert doc["summary"]["left_out"] == ["antivirus", "backup", "patch"]
    components = {c["component"]: c for c in doc["summary"]["components"]}
    avail = doc["availability"]
    assert components["availability"]["score"] == round(min(100.0, 100 * avail["rate"] / 99.5), 1)
    assert components["alerts"]["score"] == doc["sla"]["met_rate"] == 50.0
    expected = (25 * areas["hardware"]["score"] + 10 * areas["reachability"]["score"]
                + 20 * components["availability"]["score"] + 10 * 50.0) / 65
    assert doc["summary"]["score"] == round(expected, 1)
    assert areas["hardware"]["light"] == "red"  # db01's critical is open at the end


def test_findings_and_alerts_handled(november: dict[str, Any]) -> None:
    doc = november["doc"]
    # the nightly runs' findings, without SLA
    reach = _finding(doc, "web03", "run.reachability")
    assert len(reach) == 1 and reach[0]["severity"] == "P1" and reach[0]["resolved"]
    carried, reopened = _finding(doc, "db01", "hardware.disk_free", "/srv/data")
    assert carried["carried_over"] and carried["first_seen"].startswith("2026-10-06T19:3") and carried["resolved"]
    assert not reopened["resolved"] and "sla" not in reopened
    # the alerts: web03's unreachable run was one bad observation (damped); its probes opened one
    assert _alerts(doc, "web03", "run.reachability") == []
    (probe,) = _alerts(doc, "web03", "service.tcp")
    assert (probe["severity"], probe["state"], probe["ack_by"]) == ("P1", "resolved", "tech")
    assert probe["opened"].startswith("2026-11-03T19:41") and probe["acknowledged"] == PROBE_ACK
    assert probe["resolved"].startswith("2026-11-03T19:45") and probe["resolved_by"] is None
    assert (probe["response"], probe["resolution"], probe["sla"]) == ("met", "met", "met")
    old, new = _alerts(doc, "db01", "hardware.disk_free")
    # opened by R1 in October, resolved by R4 four weeks later: response and resolution missed
    assert old["carried_over"] and old["opened"].startswith("2026-10-06T19:3") and old["resolved"].startswith(
        "2026-11-03T21:3")
    assert (old["response"], old["resolution"], old["sla"]) == ("missed", "missed", "missed")
    # opened by R5, acknowledged 1.5 h later; at 23:00 its 24 h resolution limit is still ahead
    assert new["opened"].startswith("2026-11-10T19:3") and (new["acknowledged"], new["ack_by"]) == (DB01_ACK, "tech")
    assert (new["response"], new["resolution"], new["sla"], new["state"]) == ("met", "pending", "pending",
                                                                               "acknowledged")
    sla = doc["sla"]
    assert (sla["met"], sla["missed"], sla["pending"], sla["met_rate"]) == (1, 1, 1, 50.0)
    assert (sla["alerts"], sla["carried_over"], sla["active"], sla["in_downtime"]) == (3, 1, 1, 0)
    by = {s["severity"]: s for s in sla["by_severity"]}
    assert by["P1"]["alerts"] == 1 and by["P2"]["alerts"] == 2 and by["P2"]["response"]["worst_hours"] > 600
    # every evidence id is an anchor of the appendix
    ids = {r["id"] for g in doc["appendix"] for r in g["results"]}
    for f in doc["findings"]:
        assert f["evidence"] and set(f["evidence"]) <= ids
    for a in doc["alerts"]:
        assert a["opened_result"] in a["evidence"] and set(a["evidence"]) <= ids


def test_sla_missed_once_the_deadline_passes(lab: Lab, tmp_path: Path) -> None:
    proc = lab.maintctl("report", "--client", "demo", "--period", "2026-11", "--format", "json", "--out",
                        str(tmp_path), now="2026-11-12T09:00:00Z")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    new = _alerts(doc, "db01", "hardware.disk_free")[-1]
    # still not resolved 37.5 h after opening: past the 24 h P2 resolution limit
    assert new["state"] == "acknowledged" and new["resolution"] == "missed" and new["sla"] == "missed"
    assert (doc["sla"]["met"], doc["sla"]["missed"], doc["sla"]["pending"]) == (1, 2, 0)


def test_trends_across_the_two_months(november: dict[str, Any]) -> None:
    trends = november["doc"]["trends"]
    periods = {p["period"]: p for p in trends["periods"]}
    assert list(periods)[-2:] == ["2026-10", "2026-11"]
    assert periods["2026-10"]["runs"] == 2 and periods["2026-11"]["runs"] == 3
    assert periods["2026-10"]["findings"]["hardware"] == 2  # db01 critical in both October runs
    assert periods["2026-11"]["findings"]["reachability"] == 1
    assert periods["2026-10"]["score"] is not None and periods["2026-09"]["score"] is None
    db01 = next(s for s in trends["disk_free"] if s["host"] == "db01")
    assert len(db01["points"]) == 5 and all(p["free_pct"] < 10 for p in db01["points"])
    assert trends["disk_free"][0]["host"] == "db01"  # lowest first


def test_recommendations_cite_evidence_and_costs(november: dict[str, Any]) -> None:
    doc = november["doc"]
    recs = doc["recommendations"]
    disk = next(r for r in recs if r["check"] == "hardware.disk_free")
    assert disk["status"] == "critical" and disk["hosts"] == ["db01"]
    ids = {r["id"] for g in doc["appendix"] for r in g["results"]}
    assert set(disk["evidence"]) <= ids
    # demo policy: 85/h technician, 12 staff at 45/h; outage kind: 8 h x 12 x 45 + 4 h x 85 x 1.5
    assert disk["cost"]["early"] == 85.0 and disk["cost"]["late"] == 8 * 12 * 45 + 4 * 85 * 1.5
    assert disk["cost"]["avoided"] == disk["cost"]["late"] - disk["cost"]["early"]
    assert any("12 staff" in a for a in disk["cost"]["assumptions"])
    smart = next(r for r in recs if r["check"] == "hardware.smart")
    assert smart["status"] == "unknown" and smart["cost"] is None and len(smart["hosts"]) == 6
    assert [r["rank"] for r in doc["summary"]["top_recommendations"]] == [1, 2, 3]
    assert recs[0]["severity"] == "P2"


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()
        self.svgs = 0
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        for name in ("src", "href", "srcset", "data", "poster", "action"):
            if attr.get(name):
                self.refs.append(str(attr[name]))
        if attr.get("style"):
            self.styles.append(str(attr["style"]))
        if attr.get("id"):
            self.ids.add(str(attr["id"]))
        if tag == "svg" and "chart" in (attr.get("class") or ""):
            self.svgs += 1
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


def test_html_is_self_contained_with_charts_and_screenshot(november: dict[str, Any], tmp_path: Path) -> None:
    html = november["paths"]["html"].read_text(encoding="utf-8")
    parser = _Refs()
    parser.feed(html)
    external = [r for r in parser.refs if not r.startswith("#")]
    assert not external, external  # no link, image or script from anywhere: anchors only
    assert not [s for s in parser.styles if re.search(r"url\(|@import", s)]
    assert "<script" not in html
    # score, findings per area, disk free per host, and the five month-over-month charts
    assert parser.svgs == 8
    assert html.count('<svg class="timeline"') == 6  # one outage timeline per host
    assert '<table class="alerts">' in html and '<table class="availability">' in html
    anchors = [r[1:] for r in parser.refs if r.startswith("#")]
    assert anchors and not [a for a in anchors if a not in parser.ids]  # every link lands
    assert "Demo SARL" in html and "Availability rate" in html
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1100,2400", november["paths"]["html"].as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    from PIL import Image

    image = Image.open(shot).convert("L")
    assert image.size == (1100, 2400)
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20  # not a blank page
    phone = tmp_path / "phone.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={phone}", "--window-size=390,1600",
                    november["paths"]["html"].as_uri()], capture_output=True, timeout=120, check=True)
    if os.environ.get("MAINT_KEEP_SCREENSHOTS"):
        for png in (shot, phone):
            shutil.copy(png, Path(os.environ["MAINT_KEEP_SCREENSHOTS"]) / png.name)


def test_pdf_pages_and_text(november: dict[str, Any]) -> None:
    pdf = november["paths"]["pdf"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    assert 3 <= pages <= 12  # the print variant: every result stays in the HTML, JSON and CSV
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Appendix: every result" not in text
    for expected in ("Maintenance report: Demo SARL", "Compliance score", "Availability rate", "Recommendations",
                     "Alerts handled", "Outage timeline",
                     "Appendix: what is not ok", "db01", "/srv/data", "web03"):
        assert expected in text, expected
    score = november["doc"]["summary"]["score"]
    assert f"{score:.1f}".rstrip("0").rstrip(".") in text


def test_markdown_summary(november: dict[str, Any]) -> None:
    md = november["paths"]["md"].read_text(encoding="utf-8")
    assert md.startswith("# Maintenance report: Demo SARL (2026-11)")
    assert "| Hardware | red |" in md
    assert len(md.splitlines()) < 40


def test_the_client_reads_no_check_id(november: dict[str, Any]) -> None:
    """The English lab month: no check id outside the technician's appendix (tests/report_language.py)."""
    for kind in ("html", "md"):
        rendered = november["paths"][kind].read_text(encoding="utf-8")
        assert not report_language.leaks(rendered, "en"), kind
    text = subprocess.run(["pdftotext", str(november["paths"]["pdf"]), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert not report_language.leaks(text, "en"), "pdf"


def test_french_report_and_run_report(lab: Lab, tmp_path: Path) -> None:
    proc = lab.maintctl("report", "--client", "demo", "--period", "2026-11", "--format", "html,md", "--out",
                        str(tmp_path / "fr"), "--locale", "fr", now="2026-11-10T23:00:00Z")
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "fr" / "report.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in html and "Taux de disponibilité" in html and "Synthèse" in html
    assert "Availability rate" not in html
    # no check id and no English sentence of the catalogue outside the technician's appendix
    for name in ("report.html", "report.md"):
        rendered = (tmp_path / "fr" / name).read_text(encoding="utf-8")
        assert not report_language.leaks(rendered, "fr"), (name, report_language.leaks(rendered, "fr"))
    run_id = lab.run_ids[2]
    proc = lab.maintctl("report", "--client", "demo", "--run", run_id, "--format", "json", now="2026-11-10T23:00:00Z")
    assert proc.returncode == 0, proc.stderr
    path = lab.home / "reports" / "demo" / run_id / "report.json"
    assert proc.stdout.strip() == f"json: {path}"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["period"]["kind"] == "run" and [r["run_id"] for r in doc["runs"]] == [run_id]
    assert {g["host"] for g in doc["appendix"]} == {"web01", "db01", "files01", "app01", "web02", "web03"}
    assert (lab.home / "reports").stat().st_mode & 0o777 == 0o700


def test_fleet_overview(lab: Lab, tmp_path: Path) -> None:
    proc = lab.maintctl("report", "--all", "--period", "2026-11", "--format", "json,html,csv", "--out",
                        str(tmp_path), now="2026-11-10T23:00:00Z")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "fleet.json").read_text(encoding="utf-8"))
    assert [c["client"] for c in doc["clients"]] == ["demo"]
    row = doc["clients"][0]
    assert row["runs"] == 3 and row["open_critical"] == 1 and row["last_run"] == RUNS[-1][0]
    assert row["backup_test"] is None  # hardware-only runs: no restore test yet


@pytest.mark.parametrize(("args", "message"), [
    (("--client", "nosuch"), "unknown client"),
    (("--client", "demo", "--period", "2026-13"), "malformed"),
    (("--client", "demo", "--period", "2026-11", "--format", "html,docx"), "unknown format"),
    (("--client", "demo", "--period", "2025-01"), "no runs"),
    (("--client", "demo", "--run", "nosuch-run"), "unknown run"),
])
def test_bad_input_is_one_line_and_exit_2(lab: Lab, args: tuple[str, ...], message: str) -> None:
    proc = lab.maintctl("report", *args, "--out", "/nonexistent/never-written", now="2026-11-10T23:00:00Z")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not Path("/nonexistent/never-written").exists()
