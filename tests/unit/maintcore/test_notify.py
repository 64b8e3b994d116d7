"""maintcore.notify: the outbox, sent to a real SMTP server and a real HTTP receiver on loopback.

Apprise targets are ``json://`` URLs to the receiver, kept in a fake vault (a mapping); the SMTP
server requires STARTTLS and AUTH. Every test checks that neither the URL nor the SMTP password
reaches the store, the report of a flush or the terminal.
"""

from __future__ import annotations

import copy
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from maintcore import notify
from maintcore.store import Store
from tests.servers import HttpReceiver, SmtpServer

T0 = dt.datetime(2026, 11, 3, 14, 0, tzinfo=dt.UTC)
TOKEN = "Zk7-vault-only-TOKEN-93x"  # the webhook's password: a secret of the client's vault
POLICY: dict[str, Any] = {
    "client_name": "Demo SARL",
    "timezone": "Europe/Paris",
    "report": {"locale": "en"},
    "supervision": {"notify": {
        "email": ["it@client.example"],
        "apprise": ["notify_hook_url"],
        "escalation": {"email": ["boss@client.example"], "apprise": ["notify_oncall_url"]},
        "max_attempts": 3,
        "retry_seconds": 60,
    }},
}


def iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def no_vault(name: str) -> str | None:
    return None


def policy(**notify_keys: Any) -> dict[str, Any]:
    pol = copy.deepcopy(POLICY)
    pol["supervision"]["notify"].update(notify_keys)
    return pol


@pytest.fixture()
def store(tmp_path: Path, maint_home: Path) -> Any:
    with Store(tmp_path / "store.db") as st:
        yield st


@pytest.fixture()
def vault(http_receiver: HttpReceiver) -> dict[str, str]:
    netloc = f"alerts:{TOKEN}@{http_receiver.host}:{http_receiver.port}"
    return {"notify_hook_url": f"json://{netloc}/hook", "notify_oncall_url": f"json://{netloc}/oncall"}


