"""Alert notifications through an outbox: e-mail over SMTP and every service Apprise supports.

The alert engine calls :func:`enqueue` inside its own transaction when an alert opens, escalates
(not acknowledged within the SLA's response time) or recovers: one ``pending`` row per target in
the ``notifications`` table, never one per observation. :func:`flush` then sends what is due and
records every attempt: a row that cannot be sent is retried with a doubling wait, and recorded as
``failed`` after ``notify.max_attempts``; nothing is lost silently.

Targets come from the client's policy (``maint_policy.supervision.notify``): e-mail addresses, and
the *names* of variables of the client's Ansible vault, each holding an Apprise URL (Teams, Slack,
ntfy, ``json://`` webhooks...). The outbox's ``target`` holds the address or the variable's name;
the URL (which holds secrets) is asked for only when sending, through the ``secret`` callable, and
it never reaches the store, a log, an error or the output: Apprise's logger is captured while it
works, and what it says is stripped of the URL and of each of its parts.

A message names the check by its label and says the result's summary in the client's language, from the
report's catalogue (``maintreport/locales``, read with the standard library's gettext, without importing
``maintreport``): the check id is given once, at the end, for the technician.
"""

from __future__ import annotations

import datetime as dt
import gettext
import importlib.util
import json
import logging
import re
import shlex
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maint_utils import maint_clock

from . import mail
from .errors import InvalidInput, MaintError, clip
from .store import Store

EVENTS = ("opened", "escalated", "recovered")
CHANNELS = ("email", "apprise")
MAX_ATTEMPTS = 8  # schemas/policy/supervision.schema.json: notify.max_attempts
RETRY_SECONDS = 60  # notify.retry_seconds, doubled after each failure
MAX_RETRY_WAIT = 86400  # the doubling stops at one day between attempts
ADDRESS_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
VAULT_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
REDACTED = "<redacted>"
MAX_SUBJECT = 200

TEXT = {
    "en": {
        "opened": "Alert", "escalated": "Escalation, not acknowledged", "recovered": "Recovered",
        "intro.opened": "Alert #{id} is open for {client_name}.",
        "intro.escalated": "Alert #{id} for {client_name} has not been acknowledged within the agreed response time.",
        "intro.recovered": "Alert #{id} for {client_name} has recovered.",
        "client": "Client", "host": "Host", "check": "Check", "item": "Item", "status": "Status",
        "severity": "Severity", "summary": "Summary", "opened_at": "Opened", "acknowledged_at": "Acknowledged",
        "resolved_at": "Recovered", "duration": "Duration", "ack": "To acknowledge it:",
        "warning": "warning", "critical": "critical", "day": "d", "technician": "For the technician: check id",
    },
    "fr": {
        "opened": "Alerte", "escalated": "Escalade, alerte non acquittée", "recovered": "Rétablissement",
        "intro.opened": "L'alerte n°{id} est ouverte pour {client_name}.",
        "intro.escalated": "L'alerte n°{id} de {client_name} n'a pas été acquittée dans le délai de prise en charge"
                           " convenu.",
        "intro.recovered": "L'alerte n°{id} de {client_name} est rétablie.",
        "client": "Client", "host": "Hôte", "check": "Contrôle", "item": "Élément", "status": "État",
        "severity": "Sévérité", "summary": "Résumé", "opened_at": "Ouverte le", "acknowledged_at": "Acquittée le",
        "resolved_at": "Rétablie le", "duration": "Durée", "ack": "Pour l'acquitter :",
        "warning": "avertissement", "critical": "critique", "day": "j",
        "technician": "Pour le technicien : identifiant du contrôle",
    },
}

# -- the report's catalogue: check labels and results' messages ------------------
@cache
def _translations(locale: str) -> gettext.NullTranslations:
    """The report's compiled catalogue of ``locale``, found without importing maintreport (none: no translation)."""
    spec = importlib.util.find_spec("maintreport")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "locales" / locale / "LC_MESSAGES" / "maintreport.mo"
        if path.is_file():
            with path.open("rb") as handle:
                return gettext.GNUTranslations(handle)
    return gettext.NullTranslations()


