"""A blob's item and use rows as example building reads them, on a DB-API cursor.

Free of SQLAlchemy: a parser worker of a backfill is forked before this process
imports it (0.25 s), and building examples from a SQLite store it needs only these
three statements, on a connection of its own (`SqliteRows`). The writer reads the
same rows through its SQLAlchemy connection (`store.blob_symbols`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

# (kind, name, qualname, start_byte, item_byte, body_byte, end_byte) in file order, or
# None if the blob was skipped or is not in the store; (path, alias, is_glob, scope,
# line) of its uses, in order.
BlobRows = tuple[list[tuple] | None, list[tuple]]
ReadRows = Callable[[str, Sequence[str]], BlobRows]  # (blob oid, item kinds or all)


class Cursor(Protocol):
    """What `read_rows` needs of a DB-API cursor (sqlite3's, or the driver's under a
    SQLAlchemy connection)."""

    def execute(self, sql: str, params: tuple, /) -> object: ...

    def fetchone(self) -> tuple | None: ...

    def fetchall(self) -> list[tuple]: ...


def read_rows(cursor: Cursor, marker: str, oid: str, kinds: Sequence[str] = ()) -> BlobRows:
    """A blob's rows (its items only of `kinds`, if given), with `marker` the driver's
    parameter placeholder."""
    of_kinds = f" AND kind IN ({', '.join([marker] * len(kinds))})" if kinds else ""
    cursor.execute(f"SELECT id, status FROM blobs WHERE oid = {marker}", (oid,))
    found = cursor.fetchone()
    if found is None or found[1] == "skipped":
        return None, []
    cursor.execute(
        "SELECT kind, name, qualname, start_byte, item_byte, body_byte, end_byte"
        f" FROM items WHERE blob_id = {marker}{of_kinds}"
        " ORDER BY start_byte, end_byte, id",
        (found[0], *kinds),
    )
    items = cursor.fetchall()  # tuples as they are: callers make millions
    cursor.execute(
        f"SELECT path, alias, is_glob, scope, line FROM uses WHERE blob_id = {marker} ORDER BY id",
        (found[0],),
    )
    uses = cursor.fetchall()
    return items, [
        (path, alias, bool(glob), scope, line) for path, alias, glob, scope, line in uses
    ]


class SqliteRows:
    """`read_rows` of a SQLite store file, on a read-only connection of its own (the
    writer holds the file open in WAL mode, so reading never waits for it)."""

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        self.connection = sqlite3.connect(uri, uri=True, isolation_level=None)
        self.connection.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")

    def __call__(self, oid: str, kinds: Sequence[str] = ()) -> BlobRows:
        cursor = self.connection.cursor()
        try:
            return read_rows(cursor, "?", oid, kinds)
        finally:
            cursor.close()
