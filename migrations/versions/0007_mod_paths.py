"""`#[path]` attributes and `extern crate` declarations in `mods`, for the resolver to
place a module's file where the attribute says and to follow a crate's aliases.
Blobs stored before are of parser version 2 and have neither: the next sync of each
repo parses again those of its blobs that could hold one (`index/reparse.py`).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mods") as batch:
        batch.add_column(sa.Column("path", sa.Text()))
        batch.add_column(sa.Column("crate", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("mods") as batch:
        batch.drop_column("crate")
        batch.drop_column("path")
