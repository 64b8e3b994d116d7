"""The store's connection: SQLite (the standard ``sqlite3``) or PostgreSQL (psycopg 3).

``MAINT_STORE`` chooses: unset, the SQLite file ``$MAINT_HOME/store.db``; a path, that SQLite
file; a ``postgresql://`` (or ``postgres://``) URL, that PostgreSQL database.

The call sites write one plain SQL for both engines and use the small part of
``sqlite3.Connection`` they always used: ``execute``/``executemany`` with ``?`` placeholders
(``execute`` returns a cursor: ``fetchone``, ``fetchall``, iteration, ``rowcount``), ``cursor()``
(whose ``row_factory = None`` gives plain tuples), ``commit()``/``rollback()``, and ``with db:``
for one transaction (all of it lands or none). :class:`PgConnection` offers exactly that over
psycopg: ``?`` become ``%s`` (outside quotes; a literal ``%`` is doubled), rows are
:class:`Row` (by index or by name, ``dict(row)``, like ``sqlite3.Row``), statements outside
``with db:`` commit on their own, and a database error is raised as the ``sqlite3`` exception
of the same kind (``IntegrityError``, ``OperationalError``, ...), so that ``except sqlite3.Error``
keeps meaning "the store failed" on both engines. What SQLite has and PostgreSQL lacks is not
emulated: ``lastrowid`` (use ``INSERT ... RETURNING id``), scalar ``MIN(a, b)``/``MAX(a, b)`` (use
``CASE``), ``INSERT OR IGNORE`` (use ``ON CONFLICT DO NOTHING``), ``julianday``/``strftime``
(compute times in Python: they are ISO 8601 UTC strings).

PostgreSQL's ``SUM`` of integers is ``numeric``: it is read back as an ``int`` (or a ``float``
when it has a fraction), as SQLite gives it. The URL's password never appears in a message:
:func:`redact` replaces it.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import MaintError, clip

PG_SCHEMES = ("postgresql://", "postgres://")


class StoreUnavailable(MaintError, sqlite3.OperationalError):
    """The store cannot be opened (a bad URL, a server that does not answer, a newer schema): exit 1."""

    exit_code = 1


def is_postgres(target: str | os.PathLike[str]) -> bool:
    """True when ``target`` is a PostgreSQL URL rather than an SQLite path."""
    return isinstance(target, str) and target.startswith(PG_SCHEMES)


def redact(url: str) -> str:
    """Return ``url`` with its password (in the URL or a ``password=`` parameter) replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "postgresql://(unreadable URL)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostport}"
    query = re.sub(r"(?i)(^|&)(password)=[^&]*", r"\1\2=***", parts.query)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def hide(text: str, url: str) -> str:
    """``text`` without the password of ``url`` anywhere in it."""
    try:
        password = urllib.parse.urlsplit(url).password
    except ValueError:
        password = None
    if password:
        text = text.replace(password, "***").replace(urllib.parse.unquote(password), "***")
    for value in re.findall(r"(?i)(?:^|&)password=([^&]*)", urllib.parse.urlsplit(url).query):
        if value:
            text = text.replace(value, "***")
    return text


# -- SQL translation -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """Translate ``?`` placeholders to psycopg's ``%s`` (never inside quotes) and double every ``%``."""
    out: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


def _params(params: Sequence[Any] | None) -> tuple[Any, ...]:
    """The parameters as psycopg binds them: a bool is the 0/1 an INTEGER column holds."""
    if not params:
        return ()
    return tuple(int(p) if isinstance(p, bool) else p for p in params)


class Row(tuple[Any, ...]):
    """One row: by index, by column name, ``keys()`` and ``dict(row)``, like ``sqlite3.Row``."""

    _names: tuple[str, ...]
    _index: dict[str, int]

    def __new__(cls, names: tuple[str, ...], index: dict[str, int], values: Sequence[Any]) -> Row:
        """A row of ``values`` named ``names`` (``index``: name to position, shared by a cursor's rows)."""
        row = super().__new__(cls, values)
        row._names, row._index = names, index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return super().__getitem__(self._index[key])
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._names)


def _row_factory(cursor: Any) -> Any:
    names = tuple(col.name for col in cursor.description or ())
    index = {name: i for i, name in reversed(list(enumerate(names)))}  # the first of a repeated name wins
    return lambda values: Row(names, index, values)


