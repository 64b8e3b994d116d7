"""Delivery of a written report: e-mail over SMTP with STARTTLS, and a JSON webhook.

SMTP settings come from the environment (``MAINT_SMTP_HOST``, ``MAINT_SMTP_PORT``,
``MAINT_SMTP_USER``, ``MAINT_SMTP_PASSWORD``, ``MAINT_SMTP_FROM``, ``MAINT_SMTP_TO``
(comma-separated), ``MAINT_SMTP_CAFILE``), over the non-secret settings file
``$MAINT_HOME/smtp.yml`` (keys host, port, user, from, to, cafile). The password comes
from the environment only (for example exported from the MSP's vault): nothing under
``$MAINT_HOME`` holds a secret, and the password is never logged or shown in an error.
STARTTLS is mandatory: credentials and reports never cross the network in clear text.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml

from maintcore.config import maint_home
from maintcore.errors import InvalidInput, MaintError

SMTP_KEYS = ("host", "port", "user", "from", "to", "cafile")
MIME = {"pdf": ("application", "pdf"), "html": ("text", "html")}


class DeliveryError(MaintError):
    """The report was written but could not be delivered (exit 1)."""

    exit_code = 1


def smtp_settings() -> dict[str, Any]:
    """Return the SMTP settings (file, then environment); InvalidInput when incomplete."""
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
    for key in ("host", "from", "to"):
        if not settings.get(key):
            raise InvalidInput(f"--email: SMTP {key} is not set (MAINT_SMTP_{key.upper()} or {path})")
    try:
        settings["port"] = int(settings.get("port") or 587)
    except ValueError as exc:
        raise InvalidInput(f"--email: SMTP port {settings['port']!r} is not a number") from exc
    if isinstance(settings["to"], str):
        settings["to"] = [a.strip() for a in settings["to"].split(",") if a.strip()]
    if settings.get("user") and not settings.get("password"):
        raise InvalidInput("--email: MAINT_SMTP_PASSWORD is not set for the SMTP user")
    return settings


def build_message(subject: str, body: str, attachments: list[Path], sender: str,
                  recipients: list[str]) -> EmailMessage:
    """Return the e-mail: Markdown summary as the body, the files attached."""
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
        raise DeliveryError(f"e-mail via {host}:{port} failed: {type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]


def webhook_summary(doc: dict[str, Any], paths: dict[str, Path]) -> dict[str, Any]:
    """Return the JSON summary posted to a webhook (no appendix, no secret)."""
    base = {"kind": doc["kind"], "period": doc["period"]["label"], "generated_at": doc["generated_at"],
            "files": {fmt: str(p) for fmt, p in paths.items()}}
    if doc["kind"] == "fleet_report":
        return {**base, "clients": doc["clients"]}
    summary = doc["summary"]
    return {
        **base, "client": doc["client"], "client_name": doc["client_name"],
        "insecure_transport": doc.get("insecure_transport"), "score": summary["score"],
        "areas": {a["area"]: {"score": a["score"], "light": a["light"]} for a in summary["areas"]},
        "open_findings": summary["open_findings"], "open_critical": summary["open_critical"],
        "availability_rate": doc["availability"]["rate"],
        "sla": {k: doc["sla"][k] for k in ("met", "missed", "pending", "met_rate")},
        "interventions": len(doc["interventions"]),
        "top_recommendations": summary["top_recommendations"],
    }


def json_body(payload: dict[str, Any]) -> bytes:
    """Encode a payload as JSON with ``<``, ``>`` and ``&`` as unicode escapes (``u003c``...).

    The same data once parsed, but a receiver that pastes the text into HTML (a chat card, a
    ticket page) cannot get markup out of what a host reported.
    """
    text = json.dumps(payload, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


def post_webhook(url: str, payload: dict[str, Any], timeout: float = 15.0) -> int:
    """POST the payload as JSON; return the HTTP status (DeliveryError unless 2xx)."""
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"--webhook: {url!r} is not an http(s) URL")
    request = urllib.request.Request(
        url, data=json_body(payload), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "maintctl-report"},
    )
    token = os.environ.get("MAINT_WEBHOOK_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            status: int = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook {url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"webhook {url} failed: {_first_line(exc)}") from None
    return status
