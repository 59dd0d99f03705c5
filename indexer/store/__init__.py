"""The store: where a repo's index lives, and opening it.

- `location`: which store a repo uses (`--db`, its git config, or SQLite in its git dir).
- `database`: the engine for SQLite or PostgreSQL, one writer at a time (`locks`),
  database failures as messages for people; `schema` migrates it (Alembic), `models`
  are its tables, `sql` the few statements SQLAlchemy's Core does not make fast.
- `commits`: commits, their changes, blobs and symbols; `examples`: the examples
  built from them, their tokenizers and token ids.

Callers open a `Target` here and pass its connection to `commits` and `examples`,
which take and return plain data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygit2

from indexer import git
from indexer.store.commits import repo_id
from indexer.store.database import Store, open_store, translate_errors
from indexer.store.location import store_url

__all__ = ["Store", "Target", "open_store", "open_target", "translate_errors"]


@dataclass
class Target:
    """An open repository, the store it is indexed into, and its id there."""

    repo: pygit2.Repository
    store: Store
    repo_id: int

    def close(self) -> None:
        self.store.close()


def open_target(repo_path: str, db_url: str | None = None, create: bool = True) -> Target:
    """Open the repo at `repo_path` and its store (`db_url`, else the one its git
    config names, else SQLite in its git dir); with `create` False, a store that does
    not exist yet is an error."""
    repo = git.open_repo(repo_path)
    common = git.common_dir(repo)
    url = store_url(repo, common, db_url)
    store = open_store(url, create)
    with translate_errors(url), store.connect() as conn:
        rid = repo_id(conn, str(common))  # get or add, safe without the writer lock
    return Target(repo, store, rid)
