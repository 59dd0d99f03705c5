"""The symbol table as example building reads it: each blob's items and uses from the
store, trees and code from git, with small caches (a blob never changes, and the
commits of a history share most of their files)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import pygit2
from sqlalchemy import Connection

from indexer import git
from indexer import store as st
from indexer.context import BlobIndex, Definition, index_blob
from indexer.examples import Built, build_examples
from indexer.git import CommitInfo, FileChange
from indexer.rust import ParsedBlob, Use

T = TypeVar("T")

CACHE_BLOBS = 1024
CACHE_TREES = 8
CACHE_CODE = 64  # blobs whose bytes are kept: a commit's files and their definitions
CACHE_MEMO = 512  # derived data of blobs (two entries a blob: its children, its keys)


class StoreSource:
    """`examples.Source` over a store connection and a repository."""

    def __init__(self, repo: pygit2.Repository, conn: Connection) -> None:
        self.repo, self.conn = repo, conn
        self._items: OrderedDict[str, list[Definition] | None] = OrderedDict()
        self._uses: OrderedDict[str, list[Use]] = OrderedDict()
        self._files: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._indexes: OrderedDict[tuple[str, str], BlobIndex | None] = OrderedDict()
        self._code: OrderedDict[str, bytes] = OrderedDict()
        self._memo: OrderedDict[tuple, object] = OrderedDict()

    @staticmethod
    def _keep(cache: OrderedDict, key: str, value: object, limit: int) -> None:
        cache[key] = value
        if len(cache) > limit:
            cache.popitem(last=False)

    def remember(self, blob: str, parsed: ParsedBlob) -> None:
        """Keep what the parser just found in `blob`, so building this commit's (and the
        next ones') examples need not read it back from the store."""
        if parsed.status == "skipped":
            self._keep(self._items, blob, None, CACHE_BLOBS)
            return
        items = [Definition("", blob, *item[:7]) for item in parsed.items]
        self._keep(self._items, blob, items, CACHE_BLOBS)
        self._keep(self._uses, blob, [Use(*u) for u in parsed.uses], CACHE_BLOBS)

    def items(self, blob: str) -> list[Definition] | None:
        if blob not in self._items:
            self._read(blob)
        return self._items[blob]

    def uses(self, blob: str) -> list[Use]:
        if blob not in self._uses:
            self._read(blob)
        return self._uses[blob]

    def _read(self, blob: str) -> None:
        rows, uses = st.blob_symbols(self.conn, blob)
        items = None if rows is None else [Definition("", blob, *row) for row in rows]
        self._keep(self._items, blob, items, CACHE_BLOBS)
        self._keep(self._uses, blob, [Use(*row) for row in uses], CACHE_BLOBS)

    def code(self, blob: str) -> bytes:
        if blob not in self._code:
            self._keep(self._code, blob, self.repo[blob].data, CACHE_CODE)
        return self._code[blob]

    def files_at(self, commit: str) -> dict[str, str]:
        if commit not in self._files:
            files = git.rust_files_at(self.repo, self.repo[commit])
            self._keep(self._files, commit, files, CACHE_TREES)
        return self._files[commit]

    def index(self, path: str, blob: str) -> BlobIndex | None:
        key = (path, blob)
        if key not in self._indexes:
            items = self.items(blob)
            value = None if items is None else index_blob(path, items, self.uses(blob))
            self._keep(self._indexes, key, value, CACHE_BLOBS)
        return self._indexes[key]

    def memo(self, key: tuple, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._keep(self._memo, key, compute(), CACHE_MEMO)
        else:
            self._memo.move_to_end(key)
        return self._memo[key]  # type: ignore[return-value]


# A worker process's source, made on its first task: its own engine (connections
# never cross a fork) and its own caches, which its later tasks reuse.
_worker_source: tuple[tuple[str, str], StoreSource] | None = None


def build_in_worker(
    url: str, repo_path: str, commits: list[tuple[CommitInfo, list[FileChange]]], secrets: str
) -> list[Built]:
    """`build_examples` for a run of commits, in a worker process, reading the symbols
    the writer has already committed (the commits' own, and every ancestor's)."""
    global _worker_source
    if _worker_source is None or _worker_source[0] != (url, repo_path):
        engine = st.connect_engine(url)
        source = StoreSource(pygit2.Repository(repo_path), engine.connect())
        _worker_source = ((url, repo_path), source)
    source = _worker_source[1]
    return [build_examples(source, info, changes, secrets) for info, changes in commits]
