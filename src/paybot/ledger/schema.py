"""The ledger's tables (SQLAlchemy Core). SQLite by default; written so PostgreSQL can follow:
money is exact (text on SQLite, ``NUMERIC`` on PostgreSQL), times are UTC (fixed-width ISO text
on SQLite so that they compare correctly, ``TIMESTAMPTZ`` on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from paybot.ledger.model import PAYING, State


class Money(TypeDecorator[Decimal]):
    """A ``Decimal`` stored exactly; refuses floats."""

    impl = String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(40))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be a Decimal, not {type(value).__name__} ({value!r})")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, stored in UTC; naive datetimes are refused."""

    impl = String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(String(32))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"ledger time {value!r} has no time zone")
        utc = value.astimezone(dt.UTC)
        return utc if dialect.name == "postgresql" else utc.isoformat(timespec="microseconds")

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
        return moment.astimezone(dt.UTC)


metadata = MetaData()

_STATES = ", ".join(f"'{s.value}'" for s in State)

work_items = Table(
    "work_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("robot", String(64), nullable=False),
    Column("erp_id", Integer, nullable=False),
    Column("business_key", String(200), nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("voucher", String(64)),
    Column("decision_kind", String(16)),
    Column("reason", String(64)),
    Column("amount", Money),
    Column("account_string", String(100)),
    Column("payment_date", Date),
    Column("rule_version", String(100)),
    Column("run_id", String(64)),
    Column("failed_run_id", String(64)),
    Column("lease_owner", String(200)),
    Column("lease_token", Integer, nullable=False, default=0),
    Column("lease_expires", UtcDateTime),
    Column("note", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("robot", "erp_id", name="uq_work_items_robot_erp_id"),
    CheckConstraint(f"state IN ({_STATES})", name="ck_work_items_state"),
)

# The database itself refuses a second payment of one business key (CVR:invoice number): at
# most one work item per key may be PAY_INTENT or PAID, whichever robot it belongs to.
Index(
    "uq_work_items_paying_business_key",
    work_items.c.business_key,
    unique=True,
    sqlite_where=work_items.c.state.in_([s.value for s in PAYING]),
    postgresql_where=work_items.c.state.in_([s.value for s in PAYING]),
)
Index("ix_work_items_claim", work_items.c.robot, work_items.c.state, work_items.c.erp_id)

register = Table(
    "register",
    metadata,
    Column("robot", String(64), nullable=False),
    Column("erp_id", Integer, nullable=False),
    Column("category", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cvr", String(32), nullable=False),
    Column("invoice_number", String(100), nullable=False),
    Column("issue_date", Date),
    Column("amount", Money),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("robot", "erp_id", name="pk_register"),
)

# Per robot and inbox category, the highest Løbenr of the last inbox page committed: the next
# collect reads the inbox after it (keyset paging), so a failed first sync resumes where it was.
collect_marks = Table(
    "collect_marks",
    metadata,
    Column("robot", String(64), nullable=False),
    Column("category", String(32), nullable=False),
    Column("last_erp_id", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("robot", "category", name="pk_collect_marks"),
)

dup_keys = Table(
    "dup_keys",
    metadata,
    Column("robot", String(64), nullable=False),
    Column("key", String(300), nullable=False),
    Column("erp_id", Integer, nullable=False),
    PrimaryKeyConstraint("robot", "key", "erp_id", name="pk_dup_keys"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("robot", String(64), nullable=False),
    Column("erp_id", Integer, nullable=False),
    Column("decision", Text, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)
Index("ix_decisions_item", decisions.c.robot, decisions.c.erp_id)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("robot", String(64), nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("exit_code", Integer),
    Column("paid", Integer, nullable=False, default=0),
    Column("manual", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("note", Text),
)
Index("ix_runs_robot_started", runs.c.robot, runs.c.started_at)

handovers = Table(
    "handovers",
    metadata,
    Column("robot", String(64), nullable=False),
    Column("erp_id", Integer, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("by", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("robot", "erp_id", name="pk_handovers"),
)

scheduled_runs = Table(
    "scheduled_runs",
    metadata,
    Column("robot", String(64), nullable=False),
    Column("scheduled_at", UtcDateTime, nullable=False),
    Column("machine", String(255), nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    PrimaryKeyConstraint("robot", "scheduled_at", name="pk_scheduled_runs"),
)
"""One row per planned time of a robot's schedule that a scheduler acted on: which machine
started it (``outcome`` ``started``) or recorded it as missed or skipped. The primary key makes
"each scheduled run once" hold across schedulers on several machines: the second insert does
nothing (``ON CONFLICT DO NOTHING``), and its scheduler leaves the run to the first."""

heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("robot", String(64), nullable=False),
    Column("run_id", String(64)),
    Column("channel", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("tries", Integer, nullable=False, default=0),
    Column("last_try_at", UtcDateTime),
    Column("sent_at", UtcDateTime),
    Column("last_error", Text),
)
Index("ix_alerts_sent", alerts.c.sent_at)
