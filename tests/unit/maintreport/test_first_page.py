"""The report a business owner reads, on a generated month of a 50-host client (tests/unit/maintreport/fleet_month.py).

* the first page says the month in the client's language, from the data (availability, alerts, risks),
  with the score's change since October and the MSP's contact;
* the PDF, rendered by weasyprint from the print variant, is at most 12 pages (pdfinfo counts them),
  and links its evidence into the full HTML beside it, which holds every result;
* the month over month shows September to November and August as no data;
* the monthly e-mail carries the first page as its body (plain text and HTML), the PDF attached;
* screenshots of the first page in French and English (pdftoppm on the PDF's first page) are saved
  under ``$MAINT_TEST_ARTIFACTS`` (default ``var/test-artifacts/report/``, ignored by git) to be looked at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maintcore.store import Store
from maintreport import api, deliver, render
from tests.unit.maintreport import fleet_month

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("MAINT_TEST_ARTIFACTS") or ROOT / "var" / "test-artifacts") / "report"
MSP = ("name: Contoso Infogérance\ncolours: {primary: '#123a5c', accent: '#0b7285'}\n"
       "contact: {email: support@contoso.example, phone: '+33 1 23 45 67 89', web: 'https://contoso.example'}\n"
       "contract_ref: CT-2026-050\n")
pytestmark = pytest.mark.skipif(not (shutil.which("pdfinfo") and shutil.which("pdftoppm")),
                                reason="poppler-utils (APT_PACKAGES) is not installed")


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The month written once; both locales' reports written (html, pdf, json, csv, md)."""
    root = tmp_path_factory.mktemp("fifty")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAINT_HOME", str(root / "home"))
        mp.setenv("MAINT_INVENTORIES", str(root / "inventories"))
        mp.setenv("MAINT_TEST_NOW", "2026-12-01T09:00:00Z")
        mp.setenv("MAINT_VAULT_DIR", str(root / "vault"))
        mp.delenv("MAINT_SIGNING_KEY", raising=False)
        (root / "home").mkdir(mode=0o700)
        (root / "home" / "msp.yml").write_text(MSP, encoding="utf-8")
        fleet_month.write_client(root)
        out: dict[str, Any] = {"root": root}
        with Store(root / "home" / "store.db") as store:
            fleet_month.fill(store)
            for locale in ("fr", "en"):
                doc, paths = api.write_report_doc(store, fleet_month.CLIENT, period="2026-11", locale=locale,
                                                  formats=("html", "pdf", "json", "csv", "md"),
                                                  out_dir=root / f"report-{locale}")
                out[locale] = {"doc": doc, "paths": paths}
        yield out


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True, timeout=60).stdout
    match = re.search(r"^Pages:\s+(\d+)$", info, re.M)
    assert match, info
    return int(match.group(1))


