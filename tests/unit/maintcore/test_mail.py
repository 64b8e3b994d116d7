"""maintcore.mail against a real SMTP server on loopback (aiosmtpd, STARTTLS and AUTH required)."""

from __future__ import annotations

from pathlib import Path

import pytest

from maintcore import mail
from maintcore.errors import InvalidInput
from tests.servers import SmtpServer, smtp_server


def _env(monkeypatch: pytest.MonkeyPatch, server: SmtpServer, **extra: str) -> None:
    for key, value in {**server.env(), **extra}.items():
        monkeypatch.setenv(key, value)


def test_sends_over_starttls_with_login(maint_home: Path, smtp_server: SmtpServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, smtp_server)
    settings = mail.smtp_settings(require_to=False)
    assert settings["port"] == smtp_server.port and "to" not in settings
    msg = mail.build_message("Disk full", "body text\n", [], settings["from"], ["it@client.example"])
    mail.send_email(msg, settings, timeout=10)
    (got,) = smtp_server.messages
    assert got["Subject"] == "Disk full" and got["To"] == "it@client.example"
    assert smtp_server.envelopes == [("alerts@msp.example", ["it@client.example"])]
    assert smtp_server.auth in ([("LOGIN", "ok")], [("PLAIN", "ok")])


def test_subject_is_one_line(maint_home: Path) -> None:
    msg = mail.build_message("Disk\r\nBcc: evil@attacker.example\nX-Evil: 1", "b", [], "a@b.example", ["c@d.example"])
    assert msg["Subject"] == "Disk Bcc: evil@attacker.example X-Evil: 1"
    assert msg["Bcc"] is None and msg["X-Evil"] is None


def test_settings_messages_take_the_callers_prefix(maint_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput, match=r"^notify: SMTP host is not set"):
        mail.smtp_settings("notify")
    with pytest.raises(InvalidInput, match=r"^SMTP host is not set"):
        mail.smtp_settings()
    monkeypatch.setenv("MAINT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MAINT_SMTP_FROM", "alerts@msp.example")
    with pytest.raises(InvalidInput, match="SMTP to is not set"):
        mail.smtp_settings()
    assert mail.smtp_settings(require_to=False)["host"] == "127.0.0.1"
    monkeypatch.setenv("MAINT_SMTP_USER", "msp")
    with pytest.raises(InvalidInput, match=r"^--email: MAINT_SMTP_PASSWORD is not set"):
        mail.smtp_settings("--email", require_to=False)
    (maint_home / "smtp.yml").write_text("host: 127.0.0.1\npassword: x\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="keep secrets out of MAINT_HOME"):
        mail.smtp_settings(require_to=False)


def test_wrong_password_is_refused_without_showing_it(maint_home: Path, smtp_server: SmtpServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, smtp_server, MAINT_SMTP_PASSWORD="wrong-" + smtp_server.password)
    settings = mail.smtp_settings(require_to=False)
    msg = mail.build_message("s", "b", [], settings["from"], ["it@client.example"])
    with pytest.raises(mail.DeliveryError) as info:
        mail.send_email(msg, settings, timeout=10)
    assert "refused" in str(info.value) and smtp_server.password not in str(info.value)
    assert smtp_server.messages == []


def test_a_server_without_starttls_gets_nothing(tmp_path: Path, maint_home: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server(tmp_path / "plain", starttls=False) as plain:
        _env(monkeypatch, plain)
        settings = mail.smtp_settings(require_to=False)
        msg = mail.build_message("s", "b", [], settings["from"], ["it@client.example"])
        with pytest.raises(mail.DeliveryError, match="does not offer STARTTLS"):
            mail.send_email(msg, settings, timeout=10)
        assert plain.messages == [] and plain.auth == []

