"""The MSP's brand: name, logo, colours, contact and contract reference, from ``$MAINT_HOME/msp.yml``.

One file for the whole MSP (not per client), validated against ``schemas/msp.schema.json``;
it holds no secret. Every report carries the brand as its ``msp`` object (see
``schemas/report.schema.json``), which every format presents: the HTML and PDF header (logo,
name, the colours as CSS variables) and footer (contact, contract reference), the Markdown
(and so the e-mail body), the JSON, and two CSV columns (``msp``, ``contract_ref``).

A client's contract reference is its policy's ``maint_policy.report.contract_ref``, else the
``contract_ref`` of msp.yml. Without msp.yml the brand is neutral: no name, no logo, no
contact, the default colours, and a contract reference only if the policy gives one; the
report then claims nothing about the MSP. A bad file is one line naming the file and the key
(:class:`maintcore.errors.InvalidInput`, exit 2).

The logo (PNG or SVG, at most :data:`MAX_LOGO_BYTES`) is embedded as a ``data:`` URI so that
the HTML stays self-contained and the PDF needs no request.
"""

from __future__ import annotations

import base64
import json
import stat
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from maintcore.config import PROJECT_DIR, maint_home
from maintcore.errors import InvalidInput, MaintError, clip
from maintcore.inventory import load_policy, read_yaml

SCHEMA_PATH = PROJECT_DIR / "schemas" / "msp.schema.json"
MAX_LOGO_BYTES = 512 * 1024
DEFAULT_COLOURS = {"primary": "#1f2328", "accent": "#0969da"}
CONTACT_KEYS = ("email", "phone", "web")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def msp_path() -> Path:
    """Return the path of the MSP's settings: ``$MAINT_HOME/msp.yml``."""
    return maint_home() / "msp.yml"


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def neutral() -> dict[str, Any]:
    """Return the brand of an MSP that wrote no msp.yml: nothing claimed, the default colours."""
    return {"configured": False, "name": None, "logo": None, "colours": dict(DEFAULT_COLOURS),
            "contact": dict.fromkeys(CONTACT_KEYS), "contract_ref": None}


def load(path: Path | None = None) -> dict[str, Any]:
    """Return the MSP's brand as the report's ``msp`` object (its contract_ref: msp.yml's default).

    Raises InvalidInput naming the file and the key when msp.yml cannot be used.
    """
    path = path or msp_path()
    if not path.exists():
        return neutral()
    data = read_yaml(path)  # the safe loader: binary, aliases, duplicates, size are one line
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: not a mapping (see schemas/msp.schema.json)")
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        error = errors[0]
        key = ".".join(str(p) for p in error.absolute_path) or _missing_key(error) or "(top level)"
        raise InvalidInput(clip(f"{path}: {key}: {error.message}", 280))
    colours = {**DEFAULT_COLOURS, **{k: v.lower() for k, v in (data.get("colours") or {}).items()}}
    contact = data.get("contact") or {}
    return {
        "configured": True,
        "name": one_line(data["name"]),
        "logo": _logo(path, data["logo"]) if data.get("logo") else None,
        "colours": colours,
        "contact": {k: contact.get(k) for k in CONTACT_KEYS},
        "contract_ref": one_line(data["contract_ref"]) if data.get("contract_ref") else None,
    }


def _missing_key(error: Any) -> str | None:
    """Name the key of a ``required`` or ``additionalProperties`` error at the top level."""
    if error.validator == "required":
        return str(error.message).split("'")[1] if "'" in error.message else None
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return str(extra[0]) if extra else None
    return None


def _logo(path: Path, value: str) -> dict[str, str]:
    """Read the logo file and return it as ``{"media_type", "data_uri"}``."""
    logo = Path(value).expanduser()
    if not logo.is_absolute():
        logo = path.parent / logo
    where = f"{path}: logo: {logo}"
    try:
        info = logo.stat()
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"{where}: not a regular file")
        if info.st_size > MAX_LOGO_BYTES:
            raise InvalidInput(f"{where}: {info.st_size} bytes, more than {MAX_LOGO_BYTES}")
        raw = logo.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{where}: no such file") from None
    except OSError as exc:
        raise InvalidInput(f"{where}: cannot read: {exc.strerror}") from None
    if logo.suffix.lower() == ".png":
        if not raw.startswith(PNG_MAGIC):
            raise InvalidInput(f"{where}: not a PNG image")
        media = "image/png"
    else:
        try:
            svg = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{where}: not an SVG image (not UTF-8 text)") from None
        if "<svg" not in svg:
            raise InvalidInput(f"{where}: not an SVG image (no <svg> element)")
        media = "image/svg+xml"
    return {"media_type": media, "data_uri": f"data:{media};base64,{base64.b64encode(raw).decode('ascii')}"}


def one_line(value: Any, limit: int = 200) -> str:
    """Return a text value on one line, at most ``limit`` characters."""
    return " ".join(str(value).split())[:limit]


def contract_ref(policy: dict[str, Any]) -> str | None:
    """Return the policy's ``report.contract_ref`` as one line, or None."""
    section = policy.get("report")
    value = section.get("contract_ref") if isinstance(section, dict) else None
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        return None
    return one_line(value, 120)


def for_client(policy: dict[str, Any], brand: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the ``msp`` object of a client's report: the brand, the client's contract reference."""
    base = brand if brand is not None else load()
    return {**base, "contract_ref": contract_ref(policy) or base["contract_ref"]}


def for_fleet(brand: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the ``msp`` object of the fleet overview: the brand, no contract reference (one per client)."""
    base = brand if brand is not None else load()
    return {**base, "contract_ref": None}


def branded(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the document with its ``msp`` object (unchanged when it already has one).

    A client report's contract reference is read from its policy; a policy that cannot be
    read here (a document rendered away from its inventory) leaves msp.yml's default.
    """
    if "msp" in doc:
        return doc
    if doc.get("kind") == "fleet_report":
        return {**doc, "msp": for_fleet()}
    try:
        policy = load_policy(str(doc.get("client")))
    except (MaintError, OSError, ValueError):
        policy = {}
    return {**doc, "msp": for_client(policy)}
