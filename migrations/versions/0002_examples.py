"""Training examples: one row per added or changed item, per-commit skip counts,
tokenizers (model files by sha256), the one each repo uses, and token ids per example.

Existing stores keep their commits; examples are built for commits indexed from now
on. Commits indexed before this revision have none: to get them, backfill into a new
store (`--db`), since examples are appended as commits are indexed.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "examples",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("commit_id", sa.Integer(), sa.ForeignKey("commits.id"), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("qualname", sa.Text(), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("segments", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("resolved", sa.Text(), nullable=False),
        sa.Column("unresolved", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_examples_item", "examples", ["commit_id", "path", "kind", "qualname"], unique=True
    )
    op.create_table(
        "example_skips",
        sa.Column("commit_id", sa.Integer(), sa.ForeignKey("commits.id"), primary_key=True),
        sa.Column("reason", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )

    op.create_table(
        "tokenizers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "repo_tokenizers",
        sa.Column("repo_id", sa.Integer(), sa.ForeignKey("repos.id"), primary_key=True),
        sa.Column("tokenizer_id", sa.Integer(), sa.ForeignKey("tokenizers.id"), nullable=False),
        sa.Column("template", sa.String(32), nullable=False),
    )
    op.create_table(
        "example_tokens",
        sa.Column("example_id", sa.Integer(), sa.ForeignKey("examples.id"), primary_key=True),
        sa.Column("tokenizer_id", sa.Integer(), sa.ForeignKey("tokenizers.id"), primary_key=True),
        sa.Column("template", sa.String(32), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    for table in ("example_tokens", "repo_tokenizers", "tokenizers", "example_skips", "examples"):
        op.drop_table(table)
