"""Which version of example building made a repo's examples: a store's examples
from before cross-file context knew Cargo (version 0 here) are built again by the
next sync.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("repos") as batch:
        batch.add_column(
            sa.Column("examples_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("repos") as batch:
        batch.drop_column("examples_version")
