"""The MSP's brand ($MAINT_HOME/msp.yml, maintreport.brand) in every format, and bad settings.

Client acme (Europe/Paris) has one nightly run in November 2026; the MSP "Contoso <Services>"
(markup in its name, shown as text) has a PNG logo, colours, a contact and a default contract
reference, which acme's policy overrides with ``report.contract_ref``. Without msp.yml the brand is
neutral and the report names nobody.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from maintcore.errors import InvalidInput
from maintcore.store import Store
from maintctl.cli import main
from maintreport import api, brand, render

ROOT = Path(__file__).resolve().parents[3]
CLIENT = "acme"
NOW = "2026-12-01T08:00:00Z"
MSP_NAME = "Contoso <Services>"
CONTRACT = "CT-2026-042"
POLICY: dict[str, Any] = {"client_name": "Acme SA", "timezone": "Europe/Paris",
                          "windows": ["Mon-Fri 20:00-06:00"], "report": {"contract_ref": CONTRACT}}
MSP: dict[str, Any] = {
    "name": MSP_NAME, "logo": "logo.png", "colours": {"primary": "#123456", "accent": "#AB01CD"},
    "contact": {"email": "support@contoso.example", "phone": "+33 1 23 45 67 89", "web": "https://contoso.example/"},
    "contract_ref": "MSP-DEFAULT-1",
}


def png(width: int = 4, height: int = 2) -> bytes:
    """A real (tiny, red) PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture()
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Client acme with one November run; returns $MAINT_HOME (no msp.yml yet)."""
    inv = tmp_path / "inventories" / CLIENT
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"srv01": {}}}}), encoding="utf-8")
    (inv / "group_vars" / "all" / "policy.yml").write_text(yaml.safe_dump({"maint_policy": POLICY}), encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("MAINT_HOME", str(home))
    monkeypatch.setenv("MAINT_INVENTORIES", str(tmp_path / "inventories"))
    monkeypatch.setenv("MAINT_VAULT_DIR", str(tmp_path / "vault"))
    monkeypatch.setenv("MAINT_TEST_NOW", NOW)
    at = "2026-11-03T20:00:00Z"
    with Store(home / "store.db") as store:
        store.start_run({"run_id": "r1", "client": CLIENT, "areas": "hardware", "started": at})
        store.add_results([{"run_id": "r1", "client": CLIENT, "host": "srv01", "check": "hardware.disk_free",
                            "item": "/", "status": "warning", "severity": "P3", "summary": "/: 15 % free",
                            "observed": {"free_pct": 15.0}, "threshold": {"warn": 20}, "remediation": "Free space",
                            "changed": False, "started": at, "finished": at}])
        store.finish_run("r1", "completed", 1, at)
    yield home


def _write_msp(home: Path, data: Any, logo: bytes | None = None) -> Path:
    path = home / "msp.yml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    if logo is not None:
        (home / "logo.png").write_bytes(logo)
    return path


def _report(home: Path, locale: str = "en", formats: str = "html,pdf,json,csv,md") -> dict[str, Path]:
    with Store(home / "store.db") as store:
        return api.write_report(store, CLIENT, period="2026-11", formats=formats.split(","), locale=locale)


def _pdf_text(path: Path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler) is not installed")
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def _schema_validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads((ROOT / "schemas" / "report.schema.json").read_text(encoding="utf-8")))


# -- the brand in every format -----------------------------------------------------------------------
def test_the_brand_is_in_every_format(acme: Path) -> None:
    _write_msp(acme, MSP, png())
    paths = _report(acme)
    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert not list(_schema_validator().iter_errors(doc))
    msp = doc["msp"]
    assert msp["configured"] is True and msp["name"] == MSP_NAME and msp["contract_ref"] == CONTRACT  # the policy's
    assert msp["colours"] == {"primary": "#123456", "accent": "#ab01cd"}
    assert msp["contact"] == MSP["contact"]
    assert msp["logo"]["media_type"] == "image/png"
    assert base64.b64decode(msp["logo"]["data_uri"].split(",", 1)[1]) == png()

    html = paths["html"].read_text(encoding="utf-8")
    head, body = html.split("<body>", 1)
    assert "--brand-primary: #123456; --brand-accent: #ab01cd;" in head
    header = body.split("<h1>", 1)[0]
    assert f'<img class="brand-logo" src="{msp["logo"]["data_uri"]}" alt="Contoso &lt;Services&gt;">' in header
    assert "Contoso &lt;Services&gt;" in header and CONTRACT in header
    footer = html.split('<footer class="brand-footer">', 1)[1]
    assert "support@contoso.example" in footer and "+33 1 23 45 67 89" in footer and "https://contoso.example/" in footer
    assert f"Contract ref. {CONTRACT}" in footer
    # still self-contained: the only src is the data: URI, no stylesheet or script is fetched
    assert re.findall(r'src="([^",]*)', html) == ["data:image/png;base64"]
    assert "<link" not in html and "<script" not in html

    pdf = _pdf_text(paths["pdf"])
    assert MSP_NAME in pdf and CONTRACT in pdf and "support@contoso.example" in pdf
    if shutil.which("pdfimages"):
        listing = subprocess.run(["pdfimages", "-list", str(paths["pdf"])], check=True, capture_output=True,
                                 text=True).stdout.splitlines()
        assert any(line.split()[3:5] == ["4", "2"] for line in listing[2:]), listing  # the 4x2 logo

    md = paths["md"].read_text(encoding="utf-8").splitlines()
    assert md[0] == "# Maintenance report: Acme SA (2026-11)"
    assert f"Prepared by Contoso &lt;Services&gt; · Contract ref. {CONTRACT}" in md[:4]
    assert md[-1] == ("Contact Contoso &lt;Services&gt;: support@contoso.example · Tel. +33 1 23 45 67 89 · "
                      "https://contoso.example/")

    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text(encoding="utf-8"), newline="")))
    assert rows and all(r["msp"] == MSP_NAME and r["contract_ref"] == CONTRACT for r in rows)
    assert rows[0]["check"] == "hardware.disk_free"  # one header row, then one row per result, as before


def test_french_labels(acme: Path) -> None:
    _write_msp(acme, MSP, png())
    paths = _report(acme, "fr", "html,md")
    md = paths["md"].read_text(encoding="utf-8")
    assert f"Préparé par Contoso &lt;Services&gt; · Réf. contrat {CONTRACT}" in md
    assert "Contact Contoso &lt;Services&gt;: support@contoso.example · Tél. +33 1 23 45 67 89" in md
    assert f"Réf. contrat {CONTRACT}" in paths["html"].read_text(encoding="utf-8")


def test_contract_ref_defaults_to_msp_yml_and_an_svg_logo(acme: Path) -> None:
    policy_file = Path(str(acme.parent / "inventories" / CLIENT / "group_vars" / "all" / "policy.yml"))
    policy_file.write_text(yaml.safe_dump({"maint_policy": {**POLICY, "report": {}}}), encoding="utf-8")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    (acme / "brand").mkdir()
    (acme / "brand" / "logo.svg").write_bytes(svg)
    _write_msp(acme, {**MSP, "logo": "brand/logo.svg"})
    paths = _report(acme, formats="json,csv,pdf")
    msp = json.loads(paths["json"].read_text(encoding="utf-8"))["msp"]
    assert msp["contract_ref"] == "MSP-DEFAULT-1"
    assert msp["logo"] == {"media_type": "image/svg+xml",
                           "data_uri": "data:image/svg+xml;base64," + base64.b64encode(svg).decode()}
    assert {r["contract_ref"] for r in csv.DictReader(io.StringIO(paths["csv"].read_text(encoding="utf-8")))} \
        == {"MSP-DEFAULT-1"}
    assert "MSP-DEFAULT-1" in _pdf_text(paths["pdf"])


def test_without_msp_yml_the_brand_is_neutral(acme: Path) -> None:
    paths = _report(acme)
    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert doc["msp"] == {**brand.neutral(), "contract_ref": CONTRACT}  # only what the policy says
    assert not list(_schema_validator().iter_errors(doc))
    body = paths["html"].read_text(encoding="utf-8").split("<body>", 1)[1]
    assert "<img" not in body and "Prepared by" not in body and "Contact" not in body
    assert f"Contract ref. {CONTRACT}" in body
    md = paths["md"].read_text(encoding="utf-8")
    assert "Prepared by" not in md and "Contact" not in md and f"Contract ref. {CONTRACT}" in md
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text(encoding="utf-8"))))
    assert all(r["msp"] == "" and r["contract_ref"] == CONTRACT for r in rows)
    # and with no contract reference anywhere, nothing of the brand is shown at all
    with Store(acme / "store.db") as store:
        doc_none = {**api.build_document(store, CLIENT, period="2026-11"), "msp": brand.neutral()}
    assert 'class="brand' not in render.render_html(doc_none).split("<body>", 1)[1]
    assert "Contract ref." not in render.render_md(doc_none)


def test_the_fleet_overview_carries_the_brand(acme: Path) -> None:
    _write_msp(acme, MSP, png())
    with Store(acme / "store.db") as store:
        doc, paths = api.write_fleet(store, [CLIENT], period="2026-11", formats=["html", "json", "csv", "md"])
    fleet = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert fleet["msp"]["name"] == MSP_NAME and fleet["msp"]["contract_ref"] is None
    assert not list(_schema_validator().iter_errors(fleet))
    html = paths["html"].read_text(encoding="utf-8")
    assert "brand-logo" in html and "support@contoso.example" in html
    md = paths["md"].read_text(encoding="utf-8")
    assert "Prepared by Contoso &lt;Services&gt;" in md and "support@contoso.example" in md
    assert [r["msp"] for r in csv.DictReader(io.StringIO(paths["csv"].read_text(encoding="utf-8")))] == [MSP_NAME]


def test_markup_in_the_brand_stays_text_in_the_markdown(acme: Path) -> None:
    """The Markdown is the e-mail body: a name cannot become a link or a table cell there."""
    _write_msp(acme, {**MSP, "name": "[click](https://evil.example) | `x`"}, png())
    md = _report(acme, formats="md")["md"].read_text(encoding="utf-8")
    assert "Prepared by \\[click\\](https://evil.example) \\| \\`x\\`" in md


# -- bad settings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "logo", "key"), [
    ({**MSP, "colours": {"primary": "red"}}, png(), "colours.primary"),
    ({**MSP, "colours": {"accent": "#12345"}}, png(), "colours.accent"),
    ({**MSP, "password": "hunter2"}, png(), "password"),
    ({k: v for k, v in MSP.items() if k != "name"}, png(), "name"),
    ({**MSP, "contact": {"email": "not an address"}}, png(), "contact.email"),
    ({**MSP, "contact": {"web": "javascript:alert(1)"}}, png(), "contact.web"),
    ({**MSP, "logo": "logo.gif"}, png(), "logo"),
    ({**MSP, "logo": "missing.png"}, png(), "logo"),
    (MSP, b"GIF89a not a png", "logo"),
    ({**MSP, "logo": "big.png"}, png(), "logo"),
    ("- just\n- a list\n", None, "not a mapping"),
    ("name: [unclosed\n", None, "invalid YAML"),
    ("name: a\nname: b\n", None, "duplicate key"),
    (b"\x00\x01binary", None, "a binary file"),
    (b"name: caf\xe9\n", None, "not UTF-8"),
])
def test_bad_settings_are_one_line_naming_the_file_and_key(acme: Path, capsys: pytest.CaptureFixture[str],
                                                           data: Any, logo: bytes | None, key: str) -> None:
    if isinstance(data, bytes):
        (acme / "msp.yml").write_bytes(data)
    else:
        _write_msp(acme, data, logo)
    (acme / "big.png").write_bytes(png() + b"\0" * (brand.MAX_LOGO_BYTES + 1))
    with pytest.raises(InvalidInput) as caught:
        brand.load()
    message = str(caught.value)
    assert "msp.yml" in message and key in message and "\n" not in message
    assert "hunter2" not in message
    code = main(["report", "--client", CLIENT, "--period", "2026-11", "--format", "html,json,md"])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("maintctl: error: ") and "msp.yml" in err[0]
    assert "Traceback" not in captured.err and "hunter2" not in captured.err


def test_the_schema_file_names_every_key(project_dir: Path) -> None:
    schema = json.loads((project_dir / "schemas" / "msp.schema.json").read_text(encoding="utf-8"))
    assert set(schema["properties"]) == {"name", "logo", "colours", "contact", "contract_ref"}
    assert set(schema["properties"]) >= set(MSP)
    assert not list(Draft202012Validator(schema).iter_errors(MSP))


def test_the_pdf_reads_data_uris_only(http_receiver: Any) -> None:
    """The logo's data: URI is decoded locally; any other URL is refused, never requested."""
    logo = "data:image/png;base64," + base64.b64encode(png()).decode()
    html = (f'<p>logo</p><img src="{logo}"><img src="{http_receiver.url}/tracker.png">'
            f'<link rel="stylesheet" href="{http_receiver.url}/style.css">')
    pdf = render.render_pdf(html)
    assert pdf.startswith(b"%PDF") and http_receiver.requests == []
