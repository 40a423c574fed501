"""The rules every ledger applies before it changes a work item, shared by the SQL ledger and
the in-memory fake so that both behave the same.

A change is allowed only when (1) the caller still holds the item's lease: the same owner and
the same lease token it got from ``claim_next``, not yet expired (fencing: a worker whose lease
ran out, or was taken over, can change nothing), and (2) the item is in a state the change
starts from.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

from paybot.errors import LedgerError
from paybot.ledger.model import State, Transition, WorkItem, checked_amount


class Change(StrEnum):
    PAY_INTENT = "record_pay_intent"
    PAID = "record_paid"
    MANUAL_INTENT = "record_manual_intent"
    MANUAL_DONE = "record_manual_done"
    CANCEL_INTENT = "cancel_intent"
    SKIPPED = "record_skipped"


RULES: dict[Change, tuple[frozenset[State], State]] = {
    Change.PAY_INTENT: (frozenset({State.PENDING}), State.PAY_INTENT),
    Change.PAID: (frozenset({State.PAY_INTENT}), State.PAID),
    Change.MANUAL_INTENT: (frozenset({State.PENDING}), State.MANUAL_INTENT),
    Change.MANUAL_DONE: (frozenset({State.MANUAL_INTENT}), State.MANUAL),
    Change.CANCEL_INTENT: (frozenset({State.PAY_INTENT, State.MANUAL_INTENT}), State.PENDING),
    Change.SKIPPED: (
        frozenset({State.PENDING, State.PAY_INTENT, State.MANUAL_INTENT}),
        State.SKIPPED,
    ),
}

KEEPS_LEASE: frozenset[State] = frozenset({State.PENDING, State.PAY_INTENT, State.MANUAL_INTENT})
"""After a change into these states the worker still holds the item (it goes on with it)."""


def lease_problem(current: WorkItem, handle: WorkItem, worker: str, now: dt.datetime) -> str | None:
    """Why ``worker`` (holding ``handle``) no longer holds ``current``'s lease, or ``None``."""
    if current.lease_owner is None:
        return "the lease was released"
    if current.lease_owner != worker or current.lease_token != handle.lease_token:
        return f"the lease is now held by {current.lease_owner} (token {current.lease_token})"
    if current.lease_expires is None or current.lease_expires <= now:
        return f"the lease expired at {current.lease_expires}"
    return None


def check_lease(
    current: WorkItem, handle: WorkItem, worker: str, now: dt.datetime, what: str
) -> None:
    problem = lease_problem(current, handle, worker, now)
    if problem is not None:
        raise LedgerError(f"{current.describe()}: {what} refused for {worker}: {problem}")


def check_change(current: WorkItem, change: Change) -> State:
    """The state ``change`` leads to, or :class:`LedgerError` when ``current`` cannot take it."""
    sources, target = RULES[change]
    if current.state not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise LedgerError(
            f"{current.describe()}: {change.value} refused: the item is {current.state.value}, "
            f"not {allowed}"
        )
    return target


def check_lease_seconds(lease_seconds: float) -> dt.timedelta:
    if not lease_seconds > 0:
        raise ValueError(
            f"lease_seconds (setting runner.lease_seconds) = {lease_seconds!r}: must be positive"
        )
    return dt.timedelta(seconds=lease_seconds)


MAX_ERROR_CHARS = 2000


def check_handover(
    current: WorkItem | None, robot: str, erp_id: int, *, what: str = "handed over"
) -> WorkItem:
    """An operator (or the robot) may mark only a PENDING item for manual handling: an intent
    state means a run may be paying it right now or stopped mid-way (the next run reconciles
    it first), and a final state is settled. ``what`` names the change in the refusal."""
    if current is None:
        raise LedgerError(f"Løbenr {erp_id} of {robot}: no such work item in the ledger")
    if current.state is not State.PENDING:
        raise LedgerError(
            f"{current.describe()}: cannot be {what}: it is {current.state.value}, not "
            "PENDING (an intent is reconciled by the next run; a final state is settled)"
        )
    return current


