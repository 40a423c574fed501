"""What the seed builds before it writes anything: drafts of documents with their expected
decision, the reference data they need, and the context that keeps them apart.

Everything random comes from one seeded ``random.Random`` in :class:`Context`, so the same
(invoices, seed, base date) gives the same documents, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

from mockerp.oioubl_write import DocumentSpec, LineSpec, PartySpec, PaymentSpec
from mockerp.seed_calc import (
    bank_day_on_or_before,
    danish_holidays,
    totals,
    vat_of,
    vat_per_rate,
)
from mockerp.seed_numbers import fik_payment_id, generated_cpr
from mockerp.seed_world import Supplier, World

Category = Literal["oevrige", "laegeerklaering", "tolk"]
HistoryStatus = Literal["betalt", "manuel"]


class SeedError(Exception):
    """The seed could not build a consistent world; names the case or file."""


@dataclass(frozen=True, slots=True)
class Expected:
    decision: Literal["pay", "manual"]
    amount: Decimal | None = None
    account_string: str | None = None
    reason: str | None = None

    @staticmethod
    def pay(amount: Decimal, account_string: str) -> Expected:
        return Expected("pay", amount=amount, account_string=account_string)

    @staticmethod
    def manual(reason: str) -> Expected:
        return Expected("manual", reason=reason)

    def as_json(self) -> dict[str, str]:
        if self.decision == "pay":
            assert self.amount is not None and self.account_string is not None
            return {
                "decision": "pay",
                "amount": f"{self.amount:.2f}",
                "account_string": self.account_string,
            }
        assert self.reason is not None
        return {"decision": "manual", "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RequisitionRow:
    number: str
    cpr: str
    form: str
    requested_on: dt.date
    interpreter_approved: bool
    status: Literal["aaben", "lukket"] = "aaben"
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class BookingRow:
    reference: str
    language: str
    date: dt.date
    planned_start: dt.time
    planned_end: dt.time
    category: str
    distance_km: Decimal
    mode: Literal["fremmoede", "video", "telefon"]
    cancelled_at: dt.datetime | None = None


@dataclass(slots=True)
class Draft:
    """One document to write and import, with what the robots should decide about it."""

    category: Category
    case: str
    doc: DocumentSpec
    expected: Expected
    posting_text: str
    requisitions: list[RequisitionRow] = field(default_factory=list)
    bookings: list[BookingRow] = field(default_factory=list)
    history: HistoryStatus | None = None
    original: Draft | None = None  # the earlier document this one duplicates (same batch)
    received_at: dt.datetime | None = None

    @property
    def supplier_cvr(self) -> str:
        return self.doc.supplier.cvr or ""


@dataclass(slots=True)
class Context:
    """The random source, the world, the dates, and registers that keep documents apart."""

    rng: random.Random
    world: World
    base: dt.date
    holidays: frozenset[dt.date] = frozenset()
    numbers: set[tuple[str, str]] = field(default_factory=set)
    small_keys: set[tuple[str, Decimal, dt.date]] = field(default_factory=set)
    cprs: set[str] = field(default_factory=set)
    booking_refs: set[str] = field(default_factory=set)
    requisition_numbers: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        years = range(self.base.year - 2, self.base.year + 2)
        self.holidays = danish_holidays(years)

    # --- identifiers ---------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _unique(self, used: set[str], make: Callable[[], str]) -> str:
        for _ in range(10_000):
            value = make()
            if value not in used:
                used.add(value)
                return value
        raise SeedError("ran out of unique identifiers")

    def invoice_number(self, cvr: str, make: Callable[[], str]) -> str:
        for _ in range(10_000):
            number = make()
            if (cvr, number) not in self.numbers:
                self.numbers.add((cvr, number))
                return number
        raise SeedError(f"ran out of invoice numbers for CVR {cvr}")

    def cpr(self) -> str:
        return self._unique(self.cprs, lambda: generated_cpr(self.rng))

    def booking_ref(self) -> str:
        year = self.base.year
        return self._unique(
            self.booking_refs, lambda: f"TB-{year}-{self.rng.randrange(100000):05d}"
        )

    def requisition_number(self) -> str:
        year = self.base.year
        return self._unique(
            self.requisition_numbers, lambda: f"REK-{year}-{self.rng.randrange(100000):05d}"
        )

    def claim_small_key(self, cvr: str, payable: Decimal, issue: dt.date) -> bool:
        key = (cvr, payable, issue)
        if key in self.small_keys:
            return False
        self.small_keys.add(key)
        return True

    # --- dates ---------------------------------------------------------------------------

    def issue_date(self, history: bool) -> dt.date:
        """New documents: 3-21 days before the base date; history: 35-100 days before."""
        back = self.rng.randint(35, 100) if history else self.rng.randint(3, 21)
        return self.base - dt.timedelta(days=back)

    def weekday_on_or_before(self, day: dt.date) -> dt.date:
        return bank_day_on_or_before(day, self.holidays)

    def latest_cutoff(self, history: bool) -> dt.date:
        """The latest issue date allowed (new documents are received from base - 2 days)."""
        return self.base - dt.timedelta(days=35 if history else 3)

    # --- money and payment ---------------------------------------------------------------

    def price(self, low: int, high: int) -> Decimal:
        """A price between low and high kr in 0.05 kr steps."""
        return Decimal(self.rng.randint(low * 20, high * 20)) / Decimal(20)

    def payment(self, supplier: Supplier, due: dt.date | None) -> PaymentSpec:
        payee = supplier.payee
        if payee.kind == "bank":
            return PaymentSpec("42", due, bank_reg=payee.bank_reg, bank_account=payee.bank_account)
        if payee.kind in ("fik71", "fik75"):
            card = payee.kind[3:]
            return PaymentSpec(
                "93",
                due,
                payment_id=card,
                instruction_id=fik_payment_id(self.rng, card),
                creditor_account=payee.fik_creditor,
            )
        if payee.kind == "fik73":
            return PaymentSpec("93", due, payment_id="73", creditor_account=payee.fik_creditor)
        if payee.kind == "giro":
            return PaymentSpec("50", due, bank_account=payee.giro_account)
        return PaymentSpec("97", due)


def party(supplier: Supplier, *, ydernummer_on_party: bool = False) -> PartySpec:
    return PartySpec(
        name=supplier.name,
        cvr=supplier.cvr,
        ydernummer=supplier.ydernummer if ydernummer_on_party else None,
    )


def with_vat(lines: list[LineSpec], vat_percent: Decimal) -> list[LineSpec]:
    """The lines with each line's VAT set to ``vat_percent`` of its amount."""
    t = totals((line.amount for line in lines), vat_percent)
    return [
        replace(line, tax_percent=vat_percent, tax_amount=vat)
        for line, vat in zip(lines, t.line_vat, strict=True)
    ]


