"""Benchmark of the availability probes: 500 probes from the controller must finish well within a minute.

Not collected by pytest (the file name does not start with ``test_``); run it with
``python tests/benchmarks/bench_probe.py [--targets N] [--timeout S] [--concurrency N] [--out PATH]``.

A child process serves the listeners on 127.0.0.1 (so that the probes' process measures only
itself): HTTP ports that answer 200, TLS ports with a certificate of a private CA made here, and
silent ports that accept and never answer; closed ports are bound and closed. The probes mix
tcp connects (to open and closed ports), http, https (with the CA as ca_file) and http to
silent ports (each costs the whole timeout). Figures:

- ``mixed``: ``run_probes`` over every target, with the default concurrency and a 2 s timeout;
- ``answering``: the same without the silent targets (what the probes cost, not the timeout);
- two references measured in the same run over the same addresses: one bare asyncio pass
  (``asyncio.open_connection`` then close, same concurrency) and the sequential
  ``socket.create_connection`` loop; each figure gives its ratio against them.

The JSON record goes to ``$MAINT_HOME/bench/probe.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from maint_utils import probe_decide
from maintcore import probes
from maintcore.config import atomic_write_json, maint_home

LOOPBACK = "127.0.0.1"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


# -- the listeners (child process) -----------------------------------------------------------
async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER)
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _serve(spec: dict[str, Any]) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(spec["cert"])
    servers = []
    silent = []
    for _ in range(spec["http"]):
        servers.append(await asyncio.start_server(_answer, LOOPBACK, 0, backlog=1024))
    for _ in range(spec["https"]):
        servers.append(await asyncio.start_server(_answer, LOOPBACK, 0, ssl=context, backlog=1024))
    for _ in range(spec["silent"]):
        sock = socket.socket()
        sock.bind((LOOPBACK, 0))
        sock.listen(1024)
        silent.append(sock)
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    out = {"http": ports[:spec["http"]], "https": ports[spec["http"]:],
           "silent": [s.getsockname()[1] for s in silent]}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    for sock in silent:
        sock.close()
    for server in servers:
        server.close()


def _make_pki(folder: Path) -> tuple[Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 signed by it (90 days)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("bench CA")).issuer_name(name("bench CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name(LOOPBACK)).issuer_name(name("bench CA"))
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path = folder / "ca.pem", folder / "server.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_path, cert_path


# -- the targets -----------------------------------------------------------------------------
def _closed_ports(count: int) -> list[int]:
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind((LOOPBACK, 0))
        socks.append(sock)
    ports = [s.getsockname()[1] for s in socks]
    for sock in socks:
        sock.close()
    return ports


def build_targets(total: int, ports: dict[str, list[int]], closed: list[int], ca: Path) -> list[probes.Target]:
    """``total`` targets: 40 % tcp to open ports, 30 % http, 10 % https, 10 % closed, 10 % silent http."""
    mix = {"tcp": int(total * 0.4), "http": int(total * 0.3), "https": int(total * 0.1), "closed": int(total * 0.1)}
    mix["silent"] = total - sum(mix.values())
    out: list[probes.Target] = []
    for kind, count in mix.items():
        for i in range(count):
            host = f"host{len(out):04d}"
            if kind == "tcp":
                port = ports["http"][i % len(ports["http"])]
                out.append(probes.Target(host, probe_decide.TCP.id, "ssh:22", "tcp", LOOPBACK, port,
                                         availability=True))
            elif kind == "closed":
                port = closed[i % len(closed)]
                out.append(probes.Target(host, probe_decide.TCP.id, "ssh:22", "tcp", LOOPBACK, port,
                                         availability=True))
            else:
                scheme, pool = ("https", ports["https"]) if kind == "https" else ("http", ports[
                    "silent" if kind == "silent" else "http"])
                port = pool[i % len(pool)]
                out.append(probes.Target(host, probe_decide.HTTP.id, "web", "http", LOOPBACK, port,
                                         url=f"{scheme}://{LOOPBACK}:{port}/health",
                                         ca_file=str(ca) if kind == "https" else None,
                                         cert_warn_days=30, cert_crit_days=7))
    return out


# -- the references --------------------------------------------------------------------------
async def _bare_pass(addresses: list[tuple[str, int]], concurrency: int, timeout: float) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(address: tuple[str, int]) -> None:
        async with gate:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(*address), timeout)
                writer.close()
            except (OSError, TimeoutError):
                pass

    await asyncio.gather(*(one(a) for a in addresses))


def bare_asyncio(addresses: list[tuple[str, int]], concurrency: int, timeout: float) -> float:
    """Seconds of one bare asyncio pass: open_connection then close, same concurrency."""
    start = time.perf_counter()
    asyncio.run(_bare_pass(addresses, concurrency, timeout))
    return time.perf_counter() - start


def sequential(addresses: list[tuple[str, int]], timeout: float) -> float:
    """Seconds of the same TCP connects, one after the other, with socket.create_connection."""
    start = time.perf_counter()
    for address in addresses:
        with contextlib.suppress(OSError):
            socket.create_connection(address, timeout=timeout).close()
    return time.perf_counter() - start


def measure(targets: list[probes.Target], timeout: float, concurrency: int) -> dict[str, Any]:
    """Run the probes once; return wall time, CPU time, probes per second and the statuses seen."""
    cpu, start = time.process_time(), time.perf_counter()
    results = probes.run_probes(targets, timeout=timeout, concurrency=concurrency)
    wall = time.perf_counter() - start
    return {"targets": len(targets), "results": len(results), "wall_s": round(wall, 3),
            "cpu_s": round(time.process_time() - cpu, 3), "probes_per_s": round(len(targets) / wall, 1),
            "statuses": dict(Counter(f"{r['check']}={r['status']}" for r in results))}


def main(argv: list[str] | None = None) -> int:
    """Start the listeners, run the probes and the references, print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=probes.DEFAULT_CONCURRENCY)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(json.loads(args.serve)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert = _make_pki(Path(tmp))
        spec = {"http": 60, "https": 20, "silent": 10, "cert": str(cert)}
        child = subprocess.Popen([sys.executable, __file__, "--serve", json.dumps(spec)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            ports = json.loads(child.stdout.readline())
            targets = build_targets(args.targets, ports, _closed_ports(10), ca)
            answering = [t for t in targets if t.port not in set(ports["silent"])]
            addresses = [(t.address, int(t.port or 0)) for t in targets]
            probes.run_probes(answering[:20], timeout=args.timeout, concurrency=args.concurrency)  # warm up
            ref_bare = bare_asyncio(addresses, args.concurrency, args.timeout)
            ref_seq = sequential(addresses, args.timeout)
            mixed = measure(targets, args.timeout, args.concurrency)
            quick = measure(answering, args.timeout, args.concurrency)
            ref_bare_answering = bare_asyncio([(t.address, int(t.port or 0)) for t in answering],
                                              args.concurrency, args.timeout)
        finally:
            if child.stdin:
                child.stdin.close()
            child.wait(10)
    for run, bare in ((mixed, ref_bare), (quick, ref_bare_answering)):
        run["ratio_to_bare_asyncio"] = round(run["wall_s"] / bare, 1)
        run["ratio_to_sequential_connects"] = round(run["wall_s"] / ref_seq, 2)
    record = {
        "benchmark": "probe", "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "timeout_s": args.timeout, "concurrency": args.concurrency,
        "listeners": {k: len(v) for k, v in ports.items()} | {"closed": 10},
        "mixed": mixed, "answering": quick,
        "reference": {"bare_asyncio_s": round(ref_bare, 3), "bare_asyncio_answering_s": round(ref_bare_answering, 3),
                      "sequential_create_connection_s": round(ref_seq, 3), "connects": len(addresses)},
    }
    out = args.out or maint_home() / "bench" / "probe.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, record)
    print(f"probes: {mixed['targets']} targets ({mixed['results']} results) in {mixed['wall_s']:.2f} s wall, "
          f"{mixed['cpu_s']:.2f} s CPU, {mixed['probes_per_s']:.0f} probes/s (timeout {args.timeout:g} s, "
          f"concurrency {args.concurrency})")
    print(f"  without the {len(targets) - len(answering)} silent targets: {quick['targets']} in "
          f"{quick['wall_s']:.2f} s, {quick['probes_per_s']:.0f} probes/s, "
          f"x{quick['ratio_to_bare_asyncio']} a bare asyncio connect pass ({ref_bare_answering:.3f} s)")
    print(f"  references over the {len(addresses)} addresses: bare asyncio pass {ref_bare:.3f} s, "
          f"sequential socket.create_connection {ref_seq:.3f} s; mixed/bare x{mixed['ratio_to_bare_asyncio']}, "
          f"mixed/sequential x{mixed['ratio_to_sequential_connects']}")
    print(f"  statuses: {json.dumps(mixed['statuses'], sort_keys=True)}")
    print(f"  record: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
