"""One worker: one finance-system session (:class:`paybot.erp.port.FinanceSystem`) working
through the ledger's items, one invoice at a time.

For each claimed item: reconcile an unresolved intent first (see :mod:`paybot.ledger`), read the
invoice once, decide with the robot's rules, record the decision, then act: record the intent,
approve or hand over, record the result. Kinds of failure:

- **business** (the data is wrong or missing): the rules' ``Manual`` decision, or a refusal by
  the finance system that a person must look at. Sent to manual handling; never retried.
- **application** (timeouts, missing elements, HTTP 500, expired session): a masked screenshot,
  the error in the ledger and the audit trail, a new login (see ``_resume``), and a retry
  with backoff up to ``runner.max_attempts`` when the error is ``retryable`` (a refused login is
  not: :class:`paybot.errors.LoginRefused`); then the item is left for the next run. After
  ``runner.max_consecutive_failures`` failed attempts in a row (on any items), the run stops
  instead of hammering a system that is down. An invoice left so in ``runner.max_nights`` runs
  is marked for a person (``MANUAL_REPEATED_FAILURES``) and not tried again.
- **the browser** (Chromium crashed or was killed, "invalid session id", a renderer that stops
  answering): not the invoice's fault and not the finance system's. The browser is replaced by
  a new one with a new login and the worker carries on with the invoice it was on (an open
  intent is reconciled first, as after a crash); this costs the invoice no attempt. Restarts
  are counted apart (:class:`BrowserRestarts`); after ``runner.max_browser_restarts`` of them
  the run stops, naming the browser.

An invoice marked for manual handling (by that rule, or by an operator with ``robot queue
handover``) is not decided: the next run sends it to manual handling with the mark's reason
and note. The ledger refuses a payment intent for a marked invoice, so a mark made while a run
is working on the invoice is safe too.

A stop request (SIGTERM) is honoured between invoices only: never between the click on approve
and recording the voucher.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from paybot import __version__
from paybot.audit import mask_data
from paybot.audit.events import Event
from paybot.config import RobotConfig
from paybot.domain.models import (
    Decision,
    DocType,
    ErpStatus,
    Explanation,
    Invoice,
    Manual,
    Pay,
    RawInvoice,
)
from paybot.domain.parsing import InvoiceFormatError, parse_invoice
from paybot.domain.reasons import Reason
from paybot.domain.rules import DecisionContext
from paybot.domain.values import DOC_TYPE_TEXTS, erp_status, read_amount, read_choice
from paybot.erp.port import (
    MANUAL_REASON_FIELD,
    FinanceSystem,
    ReferenceData,
)
from paybot.errors import (
    AlreadyHandled,
    ApplicationError,
    BrowserFailed,
    BusinessError,
    LedgerError,
    PaybotError,
    what_failed,
)
from paybot.ledger import Handover, LedgerPort, State, Transition, WorkItem
from paybot.private import private_dir, tighten
from paybot.run import robolog
from paybot.run.ordering import KeyOrder

MANUAL_NOTE_LIMIT = 1000
HANDOVER_RULE = "handover"
"""The ``rule`` of a decision that follows a hand-over mark rather than the robot's rules."""
ROBOT_BY = "robot"
"""``by`` of a hand-over mark the robot made itself (``runner.max_nights``)."""
KEY_WAIT_SECONDS = 60.0
OTHERS_POLL_SECONDS = 0.2
"""How often a worker asks the shared ledger whether other machines' runs have decided the
lower Løbenr they hold (see ``Worker._wait_for_other_machines``)."""


class AuditLog(Protocol):
    """What a worker writes its trail to: :class:`paybot.audit.AuditLogger` (or a test's
    recorder)."""

    def event(self, event: Event, *, durable: bool | None = None, **fields: Any) -> None:
        """Append one record of ``event`` with ``fields`` and the bound ids (masked).

        Returns: nothing; with ``durable`` (default: the event's own rule) only once the
        record is on disk.
        Raises: :class:`~paybot.audit.chain.AuditTrailError` when the trail cannot be
        written.
        Repeat: not idempotent: each call appends a record.
        """
        ...

    def bind(self, **ids: Any) -> AuditLog:
        """A log whose records also carry ``ids`` (``erp_id``, ``business_key``, ``worker``).

        Returns: the new log; this one is unchanged.
        Raises: nothing.
        Repeat: safe.
        """
        ...


