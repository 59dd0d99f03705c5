"""The store: write one indexed commit, answer queries.

Everything here takes and returns plain data (`rust.ParsedBlob`, `git.CommitInfo`,
dicts and tuples); ORM models never leave this module. Writes use Core inserts
because a backfill writes millions of item rows. Opening the database and the
one-writer lock are `database.py`'s, migrating it `schema.py`'s (re-exported here:
callers say `store.open_store`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from sqlalchemy import (
    Connection,
    Integer,
    Table,
    delete,
    false,
    func,
    select,
    true,
    update,
)

from indexer import models as m
from indexer.database import BUSY_TIMEOUT_MS as BUSY_TIMEOUT_MS
from indexer.database import Store as Store
from indexer.database import bulk_writes as bulk_writes
from indexer.database import connect_engine as connect_engine
from indexer.database import default_url as default_url
from indexer.database import driver_url as driver_url
from indexer.database import open_store as open_store
from indexer.database import sqlite_path as sqlite_path
from indexer.database import store_url as store_url
from indexer.database import translate_errors as translate_errors
from indexer.database import writer_lock as writer_lock
from indexer.errors import StoreError as StoreError
from indexer.examples import Example, Segment, makes_examples
from indexer.git import CommitInfo, FileChange
from indexer.rust import PARSER_VERSION, Item, ParsedBlob, Use
from indexer.rust import ModDecl as RustModDecl

_IN_CHUNK = 500  # bound on `IN (...)` lists, well under SQLite's variable limit


@contextmanager
def _tx(conn: Connection) -> Iterator[None]:
    """A transaction, or nothing when the caller already holds one (so reads can run
    inside the transaction that writes a commit and its examples)."""
    if conn.in_transaction():
        yield
    else:
        with conn.begin():
            yield


def _upsert(conn: Connection, table: Table):  # noqa: ANN202 (a dialect's Insert)
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


def repo_id(conn: Connection, path: str) -> int:
    """The id of the repo at `path` (its git common dir), added on first use."""
    query = select(m.repos.c.id).where(m.repos.c.path == path)
    with _tx(conn):
        found = conn.execute(query).scalar()
        if found is None:
            new = _upsert(conn, m.repos).values(path=path, synced_tips="")
            conn.execute(new.on_conflict_do_nothing())
            found = conn.execute(query).scalar_one()
    return found


def synced_tips(conn: Connection, repo: int) -> list[str]:
    with _tx(conn):
        tips = conn.execute(select(m.repos.c.synced_tips).where(m.repos.c.id == repo)).scalar_one()
    return tips.split()


def set_synced_tips(conn: Connection, repo: int, tips: Sequence[str]) -> None:
    with _tx(conn):
        conn.execute(update(m.repos).where(m.repos.c.id == repo).values(synced_tips=" ".join(tips)))


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _rows_in(conn: Connection, sql: str, values: Sequence, *params: object) -> list[tuple]:
    """`sql` (ending in `IN`) for `values`, a chunk at a time, straight to the driver:
    SQLAlchemy's `in_` makes a bound parameter object per value, which cost more than
    the query on a backfill's thousands of lookups."""
    found: list[tuple] = []
    for chunk in _chunks(values):
        query = f"{sql} ({_markers(conn, len(chunk))})"
        found.extend(conn.exec_driver_sql(query, (*params, *chunk)).all())
    return found


def known_commits(conn: Connection, repo: int, oids: Sequence[str]) -> set[str]:
    """Which of `oids` this repo's store already holds."""
    sql = f"SELECT oid FROM commits WHERE repo_id = {_marker(conn)} AND oid IN"
    with _tx(conn):
        return {oid for (oid,) in _rows_in(conn, sql, oids, repo)}


def known_blobs(conn: Connection, oids: Sequence[str]) -> set[str]:
    """Which of `oids` have been parsed (or skipped with a reason) already, by any repo."""
    with _tx(conn):
        return {oid for (oid,) in _rows_in(conn, "SELECT oid FROM blobs WHERE oid IN", oids)}