@cache
def _labels(locale: str) -> dict[str, str]:
    """The report's labels by key (``check.hardware.disk_free``...) in ``locale``.

    The French catalogue holds every label as (key, English) -> French: its keys give the English text too.
    """
    catalog = getattr(_translations("fr"), "_catalog", {})
    out = {}
    for key, french in catalog.items():
        if isinstance(key, str) and "\x04" in key:
            context, english = key.split("\x04", 1)
            out[context] = str(french) if locale == "fr" else english
    return out


def check_label(check: str, locale: str) -> str:
    """The label of a check (``Disk space``), else its area's, else the id itself."""
    labels = _labels(locale)
    return labels.get(f"check.{check}") or labels.get(f"area.{check.split('.', 1)[0]}") or check


def _param(value: Any, locale: str) -> str:
    if isinstance(value, list):
        parts = [render_message(part, locale) if isinstance(part, Mapping) else None for part in value]
        if any(part is None for part in parts):
            raise ValueError("a part of the message is not translated")
        return "; ".join(str(part) for part in parts)
    if isinstance(value, bool):
        return _labels(locale).get("yes" if value else "no", str(value))
    if isinstance(value, float) and locale == "fr":
        return f"{value:g}".replace(".", ",")
    return "-" if value is None else str(value)


def render_message(message: Mapping[str, Any], locale: str) -> str | None:
    """A result's message (``{"id", "params"}``) in ``locale``; None when the catalogue cannot say it."""
    template, params = message.get("id"), message.get("params")
    if not isinstance(template, str) or not isinstance(params, Mapping):
        return None
    translated = _translations(locale).gettext(template) if locale != "en" else template
    if locale != "en" and translated == template:
        return None
    try:
        return translated % {key: _param(value, locale) for key, value in params.items()}
    except (KeyError, ValueError, TypeError):
        return None


def _summary(alert: Mapping[str, Any], message: Mapping[str, Any] | None, locale: str, status_word: str,
             label: str) -> str:
    """The alert's summary for the client: its English summary in English, else its message in the locale."""
    if locale == "en":
        return str(alert.get("summary") or "")
    text = render_message(message, locale) if message else None
    if text is not None:
        return text
    labels, item = _labels(locale), str(alert.get("item") or "")
    template = labels.get("msg.generic_item" if item else "msg.generic") or "{check}: {status}"
    return template.format(check=label, status=status_word, item=item)


def _result_message(db: sqlite3.Connection, result_id: Any) -> dict[str, Any] | None:
    """The message of a stored result (the one that opened the alert), None without one."""
    if not isinstance(result_id, int):
        return None
    row = db.execute("SELECT message FROM results WHERE id=?", (result_id,)).fetchone()
    try:
        message = json.loads(row[0]) if row and row[0] else None
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


# -- what to send, to whom ------------------------------------------------------
def _notify_policy(policy: Mapping[str, Any]) -> Mapping[str, Any]:
    supervision = policy.get("supervision") or {}
    notify = supervision.get("notify") if isinstance(supervision, Mapping) else None
    return notify if isinstance(notify, Mapping) else {}


def _check_event(event: str) -> None:
    if event not in EVENTS:
        raise InvalidInput(f"notification event {event!r} is unknown (known: {', '.join(EVENTS)})")


