"""The availability probes (runner/maintcore/probes.py) against real listeners on 127.0.0.1.

Every server is started by a fixture and shut down in its teardown: a plain TCP listener, one
that accepts and never answers, HTTP and HTTPS servers (certificates made here with
``cryptography``: valid for 3 days, expired, self-signed), and a closed port.
"""

from __future__ import annotations

import datetime as dt
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from maint_utils import probe_decide
from maintcore import probes
from maintcore.errors import InvalidInput
from tests.conftest import assert_valid_results

LOOPBACK = "127.0.0.1"
NOW = dt.datetime.now(dt.UTC)


# -- listeners -----------------------------------------------------------------------------
def _stamp(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for res in results:
        res.update(client="c", run_id="r")
    assert_valid_results(results)
    return results


def _by_check(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {res["check"]: res for res in results}
    assert len(out) == len(results)
    return out


@pytest.fixture()
def closed_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A listener that completes the TCP handshake (the kernel's backlog) and never answers."""
    sock = socket.socket()
    try:
        sock.bind((LOOPBACK, 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Handler.seen.append({"path": self.path, "host": self.headers.get("Host", ""),
                              "connection": self.headers.get("Connection", "")})
        code = {"/": 200, "/teapot": 418, "/moved": 302}.get(self.path.split("?")[0], 404)
        body = b"hello\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a probe drops the connection after the status line: not an error


def _serve(context: ssl.SSLContext | None = None) -> tuple[_Server, threading.Thread]:
    server = _Server((LOOPBACK, 0), _Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def _stop(server: _Server, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture()
def http_port() -> Iterator[int]:
    server, thread = _serve()
    try:
        yield int(server.server_address[1])
    finally:
        _stop(server, thread)


# -- certificates ----------------------------------------------------------------------------
def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(subject: str, key: Any, issuer: str, issuer_key: Any, not_before: dt.datetime, not_after: dt.datetime,
          ca: bool = False) -> x509.Certificate:
    import ipaddress

    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A private CA and three server certificates: 3 days left, expired, self-signed (90 days)."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("probe test CA", ca_key, "probe test CA", ca_key, NOW - dt.timedelta(days=30),
               NOW + dt.timedelta(days=3650), ca=True)
    (folder / "ca.pem").write_bytes(_pem(ca))
    out = {"ca": folder / "ca.pem"}
    for name, before, after, self_signed in (
            ("three_days", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=3, hours=1), False),
            ("expired", NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=10), False),
            ("self_signed", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=90), True),
            ("long", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=200), False)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(LOOPBACK, key, LOOPBACK if self_signed else "probe test CA", key if self_signed else ca_key,
                     before, after)
        path = folder / f"{name}.pem"
        path.write_bytes(_pem(cert) + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
        out[name] = path
    return out


@pytest.fixture()
def https_port(request: pytest.FixtureRequest, pki: dict[str, Path]) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki[request.param])
    server, thread = _serve(context)
    try:
        yield int(server.server_address[1])
    finally:
        _stop(server, thread)


def _tcp(port: int, item: str = "ssh:22", availability: bool = True) -> probes.Target:
    return probes.Target(host="web01", check=probe_decide.TCP.id, item=item, kind="tcp", address=LOOPBACK, port=port,
                         availability=availability)


def _http(url: str, pki: dict[str, Path] | None = None, **kw: Any) -> probes.Target:
    ca = str(pki["ca"]) if pki else None
    return probes.Target(host="web01", check=probe_decide.HTTP.id, item="web", kind="http", address=LOOPBACK,
                         port=int(url.split(":")[2].split("/")[0]), url=url, ca_file=ca, **kw)


# -- targets ---------------------------------------------------------------------------------
def test_management_ports_follow_the_connection() -> None:
    hostvars = {
        "lin01": {"ansible_host": "198.51.100.201"},
        "lin02": {"ansible_connection": "ansible.builtin.ssh", "ansible_port": "2222"},
        "win01": {"ansible_connection": "winrm", "ansible_host": "198.51.100.203"},
        "win02": {"ansible_connection": "winrm", "ansible_winrm_scheme": "http"},
        "win03": {"ansible_connection": "psrp"},
        "win04": {"ansible_connection": "psrp", "ansible_psrp_protocol": "http"},
        "ctl": {"ansible_connection": "local"},
        "pod": {"ansible_connection": "containers.podman.podman"},
        "par": {"ansible_connection": "paramiko"},
    }
    targets = probes.targets_for(hostvars, {})
    got = {t.host: (t.item, t.address, t.port, t.availability, t.check, t.kind) for t in targets}
    tcp = probe_decide.TCP.id
    assert got == {
        "lin01": ("ssh:22", "198.51.100.201", 22, True, tcp, "tcp"),
        "lin02": ("ssh:2222", "lin02", 2222, True, tcp, "tcp"),
        "win01": ("winrm:5986", "198.51.100.203", 5986, True, tcp, "tcp"),
        "win02": ("winrm:5985", "win02", 5985, True, tcp, "tcp"),
        "win03": ("psrp:5986", "win03", 5986, True, tcp, "tcp"),
        "win04": ("psrp:5985", "win04", 5985, True, tcp, "tcp"),
        "par": ("ssh:22", "par", 22, True, tcp, "tcp"),
    }
    assert probes.targets_for(hostvars, {"management_probe": False}) == []


def test_services_and_the_primary_one() -> None:
    hostvars = {"web01": {"ansible_host": "192.0.2.10"}, "db01": {}}
    section = {"cert_warn_days": 20, "services": [
        {"host": "web01", "name": "shop", "type": "http", "url": "https://user:secret@shop.example:8443/health?x=1",
         "expect_status": [200, 204], "primary": True, "cert_crit_days": 3},
        {"host": "db01", "name": "pg", "type": "tcp", "port": 5432},
        {"host": "web01", "name": "plain", "type": "http", "url": "http://192.0.2.10/"},
    ]}
    targets = probes.targets_for(hostvars, section)
    by = {(t.host, t.item): t for t in targets}
    assert [t.item for t in targets] == ["ssh:22", "ssh:22", "shop", "pg", "plain"]
    assert by[("web01", "ssh:22")].availability is False  # the primary service measures web01
    assert by[("db01", "ssh:22")].availability is True
    shop = by[("web01", "shop")]
    assert shop.availability and shop.url == "https://shop.example:8443/health?x=1"  # no password in results
    assert (shop.address, shop.port, shop.expect_status) == ("shop.example", 8443, (200, 204))
    assert (shop.cert_warn_days, shop.cert_crit_days) == (20, 3)
    assert (by[("db01", "pg")].address, by[("db01", "pg")].port) == ("db01", 5432)
    assert (by[("web01", "plain")].port, by[("web01", "plain")].expect_status) == (80, (200,))
    # management_probe: false keeps the services, and the primary one still measures availability.
    only = probes.targets_for(hostvars, dict(section, management_probe=False))
    assert [t.item for t in only] == ["shop", "pg", "plain"] and only[0].availability


@pytest.mark.parametrize(("services", "needle"), [
    ([{"host": "web01", "name": "a", "type": "tcp", "port": 1}, {"host": "ghost", "name": "b", "type": "tcp",
                                                                 "port": 1}],
     r"maint_policy\.supervision\.services\[1\]\.host: 'ghost'"),
    ([{"host": "web01", "name": "a", "type": "tcp"}], r"services\[0\]\.port"),
    ([{"host": "web01", "name": "a", "type": "http"}], r"services\[0\]\.url"),
    ([{"host": "web01", "name": "a", "type": "http", "url": "ftp://x/"}], r"services\[0\]\.url"),
    ([{"host": "web01", "name": "a", "type": "http", "url": "http://x:99999/"}], r"services\[0\]\.url"),
    ([{"host": "web01", "name": "a", "type": "http", "url": "http://x/", "expect_status": "200"}],
     r"services\[0\]\.expect_status"),
    ([{"host": "web01", "name": "a", "type": "http", "url": "https://x/", "ca_file": "/nonexistent/ca.pem"}],
     r"services\[0\]\.ca_file"),
    ([{"host": "web01", "name": "a", "type": "http", "url": "https://x/", "cert_warn_days": 2,
       "cert_crit_days": 5}], r"services\[0\]\.cert_crit_days"),
    ([{"host": "web01", "name": "a", "type": "tcp", "port": 1}, {"host": "web01", "name": "a", "type": "tcp",
                                                                 "port": 2}], r"services\[1\]\.name"),
    ([{"host": "web01", "name": "a", "type": "tcp", "port": 1, "primary": True},
      {"host": "web01", "name": "b", "type": "tcp", "port": 2, "primary": True}], r"services\[1\]\.primary"),
    ([{"host": "web01", "name": "a", "type": "udp", "port": 1}], r"services\[0\]\.type"),
    ("web01:80", r"supervision\.services"),
])
def test_bad_services_are_named(services: Any, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        probes.targets_for({"web01": {}}, {"services": services})


def test_bad_section_and_port_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="cert_crit_days"):
        probes.targets_for({}, {"cert_warn_days": 3, "cert_crit_days": 9})
    with pytest.raises(InvalidInput, match=r"hostvars\[h\]\.ansible_port"):
        probes.targets_for({"h": {"ansible_port": "ssh"}}, {})


# -- TCP -------------------------------------------------------------------------------------
def test_tcp_open_port_is_ok_and_closed_port_is_critical(silent_port: int, closed_port: int) -> None:
    fixed = dt.datetime(2026, 10, 5, 21, 0, 0, tzinfo=dt.UTC)
    results = _stamp(probes.run_probes([_tcp(silent_port), _tcp(closed_port, "db", False)], timeout=2,
                                       concurrency=10, now=fixed))
    up, down = results
    assert (up["host"], up["check"], up["item"], up["status"]) == ("web01", probe_decide.TCP.id, "ssh:22", "ok")
    assert up["observed"]["address"] == LOOPBACK and up["observed"]["port"] == silent_port
    assert up["observed"]["availability"] is True and up["observed"]["elapsed_ms"] < 2000
    assert up["started"] == up["finished"] == "2026-10-05T21:00:00Z" and up["changed"] is False
    assert (down["item"], down["status"], down["observed"]["availability"]) == ("db", "critical", False)
    assert "refused" in down["observed"]["error"] and down["remediation"]


def test_concurrency_is_bounded_and_each_probe_times_out(silent_port: int) -> None:
    # A tcp probe of a silent listener succeeds at once; an http one waits for the timeout.
    targets = [_http(f"http://{LOOPBACK}:{silent_port}/") for _ in range(4)]
    start = time.monotonic()
    results = probes.run_probes(targets, timeout=0.3, concurrency=4)
    parallel = time.monotonic() - start
    start = time.monotonic()
    probes.run_probes(targets, timeout=0.3, concurrency=1)
    serial = time.monotonic() - start
    assert parallel < serial / 2, (parallel, serial)  # 4 timeouts at once, not one after another
    assert serial >= 1.2, serial
    assert all(r["status"] == "critical" and "within 0.3 s" in r["summary"] for r in results)


# -- HTTP ------------------------------------------------------------------------------------
def test_http_status_codes_against_expect_status(http_port: int) -> None:
    base = f"http://{LOOPBACK}:{http_port}"
    _Handler.seen.clear()
    results = _stamp(probes.run_probes([
        _http(base + "/"), _http(base + "/teapot"), _http(base + "/teapot", expect_status=(418,)),
        _http(base + "/moved?a=b", expect_status=(301, 302), availability=True)], timeout=3, concurrency=4))
    assert [r["check"] for r in results] == [probe_decide.HTTP.id] * 4  # no certificate over plain http
    assert [(r["status"], r["observed"]["status_code"]) for r in results] == [
        ("ok", 200), ("critical", 418), ("ok", 418), ("ok", 302)]
    assert "expected 200" in results[1]["summary"]
    assert results[3]["observed"]["availability"] is True and results[0]["observed"]["availability"] is False
    assert results[0]["observed"]["url"] == base + "/" and results[0]["threshold"]["expect_status"] == [200]
    assert {"path": "/moved?a=b", "host": f"{LOOPBACK}:{http_port}", "connection": "close"} in _Handler.seen


def test_http_silent_and_closed_are_critical_within_the_timeout(silent_port: int, closed_port: int) -> None:
    start = time.monotonic()
    silent, closed = _stamp(probes.run_probes([
        _http(f"http://{LOOPBACK}:{silent_port}/"), _http(f"http://{LOOPBACK}:{closed_port}/")],
        timeout=0.5, concurrency=2))
    assert time.monotonic() - start < 5, "the timeout did not bound the probe"
    assert silent["status"] == "critical" and silent["observed"]["error"] == "no answer within 0.5 s"
    assert 400 <= silent["observed"]["elapsed_ms"] < 5000
    assert closed["status"] == "critical" and closed["observed"]["error"] == "connection refused"


# -- HTTPS and certificates ------------------------------------------------------------------
@pytest.mark.parametrize("https_port", ["three_days"], indirect=True)
def test_https_certificate_three_days_left_is_a_warning(https_port: int, pki: dict[str, Path]) -> None:
    res = _by_check(_stamp(probes.run_probes([_http(f"https://{LOOPBACK}:{https_port}/", pki, cert_warn_days=30,
                                                    cert_crit_days=2)], timeout=3, concurrency=1)))
    assert res[probe_decide.HTTP.id]["status"] == "ok"
    cert = res[probe_decide.CERTIFICATE.id]
    assert cert["status"] == "warning", cert
    assert 2.9 < cert["observed"]["days_left"] < 3.2 and cert["observed"]["verified"] is True
    assert cert["observed"]["availability"] is False and cert["threshold"] == {"cert_warn_days": 30,
                                                                              "cert_crit_days": 2}
    # The catalogue's critical threshold (7 days) makes the same certificate critical.
    crit = _by_check(probes.run_probes([_http(f"https://{LOOPBACK}:{https_port}/", pki)], timeout=3,
                                       concurrency=1))[probe_decide.CERTIFICATE.id]
    assert crit["status"] == "critical"


@pytest.mark.parametrize("https_port", ["long"], indirect=True)
def test_https_certificate_far_from_expiry_is_ok(https_port: int, pki: dict[str, Path]) -> None:
    res = _by_check(_stamp(probes.run_probes([_http(f"https://{LOOPBACK}:{https_port}/", pki)], timeout=3,
                                             concurrency=1)))
    assert res[probe_decide.CERTIFICATE.id]["status"] == "ok"
    assert 199 < res[probe_decide.CERTIFICATE.id]["observed"]["days_left"] < 201
    # Without the private CA the same certificate is not trusted.
    bare = _by_check(probes.run_probes([_http(f"https://{LOOPBACK}:{https_port}/")], timeout=3, concurrency=1))
    assert bare[probe_decide.CERTIFICATE.id]["status"] == "critical"
    assert bare[probe_decide.HTTP.id]["status"] == "critical"


@pytest.mark.parametrize("https_port", ["expired"], indirect=True)
def test_https_expired_certificate_is_critical_with_its_days(https_port: int, pki: dict[str, Path]) -> None:
    res = _by_check(_stamp(probes.run_probes([_http(f"https://{LOOPBACK}:{https_port}/", pki)], timeout=3,
                                             concurrency=1)))
    http_res, cert = res[probe_decide.HTTP.id], res[probe_decide.CERTIFICATE.id]
    assert http_res["status"] == "critical" and "TLS" in http_res["observed"]["error"]
    assert cert["status"] == "critical" and cert["observed"]["verified"] is False
    assert "expired" in cert["observed"]["verify_error"]
    assert -10.2 < cert["observed"]["days_left"] < -9.8  # read by the second, non-verifying handshake


@pytest.mark.parametrize("https_port", ["self_signed"], indirect=True)
def test_https_untrusted_certificate_is_critical(https_port: int, pki: dict[str, Path]) -> None:
    res = _by_check(_stamp(probes.run_probes([_http(f"https://{LOOPBACK}:{https_port}/", pki)], timeout=3,
                                             concurrency=1)))
    cert = res[probe_decide.CERTIFICATE.id]
    assert cert["status"] == "critical" and "not trusted" in cert["summary"]
    assert "self-signed" in cert["observed"]["verify_error"] or "issuer" in cert["observed"]["verify_error"]
    assert 89 < cert["observed"]["days_left"] < 91


def test_https_without_a_handshake_leaves_the_certificate_unknown(silent_port: int, closed_port: int) -> None:
    results = _stamp(probes.run_probes([_http(f"https://{LOOPBACK}:{closed_port}/"),
                                        _http(f"https://{LOOPBACK}:{silent_port}/")], timeout=0.5, concurrency=2))
    assert [(r["check"], r["status"]) for r in results] == [
        (probe_decide.HTTP.id, "critical"), (probe_decide.CERTIFICATE.id, "unknown"),
        (probe_decide.HTTP.id, "critical"), (probe_decide.CERTIFICATE.id, "unknown")]
    assert "refused" in results[1]["summary"] and "within 0.5 s" in results[3]["summary"]


@pytest.mark.parametrize("https_port", ["long"], indirect=True)
def test_der_not_after_reads_what_cryptography_wrote(https_port: int, pki: dict[str, Path]) -> None:
    der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((LOOPBACK, https_port)))
    expected = x509.load_der_x509_certificate(der).not_valid_after_utc
    assert probes.der_not_after(der) == expected
    assert probes.der_not_after(b"\x30\x03\x02\x01") is None


def test_an_odd_target_costs_its_own_result_only(closed_port: int) -> None:
    odd = probes.Target(host="web01", check=probe_decide.TCP.id, item="x", kind="udp", address=LOOPBACK, port=1)
    results = _stamp(probes.run_probes([odd, _tcp(closed_port)], timeout=1, concurrency=2))
    assert [r["status"] for r in results] == ["unknown", "critical"]


def test_probe_client_reads_the_section(http_port: int) -> None:
    results = probes.probe_client({"web01": {"ansible_host": LOOPBACK, "ansible_port": http_port}}, {
        "probe_timeout_seconds": 2, "services": [
            {"host": "web01", "name": "web", "type": "http", "url": f"http://{LOOPBACK}:{http_port}/",
             "primary": True}]})
    assert [(r["item"], r["status"], r["observed"]["availability"]) for r in results] == [
        (f"ssh:{http_port}", "ok", False), ("web", "ok", True)]
    assert results[0]["threshold"] == {"timeout_seconds": 2}