_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _marker(conn: Connection) -> str:
    """The driver's parameter placeholder, for SQL sent straight to it."""
    return _MARKERS[conn.dialect.paramstyle]


def _markers(conn: Connection, n: int) -> str:
    """`n` placeholders, comma-separated: a VALUES row or an IN list."""
    return ", ".join([_marker(conn)] * n)


def _bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """Many rows straight to the driver: items and examples are most of a backfill's
    rows, and SQLAlchemy's per-row parameter handling would cost more than SQLite's
    insert. PostgreSQL takes them with COPY, one stream instead of a message per row
    (executemany there costs three times as much)."""
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_markers(conn, len(columns))})"
    conn.exec_driver_sql(sql, rows)


_CHANGE_FIELDS = tuple(f.name for f in fields(FileChange))


def _insert_returning_id(conn: Connection, table: str, row: dict[str, object]) -> int:
    """One row straight to the driver, its new id back: a backfill inserts a commit and
    its blobs this way thousands of times, where SQLAlchemy's statement handling cost
    more than the insert."""
    sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({_markers(conn, len(row))}) RETURNING id"
    return conn.exec_driver_sql(sql, tuple(row.values())).scalar_one()


def write_blobs(conn: Connection, blobs: Iterable[tuple[str, int, ParsedBlob]]) -> None:
    """Write parsed blobs (oid, size, what it holds) with their items, uses and mods."""
    items: list[tuple] = []
    uses: list[tuple] = []
    mods: list[tuple] = []
    with _tx(conn):
        for oid, size, parsed in blobs:
            row = {
                "oid": oid,
                "size": size,
                "status": parsed.status,
                "reason": parsed.reason,
                "parser_version": PARSER_VERSION,
            }
            blob_id = _insert_returning_id(conn, "blobs", row)
            items.extend((blob_id, *i) for i in parsed.items)
            uses.extend((blob_id, *u) for u in parsed.uses)
            mods.extend((blob_id, *d) for d in parsed.mods)
        for table, fields, rows in (
            (m.items, Item._fields, items),
            (m.uses, Use._fields, uses),
            (m.mods, RustModDecl._fields, mods),
        ):
            if rows:
                _bulk_insert(conn, table.name, ("blob_id", *fields), rows)


def write_commit(
    conn: Connection,
    repo: int,
    info: CommitInfo,
    changes: Iterable[FileChange],
    blobs: Iterable[tuple[str, int, ParsedBlob]],
    replace: bool = False,
) -> int:
    """Write one commit with its changed files and newly parsed blobs, in one transaction.

    Parents are written before children, so a stored commit implies stored ancestors;
    a crash loses at most the commit in flight. `replace` first removes the stored
    commit of that oid (a shallow boundary written again with its real parents).
    """
    with _tx(conn):
        if replace:
            _delete_commit(conn, repo, info.oid)
        write_blobs(conn, blobs)
        row = {
            "repo_id": repo,
            **vars(info),
            "parents": " ".join(info.parents),
            "is_merge": len(info.parents) > 1,
            "examples_built": not makes_examples(info),  # none to build
        }
        commit_id = _insert_returning_id(conn, "commits", row)
        rows = [(commit_id, *astuple(c)) for c in changes]
        if rows:
            _bulk_insert(conn, "changes", ("commit_id", *_CHANGE_FIELDS), rows)
    return commit_id


def segments_json(segments: Iterable[Segment]) -> str:
    """How segments are stored: JSON [[kind, text, [variants...]], ...]."""
    return json.dumps([[s.kind, s.text, list(s.variants)] for s in segments], ensure_ascii=False)


def content_key(segments: str, target: str) -> str:
    """The sha256 that identifies an example's content (its stored segments and target)."""
    digest = hashlib.sha256(segments.encode())
    digest.update(b"\0")
    digest.update(target.encode())
    return digest.hexdigest()


