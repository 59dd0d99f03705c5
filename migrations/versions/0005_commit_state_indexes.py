"""Partial indexes on commits for the two questions every sync asks: which commits'
examples are not built yet, and which commits are shallow boundaries. Both are few;
without an index each sync scanned every stored commit (21 ms each at 20,000).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    commits = sa.table("commits", sa.column("examples_built"), sa.column("is_boundary"))
    unbuilt = commits.c.examples_built == sa.false()
    boundary = commits.c.is_boundary == sa.true()
    op.create_index(
        "ix_commits_unbuilt",
        "commits",
        ["repo_id"],
        sqlite_where=unbuilt,
        postgresql_where=unbuilt,
    )
    op.create_index(
        "ix_commits_boundary",
        "commits",
        ["repo_id"],
        sqlite_where=boundary,
        postgresql_where=boundary,
    )


def downgrade() -> None:
    op.drop_index("ix_commits_boundary", "commits")
    op.drop_index("ix_commits_unbuilt", "commits")
