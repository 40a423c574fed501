"""Each planned scheduled run once, across schedulers on several machines (issue 13).

Revision ID: 0002
Revises: 0001

Adds ``scheduled_runs``: one row per robot and planned time that a scheduler acted on (which
machine started it, or recorded it as missed or skipped). Its primary key is what makes "each
scheduled run once" hold when several machines' schedulers share one PostgreSQL: the second
insert does nothing (``ON CONFLICT DO NOTHING``). A new table only: existing rows are untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _utc() -> sa.String:
    return sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")


def upgrade() -> None:
    if "scheduled_runs" in sa.inspect(op.get_bind()).get_table_names():
        return  # made by a paybot of this branch before the revision existed
    op.create_table(
        "scheduled_runs",
        sa.Column("robot", sa.String(64), nullable=False),
        sa.Column("scheduled_at", _utc(), nullable=False),
        sa.Column("machine", sa.String(255), nullable=False),
        sa.Column("claimed_at", _utc(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("robot", "scheduled_at", name="pk_scheduled_runs"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