def _content_ids(conn: Connection, contents: dict[str, tuple[str, str]]) -> dict[str, int]:
    """The ids of these contents (sha256 -> (segments, target)), added where new.

    Insert-if-absent: a content another process added meanwhile is not an error.
    """
    select_ids = "SELECT sha256, id FROM example_contents WHERE sha256 IN"
    keys = sorted(contents)
    found = dict(_rows_in(conn, select_ids, keys))
    new = [(k, *contents[k]) for k in keys if k not in found]
    if new:
        conn.exec_driver_sql(
            "INSERT INTO example_contents (sha256, segments, target)"
            f" VALUES ({_markers(conn, 3)}) ON CONFLICT (sha256) DO NOTHING",
            new,
        )
        found.update(_rows_in(conn, select_ids, [k for k, _s, _t in new]))
    return found


CONTENTS_HELD_CHARS = 8_000_000  # new contents held before they are written


def write_examples(
    conn: Connection, commits: Iterable[tuple[int, Iterable[Example], dict[str, int]]]
) -> None:
    """Store the examples (their contents once each) and skip counts of commits, given
    as (commit id, examples, skips), and mark them built: a handful of statements for a
    whole run of commits, in the caller's transaction."""
    contents: dict[str, tuple[str, str]] = {}
    held = 0  # characters in `contents`
    content_ids: dict[str, int] = {}
    rows: list[list] = []
    skips: list[tuple[int, str, int]] = []
    ids: list[int] = []
    with _tx(conn):
        for commit_id, examples, skipped in commits:
            ids.append(commit_id)
            for e in examples:
                segments = segments_json(e.segments)
                key = content_key(segments, e.target)
                if key not in contents:
                    contents[key] = (segments, e.target)
                    held += len(segments) + len(e.target)
                rows.append(
                    [
                        commit_id,
                        e.path,
                        e.kind,
                        e.name,
                        e.qualname,
                        e.change,
                        key,  # replaced by the content's id below
                        json.dumps(list(e.resolved), ensure_ascii=False),
                        json.dumps(list(e.unresolved), ensure_ascii=False),
                        " ".join(e.secrets),
                    ]
                )
                # Each example's JSON holds the commit's message: a long one, in every
                # example of a big commit, would be held here many times over.
                if held > CONTENTS_HELD_CHARS:
                    content_ids.update(_content_ids(conn, contents))
                    contents, held = {}, 0
            skips.extend(
                (commit_id, reason, count) for reason, count in sorted(skipped.items()) if count
            )
        if rows:
            content_ids.update(_content_ids(conn, contents))
            for row in rows:
                row[6] = content_ids[row[6]]
            _bulk_insert(conn, "examples", _EXAMPLE_COLUMNS, [tuple(row) for row in rows])
        if skips:
            _bulk_insert(conn, "example_skips", ("commit_id", "reason", "count"), skips)
        for chunk in _chunks(ids):
            conn.exec_driver_sql(
                f"UPDATE commits SET examples_built = {_marker(conn)}"
                f" WHERE id IN ({_markers(conn, len(chunk))})",
                (True, *chunk),
            )


_EXAMPLE_COLUMNS = (
    "commit_id",
    "path",
    "kind",
    "name",
    "qualname",
    "change",
    "content_id",
    "resolved",
    "unresolved",
    "secrets",
)


def commits_without_examples(conn: Connection, repo: int) -> list[tuple[int, str]]:
    """(id, oid) of the repo's stored commits whose examples are not built yet (a sync
    stopped between a commit's two transactions), in the order they were written."""
    c = m.commits.c
    with _tx(conn):
        query = (
            select(c.id, c.oid).where(c.repo_id == repo, c.examples_built == false()).order_by(c.id)
        )
        return [(row.id, row.oid) for row in conn.execute(query)]


