"""Proof of integrity (maintreport.sign): real Ed25519 keys and real files in tmp_path.

The key pair made by ``keygen``, its modes and where it lives; signatures of written reports;
verification of a good report, a changed byte, another key, a missing or malformed signature,
a missing public key; refused key files (world-readable, group-readable, symlinked, under
$MAINT_HOME); and a check of the documented format with nothing but ``cryptography``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from maintcore.errors import InvalidInput
from maintcore.store import Store
from maintreport import api, sign
from maintreport.sign import SignatureError
from tests.unit.maintreport.test_build import home, load_fixture  # noqa: F401 - the fixture is used by name

NOW = "2026-11-10T23:00:00Z"


@pytest.fixture()
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder and a vault folder of this test: the key goes to <tmp>/cfg/signing/."""
    monkeypatch.setenv("MAINT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MAINT_VAULT_DIR", str(tmp_path / "cfg" / "vault"))
    monkeypatch.delenv("MAINT_SIGNING_KEY", raising=False)
    monkeypatch.setenv("MAINT_TEST_NOW", NOW)
    monkeypatch.setattr(sign, "_noted", False)
    return tmp_path


@pytest.fixture()
def pair(place: Path) -> sign.KeyPair:
    return sign.keygen()


@pytest.fixture()
def signed(place: Path, pair: sign.KeyPair) -> Path:
    report = place / "out" / "report.json"
    report.parent.mkdir()
    report.write_text('{"client": "acme", "score": 91.5}\n', encoding="utf-8")
    key = sign.load_private_key()
    assert key is not None
    sign.sign_file(report, key)
    return report


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- keygen ----------------------------------------------------------------------------------------
def test_keygen_writes_a_0600_secret_outside_the_state_folder_and_publishes_the_public_key(
        place: Path, pair: sign.KeyPair) -> None:
    assert pair.created
    assert pair.private == place / "cfg" / "signing" / "ed25519.key"
    assert pair.public == place / "home" / "signing" / "ed25519.pub"
    assert _mode(pair.private) == 0o600 and _mode(pair.private.parent) == 0o700
    assert _mode(pair.public) == 0o644
    assert not pair.private.resolve().is_relative_to((place / "home").resolve())
    key = serialization.load_pem_private_key(pair.private.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    public = sign.load_public_key(pair.public)
    assert sign.fingerprint(key.public_key()) == sign.fingerprint(public) == pair.fingerprint
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    assert pair.fingerprint == expected and pair.pem == pair.public.read_text(encoding="ascii")
    assert not list(pair.private.parent.glob(".*")) and not list(pair.public.parent.glob(".*"))  # no temp file


def test_keygen_refuses_to_replace_a_key(place: Path, pair: sign.KeyPair) -> None:
    before = (pair.private.read_bytes(), pair.public.read_bytes())
    with pytest.raises(InvalidInput, match="exists already.*never replaces a key"):
        sign.keygen()
    assert (pair.private.read_bytes(), pair.public.read_bytes()) == before
    # a public key without its private key is not replaced either
    pair.private.unlink()
    with pytest.raises(InvalidInput, match=f"public key {pair.public} exists already"):
        sign.keygen()
    assert pair.public.read_bytes() == before[1] and not pair.private.exists()


def test_keygen_republishes_a_missing_public_key_from_the_existing_private_key(place: Path,
                                                                               pair: sign.KeyPair) -> None:
    secret = pair.private.read_bytes()
    pair.public.unlink()  # a new state folder
    again = sign.keygen()
    assert not again.created and again.fingerprint == pair.fingerprint
    assert pair.private.read_bytes() == secret and again.public.read_text(encoding="ascii") == pair.pem


def test_keygen_refuses_a_private_key_under_maint_home(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINT_SIGNING_KEY", str(place / "home" / "keys" / "ed25519.key"))
    with pytest.raises(InvalidInput, match=r"under \$MAINT_HOME .*holds no secret"):
        sign.keygen()
    assert not (place / "home" / "keys").exists() and not (place / "home" / "signing").exists()


def test_the_signing_key_env_var_moves_the_key(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINT_SIGNING_KEY", str(place / "secrets" / "msp.key"))
    made = sign.keygen()
    assert made.private == place / "secrets" / "msp.key" and _mode(made.private) == 0o600
    assert sign.load_private_key() is not None
    made.private.unlink()
    with pytest.raises(InvalidInput, match="MAINT_SIGNING_KEY=.*no such file"):
        sign.load_private_key()


# -- refused key files -------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o700])
def test_a_key_the_group_or_others_can_read_is_refused_with_the_fix(pair: sign.KeyPair, mode: int) -> None:
    os.chmod(pair.private, mode)
    with pytest.raises(InvalidInput, match=rf"mode {mode:04o}, must be 0600 or stricter.*chmod 600 {pair.private}"):
        sign.load_private_key()


def test_a_symlinked_key_is_refused_with_the_fix(place: Path, pair: sign.KeyPair) -> None:
    real = place / "elsewhere.key"
    pair.private.rename(real)
    pair.private.symlink_to(real)
    with pytest.raises(InvalidInput, match="is a symlink: replace it with the file itself"):
        sign.load_private_key()


def test_a_key_that_is_not_an_ed25519_pem_is_refused(pair: sign.KeyPair) -> None:
    pair.private.write_text("not a key\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a PEM private key"):
        sign.load_private_key()


# -- signing the written reports ---------------------------------------------------------------------
@pytest.fixture()
def loaded(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:  # noqa: F811 - the fixture
    monkeypatch.setenv("MAINT_VAULT_DIR", str(home / "cfg" / "vault"))
    monkeypatch.delenv("MAINT_SIGNING_KEY", raising=False)
    monkeypatch.setattr(sign, "_noted", False)
    with Store(home / "home" / "store.db") as store:
        load_fixture(store)
        yield store


def test_written_json_and_pdf_are_signed_and_verify(loaded: Store, tmp_path: Path) -> None:
    made = sign.keygen()
    paths = api.write_report(loaded, "demo", period="2026-11", formats=("json", "pdf", "html"))
    for fmt in ("json", "pdf"):
        sig = sign.signature_path(paths[fmt])
        assert sig.name == f"report.{fmt}.sig" and _mode(sig) == 0o600
        doc = json.loads(sig.read_text(encoding="utf-8"))
        assert doc["sha256"] == hashlib.sha256(paths[fmt].read_bytes()).hexdigest()
        assert doc["size"] == paths[fmt].stat().st_size and doc["key"] == made.fingerprint
        assert sign.verify_file(paths[fmt]) == sign.Verified(made.fingerprint, NOW)
    assert not sign.signature_path(paths["html"]).exists()
    # the fleet overview is signed too
    _, fleet = api.write_fleet(loaded, ["demo"], period="2026-11", formats=("json",))
    assert sign.verify_file(fleet["json"]).fingerprint == made.fingerprint


def test_without_a_key_nothing_is_signed_and_it_is_said_once(loaded: Store,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    paths = api.write_report(loaded, "demo", period="2026-11", formats=("json",))
    api.write_report(loaded, "demo", period="2026-11", formats=("json",))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("note: the reports are not signed: no signing key at ")
    assert "maintctl report keygen" in err
    assert not sign.signature_path(paths["json"]).exists()


def test_a_stale_signature_is_removed_when_the_report_is_rewritten_unsigned(loaded: Store, tmp_path: Path) -> None:
    made = sign.keygen()
    paths = api.write_report(loaded, "demo", period="2026-11", formats=("json",))
    assert sign.signature_path(paths["json"]).is_file()
    made.private.unlink()
    api.write_report(loaded, "demo", period="2026-11", formats=("json",))
    assert not sign.signature_path(paths["json"]).exists()


def test_an_unusable_key_stops_the_report_before_anything_is_written(loaded: Store, tmp_path: Path) -> None:
    made = sign.keygen()
    os.chmod(made.private, 0o644)
    out = tmp_path / "out"
    with pytest.raises(InvalidInput, match="chmod 600"):
        api.write_report(loaded, "demo", period="2026-11", formats=("json", "html"), out_dir=out)
    assert not out.exists()


# -- verification --------------------------------------------------------------------------------------
def test_a_signed_report_verifies(signed: Path, pair: sign.KeyPair) -> None:
    assert sign.verify_file(signed) == sign.Verified(pair.fingerprint, NOW)
    assert sign.verify_file(signed, pair.public) == sign.Verified(pair.fingerprint, NOW)


def test_one_changed_byte_does_not_match(signed: Path) -> None:
    data = bytearray(signed.read_bytes())
    data[-4] ^= 0x01  # 91.5 -> 91.4
    signed.write_bytes(bytes(data))
    with pytest.raises(SignatureError, match=f"^{signed}: does not match its signature "
                                             r"\(changed after it was signed at 2026-11-10T23:00:00Z\)$"):
        sign.verify_file(signed)


def test_an_altered_signature_document_does_not_match(signed: Path) -> None:
    sig = sign.signature_path(signed)
    doc = json.loads(sig.read_text(encoding="utf-8"))
    doc["signed_at"] = "2026-10-01T00:00:00Z"  # backdated
    sig.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(SignatureError, match="does not match its signature .*was altered"):
        sign.verify_file(signed)


def test_a_hash_rewritten_for_a_changed_file_does_not_match(signed: Path) -> None:
    signed.write_text('{"client": "acme", "score": 99.9}\n', encoding="utf-8")
    sig = sign.signature_path(signed)
    doc = json.loads(sig.read_text(encoding="utf-8"))
    doc["sha256"] = hashlib.sha256(signed.read_bytes()).hexdigest()
    sig.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(SignatureError, match="does not match its signature"):
        sign.verify_file(signed)


def test_another_key_is_named(place: Path, signed: Path, pair: sign.KeyPair) -> None:
    other = place / "other.pub"
    other.write_text(sign.public_pem(Ed25519PrivateKey.generate().public_key()), encoding="ascii")
    with pytest.raises(SignatureError, match=rf"signed by another key \({re.escape(pair.fingerprint)}, not SHA256:\S+\)$"):
        sign.verify_file(signed, other)


def test_a_signature_by_another_key_claiming_ours_does_not_match(signed: Path, pair: sign.KeyPair) -> None:
    forger = Ed25519PrivateKey.generate()
    sig = sign.signature_path(signed)
    doc = json.loads(sig.read_text(encoding="utf-8"))
    doc["signature"] = base64.b64encode(forger.sign(sign.statement(
        doc["key"], doc["sha256"], doc["size"], doc["signed_at"]))).decode()
    sig.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(SignatureError, match="does not match its signature"):
        sign.verify_file(signed)


def test_a_missing_signature(signed: Path) -> None:
    sign.signature_path(signed).unlink()
    with pytest.raises(SignatureError, match=f"^{signed}: no signature: {signed}.sig not found$"):
        sign.verify_file(signed)


@pytest.mark.parametrize(("content", "why"), [
    (b"not json", "not a JSON document"),
    (b"\xff\xfe", "not a JSON document"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"format": "other"}', "format 'other'"),
    (b"x" * (sign.MAX_SIG_BYTES + 10), "larger than"),
])
def test_a_malformed_signature(signed: Path, content: bytes, why: str) -> None:
    sign.signature_path(signed).write_bytes(content)
    with pytest.raises(SignatureError, match=f"{signed}: malformed signature .*{why}"):
        sign.verify_file(signed)


@pytest.mark.parametrize(("field", "value"), [
    ("key", "SHA256:short"), ("sha256", "ABC"), ("size", -1), ("size", True), ("signed_at", "yesterday"),
    ("signature", "!!!"), ("signature", base64.b64encode(b"x" * 10).decode()), ("key", None),
])
def test_a_signature_with_a_bad_field_is_malformed(signed: Path, field: str, value: object) -> None:
    sig = sign.signature_path(signed)
    doc = json.loads(sig.read_text(encoding="utf-8"))
    doc[field] = value
    sig.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(SignatureError, match=f"malformed signature .*: {field} is missing or invalid"):
        sign.verify_file(signed)


def test_a_missing_public_key_cannot_judge(place: Path, signed: Path, pair: sign.KeyPair) -> None:
    pair.public.unlink()
    with pytest.raises(InvalidInput, match=f"no public key: {pair.public} not found"):
        sign.verify_file(signed)
    garbage = place / "garbage.pub"
    garbage.write_text("hello", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not an Ed25519 public key"):
        sign.verify_file(signed, garbage)


def test_a_missing_file_or_a_signature_given_instead_cannot_judge(place: Path, signed: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        sign.verify_file(place / "nope.json")
    with pytest.raises(InvalidInput, match="is a signature: give the report it signs"):
        sign.verify_file(sign.signature_path(signed))


def test_openssh_and_raw_base64_public_keys_are_accepted(place: Path, signed: Path, pair: sign.KeyPair) -> None:
    public = sign.load_public_key(pair.public)
    ssh = place / "msp.ssh.pub"
    ssh.write_bytes(public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
    raw = place / "msp.b64"
    raw.write_text(base64.b64encode(public.public_bytes(serialization.Encoding.Raw,
                                                        serialization.PublicFormat.Raw)).decode() + "\n")
    for path in (ssh, raw):
        assert sign.verify_file(signed, path).fingerprint == pair.fingerprint


def test_the_documented_format_verifies_without_maintreport(signed: Path, pair: sign.KeyPair) -> None:
    """What an auditor does by hand: hash the file, rebuild the statement, verify it with the public key."""
    doc = json.loads(sign.signature_path(signed).read_text(encoding="utf-8"))
    data = signed.read_bytes()
    assert doc["sha256"] == hashlib.sha256(data).hexdigest()
    text = (f"maintreport-signature-v1\nalgorithm: Ed25519\nkey: {doc['key']}\nsha256: {doc['sha256']}\n"
            f"size: {len(data)}\nsigned_at: {doc['signed_at']}\n")
    public = serialization.load_pem_public_key(pair.public.read_bytes())
    public.verify(base64.b64decode(doc["signature"]), text.encode())  # type: ignore[union-attr,call-arg]
