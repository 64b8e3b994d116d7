"""Delivery of a written report: e-mail over SMTP with STARTTLS, and a JSON webhook.

The SMTP code lives in :mod:`maintcore.mail` (alert notifications send mail too); its names
are re-exported here. SMTP settings come from the environment (``MAINT_SMTP_HOST``, ``MAINT_SMTP_PORT``,
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
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from maintcore.errors import InvalidInput
from maintcore.mail import MIME, SMTP_KEYS, DeliveryError, build_message, send_email
from maintcore.mail import first_line as _first_line
from maintcore.mail import smtp_settings as _smtp_settings

__all__ = ["MIME", "SMTP_KEYS", "DeliveryError", "build_message", "json_body", "post_webhook", "send_email",
           "smtp_settings", "webhook_summary"]


def smtp_settings() -> dict[str, Any]:
    """Return the SMTP settings of ``maintctl report --email`` (see :func:`maintcore.mail.smtp_settings`)."""
    return _smtp_settings("--email")


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
        "availability_rate": doc["availability"]["rate"],  # time-based; null: not measured
        "availability": {k: doc["availability"][k] for k in (
            "rate", "target", "meets_target", "down_minutes", "planned_minutes", "unknown_minutes", "coverage",
            "outages")},
        # the alerts handled against the SLA (met: response and resolution within their limits)
        "sla": {k: doc["sla"][k] for k in ("met", "missed", "pending", "met_rate")},
        "alerts": {"total": doc["sla"]["alerts"], "active": doc["sla"]["active"],
                   "in_downtime": doc["sla"]["in_downtime"]},
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