def _delete_commit(conn: Connection, repo: int, oid: str) -> None:
    ids = select(m.commits.c.id).where(m.commits.c.repo_id == repo, m.commits.c.oid == oid)
    conn.execute(delete(m.changes).where(m.changes.c.commit_id.in_(ids)))
    example_ids = select(m.examples.c.id).where(m.examples.c.commit_id.in_(ids))
    conn.execute(delete(m.example_tokens).where(m.example_tokens.c.example_id.in_(example_ids)))
    conn.execute(delete(m.examples).where(m.examples.c.commit_id.in_(ids)))
    conn.execute(delete(m.example_skips).where(m.example_skips.c.commit_id.in_(ids)))
    conn.execute(delete(m.commits).where(m.commits.c.repo_id == repo, m.commits.c.oid == oid))


def boundary_commits(conn: Connection, repo: int) -> list[str]:
    """Stored commits that were shallow-clone boundaries when they were indexed."""
    with _tx(conn):
        query = select(m.commits.c.oid).where(
            m.commits.c.repo_id == repo, m.commits.c.is_boundary == true()
        )
        return sorted(conn.execute(query).scalars())


@dataclass(frozen=True)
class Stats:
    commits: int
    merges: int
    boundaries: int
    changes: int
    blobs_by_status: dict[str, int]
    skips_by_reason: dict[str, int]  # never parsed: binary, too_large, symlink, ...
    partial_by_reason: dict[str, int]  # parsed in part: syntax_error
    items_by_kind: dict[str, int]
    uses: int
    examples: int
    distinct_examples: int  # examples of different content (exact duplicates stored once)
    redacted: dict[str, int]  # secrets redacted from examples, by detector
    redacted_examples: int  # examples with at least one
    example_skips: dict[str, int]
    store_bytes: int | None


def _blob_oids_of_repo(repo: int):  # noqa: ANN202 (a SQLAlchemy subquery)
    return (
        select(m.changes.c.new_blob)
        .join(m.commits, m.commits.c.id == m.changes.c.commit_id)
        .where(m.commits.c.repo_id == repo, m.changes.c.new_blob.is_not(None))
        .distinct()
        .scalar_subquery()
    )


def stats(conn: Connection, repo: int) -> Stats:
    """Counts for one repo: commits, its blobs by status and skip reason, items by kind.

    Blobs are counted once each, however many commits or repos hold them.
    """
    with _tx(conn):
        commits = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(m.commits.c.is_merge.cast(Integer)), 0),
                func.coalesce(func.sum(m.commits.c.is_boundary.cast(Integer)), 0),
            ).where(m.commits.c.repo_id == repo)
        ).one()
        change_rows = conn.execute(
            select(m.changes.c.entry, func.count(), func.count(m.changes.c.path.distinct()))
            .join(m.commits, m.commits.c.id == m.changes.c.commit_id)
            .where(m.commits.c.repo_id == repo)
            .group_by(m.changes.c.entry)
        ).all()
        in_repo = m.blobs.c.oid.in_(_blob_oids_of_repo(repo))
        blob_rows = conn.execute(
            select(m.blobs.c.status, m.blobs.c.reason, func.count())
            .where(in_repo)
            .group_by(m.blobs.c.status, m.blobs.c.reason)
        ).all()
        item_rows = conn.execute(
            select(m.items.c.kind, func.count())
            .join(m.blobs, m.blobs.c.id == m.items.c.blob_id)
            .where(in_repo)
            .group_by(m.items.c.kind)
        ).all()
        uses = conn.execute(
            select(func.count()).select_from(m.uses).join(m.blobs).where(in_repo)
        ).scalar_one()
        e = m.examples.c
        examples, distinct = conn.execute(
            select(func.count(), func.count(e.content_id.distinct()))
            .select_from(m.examples)
            .join(m.commits, m.commits.c.id == e.commit_id)
            .where(m.commits.c.repo_id == repo)
        ).one()
        redacted_rows = conn.execute(
            select(e.secrets)
            .join(m.commits, m.commits.c.id == e.commit_id)
            .where(m.commits.c.repo_id == repo, e.secrets != "")
        ).scalars()
        redacted: Counter[str] = Counter()
        redacted_examples = 0
        for secrets in redacted_rows:
            redacted.update(secrets.split())
            redacted_examples += 1
    by_status: dict[str, int] = {}
    skips: dict[str, int] = {}
    partial: dict[str, int] = {}
    for status, reason, count in blob_rows:
        by_status[status] = by_status.get(status, 0) + count
        if reason:
            into = skips if status == "skipped" else partial
            into[reason] = into.get(reason, 0) + count
    for entry, _count, paths in change_rows:
        if entry != "file":  # symlinks and submodules are never parsed: count their paths
            skips[entry] = paths
    size = None
    if conn.dialect.name == "sqlite" and conn.engine.url.database:
        db = Path(conn.engine.url.database)
        size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
    elif conn.dialect.name == "postgresql":  # the whole database: every repo it holds
        with _tx(conn):
            size = conn.execute(select(func.pg_database_size(func.current_database()))).scalar()
    return Stats(
        commits=commits[0],
        merges=int(commits[1]),
        boundaries=int(commits[2]),
        changes=sum(count for _entry, count, _paths in change_rows),
        blobs_by_status=dict(sorted(by_status.items())),
        skips_by_reason=dict(sorted(skips.items())),
        partial_by_reason=dict(sorted(partial.items())),
        items_by_kind=dict(sorted(item_rows)),
        uses=uses,
        examples=examples,
        distinct_examples=distinct,
        redacted=dict(sorted(redacted.items())),
        redacted_examples=redacted_examples,
        example_skips=example_skips(conn, repo),
        store_bytes=size,
    )