def check_release(current: WorkItem | None, robot: str, erp_id: int, now: dt.datetime) -> WorkItem:
    """Only a PENDING item that no live run holds can be released for the next run."""
    current = check_handover(current, robot, erp_id, what="released")
    if current.lease_owner is not None and (
        current.lease_expires is not None and current.lease_expires > now
    ):
        raise LedgerError(
            f"{current.describe()}: a run is working on it now ({current.lease_owner}); "
            "try again when the run has ended"
        )
    return current


def handover_refusal(item: WorkItem, reason: str) -> LedgerError:
    return LedgerError(
        f"{item.describe()}: record_pay_intent refused: the invoice is marked for manual "
        f"handling ({reason})"
    )


ABANDONED_NOTE = "abandoned: the process ended without finishing the run"


def safe_text(text: str | BaseException) -> str:
    """An error or a note as stored: personal data masked, at most :data:`MAX_ERROR_CHARS`."""
    from paybot.audit.masking import mask_text

    raw = f"{type(text).__name__}: {text}" if isinstance(text, BaseException) else str(text)
    masked = mask_text(raw)
    return masked if len(masked) <= MAX_ERROR_CHARS else masked[: MAX_ERROR_CHARS - 1] + "…"


def decision_json(decision: object) -> str:
    """A decision as stored: plain JSON, personal data masked, canonical."""
    from paybot.audit.chain import canonical_json
    from paybot.audit.masking import mask_data

    data = mask_data(decision)
    if not isinstance(data, dict):
        raise TypeError(f"a decision must be a mapping or a model, not {type(decision).__name__}")
    return canonical_json(data)


class StateChanges(ABC):
    """The state changes of a work item, written once for both ledgers: each says what it
    stores, and the ledger's ``_change`` applies the checks above and stores it."""

    @abstractmethod
    def _change(
        self, item: WorkItem, worker: str, change: Change, values: Mapping[str, Any]
    ) -> Transition:
        """Checks the lease and the change, then stores ``values`` with the new state."""

    def record_pay_intent(
        self,
        item: WorkItem,
        worker: str,
        *,
        amount: Decimal,
        account_string: str,
        payment_date: dt.date,
        rule_version: str,
    ) -> Transition:
        """PENDING → PAY_INTENT, committed (durably) before the robot clicks approve. Refused
        when the lease is lost or another item of the business key is PAY_INTENT or PAID."""
        if not item.business_key.strip():
            raise LedgerError(f"{item.describe()}: no business key, cannot record a payment")
        values = {
            "decision_kind": "pay",
            "reason": None,
            "amount": checked_amount(item, amount),
            "account_string": account_string,
            "payment_date": payment_date,
            "rule_version": rule_version,
        }
        return self._change(item, worker, Change.PAY_INTENT, values)

    def record_paid(self, item: WorkItem, worker: str, voucher: str) -> Transition:
        """PAY_INTENT → PAID with the voucher number read from the receipt."""
        if not voucher.strip():
            raise LedgerError(f"{item.describe()}: record_paid needs a voucher number")
        return self._change(item, worker, Change.PAID, {"voucher": voucher.strip()})

    def record_manual_intent(
        self, item: WorkItem, worker: str, *, reason: str, rule_version: str
    ) -> Transition:
        """PENDING → MANUAL_INTENT, before the robot sends the invoice to manual handling."""
        values = {"decision_kind": "manual", "reason": reason, "rule_version": rule_version}
        return self._change(item, worker, Change.MANUAL_INTENT, values)

    def record_manual_done(self, item: WorkItem, worker: str) -> Transition:
        """MANUAL_INTENT → MANUAL, once the finance system shows it in manual handling."""
        return self._change(item, worker, Change.MANUAL_DONE, {})

    def cancel_intent(self, item: WorkItem, worker: str, why: str) -> Transition:
        """PAY_INTENT/MANUAL_INTENT → PENDING: reconciliation found the invoice still new."""
        values = {
            "decision_kind": None,
            "reason": None,
            "amount": None,
            "account_string": None,
            "payment_date": None,
            "note": safe_text(why),
        }
        return self._change(item, worker, Change.CANCEL_INTENT, values)

    def record_skipped(self, item: WorkItem, worker: str, why: str) -> Transition:
        """→ SKIPPED: someone else paid or handed over the invoice."""
        return self._change(item, worker, Change.SKIPPED, {"note": safe_text(why)})
