"""Proof of integrity: the MSP's Ed25519 key, a detached signature beside each report, verification.

A client, an auditor or an insurer who holds the MSP's public key can tell that a report's JSON
or PDF was not altered after it was sent (``maintctl report verify FILE``).

Storage:

* the **private key** is a secret, so it never lives under ``$MAINT_HOME``: PEM (PKCS#8, not
  encrypted: reports are written unattended), mode 0600, at ``$MAINT_SIGNING_KEY``, by default
  ``signing/ed25519.key`` beside the vault folder (:func:`maintcore.config.vault_dir`), that is
  ``~/.config/maintctl/signing/ed25519.key``. A symlink, a file of another user, or a file that
  the group or others can read is refused with the fix, as vault password files are;
* the **public key** is published: PEM (SubjectPublicKeyInfo), ``$MAINT_HOME/signing/ed25519.pub``;
* its **fingerprint** is ``SHA256:`` and the unpadded base64 of the SHA-256 of the 32 raw bytes
  of the public key.

A signature ``<file>.sig`` is a JSON object::

    {"format": "maintreport-signature-v1", "algorithm": "Ed25519", "key": "SHA256:...",
     "sha256": "<hex of the file>", "size": <bytes>, "signed_at": "2026-11-30T23:00:00Z",
     "signature": "<base64 of the Ed25519 signature of the statement>"}

The statement signed is this UTF-8 text, each line ended by a line feed::

    maintreport-signature-v1
    algorithm: Ed25519
    key: SHA256:...
    sha256: <hex>
    size: <bytes>
    signed_at: <time>

so the time and the key are signed with the file's digest, and a file of any size is hashed
as a stream rather than held in memory. Anyone can check a report without this project:
``sha256sum`` the file, rebuild the statement, and verify it with the public key (OpenSSL,
PyNaCl...).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from maint_utils import maint_clock
from maintcore.config import atomic_write, ensure_dir, maint_home, vault_dir
from maintcore.errors import InvalidInput, MaintError, clip

FORMAT = "maintreport-signature-v1"
ALGORITHM = "Ed25519"
SIGNED_FORMATS = ("json", "pdf")  # the report formats that get a signature
SUFFIX = ".sig"
MAX_SIG_BYTES = 64 * 1024  # a signature document is about 400 bytes
MAX_KEY_BYTES = 64 * 1024
KEY_ENV = "MAINT_SIGNING_KEY"
FINGERPRINT_RE = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")

_noted = False  # "reports are not signed" is said once per process


class SignatureError(MaintError):
    """A report that fails verification: changed, signed by another key, unsigned (exit 1)."""

    exit_code = 1

    def __init__(self, message: object = "") -> None:
        super().__init__(clip(message))


@dataclass(frozen=True)
class Verified:
    """What a good signature proves: the key that made it and when."""

    fingerprint: str
    signed_at: str


# -- where the keys live -------------------------------------------------------------------------
def private_key_path() -> Path:
    """Return the MSP's private key: ``$MAINT_SIGNING_KEY``, else ``signing/ed25519.key`` beside the vault folder."""
    explicit = os.environ.get(KEY_ENV)
    return Path(explicit) if explicit else vault_dir().parent / "signing" / "ed25519.key"


def public_key_path() -> Path:
    """Return where the public key is published: ``$MAINT_HOME/signing/ed25519.pub``."""
    return maint_home() / "signing" / "ed25519.pub"


def signature_path(path: Path) -> Path:
    """Return the detached signature of ``path``: ``<path>.sig``."""
    return path.with_name(path.name + SUFFIX)


