"""The store's schema as SQLAlchemy Core tables. Only the store's modules, `doctor.py`'s
checks and migrations use them.

Blobs and what was parsed from them are keyed by content (the blob oid) and
shared by every repo in the store; commits and their changed files belong to a
repo. No table holds whole trees: the tree at a commit is read from git.

Core tables rather than ORM classes: the store reads and writes rows in bulk and
never needs identity-mapped objects, and `sqlalchemy.orm` alone costs a tenth of a
second to import on every hook run.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    true,
)

metadata = MetaData()


def _id() -> Column:
    return Column("id", Integer, primary_key=True)


repos = Table(
    "repos",
    metadata,
    _id(),
    # The resolved git common dir, so every worktree of a repo is one repo here.
    Column("path", Text, nullable=False, unique=True),
    # Space-separated ref tips of the last completed sync: hiding them makes the
    # next walk start where that one ended.
    Column("synced_tips", Text, nullable=False),
    # The version of example building its stored examples come from
    # (`index.examples.BUILDER_VERSION`): an older one's are built again.
    Column("examples_version", Integer, nullable=False, server_default="0"),
)

commits = Table(
    "commits",
    metadata,
    _id(),
    Column("repo_id", Integer, ForeignKey("repos.id"), nullable=False),
    Column("oid", String(40), nullable=False),
    Column("parents", Text, nullable=False),  # space-separated oids, first parent first
    Column("author_name", Text, nullable=False),
    Column("author_email", Text, nullable=False),
    Column("author_time", BigInteger, nullable=False),
    Column("author_offset", Integer, nullable=False),
    Column("committer_time", BigInteger, nullable=False),
    Column("committer_offset", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("message_encoding", String(40), nullable=False),
    Column("is_merge", Boolean, nullable=False),
    Column("is_boundary", Boolean, nullable=False),  # shallow clone: parents missing
    # False between the commit's two transactions (symbols, then examples): a sync
    # finishes the examples of every reachable commit where it is still false.
    Column("examples_built", Boolean, nullable=False),
    Index("ix_commits_repo_oid", "repo_id", "oid", unique=True),
)
# Every sync asks for the few commits whose examples are not built and for shallow
# boundaries; partial indexes answer without scanning all commits (migration 0005).
# PostgreSQL's WHERE is attached when a PostgreSQL store is opened (`for_postgresql`):
# naming it here would import SQLAlchemy's PostgreSQL dialect, ~30 ms, in every
# command of every SQLite user, a hook's sync included.
_UNBUILT = commits.c.examples_built == false()
_BOUNDARY = commits.c.is_boundary == true()
_PARTIAL_INDEXES = (
    (Index("ix_commits_unbuilt", commits.c.repo_id, sqlite_where=_UNBUILT), _UNBUILT),
    (Index("ix_commits_boundary", commits.c.repo_id, sqlite_where=_BOUNDARY), _BOUNDARY),
)


def for_postgresql() -> None:
    """Make the partial indexes partial on PostgreSQL too (idempotent)."""
    for index, where in _PARTIAL_INDEXES:
        index.dialect_kwargs["postgresql_where"] = where


# The .rs files (and gitlinks) a commit changed against its first parent; for a
# merge, only those it left different from every parent.
changes = Table(
    "changes",
    metadata,
    _id(),
    Column("commit_id", Integer, ForeignKey("commits.id"), nullable=False, index=True),
    Column("status", String(1), nullable=False),  # A M D R
    Column("path", Text, nullable=False),
    Column("old_path", Text),
    Column("old_blob", String(40)),
    Column("new_blob", String(40)),
    Column("entry", String(16), nullable=False),  # file, symlink, submodule
)

blobs = Table(
    "blobs",
    metadata,
    _id(),
    Column("oid", String(40), nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # parsed, partial, skipped
    Column("reason", String(32)),  # binary, non_utf8, too_large, syntax_error, too_deep
    Column("parser_version", Integer, nullable=False),
)

items = Table(
    "items",
    metadata,
    _id(),
    Column("blob_id", Integer, ForeignKey("blobs.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    # No index on name: every lookup is "which of these blobs (the files at a
    # commit) define NAME", which the blob_id index answers; a name index would
    # cost a random B-tree insert per item in every backfill.
    Column("name", Text, nullable=False),
    Column("qualname", Text, nullable=False),
    Column("start_byte", Integer, nullable=False),
    Column("item_byte", Integer, nullable=False),
    Column("body_byte", Integer),
    Column("end_byte", Integer, nullable=False),
    Column("start_line", Integer, nullable=False),
    Column("end_line", Integer, nullable=False),
)

uses = Table(
    "uses",
    metadata,
    _id(),
    Column("blob_id", Integer, ForeignKey("blobs.id"), nullable=False, index=True),
    Column("path", Text, nullable=False),
    Column("alias", Text),
    Column("is_glob", Boolean, nullable=False),
    Column("scope", Text, nullable=False),
    Column("line", Integer, nullable=False),
)

# Names bound to modules (`rust.ModDecl`): `mod` declarations, and `extern crate`s
# (a crate's root bound to a name; `crate` is set, `inline` false).
mods = Table(
    "mods",
    metadata,
    _id(),
    Column("blob_id", Integer, ForeignKey("blobs.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("inline", Boolean, nullable=False),
    Column("line", Integer, nullable=False),
    Column("path", Text),  # its `#[path = "..."]`, as written
    Column("crate", Text),  # `extern crate crate as name;`
)

# One row per added or changed item of a non-merge commit (examples.py). What the
# record is made of (segments and target) is in `example_contents`, stored once
# however many examples share it (a cherry-pick, a vendored copy, a revert's revert).
examples = Table(
    "examples",
    metadata,
    _id(),
    Column("commit_id", Integer, ForeignKey("commits.id"), nullable=False),
    Column("path", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("qualname", Text, nullable=False),
    Column("change", String(16), nullable=False),  # added, modified
    Column("content_id", Integer, ForeignKey("example_contents.id"), nullable=False, index=True),
    Column("resolved", Text, nullable=False),  # JSON list of "name -> path::qualname"
    Column("unresolved", Text, nullable=False),  # JSON list of "name (why)"
    # The detector of each secret redacted from this example, space-separated (secrets.py).
    Column("secrets", Text, nullable=False),
    # What the edit changed (shapes.EDIT_TYPES: code, formatting, comments, moved).
    Column("edit_type", String(16), nullable=False, server_default="code"),
    # JSON [path, qualname] of the old version when it was elsewhere (moved, renamed).
    Column("origin", Text),
    Index("ix_examples_item", "commit_id", "path", "kind", "qualname", unique=True),
)

# Segments are stored as text (JSON), so a new tokenizer or budget needs no re-parse;
# keyed by the sha256 of the two (`examples.content_key`): equal examples share a row.
example_contents = Table(
    "example_contents",
    metadata,
    _id(),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("segments", Text, nullable=False),  # JSON [[kind, text, [variants...]], ...]
    Column("target", Text, nullable=False),
)

# What a commit's changes did not turn into examples, counted by reason.
example_skips = Table(
    "example_skips",
    metadata,
    Column("commit_id", Integer, ForeignKey("commits.id"), primary_key=True),
    Column("reason", String(32), primary_key=True),  # deleted, unparsed_blob, secret
    Column("count", Integer, nullable=False),
)

# Tokenizer model files, by content: `tokenizer train` and `tokenizer use` add one.
tokenizers = Table(
    "tokenizers",
    metadata,
    _id(),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("kind", String(16), nullable=False),  # sentencepiece, hf
    Column("data", LargeBinary, nullable=False),
)

# The tokenizer and template a repo's examples are tokenized with as they are indexed.
repo_tokenizers = Table(
    "repo_tokenizers",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id"), primary_key=True),
    Column("tokenizer_id", Integer, ForeignKey("tokenizers.id"), nullable=False),
    Column("template", String(32), nullable=False),
)

# Token ids of an example's every piece, per tokenizer and template (tokenizer.py's
# EncodedExample bytes): computed once, so a new budget needs no re-tokenizing.
example_tokens = Table(
    "example_tokens",
    metadata,
    Column("example_id", Integer, ForeignKey("examples.id"), primary_key=True),
    Column("tokenizer_id", Integer, ForeignKey("tokenizers.id"), primary_key=True),
    Column("template", String(32), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
