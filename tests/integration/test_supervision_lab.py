"""Supervision on the lab, for real: ``maintctl tick`` in a loop probes, alerts, notifies and measures.

Isolation: a private state folder (its ``lab/`` links to the real lab folder, where the SSH key
and known_hosts live) and a copy of the demo client whose policy probes every 20 s, runs no
nightly window, and notifies a real SMTP server (aiosmtpd, STARTTLS and AUTH) and a real HTTP
receiver (through Apprise's ``json://``), both on loopback (tests/servers.py).

db01 runs systemd (lab/hosts.yml): stopping its ``ssh.service`` for about 3 minutes is a real
outage of its management port, and ``lab-broken.service`` is a unit ready to fail.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from maintcore import availability
from tests import servers
from tests.integration.conftest import run_group

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
MAINTCTL = str(Path(sys.executable).parent / "maintctl")
REAL_HOME = Path(os.environ.get("MAINT_HOME") or ROOT / "var").resolve()
PROBE_S = 20
OUTAGE_S = 180
DB01 = "maintlab-db01"
LAB_KNOWN_HOSTS = REAL_HOME / "lab" / "ssh" / "known_hosts"


def podman_exec(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", "exec", DB01, *args], capture_output=True, text=True, check=check, timeout=60)


class Supervised:
    """The private state folder, the inventory copy and the two real receivers."""

    def __init__(self, base: Path, smtp: servers.SmtpServer, hook: servers.HttpReceiver) -> None:
        self.home = base / "home"
        self.home.mkdir(mode=0o700)
        (self.home / "lab").symlink_to(REAL_HOME / "lab")
        self.inventories = base / "inventories"
        shutil.copytree(ROOT / "inventories" / "demo", self.inventories / "demo")
        client = self.inventories / "demo"
        policy_path = client / "group_vars" / "all" / "policy.yml"
        policy = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
        pol = policy["maint_policy"]
        pol["schedule"] = {"probe": f"every {PROBE_S} s"}
        pol.setdefault("hardware", {}).update(load_warn_per_cpu=999, load_crit_per_cpu=1000)
        pol["supervision"].update(probe_timeout_seconds=2, notify={
            "email": ["astreinte@msp.example"], "apprise": ["vault_notify_webhook_url"],
            "escalation": {"email": ["responsable@msp.example"]}})
        policy_path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
        # In a real client this URL is in the vault; the copy keeps it beside, unencrypted, for the test.
        (client / "group_vars" / "all" / "notify.yml").write_text(
            f"vault_notify_webhook_url: 'json://127.0.0.1:{hook.port}/maint'\n", encoding="utf-8")
        self.smtp, self.hook = smtp, hook

    def env(self) -> dict[str, str]:
        env = {**os.environ, "MAINT_HOME": str(self.home), "MAINT_INVENTORIES": str(self.inventories),
               **self.smtp.env()}
        env.pop("MAINT_TEST_NOW", None)
        return env

    def maintctl(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        return run_group([MAINTCTL, *args], timeout=timeout, env=self.env())

    def alerts(self, state: str = "all") -> list[dict[str, Any]]:
        proc = self.maintctl("alerts", "list", "--client", "demo", "--state", state, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        return list(json.loads(proc.stdout))

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.home / "store.db")
        conn.row_factory = sqlite3.Row
        return conn


@pytest.fixture()
def sup(tmp_path: Path) -> Iterator[Supervised]:
    if not LAB_KNOWN_HOSTS.is_file():
        pytest.fail("the lab is not up: run `maintctl lab up` (make test does)")
    with servers.smtp_server(tmp_path / "smtp") as smtp, servers.http_receiver() as hook:
        yield Supervised(tmp_path, smtp, hook)


def _wait_for_slot() -> None:
    """Sleep until 1 s after the next probe boundary on the clock (tick's slots: 00, 20, 40 s).

    A timer fires on a steady period; a loop that ticks "as soon as the last tick is done" drifts
    across the slots and skips one now and then, which the product rightly counts as unknown time.
    """
    now = time.time()
    time.sleep(PROBE_S - now % PROBE_S + 1)


def _outage_buckets(timeline: list[Any], stopped: dt.datetime, restarted: dt.datetime) -> dict[str, float]:
    """Seconds of each bucket (up, down, unknown, planned) of a host's timeline inside [stopped, restarted]."""
    seconds = {"up": 0.0, "down": 0.0, "unknown": 0.0, "planned": 0.0}
    for start, end, kind in timeline:
        lo = max(dt.datetime.fromisoformat(start.replace("Z", "+00:00")), stopped)
        hi = min(dt.datetime.fromisoformat(end.replace("Z", "+00:00")), restarted)
        if hi > lo:
            seconds[kind] += (hi - lo).total_seconds()
    return seconds


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_stopped_sshd_opens_one_alert_and_recovers(sup: Supervised) -> None:
    """db01's sshd stopped ~3 minutes: one alert within 2 probe intervals, one e-mail and one POST,
    one more of each on recovery, and the measured downtime within one probe interval of the real one."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    _wait_for_slot()
    assert sup.maintctl("tick").returncode == 0
    stopped = restarted = None
    alert: dict[str, Any] | None = None
    try:
        podman_exec("systemctl", "stop", "ssh.service")
        stopped = dt.datetime.now(dt.UTC)
        acked = False
        while (dt.datetime.now(dt.UTC) - stopped).total_seconds() < OUTAGE_S:
            _wait_for_slot()
            proc = sup.maintctl("tick")
            assert proc.returncode in (0, 1), proc.stdout + proc.stderr
            opened = [a for a in sup.alerts() if a["host"] == "db01" and a["check_id"] == "service.tcp"]
            if opened and not acked:
                alert = opened[0]
                ack = sup.maintctl("alerts", "ack", "--client", "demo", str(alert["id"]), "--as", "tech1",
                                   "--note", "sshd stopped on db01, restarting it")
                assert ack.returncode == 0, ack.stderr
                acked = True
    finally:
        podman_exec("systemctl", "start", "ssh.service", check=False)
        restarted = dt.datetime.now(dt.UTC)
    assert alert is not None, "no alert opened during a 3-minute outage"
    opened_at = dt.datetime.fromisoformat(alert["opened"].replace("Z", "+00:00"))
    assert (opened_at - stopped).total_seconds() <= 2 * PROBE_S + 10, "the alert opened too late"
    assert len(sup.smtp.messages) == 1 and len(sup.hook.requests) == 1, "one message per channel on opening"
    assert "db01" in sup.smtp.messages[0]["Subject"]
    assert sup.smtp.messages[0]["To"] == "astreinte@msp.example"
    # Recovery: the next probes see sshd again and resolve the alert, with one more message each.
    deadline = time.monotonic() + 3 * PROBE_S + 30
    while time.monotonic() < deadline:
        _wait_for_slot()
        sup.maintctl("tick")
        state = [a for a in sup.alerts() if a["id"] == alert["id"]][0]
        if state["state"] == "resolved":
            break
    assert state["state"] == "resolved", state
    assert len(sup.smtp.messages) == 2 and len(sup.hook.requests) == 2, "one message per channel on recovery"
    body = sup.hook.requests[1].body
    assert isinstance(body, dict) and "db01" in json.dumps(body)
    show = sup.maintctl("alerts", "show", "--client", "demo", str(alert["id"]), "--format", "json")
    shown = json.loads(show.stdout)
    assert shown["ack_by"] == "tech1" and shown["response_hours"] is not None
    assert shown["resolution_hours"] is not None and shown["response_within_sla"] is True
    assert [e["kind"] for e in shown["events"]] == ["opened", "acknowledged", "resolved"]
    assert all(e["result_id"] for e in shown["events"] if e["kind"] != "acknowledged")
    # Availability in minutes: the measured downtime is within one probe interval of the real one.
    with sup.db() as conn:
        spans = [dict(r) for r in conn.execute(
            "SELECT * FROM probe_spans WHERE host='db01' AND availability=1 ORDER BY start")]
    end = dt.datetime.now(dt.UTC)
    measured = availability.by_host(spans, [], ["db01"], start, end)["hosts"]["db01"]
    real = (restarted - stopped).total_seconds()
    inside = _outage_buckets(measured["timeline"], stopped, restarted)
    # Never more downtime than the real outage (plus the probe interval it ends in), and the
    # outage is never counted as available: only its first interval (before the first probe that
    # saw it) may still read as up. A slot the controller missed under load is unknown, never up
    # or down; with none missed, the measured downtime is within one interval of the real one.
    why = (measured, inside, real)
    assert measured["down_minutes"] * 60 <= real + PROBE_S + 6, why
    assert inside["up"] <= PROBE_S + 6 and inside["down"] + inside["unknown"] >= real - PROBE_S - 6, why
    assert inside["unknown"] <= 2 * PROBE_S, why
    if inside["unknown"] == 0:
        assert abs(measured["down_minutes"] * 60 - real) <= PROBE_S + 6 and measured["outages"] == 1, why
    assert measured["outages"] >= 1 and measured["rate"] is not None and measured["rate"] < 100
    # The monthly report shows both from these data: db01's downtime in minutes and the alert handled.
    out = sup.home / "report"
    proc = sup.maintctl("report", "--client", "demo", "--period", f"{end:%Y-%m}", "--format", "json,html",
                        "--out", str(out))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    doc = json.loads(next(out.glob("*.json")).read_text(encoding="utf-8"))
    host = next(h for h in doc["availability"]["hosts"] if h["host"] == "db01")
    assert host["down_minutes"] == measured["down_minutes"] and host["outages"] == measured["outages"], host
    handled = next(a for a in doc["alerts"] if a["id"] == alert["id"])
    assert handled["ack_by"] == "tech1" and handled["response_hours"] is not None
    assert handled["resolution_hours"] is not None and handled["opened_result"] and handled["resolved_result"]
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert "tech1" in html and "db01" in html


def test_the_watch_opens_the_right_alerts(sup: Supervised) -> None:
    """A failed unit, a filled disk and a burst of failed SSH logins on db01 each open their alert."""
    key = REAL_HOME / "lab" / "ssh" / "wrong_key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    try:
        podman_exec("systemctl", "start", "lab-broken.service", check=False)
        for _ in range(12):
            subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                            "-o", f"UserKnownHostsFile={LAB_KNOWN_HOSTS}", "-o", "IdentitiesOnly=yes",
                            "-i", str(key), "-o", "ConnectTimeout=5", "nosuchuser@198.51.100.12", "true"],
                           capture_output=True, timeout=30, check=False)
        proc = sup.maintctl("watch", "--client", "demo", "--limit", "db01")
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        opened = {(a["check_id"], a["item"]): a for a in sup.alerts("active") if a["host"] == "db01"}
        assert ("hardware.disk_free", "/srv/data") in opened
        assert opened[("hardware.disk_free", "/srv/data")]["status"] == "critical"
        assert ("service.systemd", "failed units") in opened
        assert "lab-broken" in opened[("service.systemd", "failed units")]["summary"]
        assert ("security.failed_logins", "") in opened or any(k[0] == "security.failed_logins" for k in opened)
    finally:
        podman_exec("systemctl", "reset-failed", "lab-broken.service", check=False)
    # The next watch sees the unit no longer failed, and no new failed login: both alerts resolve.
    proc = sup.maintctl("watch", "--client", "demo", "--limit", "db01")
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    still = {(a["check_id"], a["item"]) for a in sup.alerts("active") if a["host"] == "db01"}
    assert ("service.systemd", "failed units") not in still
    assert not any(k[0] == "security.failed_logins" for k in still)
    assert ("hardware.disk_free", "/srv/data") in still, "the disk is still full"
    # The watch stored the state changes, not every ok.
    with sup.db() as conn:
        kinds = {r[0] for r in conn.execute("SELECT kind FROM runs")}
    assert kinds == {"watch"}