_ERRORS: tuple[tuple[str, type[sqlite3.Error]], ...] = (
    ("IntegrityError", sqlite3.IntegrityError), ("OperationalError", sqlite3.OperationalError),
    ("ProgrammingError", sqlite3.ProgrammingError), ("DataError", sqlite3.DataError),
    ("NotSupportedError", sqlite3.NotSupportedError), ("InterfaceError", sqlite3.InterfaceError),
    ("InternalError", sqlite3.InternalError),
)


def _translate(exc: Exception, url: str) -> sqlite3.Error:
    """The ``sqlite3`` exception of the same kind as psycopg's ``exc`` (password hidden, one line)."""
    import psycopg

    message = hide(clip(str(exc).strip() or type(exc).__name__), url)
    for name, target in _ERRORS:
        if isinstance(exc, getattr(psycopg, name)):
            return target(message)
    return sqlite3.DatabaseError(message)


class PgCursor:
    """A psycopg cursor speaking the store's ``?`` SQL (see the module's docstring)."""

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn
        self._cur = conn.raw.cursor()
        self.row_factory: Any = _row_factory

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        """Run one statement; the cursor holds its rows."""
        self._cur.row_factory = self.row_factory or _tuple_factory
        try:
            self._cur.execute(to_pyformat(sql), _params(params))
        except Exception as exc:
            raise self._conn.translated(exc) from exc
        return self

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> PgCursor:
        """Run one statement once per parameter tuple."""
        try:
            self._cur.executemany(to_pyformat(sql), [_params(p) for p in seq])
        except Exception as exc:
            raise self._conn.translated(exc) from exc
        return self

    def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cur.fetchone() if self._cur.description else None

    def fetchall(self) -> list[Any]:
        """Every remaining row."""
        return list(self._cur.fetchall()) if self._cur.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        """The rows the last statement changed (or returned)."""
        return int(self._cur.rowcount)

    @property
    def description(self) -> Any:
        """The columns of the last statement's rows."""
        return self._cur.description

    def close(self) -> None:
        """Close the cursor."""
        self._cur.close()


def _tuple_factory(cursor: Any) -> Any:
    return tuple


class PgConnection:
    """A PostgreSQL connection behaving like the part of ``sqlite3.Connection`` the store uses."""

    engine = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg.adapt import Loader

        class NumericLoader(Loader):
            """``numeric`` (what SUM of integers gives) as int, or float when it has a fraction."""

            def load(self, data: Any) -> Any:
                text = bytes(data)
                return float(text) if b"." in text or b"e" in text.lower() or b"N" in text else int(text)

        self.url = url
        try:
            self.raw = psycopg.connect(url, autocommit=True, connect_timeout=15)
        except psycopg.Error as exc:
            raise StoreUnavailable(hide(clip(f"store {redact(url)}: cannot connect: {exc}"), url)) from None
        self.raw.adapters.register_loader("numeric", NumericLoader)
        self._transactions: list[Any] = []

    def translated(self, exc: Exception) -> Exception:
        """Return psycopg's ``exc`` as its ``sqlite3`` kind; anything else unchanged."""
        import psycopg

        return _translate(exc, self.url) if isinstance(exc, psycopg.Error) else exc

    def cursor(self) -> PgCursor:
        """A new cursor (``row_factory = None`` on it gives plain tuples)."""
        return PgCursor(self)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        """Run one statement on a new cursor and return it."""
        return self.cursor().execute(sql, params)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> PgCursor:
        """Run one statement per parameter tuple on a new cursor."""
        return self.cursor().executemany(sql, seq)

    def commit(self) -> None:
        """Nothing to do: outside ``with db:`` every statement commits on its own."""

    def rollback(self) -> None:
        """Nothing to undo outside ``with db:`` (see :meth:`commit`)."""

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()

    def __enter__(self) -> PgConnection:
        tx = self.raw.transaction()
        tx.__enter__()
        self._transactions.append(tx)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        tx = self._transactions.pop()
        try:
            tx.__exit__(kind, exc, tb)
        except Exception as error:  # the commit itself failed (a serialization failure, the server gone)
            raise self.translated(error) from error


def sqlite_connect(path: Path) -> sqlite3.Connection:
    """Open (or create, mode 0600) the SQLite file of the store."""
    new = not path.exists()
    db = sqlite3.connect(path, timeout=30)
    db.row_factory = sqlite3.Row
    if new:
        os.chmod(path, 0o600)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def engine(db: Any) -> str:
    """``sqlite`` or ``postgresql``: the engine behind a connection the store opened."""
    return "postgresql" if isinstance(db, PgConnection) else "sqlite"
