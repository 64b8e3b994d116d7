"""``maintctl report keygen`` and ``maintctl report verify FILE``, through ``maintctl.cli.main``.

Real keys, a real report built from the recorded lab runs (tests/fixtures/report/lab_runs.json),
real files in tmp_path: a report verifies; a changed byte, another key, a missing or malformed
signature fail with one line and exit 1; a missing public key or file exits 2; keygen refuses to
replace a key; reports are not signed without a key (one line on stderr); ``--sign`` requires one;
every ``maintctl report --client/--all ...`` keeps working; the e-mail attaches the PDF's signature.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from maintcore.errors import MAX_MESSAGE, clip
from maintcore.store import Store
from maintctl.cli import main
from maintreport import sign
from tests.servers import SMTP_PASSWORD, SmtpServer
from tests.unit.maintreport.test_build import home, load_fixture  # noqa: F401 - the fixture is used by name

NOW = "2026-11-10T23:00:00Z"


@pytest.fixture()
def loaded(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811 - pytest fixture from test_build
    """The demo client's store, and a vault folder of this test: the key goes to <tmp>/cfg/signing/."""
    monkeypatch.setenv("MAINT_VAULT_DIR", str(home / "cfg" / "vault"))
    monkeypatch.delenv("MAINT_SIGNING_KEY", raising=False)
    monkeypatch.setattr(sign, "_noted", False)
    with Store(home / "home" / "store.db") as store:
        load_fixture(store)
    return home


