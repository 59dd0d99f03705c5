"""commits.examples_built: whether a commit's examples are stored.

A commit's symbols and its examples are now written in two transactions (examples
are built in worker processes, off the writer's path), so a crash between them
leaves a commit without examples; the next sync builds the examples of every
reachable commit where this is false. Commits stored before this revision had
theirs written in the same transaction: true.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("commits") as batch:
        batch.add_column(
            sa.Column("examples_built", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("commits") as batch:
        batch.drop_column("examples_built")
