"""What a database at the store URL holds, and migrating it to this version's schema.

`database.open_store` calls `migrate` every time it opens a store; `doctor` calls
`read_schema` to report without changing anything. A database that is not ours
(another program's, or a store written by a newer commit-indexer) is refused with
a message that says so, never migrated: writing our tables into it would damage it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.pool import NullPool

from indexer.errors import StoreError
from indexer.resources import resource_dir
from indexer.store import models

VERSION_TABLE = "alembic_version"
OUR_TABLES = frozenset(models.metadata.tables) | {VERSION_TABLE}


def script_revisions() -> list[str]:
    """Our revisions, oldest first, read from file names (`0002_x.py` is "0002")."""
    names = [p.name for p in (resource_dir("migrations") / "versions").glob("[0-9]*_*.py")]
    return sorted(re.match(r"\d+", n).group() for n in names)


def script_head() -> str:
    """The revision this commit-indexer writes."""
    return script_revisions()[-1]


@dataclass(frozen=True)
class Schema:
    version: str | None  # the revision the database says it has, None if none
    head: str  # the revision this commit-indexer writes
    tables: tuple[str, ...]  # every table, sorted

    @property
    def state(self) -> str:
        """new (no tables: created on open), unfinished (a first migration was killed
        half way, by a version before migrations were one transaction: no rows yet, so
        it is created again on open), current, behind (migrated on open), future (a
        newer commit-indexer's store) or foreign (another program's)."""
        if self.version is None:
            if not self.tables:
                return "new"
            if VERSION_TABLE in self.tables and set(self.tables) <= OUR_TABLES:
                return "unfinished"
            return "foreign"
        if self.version == self.head:
            return "current"
        if re.fullmatch(r"\d{4}", self.version):
            return "future" if self.version > self.head else "behind"
        return "foreign"  # alembic's revision ids of another program: hex, not ours


def read_schema(conn: Connection) -> Schema:
    tables = tuple(sorted(inspect(conn).get_table_names()))
    version = None
    if VERSION_TABLE in tables:
        version = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return Schema(version, script_head(), tables)


def no_store(url: str) -> StoreError:
    return StoreError(
        f"there is no commit-indexer store at {url}",
        hint="`commit-indexer backfill` makes one; or pass the --db URL of an existing store",
    )


def refuse_foreign(schema: Schema, url: str) -> None:
    """Raise if the database at `url` is not one this commit-indexer may write."""
    if schema.state == "future":
        raise StoreError(
            f"the store {url} was written by a newer commit-indexer"
            f" (schema {schema.version}; this one knows up to {schema.head})",
            hint="upgrade commit-indexer (`pip install -U commit-indexer`), or pass another --db",
        )
    if schema.state == "foreign":
        what = (
            f"revision {schema.version}"
            if schema.version
            else "tables " + ", ".join(t for t in schema.tables if t not in OUR_TABLES)
        )
        raise StoreError(
            f"{url} is another program's database ({what}), not a commit-indexer store",
            hint="pass the right --db URL; commit-indexer writes nothing into this one",
        )


def _checked(engine: Engine, url: str, set_wal: bool = False) -> tuple[Schema, bool]:
    """The schema (refused if not ours), and whether the file is in WAL mode (always
    true for other databases). `set_wal` switches a SQLite store to WAL: only under
    the writer lock, since switching needs the file to itself and fails at once,
    without waiting, while another process is creating the store."""
    with engine.connect() as conn:
        schema = read_schema(conn)
        refuse_foreign(schema, url)
        if conn.dialect.name != "sqlite":
            return schema, True
        # Readers never block the writer, nor it them. Persistent: the file remembers
        # it, so it is set only once the file is known to be ours.
        pragma = "PRAGMA journal_mode = WAL" if set_wal else "PRAGMA journal_mode"
        return schema, conn.exec_driver_sql(pragma).scalar() == "wal"


def migrate(
    engine: Engine,
    url: str,
    busy_timeout_ms: int,
    writer_lock: Callable[[], AbstractContextManager[None]],
    create: bool = True,
) -> None:
    """Bring the database at `url` to our head revision (create it if it is blank, or
    with `create` False refuse it: what reads a store never makes one).

    A current store takes no lock, so opening one never waits for a running sync;
    otherwise the store's writer lock is taken and the schema read again: of two
    processes opening a new store at once, the second finds it migrated."""
    schema, wal = _checked(engine, url)
    if schema.state == "new" and not create:
        raise no_store(url)
    if schema.state == "current" and wal:
        return
    with writer_lock():
        schema, _wal = _checked(engine, url, set_wal=True)
        if schema.state == "current":
            return
        _upgrade(engine, schema, busy_timeout_ms)


# Alembic's version table as `alembic stamp` makes it (tests/test_store.py compares
# the two), for stamping a new store without importing alembic.
_VERSION = Table(
    VERSION_TABLE,
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _upgrade(engine: Engine, schema: Schema, busy_timeout_ms: int) -> None:
    with _transaction(engine, busy_timeout_ms) as conn:
        if schema.state == "unfinished":
            models.metadata.drop_all(conn)
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        if schema.state in ("new", "unfinished"):
            # Alembic's recipe for a database made from scratch: create the tables of
            # the models and stamp the head, rather than replay every migration (whose
            # table rebuilds cost half a second). tests/test_store.py checks that the
            # migrations build exactly the models' schema. The stamp is one row, written
            # here: importing alembic costs ~0.14 s, a tenth of a small backfill.
            models.metadata.create_all(conn)
            _VERSION.create(conn)
            conn.execute(_VERSION.insert().values(version_num=script_head()))
            return
        # Only now pay for importing alembic.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(resource_dir("migrations")))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


@contextmanager
def _transaction(engine: Engine, busy_timeout_ms: int) -> Iterator[Connection]:
    """A connection whose work is one transaction, DDL included: a process killed
    while migrating leaves the database as it was, never half migrated."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:  # PostgreSQL's DDL is transactional as it is
            yield conn
        return
    # pysqlite runs DDL outside any transaction (it BEGINs only before DML), so a kill
    # mid-migration would leave some tables and no version. A connection of its own
    # (its settings must not go back to the pool) with the driver's transaction
    # handling off, and BEGIN said here, as SQLAlchemy's pysqlite docs advise.
    own = create_engine(engine.url, poolclass=NullPool)
    try:
        with own.connect() as conn:
            conn.connection.driver_connection.isolation_level = None
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            # Batch migrations copy a table, drop it and rename the copy; with foreign
            # keys enforced, dropping a table that other rows reference fails. This
            # pragma only takes effect outside a transaction, so before BEGIN.
            conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn
            conn.exec_driver_sql("COMMIT")
    finally:
        own.dispose()
