"""Decisions of the availability probes (plugins/module_utils/probe_decide.py).

The raw observations are those runner/maintcore/probes.py records (tests/unit/maintcore/test_probes.py
makes them against real listeners); here each boundary and each odd input is pinned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maint_utils import probe_decide as pd
from maint_utils.maint_result import PolicyError
from tests.conftest import assert_valid_results

ROOT = Path(__file__).resolve().parents[3]
CHECKED = "2026-10-05T21:00:00Z"


def _valid(res: dict[str, Any]) -> dict[str, Any]:
    assert_valid_results([dict(res, client="c", host="h", run_id="r")])
    return res


def _tcp(**kw: Any) -> dict[str, Any]:
    return dict({"address": "192.0.2.1", "port": 22, "availability": True, "elapsed_ms": 1.234}, **kw)


def _http(**kw: Any) -> dict[str, Any]:
    return dict({"address": "shop.example", "port": 443, "url": "https://shop.example/", "availability": False,
                 "elapsed_ms": 12.0}, **kw)


def _cert(days: float | None = None, **kw: Any) -> dict[str, Any]:
    raw = _http(**dict({"handshake": True, "verified": True, "checked_at": CHECKED}, **kw))
    if days is not None:
        import datetime as dt

        after = dt.datetime(2026, 10, 5, 21, 0, 0, tzinfo=dt.UTC) + dt.timedelta(days=days)
        raw["not_after"] = after.strftime("%Y-%m-%dT%H:%M:%SZ")
    return raw


# -- the section ------------------------------------------------------------------------------
def test_policy_defaults_match_the_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "policy" / "supervision.schema.json").read_text(encoding="utf-8"))
    props = schema["properties"]
    for key, default in pd.DEFAULTS.items():
        assert props[key]["default"] == default, key
    assert pd.effective_policy(None) == pd.DEFAULTS
    # The section's other keys (the watch's, the alerts') are not the probes' business.
    merged = pd.effective_policy({"cert_warn_days": 40, "critical_services": ["sshd"], "probe_concurrency": None})
    assert merged["cert_warn_days"] == 40 and merged["probe_concurrency"] == 200 and "critical_services" not in merged


@pytest.mark.parametrize(("section", "needle"), [
    ({"cert_warn_days": "30"}, "cert_warn_days must be a number"),
    ({"cert_crit_days": True}, "cert_crit_days must be a number"),
    ({"probe_timeout_seconds": 0}, "probe_timeout_seconds must be above 0"),
    ({"probe_concurrency": 0}, "probe_concurrency must be at least 1"),
    ({"management_probe": "yes"}, "management_probe must be true or false"),
    ({"cert_warn_days": 5, "cert_crit_days": 6}, "must not exceed cert_warn_days"),
    (["x"], "must be a mapping"),
])
def test_policy_errors(section: Any, needle: str) -> None:
    with pytest.raises(PolicyError, match=needle):
        pd.effective_policy(section)


# -- service.tcp ------------------------------------------------------------------------------
def test_tcp_connected_is_ok_and_refused_or_timed_out_is_critical() -> None:
    ok = _valid(pd.decide_tcp(_tcp(connected=True), {}, item="ssh:22"))
    assert (ok["check"], ok["item"], ok["status"], ok["remediation"]) == (pd.TCP.id, "ssh:22", "ok", "")
    assert ok["observed"] == {"address": "192.0.2.1", "port": 22, "availability": True, "elapsed_ms": 1.2}
    assert ok["threshold"] == {"timeout_seconds": 5}

    refused = _valid(pd.decide_tcp(_tcp(connected=False, error="connection refused"), {}, item="pg"))
    assert refused["status"] == "critical" and refused["observed"]["error"] == "connection refused"
    assert "192.0.2.1:22" in refused["remediation"] and "refused" in refused["summary"]

    late = _valid(pd.decide_tcp(_tcp(connected=False, timed_out=True), {"probe_timeout_seconds": 2}, item="x"))
    assert late["status"] == "critical" and late["observed"]["error"] == "no answer within 2 s"
    assert late["threshold"] == {"timeout_seconds": 2}


# -- service.http -----------------------------------------------------------------------------
def test_http_status_in_expect_status_is_ok() -> None:
    ok = _valid(pd.decide_http(_http(status_code=200), {}, item="shop"))
    assert ok["status"] == "ok" and ok["observed"]["status_code"] == 200 and ok["observed"]["elapsed_ms"] == 12.0
    assert ok["threshold"] == {"expect_status": [200], "timeout_seconds": 5} and ok["remediation"] == ""
    assert pd.decide_http(_http(status_code=204), {}, expect_status=[200, 204])["status"] == "ok"
    assert pd.decide_http(_http(status_code=503), {}, expect_status=[503])["status"] == "ok"
    wrong = _valid(pd.decide_http(_http(status_code=503), {}, item="shop"))
    assert wrong["status"] == "critical" and "503, expected 200" in wrong["summary"] and wrong["remediation"]
    assert pd.decide_http(_http(status_code=201), {}, expect_status=[200, 204])["status"] == "critical"


@pytest.mark.parametrize(("raw", "error"), [
    ({"status_code": None, "error": "connection refused"}, "connection refused"),
    ({"status_code": None, "error": "TLS: certificate verify failed: self-signed certificate"}, "TLS:"),
    ({"status_code": None, "timed_out": True}, "no answer within 5 s"),
    ({"error": "not an HTTP answer: b'SSH-2.0'"}, "not an HTTP answer"),
])
def test_http_failures_are_critical(raw: dict[str, Any], error: str) -> None:
    res = _valid(pd.decide_http(_http(**raw), {}, item="shop"))
    assert res["status"] == "critical" and error in res["observed"]["error"] and res["observed"]["status_code"] is None


# -- service.certificate ----------------------------------------------------------------------
@pytest.mark.parametrize(("days", "status"), [
    (400, "ok"), (30, "ok"), (29.99, "warning"), (8, "warning"), (7, "warning"), (6.99, "critical"),
    (0.5, "critical"), (0, "critical"), (-0.01, "critical"), (-30, "critical"),
])
def test_certificate_days_grade_at_the_boundaries(days: float, status: str) -> None:
    res = _valid(pd.decide_certificate(_cert(days), {}, item="shop"))
    assert res["status"] == status, res["summary"]
    assert res["observed"]["days_left"] == round(days, 1) and res["threshold"] == {"cert_warn_days": 30,
                                                                                  "cert_crit_days": 7}
    assert bool(res["remediation"]) == (status != "ok")
    if days < 0:
        assert "expired" in res["summary"]


def test_certificate_thresholds_of_the_section_and_of_the_service() -> None:
    assert pd.decide_certificate(_cert(20), {"cert_warn_days": 15})["status"] == "ok"
    assert pd.decide_certificate(_cert(20), {"cert_warn_days": 15}, warn_days=21)["status"] == "warning"
    assert pd.decide_certificate(_cert(2), {}, crit_days=1)["status"] == "warning"
    assert pd.decide_certificate(_cert(2), {}, warn_days=0, crit_days=0)["status"] == "ok"
    with pytest.raises(PolicyError):
        pd.decide_certificate(_cert(2), {}, warn_days="7")


def test_certificate_untrusted_or_expired_is_critical() -> None:
    untrusted = _valid(pd.decide_certificate(_cert(90, verified=False, verify_error="self-signed certificate"), {},
                                             item="shop"))
    assert untrusted["status"] == "critical" and "not trusted (self-signed certificate)" in untrusted["summary"]
    assert untrusted["observed"]["days_left"] == 90 and untrusted["observed"]["verified"] is False
    expired = _valid(pd.decide_certificate(_cert(-10, verified=False, verify_error="certificate has expired"), {}))
    assert expired["status"] == "critical" and "expired 10.0 days ago" in expired["summary"]
    # The second handshake did not say when: still critical, without days.
    blind = _valid(pd.decide_certificate(_cert(None, verified=False, verify_error="unable to get local issuer"), {}))
    assert blind["status"] == "critical" and "days_left" not in blind["observed"]


@pytest.mark.parametrize("raw", [
    _http(handshake=False, error="connection refused"),
    _http(handshake=False, timed_out=True),
    _http(),
])
def test_certificate_without_a_handshake_is_unknown(raw: dict[str, Any]) -> None:
    res = _valid(pd.decide_certificate(raw, {}, item="shop"))
    assert res["status"] == "unknown" and "not read" in res["summary"]


# -- odd input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("func", "raw", "kw"), [
    (pd.decide_tcp, None, {}),
    (pd.decide_tcp, ["connected"], {}),
    (pd.decide_tcp, _tcp(connected="yes"), {}),
    (pd.decide_tcp, _tcp(connected=1), {}),
    (pd.decide_tcp, _tcp(), {}),
    (pd.decide_tcp, _tcp(connected=False), {}),  # a failure nobody explained
    (pd.decide_http, "200", {}),
    (pd.decide_http, _http(status_code="200"), {}),
    (pd.decide_http, _http(status_code=True), {}),
    (pd.decide_http, _http(status_code=20), {}),
    (pd.decide_http, _http(), {}),
    (pd.decide_http, _http(status_code=200), {"expect_status": "200"}),
    (pd.decide_http, _http(status_code=200), {"expect_status": []}),
    (pd.decide_http, _http(status_code=200), {"expect_status": [True]}),
    (pd.decide_certificate, 42, {}),
    (pd.decide_certificate, _cert(30, verified="yes"), {}),
    (pd.decide_certificate, _cert(None), {}),
    (pd.decide_certificate, dict(_cert(None), not_after="next year"), {}),
    (pd.decide_certificate, dict(_cert(30), checked_at=None), {}),
])
def test_odd_input_is_unknown_never_ok(func: Any, raw: Any, kw: dict[str, Any]) -> None:
    res = _valid(func(raw, {}, item="x", **kw))
    assert res["status"] == "unknown", res["summary"]


def test_the_item_may_come_with_the_observation() -> None:
    assert pd.decide_tcp(_tcp(connected=True, item="winrm:5986"))["item"] == "winrm:5986"
