"""`sync`: the one core operation. Index every commit reachable from the refs (or one
rev) that the store does not hold yet, parents before children, one transaction per
commit holding its new blobs' symbols and its training examples. Hook, backfill and
watch all call it; running it twice changes nothing and running it after a crash
finishes the work.

Parsing is the expensive part, so blobs go to a process pool that works ahead of
the writer, which commits in walk order. Each distinct blob is parsed once: the
store is asked before a blob is sent, and a blob already sent in this run is not
sent again. With N cores there are N - 1 parsers: writing takes part of a core, and
the writer builds examples in the rest of it, as the parsers do when they run out
of blobs (`_Examples`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial

import pygit2
from sqlalchemy import Connection

from indexer import git
from indexer.errors import IndexerError
from indexer.index.examples import build_examples, makes_examples
from indexer.index.parsing import BlobParser, Packed, ParseResult, ParserPool, Work, unpack
from indexer.index.reparse import reparse_outdated
from indexer.index.symbols import StoreSource, build_in_worker
from indexer.rust import DEFAULT_MAX_BLOB_BYTES, SUFFIX, ParsedBlob
from indexer.secrets import check_mode, mode_of, redact_commit
from indexer.shapes import BUILDER_VERSION, Built
from indexer.store import Target, translate_errors
from indexer.store.commits import (
    Collected,
    blob_symbols,
    boundary_commits,
    collect_garbage,
    drop_repo,
    known_blobs,
    known_commits,
    repos_not_here,
    set_synced_tips,
    synced_tips,
    write_commit,
)
from indexer.store.database import bulk_writes
from indexer.store.examples import (
    commits_without_examples,
    drop_examples,
    examples_version,
    write_examples,
)

# Below this many commits to index, forking workers costs more than it saves
# (the hook's sync of one commit stays in-process).
POOL_MIN_COMMITS = 64
BATCH_COMMITS = 16  # commits read from git per store query for known blobs, and per parse task
# How far the parsers may run ahead of the writer; their results wait here in memory.
WINDOW_COMMITS = 128
EXAMPLE_BATCH_COMMITS = 16  # consecutive commits per example-building task
# A run of examples goes to a worker with at most this many tasks queued: one waiting
# behind the task it runs keeps it busy while this process is slow to send the next.
HAND_OUT_BACKLOG = 1
CLAIMED_LIMIT = 200_000  # bound on the in-memory set of blob oids sent in this run


@dataclass(frozen=True)
class SyncProgress:
    done: int  # commits written so far in this sync
    total: int  # commits this sync will write
    blobs: int  # blobs parsed (or skipped with a reason) so far


@dataclass(frozen=True)
class SyncResult:
    commits: int  # commits newly indexed
    blobs: int  # blobs newly parsed or skipped
    tips: tuple[str, ...]  # the commits synced to
    unreadable: tuple[str, ...] = ()  # tips whose history libgit2 could not read


@dataclass(frozen=True)
class _Plan:
    todo: list[str]  # commits to write, parents first
    rewrite: set[str]  # stored shallow boundaries whose parents git now has
    unreadable: list[str]  # tips whose history libgit2 cannot read


def _plan(target: Target, conn: Connection, tips: list[str]) -> _Plan:
    """What to index: new commits reachable from `tips`, parents first."""
    repo, rid = target.repo, target.repo_id
    # After `git fetch --unshallow` (or a deepen), a stored boundary has its parents:
    # index the history under it, then write it again with its real diff.
    rewrite = [
        oid
        for oid in boundary_commits(conn, rid)
        if oid in repo and not git.is_boundary(repo, repo[oid])
    ]
    below, unreadable_below = git.walk(repo, rewrite, hide=()) if rewrite else ([], [])
    stored = known_commits(conn, rid, sorted(set(tips) | set(synced_tips(conn, rid))))
    start = [t for t in tips if t not in stored]
    # Every stored commit has its ancestors stored, so hiding stored tips is safe;
    # commits stored by other routes are filtered out below.
    walked, unreadable = git.walk(repo, start, sorted(stored)) if start else ([], [])
    order = list(dict.fromkeys(below + walked))
    known = known_commits(conn, rid, order)
    todo = [oid for oid in order if oid not in known or oid in rewrite]
    return _Plan(todo, set(rewrite), unreadable_below + unreadable)


def _resolve_tips(target: Target, rev: str | None, remotes: bool) -> list[str]:
    if rev is not None:
        return [str(git.resolve_commit(target.repo, rev).id)]
    return git.ref_tips(target.repo, remotes=remotes)


@dataclass
class _Pending:
    info: git.CommitInfo
    changes: list[git.FileChange]
    new_blobs: list[str]  # the blobs this commit is the first to bring
    parsed: _Parsed  # its batch's parse


def sync(
    target: Target,
    rev: str | None = None,
    remotes: bool = False,
    workers: int | None = None,
    max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES,
    on_progress: Callable[[SyncProgress], None] | None = None,
    secrets: str | None = None,
) -> SyncResult:
    """Index what is new: reachable from `rev`, or from HEAD, branches and tags.

    `secrets` (redact or drop) defaults to `git config commit-indexer.secrets`."""
    mode = check_mode(secrets) if secrets else mode_of(target.repo)
    store = target.store
    with translate_errors(store.url), store.writer():
        with store.connect() as conn:
            tips = _resolve_tips(target, rev, remotes)
            plan = _plan(target, conn, tips)
            if plan.unreadable and len(plan.unreadable) == len(tips):
                raise IndexerError(
                    f"libgit2 cannot read the history of {', '.join(t[:12] for t in tips)}",
                    hint="run `git fsck` to find the damaged commit",
                )
            if examples_version(conn, target.repo_id) < BUILDER_VERSION:
                # Examples of an older builder (a store from before an upgrade): all
                # built again, below, as a stopped sync's are, from blobs as this
                # parser reads them.
                reparse_outdated(conn, target.repo, max_blob_bytes)
                drop_examples(conn, target.repo_id, BUILDER_VERSION)
            # Commits whose examples a stopped sync did not write (rewritten-away
            # ones that git no longer has are gc's business).
            unbuilt = [
                (cid, oid)
                for cid, oid in commits_without_examples(conn, target.repo_id)
                if oid in target.repo
            ]
        blobs = 0
        if plan.todo or unbuilt:
            blobs = _index(target, plan, unbuilt, workers, max_blob_bytes, on_progress, mode)
        if rev is None:
            with store.connect() as conn:
                readable = [t for t in tips if t not in plan.unreadable]
                set_synced_tips(conn, target.repo_id, readable)
    return SyncResult(len(plan.todo), blobs, tuple(tips), tuple(plan.unreadable))


def gc(
    target: Target, remotes: bool = False, drop_repos_not_here: bool = False
) -> tuple[Collected, list[str]]:
    """Remove what no ref reaches any more (amended, rebased, reset-away commits, and
    blobs only they held). Export already leaves them out; this frees the space.
    With `drop_repos_not_here`, also the store's other repos whose git dir is not on
    this machine (a repo folder that moved leaves its old rows behind); their paths."""
    tips = git.ref_tips(target.repo, remotes=remotes)
    reachable, unreadable = git.walk(target.repo, tips, ())
    if unreadable:
        raise IndexerError(
            "libgit2 cannot read the history of some refs, so what is reachable is unknown",
            hint="run `git fsck`; gc removes nothing until every ref can be read",
        )
    with (
        translate_errors(target.store.url),
        target.store.writer(),
        target.store.connect() as conn,
    ):
        dropped = []
        if drop_repos_not_here:
            for rid, path in repos_not_here(conn, target.repo_id):
                drop_repo(conn, rid)
                dropped.append(path)
        collected = collect_garbage(conn, target.repo_id, set(reachable))
        set_synced_tips(conn, target.repo_id, [t for t in tips if t in set(reachable)])
    return collected, dropped


def behind(target: Target, rev: str = "HEAD") -> int:
    """How many commits reachable from `rev` the store does not hold yet."""
    with translate_errors(target.store.url), target.store.connect() as conn:
        return len(_plan(target, conn, _resolve_tips(target, rev, False)).todo)


@dataclass
class _Run:
    """Consecutive commits whose examples are built together."""

    commit_ids: list[int]
    commits: list[tuple[git.CommitInfo, list[git.FileChange]]]
    fresh: list[tuple[str, bytes]]  # blobs parsed since the run before, packed
    built: Future[list[Built]] | None = None  # None until a worker or this process takes it

    def done(self) -> bool:
        return self.built is not None and self.built.done()


class _Examples:
    """The second transaction of each commit: its examples, built from the symbols
    the first one committed, a run of consecutive commits at a time (they share most
    files, so the builder's caches serve them). Without a pool they are all built
    here. With one, a run goes to a worker that is nearly done with what it has
    (`HAND_OUT_BACKLOG`; it reads the store through its own connection); while every
    worker is busy parsing ahead,
    this process builds the oldest run itself between its writes, so each process
    stays busy whichever of parsing and writing is the larger part of the history.
    Written in the order the commits were."""

    def __init__(
        self, target: Target, conn: Connection, pool: ParserPool | None, secrets: str
    ) -> None:
        self.target, self.conn, self.pool, self.secrets = target, conn, pool, secrets
        self.local = StoreSource(target.repo, partial(blob_symbols, conn))
        self.batch: list[tuple[int, git.CommitInfo, list[git.FileChange]]] = []
        self.runs: deque[_Run] = deque()  # in commit order, built or not
        self.fresh: list[tuple[str, bytes]] = []  # packed blobs, for the next run
        self.written = 0

    def remember(self, taken: list[tuple[str, int, ParsedBlob | bytes]]) -> None:
        """Blobs just parsed, here or (packed) by a worker: the source that builds the
        examples need not read them back from the store. The packed ones go with the
        next run, as the bytes they came in, to whichever process builds it."""
        if self.pool is None:
            for oid, _size, blob in taken:
                self.local.remember(oid, blob)  # parsed here
        else:
            self.fresh.extend((oid, blob) for oid, _size, blob in taken)

    def add(self, commit_id: int, info: git.CommitInfo, changes: list[git.FileChange]) -> None:
        if self.pool is None:
            self._write([commit_id], [build_examples(self.local, info, changes, self.secrets)])
            return
        self.batch.append((commit_id, info, changes))
        if len(self.batch) >= EXAMPLE_BATCH_COMMITS:
            self._close_run()
        self._hand_out()
        while self.runs and (
            self.runs[0].done() or len(self.runs) > WINDOW_COMMITS // EXAMPLE_BATCH_COMMITS
        ):
            self._write_oldest()

    def finish(self) -> None:
        if self.batch:
            self._close_run()
        while self.runs:
            # The parsing is done: a worker takes a run only when it has nothing else,
            # and this process builds the others meanwhile, rather than wait at the
            # end for runs queued behind one another in the worker.
            self._hand_out(backlog=0)
            self._write_oldest()

    def _close_run(self) -> None:
        ids = [commit_id for commit_id, _i, _c in self.batch]
        commits = [(info, changes) for _id, info, changes in self.batch]
        self.runs.append(_Run(ids, commits, self.fresh))
        self.batch, self.fresh = [], []

    def _hand_out(self, backlog: int = HAND_OUT_BACKLOG) -> None:
        """Give runs nobody builds yet to workers with at most `backlog` tasks queued,
        oldest first; when more than one is left, build the oldest here."""
        waiting = self._send(backlog)
        if len(waiting) > 1:
            self._build_here(waiting[0])

    def _send(self, backlog: int) -> list[_Run]:
        """Give runs nobody builds yet to workers with at most `backlog` tasks queued,
        oldest first; those left."""
        assert self.pool is not None
        waiting = self._unbuilt()
        store, path = self.target.store.url, self.target.repo.path
        while waiting and self.pool.least_backlog() <= backlog:
            run = waiting.pop(0)
            run.built = self.pool.call(
                build_in_worker, store, path, run.commits, self.secrets, run.fresh
            )
            run.fresh = []  # sent: the builder holds them now
        return waiting

    def build_waiting(self) -> bool:
        """Build the oldest run no worker has taken, here; False if there is none."""
        waiting = self._unbuilt()
        if waiting:
            self._build_here(waiting[0])
        return bool(waiting)

    def _unbuilt(self) -> list[_Run]:
        """The runs nobody builds yet, oldest first."""
        return [run for run in self.runs if run.built is None]

    def _build_here(self, run: _Run) -> None:
        self.local.fresh, run.fresh = dict(run.fresh), []
        run.built = Future()
        built = []
        for commit in run.commits:
            built.append(build_examples(self.local, *commit, self.secrets))
            if self.pool is not None:
                self._send(0)  # a worker that ran out of work gets a later run
        run.built.set_result(built)

    def _write_oldest(self) -> None:
        run = self.runs.popleft()
        if run.built is None:  # its turn to be written, and no worker has taken it
            self._build_here(run)
        assert run.built is not None
        while not run.built.done():
            if not self.build_waiting():  # build a later run here rather than wait
                break
        self._write(run.commit_ids, run.built.result())

    def _write(self, commit_ids: list[int], built: list[Built]) -> None:
        with self.conn.begin():  # a run of commits at once: their examples are all or none
            write_examples(
                self.conn,
                [(c, one.examples, one.skipped) for c, one in zip(commit_ids, built, strict=True)],
            )
        self.written += len(commit_ids)


class _Parsed:
    """The parse of one batch of commits' new blobs, taken commit by commit: the pool
    workers' packed results (unpacked as their commit is written), or one parsed here."""

    def __init__(self, parts: list[Future[Packed]] | list[ParseResult]) -> None:
        self.parts = parts
        self.by_oid: dict[str, tuple[str, int, ParsedBlob | bytes]] | None = None

    def take(self, oids: list[str]) -> list[tuple[str, int, ParsedBlob | bytes]]:
        """The parse of `oids`, as it came: packed by a worker, or not."""
        if not oids:
            return []
        if self.by_oid is None:
            self.by_oid = {}
            for part in self.parts:
                for parsed in part.result() if isinstance(part, Future) else part:
                    self.by_oid[parsed[0]] = parsed
            self.parts = []
        return [self.by_oid.pop(oid) for oid in oids]

    def ready(self) -> bool:
        """Can `take` answer without waiting for a worker?"""
        return all(part.done() for part in self.parts if isinstance(part, Future))


def _index(
    target: Target,
    plan: _Plan,
    unbuilt: list[tuple[int, str]],
    workers: int | None,
    max_bytes: int,
    on_progress: Callable[[SyncProgress], None] | None,
    secrets: str,
) -> int:
    """Write the plan's commits and the examples of `unbuilt` ones; the blobs parsed."""
    workers = workers or os.cpu_count() or 1
    bulk = len(plan.todo) + len(unbuilt) >= POOL_MIN_COMMITS
    pool = None
    if bulk and workers > 1:
        # No database connection may cross the fork (SQLite's and psycopg's state
        # would be shared with the workers): close them all, and reconnect after.
        target.store.engine.dispose()
        # One process per core: this one writes, and builds examples while the
        # parsers are busy (writing alone leaves most of a core idle).
        pool = ParserPool(target.repo.path, workers - 1, max_bytes)
    try:
        with target.store.connect() as conn:
            if bulk:
                bulk_writes(conn)
            parse = pool.submit if pool else _parse_here(BlobParser(target.repo, max_bytes))
            writer = _Writer(target, conn, plan, parse, _Examples(target, conn, pool, secrets))
            return writer.run(unbuilt, len(plan.todo) + len(unbuilt), on_progress)
    finally:
        if pool is not None:
            # before the store closes: a worker's connection would keep SQLite from
            # folding its WAL file back into the store
            pool.close()


def _parse_here(parser: BlobParser) -> Callable[[Work], list[ParseResult]]:
    return lambda work: [parser.parse_many(work)]


class _Writer:
    """Writes the plan's commits in order, each in its own transaction, while their
    new blobs are parsed ahead (`parse`: a batch of work to its parts), and hands
    each written commit to the example builder."""

    def __init__(
        self,
        target: Target,
        conn: Connection,
        plan: _Plan,
        parse: Callable[[Work], list[Future[Packed]] | list[ParseResult]],
        builder: _Examples,
    ) -> None:
        self.target, self.conn, self.plan, self.parse = target, conn, plan, parse
        self.builder = builder
        self.pending: deque[_Pending] = deque()
        self.claimed: set[str] = set()  # blobs sent to be parsed in this run
        self.blobs = 0
        self.without_examples = 0  # commits written that make none (merges, ...): done

    def run(
        self,
        unbuilt: list[tuple[int, str]],
        total: int,
        on_progress: Callable[[SyncProgress], None] | None,
    ) -> int:
        def report() -> None:
            if on_progress:
                done = self.builder.written + self.without_examples
                on_progress(SyncProgress(done, total, self.blobs))

        repo, todo = self.target.repo, self.plan.todo
        for commit_id, oid in unbuilt:
            self.builder.add(commit_id, *_read_commit(repo, oid))
        for start in range(0, len(todo), BATCH_COMMITS):
            self._queue([_read_commit(repo, oid) for oid in todo[start : start + BATCH_COMMITS]])
            while len(self.pending) > WINDOW_COMMITS:
                self._write_oldest()
                report()
            if len(self.claimed) > CLAIMED_LIMIT:
                while self.pending:
                    self._write_oldest()
                    report()
                self.claimed.clear()
        while self.pending:
            self._write_oldest()
            report()
        self.builder.finish()
        report()
        return self.blobs

    def _queue(self, batch: list[tuple[git.CommitInfo, list[git.FileChange]]]) -> None:
        """Send a batch of commits' new blobs to be parsed (one store query for the
        blobs it already holds, one parse task per worker) and queue the commits."""
        wanted = {c.new_blob for _info, changes in batch for c in changes if c.new_blob}
        fresh = wanted - self.claimed
        known = known_blobs(self.conn, sorted(fresh)) if fresh else set()
        work: Work = []
        new_blobs: list[list[str]] = []
        for _info, changes in batch:
            mine = []
            for change in changes:
                blob = change.new_blob
                if blob and blob not in known and blob not in self.claimed:
                    self.claimed.add(blob)
                    work.append((blob, change.old_blob))
                    mine.append(blob)
            new_blobs.append(mine)
        parsed = _Parsed(self.parse(work) if work else [])
        for (info, changes), mine in zip(batch, new_blobs, strict=True):
            self.pending.append(_Pending(info, changes, mine, parsed))

    def _write_oldest(self) -> None:
        item = self.pending.popleft()
        while item.new_blobs and not item.parsed.ready():
            if not self.builder.build_waiting():  # build examples here while the parsers work
                break
        taken = item.parsed.take(item.new_blobs)
        parsed = [(oid, size, unpack(b) if isinstance(b, bytes) else b) for oid, size, b in taken]
        makes = makes_examples(item.info)
        # its own transaction: the commit, its changes and its new blobs
        commit_id = write_commit(
            self.conn,
            self.target.repo_id,
            item.info,
            item.changes,
            parsed,
            makes_examples=makes,
            replace=item.info.oid in self.plan.rewrite,
        )
        self.blobs += len(parsed)
        self.builder.remember(taken)
        if makes:
            self.builder.add(commit_id, item.info, item.changes)
        else:
            self.without_examples += 1


def _read_commit(repo: pygit2.Repository, oid: str) -> tuple[git.CommitInfo, list[git.FileChange]]:
    """A commit as the store keeps it and examples are built from it: its message
    redacted (secrets, e-mail addresses), on every path that reads one."""
    commit = repo[oid]
    return redact_commit(git.commit_info(repo, commit)), git.changed_files(repo, commit, SUFFIX)