def targets(policy: Mapping[str, Any], event: str) -> list[tuple[str, str]]:
    """Return the ``(channel, target)`` pairs to notify of ``event``, without duplicates.

    ``channel`` is ``email`` (target: an address) or ``apprise`` (target: the name of a vault
    variable holding an Apprise URL). ``escalated`` goes to ``notify.escalation`` only; the other
    events to ``notify.email`` and ``notify.apprise``. An entry that is not a valid address or
    variable name raises InvalidInput (the policy schema refuses it too).
    """
    _check_event(event)
    notify = _notify_policy(policy)
    source = (notify.get("escalation") or {}) if event == "escalated" else notify
    found: list[tuple[str, str]] = []
    for channel, key, pattern in (("email", "email", ADDRESS_RE), ("apprise", "apprise", VAULT_NAME_RE)):
        for entry in source.get(key) or []:
            if not isinstance(entry, str) or not pattern.match(entry):
                where = "escalation." if event == "escalated" else ""
                raise InvalidInput(f"supervision.notify.{where}{key}: {entry!r} is not valid")
            if (channel, entry) not in found:
                found.append((channel, entry))
    return found


def locale_of(policy: Mapping[str, Any]) -> str:
    """Return the messages' language: notify.locale, else report.locale, else en."""
    report = policy.get("report") or {}
    for value in (_notify_policy(policy).get("locale"), report.get("locale") if isinstance(report, Mapping) else None):
        if value in TEXT:
            return str(value)
    return "en"


