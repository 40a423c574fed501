"""Interpreter invoices (tolkeregninger): docs/rules.md, "Interpreter invoices"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Self

from paybot.domain.calendar import real_span
from paybot.domain.models import (
    Booking,
    Category,
    Decision,
    InterpreterInfo,
    Invoice,
    Manual,
    RegisterEntry,
)
from paybot.domain.money import format_kr, format_quantity, plain
from paybot.domain.parsing import InvoiceFormatError
from paybot.domain.reasons import Reason
from paybot.domain.rules import keys
from paybot.domain.rules.common import (
    Check,
    Verdict,
    check_account_active,
    check_amount_limit,
    check_arithmetic,
    check_credit_note,
    check_currency,
    check_cvr_known,
    check_due_not_before_issue,
    check_duplicate,
    check_line_count,
    check_payee_known,
    check_payment_means,
    check_supplier_name,
    date_text,
    first_verdict,
    format_manual,
    manual,
    pay,
    posting_text_interpreter,
)
from paybot.domain.rules.config_types import Period
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.interpreter_calc import ContractGap, compare_lines, expected_lines
from paybot.domain.rules.interpreter_config import InterpreterContractConfig
from paybot.domain.values import INTERPRETER_CATEGORY_NAMES


def _ref(text: str) -> str:
    return " ".join(text.split()).upper()


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _category_name(category: str) -> str:
    return INTERPRETER_CATEGORY_NAMES.get(category, category)


class InterpreterRules:
    """Pays an interpreter invoice that bills a booked job as the contract allows."""

    kind: ClassVar[str] = "interpreter"
    category: ClassVar[Category] = Category.INTERPRETER
    needs_requisitions: ClassVar[bool] = False
    needs_bookings: ClassVar[bool] = True
    check_order: ClassVar[tuple[Reason, ...]] = (
        Reason.FORMAT,
        Reason.TOO_MANY_LINES,
        Reason.CREDIT_NOTE,
        Reason.SUPPLIER,
        Reason.SUPPLIER_NAME,
        Reason.DUPLICATE,
        Reason.BOOKING,
        Reason.CANCELLATION,
        Reason.LATE,
        Reason.TARIFF_PERIOD,
        Reason.CONTRACT,
        Reason.ARITHMETIC,
        Reason.AMOUNT,
        Reason.DUE_BEFORE_ISSUE,
        Reason.PAYMENT_MEANS,
        Reason.PAYEE_ACCOUNT,
        Reason.ACCOUNT_STRING,
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset(r.value for r in check_order)

    def __init__(self, config: InterpreterContractConfig, rule_version: str) -> None:
        self.config = config
        self.rule_version = rule_version
        suppliers = {s.cvr: s.name for s in config.suppliers}
        payees = {s.cvr: s for s in config.suppliers}
        self._checks: tuple[Check, ...] = (
            lambda inv, ctx: check_currency(inv) or self._check_job_present(inv),
            lambda inv, ctx: check_line_count(inv, config.max_lines),
            lambda inv, ctx: check_credit_note(inv),
            lambda inv, ctx: check_cvr_known(inv, suppliers, "kendte tolkeleverandører"),
            lambda inv, ctx: check_supplier_name(inv, suppliers),
            lambda inv, ctx: check_duplicate(ctx),
            self._check_booking,
            lambda inv, ctx: self._check_cancellation(self._job(inv), self._booking(ctx)),
            lambda inv, ctx: self._check_late(self._job(inv), self._booking(ctx)),
            self._check_contract,
            lambda inv, ctx: check_arithmetic(inv, config.vat_percent),
            lambda inv, ctx: check_amount_limit(inv, config.max_amount),
            lambda inv, ctx: check_due_not_before_issue(inv),
            lambda inv, ctx: check_payment_means(inv),
            lambda inv, ctx: check_payee_known(
                inv, payees.get(inv.supplier_cvr), suppliers.get(inv.supplier_cvr, "")
            ),
            lambda inv, ctx: check_account_active(
                config.account_string,
                ctx,
                "Der er ingen kontostreng for tolkebistand i robottens regler.",
            ),
        )

    @classmethod
    def from_config(cls, data: Mapping[str, Any], rule_version: str) -> Self:
        return cls(InterpreterContractConfig.model_validate(data), rule_version)

    def table_periods(self) -> list[tuple[str, Period]]:
        """Every period of the contract's tables, named by table (for preflight's warning
        that a table is about to end)."""
        rates: list[tuple[str, Period]] = [
            (f"timepris {_category_name(r.category)}", r) for r in self.config.rates
        ]
        return rates + [("kilometertakst", m) for m in self.config.mileage.rates]

    # --- the decision ---------------------------------------------------------------------

    def decide(self, invoice: Invoice, ctx: DecisionContext) -> Decision:
        verdict = first_verdict(self._checks, invoice, ctx)
        if verdict is not None:
            return manual(self.kind, self.rule_version, verdict)
        job = self._job(invoice)
        booking = self._booking(ctx)
        return pay(
            self.kind,
            self.rule_version,
            invoice,
            ctx,
            account_string=self.config.account_string,
            posting_text=posting_text_interpreter(job.booking_ref, invoice.invoice_number),
            compared={
                "booking": booking.reference,
                "category": booking.category,
                "date": job.date.isoformat(),
                "lines": "; ".join(
                    f"{line.item_id} {line.quantity} x {line.unit_price} = {plain(line.amount)}"
                    for line in expected_lines(job, booking, self.config)
                ),
                "max_amount": plain(self.config.max_amount),
            },
        )

    def decide_unreadable(self, error: InvoiceFormatError) -> Manual:
        return format_manual(self.kind, self.rule_version, error)

    # --- duplicates -----------------------------------------------------------------------

    def duplicate_keys(self, invoice: Invoice) -> tuple[str, ...]:
        job = invoice.interpreter
        return keys.present(
            keys.invoice_number_key(invoice.supplier_cvr, invoice.invoice_number),
            keys.booking_key(job.booking_ref) if job else None,
        )

    def register_keys(self, entry: RegisterEntry) -> tuple[str, ...]:
        return keys.present(keys.invoice_number_key(entry.supplier_cvr, entry.invoice_number))

    # --- this robot's own checks ----------------------------------------------------------

    @staticmethod
    def _job(invoice: Invoice) -> InterpreterInfo:
        assert invoice.interpreter is not None  # checked first (format)
        return invoice.interpreter

    @staticmethod
    def _booking(ctx: DecisionContext) -> Booking:
        assert ctx.booking is not None  # checked by the booking check
        return ctx.booking

    @staticmethod
    def _check_job_present(invoice: Invoice) -> Verdict | None:
        if invoice.interpreter is not None:
            return None
        return Verdict(
            Reason.FORMAT,
            "format.interpreter",
            "Fakturaen mangler oplysninger om tolkningen (bestillingsreference, sprog, dato, "
            "tidspunkter og tolkekategori).",
            {"category": invoice.category.value},
        )

    def _check_booking(self, invoice: Invoice, ctx: DecisionContext) -> Verdict | None:
        job = self._job(invoice)
        booking = ctx.booking
        compared = {"booking_ref": job.booking_ref}
        if booking is None or _ref(booking.reference) != _ref(job.booking_ref):
            return Verdict(
                Reason.BOOKING,
                "booking.missing",
                f"Der findes ingen tolkebestilling med referencen {job.booking_ref}.",
                compared,
            )
        differences: list[str] = []
        if not _same_text(job.language, booking.language):
            differences.append(f"sprog {job.language} (bestilt: {booking.language})")
            compared |= {"language": job.language, "booked_language": booking.language}
        if job.date != booking.date:
            differences.append(f"dato {date_text(job.date)} (bestilt: {date_text(booking.date)})")
            compared |= {"date": job.date.isoformat(), "booked_date": booking.date.isoformat()}
        if job.category != booking.category:
            differences.append(
                f"kategori {_category_name(job.category)} "
                f"(bestilt: {_category_name(booking.category)})"
            )
            compared |= {"category": job.category, "booked_category": booking.category}
        if not differences:
            return None
        return Verdict(
            Reason.BOOKING,
            "booking.differs",
            f"Fakturaen passer ikke med tolkebestillingen {booking.reference}: "
            + ", ".join(differences)
            + ".",
            compared,
        )

    def _check_cancellation(self, job: InterpreterInfo, booking: Booking) -> Verdict | None:
        planned = dt.datetime.combine(booking.date, booking.planned_start)
        limit = self.config.late_cancellation_hours
        cancelled_at = booking.cancelled_at
        compared = {
            "invoice_cancelled": "ja" if job.cancelled else "nej",
            "booking_cancelled_at": cancelled_at.isoformat() if cancelled_at else "",
            "planned_start": planned.isoformat(),
        }
        if job.cancelled and booking.cancelled_at is None:
            return Verdict(
                Reason.CANCELLATION,
                "cancellation.not_cancelled",
                f"Fakturaen opkræver aflysningsgebyr, men tolkebestillingen {booking.reference} "
                "er ikke aflyst.",
                compared,
            )
        if job.cancelled and booking.cancelled_at is not None:
            notice = real_span(booking.cancelled_at, planned)
            if notice >= dt.timedelta(hours=limit):
                hours = format_quantity(whole_hours(notice))
                return Verdict(
                    Reason.CANCELLATION,
                    "cancellation.in_time",
                    f"Tolkebestillingen {booking.reference} blev aflyst {hours} timer før "
                    f"start; aflysningsgebyr betales kun ved aflysning under {limit} timer før.",
                    compared,
                )
        if not job.cancelled and booking.cancelled_at is not None:
            return Verdict(
                Reason.CANCELLATION,
                "cancellation.booking_cancelled",
                f"Tolkebestillingen {booking.reference} blev aflyst "
                f"{booking.cancelled_at:%d-%m-%Y kl. %H:%M}, men fakturaen er for en "
                "gennemført tolkning.",
                compared,
            )
        return None

    def _check_late(self, job: InterpreterInfo, booking: Booking) -> Verdict | None:
        if job.cancelled:
            return None
        planned = dt.datetime.combine(booking.date, booking.planned_start)
        started = dt.datetime.combine(job.date, job.start)
        late = int(real_span(planned, started).total_seconds() // 60)
        limit = self.config.late_arrival_minutes
        if late <= limit:
            return None
        return Verdict(
            Reason.LATE,
            "late",
            f"Tolken begyndte kl. {job.start:%H:%M}, {late} minutter efter det planlagte "
            f"kl. {booking.planned_start:%H:%M} (højst {limit} minutter). Vurdér, om opgaven "
            "skal afvises.",
            {
                "start": job.start.strftime("%H:%M"),
                "planned_start": booking.planned_start.strftime("%H:%M"),
                "minutes_late": str(late),
                "limit": str(limit),
            },
        )

    def _check_contract(self, invoice: Invoice, ctx: DecisionContext) -> Verdict | None:
        job, booking = self._job(invoice), self._booking(ctx)
        try:
            expected = expected_lines(job, booking, self.config)
        except ContractGap as gap:
            return Verdict(
                Reason.TARIFF_PERIOD,
                "tariff_period.no_rate",
                f"{gap.note} Kontraktens takster for perioden skal indlæses i robottens regler, "
                "eller fakturaen behandles manuelt.",
                gap.compared,
            )
        mismatch = compare_lines(invoice.lines, expected)
        if mismatch is None:
            return None
        kind = mismatch.item_id or "(uden varenummer)"
        if mismatch.expected_quantity == 0 and mismatch.expected_amount == 0:
            what = "må ikke faktureres for denne opgave"
        elif mismatch.billed_quantity == 0 and mismatch.billed_amount == 0:
            what = (
                f"mangler: forventet {format_quantity(mismatch.expected_quantity)} = "
                f"{format_kr(mismatch.expected_amount)}"
            )
        else:
            what = (
                f"faktureret {format_quantity(mismatch.billed_quantity)} = "
                f"{format_kr(mismatch.billed_amount)}, men kontrakten giver "
                f"{format_quantity(mismatch.expected_quantity)} = "
                f"{format_kr(mismatch.expected_amount)}"
            )
        return Verdict(
            Reason.CONTRACT,
            "contract.lines",
            f"Linjen {kind} passer ikke med tolkekontrakten: {what}.",
            {
                "item_id": kind,
                "billed_quantity": str(mismatch.billed_quantity),
                "billed_amount": plain(mismatch.billed_amount),
                "expected_quantity": str(mismatch.expected_quantity),
                "expected_amount": plain(mismatch.expected_amount),
            },
        )


def whole_hours(span: dt.timedelta) -> Decimal:
    """Whole hours of a time span, rounded down (for notes)."""
    return Decimal(int(span.total_seconds() // 3600))
