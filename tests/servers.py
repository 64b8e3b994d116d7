"""Real servers on loopback for unit and lab tests: SMTP (STARTTLS + AUTH) and an HTTP receiver.

Both are context managers that always stop their server, even when the test fails::

    with smtp_server(tmp_path) as smtp:        # aiosmtpd, STARTTLS required, AUTH LOGIN/PLAIN
        monkeypatch.setenv(...) for smtp.env()  # the MAINT_SMTP_* settings that reach it
        ...
        smtp.messages                           # every message received (EmailMessage)

    with http_receiver() as hook:               # ThreadingHTTPServer
        hook.fail_next(2, 500)                  # the next two requests get HTTP 500
        ...
        hook.requests                           # every request: path, headers, JSON body

``tests/conftest.py`` offers them as the fixtures ``smtp_server`` and ``http_receiver``.
Only 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"
SMTP_USER = "msp"
SMTP_PASSWORD = "s3cret-Pa55-never-logged"


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def self_signed(folder: Path, name: str = "smtp") -> tuple[Path, Path]:
    """Write a self-signed certificate for localhost and 127.0.0.1 (it is its own CA); return (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class SmtpServer:
    """A running SMTP server: where it listens, the CA to trust, and what it received."""

    host: str
    port: int
    cafile: Path
    user: str
    password: str
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)  # (MAIL FROM, RCPT TOs)
    auth: list[tuple[str, str]] = field(default_factory=list)  # (mechanism, "ok" | "refused")

    def env(self, sender: str = "alerts@msp.example", to: str | None = None) -> dict[str, str]:
        """Return the MAINT_SMTP_* variables that make maintcore.mail send here (TO only if given)."""
        values = {"MAINT_SMTP_HOST": self.host, "MAINT_SMTP_PORT": str(self.port), "MAINT_SMTP_USER": self.user,
                  "MAINT_SMTP_PASSWORD": self.password, "MAINT_SMTP_FROM": sender,
                  "MAINT_SMTP_CAFILE": str(self.cafile)}
        if to is not None:
            values["MAINT_SMTP_TO"] = to
        return values

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        """Keep the message (aiosmtpd handler hook)."""
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        """Accept only this server's user and password (aiosmtpd authenticator)."""
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.user.encode()
              and auth_data.password == self.password.encode())
        self.auth.append((mechanism, "ok" if ok else "refused"))
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@contextmanager
def smtp_server(folder: Path, user: str = SMTP_USER, password: str = SMTP_PASSWORD,
                starttls: bool = True) -> Iterator[SmtpServer]:
    """Run aiosmtpd on 127.0.0.1: STARTTLS required (self-signed certificate in ``folder``), AUTH required.

    ``starttls=False`` runs a server that offers neither STARTTLS nor AUTH (what a client must refuse).
    """
    cert, key = self_signed(folder)
    server = SmtpServer(host=LOOPBACK, port=free_port(), cafile=cert, user=user, password=password)
    if starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        controller = Controller(server, hostname=LOOPBACK, port=server.port, tls_context=context,
                                require_starttls=True, auth_required=True, authenticator=server.authenticate)
    else:
        controller = Controller(server, hostname=LOOPBACK, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class Request:
    """One request the HTTP receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any  # the JSON document, or None when the body is not JSON
    status: int  # what the receiver answered


@dataclass
class HttpReceiver:
    """A running HTTP receiver: its base URL, what it got, and what it answers."""

    host: str
    port: int
    requests: list[Request] = field(default_factory=list)
    default_status: int = 200
    path_status: dict[str, int] = field(default_factory=dict)  # a path always answered with this status
    queued: list[int] = field(default_factory=list)  # statuses answered first, one per request
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """Return the base URL (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer ``status`` to the next ``count`` requests, then the usual status again."""
        with self.lock:
            self.queued.extend([status] * count)

    def answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> int:
        """Record a request and return the status to answer."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self.lock:
            if self.queued:
                status = self.queued.pop(0)
            else:
                status = self.path_status.get(path.split("?", 1)[0], self.default_status)
            self.requests.append(Request(method, path, headers, raw, body, status))
        return status


@contextmanager
def http_receiver(default_status: int = 200, path_status: dict[str, int] | None = None) -> Iterator[HttpReceiver]:
    """Run a ThreadingHTTPServer on 127.0.0.1 keeping every POST/PUT (path, headers, JSON body)."""
    receiver: HttpReceiver | None = None

    class Handler(http.server.BaseHTTPRequestHandler):
        def _receive(self) -> None:
            assert receiver is not None
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = receiver.answer(self.command, self.path, dict(self.headers.items()), raw)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = _receive  # noqa: N815 - http.server API

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    receiver = HttpReceiver(host=LOOPBACK, port=int(server.server_address[1]), default_status=default_status,
                            path_status=dict(path_status or {}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