class Result(StrEnum):
    PAID = "paid"
    MANUAL = "manual"
    SKIPPED = "skipped"
    FAILED = "failed"
    WOULD_PAY = "would_pay"
    WOULD_HAND_OVER = "would_hand_over"
    LOST = "lost"  # another worker or run took the item over (lease lost)


@dataclass
class ItemOutcome:
    """One invoice's line in the report: no personal data."""

    erp_id: int
    business_key: str
    result: Result
    reason: str | None = None
    amount: str | None = None
    account_string: str | None = None
    voucher: str | None = None
    error: str | None = None
    screenshot: str | None = None
    note: str | None = None  # the Danish note for the caseworker (no personal data)
    seconds: float | None = None
    """How long the worker spent on the invoice, all attempts (wall clock, seconds)."""
    currency: str | None = None
    """The document's currency (EN 16931 BT-5, UBL ``DocumentCurrencyCode``, ISO 4217, e.g.
    ``DKK``, ``EUR``) that ``amount`` is in: from the parsed invoice, or as read from the page
    when it could not be parsed; ``None`` when unknown (the report never adds it to kr)."""
    credit_note: bool = False
    """A credit note (UBL ``CreditNote``, ``InvoiceTypeCode``/``CreditNoteTypeCode`` 381):
    ``amount`` is what the supplier owes back (shown and counted negative in the report)."""


class CircuitBreaker:
    """Counts failed attempts in a row across all workers; trips at the limit. Failures of the
    browser are not counted here (see :class:`BrowserRestarts`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._in_a_row = 0
        self.tripped = threading.Event()
        self.what = "finance system"
        """What the last failure was of: ``finance system`` or ``network``."""

    def failure(self, what: str = "finance system") -> None:
        with self._lock:
            self._in_a_row += 1
            self.what = what
            if self._in_a_row >= self.limit:
                self.tripped.set()

    def success(self) -> None:
        with self._lock:
            self._in_a_row = 0

    def stop_message(self) -> str:
        if self.what == "network":
            return (
                f"stopped after {self.limit} failed attempts in a row: the finance system could "
                "not be reached (network: connection refused or no route; check the address "
                "and the network before the finance system)"
            )
        return (
            f"stopped after {self.limit} failed attempts in a row: the finance system seems "
            "to be down (finance system: error pages or no answer)"
        )


class BrowserRestarts:
    """Browser restarts of a run, across all workers: allowed up to ``limit``; one more
    failure trips it and the run stops."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self.count = 0
        self.last_error = ""
        self.tripped = threading.Event()

    def allow(self, error: str) -> bool:
        """A browser failed: True when it may be restarted (and the restart is counted)."""
        with self._lock:
            self.last_error = error
            if self.count >= self.limit:
                self.tripped.set()
                return False
            self.count += 1
            return True

    def stop_message(self) -> str:
        return (
            f"stopped after {self.count} browser restart(s): the browser (Chromium) keeps "
            f"failing (browser: {self.last_error}); the finance system is not to blame"
        )


@dataclass
class RunContext:
    """What every worker of one run shares."""

    cfg: RobotConfig
    run_id: str
    run_dir: Path
    today: Callable[[], dt.date]
    """The Danish date, asked once per invoice (a run may go past midnight)."""
    dry_run: bool
    ledger: LedgerPort
    active_accounts: frozenset[str]
    reference: ReferenceData
    order: KeyOrder
    breaker: CircuitBreaker
    stop: threading.Event
    progress: Callable[[str], None] = lambda line: None
    """Told one line per invoice (no personal data), for the console."""
    restarts: BrowserRestarts = field(default_factory=lambda: BrowserRestarts(3))
    shared_queue: bool = False
    """The ledger is shared with other machines' runs (PostgreSQL)."""
    ledger_lost: threading.Event = field(default_factory=threading.Event)
    """Set when a worker stopped because the ledger's database could not be reached."""

    def stopping(self) -> bool:
        return (
            self.stop.is_set()
            or self.breaker.tripped.is_set()
            or self.restarts.tripped.is_set()
            or self.ledger_lost.is_set()
        )


