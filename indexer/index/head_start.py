"""A backfill into a new store starts parsing before it opens the store.

Importing SQLAlchemy and the store's modules takes the first 0.3-0.45 s of a
backfill, on one core. When the store is a SQLite file that does not exist yet, the
sync will ask for every blob of the history, in walk order: so the parser pool is
started first, from this process with only git and tree-sitter imported, and its
first worker parses the history from its start (`ParserPool.start_history`) until
the sync's first real batch arrives. Its workers never import SQLAlchemy for a
SQLite store (`symbols.build_in_worker` reads it with sqlite3).
"""

from __future__ import annotations

import os

import pygit2

from indexer import git
from indexer.errors import IndexerError
from indexer.index.parsing import ParserPool
from indexer.store_location import is_new_sqlite_file, store_url


def start(
    repo_path: str, db: str | None, remotes: bool, workers: int | None, max_bytes: int
) -> ParserPool | None:
    """The pool a backfill of `repo_path` will use, already parsing; None where there
    is nothing to gain (one core, a store that exists, on a server, an empty repo)
    or the repo cannot be opened (the sync then says why)."""
    workers = workers or os.cpu_count() or 1
    if workers < 2:
        return None
    try:
        repo = git.open_repo(repo_path)
        if not is_new_sqlite_file(store_url(repo, git.common_dir(repo), db)):
            return None
        tips = git.ref_tips(repo, remotes=remotes)
    except (IndexerError, pygit2.GitError):
        return None
    if not tips:
        return None
    pool = ParserPool(repo.path, workers - 1, max_bytes)
    pool.start_history(tips)
    return pool
