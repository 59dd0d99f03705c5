"""Blobs an older parser read, brought up to date before a repo's examples are built
again for a new builder (a parser change that changes what examples hold comes with
a new `shapes.BUILDER_VERSION`, so `sync` calls this when the repo's examples are
older). Only the blobs that could parse differently (`rust.changed_since`) are parsed
again; the others are only marked as this parser's. A blob git does not have here
(another repo's, in a shared store) waits for that repo's sync.
"""

from __future__ import annotations

import pygit2
from sqlalchemy import Connection

from indexer.index.parsing import BlobParser, ParseResult
from indexer.rust import changed_since
from indexer.store.commits import outdated_blobs, update_blobs

BATCH_BLOBS = 500  # blobs parsed again per transaction: what waits in memory to be written


def reparse_outdated(conn: Connection, repo: pygit2.Repository, max_bytes: int) -> int:
    """Bring the store's blobs of an older parser that `repo` holds up to date; how
    many were parsed again."""
    parser = BlobParser(repo, max_bytes)
    parsed: ParseResult = []
    unchanged: list[str] = []
    count = 0
    for oid, version in outdated_blobs(conn):
        if oid not in repo:
            continue
        if changed_since(version, repo[oid].data):
            parsed.append(parser.parse(oid))
            count += 1
        else:
            unchanged.append(oid)
        if len(parsed) >= BATCH_BLOBS:
            update_blobs(conn, parsed, unchanged)
            parsed, unchanged = [], []
    update_blobs(conn, parsed, unchanged)
    return count
