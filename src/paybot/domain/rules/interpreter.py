"""Interpreter invoices (tolkeregninger): docs/rules.md, "Interpreter invoices"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from paybot.domain.calendar import real_span
from paybot.domain.models import Booking, Category, InterpreterInfo, Invoice
from paybot.domain.money import format_kr, format_quantity, plain
from paybot.domain.reasons import Reason
from paybot.domain.rules import keys
from paybot.domain.rules.common import (
    Passed,
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
    posting_text_interpreter,
)
from paybot.domain.rules.config_types import Period
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.interpreter_calc import (
    ContractGap,
    ExpectedLine,
    compare_lines,
    expected_lines,
)
from paybot.domain.rules.interpreter_config import InterpreterContractConfig, InterpreterSupplier
from paybot.domain.rules.table import Payment, TableRules
from paybot.domain.values import INTERPRETER_CATEGORY_NAMES


def _no_rate(gap: ContractGap) -> Verdict:
    """``MANUAL_TARIFF_PERIOD``: the contract has no rate for the job's date."""
    return Verdict(
        Reason.TARIFF_PERIOD,
        "tariff_period.no_rate",
        f"{gap.note} Kontraktens takster for perioden skal indlæses i robottens regler, "
        "eller fakturaen behandles manuelt.",
        gap.compared,
    )


def _ref(text: str) -> str:
    return " ".join(text.split()).upper()


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _category_name(category: str) -> str:
    return INTERPRETER_CATEGORY_NAMES.get(category, category)


def _lines_text(lines: Sequence[ExpectedLine]) -> str:
    """``TOLK 2 x 370.72 = 741.44; TRANSPORT 3 x 92.68 = 278.04``."""
    return "; ".join(
        f"{line.item_id} {line.quantity} x {line.unit_price} = {plain(line.amount)}"
        for line in lines
    )


