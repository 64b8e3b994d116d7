"""Delivery of a written report: e-mail over SMTP with STARTTLS, and a JSON webhook.

The SMTP code lives in :mod:`maintcore.mail` (alert notifications send mail too); its names
are re-exported here. SMTP settings come from the environment (``MAINT_SMTP_HOST``, ``MAINT_SMTP_PORT``,
``MAINT_SMTP_USER``, ``MAINT_SMTP_PASSWORD``, ``MAINT_SMTP_FROM``, ``MAINT_SMTP_TO``
(comma-separated), ``MAINT_SMTP_CAFILE``), over the non-secret settings file
``$MAINT_HOME/smtp.yml`` (keys host, port, user, from, to, cafile). The password comes
from the environment only (for example exported from the MSP's vault): nothing under
``$MAINT_HOME`` holds a secret, and the password is never logged or shown in an error.
STARTTLS is mandatory: credentials and reports never cross the network in clear text.

The monthly delivery (:func:`deliver_month`, called by ``maintctl tick``): when a client's
policy sets ``report.deliver_on`` and ``report.recipients``, the previous month's report is
built on the delivery day from ``report.deliver_at`` (local time), e-mailed with its first page as
the body (the Markdown summary, which opens on it, as plain text and the first page as HTML), in the
client's locale, and the PDF and HTML (and ``report.pdf.sig`` when
the report is signed) attached, and recorded in the store's ``report_deliveries``: one row per
client and month, claimed before sending, so that it is sent once; a failure is recorded with
its error and retried by a later tick (after 1, 2, 4... minutes, at most an hour apart).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import re
import urllib.error
import urllib.request
import zoneinfo
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from maint_utils import maint_clock
from maintcore import supervision
from maintcore.errors import InvalidInput, clip
from maintcore.mail import MIME, SMTP_KEYS, DeliveryError, build_message, send_email
from maintcore.mail import first_line as _first_line
from maintcore.mail import smtp_settings as _smtp_settings
from maintcore.store import Store

__all__ = ["MIME", "SMTP_KEYS", "DeliveryError", "Outcome", "build_message", "deliver_month", "delivery_settings",
           "due_period", "json_body", "month_message", "post_webhook", "send_email", "smtp_settings", "webhook_summary"]


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


# -- the monthly delivery (maintctl tick) ----------------------------------------------------------
# Defaults of the policy's report.deliver_* keys (schemas/policy/report.schema.json): off.
DELIVERY_DEFAULTS: dict[str, Any] = {"deliver_on": None, "deliver_at": "08:00", "recipients": [], "holidays": []}
DELIVERY_FORMATS = ("html", "pdf", "json", "csv", "md")  # written under $MAINT_HOME/reports/<client>/<period>/
DELIVER_ON_RE = re.compile(r"^(?:first_working_day|day ([1-9]|[12][0-9]|3[01]))$")
DELIVER_AT_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
ADDRESS_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
MAX_BACKOFF_MINUTES = 60
STALE_SENDING = dt.timedelta(minutes=60)  # a claim older than this: the tick that sent died
EARLY_SLACK = dt.timedelta(seconds=15)    # a timer that fires a little early is on time


@dataclass
class Outcome:
    """What one client's delivery did on this tick: a line to show, and whether it failed."""

    client: str
    period: str
    line: str
    failed: bool = False


def delivery_settings(policy: dict[str, Any], where: str = "policy.yml") -> dict[str, Any] | None:
    """Return the policy's delivery settings over the defaults, or None when delivery is off.

    Delivery is on when ``report.deliver_on`` and ``report.recipients`` are both set. A value
    that cannot be used is an InvalidInput naming the key (the schema says the same).
    """
    section = policy.get("report") or {}
    if not isinstance(section, dict):
        raise InvalidInput(f"{where}: maint_policy.report: not a mapping")
    merged = {**DELIVERY_DEFAULTS, **{k: section[k] for k in DELIVERY_DEFAULTS if section.get(k) is not None}}
    if not merged["deliver_on"] or not merged["recipients"]:
        return None
    key = f"{where}: maint_policy.report"
    if not isinstance(merged["deliver_on"], str) or not DELIVER_ON_RE.match(merged["deliver_on"]):
        raise InvalidInput(f"{key}.deliver_on: use first_working_day or 'day N' (1-31)")
    if not isinstance(merged["deliver_at"], str) or not DELIVER_AT_RE.match(merged["deliver_at"]):
        raise InvalidInput(f"{key}.deliver_at: use HH:MM, e.g. 08:00")
    recipients = merged["recipients"]
    if not isinstance(recipients, list) or not all(isinstance(r, str) and ADDRESS_RE.match(r) for r in recipients):
        raise InvalidInput(f"{key}.recipients: a list of e-mail addresses")
    merged["holidays"] = _dates(merged["holidays"], f"{key}.holidays")
    return merged