@pytest.fixture()
def smtp_env(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> SmtpServer:
    for key, value in smtp_server.env().items():
        monkeypatch.setenv(key, value)
    return smtp_server


def add_alert(store: Store, summary: str = "/var is 97% full (3.1 GB free)", **cols: Any) -> dict[str, Any]:
    row = {"client": "demo", "host": "web01", "check_id": "hardware.disk_free", "item": "/var", "state": "open",
           "status": "critical", "severity": "P1", "summary": summary, "opened": iso(T0), **cols}
    with store.transaction() as db:
        cur = db.execute(f"INSERT INTO alerts ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         list(row.values()))
    found = store.db.execute("SELECT * FROM alerts WHERE id=?", (cur.lastrowid,)).fetchone()
    return dict(found)


def queue(store: Store, alert: dict[str, Any], event: str = "opened", pol: dict[str, Any] | None = None,
          at: dt.datetime = T0) -> int:
    with store.transaction() as db:
        return notify.enqueue(db, alert, event, POLICY if pol is None else pol, iso(at))


def rows(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.db.execute("SELECT * FROM notifications ORDER BY id")]


def assert_no_secret(store: Store, report: notify.FlushReport | None, *secrets: str) -> None:
    """No secret in any text column of any table, in the database files, or in the flush's report."""
    store.db.commit()
    tables = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        for row in store.db.execute(f'SELECT * FROM "{table}"'):
            for value in row:
                if isinstance(value, str):
                    for secret in secrets:
                        assert secret not in value, f"{table}: {value!r}"
    for path in store.path.parent.glob(store.path.name + "*"):  # the db, its -wal and -shm
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, path
    if report is not None:
        for line in report.lines:
            for secret in secrets:
                assert secret not in line, line


def test_opened_alert_sends_one_email_and_one_post_then_nothing(
        store: Store, smtp_env: SmtpServer, http_receiver: HttpReceiver, vault: dict[str, str],
        capfd: pytest.CaptureFixture[str]) -> None:
    alert = add_alert(store)
    assert queue(store, alert) == 2
    queued = rows(store)
    assert [(r["channel"], r["target"], r["state"], r["next_attempt"]) for r in queued] == [
        ("email", "it@client.example", "pending", iso(T0)), ("apprise", "notify_hook_url", "pending", iso(T0))]

    report = notify.flush(store, "demo", vault.get, POLICY, now=T0)
    assert (report.sent, report.retried, report.failed, report.lines) == (2, 0, 0, [])
    (msg,) = smtp_env.messages
    assert msg["To"] == "it@client.example" and msg["Subject"] == queued[0]["subject"]
    assert "Demo SARL" in msg["Subject"] and "web01" in msg["Subject"]
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "maintctl alerts ack --client demo " + str(alert["id"]) in text
    (post,) = http_receiver.requests
    assert post.method == "POST" and post.path == "/hook"
    assert post.body["title"] == queued[1]["subject"] and "web01" in post.body["message"]
    assert post.headers["Authorization"].startswith("Basic ")  # the vault's credentials reached the receiver
    assert [(r["state"], r["sent"], r["last_error"]) for r in rows(store)] == [("sent", iso(T0), None)] * 2

    again = notify.flush(store, "demo", vault.get, POLICY, now=T0 + dt.timedelta(hours=1))
    assert (again.sent, again.retried, again.failed) == (0, 0, 0)
    assert len(smtp_env.messages) == 1 and len(http_receiver.requests) == 1
    assert_no_secret(store, report, TOKEN, vault["notify_hook_url"], smtp_env.password)
    out, err = capfd.readouterr()
    assert TOKEN not in out + err and smtp_env.password not in out + err


def test_enqueue_runs_in_the_callers_transaction(store: Store) -> None:
    alert = add_alert(store)
    assert notify.enqueue(store.db, alert, "opened", POLICY, iso(T0)) == 2
    assert store.db.in_transaction  # not committed: the caller decides
    store.db.rollback()
    assert rows(store) == []
    assert queue(store, alert) == 2
    assert queue(store, alert) == 0  # the same event is not queued twice for a target
    assert queue(store, add_alert(store, host="web02"), pol={"supervision": {}}) == 0
    assert queue(store, add_alert(store, host="web03"), pol={}) == 0
    with pytest.raises(ValueError, match="unknown"):
        queue(store, alert, event="observed")


def test_a_500_is_retried_later_with_backoff_then_given_up(
        store: Store, http_receiver: HttpReceiver, vault: dict[str, str], capfd: pytest.CaptureFixture[str]) -> None:
    pol = policy(email=[])
    alert = add_alert(store)
    assert queue(store, alert, pol=pol) == 1
    http_receiver.fail_next(1, 500)
    first = notify.flush(store, "demo", vault.get, pol, now=T0)
    assert (first.sent, first.retried, first.failed) == (0, 1, 0)
    (row,) = rows(store)
    assert row["state"] == "pending" and row["attempts"] == 1 and "500" in row["last_error"]
    assert row["next_attempt"] == iso(T0 + dt.timedelta(seconds=60))
    assert "notify_hook_url" in first.lines[0] and "500" in first.lines[0]

    early = notify.flush(store, "demo", vault.get, pol, now=T0 + dt.timedelta(seconds=30))
    assert (early.sent, early.retried, early.failed) == (0, 0, 0) and len(http_receiver.requests) == 1
    later = notify.flush(store, "demo", vault.get, pol, now=T0 + dt.timedelta(seconds=60))
    assert later.sent == 1 and len(http_receiver.requests) == 2
    (row,) = rows(store)
    assert row["state"] == "sent" and row["sent"] == iso(T0 + dt.timedelta(seconds=60))

    # always 500: attempts at T0, +60 s, then +120 s more; the third is the last (max_attempts 3)
    http_receiver.default_status = 500
    other = add_alert(store, host="web02")
    assert queue(store, other, pol=pol) == 1
    at, reports = T0, []
    for wait in (0, 60, 120):
        at += dt.timedelta(seconds=wait)
        reports.append(notify.flush(store, "demo", vault.get, pol, now=at))
        pending = rows(store)[1]
        if wait < 120:
            assert pending["next_attempt"] == iso(at + dt.timedelta(seconds=60 * (2 if wait else 1)))
    assert [(r.sent, r.retried, r.failed) for r in reports] == [(0, 1, 0), (0, 1, 0), (0, 0, 1)]
    failed = rows(store)[1]
    assert failed["state"] == "failed" and failed["attempts"] == 3 and "500" in failed["last_error"]
    assert "given up after 3 attempts" in reports[-1].lines[0]
    assert len(http_receiver.requests) == 5
    assert notify.flush(store, "demo", vault.get, pol, now=at + dt.timedelta(days=2)).failed == 0
    assert len(http_receiver.requests) == 5
    for report in (first, *reports):
        assert_no_secret(store, report, TOKEN, vault["notify_hook_url"], f"{http_receiver.host}:{http_receiver.port}")
    out, err = capfd.readouterr()
    assert TOKEN not in out + err and "json://" not in out + err


def test_an_unreachable_service_is_recorded_without_its_url(store: Store, capfd: pytest.CaptureFixture[str]) -> None:
    from tests.servers import free_port

    url = f"json://alerts:{TOKEN}@127.0.0.1:{free_port()}/hook"  # nothing listens there
    pol = policy(email=[], max_attempts=1)
    queue(store, add_alert(store), pol=pol)
    report = notify.flush(store, "demo", {"notify_hook_url": url}.get, pol, now=T0)
    assert report.failed == 1
    (row,) = rows(store)
    assert row["state"] == "failed" and row["last_error"]
    assert_no_secret(store, report, TOKEN, url, "127.0.0.1")
    out, err = capfd.readouterr()
    assert TOKEN not in out + err and "json://" not in out + err


def test_a_url_apprise_cannot_parse_is_recorded_without_it(store: Store, capfd: pytest.CaptureFixture[str]) -> None:
    url = f"nosuchservice://alerts:{TOKEN}@hooks.example.net/x"
    pol = policy(email=[])
    queue(store, add_alert(store), pol=pol)
    report = notify.flush(store, "demo", {"notify_hook_url": url}.get, pol, now=T0)
    assert report.retried == 1 and "does not hold a URL Apprise supports" in report.lines[0]
    assert_no_secret(store, report, TOKEN, url, "hooks.example.net", "nosuchservice")
    out, err = capfd.readouterr()
    assert "nosuchservice" not in out + err and "hooks.example.net" not in out + err


def test_missing_vault_variable_is_a_failed_attempt(store: Store, http_receiver: HttpReceiver) -> None:
    pol = policy(email=[])
    queue(store, add_alert(store), pol=pol)
    report = notify.flush(store, "demo", no_vault, pol, now=T0)
    assert (report.sent, report.retried, report.failed) == (0, 1, 0)
    (line,) = report.lines
    assert "vault variable notify_hook_url is not set" in line
    (row,) = rows(store)
    assert row["attempts"] == 1 and row["last_error"] == "vault variable notify_hook_url is not set"
    assert http_receiver.requests == []


def test_missing_smtp_settings_are_a_failed_attempt_not_an_exception(store: Store) -> None:
    pol = policy(apprise=[])
    queue(store, add_alert(store), pol=pol)
    report = notify.flush(store, "demo", no_vault, pol, now=T0)
    assert report.retried == 1 and "SMTP host is not set" in report.lines[0]
    (row,) = rows(store)
    assert row["state"] == "pending" and "SMTP host is not set" in row["last_error"]


def test_escalation_goes_to_the_escalation_contacts_only(
        store: Store, smtp_env: SmtpServer, http_receiver: HttpReceiver, vault: dict[str, str]) -> None:
    assert notify.targets(POLICY, "escalated") == [("email", "boss@client.example"), ("apprise", "notify_oncall_url")]
    assert notify.targets(POLICY, "recovered") == [("email", "it@client.example"), ("apprise", "notify_hook_url")]
    alert = add_alert(store)
    assert queue(store, alert, event="escalated") == 2
    report = notify.flush(store, "demo", vault.get, POLICY, now=T0)
    assert report.sent == 2
    assert [m["To"] for m in smtp_env.messages] == ["boss@client.example"]
    assert [r.path for r in http_receiver.requests] == ["/oncall"]
    assert "Escalation" in smtp_env.messages[0]["Subject"]
    assert notify.targets(policy(escalation={}), "escalated") == []


def test_compose_in_english_and_french() -> None:
    alert = {"id": 7, "client": "demo", "host": "web01", "check_id": "hardware.disk_free", "item": "/var",
             "state": "open", "status": "critical", "severity": "P1", "summary": "/var is 97% full",
             "opened": "2026-11-03T14:00:00Z", "acknowledged": None, "resolved": None}
    subject, body = notify.compose(alert, "opened", POLICY)
    assert subject == "[P1] Alert (critical): Demo SARL web01 Disk space /var: /var is 97% full"
    for text in ("Demo SARL (demo)", "Host: web01", "Check: Disk space", "Item: /var", "Status: critical",
                 "Severity: P1", "Summary: /var is 97% full", "Opened: 2026-11-03 15:00 CET",
                 "maintctl alerts ack --client demo 7"):
        assert text in body, text
    # the check id only once, on the last line, for the technician
    assert body.count("hardware.disk_free") == 1 and body.endswith("For the technician: check id: hardware.disk_free\n")

    fr = policy(locale="fr")
    subject, body = notify.compose(alert, "opened", fr)
    assert subject.startswith("[P1] Alerte (critique): Demo SARL web01 Espace disque /var")
    assert "Hôte: web01" in body and "Ouverte le: 2026-11-03 15:00 CET" in body and "Contrôle: Espace disque" in body
    # without the result's message, the French summary is the check's label and status, never the English one
    assert "97% full" not in subject + body and "Résumé: Espace disque (/var) : " in body
    message = {"id": "%(mount)s: %(free_pct)s %% free (%(avail)s of %(size)s)",
               "params": {"mount": "/var", "free_pct": 2.5, "avail": "0.2 GiB", "size": "8 GiB"}}
    subject, body = notify.compose(alert, "opened", fr, message)
    assert subject.endswith("Espace disque /var: /var : 2,5 % libre (0.2 GiB sur 8 GiB)"), subject
    assert "full" not in subject + body and " free" not in subject + body and "Résumé: /var : 2,5 % libre" in body
    subject, _ = notify.compose(alert, "escalated", fr)
    assert "non acquittée" in subject

    resolved = {**alert, "state": "resolved", "resolved": "2026-11-03T16:05:00Z"}
    subject, body = notify.compose(resolved, "recovered", POLICY)
    assert subject.startswith("[P1] Recovered") and "Duration: 2 h 05 min" in body
    assert "Recovered: 2026-11-03 17:05 CET" in body and "alerts ack" not in body
    subject, body = notify.compose(resolved, "recovered", fr)
    assert subject.startswith("[P1] Rétablissement") and "Durée: 2 h 05 min" in body

    # the locale falls back on the report's, then on English
    assert notify.locale_of({"report": {"locale": "fr"}}) == "fr"
    assert notify.locale_of({"report": {"locale": "de"}}) == "en" and notify.locale_of({}) == "en"


def test_a_summary_with_newlines_cannot_add_a_header(store: Store, smtp_env: SmtpServer) -> None:
    pol = policy(apprise=[])
    alert = add_alert(store, summary="disk full\r\nBcc: evil@attacker.example\nX-Injected: yes")
    subject, _ = notify.compose(alert, "opened", pol)
    assert "\n" not in subject and "\r" not in subject
    queue(store, alert, pol=pol)
    assert notify.flush(store, "demo", no_vault, pol, now=T0).sent == 1
    (msg,) = smtp_env.messages
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert smtp_env.envelopes[0][1] == ["it@client.example"]
    assert "Bcc: evil@attacker.example" in msg["Subject"]  # shown, as text of the subject


def test_suppressed_alert_notifies_nobody(store: Store) -> None:
    assert queue(store, add_alert(store, suppressed=1)) == 0


def test_redact_hides_the_url_and_its_parts() -> None:
    url = f"json://alerts:{TOKEN}@hooks.example.net/path/{TOKEN[:8]}x?key=abcdef123"
    text = notify.redact(f"failed: {url}\nsent to hooks.example.net with key abcdef123 ({TOKEN})", [url])
    assert "\n" not in text
    for part in (TOKEN, "hooks.example.net", "abcdef123", "json://"):
        assert part not in text
    assert notify.retry_wait(60, 1) == 60 and notify.retry_wait(60, 3) == 240 and notify.retry_wait(60, 99) == 86400


def test_flush_only_touches_its_client(store: Store, http_receiver: HttpReceiver, vault: dict[str, str]) -> None:
    pol = policy(email=[])
    queue(store, add_alert(store, client="other"), pol=pol)
    assert notify.flush(store, "demo", vault.get, pol, now=T0).sent == 0
    assert http_receiver.requests == []
    assert notify.flush(store, "other", vault.get, pol, now=T0).sent == 1


def test_store_columns_hold_names_not_urls(store: Store, vault: dict[str, str]) -> None:
    queue(store, add_alert(store))
    targets = [r["target"] for r in rows(store)]
    assert targets == ["it@client.example", "notify_hook_url"]
    with pytest.raises(sqlite3.IntegrityError):  # the outbox keeps its NOT NULL columns
        store.db.execute("INSERT INTO notifications (client, event, channel, target, state) VALUES"
                         " ('demo','opened','email','x','pending')")
