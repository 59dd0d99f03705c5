"""Where a repo's store is, found without opening it: this module needs no SQLAlchemy,
so a backfill can ask whether its store is a new file before importing it (0.25 s),
and start parsing meanwhile (`parsing.ParserPool.start_history`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

import pygit2

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
        return given
    try:
        return repo.config[STORE_CONFIG_KEY].strip()
    except KeyError:
        return default_url(git_common_dir)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store, None for another database (read as SQLAlchemy
    reads it: up to the query, percent-decoded)."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(unquote(url.removeprefix("sqlite:///").split("?", 1)[0]))


def is_new_sqlite_file(url: str) -> bool:
    """Whether `url` names a SQLite file (no query string) that does not exist yet.
    False for anything else, a store on a server included: a guess that costs
    nothing when it is wrong."""
    path = sqlite_path(url)
    return path is not None and path.name != "" and "?" not in url and not path.exists()