def _zone(policy: Mapping[str, Any]) -> dt.tzinfo:
    try:
        return ZoneInfo(str(policy.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _local(value: Any, zone: dt.tzinfo) -> str:
    try:
        when = maint_clock.parse_iso(str(value)).astimezone(zone)
    except ValueError:
        return str(value)
    return f"{when:%Y-%m-%d %H:%M} {when.tzname() or ''}".rstrip()


def _duration(alert: Mapping[str, Any], words: Mapping[str, str]) -> str | None:
    try:
        seconds = int((maint_clock.parse_iso(str(alert["resolved"]))
                       - maint_clock.parse_iso(str(alert["opened"]))).total_seconds())
    except (KeyError, TypeError, ValueError):
        return None
    seconds = max(seconds, 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} {words['day']} {hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def compose(alert: Mapping[str, Any], event: str, policy: Mapping[str, Any],
            message: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """Return ``(subject, body)`` of the message telling of ``event`` for ``alert``, in the client's language.

    ``message`` is the message of the result that opened the alert (``{"id", "params"}``): the summary
    in a language other than English (without one: the check's label and status). The check is named by
    its label; its id is the body's last line, for the technician.

    ``alert`` is a row of the ``alerts`` table (as a dict). The subject is one line of at most
    200 characters (whatever a summary holds, it cannot add a header); the body is plain text with
    the client, host, check, item, status, severity, summary, the opening time in the client's
    timezone (policy ``timezone``), the duration for a recovery, and the command acknowledging an
    alert that is still open.
    """
    _check_event(event)
    locale = locale_of(policy)
    words = TEXT[locale]
    zone = _zone(policy)
    client = str(alert.get("client") or "")
    client_name = _one_line(policy.get("client_name") or client)
    status = str(alert.get("status") or "")
    status_word = words.get(status, status)
    severity = str(alert.get("severity") or "")
    item = str(alert.get("item") or "")
    check_id = str(alert.get("check_id") or "")
    label = check_label(check_id, locale) if check_id else ""
    summary = _summary(alert, message, locale, status_word, label)
    what = " ".join(p for p in (client_name, str(alert.get("host") or ""), label, item) if p)
    head = f"[{severity}] " if severity else ""
    subject = _one_line(f"{head}{words[event]} ({status_word}): {what}: {summary}")
    if len(subject) > MAX_SUBJECT:
        subject = subject[:MAX_SUBJECT - 3].rstrip() + "..."
    lines = [words[f"intro.{event}"].format(id=alert.get("id"), client_name=client_name), ""]
    fields = [("client", f"{client_name} ({client})"), ("host", alert.get("host")), ("check", label),
              ("item", item), ("status", status_word), ("severity", severity), ("summary", summary),
              ("opened_at", _local(alert.get("opened"), zone))]
    if alert.get("acknowledged"):
        who = f" ({_one_line(alert['ack_by'])})" if alert.get("ack_by") else ""
        fields.append(("acknowledged_at", _local(alert["acknowledged"], zone) + who))
    if event == "recovered":
        if alert.get("resolved"):
            fields.append(("resolved_at", _local(alert["resolved"], zone)))
        fields.append(("duration", _duration(alert, words)))
    for key, value in fields:
        if value not in (None, ""):
            lines.append(f"{words[key]}: {value}")
    if event != "recovered":
        lines += ["", words["ack"], f"  maintctl alerts ack --client {shlex.quote(client)} {alert.get('id')}"]
    if check_id:
        lines += ["", f"{words['technician']}: {check_id}"]
    return subject, "\n".join(lines) + "\n"


def enqueue(db: sqlite3.Connection, alert: Mapping[str, Any], event: str, policy: Mapping[str, Any], now: str) -> int:
    """Queue one pending notification per target of ``event`` for ``alert``; return the rows added.

    Runs in the caller's transaction: it does not commit. ``now`` (ISO UTC, as the store writes
    it) is the row's creation time and its first attempt. A target already queued for this alert
    and event is not queued again, and an alert opened in scheduled downtime (``suppressed``)
    notifies nobody: both return 0, as does a policy without targets.
    """
    _check_event(event)
    if alert.get("suppressed"):
        return 0
    pairs = targets(policy, event)
    if not pairs:
        return 0
    subject, body = compose(alert, event, policy, _result_message(db, alert.get("opened_result")))
    added = 0
    for channel, target in pairs:
        exists = db.execute("SELECT 1 FROM notifications WHERE alert_id=? AND event=? AND channel=? AND target=?",
                            (alert["id"], event, channel, target)).fetchone()
        if exists:
            continue
        db.execute(
            "INSERT INTO notifications (client, alert_id, event, channel, target, state, attempts, next_attempt,"
            " created, subject, body) VALUES (?,?,?,?,?,'pending',0,?,?,?,?)",
            (alert["client"], alert["id"], event, channel, target, now, now, subject, body),
        )
        added += 1
    return added


# -- sending ----------------------------------------------------------------------
@dataclass
class FlushReport:
    """What one :func:`flush` did: rows sent, rows to retry, rows given up; one line per failure (no secret)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)


def _retry_settings(policy: Mapping[str, Any] | None) -> tuple[int, int]:
    notify = _notify_policy(policy or {})
    max_attempts, retry = notify.get("max_attempts"), notify.get("retry_seconds")
    return (max_attempts if isinstance(max_attempts, int) and max_attempts >= 1 else MAX_ATTEMPTS,
            retry if isinstance(retry, int) and retry >= 1 else RETRY_SECONDS)


def retry_wait(retry_seconds: int, attempts: int) -> int:
    """Return the seconds to wait after ``attempts`` failures: retry_seconds doubled each time, at most a day."""
    return int(min(retry_seconds * 2 ** min(max(attempts - 1, 0), 40), MAX_RETRY_WAIT))


def _secret_parts(value: str) -> list[str]:
    """Return the strings to hide for a secret: the whole value, each URL in it, and each part of them."""
    parts = {value.strip()}
    for url in re.split(r"[\s,]+", value.strip()):
        if not url:
            continue
        parts.add(url)
        try:
            split = urllib.parse.urlsplit(url)
            parts.update((split.netloc, split.username or "", split.password or "", split.hostname or "",
                          split.path, split.query, split.fragment))
            parts.update(urllib.parse.unquote(seg) for seg in re.split(r"[/@:]", split.path + "/" + split.fragment))
            for key, val in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
                parts.update((key, val))
            if split.port is not None:
                parts.add(str(split.port))
        except ValueError:
            continue
        parts.add(urllib.parse.unquote(url))
    return sorted((p for p in parts if len(p) >= 3), key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """Return ``text`` on one line, with every URL and every given secret (and its parts) replaced."""
    hidden: list[str] = []
    for secret in secrets:
        if secret:
            hidden += _secret_parts(secret)
    for part in sorted(set(hidden), key=len, reverse=True):
        text = text.replace(part, REDACTED)
    return clip(URL_RE.sub(REDACTED, text))


class _Capture(logging.Handler):
    """Collects what Apprise logs at WARNING and above while it sends."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a bad log record must not stop the flush
            self.messages.append(record.msg if isinstance(record.msg, str) else "")


@contextmanager
def _apprise_logs() -> Iterator[_Capture]:
    """Capture the ``apprise`` logger: nothing it says (it may name the URL) reaches another handler."""
    logger = logging.getLogger("apprise")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    capture = _Capture()
    logger.handlers = [capture]
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    try:
        yield capture
    finally:
        logger.handlers, logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])


NOTIFY_TYPE = {"opened": "failure", "escalated": "failure", "recovered": "success"}


def _send_apprise(url: str, title: str, body: str, event: str, timeout: float) -> str | None:
    """Send through Apprise; return None when sent, else the reason (not yet redacted)."""
    import apprise  # late: only a flush with Apprise targets pays for the import

    with _apprise_logs() as capture:
        sender = apprise.Apprise()
        if not sender.add(url):
            return "the vault variable does not hold a URL Apprise supports"
        for service in sender:
            service.socket_connect_timeout = timeout
            service.socket_read_timeout = timeout
        try:
            ok = bool(sender.notify(title=title, body=body, notify_type=NOTIFY_TYPE[event]))
        except Exception as exc:  # noqa: BLE001 - a plugin's bug is a failed attempt, not a lost notification
            return f"apprise raised {type(exc).__name__}"
    if ok:
        return None
    reasons = [m for m in capture.messages if m.strip()]
    return "; ".join(reasons[-3:]) if reasons else "Apprise could not send it (no reason given)"


def _get_secret(secret: Callable[[str], str | None], name: str) -> tuple[str | None, str | None]:
    """Return (url, error) for the vault variable ``name``."""
    try:
        value = secret(name)
    except MaintError as exc:
        return None, f"vault variable {name} could not be read: {exc}"
    except Exception as exc:  # noqa: BLE001 - whatever the vault reader raises, the row records a failure
        return None, f"vault variable {name} could not be read ({type(exc).__name__})"
    if not value or not str(value).strip():
        return None, f"vault variable {name} is not set"
    return str(value), None


class _Mailer:
    """The SMTP settings, read once per flush; missing settings are a failure of each e-mail row."""

    def __init__(self) -> None:
        self._settings: dict[str, Any] | None = None
        self._error: str | None = None

    def settings(self) -> tuple[dict[str, Any] | None, str | None]:
        if self._settings is None and self._error is None:
            try:
                self._settings = mail.smtp_settings("notify", require_to=False)
            except MaintError as exc:
                self._error = str(exc)
        return self._settings, self._error

    def password(self) -> str:
        return str((self._settings or {}).get("password") or "")

    def send(self, row: sqlite3.Row, timeout: float) -> str | None:
        settings, error = self.settings()
        if settings is None:
            return error
        try:
            msg = mail.build_message(row["subject"], row["body"], [], settings["from"], [row["target"]])
            mail.send_email(msg, settings, timeout=timeout)
        except MaintError as exc:
            return str(exc)
        except (ValueError, TypeError) as exc:  # a header the e-mail library refuses
            return f"e-mail could not be built: {type(exc).__name__}: {mail.first_line(exc)}"
        return None


def flush(store: Store, client: str, secret: Callable[[str], str | None], policy: Mapping[str, Any] | None,
          now: dt.datetime | None = None, timeout: float = 15.0) -> FlushReport:
    """Send every pending notification of ``client`` that is due, and record each attempt.

    ``secret(name)`` returns the value of the client's vault variable ``name`` (an Apprise URL),
    or None when it is not set. ``policy`` is the client's ``maint_policy``, for
    ``notify.max_attempts`` and ``notify.retry_seconds`` (their defaults, 8 and 60, when None).
    Each row is claimed before it is sent (its next attempt is moved past the send's time), so
    that two flushes at once do not send it twice, and each outcome is committed at once:

    - sent: state ``sent``, ``sent`` = now;
    - not sent: ``attempts`` + 1, ``last_error`` (one line, secrets redacted), ``next_attempt`` =
      now + retry_seconds * 2 ** (attempts - 1) (at most a day), or state ``failed`` once
      ``attempts`` reaches max_attempts.

    E-mail goes through :mod:`maintcore.mail` (settings from MAINT_SMTP_* and
    ``$MAINT_HOME/smtp.yml``; missing settings are a failed attempt, not an exception).
    """
    when = (now or maint_clock.now()).astimezone(dt.UTC)
    stamp = maint_clock.to_iso(when)
    max_attempts, retry_seconds = _retry_settings(policy)
    lease = maint_clock.to_iso(when + dt.timedelta(seconds=int(4 * timeout) + 60))
    report = FlushReport()
    mailer = _Mailer()
    due = store.db.execute(
        "SELECT * FROM notifications WHERE client=? AND state='pending' AND next_attempt<=? ORDER BY next_attempt, id",
        (client, stamp),
    ).fetchall()
    for row in due:
        with store.transaction() as db:
            claimed = db.execute("UPDATE notifications SET next_attempt=? WHERE id=? AND state='pending'"
                                 " AND next_attempt=?", (lease, row["id"], row["next_attempt"])).rowcount
        if not claimed:
            continue  # another flush took it
        secrets: list[str] = []
        try:
            error = _send(row, secret, mailer, secrets, timeout)
        except Exception as exc:  # noqa: BLE001 - a bug while sending is a failed attempt, not a lost row
            error = f"sending raised {type(exc).__name__}"
        _record(store, row, error, secrets, when, max_attempts, retry_seconds, report)
    return report


def _send(row: sqlite3.Row, secret: Callable[[str], str | None], mailer: _Mailer, secrets: list[str],
          timeout: float) -> str | None:
    """Send one row; return None when sent, else the reason. ``secrets`` gains what to redact from it."""
    if row["channel"] == "email":
        error = mailer.send(row, timeout)
        secrets.append(mailer.password())
        return error
    if row["channel"] == "apprise":
        url, error = _get_secret(secret, row["target"])
        if url is None:
            return error
        secrets.append(url)
        return _send_apprise(url, row["subject"], row["body"], row["event"], timeout)
    return f"channel {row['channel']!r} is unknown (known: {', '.join(CHANNELS)})"


def _record(store: Store, row: sqlite3.Row, error: str | None, secrets: list[str], when: dt.datetime,
            max_attempts: int, retry_seconds: int, report: FlushReport) -> None:
    """Write the outcome of one attempt, and count it in ``report``."""
    stamp = maint_clock.to_iso(when)
    if error is None:
        with store.transaction() as db:
            db.execute("UPDATE notifications SET state='sent', sent=?, attempts=attempts+1, next_attempt=?"
                       " WHERE id=?", (stamp, stamp, row["id"]))
        report.sent += 1
        return
    attempts = int(row["attempts"]) + 1
    reason = redact(error, secrets)
    where = f"notification {row['id']} ({row['event']} of alert {row['alert_id']}) to {row['channel']} {row['target']}"
    if attempts >= max_attempts:
        state, next_attempt = "failed", stamp
        report.failed += 1
        line = f"{where}: {reason}; given up after {attempts} attempts"
    else:
        state = "pending"
        next_attempt = maint_clock.to_iso(when + dt.timedelta(seconds=retry_wait(retry_seconds, attempts)))
        report.retried += 1
        line = f"{where}: {reason}; attempt {attempts} of {max_attempts}, next at {next_attempt}"
    with store.transaction() as db:
        db.execute("UPDATE notifications SET state=?, attempts=?, last_error=?, next_attempt=? WHERE id=?",
                   (state, attempts, reason, next_attempt, row["id"]))
    report.lines.append(clip(line, 400))
