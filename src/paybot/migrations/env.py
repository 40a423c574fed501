"""Alembic's environment for the ledger's database. It runs on the connection (and inside the
transaction) that :mod:`paybot.migrations.runner` hands it in ``config.attributes["connection"]``:
that module takes the lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so
two machines upgrading at once do it one after the other."""

from __future__ import annotations

from alembic import context

from paybot.audit.anchor import checkpoints_table
from paybot.ledger.schema import metadata as ledger_metadata


def run_migrations() -> None:
    """Alembic calls this module to migrate; it runs on the connection it is handed."""
    connection = context.config.attributes.get("connection")
    if connection is None or context.is_offline_mode():
        raise RuntimeError(
            "paybot's migrations run through 'robot db upgrade' (paybot.migrations.runner), "
            "not the alembic command"
        )
    context.configure(
        connection=connection,
        target_metadata=[ledger_metadata, checkpoints_table.metadata],
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


# Run when Alembic loads this file; a plain import (a test that imports every module) finds no
# migration context and does nothing.
if hasattr(context, "config"):
    run_migrations()
