"""The gettext catalogues: complete in French, compiled, and holding every message the code uses."""

from __future__ import annotations

import io
import re
import string
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from maint_utils import checks
from maintreport import i18n
from maintreport.labels import LABELS

ROOT = Path(__file__).resolve().parents[3]
POT = i18n.LOCALES_DIR / "maintreport.pot"
KEYWORDS = {"N_": None, "M_": None, "L_": ((1, "c"), 2)}  # the Makefile's i18n target: -k N_ -k M_ -k L_:1c,2


def _po(locale: str) -> Catalog:
    with (i18n.LOCALES_DIR / locale / "LC_MESSAGES" / "maintreport.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _ids(catalog: Catalog) -> set[tuple[str | None, str]]:
    return {(m.context, str(m.id)) for m in catalog if m.id}


def _fields(text: str) -> set[str]:
    brace = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return brace | set(re.findall(r"%\((\w+)\)s", text))


def test_every_message_has_a_french_translation_with_the_same_parameters() -> None:
    with POT.open("rb") as handle:
        template = read_po(handle)
    fr = _po("fr")
    assert _ids(fr) == _ids(template) and _ids(_po("en")) == _ids(template)
    untranslated = [(m.context, m.id) for m in fr if m.id and (not m.string or m.fuzzy)]
    assert not untranslated, f"no French translation (make i18n, then translate in fr/maintreport.po): {untranslated}"
    for m in fr:
        if m.id:
            assert _fields(str(m.string)) == _fields(str(m.id)), (m.context, m.id, m.string)
    assert len(_ids(template)) >= len(LABELS)


def test_compiled_catalogues_are_those_of_the_po_files() -> None:
    for locale in i18n.LOCALES:
        buffer = io.BytesIO()
        write_mo(buffer, _po(locale))
        compiled = (i18n.LOCALES_DIR / locale / "LC_MESSAGES" / "maintreport.mo").read_bytes()
        assert buffer.getvalue() == compiled, f"{locale}: maintreport.mo is stale, run make i18n"


def test_the_template_holds_every_message_the_code_marks() -> None:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    found = {(ctx, msgid if isinstance(msgid, str) else msgid[0])
             for _, _, msgid, _, ctx in extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)}
    with POT.open("rb") as handle:
        template = _ids(read_po(handle))
    assert found - template == set(), "messages missing from maintreport.pot: run make i18n"
    assert template - found == set(), "maintreport.pot holds messages no code uses: run make i18n"
    assert "-k N_ -k M_ -k L_:1c,2" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_every_check_status_and_area_has_a_label() -> None:
    catalogued = checks.catalogue()
    assert {f"check.{cid}" for cid in catalogued} <= set(LABELS)
    assert {k for k in LABELS if k.startswith("check.")} == {f"check.{cid}" for cid in catalogued}
    areas = {cid.split(".")[0] for cid in catalogued} | set(checks.AREAS)
    assert {f"area.{a}" for a in areas} <= set(LABELS)
    statuses = {s for c in catalogued.values() for s in c.statuses}
    assert {f"status.{s}" for s in statuses} <= set(LABELS)


def test_labels_are_translated_through_the_catalogue() -> None:
    fr, en = i18n.catalogue("fr"), i18n.catalogue("en")
    assert fr["check.backup.restore_sample"] == "Test de restauration" and en["check.backup.restore_sample"] == \
        "Restore test"
    # one English word, two French ones: the key is the context
    assert en["sla.met"] == en["target_met"] == "met" and fr["sla.met"] != fr["target_met"]
    assert i18n.Text("fr")("mail.subject", client="Demo", period="2026-11") == "Rapport de maintenance Demo 2026-11"
