"""Where a repo's store is, found without opening it: `--db`, the repo's git config, or
SQLite in its git dir; and SQLite URLs written and read as SQLAlchemy reads them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

import pygit2

from indexer.errors import StoreError

# A repo whose store is elsewhere (PostgreSQL, a shared file) says so in its git
# config, so the hooks, `watch` and every command find it without `--db`. The config
# is the repo's own, never committed; keep passwords in ~/.pgpass, not in the URL.
STORE_CONFIG_KEY = "commit-indexer.db"


def default_url(git_common_dir: Path) -> str:
    """SQLite in the repo's git common dir, so every worktree shares one store."""
    return sqlite_url(git_common_dir / "commit-indexer" / "index.db")


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite file. The path is percent-encoded as SQLAlchemy decodes it:
    a `?`, `#` or `%41` in a folder's name is part of the path, not a query or an `A`."""
    return "sqlite:///" + quote(str(path), safe="/")


def store_url(repo: pygit2.Repository, git_common_dir: Path, given: str | None) -> str:
    """The store of a repo: `given` (--db), else `git config commit-indexer.db`, else
    SQLite in its git dir."""
    if given:
        return checked_url(given)
    try:
        return checked_url(repo.config[STORE_CONFIG_KEY].strip())
    except KeyError:
        return default_url(git_common_dir)


def checked_url(url: str) -> str:
    """`url`, with `~` in a SQLite path expanded; refuses a SQLite store that would
    land where the command happens to run (a relative path: the hook runs in the work
    tree) or that keeps nothing (`:memory:`, no path)."""
    if not url.startswith("sqlite:"):
        return url
    path = sqlite_path(url)
    if path is None or str(path) in (".", ":memory:"):  # `sqlite://`, `sqlite:///`
        raise StoreError(
            f"--db {url} names no file: a store in memory keeps nothing",
            hint="use sqlite:////ABSOLUTE/PATH.db (four slashes), or leave out --db",
        )
    if str(path).startswith("~"):
        query = url.partition("?")[2]
        return sqlite_url(path.expanduser()) + (f"?{query}" if query else "")
    if not path.is_absolute():
        raise StoreError(
            f"--db {url} is a relative path, which would put the store wherever the"
            " command runs (the hooks run in the work tree)",
            hint=f"use an absolute path: sqlite:///{path.absolute()}",
        )
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store, None for another database (read as SQLAlchemy
    reads it: up to the query, percent-decoded)."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(unquote(url.removeprefix("sqlite:///").split("?", 1)[0]))
