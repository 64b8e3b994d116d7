"""The availability probes, the collect side: TCP connects and HTTP(S) GETs from the controller.

``maintctl probe`` runs them every minute between windows, without Ansible: ``targets_for`` turns
the inventory's host variables and the policy's ``supervision`` section into :class:`Target` s (each
host's management port, then the section's services), and ``run_probes`` runs them all with
asyncio (a semaphore bounds how many are in flight, ``asyncio.wait_for`` bounds each one) and
returns one result per probe in the one result shape, graded by ``maint_utils.probe_decide``.

Standard library only: asyncio streams and ``ssl``. An HTTP probe sends one ``GET`` over HTTP/1.1
with a ``Host`` header and ``Connection: close`` and reads the status line only. An https probe
verifies the certificate with the system's CAs (or the service's ``ca_file``), reads its notAfter
from the TLS object, and yields a ``service.certificate`` result besides ``service.http``; when
verification fails, a second, non-verifying handshake (within what is left of the probe's
timeout) reads the days left of the certificate that failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from maint_utils import maint_clock
from maint_utils import probe_decide as decide
from maint_utils.maint_result import PolicyError, unreadable_result

from .errors import InvalidInput, clip

DEFAULT_TIMEOUT = float(decide.DEFAULTS["probe_timeout_seconds"])
DEFAULT_CONCURRENCY = int(decide.DEFAULTS["probe_concurrency"])
SERVICES = "maint_policy.supervision.services"
# Connections that reach the host over SSH (port 22 unless ansible_port), and those that need no probe.
SSH_CONNECTIONS = frozenset(("", "ssh", "paramiko", "paramiko_ssh", "smart"))
LOCAL_CONNECTIONS = frozenset(("local",))
USER_AGENT = "maintctl-probe"
# What an error message may cost in a result.
ERROR_CHARS = 200


@dataclass(frozen=True)
class Target:
    """One probe: a TCP connect (``kind='tcp'``) or an HTTP(S) GET (``kind='http'``).

    ``check`` and ``item`` are those of its result; ``availability`` marks the probe that measures
    the host's availability (its management port, or its primary service). ``cert_warn_days`` and
    ``cert_crit_days`` are the service's own thresholds (None: the section's, or the catalogue's).
    """

    host: str
    check: str
    item: str
    kind: str  # 'tcp' | 'http'
    address: str
    port: int | None = None
    url: str | None = None
    expect_status: tuple[int, ...] = (200,)
    availability: bool = False
    ca_file: str | None = None
    cert_warn_days: int | None = None
    cert_crit_days: int | None = None


# -- targets ------------------------------------------------------------------------------
def _connection(hostvars: Mapping[str, Any]) -> str:
    """The connection plugin's short name (``ansible.builtin.ssh`` -> ``ssh``), lower case."""
    conn = str(hostvars.get("ansible_connection") or "").strip().lower()
    return conn.rsplit(".", 1)[-1]


