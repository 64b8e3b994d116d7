"""The words a client reads: check labels and results' summaries in the report's locale.

A result may carry ``message``: ``{"id": English template with %(name)s placeholders, "params": raw
values}`` (``maint_utils.maint_result.M_``); its ``summary`` is the English rendering, for technicians.
:func:`human_summary` renders the message from the locale's catalogue with its numbers formatted for the
locale; a result without one (stored before messages existed), or whose message the catalogue does not
translate, gets a sentence made of its check's label and its status, never the English summary.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from babel.numbers import format_decimal

from .i18n import catalogue, translations


def check_label(check: str, locale: str) -> str:
    """Return the label of a check id (``Disk space``), its area's label, or the id when neither exists."""
    labels = catalogue(locale)
    return labels.get(f"check.{check}") or labels.get(f"area.{check.split('.', 1)[0]}") or check


def status_label(status: str, locale: str) -> str:
    """Return the word of a status (``OK``, ``Needs attention``, ...), the status itself when unknown."""
    return catalogue(locale).get(f"status.{status}", status)


def message_of(value: Any) -> dict[str, Any] | None:
    """Return a result's message as ``{"id", "params"}`` (from the stored JSON text or a dict), None if none."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, Mapping) and isinstance(value.get("id"), str) and isinstance(value.get("params"), Mapping):
        out = {"id": value["id"], "params": dict(value["params"])}
        fix = value.get("remediation")
        if isinstance(fix, Mapping) and isinstance(fix.get("id"), str) and isinstance(fix.get("params"), Mapping):
            out["remediation"] = {"id": fix["id"], "params": dict(fix["params"])}
        return out
    return None


def _param(value: Any, locale: str) -> str:
    if isinstance(value, bool):
        return catalogue(locale)["yes" if value else "no"]
    if isinstance(value, int | float):
        return format_decimal(value, locale=locale)
    return "-" if value is None else str(value)


class _Untranslated(Exception):
    """A part of a message (a parameter that is a list of messages) the catalogue cannot say."""


def _part(value: Any, locale: str) -> str:
    """A parameter in ``locale``: a list of messages (the parts of a sentence) rendered and joined."""
    if not isinstance(value, list):
        return _param(value, locale)
    parts = []
    for part in value:
        text = render_message(part, locale) if message_of(part) is not None else None
        if text is None:
            raise _Untranslated
        parts.append(text)
    return "; ".join(parts)


def render_message(message: Mapping[str, Any], locale: str) -> str | None:
    """Return a message in ``locale`` (None when the catalogue has no translation of it, or it breaks)."""
    template = message["id"]
    translated = str(translations(locale).gettext(template))
    if locale != "en" and translated == template:
        return None
    try:
        return translated % {k: _part(v, locale) for k, v in message["params"].items()}
    except (KeyError, ValueError, TypeError, _Untranslated):
        return None


def human_remediation(result: Mapping[str, Any], locale: str) -> str:
    """Return a result's (or a finding's) next step for a client, in ``locale`` ("" when there is none).

    The remediation message (``message["remediation"]``) in the locale; without one, the English
    ``remediation`` in English, and in another locale the catalogue's "see the evidence" sentence (never
    English text in a French report). An empty remediation stays empty.
    """
    message = message_of(result.get("message"))
    fix = message.get("remediation") if message else None
    if fix is not None:
        text = render_message(fix, locale)
        if text is not None:
            return text
    english = str(result.get("remediation") or "")
    if not english or locale == "en":
        return english
    return catalogue(locale)["rec.no_remediation"]


def human_summary(result: Mapping[str, Any], locale: str) -> str:
    """Return a result's (or a finding's) summary for a client, in ``locale``.

    ``result`` has ``check``, ``status``, ``item`` and maybe ``message`` (a dict or its JSON text).
    """
    message = message_of(result.get("message"))
    if message is not None:
        text = render_message(message, locale)
        if text is not None:
            return text
    labels = catalogue(locale)
    check, item = check_label(str(result.get("check", "")), locale), result.get("item") or ""
    if not result.get("status"):  # an automatic intervention: what changed, without a status
        return f"{check} ({item})" if item else check
    params = {"check": check, "status": status_label(str(result["status"]), locale), "item": item}
    return labels["msg.generic_item" if item else "msg.generic"].format(**params)