def progress_line(worker: str, o: ItemOutcome) -> str:
    """``w1 løbenr 17  20433213:F-1  paid 1019.48 6.45.51-000-2.2 B-2026-000016``"""
    detail = {
        Result.PAID: f"{o.amount} {o.account_string} {o.voucher}",
        Result.WOULD_PAY: f"{o.amount} {o.account_string}",
        Result.MANUAL: o.reason or "",
        Result.WOULD_HAND_OVER: o.reason or "",
    }.get(o.result, o.error or o.reason or "")
    return str(
        mask_data(f"{worker} løbenr {o.erp_id}  {o.business_key}  {o.result.value} {detail}")
    )


def decision_json(decision: Decision) -> dict[str, Any]:
    masked = mask_data(decision.model_dump(mode="json"))
    assert isinstance(masked, dict)
    return masked


def check_line(check: dict[str, Any]) -> str:
    """``✓ small_invoices.limit (MANUAL_AMOUNT) amount=1019.48 limit=3000.00``: one check the
    rules made, for robocorp's log, masked."""
    masked = mask_data(check)
    assert isinstance(masked, dict)
    compared = masked.get("compared") or {}
    values = " ".join(f"{k}={v}" for k, v in compared.items()) if isinstance(compared, dict) else ""
    mark = "✓" if masked.get("passed") else "✗"
    return f"{mark} {masked.get('rule', '?')} ({masked.get('reason', '')}) {values}".rstrip()


def payable_on_page(raw: RawInvoice) -> str | None:
    """The invoice's payable amount (``at-betale``) as a plain decimal string, or ``None``
    when the page shows none that can be read (the report then shows no amount)."""
    try:
        return str(read_amount(raw.get("at-betale")))
    except (ValueError, ArithmeticError, PaybotError):
        return None


def document_on_page(raw: RawInvoice) -> tuple[str | None, bool]:
    """``(currency, credit note)`` as read from the page, before (or without) parsing: the
    currency code upper-cased or ``None`` when the field is empty; a document type that
    cannot be read counts as no credit note."""
    currency = raw.get("valuta").upper() or None
    try:
        credit = read_choice(raw.get("dokumenttype"), DOC_TYPE_TEXTS, "en dokumenttype")
    except ValueError:
        return currency, False
    return currency, credit is DocType.CREDIT_NOTE


def describe_earlier(erp_id: int, key: str) -> str:
    kinds = {
        "cvr+nr": "samme CVR og fakturanummer",
        "cvr+beloeb+dato": "samme CVR, beløb og fakturadato",
        "cvr+cpr+blanket": "samme læge, borger og blanket",
        "bestilling": "samme tolkebestilling",
    }
    kind = kinds.get(key.split(":", 1)[0], "samme nøgle")
    return f"løbenr. {erp_id} ({kind})"


