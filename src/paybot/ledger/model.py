"""What the ledger stores and hands out: work items, their states, runs and decisions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from paybot.domain.models import ErpStatus


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class State(StrEnum):
    """A work item's state. ``PENDING`` → ``PAY_INTENT`` → ``PAID``; ``PENDING`` →
    ``MANUAL_INTENT`` → ``MANUAL``; ``PENDING`` → ``SKIPPED`` (someone else handled it)."""

    PENDING = "PENDING"
    PAY_INTENT = "PAY_INTENT"
    PAID = "PAID"
    MANUAL_INTENT = "MANUAL_INTENT"
    MANUAL = "MANUAL"
    SKIPPED = "SKIPPED"


CLAIMABLE: frozenset[State] = frozenset({State.PENDING, State.PAY_INTENT, State.MANUAL_INTENT})
"""States a run takes an item in. An intent state means a run stopped mid-way: reconcile first."""

INTENTS: frozenset[State] = frozenset({State.PAY_INTENT, State.MANUAL_INTENT})
FINAL: frozenset[State] = frozenset({State.PAID, State.MANUAL, State.SKIPPED})
PAYING: frozenset[State] = frozenset({State.PAY_INTENT, State.PAID})
"""At most one work item per business key is in one of these states (a unique index)."""


@dataclass(frozen=True)
class WorkItem:
    """A snapshot of one invoice's work item. The lease fields are the handle a worker holds:
    calls that change the item check them (owner and token) against the stored ones."""

    id: int
    robot: str
    erp_id: int
    business_key: str
    state: State
    attempts: int = 0
    last_error: str | None = None
    voucher: str | None = None
    decision_kind: str | None = None
    reason: str | None = None
    amount: Decimal | None = None
    account_string: str | None = None
    payment_date: dt.date | None = None
    rule_version: str | None = None
    run_id: str | None = None
    failed_run_id: str | None = None
    lease_owner: str | None = None
    lease_token: int = 0
    lease_expires: dt.datetime | None = None
    note: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    def describe(self) -> str:
        """``Løbenr 17 (20433213:F-00001) of small_invoices``: how errors name the invoice."""
        return f"Løbenr {self.erp_id} ({self.business_key or 'no business key'}) of {self.robot}"


@dataclass(frozen=True)
class Transition:
    """A state change: mirror it into the audit trail as ``state_changed``."""

    item: WorkItem  # after the change
    old: State
    new: State

    def audit_fields(self) -> dict[str, Any]:
        """Fields for ``logger.event("state_changed", **t.audit_fields())``."""
        return {
            "erp_id": self.item.erp_id,
            "business_key": self.item.business_key,
            "from": self.old.value,
            "to": self.new.value,
        }


@dataclass(frozen=True)
class EarlierDoc:
    """A document received earlier (lower Løbenr) that shares a duplicate key."""

    erp_id: int
    key: str
    status: ErpStatus | None


@dataclass(frozen=True)
class DecisionRecord:
    run_id: str
    robot: str
    erp_id: int
    decision: dict[str, Any]
    dry_run: bool
    at: dt.datetime


class RunCounts(Protocol):
    """What a run did; ``paybot.run_folder.Counts`` has these."""

    @property
    def paid(self) -> int:
        """Returns: invoices paid in the run (a count). Raises: nothing. Repeat: safe."""
        ...

    @property
    def manual(self) -> int:
        """Returns: invoices handed to manual handling (a count). Raises: nothing. Repeat:
        safe."""
        ...

    @property
    def failed(self) -> int:
        """Returns: invoices left with application errors (a count). Raises: nothing. Repeat:
        safe."""
        ...

    @property
    def skipped(self) -> int:
        """Returns: invoices someone else handled (a count). Raises: nothing. Repeat: safe."""
        ...


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    robot: str
    trigger: str
    host: str
    pid: int
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    exit_code: int | None = None
    paid: int = 0
    manual: int = 0
    failed: int = 0
    skipped: int = 0
    note: str | None = None

    @property
    def finished(self) -> bool:
        return self.ended_at is not None and self.exit_code is not None

    @property
    def abandoned(self) -> bool:
        """Ended without an exit code: the process died (see ``mark_abandoned_runs``)."""
        return self.ended_at is not None and self.exit_code is None


def checked_amount(item: WorkItem, amount: object) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise TypeError(f"{item.describe()}: amount {amount!r} must be a finite Decimal")
    return amount


@dataclass(frozen=True)
class Handover:
    """An invoice marked for manual handling by an operator (``robot queue handover``) or by
    the robot after ``runner.max_nights`` nights of application failures. While the mark is
    there the ledger refuses a payment intent for the item; the next run sends the invoice to
    manual handling in the finance system with ``reason`` and ``note`` (Danish, no personal
    data)."""

    robot: str
    erp_id: int
    reason: str
    note: str
    by: str
    at: dt.datetime


@dataclass(frozen=True)
class Heartbeat:
    """The last sign of life of a long-running process (``name``: ``scheduler``)."""

    name: str
    host: str
    pid: int
    at: dt.datetime


@dataclass(frozen=True)
class AlertRecord:
    """One alert in the outbox: composed once (no personal data), sent until delivered.
    ``channel``: ``email`` or ``webhook``; the recipients come from the configuration at
    sending time, so a corrected address is used on the next try."""

    id: int
    robot: str
    run_id: str | None
    channel: str
    kind: str
    subject: str
    text: str
    html: str
    created_at: dt.datetime
    tries: int = 0
    last_try_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    last_error: str | None = None

    @property
    def sent(self) -> bool:
        return self.sent_at is not None