@dataclass(frozen=True)
class FoundItem:
    blob: str
    kind: str
    name: str
    qualname: str
    start_byte: int
    end_byte: int
    start_line: int
    end_line: int


def find_items(
    conn: Connection, blob_oids: Sequence[str], name: str, kind: str | None = None
) -> list[FoundItem]:
    """Items called `name` (or with that qualified name) in any of `blob_oids`."""
    found: list[FoundItem] = []
    with _tx(conn):
        for chunk in _chunks(blob_oids):
            query = (
                select(
                    m.blobs.c.oid,
                    m.items.c.kind,
                    m.items.c.name,
                    m.items.c.qualname,
                    m.items.c.start_byte,
                    m.items.c.end_byte,
                    m.items.c.start_line,
                    m.items.c.end_line,
                )
                .join(m.blobs, m.blobs.c.id == m.items.c.blob_id)
                .where(
                    m.blobs.c.oid.in_(chunk),
                    (m.items.c.name == name) | (m.items.c.qualname == name),
                )
            )
            if kind:
                query = query.where(m.items.c.kind == kind)
            found.extend(FoundItem(*row) for row in conn.execute(query))
    return found


def blob_symbols(
    conn: Connection, oid: str, kinds: Sequence[str] = ()
) -> tuple[list[tuple] | None, list[tuple]]:
    """What was parsed from a blob: its items, (kind, name, qualname, start_byte,
    item_byte, body_byte, end_byte) in file order (only those of `kinds`, if given),
    or None if the blob was skipped or is not in the store; and its uses, (path,
    alias, is_glob, scope, line) in order.

    Three statements on the driver's own cursor: example building asks this of every
    blob it meets, and SQLAlchemy's statement and result handling cost more than the
    database's answer."""
    marker = _marker(conn)
    of_kinds = f" AND kind IN ({_markers(conn, len(kinds))})" if kinds else ""
    with _tx(conn):
        cursor = conn.connection.dbapi_connection.cursor()
        try:
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
                "SELECT path, alias, is_glob, scope, line FROM uses"
                f" WHERE blob_id = {marker} ORDER BY id",
                (found[0],),
            )
            uses = cursor.fetchall()
        finally:
            cursor.close()
    return items, [
        (path, alias, bool(glob), scope, line) for path, alias, glob, scope, line in uses
    ]


