"""A real PostgreSQL server for the tests: Debian's package, on 127.0.0.1, a random port, a temporary data dir.

``postgres_server()`` runs ``initdb`` and ``postgres`` (as the ``postgres`` system user when the
tests run as root: initdb refuses root), with password authentication for the one role it
creates, and stops the server (fast shutdown, then SIGKILL) when the block ends, failed or not.
``new_database()`` makes an empty database on it and returns its URL.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

USER = "maint"


def bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: make deps installs Debian's postgresql package")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    port: int
    password: str
    proc: subprocess.Popen[bytes]
    log: Path

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _as_postgres() -> dict[str, Any]:
    """Popen arguments that run a program as the postgres system user when we are root."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam("postgres")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [],
            "env": {"PATH": "/usr/bin:/bin", "HOME": str(entry.pw_dir), "LC_ALL": "C.UTF-8"}}


@contextlib.contextmanager
def postgres_server(timeout: float = 60.0) -> Iterator[PostgresServer]:
    """Start a private PostgreSQL server; stop it and remove its files when the block ends."""
    import psycopg

    bindir = bin_dir()
    top = Path(tempfile.mkdtemp(prefix="maint-pg-"))
    run_as = _as_postgres()
    if run_as:
        os.chown(top, run_as["user"], run_as["group"])
    password = secrets.token_urlsafe(18)
    pwfile = top / "pw"
    pwfile.write_text(password + "\n", encoding="utf-8")
    if run_as:
        os.chown(pwfile, run_as["user"], run_as["group"])
    pwfile.chmod(0o600)
    log = top / "postgres.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([str(bindir / "initdb"), "-D", str(top / "data"), "-U", USER, f"--pwfile={pwfile}",
                        "-A", "scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions"],
                       check=True, capture_output=True, timeout=timeout, **run_as)
        pwfile.unlink()
        for _ in range(5):  # a free port may be taken between the probe and the bind: try another
            port = _free_port()
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    [str(bindir / "postgres"), "-D", str(top / "data"), "-k", str(top), "-h", "127.0.0.1",
                     "-p", str(port), "-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off", "-c", "max_connections=50"],
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **run_as)
            server = PostgresServer(port, password, proc, log)
            deadline, ready = time.monotonic() + timeout, False
            while not ready and proc.poll() is None and time.monotonic() < deadline:
                try:
                    psycopg.connect(server.url(), connect_timeout=2).close()
                    ready = True
                except psycopg.OperationalError:
                    time.sleep(0.1)
            if ready or proc.poll() is None:
                break
        if proc is None or not ready:
            raise RuntimeError(f"PostgreSQL did not start: {log.read_text(errors='replace')[-2000:]}")
        yield server
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown: ends the sessions, stops at once
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(top, ignore_errors=True)
