"""Opening the store's database: the engine for its backend, one writer at a time,
and database failures turned into messages for people.

Two backends: SQLite (the default, a file in the repo's git dir) and PostgreSQL
(`postgresql+psycopg://`, for many repos and many machines sharing one store).
What the database must hold and migrating it is `schema.py`'s concern; what is
stored and how it is queried, `commits.py`'s and `examples.py`'s.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from indexer.errors import StoreError, StoreLocked
from indexer.store import models, schema
from indexer.store.location import sqlite_path
from indexer.store.locks import BUSY_TIMEOUT_MS, file_lock

if TYPE_CHECKING:
    import sqlite3

BACKENDS = ("sqlite", "postgresql")
# The key of the PostgreSQL advisory lock that the one writer holds: an arbitrary
# constant (the bytes of "cmtindex"). Advisory locks are scoped to one database, so
# stores in different databases of one server do not wait for each other.
WRITER_LOCK_KEY = int.from_bytes(b"cmtindex", "big")
URL_HINT = "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"


def display_url(url: str) -> str:
    """The URL with its password masked, for messages and `stats`: the one before the
    `@`, and libpq's `?password=` (or `?sslpassword=`) too."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    secret = {k: "***" for k in parsed.query if k.lower() in ("password", "sslpassword")}
    return parsed.update_query_dict(secret).render_as_string(hide_password=True)


def _server_hint(url: str) -> str:
    if url.startswith("postgresql"):
        return (
            "check that the PostgreSQL server is running and that the database exists"
            " (`createdb NAME`), or pass another --db URL"
        )
    return "check the path and its permissions, or pass another --db URL"


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Turn database failures into IndexerErrors that say what to do."""
    shown = display_url(url)
    try:
        yield
    except OperationalError as exc:
        if "locked" in str(exc.orig) or "busy" in str(exc.orig):
            raise StoreLocked(
                f"the store {shown} is locked by another process",
                hint="wait for the other commit-indexer command to finish, then run this again",
            ) from exc
        raise StoreError(
            f"cannot use the store {shown}: {exc.orig}", hint=_server_hint(url)
        ) from exc
    except IntegrityError:
        raise  # a duplicate row is our bug, not the user's store: let it show as one
    except DatabaseError as exc:
        raise StoreError(
            f"{shown} is not a usable commit-indexer store: {exc.orig}",
            hint="`commit-indexer doctor --repair` moves it aside and starts a new store"
            " (the next backfill rebuilds it from git), or pass another --db URL",
        ) from exc


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # journal_mode = WAL is not set here but once the file is known to be a store
    # (schema.migrate): it is written into the file, which must stay as it was if it
    # is another program's database.
    cursor.execute(
        "PRAGMA synchronous = NORMAL"
    )  # WAL keeps it consistent; a crash loses no commit
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def bulk_writes(conn: Connection) -> None:
    """Make this connection's commits cheaper for a backfill.

    SQLite: synchronous=OFF costs a third of NORMAL per commit here. A killed process
    still loses only its transaction in flight; only an OS crash or power loss could
    corrupt the file, and the store is derived from git, so a backfill rebuilds it.
    PostgreSQL: synchronous_commit=off does not wait for the WAL flush; a server
    crash may lose the last commits written, never the store's consistency.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA synchronous = OFF")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET synchronous_commit TO off")
    conn.commit()


@dataclass
class Store:
    url: str
    engine: Engine

    def connect(self) -> Connection:
        return self.engine.connect()

    def writer(self) -> AbstractContextManager[None]:
        """One writer at a time per store: a backfill started while a hook's sync runs
        waits for it, instead of both writing the same commits (the second would then
        hit the unique keys)."""
        return writer_lock(self.url)

    @property
    def shown_url(self) -> str:
        return display_url(self.url)

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def writer_lock(url: str) -> Iterator[None]:
    """Hold the store's writer lock, waiting for the process that holds it. SQLite: a
    file lock beside the database; PostgreSQL: an advisory lock, so writers on other
    machines wait too."""
    path = sqlite_path(url)
    if path is not None:
        with file_lock(path.with_name(path.name + ".writer.lock")):
            yield
        return
    if not url.startswith("postgresql"):
        yield
        return
    # A session-level lock on a connection of its own (no pool: closing it ends the
    # session), in autocommit: the writer's transactions come and go on other
    # connections, and a process that dies, even by SIGKILL, releases it.
    engine = create_engine(driver_url(url), poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": WRITER_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": WRITER_LOCK_KEY})
    finally:
        engine.dispose()


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"--db {url} is not a database URL", hint=URL_HINT) from None
    if parsed.get_backend_name() not in BACKENDS:
        raise StoreError(
            f"the store {display_url(url)} is on {parsed.get_backend_name()}; commit-indexer"
            " stores are SQLite or PostgreSQL",
            hint=URL_HINT,
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def driver_url(url: str) -> str:
    """The URL to connect with: a bare `postgresql://` means the psycopg (3) driver.
    Refuses what is not a SQLite or PostgreSQL URL."""
    return _parse(url).render_as_string(hide_password=False)


def connect_engine(url: str) -> Engine:
    """An engine for the store at `url`, with our settings per backend; nothing is
    migrated and no lock is taken (a worker process reads a store its parent opened
    with `open_store` and holds the writer lock of)."""
    parsed = _parse(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            models.for_postgresql()
            connect_args = {}
            if "application_name" not in parsed.query:
                connect_args["application_name"] = "commit-indexer"  # in pg_stat_activity
            # pre_ping: `watch` keeps an engine for hours; the server may drop idle links.
            engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the store {parsed.render_as_string()} needs the Python package '{exc.name}'",
            hint="pip install 'commit-indexer[postgres]'",
        ) from None
    _engines.add(engine)
    return engine


# Engines of this process. A forked child (a worker of a process pool) must not use
# its parent's pooled connections: both would talk on one socket. So the child drops
# them without closing them (closing would end the parent's session) and opens its own.
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_parent_connections() -> None:
    for engine in list(_engines):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


def open_store(url: str, create: bool = True) -> Store:
    """Open the store at a SQLAlchemy URL, migrating it as needed, and creating it
    unless `create` is False (what reads a store never makes one: a typo in --db is an
    error, not a new empty store).

    Cheap when the store is current (one query, no lock), so a process that opens it
    never waits for a running sync."""
    url = driver_url(url)
    path = sqlite_path(url)
    if path is not None and path.is_dir():
        raise StoreError(
            f"the store {display_url(url)} is a folder, not a file",
            hint="move the folder away, or pass another --db URL",
        )
    if path is not None and not create and not path.is_file():
        raise schema.no_store(display_url(url))  # SQLite would make the file
    if path is not None and create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder of the store {display_url(url)}: {exc.strerror}",
                hint=_server_hint(url),
            ) from None
    with translate_errors(url):
        engine = connect_engine(url)
        try:
            schema.migrate(
                engine, display_url(url), BUSY_TIMEOUT_MS, lambda: writer_lock(url), create
            )
        except BaseException:
            engine.dispose()
            raise
    return Store(url, engine)
