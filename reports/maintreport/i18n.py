"""The report's gettext catalogues (Babel) and locale-aware number formatting.

The labels are listed in ``labels.py`` (``L_(key, English)``: the key is the ``msgctxt``), the results'
message templates in the decide code (``N_("... %(name)s ...")``); ``make i18n`` extracts both into
``locales/maintreport.pot``, merges them into ``locales/<locale>/LC_MESSAGES/maintreport.po`` and compiles the
``.mo`` files read here. English is the source language: an empty English ``msgstr`` is the ``msgid`` itself.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.numbers import format_decimal
from babel.support import Translations

from maintcore.errors import InvalidInput

from .labels import LABELS

LOCALES_DIR = Path(__file__).with_name("locales")
LOCALES = ("en", "fr")
DOMAIN = "maintreport"


def _check_locale(locale: str) -> None:
    if locale not in LOCALES:
        raise InvalidInput(f"unknown locale {locale!r}: use one of {', '.join(LOCALES)}")


@cache
def translations(locale: str) -> Translations:
    """Return the compiled catalogue of a locale (InvalidInput for an unknown one, or one not compiled)."""
    _check_locale(locale)
    path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not path.is_file():
        raise InvalidInput(f"{path}: the {locale} catalogue is not compiled (run make i18n)")
    with path.open("rb") as handle:
        return Translations(handle, domain=DOMAIN)


@cache
def catalogue(locale: str) -> dict[str, str]:
    """Return every label of a locale by key, translated (InvalidInput for an unknown locale)."""
    gettext = translations(locale)
    return {key: str(gettext.pgettext(key, english)) for key, english in LABELS.items()}


class Text:
    """Callable that returns a catalogue sentence with its parameters filled in."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.labels = catalogue(locale)

    def __call__(self, key: str, **params: Any) -> str:
        """Return the label ``key`` formatted with ``params`` (floats in the locale's style)."""
        template = self.labels.get(key)
        if template is None:
            raise KeyError(f"label {key!r} missing from reports/maintreport/labels.py")
        shown = {k: number(v, self.locale) if isinstance(v, float) else v for k, v in params.items()}
        return template.format(**shown)


@cache
def _locale(locale: str) -> Locale:
    return Locale.parse(locale)


def number(value: float | int | None, locale: str, digits: int = 1) -> str:
    """Format a number for a locale (CLDR, through Babel): ``1,234.5`` in English, ``1 234,5`` in French."""
    if value is None or isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if not isinstance(value, int | float):  # a garbage value in the store: shown as it is
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return format_decimal(value, locale=_locale(locale))
    pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
    return format_decimal(value, format=pattern, locale=_locale(locale))
