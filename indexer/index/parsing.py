"""Parse blobs by oid, reusing the tree of the version they replace.

Most commits change a few lines of a file. When the previous version of a blob was
parsed recently, its tree is edited with git's line diff of the two blobs and
tree-sitter reparses only around the edits (about a third of the time of a fresh
parse on real histories). A `BlobParser` keeps those trees, bounded by the source
size they stand for; a `ParserPool` runs one per worker process and sends each blob
to the worker that parsed its previous version.

This module never touches the store; `sync` decides what to parse and writes it.
"""

from __future__ import annotations

import gc
import marshal
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

import pygit2
import tree_sitter

from indexer.rust import DEFAULT_MAX_BLOB_BYTES, ParsedBlob, parse_source

# Trees cost ~40x their source in memory: 1 MB of source is ~40 MB of trees.
# A pool shares this budget among its workers. clap-rs/clap at 1.5 MB: tree PSS
# 316 MB; at 1 MB, 295 MB, and no slower (clap 81.7 s against 96.8 s, log 4.21 s
# against 4.52 s, one sitting: within this machine's noise).
CACHE_SOURCE_BYTES = 1_000_000
# A version that two branches edit: the first successor takes its tree, and the second
# was parsed afresh (56 of rust-lang/log's 823 blobs, at ~3 ms each, more than a third
# of its parsing). So the last trees taken are kept aside, as copies: a copy shares
# every node with the tree it was made from until one of them is edited. Siblings
# come close in the walk: 3 parses apart at the median on log, 21 on dtolnay/syn.
# They take up to a quarter of the budget more (of source; less in memory, shared).
SPARE_TREES = 16

T = TypeVar("T")
Work = list[tuple[str, str | None]]  # (blob to parse, the blob it replaces or None)
ParseResult = list[tuple[str, int, ParsedBlob]]  # (oid, size, what it holds)
Packed = list[tuple[str, int, bytes]]  # the same from a worker, each blob packed (`unpack`)


class _Trees:
    """Parse trees by blob oid, within a budget of the source bytes they stand for
    and, if given, of their number: past it, the oldest go."""

    def __init__(self, max_bytes: int, max_trees: int = sys.maxsize) -> None:
        self.max_bytes, self.max_trees = max_bytes, max_trees
        self._trees: OrderedDict[str, tuple[tree_sitter.Tree, pygit2.Blob]] = OrderedDict()
        self._bytes = 0

    def put(self, oid: str, tree: tree_sitter.Tree, blob: pygit2.Blob) -> None:
        if blob.size > self.max_bytes:
            return
        self.take(oid)
        self._trees[oid] = (tree, blob)
        self._bytes += blob.size
        while self._bytes > self.max_bytes or len(self._trees) > self.max_trees:
            _oid, (_tree, old) = self._trees.popitem(last=False)
            self._bytes -= old.size

    def take(self, oid: str) -> tuple[tree_sitter.Tree, pygit2.Blob] | None:
        """The tree of `oid` and its blob, out of the cache; None if it is not there."""
        taken = self._trees.pop(oid, None)
        if taken is not None:
            self._bytes -= taken[1].size
        return taken