class Worker:
    def __init__(self, name: str, ctx: RunContext, session: FinanceSystem, audit: AuditLog) -> None:
        self.name = name
        self.owner = f"{ctx.run_id}/{name}"
        """The lease owner in the ledger: unique among every run claiming from it, also the
        runs of other machines sharing one PostgreSQL."""
        self.ctx = ctx
        self.session = session
        self.audit = audit
        self.robot = ctx.cfg.name
        self.runner = ctx.cfg.settings.runner
        self.outcomes: list[ItemOutcome] = []
        self.since_fresh = 0
        self.fresh_browsers = 0
        self.payable: str | None = None
        """The amount payable on the invoice being worked on, as read (for the report)."""
        self.currency: str | None = None
        """Its currency (BT-5), as read, then as parsed (for the report)."""
        self.credit_note = False
        """Whether it is a credit note, as read, then as parsed (for the report)."""

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        while not self.ctx.stopping():
            try:
                item = self.ctx.order.claim(
                    lambda: self.ctx.ledger.claim_next(
                        self.robot, self.owner, self.ctx.run_id, self.runner.lease_seconds
                    ),
                    lambda claimed: claimed.erp_id,
                )
            except LedgerError as exc:
                # The ledger's database stayed away longer than ledger.retry_seconds: this
                # worker stops between two invoices; what it did is recorded.
                self.audit.event(Event.APP_ERROR, error=str(exc), kind="LedgerError")
                self.ctx.ledger_lost.set()
                return
            if item is None:
                return
            claimed: WorkItem = item
            began = time.monotonic()
            try:
                outcome = self.process(claimed)
                outcome.seconds = round(time.monotonic() - began, 3)
                self.outcomes.append(outcome)
                self.ctx.progress(progress_line(self.name, outcome))
            finally:
                self.ctx.order.keys_recorded(claimed.erp_id)
            self._fresh_browser_when_due()

    def _fresh_browser_when_due(self) -> None:
        """``runner.browser_restart_every``: a fresh browser (and login) after that many
        invoices, between two invoices, to keep a long run's memory flat. Planned, so not
        counted as a failure; when it fails, the next invoice meets a dead browser and the
        usual restart takes over."""
        every = self.runner.browser_restart_every
        self.since_fresh += 1
        if not every or self.since_fresh < every or self.ctx.stopping():
            return
        self.since_fresh = 0
        try:
            self.session.restart_browser()
            self.session.login()
        except ApplicationError as exc:
            self.audit.event(Event.APP_ERROR, error=str(exc), kind=type(exc).__name__)
            return
        self.fresh_browsers += 1
        self.audit.event(Event.BROWSER_RESTARTED, planned=True, every=every)

    def process(self, item: WorkItem) -> ItemOutcome:
        log = self.audit.bind(erp_id=item.erp_id, invoice=item.business_key)
        # The session's pages, typing and clicks belong to this invoice's trail too.
        worker_log, self.session.audit = self.session.audit, log
        try:
            with robolog.step(f"Løbenr. {item.erp_id} · {item.business_key}") as step:
                outcome = self._attempts(item, log)
                robolog.info(f"Udfald: {progress_line(self.name, outcome)}")
                if outcome.result in (Result.FAILED, Result.LOST):
                    step.status = robolog.FAIL
                return outcome
        finally:
            self.session.audit = worker_log

    def _attempts(self, item: WorkItem, log: AuditLog) -> ItemOutcome:
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = self._once(item, log)
                self.ctx.breaker.success()
                return outcome
            except LedgerError as exc:
                log.event(Event.APP_ERROR, error=str(exc), attempt=attempt)
                return ItemOutcome(item.erp_id, item.business_key, Result.LOST, error=str(exc))
            except BusinessError as exc:
                # A refusal outside the payment (which handles its own): leave it to a person
                # reading the report rather than guessing.
                log.event(Event.BUSINESS_ERROR, reason=exc.reason, error=str(exc))
                return self._give_up(item, ApplicationError(str(exc)), None, log)
            except BrowserFailed as exc:
                log.event(Event.APP_ERROR, error=str(exc), kind=type(exc).__name__, attempt=attempt)
                if self.ctx.stop.is_set() or not self._new_browser(exc, log):
                    return self._give_up(item, exc, None, log)
                attempt -= 1  # not the invoice's fault: its attempts are the finance system's
                item, done = self._resume(item, None, log)
                if done is not None:
                    return done
            except ApplicationError as exc:
                self.ctx.breaker.failure(what_failed(exc))
                shot = self._screenshot(item, attempt)
                log.event(Event.APP_ERROR, error=str(exc), kind=type(exc).__name__, attempt=attempt)
                if shot is not None:
                    robolog.screenshot(shot, f"Forsøg {attempt}: {type(exc).__name__}")
                last = (
                    not exc.retryable or attempt >= self.runner.max_attempts or self.ctx.stopping()
                )
                if last:
                    return self._give_up(item, exc, shot, log)
                # Backoff, but wake up at once for a stop request.
                self.ctx.stop.wait(self.runner.backoff_seconds * 2 ** (attempt - 1))
                item, done = self._resume(item, shot, log)
                if done is not None:
                    return done

    def _resume(
        self, item: WorkItem, shot: Path | None, log: AuditLog
    ) -> tuple[WorkItem, ItemOutcome | None]:
        """Before the next attempt: renew the lease and log in again (the session may have
        expired, a new browser has none, and a screenshot has left the page altered).
        Returns the renewed item, and an outcome when the invoice cannot go on: ``LOST`` (the
        lease is gone) or ``FAILED`` (a login that is not ``retryable``: no attempt can help).
        A retryable login failure is left for the next attempt to meet and count."""
        try:
            current = self.ctx.ledger.item(self.robot, item.erp_id)
            item = self.ctx.ledger.renew(current or item, self.owner, self.runner.lease_seconds)
            self.session.login()
        except LedgerError as lost:
            return item, ItemOutcome(item.erp_id, item.business_key, Result.LOST, error=str(lost))
        except ApplicationError as again:
            if not again.retryable:
                return item, self._give_up(item, again, shot, log)
        return item, None

    def _new_browser(self, exc: ApplicationError, log: AuditLog) -> bool:
        """Replace the dead browser (counted); False when the run has had its restarts."""
        while self.ctx.restarts.allow(str(exc)):
            try:
                self.session.restart_browser()
            except ApplicationError as again:
                log.event(Event.APP_ERROR, error=str(again), kind=type(again).__name__)
                exc = again
                continue
            log.event(Event.BROWSER_RESTARTED, error=str(exc), restarts=self.ctx.restarts.count)
            return True
        return False

    def _give_up(
        self, item: WorkItem, exc: ApplicationError, shot: Path | None, log: AuditLog
    ) -> ItemOutcome:
        current = self.ctx.ledger.item(self.robot, item.erp_id) or item
        try:
            attempts = self.ctx.ledger.record_failure(current, self.owner, exc)
        except LedgerError:
            attempts = current.attempts
        log.event(Event.ITEM_LEFT, attempts=attempts, state=str(current.state), error=str(exc))
        outcome = ItemOutcome(
            item.erp_id,
            item.business_key,
            Result.FAILED,
            error=str(mask_data(str(exc))),
            screenshot=shot.name if shot else None,
        )
        if attempts >= self.runner.max_nights and not self.ctx.dry_run:
            outcome.note = self._mark_for_person(current, attempts, exc, log)
        return outcome

    def _mark_for_person(
        self, item: WorkItem, nights: int, exc: ApplicationError, log: AuditLog
    ) -> str | None:
        """``runner.max_nights`` runs failed on this invoice: mark it for a person; the next run
        sends it to manual handling (and the alert after this run says so)."""
        note = (
            f"Robotten fejlede på fakturaen i {nights} kørsler. Sidste fejl: "
            f"{str(mask_data(str(exc)))[:300]}"
        )
        try:
            mark = self.ctx.ledger.request_handover(
                self.robot, item.erp_id, reason=Reason.REPEATED_FAILURES, note=note, by=ROBOT_BY
            )
        except LedgerError as lost:
            log.event(Event.APP_ERROR, error=f"could not mark it for a person: {lost}")
            return None
        log.event(Event.ITEM_HANDED_OVER, reason=mark.reason, by=mark.by, nights=nights)
        return mark.note

    def _screenshot(self, item: WorkItem, attempt: int) -> Path | None:
        folder = private_dir(self.ctx.run_dir / "screenshots")
        shot = self.session.screenshot(folder / f"lobenr-{item.erp_id}-attempt-{attempt}.png")
        if shot is not None:
            tighten(shot)
        return shot

    # --- one attempt ------------------------------------------------------------------------

    def _transition(self, log: AuditLog, t: Transition) -> WorkItem:
        log.event(Event.STATE_CHANGED, **t.audit_fields())
        return t.item

    def _once(self, item: WorkItem, log: AuditLog) -> ItemOutcome:
        if item.state in (State.PAY_INTENT, State.MANUAL_INTENT):
            with robolog.step("Afstem en åben hensigt (slå op i økonomisystemet)"):
                item, done = self._reconcile(item, log)
            if done is not None:
                return done
        with robolog.step("Læs fakturaen"):
            raw = self.session.read_invoice(item.erp_id)
            self.payable = payable_on_page(raw)
            self.currency, self.credit_note = document_on_page(raw)
            # One record for everything read on the page (masked field by field by the trail).
            fields = {name: value for name, value in raw.fields.items() if value}
            log.event(Event.FIELD_READ, fields=fields, lines=len(raw.lines))
        status = raw.get("status").lower()
        if erp_status(status) is not ErpStatus.NEW:
            self.ctx.order.keys_recorded(item.erp_id)
            t = self.ctx.ledger.record_skipped(
                item, self.owner, f"status i økonomisystemet: {status}"
            )
            self._transition(log, t)
            return ItemOutcome(item.erp_id, item.business_key, Result.SKIPPED, reason=status)
        mark = self.ctx.ledger.handover_for(self.robot, item.erp_id)
        if mark is not None:
            return self._marked(item, mark, log)
        with robolog.step("Beslut efter reglerne"):
            decision = self._decide(item, raw, log)
        self.ctx.ledger.record_decision(
            self.ctx.run_id, self.robot, item.erp_id, decision_json(decision), self.ctx.dry_run
        )
        if self.ctx.dry_run:
            self.ctx.ledger.release(item, self.owner, done_this_run=True)
            if isinstance(decision, Pay):
                return self._outcome(item, Result.WOULD_PAY, decision)
            return self._outcome(item, Result.WOULD_HAND_OVER, decision)
        if isinstance(decision, Pay):
            with robolog.step("Godkend og betal"):
                return self._pay(item, decision, log)
        with robolog.step("Send til manuel behandling"):
            return self._hand_over(item, decision, log)

    def _marked(self, item: WorkItem, mark: Handover, log: AuditLog) -> ItemOutcome:
        """A hand-over mark decides instead of the rules: manual handling with its reason."""
        self.ctx.order.keys_recorded(item.erp_id)
        decision = Manual(
            reason=mark.reason,
            note=mark.note,
            explanation=Explanation(
                rule=HANDOVER_RULE,
                rule_version=self.ctx.cfg.rule_version,
                compared={"by": mark.by, "at": mark.at.isoformat()},
            ),
        )
        log.event(
            Event.DECISION,
            decision=decision.kind,
            rule=HANDOVER_RULE,
            rule_version=decision.explanation.rule_version,
            reason=decision.reason,
            note=decision.note,
        )
        self.ctx.ledger.record_decision(
            self.ctx.run_id, self.robot, item.erp_id, decision_json(decision), self.ctx.dry_run
        )
        if self.ctx.dry_run:
            self.ctx.ledger.release(item, self.owner, done_this_run=True)
            return self._outcome(item, Result.WOULD_HAND_OVER, decision)
        with robolog.step("Send til manuel behandling (markeret til en person)"):
            return self._hand_over(item, decision, log)

    def _decide(self, item: WorkItem, raw: RawInvoice, log: AuditLog) -> Decision:
        rules = self.ctx.cfg.rules
        try:
            invoice = parse_invoice(raw)
        except InvoiceFormatError as exc:
            self.ctx.order.keys_recorded(item.erp_id)
            decision: Decision = rules.decide_unreadable(exc)
        else:
            self.currency = invoice.currency
            self.credit_note = invoice.doc_type is DocType.CREDIT_NOTE
            decision = rules.decide(invoice, self._context(item, invoice))
        ex = decision.explanation
        fields: dict[str, Any] = {
            "decision": decision.kind,
            "rule": ex.rule,
            "rule_version": ex.rule_version,
            "compared": ex.compared,
            "checks": [check.model_dump(mode="json") for check in ex.checks],
            "paybot_version": __version__,
            "config_checksum": self.ctx.cfg.config_checksum,
        }
        if isinstance(decision, Pay):
            fields |= {
                "amount": str(decision.amount),
                "account_string": decision.account_string,
                "payment_date": decision.payment_date.isoformat(),
            }
        else:
            fields |= {"reason": decision.reason, "note": decision.note}
        log.event(Event.DECISION, **fields)
        for check in fields["checks"]:
            robolog.info(check_line(check))
        return decision

    def _context(self, item: WorkItem, invoice: Invoice) -> DecisionContext:
        ledger, rules = self.ctx.ledger, self.ctx.cfg.rules
        keys = rules.duplicate_keys(invoice)
        ledger.record_keys(self.robot, item.erp_id, keys)
        self.ctx.order.keys_recorded(item.erp_id)
        self.ctx.order.wait_for_earlier(item.erp_id, KEY_WAIT_SECONDS)
        if self.ctx.shared_queue:
            self._wait_for_other_machines(item.erp_id)
        earlier = ledger.earlier_document(self.robot, item.erp_id, keys)
        duplicate_of = describe_earlier(earlier.erp_id, earlier.key) if earlier else None
        if duplicate_of is None:
            voucher = ledger.paid_voucher(invoice.business_key)
            if voucher is not None:
                duplicate_of = f"bilag {voucher} (samme CVR og fakturanummer er betalt)"
        cert, interp = invoice.certificate, invoice.interpreter
        return DecisionContext(
            today=self.ctx.today(),
            active_accounts=self.ctx.active_accounts,
            duplicate_of=duplicate_of,
            requisitions=self.ctx.reference.requisitions_for(cert.cpr if cert else None),
            booking=self.ctx.reference.booking(interp.booking_ref if interp else None),
            calendar=self.ctx.cfg.calendar,
        )

    def _wait_for_other_machines(self, erp_id: int) -> None:
        """With several machines on one queue: wait (at most :data:`KEY_WAIT_SECONDS`, asking
        the ledger every :data:`OTHERS_POLL_SECONDS`) until no lower Løbenr is held undecided
        by another run, so that an earlier document's keys read from its page are recorded
        before this one looks for it (as :class:`KeyOrder` does within a run). On timeout the
        decision is made with what is known; the ledger still refuses a second payment of one
        business key."""
        deadline = time.monotonic() + KEY_WAIT_SECONDS
        while self.ctx.ledger.undecided_below(self.robot, erp_id, self.ctx.run_id):
            if time.monotonic() >= deadline or self.ctx.stop.wait(OTHERS_POLL_SECONDS):
                return

    # --- acting -----------------------------------------------------------------------------

    def _outcome(
        self,
        item: WorkItem,
        result: Result,
        decision: Decision | None = None,
        voucher: str | None = None,
    ) -> ItemOutcome:
        out = ItemOutcome(item.erp_id, item.business_key, result, voucher=voucher)
        out.currency, out.credit_note = self.currency, self.credit_note
        if isinstance(decision, Pay):
            out.amount, out.account_string = str(decision.amount), decision.account_string
        elif isinstance(decision, Manual):
            out.reason, out.note, out.amount = decision.reason, decision.note, self.payable
        return out

    def _pay(self, item: WorkItem, decision: Pay, log: AuditLog) -> ItemOutcome:
        t = self.ctx.ledger.record_pay_intent(
            item,
            self.owner,
            amount=decision.amount,
            account_string=decision.account_string,
            payment_date=decision.payment_date,
            rule_version=decision.explanation.rule_version,
        )
        item = self._transition(log, t)
        try:
            voucher = self.session.approve(
                item.erp_id,
                account_string=decision.account_string,
                amount=decision.amount,
                posting_text=decision.posting_text,
                payment_date=decision.payment_date,
            )
        except AlreadyHandled as exc:
            log.event(Event.BUSINESS_ERROR, error=str(exc))
            item, done = self._reconcile(item, log)
            return done or ItemOutcome(item.erp_id, item.business_key, Result.SKIPPED)
        except BusinessError as exc:
            # The finance system refused the posting: nothing was paid; a person takes over.
            log.event(Event.BUSINESS_ERROR, reason=exc.reason, error=str(exc))
            item = self._transition(log, self.ctx.ledger.cancel_intent(item, self.owner, str(exc)))
            note = f"Økonomisystemet afviste betalingen: {exc}"
            manual = Manual(reason=exc.reason, note=note, explanation=decision.explanation)
            return self._hand_over(item, manual, log)
        item = self._transition(log, self.ctx.ledger.record_paid(item, self.owner, voucher))
        return self._outcome(item, Result.PAID, decision, voucher)

    def manual_note(self, decision: Manual) -> str:
        text = self.ctx.cfg.reasons.text(decision.reason)
        note = f"{text} {decision.note}".strip() if decision.note else text
        return note[:MANUAL_NOTE_LIMIT]

    def _hand_over(self, item: WorkItem, decision: Manual, log: AuditLog) -> ItemOutcome:
        t = self.ctx.ledger.record_manual_intent(
            item, self.owner, reason=decision.reason, rule_version=decision.explanation.rule_version
        )
        item = self._transition(log, t)
        try:
            self.session.hand_over(
                item.erp_id, reason=decision.reason, note=self.manual_note(decision)
            )
        except AlreadyHandled as exc:
            log.event(Event.BUSINESS_ERROR, error=str(exc))
            item, done = self._reconcile(item, log)
            return done or ItemOutcome(item.erp_id, item.business_key, Result.SKIPPED)
        item = self._transition(log, self.ctx.ledger.record_manual_done(item, self.owner))
        return self._outcome(item, Result.MANUAL, decision)

    # --- reconciliation ---------------------------------------------------------------------

    def _reconcile(self, item: WorkItem, log: AuditLog) -> tuple[WorkItem, ItemOutcome | None]:
        """An intent without a result: ask the finance system what happened before anything
        else. Returns the item and, when it is settled, its outcome."""
        ledger, me = self.ctx.ledger, self.session.username
        payment = self.session.payment_for(item.erp_id)
        if payment is not None:
            voucher, by = payment.voucher, payment.approved_by
            log.event(Event.RECONCILED, found=ErpStatus.PAID, voucher=voucher, approved_by=by)
            if item.state == State.PAY_INTENT and by == me:
                item = self._transition(log, ledger.record_paid(item, self.owner, voucher))
                return item, ItemOutcome(
                    item.erp_id,
                    item.business_key,
                    Result.PAID,
                    amount=str(item.amount) if item.amount is not None else None,
                    account_string=item.account_string,
                    voucher=voucher,
                    # a pay intent is only recorded for a DKK invoice (check_currency)
                    currency="DKK" if item.amount is not None else None,
                )
            t = ledger.record_skipped(item, self.owner, f"betalt af {by} med bilag {voucher}")
            item = self._transition(log, t)
            return item, ItemOutcome(
                item.erp_id, item.business_key, Result.SKIPPED, voucher=voucher
            )
        raw = self.session.read_invoice(item.erp_id)
        status = raw.get("status").lower()
        log.event(Event.RECONCILED, found=status or "ukendt")
        if erp_status(status) is ErpStatus.NEW:
            item = self._transition(log, ledger.cancel_intent(item, self.owner, "ikke udført"))
            return item, None
        if (
            erp_status(status) is ErpStatus.MANUAL
            and item.state == State.MANUAL_INTENT
            and raw.get(MANUAL_REASON_FIELD) == item.reason
        ):
            item = self._transition(log, ledger.record_manual_done(item, self.owner))
            return item, ItemOutcome(
                item.erp_id, item.business_key, Result.MANUAL, reason=item.reason
            )
        item = self._transition(log, ledger.record_skipped(item, self.owner, f"status: {status}"))
        return item, ItemOutcome(item.erp_id, item.business_key, Result.SKIPPED, reason=status)
