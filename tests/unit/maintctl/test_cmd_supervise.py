"""``maintctl probe``, ``alerts`` and ``downtime`` for real on loopback (no lab needed).

The client's one host is 127.0.0.1 with a real TCP listener as its management port; stopping
the listener is the outage. Notifications go to a real SMTP server (STARTTLS, AUTH) and a real
HTTP receiver through Apprise (tests/servers.py).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from maintcore.store import Store
from maintctl import cli, cmd_supervise, cmd_tick
from tests import servers


class Listener:
    """A TCP listener on 127.0.0.1 that accepts and closes connections until stopped."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
                conn.close()
            except OSError:
                continue

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture()
def listener() -> Iterator[Listener]:
    lst = Listener()
    try:
        yield lst
    finally:
        if lst.running:
            lst.stop()


def write_client(inv: Path, port: int, hook_url: str | None, extra: str = "") -> None:
    (inv / "acme" / "group_vars" / "all").mkdir(parents=True)
    (inv / "acme" / "hosts.yml").write_text(
        "all:\n  hosts:\n    srv01:\n      ansible_host: 127.0.0.1\n"
        f"      ansible_port: {port}\n      ansible_user: maint\n")
    notify = "    notify:\n      email: [ops@msp.example]\n" + ("      apprise: [notify_hook]\n" if hook_url else "")
    (inv / "acme" / "group_vars" / "all" / "policy.yml").write_text(
        "maint_policy:\n  client_name: Acme SAS\n  timezone: Europe/Paris\n  windows: ['Mon-Fri 20:00-06:00']\n"
        "  schedule: {probe: 'every 1 min'}\n"
        "  sla:\n    response_hours: {P1: 4}\n    resolve_hours: {P1: 8}\n"
        "    rules: [{check: 'service.tcp', status: critical, severity: P1}]\n"
        "  supervision:\n    probe_timeout_seconds: 1\n" + notify + extra)
    if hook_url:
        (inv / "acme" / "group_vars" / "all" / "hooks.yml").write_text(f"notify_hook: '{hook_url}'\n")


