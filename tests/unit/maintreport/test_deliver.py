"""`maintctl report --email/--webhook` end to end against real servers on loopback.

The SMTP server is aiosmtpd, requiring STARTTLS (a self-signed certificate) and AUTH; the
webhook is a real http.server (both from tests/servers.py). The report is built from recorded lab runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from maintcore.store import Store
from maintctl.cli import main
from tests.servers import SMTP_PASSWORD as PASSWORD
from tests.servers import HttpReceiver, SmtpServer, http_receiver
from tests.unit.maintreport.test_build import home, load_fixture  # noqa: F401 - the fixture is used by name


@pytest.fixture()
def webhook() -> Iterator[HttpReceiver]:
    with http_receiver(default_status=204, path_status={"/fail": 500}) as receiver:
        yield receiver


@pytest.fixture()
def loaded(home: Path) -> Path:  # noqa: F811 - pytest fixture from maintreport/test_build
    with Store(home / "home" / "store.db") as store:
        load_fixture(store)
    return home


def _smtp_env(monkeypatch: pytest.MonkeyPatch, smtp: SmtpServer, password: str = PASSWORD) -> None:
    env = smtp.env(sender="reports@msp.example", to="owner@client.example, it@client.example")
    for key, value in {**env, "MAINT_SMTP_PASSWORD": password}.items():
        monkeypatch.setenv(key, value)


def test_email_end_to_end_with_starttls_and_auth(loaded: Path, smtp_server: SmtpServer, webhook: HttpReceiver,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _smtp_env(monkeypatch, smtp_server)
    code = main(["report", "--client", "demo", "--period", "2026-11", "--format", "json", "--email",
                 "--webhook", webhook.url + "/hook"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "email: sent to owner@client.example, it@client.example" in out and "webhook: HTTP 204" in out
    assert smtp_server.auth == [("LOGIN", "ok")] or smtp_server.auth == [("PLAIN", "ok")]
    (msg,) = smtp_server.messages
    assert msg["Subject"].startswith("Maintenance report Demo SARL 2026-11 (score ")
    assert msg["To"] == "owner@client.example, it@client.example"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and "# Maintenance report: Demo SARL (2026-11)" in body.get_content()
    attachments = {part.get_filename(): part for part in msg.iter_attachments()}
    assert set(attachments) == {"report.pdf", "report.html"}
    assert attachments["report.pdf"].get_content().startswith(b"%PDF-")
    assert "Demo SARL" in attachments["report.html"].get_content()
    # the written files are the ones attached, and the password is nowhere
    report_dir = loaded / "home" / "reports" / "demo" / "2026-11"
    assert (report_dir / "report.pdf").read_bytes() == attachments["report.pdf"].get_content()
    for path in report_dir.iterdir():
        assert PASSWORD.encode() not in path.read_bytes()
    assert PASSWORD not in out + err
    (hook,) = webhook.requests
    assert hook.path == "/hook" and hook.headers["Content-Type"] == "application/json"
    summary = hook.body
    assert summary["client"] == "demo" and summary["period"] == "2026-11" and summary["open_critical"] == 1
    # the alerts handled: db01's carried-over alert answered late, the new one pending; no probe data
    assert summary["sla"] == {"met": 0, "missed": 1, "pending": 1, "met_rate": 0.0} and "appendix" not in summary
    assert summary["alerts"] == {"total": 2, "active": 1, "in_downtime": 0}
    assert summary["availability_rate"] is None and summary["availability"]["target"] == 99.5
    assert summary["areas"]["hardware"]["light"] == "red"


def test_wrong_password_fails_in_one_line_without_the_password(loaded: Path, smtp_server: SmtpServer,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    _smtp_env(monkeypatch, smtp_server, password="wrong-" + PASSWORD)
    code = main(["report", "--client", "demo", "--period", "2026-11", "--email"])
    _out, err = capsys.readouterr()
    assert code == 1 and "SMTP login to 127.0.0.1" in err and "refused" in err
    assert PASSWORD not in err and len(err.strip().splitlines()) == 1
    assert smtp_server.messages == []


def test_untrusted_certificate_is_refused(loaded: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _smtp_env(monkeypatch, smtp_server)
    monkeypatch.delenv("MAINT_SMTP_CAFILE")
    code = main(["report", "--client", "demo", "--period", "2026-11", "--email"])
    _out, err = capsys.readouterr()
    assert code == 1 and "CERTIFICATE_VERIFY_FAILED" in err
    assert smtp_server.auth == [] and smtp_server.messages == []


def test_missing_settings_and_secrets_in_the_settings_file(loaded: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--client", "demo", "--period", "2026-11", "--email"])
    assert code == 2 and "SMTP host is not set" in capsys.readouterr().err
    (loaded / "home" / "smtp.yml").write_text("host: 127.0.0.1\npassword: x\n", encoding="utf-8")
    code = main(["report", "--client", "demo", "--period", "2026-11", "--email"])
    assert code == 2 and "keep secrets out of MAINT_HOME" in capsys.readouterr().err


def test_webhook_error_status_fails(loaded: Path, webhook: HttpReceiver, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--client", "demo", "--period", "2026-11", "--webhook", webhook.url + "/fail"])
    assert code == 1 and "answered HTTP 500" in capsys.readouterr().err
    assert main(["report", "--client", "demo", "--webhook", "ftp://x"]) == 2


def test_the_smtp_code_lives_in_maintcore_and_keeps_its_names_here() -> None:
    from maintcore import mail
    from maintreport import deliver

    assert deliver.DeliveryError is mail.DeliveryError and deliver.send_email is mail.send_email
    assert deliver.build_message is mail.build_message and deliver.SMTP_KEYS == mail.SMTP_KEYS