def _dates(values: Any, key: str) -> frozenset[dt.date]:
    """The holidays as dates (YAML reads an unquoted 2026-12-25 as a date already)."""
    if not isinstance(values, list):
        raise InvalidInput(f"{key}: a list of dates (YYYY-MM-DD)")
    out = set()
    for value in values:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            out.add(value)
            continue
        try:
            out.add(dt.date.fromisoformat(str(value)))
        except ValueError:
            raise InvalidInput(f"{key}: {str(value)[:40]!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(out)


def delivery_day(year: int, month: int, settings: dict[str, Any]) -> dt.date:
    """The day of ``year-month`` the previous month's report is delivered.

    ``first_working_day``: the first day that is Monday to Friday and not in ``holidays``;
    ``day N``: that day, or the month's last day when the month is shorter.
    """
    last = calendar.monthrange(year, month)[1]
    match = DELIVER_ON_RE.match(settings["deliver_on"])
    if match and match.group(1):
        return dt.date(year, month, min(int(match.group(1)), last))
    day = dt.date(year, month, 1)
    while day.weekday() >= 5 or day in settings["holidays"]:
        if day.day == last:  # a month without a working day: its last day
            break
        day += dt.timedelta(days=1)
    return day


def due_period(settings: dict[str, Any], tz: str, now: dt.datetime) -> str | None:
    """Return the month (``YYYY-MM``) whose report is due at ``now``, or None.

    The previous month's report is due from the delivery day's ``deliver_at`` (local time)
    until the end of the month: a controller that was down on the day delivers when it is back.
    """
    zone = zoneinfo.ZoneInfo(tz)
    local = now.astimezone(zone)
    day = delivery_day(local.year, local.month, settings)
    match = DELIVER_AT_RE.match(settings["deliver_at"])
    assert match  # checked by delivery_settings
    start = dt.datetime(day.year, day.month, day.day, int(match.group(1)), int(match.group(2)), tzinfo=zone)
    if now + EARLY_SLACK < start:
        return None
    previous = dt.date(local.year, local.month, 1) - dt.timedelta(days=1)
    return f"{previous.year:04d}-{previous.month:02d}"


def delivery_record(store: Store, client: str, period: str) -> dict[str, Any] | None:
    """Return the stored delivery of a client's month (lists decoded), or None."""
    row = store.db.execute("SELECT * FROM report_deliveries WHERE client=? AND period=?", (client, period)).fetchone()
    if row is None:
        return None
    record = dict(row)
    record["recipients"] = json.loads(record["recipients"] or "[]")
    record["files"] = json.loads(record["files"] or "[]")
    return record


def _retry_after(attempts: int) -> dt.timedelta:
    return dt.timedelta(minutes=min(2 ** max(0, attempts - 1), MAX_BACKOFF_MINUTES))


def _claim(store: Store, client: str, period: str, recipients: list[str], now: dt.datetime) -> int | None:
    """Claim the month's delivery for this tick; return the attempt number, or None (not ours, not yet).

    The claim is one INSERT (the UNIQUE (client, period) lets only one tick win) or one
    conditional UPDATE of a failed (or stale) attempt, so two ticks never both send.
    """
    stamp = maint_clock.to_iso(now)
    who = json.dumps(recipients)
    record = delivery_record(store, client, period)
    with store.transaction() as db:
        if record is None:
            cur = db.execute("INSERT INTO report_deliveries (client, period, state, attempts, last_attempt, recipients)"
                             " VALUES (?, ?, 'sending', 1, ?, ?) ON CONFLICT (client, period) DO NOTHING",
                             (client, period, stamp, who))
            return 1 if cur.rowcount == 1 else None
        state, attempts = record["state"], int(record["attempts"] or 0)
        try:
            last = maint_clock.parse_iso(record["last_attempt"])
        except (ValueError, TypeError, AttributeError):
            last = dt.datetime.min.replace(tzinfo=dt.UTC)
        if state == "sent" or (state == "failed" and now - last + EARLY_SLACK < _retry_after(attempts)) \
                or (state == "sending" and now - last < STALE_SENDING):
            return None
        cur = db.execute("UPDATE report_deliveries SET state='sending', attempts=attempts+1, last_attempt=?,"
                         " recipients=? WHERE client=? AND period=? AND state=? AND attempts=?",
                         (stamp, who, client, period, state, attempts))
        return attempts + 1 if cur.rowcount == 1 else None


def _record(store: Store, client: str, period: str, state: str, files: list[Path], error: str | None) -> None:
    sent = maint_clock.to_iso(maint_clock.now()) if state == "sent" else None
    with store.transaction() as db:
        db.execute("UPDATE report_deliveries SET state=?, sent=?, files=?, last_error=? WHERE client=? AND period=?",
                   (state, sent, json.dumps([str(f) for f in files]), error, client, period))


def _has_data(store: Store, client: str, period: str, tz: str) -> bool:
    """Whether the month has anything to report (runs, probe data or alerts), as the report requires."""
    from . import api, query

    since, until = api.month_bounds(period, tz)
    return bool(query.nightly_runs(store, client, since, until) or supervision.spans(store, client, since, until)
                or supervision.list_alerts(store, client, supervision.STATES, since=since, until=until))


def deliver_month(store: Store, client: str, policy: dict[str, Any], now: dt.datetime, *,
                  dry_run: bool = False) -> Outcome | None:
    """Deliver the previous month's report of one client when it is due and not sent; return what happened.

    None: nothing to do (delivery off, not due yet, already sent, another tick is sending it,
    a failed attempt waiting for its retry, or a month without anything to report). Any
    failure (SMTP settings, the report, the server) is recorded and returned, never raised,
    except an unusable delivery setting of the policy (InvalidInput).
    """
    from . import api, brand, render
    from .i18n import Text
    from .policy import report_settings

    settings = delivery_settings(policy, f"{client}/group_vars/all/policy.yml")
    if settings is None:
        return None
    tz = str(policy.get("timezone") or "UTC")
    period = due_period(settings, tz, now)
    if period is None:
        return None
    record = delivery_record(store, client, period)
    if (record and record["state"] == "sent") or not _has_data(store, client, period, tz):
        return None
    recipients = list(settings["recipients"])
    if dry_run:
        return Outcome(client, period, f"{client}: would deliver the {period} report to {', '.join(recipients)}")
    attempt = _claim(store, client, period, recipients, now)
    if attempt is None:
        return None
    files: list[Path] = []
    try:
        smtp = _smtp_settings("report delivery", require_to=False)  # before the work: missing settings fail fast
        locale = report_settings(policy)["locale"]
        doc, paths = api.write_report_doc(store, client, period=period, formats=DELIVERY_FORMATS, locale=locale)
        signature = paths["pdf"].with_name(paths["pdf"].name + ".sig")
        # the PDF, the HTML (what the body's last line says is attached) and the PDF's signature if signed
        files = [paths["pdf"], paths["html"], *([signature] if signature.is_file() else [])]
        message = month_message(_subject(brand.branded(doc), Text(locale)), paths["md"].read_text(encoding="utf-8"),
                                render.render_first_page(doc), files, smtp["from"], recipients)
        send_email(message, smtp)
    except Exception as exc:  # noqa: BLE001 - recorded and retried; one client never stops another
        error = clip(f"{type(exc).__name__}: {exc}" if not isinstance(exc, InvalidInput | DeliveryError)
                     else exc, 280)
        _record(store, client, period, "failed", files, error)
        wait = int(_retry_after(attempt).total_seconds() // 60)
        return Outcome(client, period, f"{client}: the {period} report was not delivered (attempt {attempt}, "
                                       f"retried in {wait} min or later): {error}", failed=True)
    _record(store, client, period, "sent", files, None)
    return Outcome(client, period, f"{client}: the {period} report was sent to {', '.join(recipients)}"
                                   f" (attempt {attempt})")


def month_message(subject: str, text: str, html: str, attachments: list[Path], sender: str,
                  recipients: list[str]) -> EmailMessage:
    """The monthly e-mail: the first page as its body (plain text, and HTML as the alternative), the files attached.

    The plain part is the Markdown summary, which opens on the first page; the HTML part is the
    first page alone (:func:`maintreport.render.render_first_page`), self-contained: no image
    or style is fetched.
    """
    msg = build_message(subject, text, [], sender, recipients)
    msg.add_alternative(html, subtype="html", charset="utf-8")
    for path in attachments:
        maintype, subtype = MIME.get(path.suffix.lstrip("."), ("application", "octet-stream"))
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return msg


def _subject(doc: dict[str, Any], text: Any) -> str:
    """The e-mail's subject in the report's locale, with the MSP's name when it has one."""
    params = {"client": doc["client_name"], "period": doc["period"]["label"]}
    if doc["msp"]["name"]:
        return str(text("mail.subject_msp", msp=doc["msp"]["name"], **params))
    return str(text("mail.subject", **params))