@pytest.fixture()
def keyed(loaded: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``maintctl report keygen`` and return the fingerprint it printed."""
    assert main(["report", "keygen"]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("fingerprint: ")]
    return line.removeprefix("fingerprint: ")


@pytest.fixture()
def report(keyed: str, loaded: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    """A signed report: JSON, PDF and HTML; returns the paths printed by format."""
    code = main(["report", "--client", "demo", "--period", "2026-11", "--format", "json,pdf,html"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    return {fmt: Path(p) for fmt, p in (line.split(": ", 1) for line in out.splitlines())}


def _one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", "verify", *args])
    out, err = capsys.readouterr()
    return code, out, err


# -- keygen ------------------------------------------------------------------------------------------
def test_keygen_prints_the_public_key_and_its_fingerprint(loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "keygen"]) == 0
    out = capsys.readouterr().out
    private = loaded / "cfg" / "signing" / "ed25519.key"
    public = loaded / "home" / "signing" / "ed25519.pub"
    assert f"private key: {private} (0600" in out and f"public key: {public} (publish it" in out
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.read_text(encoding="ascii") in out and "-----BEGIN PUBLIC KEY-----" in out
    assert f"fingerprint: {sign.fingerprint(sign.load_public_key(public))}" in out


def test_keygen_refuses_to_overwrite(keyed: str, loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private = loaded / "cfg" / "signing" / "ed25519.key"
    before = private.read_bytes()
    assert main(["report", "keygen"]) == 2
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert line.startswith("maintctl: error: the signing key ") and f"(key {keyed})" in line
    assert "never replaces a key" in line and out == ""
    assert private.read_bytes() == before


# -- verify ------------------------------------------------------------------------------------------
def test_a_report_verifies(report: dict[str, Path], keyed: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert set(report) == {"json", "pdf", "html", "json.sig", "pdf.sig"}
    assert report["json.sig"] == report["json"].with_name("report.json.sig")
    for fmt in ("json", "pdf"):
        code, out, err = _verify(capsys, str(report[fmt]))
        assert (code, err) == (0, "")
        assert out == f"{report[fmt]}: signature ok (key {keyed}, signed {NOW})\n"
    doc = json.loads(report["pdf.sig"].read_text(encoding="utf-8"))
    assert set(doc) == {"format", "algorithm", "key", "sha256", "size", "signed_at", "signature"}


def test_a_changed_byte_fails_with_one_line(report: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pdf = report["pdf"]
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0x20
    pdf.write_bytes(bytes(data))
    code, out, err = _verify(capsys, str(pdf))
    assert code == 1 and out == ""
    assert _one_line(err) == (f"maintctl: error: {pdf}: does not match its signature "
                              f"(changed after it was signed at {NOW})")


def test_another_key_fails_with_one_line(report: dict[str, Path], keyed: str, loaded: Path,
                                         capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINT_SIGNING_KEY", str(loaded / "other" / "ed25519.key"))
    monkeypatch.setenv("MAINT_HOME", str(loaded / "other-home"))
    assert main(["report", "keygen"]) == 0
    capsys.readouterr()
    other = loaded / "other-home" / "signing" / "ed25519.pub"
    code, out, err = _verify(capsys, str(report["json"]), "--public-key", str(other))
    assert code == 1 and out == ""
    line = _one_line(err)
    other_key = sign.fingerprint(sign.load_public_key(other))
    assert line == f"maintctl: error: {report['json']}: signed by another key ({keyed}, not {other_key})"


def test_a_missing_signature_fails_with_one_line(report: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    report["json.sig"].unlink()
    code, out, err = _verify(capsys, str(report["json"]))
    assert code == 1 and out == ""
    assert _one_line(err) == f"maintctl: error: {report['json']}: no signature: {report['json.sig']} not found"


def test_a_malformed_signature_fails_with_one_line(report: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    report["json.sig"].write_text('{"format": "maintreport-signature-v1", "algorithm": "Ed25519", "key": 3}')
    code, out, err = _verify(capsys, str(report["json"]))
    assert code == 1 and out == ""
    assert _one_line(err) == (f"maintctl: error: {report['json']}: malformed signature {report['json.sig']}: "
                              "key is missing or invalid")


def test_a_missing_public_key_or_file_exits_2(report: dict[str, Path], loaded: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    missing = loaded / "nowhere.pub"
    code, out, err = _verify(capsys, str(report["json"]), "--public-key", str(missing))
    assert code == 2 and out == ""
    assert _one_line(err).startswith(f"maintctl: error: no public key: {missing} not found")
    (loaded / "home" / "signing" / "ed25519.pub").unlink()
    code, _, err = _verify(capsys, str(report["pdf"]))
    assert code == 2 and "no public key: " in _one_line(err)
    code, _, err = _verify(capsys, str(loaded / "nope.json"))
    assert code == 2 and _one_line(err) == f"maintctl: error: {loaded / 'nope.json'}: no such file"


# -- signing when reports are written --------------------------------------------------------------------
def test_without_a_key_reports_are_written_unsigned_and_it_is_said_once(loaded: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--client", "demo", "--period", "2026-11", "--format", "json,html"])
    out, err = capsys.readouterr()
    assert code == 0
    assert _one_line(err).startswith("note: the reports are not signed: no signing key at ")
    assert str(loaded / "cfg" / "signing" / "ed25519.key") in err
    assert "sig" not in out
    assert not list((loaded / "home" / "reports").rglob("*.sig"))


def test_sign_requires_a_key_before_any_work(loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = loaded / "out"
    code = main(["report", "--client", "demo", "--period", "2026-11", "--sign", "--out", str(out_dir)])
    assert code == 2
    assert _one_line(capsys.readouterr().err).startswith("maintctl: error: --sign: no signing key at ")
    assert not out_dir.exists()


def test_a_world_readable_key_is_refused_and_nothing_is_written(keyed: str, loaded: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    private = loaded / "cfg" / "signing" / "ed25519.key"
    os.chmod(private, 0o644)
    out_dir = loaded / "out"
    code = main(["report", "--client", "demo", "--period", "2026-11", "--format", "json", "--out", str(out_dir)])
    assert code == 2
    # Errors are clipped to one bounded line: a long temporary path (pytest-xdist) cuts the end.
    expected = clip(f"maintctl: error: signing key {private}: mode 0644, must be 0600 or stricter "
                    f"(the group and others must not read a secret): chmod 600 {private}", MAX_MESSAGE)
    assert _one_line(capsys.readouterr().err) == expected
    assert not out_dir.exists()


def test_the_fleet_overview_is_signed(keyed: str, loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--all", "--period", "2026-11", "--format", "json,csv"]) == 0
    out = capsys.readouterr().out
    fleet = loaded / "home" / "reports" / "_fleet" / "2026-11" / "fleet.json"
    assert f"json.sig: {fleet}.sig" in out
    code, out, _ = _verify(capsys, str(fleet))
    assert code == 0 and out.startswith(f"{fleet}: signature ok (key {keyed}, ")


# -- every earlier invocation keeps working -----------------------------------------------------------
def test_report_still_needs_client_or_all(loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "--period", "2026-11"])
    assert exc.value.code == 2
    assert "one of the arguments --client --all is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--client", "demo", "--all"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_actions_take_no_report_options(loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "--client", "demo", "--period", "2026-11", "verify", "x.json"])
    assert exc.value.code == 2 and "verify takes no --client/--period" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", "verify"])
    assert exc.value.code == 2 and "FILE" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["--client", "demo", "--period", "2026-11", "--format", "json", "--locale", "fr"],
    ["--client", "demo", "--run", "20261103T193000Z-1a2b3c", "--format", "json"],
    ["--all", "--period", "2026-11", "--format", "json,html,csv"],
])
def test_existing_invocations_still_parse_and_run(keyed: str, loaded: Path, capsys: pytest.CaptureFixture[str],
                                                  argv: list[str]) -> None:
    code = main(["report", *argv, "--out", str(loaded / "out")])
    out, err = capsys.readouterr()
    # a run id that is not in the store is the usual one-line error (exit 2), not a parse error
    assert code in (0, 2) and "usage:" not in err, err
    if code == 0:
        assert "json: " in out and "json.sig: " in out


# -- delivery ----------------------------------------------------------------------------------------------
def test_the_email_attaches_the_pdf_signature(keyed: str, loaded: Path, smtp_server: SmtpServer,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    env = smtp_server.env(sender="reports@msp.example", to="owner@client.example")
    for key, value in {**env, "MAINT_SMTP_PASSWORD": SMTP_PASSWORD}.items():
        monkeypatch.setenv(key, value)
    assert main(["report", "--client", "demo", "--period", "2026-11", "--format", "json", "--email"]) == 0
    capsys.readouterr()
    (msg,) = smtp_server.messages
    attachments = {part.get_filename(): part.get_content() for part in msg.iter_attachments()}
    assert set(attachments) == {"report.pdf", "report.pdf.sig", "report.html"}
    pdf = loaded / "home" / "reports" / "demo" / "2026-11" / "report.pdf"
    assert attachments["report.pdf"] == pdf.read_bytes()
    assert attachments["report.pdf.sig"] == pdf.with_name("report.pdf.sig").read_bytes()
