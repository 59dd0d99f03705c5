"""The store's training examples: their contents (stored once each), skip counts,
tokenizers and cached token ids. Written by a sync, read by `show`, `export` and the
snapshot; the commits and symbols they come from are `commits.py`'s.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Select, delete, false, func, select, update

from indexer.shapes import EDIT_TYPES, Example, Segment
from indexer.store import models as m
from indexer.store.sql import bulk_insert, chunks, marker, markers, rows_in, tx, upsert


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
    found = dict(rows_in(conn, select_ids, keys))
    new = [(k, *contents[k]) for k in keys if k not in found]
    if new:
        conn.exec_driver_sql(
            "INSERT INTO example_contents (sha256, segments, target)"
            f" VALUES ({markers(conn, 3)}) ON CONFLICT (sha256) DO NOTHING",
            new,
        )
        found.update(rows_in(conn, select_ids, [k for k, _s, _t in new]))
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
    with tx(conn):
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
                        e.edit_type,
                        None
                        if e.origin is None
                        else json.dumps(list(e.origin), ensure_ascii=False),
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
            bulk_insert(conn, "examples", _EXAMPLE_COLUMNS, [tuple(row) for row in rows])
        if skips:
            bulk_insert(conn, "example_skips", ("commit_id", "reason", "count"), skips)
        for chunk in chunks(ids):
            conn.exec_driver_sql(
                f"UPDATE commits SET examples_built = {marker(conn)}"
                f" WHERE id IN ({markers(conn, len(chunk))})",
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
    "edit_type",
    "origin",
)


def commits_without_examples(conn: Connection, repo: int) -> list[tuple[int, str]]:
    """(id, oid) of the repo's stored commits whose examples are not built yet (a sync
    stopped between a commit's two transactions), in the order they were written."""
    c = m.commits.c
    with tx(conn):
        query = (
            select(c.id, c.oid).where(c.repo_id == repo, c.examples_built == false()).order_by(c.id)
        )
        return [(row.id, row.oid) for row in conn.execute(query)]


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
    edit_type: str  # shapes.EDIT_TYPES
    origin: tuple[str, str] | None  # (path, qualname) of the old version, when elsewhere


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
        edit_type=row[15],
        origin=_origin(row[16]),
    )


def _origin(stored: str | None) -> tuple[str, str] | None:
    """An example's `origin` column: JSON [path, qualname], or NULL."""
    return None if stored is None else tuple(json.loads(stored))  # type: ignore[return-value]


def _example_order(e: StoredExample) -> tuple[str, str, str, str]:
    # Sorted here, not by ORDER BY: PostgreSQL compares text by the database's
    # collation, which varies between servers; Python compares code points.
    return (e.commit, e.path, e.kind, e.qualname)


def _example_query() -> Select:
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
            e.edit_type,
            e.origin,
        )
        .join(m.commits, m.commits.c.id == e.commit_id)
        .join(m.example_contents, x.id == e.content_id)
    )


def commit_examples(conn: Connection, repo: int, oid: str) -> list[StoredExample]:
    """The examples of one commit, by path, kind and qualified name."""
    query = _example_query().where(m.commits.c.repo_id == repo, m.commits.c.oid == oid)
    with tx(conn):
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
    with tx(conn):
        return {reason: int(n) for reason, n in sorted(conn.execute(query).all())}


def add_tokenizer(conn: Connection, sha256: str, name: str, kind: str, data: bytes) -> int:
    """The id of a tokenizer model file in the store, added on first sight."""
    t = m.tokenizers.c
    query = select(t.id).where(t.sha256 == sha256)
    with tx(conn):
        found = conn.execute(query).scalar()
        if found is None:
            new = upsert(conn, m.tokenizers).values(sha256=sha256, name=name, kind=kind, data=data)
            conn.execute(new.on_conflict_do_nothing())
            found = conn.execute(query).scalar_one()
    return found


def set_repo_tokenizer(conn: Connection, repo: int, tokenizer_id: int, template: str) -> None:
    new = upsert(conn, m.repo_tokenizers).values(
        repo_id=repo, tokenizer_id=tokenizer_id, template=template
    )
    with tx(conn):
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
    with tx(conn):
        row = conn.execute(query).first()
    return StoredTokenizer(*row) if row else None


