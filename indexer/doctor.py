"""`doctor`: check a store against its repository and say what is wrong; with
`repair`, fix what can be fixed.

Everything in the store is derived from git, so a repair never patches a row by
hand: it deletes what can no longer be derived from anything (rows whose commit or
blob is gone) and derives the rest again (a commit's examples by running sync, a
blob's symbols by parsing it). A file SQLite cannot read is moved aside and a new
store started, which the next backfill fills. What doctor cannot fix (another
program's database, a newer version's store) it names, with what to do.

The checks are SQL over the store's tables here rather than in the store's modules:
no other command needs them. Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2
from sqlalchemy import ColumnElement, Connection, Table, create_engine, delete, func, select
from sqlalchemy.exc import DatabaseError
from sqlalchemy.pool import NullPool

from indexer import git
from indexer.errors import StoreError
from indexer.store import models as m
from indexer.store import open_store, schema, translate_errors
from indexer.store.commits import collect_garbage, repos_not_here, synced_tips, write_blobs
from indexer.store.database import display_url, driver_url, writer_lock
from indexer.store.examples import commits_without_examples
from indexer.store.location import default_url, sqlite_path, store_url
from indexer.store.locks import BUSY_TIMEOUT_MS

if TYPE_CHECKING:
    from indexer.index.parsing import ParseResult

SQLITE_HEADER = b"SQLite format 3\x00"
SHOWN = 5  # oids or paths named in a finding; the rest are counted


@dataclass(frozen=True)
class Finding:
    check: str  # store, integrity, schema, orphans, blobs, examples, tips, unreachable, behind
    level: str  # ok, note (worth knowing; nothing is wrong) or problem
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class Report:
    url: str
    findings: tuple[Finding, ...]
    repaired: tuple[str, ...] = ()  # what `repair` did, in order

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "problem"]


@dataclass
class _Facts:
    """What the store holds that matters to the checks, gathered without writing."""

    url: str
    path: Path | None  # the SQLite file, None for another database
    exists: bool = True
    unreadable: str | None = None  # why SQLite cannot use the file
    ours: bool = False  # the unusable file is a store of ours, which repair may move aside
    schema: schema.Schema | None = None
    repo_id: int | None = None
    orphans: dict[str, int] = field(default_factory=dict)
    missing_blobs: list[str] = field(default_factory=list)
    unbuilt: list[str] = field(default_factory=list)
    stale_tips: list[str] = field(default_factory=list)
    unreachable: int | None = None  # None: some ref's history cannot be read
    behind: int = 0  # reachable commits a sync would index
    holes: list[str] = field(default_factory=list)  # reachable, missing under stored ones
    not_here: list[str] = field(default_factory=list)  # other repos' git dirs, not on disk

    @property
    def usable(self) -> bool:
        state = self.schema.state if self.schema else None
        return self.exists and self.unreadable is None and state == "current"


def doctor(repo_path: str, db_url: str | None = None, repair: bool = False) -> Report:
    """Check the store of the repo at `repo_path` (default: SQLite in its git dir)."""
    repo = git.open_repo(repo_path)
    url = store_url(repo, git.common_dir(repo), db_url)
    facts = _gather(repo, url)
    done: list[str] = []
    if repair:
        done = _repair(repo, url, facts)
        facts = _gather(repo, url)
    return Report(display_url(url), tuple(_findings(facts)), tuple(done))


def _gather(repo: pygit2.Repository, url: str) -> _Facts:
    facts = _Facts(url, sqlite_path(url))
    if facts.path is not None:
        # A file at the repo's own default store is ours whatever it holds; anywhere
        # else (a --db typo) only a file whose schema says so.
        facts.ours = facts.path == sqlite_path(default_url(git.common_dir(repo)))
        if not facts.path.exists():
            facts.exists = False
            return facts
        if not facts.path.is_file():
            facts.unreadable = "it is a folder, not a file"
            facts.ours = False  # never moved: what is in it is somebody's
            return facts
        try:
            with open(facts.path, "rb") as handle:
                head = handle.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(
                f"cannot read the store {facts.path}: {exc.strerror}",
                hint="check its permissions, or pass another --db URL",
            ) from None
        if head and head != SQLITE_HEADER:  # an empty file is a store not written yet
            facts.unreadable = "it is not a SQLite database"
            return facts
    # A plain engine: doctor reads; it does not switch journal modes or migrate.
    engine = create_engine(driver_url(url), poolclass=NullPool)
    try:
        with translate_errors(url), engine.connect() as conn:
            try:
                facts.schema = schema.read_schema(conn)
                facts.ours = facts.ours or facts.schema.state not in ("new", "foreign")
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                    result = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
                    if result != ["ok"]:
                        facts.unreadable = "integrity_check: " + "; ".join(result[:3])
                        return facts
            except DatabaseError as exc:
                if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                    raise
                facts.unreadable = str(exc.orig)
                return facts
            if facts.usable:
                _gather_rows(repo, conn, facts)
    finally:
        engine.dispose()
    return facts


def _gather_rows(repo: pygit2.Repository, conn: Connection, facts: _Facts) -> None:
    for name, table, cond in _orphan_conditions():
        n = conn.execute(select(func.count()).select_from(table).where(cond)).scalar_one()
        if n:
            facts.orphans[name] = n
    rid = conn.execute(
        select(m.repos.c.id).where(m.repos.c.path == str(git.common_dir(repo)))
    ).scalar()
    facts.repo_id = rid
    facts.not_here = [path for _id, path in repos_not_here(conn, rid or -1)]
    tips = git.ref_tips(repo)
    local, _unreadable = git.walk(repo, tips, ())
    if rid is None:
        facts.behind = len(local)
        return
    c, ch = m.commits.c, m.changes.c
    stored = set(conn.execute(select(c.oid).where(c.repo_id == rid)).scalars())
    missing = [oid for oid in local if oid not in stored]
    if missing:
        # What sync would index: it walks from the tips and hides stored commits, so a
        # commit missing below a stored one (a hole) is one it never reaches.
        hide = stored & (set(tips) | set(synced_tips(conn, rid)))
        start = [t for t in tips if t not in stored]
        seen = set(git.walk(repo, start, sorted(hide))[0]) if start else set()
        facts.behind = sum(1 for oid in missing if oid in seen)
        facts.holes = [oid for oid in missing if oid not in seen]
    everything, unreadable = git.walk(repo, git.ref_tips(repo, remotes=True), ())
    facts.unreachable = None if unreadable else len(stored - set(everything))
    facts.unbuilt = [oid for _id, oid in commits_without_examples(conn, rid)]
    facts.stale_tips = [t for t in synced_tips(conn, rid) if t not in repo]
    facts.missing_blobs = sorted(
        conn.execute(
            select(ch.new_blob)
            .distinct()
            .join(m.commits, c.id == ch.commit_id)
            .where(
                c.repo_id == rid,
                ch.new_blob.is_not(None),
                ch.new_blob.not_in(select(m.blobs.c.oid)),
            )
        ).scalars()
    )


def _orphan_conditions() -> list[tuple[str, Table, ColumnElement[bool]]]:
    """Rows whose owner is gone, child tables first (the order they can be deleted in
    with foreign keys enforced). A commit whose repo is gone makes its rows orphans."""
    live_commits = select(m.commits.c.id).where(m.commits.c.repo_id.in_(select(m.repos.c.id)))
    live_examples = select(m.examples.c.id).where(m.examples.c.commit_id.in_(live_commits))
    blob_ids = select(m.blobs.c.id)
    return [
        ("example_tokens", m.example_tokens, m.example_tokens.c.example_id.not_in(live_examples)),
        ("examples", m.examples, m.examples.c.commit_id.not_in(live_commits)),
        ("example_skips", m.example_skips, m.example_skips.c.commit_id.not_in(live_commits)),
        ("changes", m.changes, m.changes.c.commit_id.not_in(live_commits)),
        ("commits", m.commits, m.commits.c.repo_id.not_in(select(m.repos.c.id))),
        ("items", m.items, m.items.c.blob_id.not_in(blob_ids)),
        ("uses", m.uses, m.uses.c.blob_id.not_in(blob_ids)),
        ("mods", m.mods, m.mods.c.blob_id.not_in(blob_ids)),
    ]


def _oids(oids: list[str]) -> str:
    return _some([o[:12] for o in oids])


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _findings(facts: _Facts) -> list[Finding]:
    found = _file_findings(facts)
    if found is not None:
        return found
    found, current = _schema_findings(facts)
    if current:
        found += _row_problems(facts) + _row_notes(facts)
    return found


def _file_findings(facts: _Facts) -> list[Finding] | None:
    """What the file itself says, when it is all there is to say; else None."""
    if not facts.exists:
        return [Finding("store", "note", "no store yet", "run `commit-indexer backfill`")]
    if facts.unreadable is not None:
        if not facts.ours:
            return [
                Finding(
                    "integrity",
                    "problem",
                    f"{facts.path} is not a commit-indexer store: {facts.unreadable}",
                    "pass the --db URL of the store; `--repair` moves aside only a store"
                    " of commit-indexer's, never another file",
                )
            ]
        return [
            Finding(
                "integrity",
                "problem",
                f"SQLite cannot use the store: {facts.unreadable}",
                "`commit-indexer doctor --repair` moves it aside and starts a new store"
                " (the next backfill rebuilds it from git)",
            )
        ]
    return None


def _schema_findings(facts: _Facts) -> tuple[list[Finding], bool]:
    """The integrity and schema findings, and whether the schema is current (only
    then do its rows mean something)."""
    found = [Finding("integrity", "ok", "ok")] if facts.path is not None else []
    state = facts.schema.state if facts.schema else "new"
    version = facts.schema.version if facts.schema else None
    head = schema.script_head()
    if state in ("future", "foreign"):
        try:
            schema.refuse_foreign(facts.schema, display_url(facts.url))
        except StoreError as exc:
            found.append(Finding("schema", "problem", exc.message, exc.hint))
        return found, False
    if state in ("new", "unfinished"):
        found.append(Finding("schema", "note", "a new store: nothing indexed yet"))
        found.append(Finding("store", "note", "empty", "run `commit-indexer backfill`"))
        return found, False
    if state == "behind":
        found.append(
            Finding(
                "schema",
                "problem",
                f"schema {version}, older than this version's {head}",
                "any command upgrades it (`commit-indexer doctor --repair` does), then"
                " run doctor again to check its rows",
            )
        )
        return found, False
    found.append(Finding("schema", "ok", f"{version} (current)"))
    return found, True


def _row_problems(facts: _Facts) -> list[Finding]:
    found: list[Finding] = []
    if facts.orphans:
        rows = ", ".join(f"{n} {name}" for name, n in facts.orphans.items())
        found.append(
            Finding(
                "orphans",
                "problem",
                f"rows whose commit or blob is gone: {rows}",
                "`commit-indexer doctor --repair` deletes them",
            )
        )
    if facts.missing_blobs:
        found.append(
            Finding(
                "blobs",
                "problem",
                f"{len(facts.missing_blobs)} blobs that stored changes add are not in the"
                f" store: {_oids(facts.missing_blobs)}",
                "`commit-indexer doctor --repair` parses them again",
            )
        )
    if facts.holes:
        found.append(
            Finding(
                "holes",
                "problem",
                f"{len(facts.holes)} commits the refs reach are missing under stored ones,"
                f" where no sync looks: {_oids(facts.holes)}",
                "`commit-indexer doctor --repair` indexes them and their descendants again",
            )
        )
    if facts.unbuilt:
        found.append(
            Finding(
                "examples",
                "problem",
                f"{len(facts.unbuilt)} commits have no examples yet (a sync stopped"
                f" between a commit's symbols and its examples): {_oids(facts.unbuilt)}",
                "`commit-indexer doctor --repair` (or any sync) builds them",
            )
        )
    if facts.stale_tips:
        found.append(
            Finding(
                "tips",
                "problem",
                f"{len(facts.stale_tips)} synced tips are not in the repository (its"
                f" history was rewritten, or the store is another clone's):"
                f" {_oids(facts.stale_tips)}",
                "`commit-indexer doctor --repair` (or any sync) records the current tips",
            )
        )
    return found


def _row_notes(facts: _Facts) -> list[Finding]:
    found: list[Finding] = []
    if facts.unreachable:
        found.append(
            Finding(
                "unreachable",
                "note",
                f"{facts.unreachable} stored commits no ref reaches (amended, rebased,"
                " deleted branches); exports leave them out",
                "`commit-indexer gc` removes them",
            )
        )
    elif facts.unreachable is None and facts.repo_id is not None:
        found.append(Finding("unreachable", "note", "not checked: libgit2 cannot read some refs"))
    if facts.not_here:
        found.append(
            Finding(
                "repos",
                "note",
                f"{len(facts.not_here)} other repos of the store are not on this machine"
                f" (moved, deleted, or another machine's): {_some(facts.not_here)}",
                "`commit-indexer gc --drop-repos-not-here` drops their rows"
                " (a moved repo is indexed again under its new path)",
            )
        )
    if facts.repo_id is None:
        found.append(
            Finding(
                "behind",
                "note",
                "the store holds nothing of this repository",
                "run `commit-indexer backfill`",
            )
        )
    elif facts.behind:
        found.append(
            Finding(
                "behind",
                "note",
                f"{facts.behind} commits the refs reach are not indexed yet",
                "run `commit-indexer backfill` (or install the hooks)",
            )
        )
    return found


def _repair(repo: pygit2.Repository, url: str, facts: _Facts) -> list[str]:
    done: list[str] = []
    if facts.unreadable is not None:
        if facts.path is None or not facts.ours:
            return done  # another database's own tools must repair it; another file stays
        with writer_lock(url):  # no sync writes while it moves
            moved = _move_aside(facts.path)
        done.append(f"moved the unusable store to {moved.name}")
        open_store(url).close()
        done.append("started a new store: run `commit-indexer backfill` to fill it")
        return done
    if not facts.exists or facts.schema is None:
        return done
    state = facts.schema.state
    if state in ("future", "foreign"):
        return done
    if state in ("behind", "unfinished"):
        open_store(url).close()  # opening migrates
        done.append(f"upgraded the schema from {facts.schema.version} to {schema.script_head()}")
        facts = _gather(repo, url)
    if facts.orphans or facts.missing_blobs:
        opened = open_store(url)
        try:
            with translate_errors(url), opened.writer(), opened.connect() as conn:
                with conn.begin():
                    for name, table, cond in _orphan_conditions():
                        if facts.orphans.get(name):
                            conn.execute(delete(table).where(cond))
                if facts.orphans:
                    done.append(f"deleted {sum(facts.orphans.values())} orphan rows")
                parsed = _parse(repo, [b for b in facts.missing_blobs if b in repo])
                with conn.begin():
                    write_blobs(conn, parsed)
                if parsed:
                    done.append(f"parsed {len(parsed)} missing blobs again")
        finally:
            opened.close()
    if facts.holes:
        _forget_descendants(repo, url, facts)
        done.append(
            f"removed the {len(facts.holes)} missing commits' stored descendants, to index again"
        )
    if facts.unbuilt or facts.stale_tips or facts.holes:
        from indexer.index.sync import sync
        from indexer.store import open_target

        target = open_target(str(repo.path), url)
        try:
            result = sync(target, workers=1)
        finally:
            target.close()
        done.append(f"ran sync: indexed {result.commits} commits")
    return done


def _forget_descendants(repo: pygit2.Repository, url: str, facts: _Facts) -> None:
    """Delete the stored commits that descend from a hole (with what only they hold,
    as gc does), so the next sync walks down to the hole and indexes it and them."""
    order, _unreadable = git.walk(repo, git.ref_tips(repo), ())  # parents first
    tainted = set(facts.holes)
    for oid in order:
        if any(str(p) in tainted for p in repo[oid].parent_ids):
            tainted.add(oid)
    opened = open_store(url)
    try:
        with translate_errors(url), opened.writer(), opened.connect() as conn:
            with conn.begin():
                c = m.commits.c
                query = select(c.oid).where(c.repo_id == facts.repo_id)
                stored = set(conn.execute(query).scalars())
                collect_garbage(conn, facts.repo_id, stored - tainted)
    finally:
        opened.close()


def _parse(repo: pygit2.Repository, oids: list[str]) -> ParseResult:
    from indexer.index.parsing import BlobParser

    return BlobParser(repo).parse_many([(oid, None) for oid in oids])


def _move_aside(path: Path) -> Path:
    """Rename the store and its WAL and shared-memory files to `<name>.corrupt-<time>`
    (with their suffixes), so SQLite can still open the pair for a post-mortem."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            try:
                part.rename(moved.with_name(moved.name + suffix))
            except OSError as exc:
                raise StoreError(
                    f"cannot move {part} aside: {exc.strerror}",
                    hint="check the permissions of its folder, or move it yourself",
                ) from exc
    return moved