class BlobParser:
    """Reads and parses blobs of one repository, keeping recent trees for reuse."""

    def __init__(
        self,
        repo: pygit2.Repository,
        max_bytes: int = DEFAULT_MAX_BLOB_BYTES,
        cache_bytes: int = CACHE_SOURCE_BYTES,
    ) -> None:
        self.repo = repo
        self.max_bytes = max_bytes
        self._trees = _Trees(cache_bytes)
        # trees their successor took (`SPARE_TREES`), within a quarter of the budget
        self._spares = _Trees(cache_bytes // 4, SPARE_TREES)
        self.reused = 0  # parses that started from a cached tree

    def parse_many(self, work: Work) -> ParseResult:
        return [self.parse(oid, previous) for oid, previous in work]

    def parse(self, oid: str, previous: str | None = None) -> tuple[str, int, ParsedBlob]:
        blob = self.repo[oid]
        data = blob.data
        parsed, tree = parse_source(data, self.max_bytes, self._edited(previous, blob))
        if tree is not None and not tree.root_node.has_error:
            self._trees.put(oid, tree, blob)
        return oid, len(data), parsed

    def _edited(self, previous: str | None, blob: pygit2.Blob) -> tree_sitter.Tree | None:
        """The previous version's tree, edited to match `blob`, if it is cached."""
        if not previous:
            return None
        cached = self._trees.take(previous) or self._spares.take(previous)
        if cached is None:
            return None
        # Taken out of the cache: a version's tree serves its successor, and then the
        # successor's tree stands for the file (half again as many reuses on syn's
        # history as leaving it to age out, in the same memory). So it is edited in
        # place, and a copy waits for a sibling.
        tree, old_blob = cached
        self._spares.put(previous, tree.copy(), old_blob)
        self.reused += 1
        # git's diff gives each changed line's byte offset in its own file; an
        # insertion or deletion point in the other file follows from the size
        # change of the hunks before it.
        edits = []
        shift = 0  # new offset - old offset, after the hunks seen so far
        for hunk in old_blob.diff(blob, context_lines=0).hunks:
            old_line = hunk.old_start - 1 if hunk.old_lines else hunk.old_start
            removed = [ln for ln in hunk.lines if ln.origin == "-"]
            added = [ln for ln in hunk.lines if ln.origin == "+"]
            if removed:
                start = removed[0].content_offset
                old_end = removed[-1].content_offset + len(removed[-1].raw_content)
            else:
                start = old_end = added[0].content_offset - shift
            new_len = sum(len(ln.raw_content) for ln in added)
            edits.append((start, old_end, new_len, old_line, hunk.old_lines, hunk.new_lines))
            shift += new_len - (old_end - start)
        # Last hunk first: the text before each edit is then still in old coordinates.
        for start, old_end, new_len, old_line, old_lines, new_lines in reversed(edits):
            tree.edit(
                start_byte=start,
                old_end_byte=old_end,
                new_end_byte=start + new_len,
                start_point=(old_line, 0),
                old_end_point=(old_line + old_lines, 0),
                new_end_point=(old_line + new_lines, 0),
            )
        return tree


_worker: BlobParser | None = None

PARENT_CHECK_SECONDS = 1.0  # how often a worker looks whether its parent is alive


def _init_worker(repo_path: str, max_bytes: int, cache_bytes: int) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _worker = BlobParser(pygit2.Repository(repo_path), max_bytes, cache_bytes)


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone: killed (kill -9), it never says so, and
    the worker would wait for its next task for ever. It only reads, so nothing is lost."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _ready() -> None:
    pass


def _pack(parsed: ParsedBlob) -> bytes:
    """A parsed blob as marshal bytes, its items, uses and mods as plain tuples (same
    fields, same order). A worker's results wait in the writer's memory until their
    commits are written, up to a window of commits ahead: as bytes they take about a
    quarter of the room the tuples of strings and ints would (36 MB at the peak of
    dtolnay/syn's backfill), and marshal is quicker than pickling the tuples."""
    return marshal.dumps(
        (
            parsed.status,
            parsed.reason,
            tuple(map(tuple, parsed.items)),
            tuple(map(tuple, parsed.uses)),
            tuple(map(tuple, parsed.mods)),
        )
    )


def unpack(packed: bytes) -> ParsedBlob:
    """The `ParsedBlob` a worker packed (its items, uses and mods as plain tuples: the
    writer only unpacks them into rows)."""
    return ParsedBlob(*marshal.loads(packed))


def _parse_in_worker(work: Work) -> Packed:
    assert _worker is not None
    packed = []
    for oid, previous in work:
        _oid, size, blob = _worker.parse(oid, previous)
        packed.append((oid, size, _pack(blob)))
    return packed


class ParserPool:
    """One single-process executor per worker, so work can be routed: a blob goes to
    the worker that parsed the version it replaces (which holds its tree), unless
    that worker already has far more of the batch than another."""

    IMBALANCE = 16  # blobs a worker may be given beyond the least loaded before affinity yields
    OWNERS_LIMIT = 100_000

    def __init__(self, repo_path: str, workers: int, max_bytes: int) -> None:
        # fork: a worker is ready in milliseconds with everything already imported,
        # where forkserver or spawn pay ~0.5 s to start an interpreter and import
        # again. Forking is safe while no other thread runs, so every worker is
        # started here, before the caller starts anything else (the progress bar
        # appears only once the first commit is written).
        context = multiprocessing.get_context("fork")
        args = (repo_path, max_bytes, CACHE_SOURCE_BYTES // workers)
        self._executors = [
            ProcessPoolExecutor(1, context, initializer=_init_worker, initargs=args)
            for _ in range(workers)
        ]
        # Frozen objects are never scanned by the garbage collector, so a worker does
        # not copy every page of this process's heap the first time it collects.
        gc.freeze()
        try:
            for started in [executor.submit(_ready) for executor in self._executors]:
                started.result()
        finally:
            gc.unfreeze()
        self._owner: dict[str, int] = {}
        self._turn = 0
        self._queued: list[deque[Future]] = [deque() for _ in self._executors]  # in order

    def submit(self, work: Work) -> list[Future[Packed]]:
        """Parse `work` (a batch of commits' new blobs, in commit order): one task per
        worker, each blob with the worker that parsed its previous version unless
        that worker already has far more of the batch than another."""
        groups: list[Work] = [[] for _ in self._executors]
        for oid, previous in work:
            least = min(range(len(groups)), key=lambda w: len(groups[w]))
            worker = self._owner.get(previous, least) if previous else least
            if len(groups[worker]) > len(groups[least]) + self.IMBALANCE:
                worker = least
            groups[worker].append((oid, previous))
            self._owner[oid] = worker
        if len(self._owner) > self.OWNERS_LIMIT:
            self._owner.clear()
        return [
            self._track(worker, self._executors[worker].submit(_parse_in_worker, group))
            for worker, group in enumerate(groups)
            if group
        ]

    def call(self, fn: Callable[..., T], *args: object) -> Future[T]:
        """Run `fn(*args)` (work other than parsing: the workers are the cores a sync
        may use) in the worker with the fewest tasks still to do, the next in turn
        among equals: parse tasks follow the blobs, so the workers' loads differ."""
        self._turn = (self._turn + 1) % len(self._executors)
        order = range(self._turn, self._turn + len(self._executors))
        worker = min((w % len(self._executors) for w in order), key=self._backlog)
        return self._track(worker, self._executors[worker].submit(fn, *args))

    def least_backlog(self) -> int:
        """Tasks queued in the least loaded worker, the one it is running included."""
        return min(map(self._backlog, range(len(self._executors))))

    def _backlog(self, worker: int) -> int:
        queue = self._queued[worker]
        while queue and queue[0].done():
            queue.popleft()
        return len(queue)

    def _track(self, worker: int, future: Future[T]) -> Future[T]:
        self._queued[worker].append(future)
        return future

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers; closing again does nothing."""
        for executor in self._executors:
            executor.shutdown(wait=True, cancel_futures=True)
