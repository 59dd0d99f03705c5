"""Commits in the store: write one indexed commit (its changes, new blobs and their
symbols), answer queries about them, and collect what no ref reaches. Its examples,
tokenizers and token ids are `examples.py`'s.

Everything here takes and returns plain data (`rust.ParsedBlob`, `git.CommitInfo`,
dicts and tuples); ORM models never leave the store. Writes use Core inserts
because a backfill writes millions of item rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Protocol

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    delete,
    func,
    select,
    true,
    update,
)

from indexer.git import CommitInfo, FileChange
from indexer.rust import PARSER_VERSION, Item, ParsedBlob, Use
from indexer.rust import ModDecl as RustModDecl
from indexer.store import models as m
from indexer.store.examples import example_counts, example_skips
from indexer.store.sql import (
    bulk_insert,
    chunks,
    driver_cursor,
    insert_returning_id,
    marker,
    rows_in,
    tx,
    upsert,
)


def repo_id(conn: Connection, path: str) -> int:
    """The id of the repo at `path` (its git common dir), added on first use."""
    query = select(m.repos.c.id).where(m.repos.c.path == path)
    with tx(conn):
        found = conn.execute(query).scalar()
        if found is None:
            new = upsert(conn, m.repos).values(path=path, synced_tips="")
            conn.execute(new.on_conflict_do_nothing())
            found = conn.execute(query).scalar_one()
    return found


def synced_tips(conn: Connection, repo: int) -> list[str]:
    with tx(conn):
        tips = conn.execute(select(m.repos.c.synced_tips).where(m.repos.c.id == repo)).scalar_one()
    return tips.split()


def set_synced_tips(conn: Connection, repo: int, tips: Sequence[str]) -> None:
    with tx(conn):
        conn.execute(update(m.repos).where(m.repos.c.id == repo).values(synced_tips=" ".join(tips)))


def known_commits(conn: Connection, repo: int, oids: Sequence[str]) -> set[str]:
    """Which of `oids` this repo's store already holds."""
    sql = f"SELECT oid FROM commits WHERE repo_id = {marker(conn)} AND oid IN"
    with tx(conn):
        return {oid for (oid,) in rows_in(conn, sql, oids, repo)}


def known_blobs(conn: Connection, oids: Sequence[str]) -> set[str]:
    """Which of `oids` have been parsed (or skipped with a reason) already, by any repo."""
    with tx(conn):
        return {oid for (oid,) in rows_in(conn, "SELECT oid FROM blobs WHERE oid IN", oids)}


_CHANGE_FIELDS = tuple(f.name for f in fields(FileChange))


def write_blobs(conn: Connection, blobs: Iterable[tuple[str, int, ParsedBlob]]) -> None:
    """Write parsed blobs (oid, size, what it holds) with their items, uses and mods."""
    with tx(conn):
        parsed = [
            (insert_returning_id(conn, "blobs", _blob_row(oid, size, blob)), blob)
            for oid, size, blob in blobs
        ]
        _write_symbols(conn, parsed)


def _blob_row(oid: str, size: int, parsed: ParsedBlob) -> dict:
    return {
        "oid": oid,
        "size": size,
        "status": parsed.status,
        "reason": parsed.reason,
        "parser_version": PARSER_VERSION,
    }


def _write_symbols(conn: Connection, blobs: Iterable[tuple[int, ParsedBlob]]) -> None:
    """The items, uses and mods of blobs (by id), in one insert per table."""
    items: list[tuple] = []
    uses: list[tuple] = []
    mods: list[tuple] = []
    for blob_id, parsed in blobs:
        items.extend((blob_id, *i) for i in parsed.items)
        uses.extend((blob_id, *u) for u in parsed.uses)
        mods.extend((blob_id, *d) for d in parsed.mods)
    for table, names, rows in (
        (m.items, Item._fields, items),
        (m.uses, Use._fields, uses),
        (m.mods, RustModDecl._fields, mods),
    ):
        if rows:
            bulk_insert(conn, table.name, ("blob_id", *names), rows)


def outdated_blobs(conn: Connection) -> list[tuple[str, int]]:
    """(oid, parser version) of the stored blobs an older parser read, of any repo."""
    query = select(m.blobs.c.oid, m.blobs.c.parser_version).where(
        m.blobs.c.parser_version < PARSER_VERSION
    )
    with tx(conn):
        return [(oid, version) for oid, version in conn.execute(query.order_by(m.blobs.c.oid))]


