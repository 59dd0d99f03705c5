"""SQL sent straight to the database driver, for the store's hot paths: placeholders,
`IN` lists in chunks, bulk inserts (COPY on PostgreSQL), and transactions that nest.

A backfill writes millions of rows and asks thousands of small questions; for those,
SQLAlchemy's per-statement and per-parameter handling cost more than the database's
own work. Everything else goes through SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

IN_CHUNK = 500  # bound on `IN (...)` lists, well under SQLite's variable limit


@contextmanager
def tx(conn: Connection) -> Iterator[None]:
    """A transaction, or nothing when the caller already holds one (so reads can run
    inside the transaction that writes a commit and its examples)."""
    if conn.in_transaction():
        yield
    else:
        with conn.begin():
            yield


def upsert(conn: Connection, table: Table) -> Insert:
    """An INSERT that can say ON CONFLICT, for rows that concurrent processes may
    both add (a repo, a tokenizer, cached tokens): the second one's insert then
    does nothing, or updates, instead of failing on the unique key."""
    # Imported here: the PostgreSQL dialect module costs ~90 ms to import, and most
    # commands (a hook's sync above all) never build one of these.
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect
    return dialect.insert(table)


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in slices of at most IN_CHUNK, for `IN (...)` lists."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


@contextmanager
def driver_cursor(conn: Connection, sql: str) -> Iterator:
    """A cursor of the driver's own connection, inside the transaction `conn` holds.
    A backfill sends tens of thousands of small statements; SQLAlchemy's handling of
    each (an execution context, a result object, events) cost a quarter of the
    writer's time on rust-lang/log. The driver's errors come out as SQLAlchemy's,
    as they would from `conn` (`database.translate_errors` reads those), naming
    `sql` as the statement."""
    cursor = conn.connection.driver_connection.cursor()
    try:
        yield cursor
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
    finally:
        cursor.close()


def rows_in(conn: Connection, sql: str, values: Sequence, *params: object) -> list[tuple]:
    """`sql` (ending in `IN`) for `values`, a chunk at a time, straight to the driver:
    SQLAlchemy's `in_` makes a bound parameter object per value, which cost more than
    the query on a backfill's thousands of lookups."""
    found: list[tuple] = []
    with driver_cursor(conn, sql) as cursor:
        for chunk in chunks(values):
            cursor.execute(f"{sql} ({markers(conn, len(chunk))})", (*params, *chunk))
            found.extend(map(tuple, cursor.fetchall()))
    return found


_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def marker(conn: Connection) -> str:
    """The driver's parameter placeholder, for SQL sent straight to it."""
    return _MARKERS[conn.dialect.paramstyle]


def markers(conn: Connection, n: int) -> str:
    """`n` placeholders, comma-separated: a VALUES row or an IN list."""
    return ", ".join([marker(conn)] * n)


def bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """Many rows straight to the driver: items and examples are most of a backfill's
    rows, and SQLAlchemy's per-row parameter handling would cost more than SQLite's
    insert. PostgreSQL takes them with COPY, one stream instead of a message per row
    (executemany there costs three times as much)."""
    if conn.dialect.name == "postgresql":
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with driver_cursor(conn, sql) as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({markers(conn, len(columns))})"
    with driver_cursor(conn, sql) as cursor:
        cursor.executemany(sql, rows)


def insert_returning_id(conn: Connection, table: str, row: dict[str, object]) -> int:
    """One row straight to the driver, its new id back: a backfill inserts a commit and
    its blobs this way thousands of times, where SQLAlchemy's statement handling cost
    more than the insert."""
    sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({markers(conn, len(row))}) RETURNING id"
    with driver_cursor(conn, sql) as cursor:
        cursor.execute(sql, tuple(row.values()))
        return cursor.fetchone()[0]
