"""The schema as it was when migrations began (paybot 0.1.0, issue 13).

Revision ID: 0001
Revises: (none)

Creates what is missing and adopts what is there: a database made by paybot before
migrations (``create_all``, one table at a time as features arrived) keeps its tables and
rows; a table it lacks is created; a table it has must hold every column of this revision,
else the upgrade stops (nothing is changed: it is one transaction) naming the table and the
columns, for a person to look at. The tables are written out here, frozen: later changes to
``paybot.ledger.schema`` come as later revisions.

Money is exact: text on SQLite, ``NUMERIC`` on PostgreSQL; times are UTC: fixed-width ISO text
on SQLite, ``TIMESTAMPTZ`` on PostgreSQL (as ``paybot.ledger.schema.Money``/``UtcDateTime``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATES = ("PENDING", "PAY_INTENT", "PAID", "MANUAL_INTENT", "MANUAL", "SKIPPED")
PAYING = ("PAY_INTENT", "PAID")


def _money() -> sa.String:
    return sa.String(40).with_variant(sa.Numeric(asdecimal=True), "postgresql")


def _utc() -> sa.String:
    return sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")


def tables() -> sa.MetaData:
    """The baseline's tables and indexes on a metadata of their own."""
    md = sa.MetaData()
    states = ", ".join(f"'{s}'" for s in STATES)
    work_items = sa.Table(
        "work_items",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("robot", sa.String(64), nullable=False),
        sa.Column("erp_id", sa.Integer, nullable=False),
        sa.Column("business_key", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("voucher", sa.String(64)),
        sa.Column("decision_kind", sa.String(16)),
        sa.Column("reason", sa.String(64)),
        sa.Column("amount", _money()),
        sa.Column("account_string", sa.String(100)),
        sa.Column("payment_date", sa.Date),
        sa.Column("rule_version", sa.String(100)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("failed_run_id", sa.String(64)),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_token", sa.Integer, nullable=False),
        sa.Column("lease_expires", _utc()),
        sa.Column("note", sa.Text),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.UniqueConstraint("robot", "erp_id", name="uq_work_items_robot_erp_id"),
        sa.CheckConstraint(f"state IN ({states})", name="ck_work_items_state"),
    )
    paying = sa.text("state IN ({})".format(", ".join(f"'{s}'" for s in PAYING)))
    sa.Index(
        "uq_work_items_paying_business_key",
        work_items.c.business_key,
        unique=True,
        sqlite_where=paying,
        postgresql_where=paying,
    )
    sa.Index("ix_work_items_claim", work_items.c.robot, work_items.c.state, work_items.c.erp_id)
    sa.Table(
        "register",
        md,
        sa.Column("robot", sa.String(64), nullable=False),
        sa.Column("erp_id", sa.Integer, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cvr", sa.String(32), nullable=False),
        sa.Column("invoice_number", sa.String(100), nullable=False),
        sa.Column("issue_date", sa.Date),
        sa.Column("amount", _money()),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("robot", "erp_id", name="pk_register"),
    )
    sa.Table(
        "collect_marks",
        md,
        sa.Column("robot", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("last_erp_id", sa.Integer, nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("robot", "category", name="pk_collect_marks"),
    )
    sa.Table(
        "dup_keys",
        md,
        sa.Column("robot", sa.String(64), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("erp_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("robot", "key", "erp_id", name="pk_dup_keys"),
    )
    decisions = sa.Table(
        "decisions",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("robot", sa.String(64), nullable=False),
        sa.Column("erp_id", sa.Integer, nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("at", _utc(), nullable=False),
    )
    sa.Index("ix_decisions_item", decisions.c.robot, decisions.c.erp_id)
    runs = sa.Table(
        "runs",
        md,
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("robot", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("ended_at", _utc()),
        sa.Column("exit_code", sa.Integer),
        sa.Column("paid", sa.Integer, nullable=False),
        sa.Column("manual", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("note", sa.Text),
    )
    sa.Index("ix_runs_robot_started", runs.c.robot, runs.c.started_at)
    sa.Table(
        "handovers",
        md,
        sa.Column("robot", sa.String(64), nullable=False),
        sa.Column("erp_id", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("robot", "erp_id", name="pk_handovers"),
    )
    sa.Table(
        "heartbeats",
        md,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("at", _utc(), nullable=False),
    )
    alerts = sa.Table(
        "alerts",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("robot", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("tries", sa.Integer, nullable=False),
        sa.Column("last_try_at", _utc()),
        sa.Column("sent_at", _utc()),
        sa.Column("last_error", sa.Text),
    )
    sa.Index("ix_alerts_sent", alerts.c.sent_at)
    sa.Table(
        "audit_checkpoints",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trail", sa.String(600), nullable=False),
        sa.Column("first_hash", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("checkpoint_seq", sa.Integer, nullable=False),
        sa.Column("checkpoint_hash", sa.String(64), nullable=False),
        sa.Column("offset", sa.Integer, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("why", sa.String(200), nullable=False),
        sa.UniqueConstraint("trail", "first_hash", "checkpoint_seq", name="uq_audit_checkpoint"),
    )
    return md


def upgrade() -> None:
    bind = op.get_bind()
    md = tables()
    inspector = sa.inspect(bind)
    present = set(inspector.get_table_names())
    lacking: list[str] = []
    for table in md.sorted_tables:
        if table.name not in present:
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in have]
        if missing:
            lacking.append(f"{table.name} lacks {', '.join(missing)}")
    if lacking:
        raise RuntimeError(
            "this database was made by a paybot older than its first schema version and "
            f"cannot be adopted as it is ({'; '.join(lacking)}); nothing was changed"
        )
    md.create_all(bind, checkfirst=True)  # the missing tables, with their indexes
    for table in md.sorted_tables:
        if table.name not in present:
            continue
        indexes = {i["name"] for i in sa.inspect(bind).get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)


def downgrade() -> None:
    raise NotImplementedError(
        "the first schema version is not taken down: restore the backup taken before upgrading"
    )
