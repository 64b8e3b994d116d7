"""The report a business owner reads holds no check id and, in French, no English sentence (issue 13).

The month: the recorded lab runs of tests/fixtures/report/lab_runs.json (five real hardware runs,
web03 unreachable, db01's filesystem full), and one more November run of app01 made of real recorded
tool output through the decide code: every saved smartctl output (tests/fixtures/smartctl) and every
saved Defender status (tests/fixtures/defender), so that failing disks, stopped protection and their
next steps are in the report as catalogue messages. Each rendering a client reads (the HTML, its print
variant the PDF is made of, the markdown summary and the e-mail's body) is scanned by
tests/report_language.py once the technician's appendix is cut out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from maint_utils import antivirus_defender, hardware_decide
from maintcore import supervision
from maintcore.store import Store
from maintreport import api, render
from tests import report_language
from tests.unit.maintreport import test_build

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
if not hasattr(test_build, "HOSTS"):  # the lab fixture's hosts (test_build's inventory)
    test_build.HOSTS = ("web01", "db01", "files01", "app01", "web02", "web03")  # type: ignore[attr-defined]
RECORDED_RUN = {
    "run_id": "20261105T193000Z-r13r13", "client": "demo", "kind": "adhoc", "areas": "hardware,antivirus",
    "limit_hosts": None, "check_mode": 0, "started": "2026-11-05T19:30:00Z", "finished": "2026-11-05T19:40:00Z",
    "status": "completed", "exit_code": 2, "hosts_total": 1, "run_dir": None,
}


def recorded_results() -> list[dict[str, Any]]:
    """app01's results of RECORDED_RUN: the decide code on every saved smartctl and Defender output."""
    out = []
    for path in sorted((FIXTURES / "smartctl").glob("*.json")):
        out += hardware_decide.evaluate_smart_text(path.read_text(encoding="utf-8"), source=path.stem)
    for path in sorted((FIXTURES / "defender").glob("*.json")):
        for result in antivirus_defender.evaluate_defender_text(path.read_text(encoding="utf-8"), source=path.stem):
            result["item"] = f"{result['item']} {path.stem}"
            out.append(result)
    for result in out:
        result.update(client="demo", host="app01", run_id=RECORDED_RUN["run_id"], started=RECORDED_RUN["started"],
                      finished=RECORDED_RUN["finished"])
    return out


@pytest.fixture(scope="module")
def renderings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, str]]]:
    """The month's renderings a client reads, by locale: html, print (the PDF's HTML), md, mail."""
    home = tmp_path_factory.mktemp("language")
    with pytest.MonkeyPatch.context() as mp:
        inv = home / "inventories" / "demo"
        (inv / "group_vars" / "all").mkdir(parents=True)
        hosts = {"all": {"children": {"linux": {"hosts": {h: {} for h in test_build.HOSTS}}}}}
        (inv / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
        (inv / "group_vars" / "all" / "policy.yml").write_text(yaml.safe_dump({"maint_policy": test_build.POLICY}),
                                                                encoding="utf-8")
        for name, value in (("MAINT_HOME", home / "home"), ("MAINT_INVENTORIES", home / "inventories"),
                            ("MAINT_TEST_NOW", "2026-11-10T23:00:00Z"), ("MAINT_VAULT_DIR", home / "vault")):
            mp.setenv(name, str(value))
        mp.delenv("MAINT_SIGNING_KEY", raising=False)
        (home / "home").mkdir(mode=0o700)
        with Store(home / "home" / "store.db") as store:
            test_build.load_fixture(store)
            results = recorded_results()
            store.start_run(RECORDED_RUN)
            store.finish_run(RECORDED_RUN["run_id"], "completed", 2, RECORDED_RUN["finished"])
            with store.transaction() as db:
                ids = store.insert_results(db, results)
            supervision.ingest_run(store, "demo", results, ids, test_build.POLICY)
            out = {}
            for locale in ("fr", "en"):
                doc = api.build_document(store, "demo", period="2026-11", locale=locale)
                out[locale] = {"html": render.render_html(doc), "print": render.render_html(doc, printed=True),
                               "md": render.render_md(doc), "mail": render.render_first_page(doc)}
            yield out


def test_the_month_says_the_recorded_problems_through_the_catalogue(renderings: dict[str, dict[str, str]]) -> None:
    results = recorded_results()
    assert {r["status"] for r in results} >= {"ok", "warning", "critical", "unknown"}
    assert all("message" in r for r in results)
    assert any("remediation" in r["message"] for r in results if r["status"] != "ok")
    fr = report_language.client_text(renderings["fr"]["html"])
    # a failing disk's problems, a disk's next step and a Defender result, in French
    assert "304 secteurs réalloués (5)" in fr and "Surveillez ce disque : comparez les compteurs" in fr
    assert "la protection en temps réel est désactivée" in fr
    en = report_language.client_text(renderings["en"]["html"])
    assert "304 reallocated sectors (5)" in en and "Watch this disk: compare the counters" in en


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("kind", ["html", "print", "md", "mail"])
def test_no_check_id_and_no_english_sentence_outside_the_technicians_appendix(
        renderings: dict[str, dict[str, str]], locale: str, kind: str) -> None:
    rendered = renderings[locale][kind]
    found = report_language.leaks(rendered, locale)
    assert not found, [(leak, report_language.context(rendered, leak.split(" ", 1)[1])) for leak in found[:10]]


def test_the_technicians_appendix_is_marked_and_is_what_holds_the_ids(renderings: dict[str, dict[str, str]]) -> None:
    for locale in ("fr", "en"):
        html = renderings[locale]["html"]
        assert html.count("data-technician-appendix") == 1
        # uncut, the scan finds the ids and the English summaries of the appendix: the cut is what clears it
        uncut = html.replace("data-technician-appendix", "data-cut-me-not")
        assert "id hardware.disk_free" in report_language.leaks(uncut, locale)
        assert "data-technician-appendix" not in renderings[locale]["print"]  # the PDF has no technician's part


def test_the_scan_catches_an_id_and_an_english_sentence() -> None:
    page = "<p>Disque : hardware.smart</p><section data-technician-appendix><p>patch.pending</p></section>"
    assert report_language.leaks(page, "en") == ["id hardware.smart"]
    english = "<p>Watch this disk and plan a replacement; check Get-StorageReliabilityCounter.</p>"
    assert report_language.leaks(english, "fr") and not report_language.leaks(english, "en")
    shared = "<p>Enregistrez la sortie de : Get-MpComputerStatus | ConvertTo-Json</p>"
    assert not report_language.leaks(shared, "fr")
    assert "Watch this disk and plan a replacement" in report_language.english_sentences()
