"""The symbol table as example building reads it: each blob's items and uses from the
store, trees and code from git, with small caches (a blob never changes, and the
commits of a history share most of their files).

It reads the store through one function, `ReadRows` (`store.commits.blob_symbols` on
a connection), so this module and example building never see SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterable, KeysView, Sequence
from contextlib import suppress
from functools import partial
from typing import TypeVar

import pygit2
from cachetools import LRUCache

from indexer import git
from indexer.git import CommitInfo, FileChange
from indexer.index.examples import build_examples
from indexer.index.parsing import unpack
from indexer.rust import SUFFIX, ModDecl, ParsedBlob, Use
from indexer.rust.cargo import MANIFEST, Cargo, candidate_roots, manifest_key
from indexer.rust.resolve import (
    DEFINITION_KINDS,
    BlobIndex,
    Definition,
    SymbolTable,
    definitions,
    index_blob,
)
from indexer.shapes import Built
from indexer.store.commits import BlobRows, blob_symbols
from indexer.store.database import connect_engine

T = TypeVar("T")
_Rows = tuple[list[Definition] | None, list[Use], list[ModDecl]]  # a blob's items, uses, mods
_LISTED = (SUFFIX, MANIFEST)  # the paths a symbol table reads: sources and manifests
_IN_FOLDER = "/" + MANIFEST
ReadRows = Callable[[str, Sequence[str]], BlobRows]  # (blob oid, item kinds or all)

# Bounds on what is kept, by size rather than count: a blob of generated code can hold
# thousands of items, and counting blobs let a worker grow past 200 MB on dtolnay/syn.
# Measured on syn and rust-lang/log, 2,500 entries build examples as fast as 10,000 or
# 40,000 did (what one commit's examples read is what they reuse), and the whole
# backfill of syn takes 15-20 MB less across its processes than with 10,000.
CACHE_ITEMS = 2_500  # items (and uses) of recently read blobs
CACHE_DEFINITIONS = 2_500  # definitions and uses of the blob indexes of recent trees
CACHE_CODE_BYTES = 1_000_000  # source of recent blobs: a commit's files, their definitions
CACHE_MEMO = 2_500  # entries of derived data of blobs (their keyed items, children)
CACHE_TEXT_BYTES = 500_000  # context definitions as text, with their shorter variants
CACHE_TREES = 8
CACHE_CARGOS = 16  # crates of trees, by what their manifests say and their target roots


def _size(value: object) -> int:
    return 1 + (len(value) if value is not None else 0)


def _texts_size(value: tuple[str, tuple[str, ...]]) -> int:
    return len(value[0]) + sum(map(len, value[1]))


def _index_size(index: BlobIndex | None) -> int:
    return 1 + (len(index.definitions) + len(index.uses) if index is not None else 0)


def _keep(cache: LRUCache, key: object, value: T) -> T:
    with suppress(ValueError):  # larger than the whole cache: used now, not kept
        cache[key] = value
    return value


def _cached(cache: LRUCache, key: object, make: Callable[[], T]) -> T:
    try:
        return cache[key]
    except KeyError:
        return _keep(cache, key, make())


class StoreSource:
    """`examples.Source` over a repository and the store's rows of its blobs (`read`:
    `store.commits.blob_symbols` on a connection)."""

    def __init__(self, repo: pygit2.Repository, read: ReadRows) -> None:
        self.repo, self.read = repo, read
        self._items: LRUCache[str, list[Definition] | None] = LRUCache(CACHE_ITEMS, _size)
        self._uses: LRUCache[str, list[Use]] = LRUCache(CACHE_ITEMS, _size)
        self._mods: LRUCache[str, list[ModDecl]] = LRUCache(CACHE_ITEMS, _size)
        self._files: LRUCache[str, dict[str, str]] = LRUCache(CACHE_TREES)
        self._indexes: LRUCache[tuple[str, str], BlobIndex | None] = LRUCache(
            CACHE_DEFINITIONS, _index_size
        )
        self._code: LRUCache[str, bytes] = LRUCache(CACHE_CODE_BYTES, len)
        self._memo: LRUCache[tuple, object] = LRUCache(CACHE_MEMO, _size)
        self._texts: LRUCache[tuple, tuple[str, tuple[str, ...]]] = LRUCache(
            CACHE_TEXT_BYTES, _texts_size
        )
        # The last table and file list made: the next commit's parent differs from
        # them in a few files.
        self._table: SymbolTable | None = None
        self._last_files: tuple[str, dict[str, str]] | None = None
        self._cargos: LRUCache[tuple, Cargo] = LRUCache(CACHE_CARGOS)
        self._last_cargo: tuple[tuple, KeysView[str], Cargo] | None = None
        # Blobs the writer had just received from a parser when it sent this run, as
        # the parser packed them (`parsing.unpack`): cheaper than reading them back.
        self.fresh: dict[str, bytes] = {}

    def remember(self, blob: str, parsed: ParsedBlob) -> _Rows:
        """Keep what the parser found in `blob`, so building this commit's (and the
        next ones') examples need not read it back from the store; the lists back."""
        if parsed.status == "skipped":
            return self._keep(blob, None, [], [])
        # In file order, as the store gives them (`blob_symbols`): the parser meets
        # nested blocks last first, and `#2` names depend on the order.
        items = _file_order(definitions(blob, [i[:7] for i in parsed.items]))
        return self._keep(blob, items, parsed.uses, parsed.mods)

    def _keep(
        self, blob: str, items: list[Definition] | None, uses: Iterable, mods: Iterable
    ) -> _Rows:
        """Keep a blob's items, and its uses and mods (rows or tuples) as Use and ModDecl."""
        return (_keep(self._items, blob, items), *self._keep_lists(blob, uses, mods))

    def _keep_lists(
        self, blob: str, uses: Iterable, mods: Iterable
    ) -> tuple[list[Use], list[ModDecl]]:
        return (
            _keep(self._uses, blob, [Use(*u) for u in uses]),
            _keep(self._mods, blob, [ModDecl(*d) for d in mods]),
        )

    def items(self, blob: str) -> list[Definition] | None:
        try:
            return self._items[blob]
        except KeyError:
            return self._read(blob)[0]

    def uses(self, blob: str) -> list[Use]:
        try:
            return self._uses[blob]
        except KeyError:
            return self._read(blob)[1]

    def mods(self, blob: str) -> list[ModDecl]:
        try:
            return self._mods[blob]
        except KeyError:
            return self._read(blob)[2]

    def _read(self, blob: str) -> _Rows:
        """A blob's lists from the store, kept: whoever asks for one asks for the
        others next."""
        packed = self.fresh.pop(blob, None)
        if packed is not None:  # unpacked on demand: a run's blobs outgrow the caches
            return self.remember(blob, unpack(packed))
        rows, uses, mods = self.read(blob, ())
        return self._keep(blob, None if rows is None else definitions(blob, rows), uses, mods)

    def _index_rows(self, blob: str, path: str) -> _Rows:
        """What a symbol table needs of a blob: its items of the kinds that can be
        context (a quarter of the rows: no methods, impls, mods), its uses and mods.
        Most blobs a builder indexes are files of commits another process built, whose
        every item it never needs; those it does need are read whole by `items`."""
        if blob in self._items:
            return self._items[blob], self.uses(blob), self.mods(blob)
        rows, uses, mods = self.read(blob, sorted(DEFINITION_KINDS))
        items = None if rows is None else definitions(blob, rows, path)  # made at `path`
        return (items, *self._keep_lists(blob, uses, mods))

    def code(self, blob: str) -> bytes:
        return _cached(self._code, blob, lambda: self.repo[blob].data)

    def files_at(self, commit: str) -> dict[str, str]:
        """The commit's `.rs` files and Cargo manifests: {path: blob}."""

        def read() -> dict[str, str]:
            if self._last_files is None:
                return git.source_files_at(self.repo, self.repo[commit], _LISTED)
            base, files = self._last_files
            return git.source_files_from(self.repo[base], files, self.repo[commit], _LISTED)

        files = _cached(self._files, commit, read)
        self._last_files = (commit, files)
        return files

    def table_at(self, commit: str) -> SymbolTable:
        rust: dict[str, str] = {}
        manifests = []
        for path, blob in self.files_at(commit).items():
            if path.endswith(SUFFIX):
                rust[path] = blob
            elif path == MANIFEST or path.endswith(_IN_FOLDER):
                manifests.append((path, blob))
        cargo = self.cargo(tuple(sorted(manifests)), rust)
        self._table = SymbolTable.at(rust, self.index, self._table, cargo)
        return self._table

    def cargo(self, manifests: tuple[tuple[str, str], ...], rust: dict[str, str]) -> Cargo:
        """The crates of a tree with these manifests (path, blob) and `.rs` files: made
        once for the trees of a history whose manifests say the same of its crates
        (`manifest_key`: a version bump changes nothing) and whose target roots are
        the same, and looked up only when the paths changed since the last tree. The
        same model keeps its answers, and a symbol table made from the last one with
        the same model and paths is made incrementally."""
        last = self._last_cargo
        if last is not None and last[0] == manifests and last[1] == rust.keys():
            return last[2]
        texts = {path: self.code(blob) for path, blob in manifests}
        roots = candidate_roots(texts, rust)
        key = (tuple((path, manifest_key(text)) for path, text in texts.items()), roots)
        cargo = _cached(self._cargos, key, lambda: Cargo(texts, roots))
        self._last_cargo = (manifests, rust.keys(), cargo)
        return cargo

    def index(self, path: str, blob: str) -> BlobIndex | None:
        def make() -> BlobIndex | None:
            items, uses, mods = self._index_rows(blob, path)
            return None if items is None else index_blob(path, items, uses, mods)

        return _cached(self._indexes, (path, blob), make)

    def memo(self, key: tuple, compute: Callable[[], T]) -> T:
        return _cached(self._memo, key, compute)

    def texts(
        self, key: tuple, compute: Callable[[], tuple[str, tuple[str, ...]]]
    ) -> tuple[str, tuple[str, ...]]:
        return _cached(self._texts, key, compute)


def _file_order(items: Iterable[Definition]) -> list[Definition]:
    return sorted(items, key=lambda d: (d.start_byte, d.end_byte))


# A worker process's source, made on its first task: its own connection (connections
# never cross a fork) and its own caches, which its later tasks reuse.
_worker_source: tuple[tuple[str, str], StoreSource] | None = None


def build_in_worker(
    store_url: str,
    repo_path: str,
    commits: list[tuple[CommitInfo, list[FileChange]]],
    secrets: str,
    fresh: list[tuple[str, bytes]],
) -> list[Built]:
    """`build_examples` for a run of commits, in a worker process, reading the symbols
    the writer has already committed (the commits' own, and every ancestor's), and
    the blobs these commits brought as their parser packed them (`fresh`)."""
    global _worker_source
    if _worker_source is None or _worker_source[0] != (store_url, repo_path):
        connection = connect_engine(store_url).connect()
        source = StoreSource(pygit2.Repository(repo_path), partial(blob_symbols, connection))
        _worker_source = ((store_url, repo_path), source)
    source = _worker_source[1]
    source.fresh = dict(fresh)
    return [build_examples(source, info, changes, secrets) for info, changes in commits]