def _port_value(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: {value!r} is not a port")
    try:
        port = int(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{where}: {value!r} is not a port") from None
    if not 1 <= port <= 65535:
        raise InvalidInput(f"{where}: {port} is not a port (1-65535)")
    return port


def management_target(name: str, hostvars: Mapping[str, Any]) -> Target | None:
    """Return the probe of a host's management port, or None when there is nothing to connect to.

    None for ``ansible_connection: local``, and for a connection without a network port (podman,
    docker...) and no ``ansible_port``.
    """
    conn = _connection(hostvars)
    if conn in LOCAL_CONNECTIONS:
        return None
    port_var = hostvars.get("ansible_port")
    if port_var not in (None, ""):
        port = _port_value(port_var, f"hostvars[{name}].ansible_port")
    elif conn in SSH_CONNECTIONS:
        port = 22
    elif conn == "winrm":
        port = 5985 if str(hostvars.get("ansible_winrm_scheme") or "").lower() == "http" else 5986
    elif conn == "psrp":
        port = 5985 if str(hostvars.get("ansible_psrp_protocol") or "").lower() == "http" else 5986
    else:
        return None
    label = "ssh" if conn in SSH_CONNECTIONS else conn
    return Target(host=name, check=decide.TCP.id, item=f"{label}:{port}", kind="tcp",
                  address=str(hostvars.get("ansible_host") or name), port=port)


def _address(name: str, hostvars: Mapping[str, Mapping[str, Any]]) -> str:
    return str((hostvars.get(name) or {}).get("ansible_host") or name)


def _clean_url(url: str, where: str) -> tuple[str, str, int]:
    """Return the URL without any user:password (never stored in a result), its host name and port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"{where}: {url!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{where}: {url!r} is not an http:// or https:// URL with a host")
    netloc = parts.netloc.rpartition("@")[2]
    clean = parts._replace(netloc=netloc).geturl()
    return clean, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _days(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{where}: {value!r} is not a number of days")
    return value


def _service_target(i: int, svc: Any, hostvars: Mapping[str, Mapping[str, Any]],
                    section: Mapping[str, Any]) -> Target:
    where = f"{SERVICES}[{i}]"
    if not isinstance(svc, Mapping):
        raise InvalidInput(f"{where}: a service is a mapping with host, name and type")
    host = svc.get("host")
    if not isinstance(host, str) or host not in hostvars:
        raise InvalidInput(f"{where}.host: {host!r} is not a host of this inventory")
    name = svc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{where}.name: a service needs a name")
    kind = svc.get("type")
    if kind == "tcp":
        if svc.get("port") is None:
            raise InvalidInput(f"{where}.port: a tcp service needs a port")
        return Target(host=host, check=decide.TCP.id, item=name, kind="tcp", address=_address(host, hostvars),
                      port=_port_value(svc.get("port"), f"{where}.port"))
    if kind != "http":
        raise InvalidInput(f"{where}.type: {kind!r} is not tcp or http")
    url = svc.get("url")
    if not isinstance(url, str) or not url:
        raise InvalidInput(f"{where}.url: an http service needs a url")
    clean, hostname, port = _clean_url(url, f"{where}.url")
    expect = svc.get("expect_status", list(decide.DEFAULT_EXPECT_STATUS))
    if not isinstance(expect, list) or not expect or not all(
            isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in expect):
        raise InvalidInput(f"{where}.expect_status: {expect!r} is not a list of HTTP status codes")
    ca_file = svc.get("ca_file")
    if ca_file is not None and not (isinstance(ca_file, str) and Path(ca_file).is_file()):
        raise InvalidInput(f"{where}.ca_file: {ca_file!r} is not a file on the controller")
    warn = _days(svc.get("cert_warn_days"), f"{where}.cert_warn_days")
    crit = _days(svc.get("cert_crit_days"), f"{where}.cert_crit_days")
    warn = section["cert_warn_days"] if warn is None else warn
    crit = section["cert_crit_days"] if crit is None else crit
    if crit > warn:
        raise InvalidInput(f"{where}.cert_crit_days: {crit} is above cert_warn_days ({warn})")
    return Target(host=host, check=decide.HTTP.id, item=name, kind="http", address=hostname, port=port,
                  url=clean, expect_status=tuple(expect), ca_file=ca_file, cert_warn_days=warn,
                  cert_crit_days=crit)


def targets_for(hostvars: dict[str, dict[str, Any]], supervision: dict[str, Any] | None) -> list[Target]:
    """Return the probes of a client: each host's management port (in ``hostvars`` order), then its services.

    ``hostvars`` maps each inventory host to its variables (``ansible_host``, ``ansible_port``,
    ``ansible_connection``, ``ansible_winrm_scheme``, ``ansible_psrp_protocol``); ``supervision`` is
    ``maint_policy.supervision``. The management probe measures the host's availability unless one
    of its services says ``primary: true``.

    Raises:
        InvalidInput: a service of a host not in ``hostvars``, without its port or URL, with a
            bad value, two services of one host with the same name or both primary, or a bad
            ``ansible_port``; the message names the key.
    """
    try:
        section = decide.effective_policy(supervision)
    except PolicyError as exc:
        raise InvalidInput(str(exc)) from None
    services = (supervision or {}).get("services") or []
    if not isinstance(services, list):
        raise InvalidInput(f"{SERVICES}: a list of services")
    targets = [_service_target(i, svc, hostvars, section) for i, svc in enumerate(services)]
    seen: dict[tuple[str, str], int] = {}
    primary: dict[str, int] = {}
    for i, (svc, target) in enumerate(zip(services, targets, strict=True)):
        key = (target.host, target.item)
        if key in seen:
            raise InvalidInput(f"{SERVICES}[{i}].name: {target.item!r} is already service [{seen[key]}] "
                               f"of host {target.host}")
        seen[key] = i
        if svc.get("primary") is True:
            if target.host in primary:
                raise InvalidInput(f"{SERVICES}[{i}].primary: host {target.host} already has a primary service "
                                   f"([{primary[target.host]}])")
            primary[target.host] = i
            targets[i] = replace(target, availability=True)
    management: list[Target] = []
    if section["management_probe"]:
        for name, hvars in hostvars.items():
            probe = management_target(name, hvars or {})
            if probe is not None:
                management.append(replace(probe, availability=name not in primary))
    return management + targets


# -- collect -------------------------------------------------------------------------------
def _error_text(exc: BaseException) -> str:
    """One short line for what made a connect, a handshake or a request fail."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return clip("TLS: certificate verify failed: " + str(exc.verify_message or exc.reason or exc), ERROR_CHARS)
    if isinstance(exc, ssl.SSLError):
        return clip("TLS: " + str(exc.reason or exc), ERROR_CHARS)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, OSError):
        return clip(f"{type(exc).__name__}: {exc.strerror or exc}", ERROR_CHARS)
    return clip(f"{type(exc).__name__}: {exc}", ERROR_CHARS)


def der_not_after(der: bytes) -> dt.datetime | None:
    """Return the notAfter of a DER X.509 certificate (what a non-verifying handshake gives), or None."""
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(der).not_valid_after_utc
    except ValueError:
        return None


def _peer_not_after(ssl_object: Any) -> dt.datetime | None:
    """The peer certificate's notAfter from the TLS object (its parsed form, else its DER)."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if cert and cert.get("notAfter"):
        return dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), dt.UTC)
    der = ssl_object.getpeercert(binary_form=True)
    return der_not_after(der) if der else None


class _Contexts:
    """The TLS contexts of one run: verifying (system CAs, or one per ca_file) and non-verifying."""

    def __init__(self) -> None:
        self._verifying: dict[str | None, ssl.SSLContext] = {}
        self.insecure = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.insecure.check_hostname = False
        self.insecure.verify_mode = ssl.CERT_NONE

    def verifying(self, ca_file: str | None) -> ssl.SSLContext:
        if ca_file not in self._verifying:
            self._verifying[ca_file] = ssl.create_default_context(cafile=ca_file)
        return self._verifying[ca_file]


def _close(writer: asyncio.StreamWriter | None) -> None:
    """Drop a probe's connection at once: everything it needed was read."""
    if writer is not None:
        writer.transport.abort()


async def _tcp(target: Target) -> dict[str, Any]:
    raw: dict[str, Any] = {"connected": False}
    writer = None
    try:
        _, writer = await asyncio.open_connection(target.address, target.port)
        raw["connected"] = True
    except (OSError, ValueError) as exc:  # refused, unreachable, name not known
        raw["error"] = _error_text(exc)
    finally:
        _close(writer)
    return raw


def _request(target: Target) -> bytes:
    parts = urlsplit(target.url or "")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.netloc if parts.netloc.isascii() else parts.netloc.encode("idna").decode("ascii")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", f"User-Agent: {USER_AGENT}", "Accept: */*",
             "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def _get(target: Target, context: ssl.SSLContext | None, raw: dict[str, Any],
               cert: dict[str, Any]) -> None:
    """One GET: fills ``raw`` (status_code or error) and, for https, ``cert`` (handshake, not_after)."""
    writer = None
    try:
        reader, writer = await asyncio.open_connection(
            target.address, target.port, ssl=context, server_hostname=target.address if context else None)
        if context is not None:
            cert.update(handshake=True, verified=True)
            cert["not_after_dt"] = _peer_not_after(writer.get_extra_info("ssl_object"))
        writer.write(_request(target))
        await writer.drain()
        line = await reader.readline()
        words = line.decode("latin-1").split()
        if len(words) >= 2 and words[0].startswith("HTTP/") and words[1].isdigit() and len(words[1]) == 3:
            raw["status_code"] = int(words[1])
        else:
            raw["error"] = "not an HTTP answer: " + (clip(repr(line[:60]), 80) if line else "connection closed")
    except ssl.SSLCertVerificationError as exc:
        raw["error"] = _error_text(exc)
        cert.update(handshake=True, verified=False, verify_error=str(exc.verify_message or exc.reason or exc))
    except (OSError, ValueError, UnicodeError) as exc:
        raw["error"] = _error_text(exc)
    finally:
        _close(writer)


async def _peek_certificate(target: Target, contexts: _Contexts, cert: dict[str, Any]) -> None:
    """A non-verifying handshake, for the notAfter of a certificate that failed verification."""
    writer = None
    try:
        _, writer = await asyncio.open_connection(target.address, target.port, ssl=contexts.insecure,
                                                  server_hostname=target.address)
        cert["not_after_dt"] = _peer_not_after(writer.get_extra_info("ssl_object"))
    except (OSError, ValueError):
        pass
    finally:
        _close(writer)


def _https(target: Target) -> bool:
    return (target.url or "").lower().startswith("https:")


async def _http(target: Target, contexts: _Contexts, raw: dict[str, Any], cert: dict[str, Any]) -> None:
    """The GET of an http target: fills ``raw`` and ``cert`` as it goes (a timeout keeps what was read)."""
    try:
        context = contexts.verifying(target.ca_file) if _https(target) else None
    except (OSError, ssl.SSLError) as exc:
        raw["error"] = cert["error"] = f"ca_file {target.ca_file}: {_error_text(exc)}"
        return
    await _get(target, context, raw, cert)


def _base(target: Target) -> dict[str, Any]:
    base: dict[str, Any] = {"address": target.address, "port": target.port, "availability": target.availability}
    if target.url:
        base["url"] = target.url
    return base


async def _probe(target: Target, timeout: float, contexts: _Contexts) -> list[dict[str, Any]]:
    """Run one probe within ``timeout`` and return its raw observations, each with the check it feeds."""
    start = time.monotonic()
    raw: dict[str, Any]
    cert: dict[str, Any] = {"handshake": False}
    if target.kind not in ("tcp", "http"):
        raise ValueError(f"probe kind {target.kind!r} is not tcp or http")
    if target.kind == "tcp":
        raw = {"connected": False}
        try:
            raw = await asyncio.wait_for(_tcp(target), timeout)
        except TimeoutError:
            raw["timed_out"] = True
    else:
        raw = {"status_code": None}
        try:
            await asyncio.wait_for(_http(target, contexts, raw, cert), timeout)
        except TimeoutError:
            raw["timed_out"] = True
            cert.setdefault("timed_out", True)
    elapsed = round((time.monotonic() - start) * 1000.0, 1)
    raw.update(_base(target), elapsed_ms=elapsed)
    out = [dict(raw, check=target.check)]
    if target.kind == "http" and _https(target):
        left = start + timeout - time.monotonic()
        if cert.get("verified") is False and left > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_peek_certificate(target, contexts, cert), left)
        if not cert.get("handshake") and raw.get("error"):
            cert["error"] = raw["error"]
        not_after = cert.pop("not_after_dt", None)
        cert.update(_base(target), elapsed_ms=elapsed, availability=False,
                    checked_at=maint_clock.to_iso(maint_clock.real_now()))
        if not_after is not None:
            cert["not_after"] = maint_clock.to_iso(not_after)
        out.append(dict(cert, check=decide.CERTIFICATE.id))
    return out


def _decide(target: Target, raw: dict[str, Any], timeout: float) -> dict[str, Any]:
    check = raw.pop("check")
    policy = {"probe_timeout_seconds": timeout}
    if check == decide.TCP.id:
        result: dict[str, Any] = decide.decide_tcp(raw, policy, item=target.item)
    elif check == decide.HTTP.id:
        result = decide.decide_http(raw, policy, item=target.item, expect_status=list(target.expect_status))
    else:
        result = decide.decide_certificate(raw, policy, item=target.item, warn_days=target.cert_warn_days,
                                           crit_days=target.cert_crit_days)
    return result


Clock = Callable[[], dt.datetime]


def _clock(now: Clock | dt.datetime | None) -> Clock:
    if now is None:
        return cast(Clock, maint_clock.now)
    if isinstance(now, dt.datetime):
        fixed = now
        return lambda: fixed
    return now


async def probe_all(targets: Sequence[Target], *, timeout: float = DEFAULT_TIMEOUT,
                    concurrency: int = DEFAULT_CONCURRENCY, now: Clock | dt.datetime | None = None,
                    ) -> list[dict[str, Any]]:
    """The coroutine behind :func:`run_probes`, for a caller that already runs an event loop."""
    if timeout <= 0 or concurrency < 1:
        raise InvalidInput(f"probes: timeout ({timeout}) must be above 0 and concurrency ({concurrency}) at least 1")
    clock = _clock(now)
    contexts = _Contexts()
    gate = asyncio.Semaphore(concurrency)

    async def one(target: Target) -> list[dict[str, Any]]:
        async with gate:
            started = maint_clock.to_iso(clock())
            try:
                raws = await _probe(target, timeout, contexts)
                results = [_decide(target, raw, timeout) for raw in raws]
            except Exception as exc:  # noqa: BLE001 - one odd probe costs its result, not the run's
                results = [unreadable_result(target.check, target.item, "probe", error=exc,
                                             observed=dict(_base(target)))]
            finished = maint_clock.to_iso(clock())
        for res in results:
            res.update(client="", run_id="", host=target.host, changed=False, started=started, finished=finished)
        return results

    batches = await asyncio.gather(*(one(t) for t in targets))
    return [res for batch in batches for res in batch]


def run_probes(targets: Iterable[Target], *, timeout: float = DEFAULT_TIMEOUT,
               concurrency: int = DEFAULT_CONCURRENCY, now: Clock | dt.datetime | None = None,
               ) -> list[dict[str, Any]]:
    """Run every probe and return their results, in ``targets`` order, in the one result shape.

    At most ``concurrency`` probes are in flight; each is bounded by ``timeout`` seconds (connect,
    TLS handshake and the HTTP status line). An https target yields a ``service.http`` and a
    ``service.certificate`` result. ``client`` and ``run_id`` are left empty for the caller;
    ``started``/``finished`` come from ``now`` (a clock, or a fixed time; default ``maint_clock.now``),
    while a certificate's days left are counted from the wall clock.
    """
    return asyncio.run(probe_all(list(targets), timeout=timeout, concurrency=concurrency, now=now))


def probe_client(hostvars: dict[str, dict[str, Any]], supervision: dict[str, Any] | None,
                 now: Clock | dt.datetime | None = None) -> list[dict[str, Any]]:
    """``targets_for`` then ``run_probes`` with the section's timeout and concurrency."""
    try:
        section = decide.effective_policy(supervision)
    except PolicyError as exc:
        raise InvalidInput(str(exc)) from None
    return run_probes(targets_for(hostvars, supervision), timeout=float(section["probe_timeout_seconds"]),
                      concurrency=int(section["probe_concurrency"]), now=now)
