"""The first schema: repos, commits and their changed files, blobs and what they hold.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repos",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.Text(), nullable=False, unique=True),
        sa.Column("synced_tips", sa.Text(), nullable=False),
    )
    op.create_table(
        "commits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("repo_id", sa.Integer(), sa.ForeignKey("repos.id"), nullable=False),
        sa.Column("oid", sa.String(40), nullable=False),
        sa.Column("parents", sa.Text(), nullable=False),
        sa.Column("author_name", sa.Text(), nullable=False),
        sa.Column("author_email", sa.Text(), nullable=False),
        sa.Column("author_time", sa.BigInteger(), nullable=False),
        sa.Column("author_offset", sa.Integer(), nullable=False),
        sa.Column("committer_time", sa.BigInteger(), nullable=False),
        sa.Column("committer_offset", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("message_encoding", sa.String(40), nullable=False),
        sa.Column("is_merge", sa.Boolean(), nullable=False),
        sa.Column("is_boundary", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_commits_repo_oid", "commits", ["repo_id", "oid"], unique=True)
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("commit_id", sa.Integer(), sa.ForeignKey("commits.id"), nullable=False),
        sa.Column("status", sa.String(1), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("old_path", sa.Text(), nullable=True),
        sa.Column("old_blob", sa.String(40), nullable=True),
        sa.Column("new_blob", sa.String(40), nullable=True),
        sa.Column("entry", sa.String(16), nullable=False),
    )
    op.create_index("ix_changes_commit_id", "changes", ["commit_id"])
    op.create_table(
        "blobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("oid", sa.String(40), nullable=False, unique=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("parser_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("blob_id", sa.Integer(), sa.ForeignKey("blobs.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("qualname", sa.Text(), nullable=False),
        sa.Column("start_byte", sa.Integer(), nullable=False),
        sa.Column("item_byte", sa.Integer(), nullable=False),
        sa.Column("body_byte", sa.Integer(), nullable=True),
        sa.Column("end_byte", sa.Integer(), nullable=False),
        sa.Column("start_line", sa.Integer(), nullable=False),
        sa.Column("end_line", sa.Integer(), nullable=False),
    )
    op.create_index("ix_items_blob_id", "items", ["blob_id"])
    op.create_table(
        "uses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("blob_id", sa.Integer(), sa.ForeignKey("blobs.id"), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=True),
        sa.Column("is_glob", sa.Boolean(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
    )
    op.create_index("ix_uses_blob_id", "uses", ["blob_id"])
    op.create_table(
        "mods",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("blob_id", sa.Integer(), sa.ForeignKey("blobs.id"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("inline", sa.Boolean(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
    )
    op.create_index("ix_mods_blob_id", "mods", ["blob_id"])


def downgrade() -> None:
    for table in ("mods", "uses", "items", "blobs", "changes", "commits", "repos"):
        op.drop_table(table)