def fingerprint(public: Ed25519PublicKey) -> str:
    """Return ``SHA256:`` and the unpadded base64 of the SHA-256 of the raw public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode("ascii").rstrip("=")


def public_pem(public: Ed25519PublicKey) -> str:
    """Return the public key as PEM (SubjectPublicKeyInfo)."""
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def _under_home(path: Path) -> bool:
    home = maint_home()
    return path.absolute().is_relative_to(home) or path.resolve().is_relative_to(home)


def _refuse_under_home(path: Path) -> None:
    if _under_home(path):
        raise InvalidInput(f"signing key {path} is under $MAINT_HOME ({maint_home()}), which holds no secret: "
                           f"move it out (for example to ~/.config/maintctl/signing/ed25519.key) "
                           f"and set {KEY_ENV} to its path")


def _check_key_file(path: Path, info: os.stat_result) -> None:
    where = f"signing key {path}"
    if stat.S_ISLNK(info.st_mode):
        raise InvalidInput(f"{where} is a symlink: replace it with the file itself "
                           f"(cp --remove-destination \"$(readlink -f {path})\" {path}; chmod 600 {path})")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"{where} is not a regular file: it must be the PEM file that "
                           "'maintctl report keygen' wrote, mode 0600")
    if info.st_uid != os.geteuid():
        raise InvalidInput(f"{where} is owned by uid {info.st_uid}, not by this user (uid {os.geteuid()}): "
                           f"chown {os.geteuid()} {path}")
    if info.st_mode & 0o177:
        raise InvalidInput(f"{where}: mode {stat.S_IMODE(info.st_mode):04o}, must be 0600 or stricter "
                           f"(the group and others must not read a secret): chmod 600 {path}")


def load_private_key(path: Path | None = None) -> Ed25519PrivateKey | None:
    """Return the MSP's private key, or None when there is none.

    A key file that is a symlink, not a regular file, another user's, readable by the group or
    others, under ``$MAINT_HOME`` or not a PEM Ed25519 private key is InvalidInput (exit 2),
    with the fix. ``$MAINT_SIGNING_KEY`` naming a missing file is InvalidInput too.
    """
    candidate = path or private_key_path()
    try:
        info = os.lstat(candidate)
    except FileNotFoundError:
        if path is None and os.environ.get(KEY_ENV):
            raise InvalidInput(f"{KEY_ENV}={candidate}: no such file ('maintctl report keygen' creates it)") from None
        return None
    except OSError as exc:
        raise InvalidInput(f"signing key {candidate}: cannot read: {exc.strerror}") from None
    _check_key_file(candidate, info)
    _refuse_under_home(candidate)
    data = _read_small(candidate, MAX_KEY_BYTES, f"signing key {candidate}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInput(f"signing key {candidate}: not a PEM private key without a passphrase ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"signing key {candidate}: a {type(key).__name__.removeprefix('_')}, not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key: PEM, OpenSSH (``ssh-ed25519 AAAA...``) or the raw 32 bytes in base64.

    A missing or unusable file is InvalidInput (exit 2).
    """
    if not path.exists():
        raise InvalidInput(f"no public key: {path} not found (give --public-key PATH, the key the MSP published)")
    data = _read_small(path, MAX_KEY_BYTES, f"public key {path}")
    text = data.strip()
    key: Any
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(text)
        elif text.startswith(b"ssh-ed25519 "):
            key = serialization.load_ssh_public_key(text)
        else:
            raw = base64.b64decode(text, validate=True)
            key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error) as exc:
        raise InvalidInput(f"public key {path}: not an Ed25519 public key (PEM, OpenSSH or raw base64): "
                           f"{exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(f"public key {path}: a {type(key).__name__.removeprefix('_')}, not an Ed25519 key")
    return key


def _read_small(path: Path, limit: int, where: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InvalidInput(f"{where}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InvalidInput(f"{where}: larger than {limit} bytes, not a key")
    return data


# -- keygen --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyPair:
    """What ``keygen`` made (or found): both paths, the fingerprint and the public PEM."""

    private: Path
    public: Path
    fingerprint: str
    pem: str
    created: bool  # False: the private key existed and only its public key was written


def keygen(private: Path | None = None, public: Path | None = None) -> KeyPair:
    """Create the MSP's key pair once; never replace an existing key.

    The private key is written 0600 (folder 0700), the public key 0644, each atomically and only
    if absent (temp file, then a hard link that fails when the name exists). When the private key
    exists and its public key is missing (a new ``$MAINT_HOME``), the public key is written from it.
    An existing public key, or an existing private key whose public key is there, is InvalidInput.
    """
    key_path = private or private_key_path()
    pub_path = public or public_key_path()
    _refuse_under_home(key_path)
    existing = load_private_key(key_path) if os.path.lexists(key_path) else None
    if os.path.lexists(pub_path):
        what = (f"the signing key {key_path} exists already (key {fingerprint(existing.public_key())})"
                if existing else f"the public key {pub_path} exists already")
        raise InvalidInput(f"{what}: keygen never replaces a key (reports signed with it verify only with it); "
                           "to start over, move both files away first")
    if existing is None:
        key = Ed25519PrivateKey.generate()
        secret = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
        _create_new(key_path, secret, 0o600)
    else:
        key = existing
    pem = public_pem(key.public_key())
    _create_new(pub_path, pem.encode("ascii"), 0o644)
    return KeyPair(key_path, pub_path, fingerprint(key.public_key()), pem, existing is None)


def _create_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` atomically, and only if it does not exist (InvalidInput if it does)."""
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise InvalidInput(f"{path} exists already: keygen never replaces a key") from None
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot write: {exc.strerror}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


# -- signing -------------------------------------------------------------------------------------
def report_key(required: bool = False, formats: Sequence[str] = SIGNED_FORMATS) -> Ed25519PrivateKey | None:
    """Return the key that signs reports, or None (said once on stderr) when there is none.

    Called before any file is written: a key that cannot be used is InvalidInput then, and so is
    a missing key when ``required``. Nothing is said when no format to sign is written.
    """
    global _noted
    key = load_private_key()
    if key is None:
        if required:
            raise InvalidInput(f"--sign: no signing key at {private_key_path()} "
                               "('maintctl report keygen' creates it, or set " + KEY_ENV + ")")
        if not _noted and any(f in SIGNED_FORMATS for f in formats):
            _noted = True
            print(f"note: the reports are not signed: no signing key at {private_key_path()} "
                  "('maintctl report keygen' creates one)", file=sys.stderr)
    return key


def _digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def statement(key: str, sha256: str, size: int, signed_at: str) -> bytes:
    """Return the bytes that are signed (see the module's docstring)."""
    return (f"{FORMAT}\nalgorithm: {ALGORITHM}\nkey: {key}\nsha256: {sha256}\nsize: {size}\n"
            f"signed_at: {signed_at}\n").encode()


def sign_file(path: Path, key: Ed25519PrivateKey) -> Path:
    """Write ``<path>.sig`` for the complete file ``path`` (atomically, 0600) and return its path."""
    sha256, size = _digest(path)
    key_id = fingerprint(key.public_key())
    signed_at = maint_clock.to_iso(maint_clock.now())
    signature = key.sign(statement(key_id, sha256, size, signed_at))
    doc = {"format": FORMAT, "algorithm": ALGORITHM, "key": key_id, "sha256": sha256, "size": size,
           "signed_at": signed_at, "signature": base64.b64encode(signature).decode("ascii")}
    sig = signature_path(path)
    atomic_write(sig, json.dumps(doc, indent=2) + "\n")
    return sig


def after_write(path: Path, key: Ed25519PrivateKey | None) -> Path | None:
    """Sign a report file just written; without a key, remove a signature left by an earlier version."""
    if key is None:
        with contextlib.suppress(FileNotFoundError):
            signature_path(path).unlink()
        return None
    return sign_file(path, key)


# -- verification --------------------------------------------------------------------------------
def _parse_signature(sig: Path, shown: str) -> dict[str, Any]:
    bad = f"{shown}: malformed signature {sig}"
    try:
        data = sig.read_bytes()[:MAX_SIG_BYTES + 1]
    except OSError as exc:
        raise SignatureError(f"{bad}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_SIG_BYTES:
        raise SignatureError(f"{bad}: larger than {MAX_SIG_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SignatureError(f"{bad}: not a JSON document") from None
    if not isinstance(doc, dict):
        raise SignatureError(f"{bad}: not a JSON object")
    if doc.get("format") != FORMAT or doc.get("algorithm") != ALGORITHM:
        raise SignatureError(f"{bad}: format {doc.get('format')!r}, algorithm {doc.get('algorithm')!r}: "
                             f"expected {FORMAT!r}, {ALGORITHM!r}")
    checks: dict[str, Callable[[Any], object]] = {
        "key": lambda v: isinstance(v, str) and FINGERPRINT_RE.fullmatch(v),
        "sha256": lambda v: isinstance(v, str) and HEX64_RE.fullmatch(v),
        "size": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "signed_at": lambda v: isinstance(v, str) and _is_iso(v),
        "signature": lambda v: isinstance(v, str) and _b64_len(v) == 64,
    }
    for name, ok in checks.items():
        if not ok(doc.get(name)):
            raise SignatureError(f"{bad}: {name} is missing or invalid")
    return doc


def _is_iso(value: str) -> bool:
    """True if ``value`` is an ISO UTC time as the report writes them (``2026-11-30T23:00:00Z``)."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value):
        return False
    try:
        maint_clock.parse_iso(value)
    except ValueError:
        return False
    return True


def _b64_len(value: str) -> int:
    try:
        return len(base64.b64decode(value, validate=True))
    except (ValueError, binascii.Error):
        return -1


def verify_file(path: Path, public_key: Path | None = None) -> Verified:
    """Check ``path`` against ``<path>.sig`` and the MSP's public key.

    Raises SignatureError (exit 1) when the report is not proven: no signature, a malformed one,
    another key's, or a file or signature changed after signing; InvalidInput (exit 2) when it
    cannot be judged: the file or the public key is missing or unusable.
    """
    shown = str(path)
    if path.name.endswith(SUFFIX) and path.with_name(path.name.removesuffix(SUFFIX)).is_file():
        raise InvalidInput(f"{shown} is a signature: give the report it signs "
                           f"({path.with_name(path.name.removesuffix(SUFFIX))})")
    if not path.is_file():
        raise InvalidInput(f"{shown}: no such file")
    pub_path = public_key or public_key_path()
    public = load_public_key(pub_path)
    sig = signature_path(path)
    if not sig.is_file():
        raise SignatureError(f"{shown}: no signature: {sig} not found")
    doc = _parse_signature(sig, shown)
    expected = fingerprint(public)
    if doc["key"] != expected:
        raise SignatureError(f"{shown}: signed by another key ({doc['key']}, not {expected})")
    try:
        public.verify(base64.b64decode(doc["signature"]),
                      statement(doc["key"], doc["sha256"], doc["size"], doc["signed_at"]))
    except InvalidSignature:
        raise SignatureError(f"{shown}: does not match its signature ({sig} was altered)") from None
    try:
        sha256, size = _digest(path)
    except OSError as exc:
        raise InvalidInput(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if (sha256, size) != (doc["sha256"], doc["size"]):
        raise SignatureError(f"{shown}: does not match its signature (changed after it was signed "
                             f"at {doc['signed_at']})")
    return Verified(doc["key"], doc["signed_at"])