@dataclass(frozen=True)
class StoredExample:
    id: int
    commit: str
    parents: str
    date: int
    path: str
    kind: str
    name: str
    qualname: str
    change: str
    segments: tuple[tuple[str, str, tuple[str, ...]], ...]
    target: str
    resolved: tuple[str, ...]
    unresolved: tuple[str, ...]
    content_id: int  # equal for examples of equal content (segments and target)
    secrets: tuple[str, ...]  # the detector of each secret redacted


def _stored_example(row: Sequence) -> StoredExample:
    segments = tuple((k, t, tuple(v)) for k, t, v in json.loads(row[9]))
    return StoredExample(
        *row[:9],
        segments=segments,
        target=row[10],
        resolved=tuple(json.loads(row[11])),
        unresolved=tuple(json.loads(row[12])),
        content_id=row[13],
        secrets=tuple(row[14].split()),
    )


def _example_order(e: StoredExample) -> tuple[str, str, str, str]:
    # Sorted here, not by ORDER BY: PostgreSQL compares text by the database's
    # collation, which varies between servers; Python compares code points.
    return (e.commit, e.path, e.kind, e.qualname)


def _example_query():  # noqa: ANN202 (a SQLAlchemy select)
    e, c, x = m.examples.c, m.commits.c, m.example_contents.c
    return (
        select(
            e.id,
            c.oid,
            c.parents,
            c.committer_time,
            e.path,
            e.kind,
            e.name,
            e.qualname,
            e.change,
            x.segments,
            x.target,
            e.resolved,
            e.unresolved,
            e.content_id,
            e.secrets,
        )
        .join(m.commits, m.commits.c.id == e.commit_id)
        .join(m.example_contents, x.id == e.content_id)
    )


def commit_examples(conn: Connection, repo: int, oid: str) -> list[StoredExample]:
    """The examples of one commit, by path, kind and qualified name."""
    query = _example_query().where(m.commits.c.repo_id == repo, m.commits.c.oid == oid)
    with _tx(conn):
        return sorted(map(_stored_example, conn.execute(query)), key=_example_order)


def example_skips(conn: Connection, repo: int, oid: str | None = None) -> dict[str, int]:
    """What changes did not become examples, by reason (for one commit, or all)."""
    s, c = m.example_skips.c, m.commits.c
    query = (
        select(s.reason, func.sum(s.count))
        .join(m.commits, c.id == s.commit_id)
        .where(c.repo_id == repo)
        .group_by(s.reason)
    )
    if oid is not None:
        query = query.where(c.oid == oid)
    with _tx(conn):
        return {reason: int(n) for reason, n in sorted(conn.execute(query).all())}


def add_tokenizer(conn: Connection, sha256: str, name: str, kind: str, data: bytes) -> int:
    """The id of a tokenizer model file in the store, added on first sight."""
    t = m.tokenizers.c
    query = select(t.id).where(t.sha256 == sha256)
    with _tx(conn):
        found = conn.execute(query).scalar()
        if found is None:
            new = _upsert(conn, m.tokenizers).values(sha256=sha256, name=name, kind=kind, data=data)
            conn.execute(new.on_conflict_do_nothing())
            found = conn.execute(query).scalar_one()
    return found


def set_repo_tokenizer(conn: Connection, repo: int, tokenizer_id: int, template: str) -> None:
    new = _upsert(conn, m.repo_tokenizers).values(
        repo_id=repo, tokenizer_id=tokenizer_id, template=template
    )
    with _tx(conn):
        conn.execute(
            new.on_conflict_do_update(
                index_elements=[m.repo_tokenizers.c.repo_id],
                set_={"tokenizer_id": tokenizer_id, "template": template},
            )
        )


@dataclass(frozen=True)
class StoredTokenizer:
    id: int
    sha256: str
    name: str
    kind: str
    data: bytes
    template: str


