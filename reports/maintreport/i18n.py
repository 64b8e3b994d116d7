"""Label catalogues (``locales/<locale>.json``) and locale-aware number formatting."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

from maintcore.errors import InvalidInput

LOCALES_DIR = Path(__file__).with_name("locales")
LOCALES = ("en", "fr")


@cache
def catalogue(locale: str) -> dict[str, str]:
    """Return the label catalogue of a locale (InvalidInput for an unknown one)."""
    if locale not in LOCALES:
        raise InvalidInput(f"unknown locale {locale!r}: use one of {', '.join(LOCALES)}")
    data: dict[str, str] = json.loads((LOCALES_DIR / f"{locale}.json").read_text(encoding="utf-8"))
    return data


class Text:
    """Callable that returns a catalogue sentence with its parameters filled in."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.labels = catalogue(locale)

    def __call__(self, key: str, **params: Any) -> str:
        """Return the label ``key`` formatted with ``params`` (floats in the locale's style)."""
        template = self.labels.get(key)
        if template is None:
            raise KeyError(f"label {key!r} missing from locales/{self.locale}.json")
        shown = {k: number(v, self.locale) if isinstance(v, float) else v for k, v in params.items()}
        return template.format(**shown)


def number(value: float | int | None, locale: str, digits: int = 1) -> str:
    """Format a number for a locale: ``1,234.5`` in English, ``1 234,5`` in French."""
    if value is None or isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if not isinstance(value, int | float):  # a garbage value in the store: shown as it is
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    if locale == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text