def update_blobs(
    conn: Connection, parsed: Iterable[tuple[str, int, ParsedBlob]], unchanged: Sequence[str]
) -> None:
    """Bring blobs an older parser read up to date, in one transaction: the `parsed`
    ones again (their rows replaced), the `unchanged` ones (which this parser reads as
    that one did) only marked as this parser's."""
    b = m.blobs.c
    with tx(conn):
        replaced = []
        for oid, size, blob in parsed:
            blob_id = conn.execute(select(b.id).where(b.oid == oid)).scalar_one()
            for table in (m.items, m.uses, m.mods):
                conn.execute(delete(table).where(table.c.blob_id == blob_id))
            conn.execute(update(m.blobs).where(b.id == blob_id).values(_blob_row(oid, size, blob)))
            replaced.append((blob_id, blob))
        _write_symbols(conn, replaced)
        for chunk in chunks(list(unchanged)):
            conn.execute(
                update(m.blobs).where(b.oid.in_(chunk)).values(parser_version=PARSER_VERSION)
            )


def write_commit(
    conn: Connection,
    repo: int,
    info: CommitInfo,
    changes: Iterable[FileChange],
    blobs: Iterable[tuple[str, int, ParsedBlob]],
    *,
    makes_examples: bool,
    replace: bool = False,
) -> int:
    """Write one commit with its changed files and newly parsed blobs, in one transaction.

    Parents are written before children, so a stored commit implies stored ancestors;
    a crash loses at most the commit in flight. `makes_examples` False marks its
    examples as built (there are none to build). `replace` first removes the stored
    commit of that oid (a shallow boundary written again with its real parents).
    """
    with tx(conn):
        if replace:
            _delete_commit(conn, repo, info.oid)
        write_blobs(conn, blobs)
        row = {
            "repo_id": repo,
            **vars(info),
            "parents": " ".join(info.parents),
            "is_merge": len(info.parents) > 1,
            "examples_built": not makes_examples,
        }
        commit_id = insert_returning_id(conn, "commits", row)
        rows = [(commit_id, *astuple(c)) for c in changes]
        if rows:
            bulk_insert(conn, "changes", ("commit_id", *_CHANGE_FIELDS), rows)
    return commit_id


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
    with tx(conn):
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
    resolved: int  # names found in other files, over all examples
    unresolved: dict[str, int]  # names not, by why
    edit_types: dict[str, int]  # examples by what their edit changed
    example_skips: dict[str, int]
    store_bytes: int | None


def _blob_oids_of_repo(repo: int) -> Select:
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
    with tx(conn):
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
    by_status, skips, partial = _blob_counts(blob_rows, change_rows)
    examples = example_counts(conn, repo)
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
        examples=examples.examples,
        distinct_examples=examples.distinct,
        redacted=examples.redacted,
        redacted_examples=examples.redacted_examples,
        resolved=examples.resolved,
        unresolved=examples.unresolved,
        edit_types=examples.edit_types,
        example_skips=example_skips(conn, repo),
        store_bytes=_store_bytes(conn),
    )