def repo_tokenizer(conn: Connection, repo: int) -> StoredTokenizer | None:
    """The tokenizer and template this repo's examples are tokenized with, if set."""
    t, r = m.tokenizers.c, m.repo_tokenizers.c
    query = (
        select(t.id, t.sha256, t.name, t.kind, t.data, r.template)
        .join(m.repo_tokenizers, r.tokenizer_id == t.id)
        .where(r.repo_id == repo)
    )
    with _tx(conn):
        row = conn.execute(query).first()
    return StoredTokenizer(*row) if row else None


def examples_of(conn: Connection, repo: int, oids: Sequence[str]) -> list[StoredExample]:
    """The examples of these commits, by commit, path, kind and qualified name."""
    found: list[StoredExample] = []
    with _tx(conn):
        for chunk in _chunks(oids):
            query = _example_query().where(m.commits.c.repo_id == repo, m.commits.c.oid.in_(chunk))
            found.extend(_stored_example(row) for row in conn.execute(query))
    return sorted(found, key=_example_order)


def cached_tokens(
    conn: Connection, example_ids: Sequence[int], tokenizer_id: int, template: str
) -> dict[int, bytes]:
    k = m.example_tokens.c
    found: dict[int, bytes] = {}
    with _tx(conn):
        for start in range(0, len(example_ids), _IN_CHUNK):
            query = select(k.example_id, k.data).where(
                k.example_id.in_(example_ids[start : start + _IN_CHUNK]),
                k.tokenizer_id == tokenizer_id,
                k.template == template,
            )
            found.update((i, bytes(d)) for i, d in conn.execute(query))
    return found


def save_tokens(
    conn: Connection, tokenizer_id: int, template: str, encoded: dict[int, bytes]
) -> None:
    rows = [
        {"example_id": i, "tokenizer_id": tokenizer_id, "template": template, "data": d}
        for i, d in sorted(encoded.items())
    ]
    if rows:
        with _tx(conn):
            # Two exports at once may encode the same examples: the tokens are equal,
            # keep the first.
            conn.execute(_upsert(conn, m.example_tokens).on_conflict_do_nothing(), rows)


@dataclass(frozen=True)
class Collected:
    commits: int
    examples: int
    blobs: int


def collect_garbage(conn: Connection, repo: int, reachable: set[str]) -> Collected:
    """Delete this repo's commits that are not in `reachable` (with their changes and
    examples), then every blob that no stored change of any repo introduces."""
    c, ch, e = m.commits.c, m.changes.c, m.examples.c
    with _tx(conn):
        stored = conn.execute(select(c.id, c.oid).where(c.repo_id == repo)).all()
        dead = [cid for cid, oid in stored if oid not in reachable]
        examples = 0
        for start in range(0, len(dead), _IN_CHUNK):
            ids = dead[start : start + _IN_CHUNK]
            example_ids = select(e.id).where(e.commit_id.in_(ids))
            conn.execute(
                delete(m.example_tokens).where(m.example_tokens.c.example_id.in_(example_ids))
            )
            examples += conn.execute(delete(m.examples).where(e.commit_id.in_(ids))).rowcount
            conn.execute(delete(m.example_skips).where(m.example_skips.c.commit_id.in_(ids)))
            conn.execute(delete(m.changes).where(ch.commit_id.in_(ids)))
            conn.execute(delete(m.commits).where(c.id.in_(ids)))
        used = select(e.content_id).distinct()
        conn.execute(delete(m.example_contents).where(m.example_contents.c.id.not_in(used)))
        live = select(ch.new_blob).where(ch.new_blob.is_not(None))
        dead_blobs = select(m.blobs.c.id).where(m.blobs.c.oid.not_in(live))
        for table in (m.items, m.uses, m.mods):
            conn.execute(delete(table).where(table.c.blob_id.in_(dead_blobs)))
        blobs = conn.execute(delete(m.blobs).where(m.blobs.c.oid.not_in(live))).rowcount
    return Collected(len(dead), examples, blobs)
