"""The ledger's interface: :class:`paybot.ledger.sql.Ledger` (SQLite/PostgreSQL) and
:class:`paybot.ledger.memory.InMemoryLedger` (tests) both provide it, and one contract test
suite runs over both (``tests/integration/test_ledger_contract.py``).

Every method states what it returns (shape, units), what it raises on purpose and whether a
repeat is safe, in ``Returns:``/``Raises:``/``Repeat:`` lines (APScheduler 3's
``BaseJobStore`` is the model); ``tests/unit/test_port_contracts.py`` checks every port."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from paybot.domain.models import RegisterEntry
from paybot.domain.reasons import Reason
from paybot.ledger.model import (
    AlertRecord,
    DecisionRecord,
    EarlierDoc,
    Handover,
    Heartbeat,
    RunCounts,
    RunRecord,
    State,
    Transition,
    WorkItem,
)


class LedgerPort(Protocol):
    """The ledger: the register of documents, work items with leases and states, decisions,
    runs, hand-over marks, the scheduler's heartbeat and the alerts' outbox.

    Conventions for every method (docs/architecture.md, "Contracts"): times are aware UTC
    datetimes; amounts are :class:`~decimal.Decimal` kroner with two decimals (øre);
    ``erp_id`` is the finance system's Løbenr; ``robot`` the manifest's name. Notes and errors
    are stored masked (CPR numbers, names, accounts) and cut to 2,000 characters. A database
    failure (SQLAlchemy's ``OperationalError``, a lost PostgreSQL connection) propagates from
    every method unchanged and is not listed again; what a method raises on purpose is.
    Every method is safe to call from several threads and processes at once.
    """

    def create_schema(self) -> None:
        """Create the tables and indexes that are missing.

        Returns: nothing.
        Raises: nothing of its own.
        Repeat: safe (idempotent); every process that opens the ledger calls it.
        """
        ...

    def close(self) -> None:
        """Release the connections (the SQL ledger's engine).

        Returns: nothing.
        Raises: nothing.
        Repeat: safe; the ledger is not used after it.
        """
        ...

    # --- the register of documents (duplicates) ---------------------------------------------
    def upsert_register(
        self, robot: str, entries: Iterable[tuple[RegisterEntry, Sequence[str]]]
    ) -> int:
        """Store inbox rows (new, or with a changed status) and each row's duplicate keys.

        Returns: the number of entries given.
        Raises: nothing of its own.
        Repeat: safe (an upsert; keys already stored are kept once).
        """
        ...

    def register_high_water(self, robot: str) -> int:
        """The highest Løbenr in the robot's register.

        Returns: a Løbenr, 0 when the register is empty.
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def record_inbox_page(
        self,
        robot: str,
        category: str,
        entries: Sequence[tuple[RegisterEntry, Sequence[str]]],
        work: Sequence[tuple[int, str]],
        run_id: str,
    ) -> int:
        """One inbox page in one transaction: its rows in the register, a PENDING work item for
        each ``(erp_id, business_key)`` of ``work`` not yet known, and the collect mark of
        ``category`` moved to the page's highest Løbenr (never back).

        Returns: the new collect mark (a Løbenr).
        Raises: nothing of its own.
        Repeat: safe: a page stored twice changes nothing; a run killed mid-page resumes at
        the last page committed.
        """
        ...

    def collect_mark(self, robot: str, category: str) -> int:
        """Where the next collect of ``category`` starts reading.

        Returns: the Løbenr of the last page committed; for a ledger from before the marks,
        the register's highest Løbenr (0 when empty).
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def register_entry(self, robot: str, erp_id: int) -> RegisterEntry | None:
        """The register's row for a Løbenr.

        Returns: the entry, or ``None`` when the register has no such row.
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def earlier_document(self, robot: str, erp_id: int, keys: Sequence[str]) -> EarlierDoc | None:
        """The earliest document with a lower Løbenr that shares any of ``keys``.

        Returns: that document (its Løbenr, the key shared, its status when the register has
        it), or ``None`` (also for empty ``keys``).
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def record_keys(self, robot: str, erp_id: int, keys: Sequence[str]) -> None:
        """Add duplicate keys known only once the document is open (a certificate's keyed
        hash).

        Returns: nothing.
        Raises: nothing of its own.
        Repeat: safe (a key is stored once).
        """
        ...

    def upgrade_keys(self, robot: str, prefix: str, convert: Callable[[str], str | None]) -> int:
        """Replace every stored key of ``robot`` that starts with ``prefix`` by
        ``convert(key)`` (dropped when it returns ``None``), in one transaction.

        Returns: how many keys were replaced or dropped.
        Raises: whatever ``convert`` raises (nothing is changed then).
        Repeat: safe: the second call finds none.
        """
        ...

    # --- work items -------------------------------------------------------------------------
    def ensure_work(self, robot: str, erp_id: int, business_key: str, run_id: str) -> WorkItem:
        """The work item for ``erp_id``, created PENDING when new.

        Returns: the item (an existing one unchanged, whatever ``business_key`` says now).
        Raises: nothing of its own.
        Repeat: safe (idempotent).
        """
        ...

    def ensure_work_many(self, robot: str, work: Sequence[tuple[int, str]], run_id: str) -> None:
        """:meth:`ensure_work` for many ``(erp_id, business_key)`` pairs in one transaction.

        Returns: nothing.
        Raises: nothing of its own.
        Repeat: safe (idempotent).
        """
        ...

    def item(self, robot: str, erp_id: int) -> WorkItem | None:
        """A snapshot of the work item for a Løbenr.

        Returns: the item, or ``None`` when there is none.
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def items(self, robot: str, states: Iterable[State] | None = None) -> list[WorkItem]:
        """The robot's work items, in ``states`` (all when ``None``).

        Returns: snapshots ordered by Løbenr (empty when none).
        Raises: ``ValueError`` for a state that is not a :class:`State`.
        Repeat: safe (reads).
        """
        ...

    def claim_next(
        self, robot: str, worker: str, run_id: str, lease_seconds: float
    ) -> WorkItem | None:
        """Lease the claimable item (PENDING or an intent) with the lowest Løbenr that no live
        lease holds and that has not failed in ``run_id`` already; atomic across threads and
        processes. ``worker`` must be unique among those claiming at the same time.

        Returns: the item with its new lease (owner, token + 1, expiry ``lease_seconds``
        seconds from now), or ``None`` when nothing is claimable.
        Raises: ``ValueError`` when ``lease_seconds`` is not positive.
        Repeat: not idempotent: each call claims another item.
        """
        ...

    def renew(self, item: WorkItem, worker: str, lease_seconds: float) -> WorkItem:
        """Extend a lease ``worker`` still holds to ``lease_seconds`` seconds from now.

        Returns: the item with the new expiry.
        Raises: :class:`~paybot.errors.LedgerError` when the lease was lost (released,
        expired, taken by another worker) or the item is gone; ``ValueError`` for a
        ``lease_seconds`` that is not positive.
        Repeat: safe while the lease is held.
        """
        ...

    def release(self, item: WorkItem, worker: str, *, done_this_run: bool = False) -> bool:
        """Give the item back, its state unchanged. ``done_this_run``: not handed out again in
        this run.

        Returns: ``True`` when released; ``False`` when the lease was no longer ``worker``'s.
        Raises: :class:`~paybot.errors.LedgerError` when the item is not in the ledger.
        Repeat: safe: a second call returns ``False``.
        """
        ...

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
        """PENDING → PAY_INTENT, committed durably before the robot clicks approve; keeps the
        lease. ``amount`` in kroner (Decimal, finite), ``payment_date`` a Danish bank day.

        Returns: the transition (the item after it, the old and the new state).
        Raises: :class:`~paybot.errors.LedgerError` when the lease is lost, the item is not
        PENDING, it has no business key, it is marked for manual handling, or another item
        of the business key is PAY_INTENT or PAID (no second payment); ``ValueError`` for an
        amount that is not a finite Decimal.
        Repeat: not safe: a second call is refused (the item is PAY_INTENT already).
        """
        ...

    def record_paid(self, item: WorkItem, worker: str, voucher: str) -> Transition:
        """PAY_INTENT → PAID with the voucher number read from the receipt; the lease ends.

        Returns: the transition.
        Raises: :class:`~paybot.errors.LedgerError` when the lease is lost, the item is not
        PAY_INTENT, or ``voucher`` is empty.
        Repeat: not safe: a second call is refused (the item is PAID).
        """
        ...

    def record_manual_intent(
        self, item: WorkItem, worker: str, *, reason: Reason, rule_version: str
    ) -> Transition:
        """PENDING → MANUAL_INTENT with the reason code, before the robot sends the invoice to
        manual handling; keeps the lease.

        Returns: the transition.
        Raises: :class:`~paybot.errors.LedgerError` when the lease is lost or the item is not
        PENDING.
        Repeat: not safe: a second call is refused (the item is MANUAL_INTENT already).
        """
        ...

    def record_manual_done(self, item: WorkItem, worker: str) -> Transition:
        """MANUAL_INTENT → MANUAL once the finance system shows the invoice in manual
        handling; the lease ends.

        Returns: the transition.
        Raises: :class:`~paybot.errors.LedgerError` when the lease is lost or the item is not
        MANUAL_INTENT.
        Repeat: not safe: a second call is refused (the item is MANUAL).
        """
        ...

    def cancel_intent(self, item: WorkItem, worker: str, why: str) -> Transition:
        """PAY_INTENT or MANUAL_INTENT → PENDING: reconciliation found the invoice still new;
        the decision's values are cleared and ``why`` kept as the note; keeps the lease.

        Returns: the transition.
        Raises: :class:`~paybot.errors.LedgerError` when the lease is lost or the item is not
        in an intent state.
        Repeat: not safe: a second call is refused (the item is PENDING).
        """
        ...

    def record_skipped(self, item: WorkItem, worker: str, why: str) -> Transition:
        """PENDING or an intent → SKIPPED: someone else paid or handed over the invoice;
        ``why`` kept as the note; the lease ends.

        Returns: the transition.
        Raises: :class:`~paybot.errors.LedgerError` when the lease is lost or the item is in a
        final state.
        Repeat: not safe: a second call is refused (the item is SKIPPED).
        """
        ...

    def record_failure(self, item: WorkItem, worker: str, error: str | BaseException) -> int:
        """An application failure: attempts + 1, the error kept (masked), the lease released,
        the state unchanged; the item is not claimed again in this run.

        Returns: the item's attempts after it (failed runs, for ``runner.max_nights``).
        Raises: :class:`~paybot.errors.LedgerError` when the lease is lost.
        Repeat: not safe: the lease is gone after the first call (a second is refused).
        """
        ...

    def paid_voucher(self, business_key: str) -> str | None:
        """The voucher of the PAID item with this business key, of any robot.

        Returns: the voucher number, or ``None`` when no item of the key is PAID.
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    # --- decisions and runs -----------------------------------------------------------------
    def record_decision(
        self, run_id: str, robot: str, erp_id: int, decision: Mapping[str, Any], dry_run: bool
    ) -> None:
        """Keep a decision (masked, canonical JSON) in the history, also for a dry run.

        Returns: nothing.
        Raises: ``TypeError`` when ``decision`` is not a mapping or a model.
        Repeat: not idempotent: each call adds a row (a decision made twice is kept twice).
        """
        ...

    def decisions_for(self, robot: str, erp_id: int) -> list[DecisionRecord]:
        """Every decision kept for a Løbenr.

        Returns: the records, oldest first (empty when none).
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def start_run(self, run_id: str, robot: str, trigger: str, host: str, pid: int) -> RunRecord:
        """Record that a run started now (``trigger``: ``manual``, ``schedule`` …).

        Returns: the run's record (not finished).
        Raises: :class:`~paybot.errors.LedgerError` when ``run_id`` is already recorded.
        Repeat: not safe: a second call with the same ``run_id`` is refused.
        """
        ...

    def finish_run(
        self, run_id: str, exit_code: int, counts: RunCounts, note: str | None = None
    ) -> RunRecord:
        """Record a run's end now: its exit code (:mod:`paybot.exit_codes`), its counts and a
        note (masked).

        Returns: the finished record.
        Raises: :class:`~paybot.errors.LedgerError` when ``run_id`` is not recorded.
        Repeat: safe in effect: a second call records the same end again (a later time).
        """
        ...

    def record_run(self, record: RunRecord) -> RunRecord:
        """Insert a run row as given: a run that never started a process (the scheduler's
        missed and skipped runs); the note is masked.

        Returns: the record as stored.
        Raises: :class:`~paybot.errors.LedgerError` when ``record.run_id`` is already recorded.
        Repeat: not safe: a second call is refused.
        """
        ...

    def list_runs(self, robot: str | None = None, limit: int = 50) -> list[RunRecord]:
        """The runs of ``robot`` (all robots when ``None``).

        Returns: at most ``limit`` records, newest first.
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def release_leases_of_other_runs(
        self, robot: str, current_run_id: str, *, host: str | None = None
    ) -> list[int]:
        """Free the leases runs other than ``current_run_id`` hold on the robot's items. Only
        the holder of the robot's lock may call it: the other runs are dead then. With
        ``host`` (a ledger several machines share) only the leases of runs recorded with that
        machine's name: other machines' runs may be alive.

        Returns: the Løbenr of every item freed (sorted).
        Raises: nothing of its own.
        Repeat: safe: the second call frees none.
        """
        ...

    def mark_abandoned_runs(
        self, robot: str, current_run_id: str | None, note: str = ..., *, host: str | None = None
    ) -> list[str]:
        """Close the robot's unfinished runs other than ``current_run_id`` as abandoned (ended
        now, no exit code, ``note``). Only the holder of the robot's lock may call it. With
        ``host``, only the runs recorded with that machine's name.

        Returns: the run ids closed.
        Raises: nothing of its own.
        Repeat: safe: the second call closes none.
        """
        ...

    def undecided_below(self, robot: str, erp_id: int, run_id: str) -> list[int]:
        """The robot's PENDING items below ``erp_id`` under a live lease of another run (read
        but not yet decided, as far as the ledger can tell): what a worker waits for before it
        looks for an earlier duplicate when several machines share the queue.

        Returns: their Løbenr, sorted (empty when none).
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def claim_scheduled_run(
        self, robot: str, scheduled_at: dt.datetime, machine: str, outcome: str
    ) -> str:
        """Claim the planned run of ``robot`` at ``scheduled_at`` (aware UTC) for ``machine``
        with ``outcome`` (``started``, ``missed``, ``skipped``).

        Returns: the machine holding the claim (``machine`` when this call got it).
        Raises: nothing of its own.
        Repeat: safe: the first claim stays.
        """
        ...

    def item_counts(self, robot: str) -> dict[State, int]:
        """How many of the robot's work items are in each state.

        Returns: ``{state: count}``, states without any item left out.
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    # --- operators' hand-overs and releases (robot queue) -----------------------------------
    def request_handover(
        self, robot: str, erp_id: int, *, reason: Reason, note: str, by: str
    ) -> Handover:
        """Mark a PENDING item for manual handling with a reason code and a note (masked):
        the next run hands it over and never pays it.

        Returns: the mark.
        Raises: :class:`~paybot.errors.LedgerError` when there is no such item or it is not
        PENDING.
        Repeat: safe: a second mark replaces the first.
        """
        ...

    def handover_for(self, robot: str, erp_id: int) -> Handover | None:
        """The hand-over mark of a Løbenr.

        Returns: the mark, or ``None``.
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def handovers(self, robot: str, since: dt.datetime | None = None) -> list[Handover]:
        """The robot's hand-over marks made at or after ``since`` (all when ``None``).

        Returns: the marks, oldest first.
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def release_item(self, robot: str, erp_id: int) -> WorkItem:
        """A PENDING item back to the next run as if new: the mark removed, attempts 0, the
        failures forgotten, an expired lease cleared.

        Returns: the item after it.
        Raises: :class:`~paybot.errors.LedgerError` when there is no such item, it is not
        PENDING, or a live run holds it.
        Repeat: safe (the second call finds it released already).
        """
        ...

    # --- the scheduler's heartbeat and the alerts' outbox -----------------------------------
    def beat(self, name: str, host: str, pid: int) -> Heartbeat:
        """Record that ``name`` (the scheduler) is alive now; one row per name, replaced.

        Returns: the heartbeat stored.
        Raises: nothing of its own.
        Repeat: safe (each call moves the time on).
        """
        ...

    def heartbeat(self, name: str) -> Heartbeat | None:
        """The last heartbeat of ``name``.

        Returns: the heartbeat, or ``None`` when ``name`` never beat.
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...

    def add_alert(
        self,
        *,
        robot: str,
        run_id: str | None,
        channel: str,
        kind: str,
        subject: str,
        text: str,
        html: str,
    ) -> AlertRecord:
        """Put an alert in the outbox, unsent.

        Returns: the alert with its new id.
        Raises: nothing of its own.
        Repeat: not idempotent: each call adds an alert (the notifier decides once per run).
        """
        ...

    def alert_tried(self, alert_id: int, error: str | None) -> AlertRecord:
        """A delivery attempt: tries + 1; ``error`` ``None`` means delivered (``sent_at``
        set), else it is kept (masked).

        Returns: the alert after it.
        Raises: :class:`~paybot.errors.LedgerError` when ``alert_id`` is not in the outbox.
        Repeat: not idempotent: each call counts a try.
        """
        ...

    def alerts(self, *, unsent_only: bool = False, limit: int = 20) -> list[AlertRecord]:
        """The outbox; ``unsent_only``: those still to deliver.

        Returns: at most ``limit`` alerts, newest first.
        Raises: nothing of its own.
        Repeat: safe (reads).
        """
        ...