def document(
    ctx: Context,
    *,
    supplier: PartySpec,
    number: str,
    issue: dt.date,
    lines: list[LineSpec],
    payment: PaymentSpec | None,
    currency: str = "DKK",
    buyer_gln: str | None = None,
    order_reference: str | None = None,
    accounting_cost: str | None = None,
    line_extension: Decimal | None = None,
) -> DocumentSpec:
    """An invoice whose totals follow from its lines (line extension may be overridden)."""
    line_sum = sum((line.amount for line in lines), Decimal(0))
    extension = line_sum if line_extension is None else line_extension
    # VAT per rate, rounded once (EN 16931 BR-CO-17); each line's own VAT stays informative
    vat = sum(vat_per_rate((line.tax_percent, line.amount) for line in lines).values(), Decimal(0))
    return DocumentSpec(
        doc_type="invoice",
        uuid=ctx.uuid(),
        number=number,
        issue_date=issue,
        currency=currency,
        supplier=supplier,
        buyer_gln=ctx.world.buyer_gln if buyer_gln is None else buyer_gln,
        buyer_name=ctx.world.municipality_name,
        lines=tuple(lines),
        line_extension=extension,
        tax_amount=vat,
        tax_inclusive=extension + vat,
        payable=extension + vat,
        payment=payment,
        order_reference=order_reference,
        accounting_cost=accounting_cost,
    )


def refigured(doc: DocumentSpec) -> DocumentSpec:
    """The document with totals that follow EN 16931 from its lines and its document
    allowances/charges: each line's VAT set from its amount, VAT per rate rounded once."""
    lines = tuple(
        replace(line, tax_amount=vat_of(line.amount, line.tax_percent)) for line in doc.lines
    )
    doc = replace(doc, lines=lines)
    extension = sum((line.amount for line in lines), Decimal(0))
    vat = sum((vat_of(t, p) for p, t in doc.taxable_per_rate().items()), Decimal(0))
    total = extension - doc.allowance_total + doc.charge_total + vat
    return replace(
        doc, line_extension=extension, tax_amount=vat, tax_inclusive=total, payable=total
    )


def as_credit_note(ctx: Context, doc: DocumentSpec, credited_number: str) -> DocumentSpec:
    return replace(
        doc,
        doc_type="credit_note",
        billing_reference=credited_number,
        note=f"Kreditering af faktura {credited_number}",
    )


def resend(ctx: Context, doc: DocumentSpec) -> DocumentSpec:
    """The same document sent again: a new UUID, everything else equal."""
    return replace(doc, uuid=ctx.uuid())


def posting_text(prefix: str, number: str) -> str:
    """Posting text of at most 50 characters: ``{prefix} fakt. {number}`` (prefix cut)."""
    tail = f" fakt. {number}"
    return (prefix[: max(0, 50 - len(tail))] + tail)[:50]
