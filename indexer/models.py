"""The store's schema as SQLAlchemy models. Only `store.py` and migrations use them.

Blobs and what was parsed from them are keyed by content (the blob oid) and
shared by every repo in the store; commits and their changed files belong to a
repo. No table holds whole trees: the tree at a commit is read from git.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Repo(Base):
    __tablename__ = "repos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The resolved git common dir, so every worktree of a repo is one repo here.
    path: Mapped[str] = mapped_column(Text, unique=True)
    # Space-separated ref tips of the last completed sync: hiding them makes the
    # next walk start where that one ended.
    synced_tips: Mapped[str] = mapped_column(Text, default="")


class Commit(Base):
    __tablename__ = "commits"
    __table_args__ = (Index("ix_commits_repo_oid", "repo_id", "oid", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"))
    oid: Mapped[str] = mapped_column(String(40))
    parents: Mapped[str] = mapped_column(Text)  # space-separated oids, first parent first
    author_name: Mapped[str] = mapped_column(Text)
    author_email: Mapped[str] = mapped_column(Text)
    author_time: Mapped[int] = mapped_column(BigInteger)
    author_offset: Mapped[int] = mapped_column(Integer)
    committer_time: Mapped[int] = mapped_column(BigInteger)
    committer_offset: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    message_encoding: Mapped[str] = mapped_column(String(40))
    is_merge: Mapped[bool] = mapped_column(Boolean)
    is_boundary: Mapped[bool] = mapped_column(Boolean)  # shallow clone: parent missing


class Change(Base):
    """A `.rs` file (or gitlink) that a non-merge commit changed against its first parent."""

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commit_id: Mapped[int] = mapped_column(ForeignKey("commits.id"), index=True)
    status: Mapped[str] = mapped_column(String(1))  # A M D R
    path: Mapped[str] = mapped_column(Text)
    old_path: Mapped[str | None] = mapped_column(Text)
    old_blob: Mapped[str | None] = mapped_column(String(40))
    new_blob: Mapped[str | None] = mapped_column(String(40))
    entry: Mapped[str] = mapped_column(String(16))  # file, symlink, submodule


class Blob(Base):
    __tablename__ = "blobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    oid: Mapped[str] = mapped_column(String(40), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # parsed, partial, skipped
    reason: Mapped[str | None] = mapped_column(String(32))  # binary, non_utf8, too_large, ...
    parser_version: Mapped[int] = mapped_column(Integer)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    blob_id: Mapped[int] = mapped_column(ForeignKey("blobs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # No index on name: every lookup is "which of these blobs (the files at a
    # commit) define NAME", which the blob_id index answers; a name index would
    # cost a random B-tree insert per item in every backfill.
    name: Mapped[str] = mapped_column(Text)
    qualname: Mapped[str] = mapped_column(Text)
    start_byte: Mapped[int] = mapped_column(Integer)
    item_byte: Mapped[int] = mapped_column(Integer)
    body_byte: Mapped[int | None] = mapped_column(Integer)
    end_byte: Mapped[int] = mapped_column(Integer)
    start_line: Mapped[int] = mapped_column(Integer)
    end_line: Mapped[int] = mapped_column(Integer)


class UseDecl(Base):
    __tablename__ = "uses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    blob_id: Mapped[int] = mapped_column(ForeignKey("blobs.id"), index=True)
    path: Mapped[str] = mapped_column(Text)
    alias: Mapped[str | None] = mapped_column(Text)
    is_glob: Mapped[bool] = mapped_column(Boolean)
    scope: Mapped[str] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer)


class ModDecl(Base):
    __tablename__ = "mods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    blob_id: Mapped[int] = mapped_column(ForeignKey("blobs.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    inline: Mapped[bool] = mapped_column(Boolean)
    line: Mapped[int] = mapped_column(Integer)
