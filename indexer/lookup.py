"""Questions about the code at one commit, answered from the store and git's tree.

Which blob sits at which path at a commit is read from git (`git.source_files_at`);
what a blob defines is read from the store. Nothing is parsed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer import git
from indexer.errors import IndexerError
from indexer.rust import SUFFIX
from indexer.store import Target, translate_errors
from indexer.store.commits import find_items, known_commits
from indexer.store.examples import ItemPlace, StoredExample, example_skips, item_places
from indexer.store.examples import commit_examples as commit_rows


@dataclass(frozen=True)
class Symbol:
    path: str
    kind: str
    qualname: str
    start_line: int
    end_line: int
    code: str


def find_symbols(
    target: Target, name: str, rev: str = "HEAD", kind: str | None = None
) -> list[Symbol]:
    """Where `name` (a name or a qualified name) is defined in the tree at `rev`."""
    commit = git.resolve_commit(target.repo, rev)
    oid = str(commit.id)
    with translate_errors(target.store.url), target.store.connect() as conn:
        if not known_commits(conn, target.repo_id, [oid]):
            raise IndexerError(
                f"commit {oid[:12]} ({rev}) is not indexed yet",
                hint=f"run `commit-indexer sync --rev {rev}` or `commit-indexer backfill` first",
            )
        files = git.source_files_at(target.repo, commit, SUFFIX)
        paths_by_blob: dict[str, list[str]] = {}
        for path, blob in files.items():
            paths_by_blob.setdefault(blob, []).append(path)
        found = find_items(conn, sorted(paths_by_blob), name, kind)
    symbols = []
    for item in found:
        code = target.repo[item.blob].data[item.start_byte : item.end_byte].decode("utf-8")
        for path in paths_by_blob[item.blob]:
            symbols.append(
                Symbol(path, item.kind, item.qualname, item.start_line, item.end_line, code)
            )
    symbols.sort(key=lambda s: (s.path, s.start_line, s.qualname))
    return symbols


@dataclass(frozen=True)
class CommitExamples:
    commit: str
    examples: list[StoredExample]
    skipped: dict[str, int]
    places: dict[int, ItemPlace]  # where each example's item stands in its file


def commit_examples(target: Target, rev: str, path: str | None = None) -> CommitExamples:
    """The stored examples of the commit at `rev` (of one file, with `path`)."""
    oid = str(git.resolve_commit(target.repo, rev).id)
    with translate_errors(target.store.url), target.store.connect() as conn:
        if not known_commits(conn, target.repo_id, [oid]):
            raise IndexerError(
                f"commit {oid[:12]} ({rev}) is not indexed yet",
                hint=f"run `commit-indexer sync --rev {rev}` or `commit-indexer backfill` first",
            )
        found = commit_rows(conn, target.repo_id, oid)
        skipped = example_skips(conn, target.repo_id, oid)
        if path is not None:
            found = [e for e in found if e.path == path]
        places = item_places(conn, target.repo_id, [e.id for e in found])
    return CommitExamples(oid, found, skipped, places)