def pdf_text(path: Path, first: int | None = None, last: int | None = None) -> str:
    pages = [*(["-f", str(first)] if first else []), *(["-l", str(last)] if last else [])]
    return subprocess.run(["pdftotext", *pages, str(path), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout


def test_the_pdf_of_a_50_host_month_is_at_most_12_pages(month: dict[str, Any]) -> None:
    for locale in ("fr", "en"):
        doc, paths = month[locale]["doc"], month[locale]["paths"]
        assert doc["summary"]["hosts"] == 50 and doc["appendix"].count > 5000
        assert 4 <= pdf_pages(paths["pdf"]) <= 12, locale
        html = paths["html"].read_text(encoding="utf-8")
        # the full evidence stays in the HTML, JSON and CSV: every result
        assert html.count('<tr id="r') == doc["appendix"].count
        assert sum(1 for _ in paths["csv"].open(encoding="utf-8")) == doc["appendix"].count + 1
        text = pdf_text(paths["pdf"])
        # the PDF's appendix is what is not ok, bounded, and it names the files that hold the rest
        assert "report.html" in text and "report.csv" in text
        assert (doc["not_ok"]["total_results"] > 0 and doc["not_ok"]["groups"][0]["status"] == "critical")


def test_the_pdf_links_its_evidence_into_the_html_beside_it(month: dict[str, Any]) -> None:
    doc = month["en"]["doc"]
    printed = render.render_html(doc, printed=True)
    refs = set(re.findall(r'href="([^"]*)"', printed))
    evidence = {r for r in refs if re.search(r"#r\d+$", r)}
    assert evidence and all(r.startswith("report.html#r") for r in evidence)
    full_ids = set(re.findall(r' id="([^"]+)"', month["en"]["paths"]["html"].read_text(encoding="utf-8")))
    assert {r.split("#", 1)[1] for r in evidence} <= full_ids  # every link lands in the full HTML
    local = {r[1:] for r in refs if r.startswith("#")}
    assert local <= set(re.findall(r' id="([^"]+)"', printed))  # and the PDF's own links land in it
    assert printed.count('<tr id="r') == 0 and len(printed) < len(month["en"]["paths"]["html"].read_text()) / 10


def test_the_first_page_says_the_month_from_the_data(month: dict[str, Any]) -> None:
    fr, en = month["fr"]["doc"]["first_page"], month["en"]["doc"]["first_page"]
    assert [s["key"] for s in fr["sentences"]] == ["fp.avail_partial_one", "fp.alerts_mixed_dt", "fp.risks_many"]
    assert fr["sentences"][0]["text"] == ("49 de vos 50 machines étaient surveillées : disponibles 99,9\u00a0%\u00a0du "
                                          "temps (objectif 99,5\u00a0%) ; la dernière n'a pas été mesurée.")
    assert en["sentences"][0]["params"] == fr["sentences"][0]["params"]
    # srv40 down a whole day: its alert was answered late; the nightly runs' alerts fell in the window
    assert en["sentences"][1]["params"]["missed"] >= 1 and en["sentences"][1]["params"]["downtime"] >= 1
    # the worst risks: the failed restore test and the full disk, priced in the client's currency
    assert [r["status"] for r in en["risks"]] == ["critical"] * 3
    checks = {r["check"] for r in en["risks"]}
    assert {"backup.restore_sample", "hardware.disk_free"} <= checks
    assert all(r["cost"]["currency"] == "EUR" and r["cost"]["early"] > 0 for r in en["risks"])
    assert en["score"]["previous_period"] == "2026-10" and en["score"]["change"] is not None
    assert en["score"]["change"] == round(en["score"]["value"] - en["score"]["previous"], 1)
    first = pdf_text(month["fr"]["paths"]["pdf"], 1, 1)
    for sentence in fr["sentences"]:
        assert " ".join(sentence["text"].split()[:4]) in " ".join(first.split())
    assert "Contoso Infogérance" in first and "support@contoso.example" in first
    assert "hardware.disk_free" not in first and "backup.restore_sample" not in first  # labels, not ids


def test_month_over_month_shows_months_without_data_as_no_data(month: dict[str, Any]) -> None:
    mom = month["en"]["doc"]["trends"]["series"]
    assert mom["months"] == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    assert mom["score"][:3] == [None, None, None] and all(s is not None for s in mom["score"][3:])
    assert mom["alerts"][:3] == [None, None, None] and mom["availability"][:3] == [None, None, None]
    assert mom["patch_compliance"][3:] == [96.0, 96.0, 90.0]  # srv20-21, then srv20-24 miss security updates
    assert mom["backup_tests"][3:] == [200, 200, 200]
    html = month["en"]["paths"]["html"].read_text(encoding="utf-8")
    assert html.count(">no data</text>") >= 6 * 3  # six charts, three months without data each


def test_the_monthly_email_carries_the_first_page(month: dict[str, Any]) -> None:
    doc, paths = month["fr"]["doc"], month["fr"]["paths"]
    html = render.render_first_page(doc)
    msg = deliver.month_message("Rapport", paths["md"].read_text(encoding="utf-8"), html,
                                [paths["pdf"], paths["html"]], "reports@msp.example", ["patron@fifty.example"])
    plain = msg.get_body(preferencelist=("plain",))
    rich = msg.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    text = plain.get_content()
    for sentence in doc["first_page"]["sentences"]:
        assert sentence["text"] in text
    assert doc["first_page"]["risks"][0]["cost_text"]["text"] in text
    body = rich.get_content()
    assert "Ce mois-ci en bref" in body and "support@contoso.example" in body
    assert not re.findall(r'(?:src|href)="(?!mailto:|https://contoso\.example|data:)', body)  # nothing fetched
    assert [a.get_filename() for a in msg.iter_attachments()] == ["report.pdf", "report.html"]


def test_screenshots_of_the_first_page(month: dict[str, Any]) -> None:
    """The first page of the PDF as PNG in both locales, saved to be looked at (and not blank)."""
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for locale in ("fr", "en"):
        stem = ARTIFACTS / f"first-page-{locale}"
        subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-r", "110", "-png", "-singlefile",
                        str(month[locale]["paths"]["pdf"]), str(stem)], check=True, timeout=120)
        shot = stem.with_suffix(".png")
        with Image.open(shot) as image:
            assert image.width > 800 and image.height > 1100  # A4 at 110 dpi
            grey = image.convert("L")
            dark = sum(grey.histogram()[:128])
            assert dark > 0.005 * image.width * image.height  # text was drawn