def examples_of(conn: Connection, repo: int, oids: Sequence[str]) -> list[StoredExample]:
    """The examples of these commits, by commit, path, kind and qualified name."""
    found: list[StoredExample] = []
    with tx(conn):
        for chunk in chunks(oids):
            query = _example_query().where(m.commits.c.repo_id == repo, m.commits.c.oid.in_(chunk))
            found.extend(_stored_example(row) for row in conn.execute(query))
    return sorted(found, key=_example_order)


def cached_tokens(
    conn: Connection, example_ids: Sequence[int], tokenizer_id: int, template: str
) -> dict[int, bytes]:
    k = m.example_tokens.c
    found: dict[int, bytes] = {}
    with tx(conn):
        for chunk in chunks(example_ids):
            query = select(k.example_id, k.data).where(
                k.example_id.in_(chunk),
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
        with tx(conn):
            # Two exports at once may encode the same examples: the tokens are equal,
            # keep the first.
            conn.execute(upsert(conn, m.example_tokens).on_conflict_do_nothing(), rows)


@dataclass(frozen=True)
class ExampleCounts:
    examples: int
    distinct: int  # of different content (exact duplicates are stored once)
    redacted: dict[str, int]  # secrets redacted from examples, by detector
    redacted_examples: int  # examples with at least one
    resolved: int  # names found in other files, over all examples
    unresolved: dict[str, int]  # names not, by why: not found, external, ambiguous, ...
    edit_types: dict[str, int]  # examples by what their edit changed (shapes.EDIT_TYPES)


def example_counts(conn: Connection, repo: int) -> ExampleCounts:
    """How many examples one repo's commits have, of how many contents, the secrets
    redacted from them, and how the names they use were resolved."""
    e = m.examples.c
    in_repo = (m.commits, m.commits.c.id == e.commit_id)
    with tx(conn):
        examples, distinct = conn.execute(
            select(func.count(), func.count(e.content_id.distinct()))
            .select_from(m.examples)
            .join(*in_repo)
            .where(m.commits.c.repo_id == repo)
        ).one()
        edit_types = conn.execute(
            select(e.edit_type, func.count())
            .join(*in_repo)
            .where(m.commits.c.repo_id == repo)
            .group_by(e.edit_type)
        ).all()
        rows = conn.execute(
            select(e.secrets, e.resolved, e.unresolved)
            .join(*in_repo)
            .where(m.commits.c.repo_id == repo)
        )
        redacted: Counter[str] = Counter()
        redacted_examples = resolved = 0
        unresolved: Counter[str] = Counter()
        for secrets, found, missed in rows:
            if secrets:
                redacted.update(secrets.split())
                redacted_examples += 1
            resolved += len(json.loads(found))
            unresolved.update(_why(line) for line in json.loads(missed))
    return ExampleCounts(
        examples,
        distinct,
        dict(sorted(redacted.items())),
        redacted_examples,
        resolved,
        dict(unresolved.most_common()),
        {kind: n for kind in EDIT_TYPES for k, n in edit_types if k == kind},
    )


def _why(unresolved: str) -> str:
    """The reason of an unresolved name, "X (external: foo)", without its crate."""
    reason = unresolved.rpartition(" (")[2].rstrip(")")
    return reason.split(":")[0]


def examples_version(conn: Connection, repo: int) -> int:
    """The version of example building the repo's stored examples come from."""
    with tx(conn):
        query = select(m.repos.c.examples_version).where(m.repos.c.id == repo)
        return conn.execute(query).scalar_one()


def drop_examples(conn: Connection, repo: int, version: int) -> int:
    """Delete the repo's examples (with their skip counts and token ids) and mark its
    commits as having none built, for a sync to build them again with `version`; how
    many commits that makes to build."""
    c, e = m.commits.c, m.examples.c
    with tx(conn):
        commit_ids = select(c.id).where(c.repo_id == repo)
        example_ids = select(e.id).where(e.commit_id.in_(commit_ids))
        conn.execute(delete(m.example_tokens).where(m.example_tokens.c.example_id.in_(example_ids)))
        conn.execute(delete(m.examples).where(e.commit_id.in_(commit_ids)))
        conn.execute(delete(m.example_skips).where(m.example_skips.c.commit_id.in_(commit_ids)))
        used = select(e.content_id).distinct()
        conn.execute(delete(m.example_contents).where(m.example_contents.c.id.not_in(used)))
        makes = (c.repo_id == repo) & (c.is_merge == false()) & (c.is_boundary == false())
        rebuilt = conn.execute(update(m.commits).where(makes).values(examples_built=False)).rowcount
        conn.execute(update(m.repos).where(m.repos.c.id == repo).values(examples_version=version))
    return rebuilt


@dataclass(frozen=True)
class ExampleHead:
    """What an export decides an example's fate by, without its segments."""

    id: int
    commit: str
    path: str
    kind: str
    qualname: str
    edit_type: str
    origin: tuple[str, str] | None
    target: str


def example_heads(conn: Connection, repo: int, oids: Sequence[str]) -> list[ExampleHead]:
    """The examples of these commits as heads, by commit, path, kind and qualified name."""
    e, c, x = m.examples.c, m.commits.c, m.example_contents.c
    found: list[ExampleHead] = []
    with tx(conn):
        for chunk in chunks(oids):
            query = (
                select(e.id, c.oid, e.path, e.kind, e.qualname, e.edit_type, e.origin, x.target)
                .join(m.commits, c.id == e.commit_id)
                .join(m.example_contents, x.id == e.content_id)
                .where(c.repo_id == repo, c.oid.in_(chunk))
            )
            found.extend(
                ExampleHead(*row[:6], _origin(row[6]), row[7]) for row in conn.execute(query)
            )
    return sorted(found, key=lambda h: (h.commit, h.path, h.kind, h.qualname))


def commit_notes(conn: Connection, repo: int, oids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """{oid: (author name, message)} of these commits (the message as stored: redacted)."""
    c = m.commits.c
    found: dict[str, tuple[str, str]] = {}
    with tx(conn):
        for chunk in chunks(oids):
            query = select(c.oid, c.author_name, c.message).where(
                c.repo_id == repo, c.oid.in_(chunk)
            )
            found.update((oid, (author, message)) for oid, author, message in conn.execute(query))
    return found


def renames(conn: Connection, repo: int, oids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """{oid: [(old path, path), ...]} of the files these commits renamed."""
    c, k = m.commits.c, m.changes.c
    found: dict[str, list[tuple[str, str]]] = {}
    with tx(conn):
        for chunk in chunks(oids):
            query = (
                select(c.oid, k.old_path, k.path)
                .join(m.commits, c.id == k.commit_id)
                .where(c.repo_id == repo, c.oid.in_(chunk), k.status == "R")
                .order_by(k.id)
            )
            for oid, old_path, path in conn.execute(query):
                found.setdefault(oid, []).append((old_path, path))
    return found


@dataclass(frozen=True)
class ItemPlace:
    """Where an example's item stands in the file its commit leaves: the new blob and
    the item's bytes in it (several when the file defines it more than once)."""

    blob: str
    spans: tuple[tuple[int, int], ...]  # (start_byte, end_byte), in file order


def item_places(conn: Connection, repo: int, ids: Sequence[int]) -> dict[int, ItemPlace]:
    """{example id: ItemPlace} of these examples (`--unit commit` orders a commit's
    items by them, `--target fim` cuts the file around them)."""
    e, k, b, i = m.examples.c, m.changes.c, m.blobs.c, m.items.c
    spans: dict[int, tuple[str, list[tuple[int, int]]]] = {}
    with tx(conn):
        for chunk in chunks(ids):
            query = (
                select(e.id, k.new_blob, i.start_byte, i.end_byte)
                .join(m.changes, (k.commit_id == e.commit_id) & (k.path == e.path))
                .join(m.blobs, b.oid == k.new_blob)
                .join(
                    m.items, (i.blob_id == b.id) & (i.kind == e.kind) & (i.qualname == e.qualname)
                )
                .where(e.id.in_(chunk))
            )
            for example_id, blob, start, end in conn.execute(query):
                spans.setdefault(example_id, (blob, []))[1].append((start, end))
    return {n: ItemPlace(blob, tuple(sorted(set(s)))) for n, (blob, s) in spans.items()}
