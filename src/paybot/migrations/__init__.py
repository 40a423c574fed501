"""The ledger database's schema migrations (Alembic): ``env.py`` and ``versions/``, run by
:mod:`paybot.migrations.runner` (``robot db upgrade``), never by the ``alembic`` command alone.

One database, one chain of revisions: the ledger's tables, the run history (``runs``), the
alerts' outbox (``alerts``) and the audit checkpoints (``audit_checkpoints``) all live in the
ledger's database, SQLite or PostgreSQL alike. The scheduler's job store is APScheduler's own
table, made and versioned by APScheduler.

A new revision: add ``versions/NNNN_what.py`` with ``revision = "NNNN"`` and
``down_revision`` the previous one, written with ``alembic.op`` against frozen table
definitions (never by importing today's ``paybot.ledger.schema``), and run
``tests/integration/test_migrations.py``: it checks that upgrading an empty database gives
exactly the tables the code's metadata describes.
"""
