"""What each example's edit changed (`edit_type`: code, formatting, comments, moved)
and where a moved or renamed item's old version was (`origin`), for curation and for
splits that follow an item's history. Examples stored before have neither; the
store's examples version (`repos.examples_version`) makes the next sync build them
again with both.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("examples") as batch:
        batch.add_column(
            sa.Column("edit_type", sa.String(16), nullable=False, server_default="code")
        )
        batch.add_column(sa.Column("origin", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("examples") as batch:
        batch.drop_column("origin")
        batch.drop_column("edit_type")
