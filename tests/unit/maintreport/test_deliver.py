"""`maintctl report --email/--webhook` end to end against real servers on loopback.

The SMTP server is aiosmtpd, requiring STARTTLS (a self-signed certificate made here) and
AUTH; the webhook is a real http.server. The report is built from recorded lab runs.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from maintcore.store import Store
from maintctl.cli import main
from tests.unit.maintreport.test_build import home, load_fixture  # noqa: F401 - the fixture is used by name

PASSWORD = "s3cret-Pa55-never-logged"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "smtp.crt", tmp / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Inbox:
    """aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.auth: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


@pytest.fixture()
def smtp(tmp_path: Path) -> Iterator[dict[str, Any]]:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"msp" and auth_data.password == PASSWORD.encode()
        inbox.auth.append((mechanism, "ok" if ok else "refused"))
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_required=True, authenticator=authenticator)
    controller.start()
    try:
        yield {"port": port, "inbox": inbox, "cafile": cert}
    finally:
        controller.stop()


@pytest.fixture()
def webhook() -> Iterator[dict[str, Any]]:
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)})
            self.send_response(204 if self.path != "/fail" else 500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_address[1]}", "received": received}
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def loaded(home: Path) -> Path:  # noqa: F811 - pytest fixture from maintreport/test_build
    with Store(home / "home" / "store.db") as store:
        load_fixture(store)
    return home


def _smtp_env(monkeypatch: pytest.MonkeyPatch, smtp: dict[str, Any], password: str = PASSWORD) -> None:
    for key, value in {"HOST": "127.0.0.1", "PORT": str(smtp["port"]), "USER": "msp", "PASSWORD": password,
                       "FROM": "reports@msp.example", "TO": "owner@client.example, it@client.example",
                       "CAFILE": str(smtp["cafile"])}.items():
        monkeypatch.setenv(f"MAINT_SMTP_{key}", value)


def test_email_end_to_end_with_starttls_and_auth(loaded: Path, smtp: dict[str, Any], webhook: dict[str, Any],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _smtp_env(monkeypatch, smtp)
    code = main(["report", "--client", "demo", "--period", "2026-11", "--format", "json", "--email",
                 "--webhook", webhook["url"] + "/hook"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "email: sent to owner@client.example, it@client.example" in out and "webhook: HTTP 204" in out
    assert smtp["inbox"].auth == [("LOGIN", "ok")] or smtp["inbox"].auth == [("PLAIN", "ok")]
    (msg,) = smtp["inbox"].messages
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
    (hook,) = webhook["received"]
    assert hook["path"] == "/hook" and hook["type"] == "application/json"
    summary = hook["body"]
    assert summary["client"] == "demo" and summary["period"] == "2026-11" and summary["open_critical"] == 1
    assert summary["sla"]["met"] == 1 and "appendix" not in summary
    assert summary["areas"]["hardware"]["light"] == "red"


def test_wrong_password_fails_in_one_line_without_the_password(loaded: Path, smtp: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    _smtp_env(monkeypatch, smtp, password="wrong-" + PASSWORD)
    code = main(["report", "--client", "demo", "--period", "2026-11", "--email"])
    _out, err = capsys.readouterr()
    assert code == 1 and "SMTP login to 127.0.0.1" in err and "refused" in err
    assert PASSWORD not in err and len(err.strip().splitlines()) == 1
    assert smtp["inbox"].messages == []


def test_untrusted_certificate_is_refused(loaded: Path, smtp: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _smtp_env(monkeypatch, smtp)
    monkeypatch.delenv("MAINT_SMTP_CAFILE")
    code = main(["report", "--client", "demo", "--period", "2026-11", "--email"])
    _out, err = capsys.readouterr()
    assert code == 1 and "CERTIFICATE_VERIFY_FAILED" in err
    assert smtp["inbox"].auth == [] and smtp["inbox"].messages == []


def test_missing_settings_and_secrets_in_the_settings_file(loaded: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--client", "demo", "--period", "2026-11", "--email"])
    assert code == 2 and "SMTP host is not set" in capsys.readouterr().err
    (loaded / "home" / "smtp.yml").write_text("host: 127.0.0.1\npassword: x\n", encoding="utf-8")
    code = main(["report", "--client", "demo", "--period", "2026-11", "--email"])
    assert code == 2 and "keep secrets out of MAINT_HOME" in capsys.readouterr().err


def test_webhook_error_status_fails(loaded: Path, webhook: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--client", "demo", "--period", "2026-11", "--webhook", webhook["url"] + "/fail"])
    assert code == 1 and "answered HTTP 500" in capsys.readouterr().err
    assert main(["report", "--client", "demo", "--webhook", "ftp://x"]) == 2
