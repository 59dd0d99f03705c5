"""example_contents: an example's segments and target stored once, keyed by sha256;
examples.secrets: the detectors of the secrets redacted from it.

Equal examples (a cherry-pick, a vendored copy, a revert's revert) now share one
content row, and export can tell them apart from the rest by its id. Examples stored
before this revision were never scanned for credentials: they are scanned here and
redacted (the default mode; the migration cannot know a repo's `--secrets drop`).
Cached token ids are deleted (a cache: the next export computes them again), so the
examples table can be rebuilt without the old columns.

Revision ID: 0004
Revises: 0003
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CHUNK = 1000


def upgrade() -> None:
    # Imported here: only a store that needs this migration pays for it.
    from indexer.secrets import scan_example
    from indexer.shapes import Example, Segment
    from indexer.store.examples import content_key, segments_json

    conn = op.get_bind()
    # First: SQLite rebuilds `examples` below, and a row pointing at it would stop that.
    conn.execute(sa.text("DELETE FROM example_tokens"))
    op.create_table(
        "example_contents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("segments", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("examples") as batch:
        batch.add_column(sa.Column("content_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("secrets", sa.Text(), nullable=False, server_default=sa.text("''"))
        )
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, path, kind, name, qualname, change, segments, target FROM examples"
                " WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": _CHUNK},
        ).all()
        if not rows:
            break
        for row in rows:
            segments = tuple(Segment(k, t, tuple(v)) for k, t, v in json.loads(row.segments))
            example = Example(
                "",
                None,
                row.path,
                row.kind,
                row.name,
                row.qualname,
                row.change,
                segments,
                row.target,
            )
            cleaned, _findings = scan_example(example)
            text = segments_json(cleaned.segments)
            key = content_key(text, cleaned.target)
            content_id = conn.execute(
                sa.text("SELECT id FROM example_contents WHERE sha256 = :k"), {"k": key}
            ).scalar()
            if content_id is None:
                content_id = conn.execute(
                    sa.text(
                        "INSERT INTO example_contents (sha256, segments, target)"
                        " VALUES (:k, :s, :t) RETURNING id"
                    ),
                    {"k": key, "s": text, "t": cleaned.target},
                ).scalar_one()
            conn.execute(
                sa.text("UPDATE examples SET content_id = :c, secrets = :s WHERE id = :i"),
                {"c": content_id, "s": " ".join(cleaned.secrets), "i": row.id},
            )
        last = rows[-1].id
    with op.batch_alter_table("examples") as batch:
        batch.drop_column("segments")
        batch.drop_column("target")
        batch.alter_column("content_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("secrets", existing_type=sa.Text(), server_default=None)
        batch.create_foreign_key(
            "fk_examples_content_id", "example_contents", ["content_id"], ["id"]
        )
        batch.create_index("ix_examples_content_id", ["content_id"])


def downgrade() -> None:
    raise NotImplementedError("the store is derived from git: backfill a new one instead")
