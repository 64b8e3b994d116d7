"""What a client reads must be in the client's language: the scan of a rendered report (issue 13).

:func:`leaks` takes a rendered report (HTML, the print variant the PDF is made of, the markdown, the
e-mail's body) and returns what a business owner must not read in it: a check id (``hardware.disk_free``)
anywhere but the technician's appendix, and, in a French report, an English sentence of the catalogue.
The technician's appendix is the element the templates mark ``data-technician-appendix``
(``reports/maintreport/templates/report.html.j2``): it is cut out first, with every tag of the markup
(``<style>``, ``<script>`` and their content too), so that only the text a reader sees is scanned.

An English sentence is a clause (a literal part between placeholders, cut at ``;``, ``:``, ``.``, dashes
and brackets) of a catalogue msgid
(``reports/maintreport/locales/maintreport.pot``) of at least :data:`MIN_WORDS` words that the French
translation does not keep as it is, or that holds a word only English uses (``the``, ``and``, ``of``...:
an English text copied into the French catalogue is English still): proper nouns, commands and product
names the two languages share (``Get-MpComputerStatus | ConvertTo-Json``) are not English. Used by
``tests/unit/maintreport/test_rendered_language.py`` and ``tests/integration/test_report_lab.py``.
"""

from __future__ import annotations

import html as html_lib
import re
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from maint_utils import checks

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "reports" / "maintreport" / "locales"
MIN_WORDS = 3
TECHNICIAN_APPENDIX = re.compile(r"<section\b[^>]*\bdata-technician-appendix\b.*?</section>", re.S | re.I)
INVISIBLE = re.compile(r"<(style|script)\b.*?</\1\s*>", re.S | re.I)
TAG = re.compile(r"<[^>]+>")
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w*\}|%%")
CLAUSE = re.compile(r"[;:!?](?:\s|$)|\.\s|\s[-\u2013\u2014]\s|[()]")
WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
# Words only English uses: a clause holding one is English even where a translation kept it word for word.
ENGLISH_WORDS = frozenset((
    "the", "and", "of", "to", "is", "are", "was", "were", "be", "been", "has", "have", "had", "this", "that",
    "these", "those", "with", "from", "for", "by", "at", "on", "in", "into", "not", "no", "none", "any", "every",
    "its", "it", "which", "who", "when", "where", "than", "then", "or", "if", "yet", "still", "only", "there",
    "their",
))


def _flat(text: str) -> str:
    """One line, every kind of space (no-break, narrow no-break) as one plain space."""
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def client_text(rendered: str) -> str:
    """The text a client reads: the rendering without the technician's appendix, its markup or its styles."""
    text = TECHNICIAN_APPENDIX.sub(" ", rendered)
    text = INVISIBLE.sub(" ", text)
    text = TAG.sub(" ", text)
    return _flat(html_lib.unescape(text))


@cache
def check_ids() -> tuple[str, ...]:
    """Every check id of the catalogue (``maint_utils.checks``), longest first."""
    return tuple(sorted(checks.catalogue(), key=len, reverse=True))


@cache
def english_sentences() -> tuple[str, ...]:
    """The English parts of the catalogue a French report must not show (see the module docstring)."""
    with (LOCALES / "fr" / "LC_MESSAGES" / "maintreport.po").open("rb") as handle:
        french = read_po(handle, locale="fr")
    found: set[str] = set()
    for message in french:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        translated = _flat(str(message.string or ""))
        for piece in PLACEHOLDER.split(msgid):
            for part in CLAUSE.split(piece):
                part = _flat(part).strip(" :;,.()-")
                words = WORD.findall(part)
                if len(words) >= MIN_WORDS and (part not in translated or ENGLISH_WORDS & {w.lower() for w in words}):
                    found.add(part)
    return tuple(sorted(found, key=len, reverse=True))


def leaks(rendered: str, locale: str) -> list[str]:
    """What a client must not read in ``rendered``: ``id <check id>`` and, in French, ``en <sentence>``."""
    text = client_text(rendered)
    out = [f"id {cid}" for cid in check_ids() if re.search(r"(?<![\w.])" + re.escape(cid) + r"(?![\w])", text)]
    if locale == "fr":
        out += [f"en {sentence}" for sentence in english_sentences() if sentence in text]
    return out


def context(rendered: str, needle: str, width: int = 80) -> str:
    """Where ``needle`` sits in the client's text (for an assertion message)."""
    text = client_text(rendered)
    at = text.find(needle)
    return text[max(0, at - width):at + len(needle) + width] if at >= 0 else ""