class InterpreterRules(TableRules):
    """Pays an interpreter invoice that bills a booked job as the contract allows."""

    kind = "interpreter"
    category = Category.INTERPRETER
    needs_bookings = True
    config_model = InterpreterContractConfig
    config: InterpreterContractConfig
    checks = (
        (Reason.FORMAT, lambda r, inv, ctx: check_currency(inv)),
        (Reason.FORMAT, lambda r, inv, ctx: r._check_job_present(inv)),
        (Reason.TOO_MANY_LINES, lambda r, inv, ctx: check_line_count(inv, r.config.max_lines)),
        (Reason.CREDIT_NOTE, lambda r, inv, ctx: check_credit_note(inv)),
        (
            Reason.SUPPLIER,
            lambda r, inv, ctx: check_cvr_known(
                inv, {s.cvr: s.name for s in r.config.suppliers}, "kendte tolkeleverandører"
            ),
        ),
        (Reason.SUPPLIER_NAME, lambda r, inv, ctx: check_supplier_name(inv, r._names())),
        (Reason.DUPLICATE, lambda r, inv, ctx: check_duplicate(ctx, r.duplicate_keys(inv))),
        (Reason.BOOKING, lambda r, inv, ctx: r._check_booking(inv, ctx)),
        (
            Reason.CANCELLATION,
            lambda r, inv, ctx: r._check_cancellation(r._job(inv), r._booking(ctx)),
        ),
        (Reason.LATE, lambda r, inv, ctx: r._check_late(r._job(inv), r._booking(ctx))),
        (Reason.TARIFF_PERIOD, lambda r, inv, ctx: r._check_tariff_period(inv, ctx)),
        (Reason.CONTRACT, lambda r, inv, ctx: r._check_contract(inv, ctx)),
        (Reason.ARITHMETIC, lambda r, inv, ctx: check_arithmetic(inv, r.config.vat_percent)),
        (Reason.AMOUNT, lambda r, inv, ctx: check_amount_limit(inv, r.config.max_amount)),
        (Reason.DUE_BEFORE_ISSUE, lambda r, inv, ctx: check_due_not_before_issue(inv)),
        (Reason.PAYMENT_MEANS, lambda r, inv, ctx: check_payment_means(inv)),
        (
            Reason.PAYEE_ACCOUNT,
            lambda r, inv, ctx: check_payee_known(
                inv, r._payee(inv), r._names().get(inv.supplier_cvr, "")
            ),
        ),
        (
            Reason.ACCOUNT_STRING,
            lambda r, inv, ctx: check_account_active(
                r.config.account_string,
                ctx,
                "Der er ingen kontostreng for tolkebistand i robottens regler.",
            ),
        ),
    )

    def table_periods(self) -> list[tuple[str, Period]]:
        """Every period of the contract's tables, named by table (for preflight's warning
        that a table is about to end)."""
        rates: list[tuple[str, Period]] = [
            (f"timepris {_category_name(r.category)}", r) for r in self.config.rates
        ]
        return rates + [("kilometertakst", m) for m in self.config.mileage.rates]

    def _names(self) -> dict[str, str]:
        return {s.cvr: s.name for s in self.config.suppliers}

    def _payee(self, invoice: Invoice) -> InterpreterSupplier | None:
        return next((s for s in self.config.suppliers if s.cvr == invoice.supplier_cvr), None)

    def _check_tariff_period(self, invoice: Invoice, ctx: DecisionContext) -> Verdict | Passed:
        """The contract has a rate and a mileage rate for the job's date (a table that ended
        or has not begun goes to a person with ``MANUAL_TARIFF_PERIOD``)."""
        job, booking = self._job(invoice), self._booking(ctx)
        try:
            expected_lines(job, booking, self.config)
        except ContractGap as gap:
            return _no_rate(gap)
        return Passed("tariff_period", {"date": job.date.isoformat()})

    def payment(self, invoice: Invoice, ctx: DecisionContext) -> Payment:
        job = self._job(invoice)
        booking = self._booking(ctx)
        return Payment(
            account_string=self.config.account_string,
            posting_text=posting_text_interpreter(job.booking_ref, invoice.invoice_number),
            compared={
                "booking": booking.reference,
                "category": booking.category,
                "date": job.date.isoformat(),
                "lines": _lines_text(expected_lines(job, booking, self.config)),
                "max_amount": plain(self.config.max_amount),
            },
        )

    # --- duplicates -----------------------------------------------------------------------

    def duplicate_keys(self, invoice: Invoice) -> tuple[str, ...]:
        job = invoice.interpreter
        return keys.present(
            keys.invoice_number_key(invoice.supplier_cvr, invoice.invoice_number),
            keys.booking_key(job.booking_ref) if job else None,
        )

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
    def _check_job_present(invoice: Invoice) -> Verdict | Passed:
        if invoice.interpreter is not None:
            return Passed("format.interpreter", {"booking_ref": invoice.interpreter.booking_ref})
        return Verdict(
            Reason.FORMAT,
            "format.interpreter",
            "Fakturaen mangler oplysninger om tolkningen (bestillingsreference, sprog, dato, "
            "tidspunkter og tolkekategori).",
            {"category": invoice.category.value},
        )

    def _check_booking(self, invoice: Invoice, ctx: DecisionContext) -> Verdict | Passed:
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
            return Passed(
                "booking",
                {
                    **compared,
                    "booking": booking.reference,
                    "language": job.language,
                    "date": job.date.isoformat(),
                    "category": job.category,
                },
            )
        return Verdict(
            Reason.BOOKING,
            "booking.differs",
            f"Fakturaen passer ikke med tolkebestillingen {booking.reference}: "
            + ", ".join(differences)
            + ".",
            compared,
        )

    def _check_cancellation(self, job: InterpreterInfo, booking: Booking) -> Verdict | Passed:
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
        return Passed("cancellation", compared)

    def _check_late(self, job: InterpreterInfo, booking: Booking) -> Verdict | Passed:
        if job.cancelled:
            return Passed("late.cancelled", {"invoice_cancelled": "ja"})
        planned = dt.datetime.combine(booking.date, booking.planned_start)
        started = dt.datetime.combine(job.date, job.start)
        late = int(real_span(planned, started).total_seconds() // 60)
        limit = self.config.late_arrival_minutes
        compared = {
            "start": job.start.strftime("%H:%M"),
            "planned_start": booking.planned_start.strftime("%H:%M"),
            "minutes_late": str(late),
            "limit": str(limit),
        }
        if late <= limit:
            return Passed("late", compared)
        return Verdict(
            Reason.LATE,
            "late",
            f"Tolken begyndte kl. {job.start:%H:%M}, {late} minutter efter det planlagte "
            f"kl. {booking.planned_start:%H:%M} (højst {limit} minutter). Vurdér, om opgaven "
            "skal afvises.",
            compared,
        )

    def _check_contract(self, invoice: Invoice, ctx: DecisionContext) -> Verdict | Passed:
        job, booking = self._job(invoice), self._booking(ctx)
        try:
            expected = expected_lines(job, booking, self.config)
        except ContractGap as gap:
            return _no_rate(gap)
        mismatch = compare_lines(invoice.lines, expected)
        if mismatch is None:
            return Passed("contract", {"lines": _lines_text(expected)})
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
