"""Alembic environment: runs on the connection that `store.open_store` passes in.

There is no alembic.ini: the store builds the config in code, so migrations run the
same from any current directory (the hook runs inside the user's repository).
"""

from alembic import context

from indexer.store.models import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
