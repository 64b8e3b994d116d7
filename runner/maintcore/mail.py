"""E-mail over SMTP with mandatory STARTTLS: what the reports and the alert notifications send.

SMTP settings come from the environment (``MAINT_SMTP_HOST``, ``MAINT_SMTP_PORT``,
``MAINT_SMTP_USER``, ``MAINT_SMTP_PASSWORD``, ``MAINT_SMTP_FROM``, ``MAINT_SMTP_TO``
(comma-separated), ``MAINT_SMTP_CAFILE``), over the non-secret settings file
``$MAINT_HOME/smtp.yml`` (keys host, port, user, from, to, cafile). The password comes
from the environment only (for example exported from the MSP's vault): nothing under
``$MAINT_HOME`` holds a secret, and the password is never logged or shown in an error.
STARTTLS is mandatory: credentials and messages never cross the network in clear text.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml

from .config import maint_home
from .errors import InvalidInput, MaintError

SMTP_KEYS = ("host", "port", "user", "from", "to", "cafile")
MIME = {"pdf": ("application", "pdf"), "html": ("text", "html")}


class DeliveryError(MaintError):
    """A message was written but could not be delivered (exit 1)."""

    exit_code = 1


def smtp_settings(prefix: str = "", *, require_to: bool = True) -> dict[str, Any]:
    """Return the SMTP settings (file, then environment); InvalidInput when incomplete.

    ``prefix`` starts each error message (``--email`` for ``maintctl report --email``);
    ``require_to=False`` when the caller brings its own recipients (alert notifications).
    """
    lead = f"{prefix}: " if prefix else ""
    settings: dict[str, Any] = {}
    path = maint_home() / "smtp.yml"
    if path.is_file():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise InvalidInput(f"{path}: not a mapping")
        if "password" in data:
            raise InvalidInput(f"{path}: password: keep secrets out of MAINT_HOME; set MAINT_SMTP_PASSWORD")
        unknown = sorted(set(data) - set(SMTP_KEYS))
        if unknown:
            raise InvalidInput(f"{path}: {unknown[0]}: unknown key (known: {', '.join(SMTP_KEYS)})")
        settings.update(data)
    for key in SMTP_KEYS + ("password",):
        value = os.environ.get(f"MAINT_SMTP_{key.upper()}")
        if value:
            settings[key] = value
    for key in ("host", "from", "to") if require_to else ("host", "from"):
        if not settings.get(key):
            raise InvalidInput(f"{lead}SMTP {key} is not set (MAINT_SMTP_{key.upper()} or {path})")
    try:
        settings["port"] = int(settings.get("port") or 587)
    except ValueError as exc:
        raise InvalidInput(f"{lead}SMTP port {settings['port']!r} is not a number") from exc
    if isinstance(settings.get("to"), str):
        settings["to"] = [a.strip() for a in settings["to"].split(",") if a.strip()]
    if settings.get("user") and not settings.get("password"):
        raise InvalidInput(f"{lead}MAINT_SMTP_PASSWORD is not set for the SMTP user")
    return settings


def build_message(subject: str, body: str, attachments: list[Path], sender: str,
                  recipients: list[str]) -> EmailMessage:
    """Return the e-mail: ``body`` as plain text, the files attached."""
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())[:200]  # one line: a client name cannot add headers
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg.set_content(body, subtype="plain", charset="utf-8")
    for path in attachments:
        maintype, subtype = MIME.get(path.suffix.lstrip("."), ("application", "octet-stream"))
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return msg


def send_email(msg: EmailMessage, settings: dict[str, Any], timeout: float = 30.0) -> None:
    """Send over SMTP with mandatory STARTTLS (certificate verified) and login when a user is set."""
    context = ssl.create_default_context(cafile=settings.get("cafile") or None)
    host, port = settings["host"], settings["port"]
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise DeliveryError(f"SMTP server {host}:{port} does not offer STARTTLS: not sending")
            smtp.starttls(context=context)
            smtp.ehlo()
            if settings.get("user"):
                smtp.login(settings["user"], settings["password"])
            smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        user = settings.get("user")
        raise DeliveryError(f"SMTP login to {host}:{port} as {user} refused ({exc.smtp_code})") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"e-mail via {host}:{port} failed: {type(exc).__name__}: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message, at most 200 characters."""
    return (str(exc).splitlines() or [""])[0][:200]