def _blob_counts(
    blob_rows: Iterable[tuple[str, str | None, int]], change_rows: Iterable[tuple[str, int, int]]
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Blobs by status, by the reason they were skipped, by the reason they were parsed
    only in part; symlinks and submodules (never parsed) count their paths."""
    by_status: dict[str, int] = {}
    skips: dict[str, int] = {}
    partial: dict[str, int] = {}
    for status, reason, count in blob_rows:
        by_status[status] = by_status.get(status, 0) + count
        if reason:
            into = skips if status == "skipped" else partial
            into[reason] = into.get(reason, 0) + count
    for entry, _count, paths in change_rows:
        if entry != "file":
            skips[entry] = paths
    return by_status, skips, partial


def _store_bytes(conn: Connection) -> int | None:
    """The store's size on disk: a SQLite file with its WAL, or a PostgreSQL database
    (every repo it holds)."""
    if conn.dialect.name == "sqlite" and conn.engine.url.database:
        db = Path(conn.engine.url.database)
        return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
    if conn.dialect.name == "postgresql":
        with tx(conn):
            return conn.execute(select(func.pg_database_size(func.current_database()))).scalar()
    return None


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
    with tx(conn):
        for chunk in chunks(blob_oids):
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


# (kind, name, qualname, start_byte, item_byte, body_byte, end_byte) in file order, or
# None if the blob was skipped or is not in the store; (path, alias, is_glob, scope,
# line) of its uses, in order; (name, scope, inline, line, path, crate) of its mods.
BlobRows = tuple[list[tuple] | None, list[tuple], list[tuple]]


class Cursor(Protocol):
    """What `read_rows` needs of a DB-API cursor (sqlite3's, or the driver's under a
    SQLAlchemy connection)."""

    def execute(self, sql: str, params: tuple, /) -> object: ...

    def fetchone(self) -> tuple | None: ...

    def fetchall(self) -> list[tuple]: ...


def _read_rows(cursor: Cursor, marker: str, oid: str, kinds: Sequence[str] = ()) -> BlobRows:
    """A blob's rows (its items only of `kinds`, if given), with `marker` the driver's
    parameter placeholder."""
    of_kinds = f" AND kind IN ({', '.join([marker] * len(kinds))})" if kinds else ""
    cursor.execute(f"SELECT id, status FROM blobs WHERE oid = {marker}", (oid,))
    found = cursor.fetchone()
    if found is None or found[1] == "skipped":
        return None, [], []
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
    cursor.execute(
        "SELECT name, scope, inline, line, path, crate FROM mods"
        f" WHERE blob_id = {marker} ORDER BY id",
        (found[0],),
    )
    mods = cursor.fetchall()
    return (
        items,
        [(path, alias, bool(glob), scope, line) for path, alias, glob, scope, line in uses],
        [(name, scope, bool(inline), *rest) for name, scope, inline, *rest in mods],
    )


def blob_symbols(conn: Connection, oid: str, kinds: Sequence[str] = ()) -> BlobRows:
    """What was parsed from a blob (`_read_rows`), read in `conn`'s transaction.

    On the driver's own cursor: example building asks this of every blob it meets,
    and SQLAlchemy's statement and result handling cost more than the database's
    answer."""
    with tx(conn), driver_cursor(conn, "blob_symbols") as cursor:
        return _read_rows(cursor, marker(conn), oid, kinds)


@dataclass(frozen=True)
class Collected:
    commits: int
    examples: int
    blobs: int


def collect_garbage(conn: Connection, repo: int, reachable: set[str]) -> Collected:
    """Delete this repo's commits that are not in `reachable` (with their changes and
    examples), then every blob that no stored change of any repo introduces."""
    c, ch, e = m.commits.c, m.changes.c, m.examples.c
    with tx(conn):
        stored = conn.execute(select(c.id, c.oid).where(c.repo_id == repo)).all()
        dead = [cid for cid, oid in stored if oid not in reachable]
        examples = 0
        for ids in chunks(dead):
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


def repos_here(conn: Connection) -> list[tuple[int, str]]:
    """(id, path) of the store's repos whose git dir is on this machine, by path."""
    with tx(conn):
        found = conn.execute(select(m.repos.c.id, m.repos.c.path).order_by(m.repos.c.path)).all()
    return [(rid, path) for rid, path in found if Path(path).is_dir()]


def repos_not_here(conn: Connection, keep: int) -> list[tuple[int, str]]:
    """(id, path) of the store's repos, but `keep`, whose git dir is not on this
    machine: moved, deleted, or another machine's (a shared store)."""
    with tx(conn):
        found = conn.execute(select(m.repos.c.id, m.repos.c.path).order_by(m.repos.c.path)).all()
    return [(rid, path) for rid, path in found if rid != keep and not Path(path).is_dir()]


def drop_repo(conn: Connection, repo: int) -> Collected:
    """Delete a repo with everything only it holds (its commits, their examples, and
    blobs no other repo's changes introduce)."""
    collected = collect_garbage(conn, repo, set())
    with tx(conn):
        conn.execute(delete(m.repo_tokenizers).where(m.repo_tokenizers.c.repo_id == repo))
        conn.execute(delete(m.repos).where(m.repos.c.id == repo))
    return collected