@pytest.fixture()
def client(tmp_path: Path, maint_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    inv = tmp_path / "inventories"
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    return inv


def probe(monkeypatch: pytest.MonkeyPatch, now: str) -> int:
    monkeypatch.setenv("MAINT_TEST_NOW", now)
    return cli.main(["probe", "--client", "acme"])


def test_an_outage_opens_one_alert_notifies_once_and_recovers(
        client: Path, listener: Listener, maint_home: Path, monkeypatch: pytest.MonkeyPatch,
        smtp_server: servers.SmtpServer, http_receiver: servers.HttpReceiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_client(client, listener.port, f"json://127.0.0.1:{http_receiver.port}/hook")
    for key, value in smtp_server.env().items():
        monkeypatch.setenv(key, value)
    assert probe(monkeypatch, "2026-11-10T02:00:00Z") == 0
    listener.stop()
    assert probe(monkeypatch, "2026-11-10T02:01:00Z") == 1
    assert not smtp_server.messages and not http_receiver.requests, "one bad probe is damped"
    assert probe(monkeypatch, "2026-11-10T02:02:00Z") == 1
    assert probe(monkeypatch, "2026-11-10T02:03:00Z") == 1
    assert len(smtp_server.messages) == 1 and len(http_receiver.requests) == 1
    assert "srv01" in smtp_server.messages[0]["Subject"]
    capsys.readouterr()
    assert cli.main(["alerts", "list", "--client", "acme", "--format", "json"]) == 0
    alerts = json.loads(capsys.readouterr().out)
    assert [(a["host"], a["check_id"], a["state"], a["severity"]) for a in alerts] == [
        ("srv01", "service.tcp", "open", "P1")]
    alert_id = alerts[0]["id"]
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-10T02:10:00Z")
    assert cli.main(["alerts", "ack", "--client", "acme", str(alert_id), "--as", "alice", "--note", "on it"]) == 0
    # The host comes back on the same port: recovery, one more message on each channel.
    back = socket.socket()
    back.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    back.bind(("127.0.0.1", listener.port))
    back.listen(4)
    try:
        assert probe(monkeypatch, "2026-11-10T02:20:00Z") == 0
    finally:
        back.close()
    assert len(smtp_server.messages) == 2 and len(http_receiver.requests) == 2
    capsys.readouterr()
    assert cli.main(["alerts", "show", "--client", "acme", str(alert_id), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["state"] == "resolved" and shown["ack_by"] == "alice"
    assert shown["response_hours"] == pytest.approx(8 / 60, abs=0.01) and shown["response_within_sla"] is True
    assert shown["resolution_hours"] == pytest.approx(18 / 60, abs=0.01) and shown["resolution_within_sla"] is True
    assert [e["kind"] for e in shown["events"]] == ["opened", "acknowledged", "resolved"]
    assert {n["state"] for n in shown["notifications"]} == {"sent"}
    # Availability in minutes: up 02:00-02:01, down 02:01-02:04, unknown 02:04-02:20 (no probe), up after.
    with Store() as store:
        spans = [(r["status"], r["start"], r["end"]) for r in store.db.execute(
            'SELECT status, start, "end" FROM probe_spans ORDER BY start')]
    assert spans == [("ok", "2026-11-10T02:00:00Z", "2026-11-10T02:01:00Z"),
                     ("critical", "2026-11-10T02:01:00Z", "2026-11-10T02:04:00Z"),
                     ("ok", "2026-11-10T02:20:00Z", "2026-11-10T02:21:00Z")]


def test_a_failed_notification_is_retried_and_recorded(
        client: Path, listener: Listener, maint_home: Path, monkeypatch: pytest.MonkeyPatch,
        http_receiver: servers.HttpReceiver, capsys: pytest.CaptureFixture[str]) -> None:
    write_client(client, listener.port, f"json://127.0.0.1:{http_receiver.port}/hook")
    for key in ("HOST", "PORT", "USER", "PASSWORD", "FROM", "TO", "CAFILE"):
        monkeypatch.delenv(f"MAINT_SMTP_{key}", raising=False)
    listener.stop()
    http_receiver.fail_next(1, 500)
    probe(monkeypatch, "2026-11-10T02:01:00Z")
    probe(monkeypatch, "2026-11-10T02:02:00Z")
    out = capsys.readouterr().out
    assert "notification:" in out, "a failed send says so"
    with Store() as store:
        rows = {r["channel"]: dict(r) for r in store.db.execute("SELECT * FROM notifications")}
    assert rows["email"]["state"] == "pending" and rows["email"]["attempts"] == 1 and rows["email"]["last_error"]
    assert rows["apprise"]["attempts"] == 1 and rows["apprise"]["state"] == "pending"
    # A tick after the retry time sends the webhook (the receiver answers 200 now).
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-10T02:05:00Z")
    cmd_tick._after_cycles(["acme"])
    with Store() as store:
        rows = {r["channel"]: dict(r) for r in store.db.execute("SELECT * FROM notifications")}
    assert rows["apprise"]["state"] == "sent" and len(http_receiver.requests) == 2


def test_downtime_commands_and_a_suppressed_outage(client: Path, listener: Listener, maint_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    write_client(client, listener.port, None)
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-10T01:55:00Z")
    assert cli.main(["downtime", "add", "--client", "acme", "--host", "srv01", "--from", "now", "--to", "+1h",
                     "--reason", "disk replacement", "--as", "bob"]) == 0
    assert cli.main(["downtime", "add", "--client", "acme", "--host", "other", "--to", "+1h",
                     "--reason", "x"]) == 2
    assert "is not a host of client acme" in capsys.readouterr().err
    assert cli.main(["downtime", "add", "--client", "acme", "--host", "srv01", "--from", "tomorrow",
                     "--to", "+1h", "--reason", "x"]) == 2
    assert "--from: 'tomorrow': expected now" in capsys.readouterr().err
    listener.stop()
    probe(monkeypatch, "2026-11-10T02:00:00Z")
    probe(monkeypatch, "2026-11-10T02:01:00Z")
    capsys.readouterr()
    assert cli.main(["alerts", "list", "--client", "acme"]) == 0
    assert "(in downtime)" in capsys.readouterr().out
    assert cli.main(["downtime", "list", "--client", "acme"]) == 0
    listing = capsys.readouterr().out
    assert "srv01" in listing and "disk replacement" in listing and "bob" in listing
    downtime_id = listing.split()[0]
    assert cli.main(["downtime", "delete", "--client", "acme", downtime_id, "--as", "bob"]) == 0
    assert cli.main(["downtime", "list", "--client", "acme"]) == 0
    assert "no downtime" in capsys.readouterr().out


def test_alert_commands_refuse_another_clients_alert(client: Path, listener: Listener, maint_home: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    write_client(client, listener.port, None)
    listener.stop()
    probe(monkeypatch, "2026-11-10T02:00:00Z")
    probe(monkeypatch, "2026-11-10T02:01:00Z")
    (client / "bravo").mkdir()
    (client / "bravo" / "hosts.yml").write_text("all:\n  hosts:\n    b1:\n")
    capsys.readouterr()
    assert cli.main(["alerts", "ack", "--client", "bravo", "1"]) == 2
    assert "no such alert for client bravo" in capsys.readouterr().err
    assert cli.main(["alerts", "resolve", "--client", "acme", "1", "--note", "fixed", "--as", "carol"]) == 0
    assert cli.main(["alerts", "ack", "--client", "acme", "1"]) == 2
    assert "only an open alert" in capsys.readouterr().err


def test_tick_starts_due_cycles_and_skips_them_until_their_interval(client: Path, listener: Listener,
                                                                    maint_home: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    write_client(client, listener.port, None)
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-10T02:00:00Z")
    assert cli.main(["tick", "--dry-run"]) == 0
    assert "would start acme: probe" in capsys.readouterr().out
    assert cli.main(["tick"]) == 0
    out = capsys.readouterr().out
    assert "acme: probe exit 0" in out
    # 50 s later (a timer firing early): still on time within the slack; 20 s later: not due.
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-10T02:00:50Z")
    assert cli.main(["tick", "--dry-run"]) == 0
    assert "would start acme: probe" in capsys.readouterr().out
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-10T02:00:20Z")
    assert cli.main(["tick", "--dry-run"]) == 0
    assert "nothing due" in capsys.readouterr().out


def test_when_parsing() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    now = dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC)
    paris = ZoneInfo("Europe/Paris")
    assert cmd_supervise.parse_when("+90m", paris, now, "--to") == now + dt.timedelta(minutes=90)
    assert cmd_supervise.parse_when("2026-11-10 08:00", paris, now, "--to") == dt.datetime(
        2026, 11, 10, 7, 0, tzinfo=dt.UTC)
    assert cmd_supervise.parse_when("2026-11-10T08:00:00Z", paris, now, "--to") == dt.datetime(
        2026, 11, 10, 8, 0, tzinfo=dt.UTC)
