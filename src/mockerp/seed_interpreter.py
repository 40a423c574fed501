"""Interpreter invoices (tolkeregninger) for the seed, with their bookings.

Clean jobs bill exactly the lines the seed's calculator expects (docs/rules.md, "Expected
lines"); each problem case breaks exactly one rule of "Interpreter invoices", in order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal

from mockerp.oioubl_write import LineSpec, PaymentSpec
from mockerp.seed_calc import CalcLine, Job, Mode, expected_lines, hourly_rate, round_ore
from mockerp.seed_model import (
    BookingRow,
    Context,
    Draft,
    Expected,
    SeedError,
    as_credit_note,
    document,
    party,
    resend,
    with_vat,
)
from mockerp.seed_numbers import break_check_digit, fik_payment_id
from mockerp.seed_world import Supplier

PREFIX = "interp"

SPOKEN = (
    "Arabisk",
    "Somali",
    "Tigrinya",
    "Farsi",
    "Dari",
    "Ukrainsk",
    "Tyrkisk",
    "Kurdisk (sorani)",
    "Polsk",
    "Vietnamesisk",
)
CATEGORIES = ("oevrig", "oevrig", "oevrig", "statsproevet", "statsproevet", "translatoer")

CLEAN: tuple[str, ...] = (
    "ok-daytime",
    "ok-transport",
    "ok-evening",
    "ok-weekend",
    "ok-holiday",
    "ok-across-17",
    "ok-video",
    "ok-sign-language",
    "ok-late-cancellation",
    "ok-short-distance",
    "ok-phone",
    "ok-morning",
    "ok-language-case",
    "ok-start-15-min-late",
    "ok-summer-time",
)

PROBLEMS: tuple[tuple[str, str, bool], ...] = (
    ("format-currency", "MANUAL_FORMAT", True),
    ("format-missing-start", "MANUAL_FORMAT", False),
    ("credit-note", "MANUAL_CREDIT_NOTE", True),
    ("supplier-unknown", "MANUAL_SUPPLIER", True),
    ("duplicate-number", "MANUAL_DUPLICATE", True),
    ("duplicate-booking", "MANUAL_DUPLICATE", True),
    ("booking-unknown-ref", "MANUAL_BOOKING", True),
    ("booking-language", "MANUAL_BOOKING", False),
    ("booking-date", "MANUAL_BOOKING", False),
    ("booking-category", "MANUAL_BOOKING", False),
    ("cancellation-not-cancelled", "MANUAL_CANCELLATION", True),
    ("cancellation-early", "MANUAL_CANCELLATION", False),
    ("cancellation-billed-job", "MANUAL_CANCELLATION", False),
    ("late-start", "MANUAL_LATE", True),
    ("contract-extra-hour", "MANUAL_CONTRACT", True),
    ("contract-double-daytime", "MANUAL_CONTRACT", False),
    ("contract-transport-short-distance", "MANUAL_CONTRACT", False),
    ("contract-mileage-too-far", "MANUAL_CONTRACT", False),
    ("contract-wrong-rate", "MANUAL_CONTRACT", False),
    ("arithmetic-vat", "MANUAL_ARITHMETIC", True),
    ("amount-over-limit", "MANUAL_AMOUNT", True),
    ("payment-fik-check-digit", "MANUAL_PAYMENT_MEANS", True),
    ("payment-bank-account", "MANUAL_PAYMENT_MEANS", False),
)

_LINE_TEXT = {
    "TOLK": ("Tolkning, påbegyndte timer", "HUR"),
    "TOLK-DOBBELT": ("Tolkning, dobbelt takst", "HUR"),
    "TRANSPORT": ("Transporttid, påbegyndte halve timer", "C62"),
    "KOERSEL": ("Kørsel, statens høje takst", "KMT"),
    "AFLYSNING": ("Sen aflysning", "HUR"),
}


@dataclass(frozen=True, slots=True)
class JobCase:
    supplier: Supplier
    booking: BookingRow
    job: Job  # what the invoice bills


def _clock(minutes: int) -> dt.time:
    minutes %= 24 * 60
    return dt.time(minutes // 60, minutes % 60)


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _day(ctx: Context, history: bool, kind: str) -> dt.date:
    newest = ctx.base - dt.timedelta(days=(40 if history else 4))
    if kind == "holiday":
        weekday_holidays = sorted(d for d in ctx.holidays if d <= newest and d.weekday() < 5)
        if not weekday_holidays:
            raise SeedError(f"no weekday public holiday before {newest}")
        return weekday_holidays[-1 - ctx.rng.randint(0, 1)]
    if kind == "summer-time":
        # the last Sunday of March or October: the clocks change at 02:00/03:00
        day = newest
        while not (
            day.weekday() == 6
            and day.month in (3, 10)
            and (day + dt.timedelta(days=7)).month != day.month
        ):
            day -= dt.timedelta(days=1)
        return day
    day = newest - dt.timedelta(days=ctx.rng.randint(0, 26 if not history else 60))
    if kind == "weekend":
        while day.weekday() < 5:
            day -= dt.timedelta(days=1)
        return day
    return ctx.weekday_on_or_before(day)


def _spoken_supplier(ctx: Context) -> Supplier:
    options = [s for s in ctx.world.interpreter_suppliers if "tegnsprog" not in s.name.casefold()]
    return ctx.rng.choice(options or list(ctx.world.interpreter_suppliers))


def _sign_supplier(ctx: Context) -> Supplier:
    options = [s for s in ctx.world.interpreter_suppliers if "tegnsprog" in s.name.casefold()]
    return ctx.rng.choice(options or list(ctx.world.interpreter_suppliers))


def _plan(
    ctx: Context,
    history: bool,
    *,
    day_kind: str = "weekday",
    start: tuple[int, int] = (8 * 60, 13 * 60),
    duration: tuple[int, int] = (30, 200),
    mode: Mode = "fremmoede",
    distance: tuple[int, int] = (0, 10),
    transport: bool = False,
    language: str | None = None,
    category: str | None = None,
    supplier: Supplier | None = None,
    delay: int | None = None,
) -> JobCase:
    """A job and its booking. Times in minutes after midnight; starts on quarter hours."""
    day = _day(ctx, history, day_kind)
    planned = ctx.rng.randrange(start[0], start[1] + 1, 15)
    minutes = ctx.rng.randint(*duration)
    lang = language or ctx.rng.choice(SPOKEN)
    cat = category or ctx.rng.choice(CATEGORIES)
    km_one_way = Decimal(ctx.rng.randint(distance[0] * 10, distance[1] * 10)) / 10
    if mode != "fremmoede":
        km_one_way = Decimal(0)
    late = delay if delay is not None else ctx.rng.choice((0, 0, 0, 5, 10))
    billed_start = planned + late
    booking = BookingRow(
        reference=ctx.booking_ref(),
        language=lang,
        date=day,
        planned_start=_clock(planned),
        planned_end=_clock(planned + max(15, (minutes + 14) // 15 * 15)),
        category=cat,
        distance_km=km_one_way,
        mode=mode,
    )
    transport_minutes = ctx.rng.randint(20, 100) if transport else 0
    km = Decimal(int(2 * km_one_way) - ctx.rng.randint(0, 3)) if transport else Decimal(0)
    job = Job(
        date=day,
        start=_clock(billed_start),
        end=_clock(billed_start + minutes),
        category=cat,
        language=lang,
        mode=mode,
        distance_km=km_one_way,
        transport_minutes=transport_minutes,
        km=km,
    )
    return JobCase(supplier or _spoken_supplier(ctx), booking, job)


def _number(ctx: Context, supplier: Supplier) -> str:
    if int(supplier.cvr) % 2:
        return ctx.invoice_number(supplier.cvr, lambda: f"T-{ctx.rng.randint(100000, 999999)}")
    year = ctx.base.year
    return ctx.invoice_number(supplier.cvr, lambda: f"{year}{ctx.rng.randint(10000, 99999)}")


def _line_specs(lines: tuple[CalcLine, ...] | list[CalcLine], vat: Decimal) -> list[LineSpec]:
    specs = []
    for line in lines:
        text, unit = _LINE_TEXT[line.item_id]
        specs.append(
            LineSpec(
                line.item_id,
                text,
                line.quantity,
                unit,
                line.unit_price,
                line.amount,
                Decimal(0),
                Decimal(0),
            )
        )
    return with_vat(specs, vat)


def _invoice(
    ctx: Context,
    case: str,
    history: bool,
    jc: JobCase,
    *,
    lines: list[CalcLine] | None = None,
    bookings: list[BookingRow] | None = None,
    omit: frozenset[str] = frozenset(),
) -> Draft:
    contract = ctx.world.interpreter
    job = jc.job
    calc = lines if lines is not None else list(expected_lines(contract, job, ctx.holidays))
    specs = _line_specs(calc, contract.vat_percent)
    ref_as_property = ctx.rng.random() < 0.8
    props: list[tuple[str, str]] = []
    if ref_as_property:
        props.append(("Bestillingsreference", jc.booking.reference))
    values = (
        ("Sprog", job.language),
        ("Tolkedato", job.date.isoformat()),
        ("Starttid", f"{job.start:%H:%M}"),
        ("Sluttid", f"{job.end:%H:%M}"),
        ("Tolkekategori", job.category),
    )
    props.extend((name, value) for name, value in values if name not in omit)
    if job.transport_minutes:
        props.append(("Transportminutter", str(job.transport_minutes)))
    if job.km:
        props.append(("Kilometer", f"{job.km:f}"))
    props.append(("Aflyst", "ja" if job.cancelled else "nej"))
    specs[0] = replace(specs[0], properties=tuple(props))
    # a few days after the job, but never long before the base date (late invoices happen)
    issue = job.date + dt.timedelta(days=ctx.rng.randint(1, 5))
    if not history:
        issue = max(issue, ctx.base - dt.timedelta(days=21))
    issue = max(min(issue, ctx.latest_cutoff(history)), job.date)
    number = _number(ctx, jc.supplier)
    doc = document(
        ctx,
        supplier=party(jc.supplier),
        number=number,
        issue=issue,
        lines=specs,
        payment=ctx.payment(jc.supplier, issue + dt.timedelta(days=30)),
        order_reference=jc.booking.reference,
    )
    within = doc.payable <= contract.max_amount
    return Draft(
        category="tolk",
        case=f"{PREFIX}/{case}",
        doc=doc,
        expected=(
            Expected.pay(doc.payable, contract.account_string)
            if within
            else Expected.manual("MANUAL_AMOUNT")
        ),
        posting_text=f"Tolkning {jc.booking.reference} fakt. {number}"[:50],
        bookings=[jc.booking] if bookings is None else bookings,
    )


def _clean_plan(ctx: Context, variant: str, history: bool) -> JobCase:
    if variant == "ok-daytime":
        return _plan(ctx, history)
    if variant == "ok-transport":
        return _plan(ctx, history, distance=(11, 60), transport=True, duration=(30, 180))
    if variant == "ok-short-distance":
        jc = _plan(ctx, history, distance=(3, 10))
        exactly_ten = ctx.rng.random() < 0.5
        if exactly_ten:
            ten = Decimal(10)
            return replace(
                jc,
                booking=replace(jc.booking, distance_km=ten),
                job=replace(jc.job, distance_km=ten),
            )
        return jc
    if variant == "ok-evening":
        return _plan(ctx, history, start=(17 * 60, 19 * 60 + 30), duration=(45, 150))
    if variant == "ok-across-17":
        begin = ctx.rng.randrange(15 * 60, 16 * 60 + 31, 15)
        low = 17 * 60 + 15 - begin
        return _plan(ctx, history, start=(begin, begin), duration=(low, low + 90), delay=0)
    if variant == "ok-morning":
        begin = ctx.rng.randrange(6 * 60 + 30, 7 * 60 + 31, 15)
        low = 8 * 60 + 30 - begin
        return _plan(ctx, history, start=(begin, begin), duration=(low, low + 90), delay=0)
    if variant == "ok-weekend":
        return _plan(ctx, history, day_kind="weekend", start=(9 * 60, 14 * 60))
    if variant == "ok-holiday":
        return _plan(ctx, history, day_kind="holiday", start=(9 * 60, 14 * 60))
    if variant == "ok-video":
        return _plan(ctx, history, mode="video", duration=(10, 80))
    if variant == "ok-phone":
        return _plan(ctx, history, mode="telefon", duration=(5, 45))
    if variant == "ok-sign-language":
        language = ctx.rng.choice(ctx.world.interpreter.sign_languages)
        return _plan(
            ctx,
            history,
            language=language,
            category="statsproevet",
            supplier=_sign_supplier(ctx),
            duration=(35, 150),
        )
    if variant == "ok-late-cancellation":
        jc = _plan(ctx, history, delay=0)
        return _cancel(ctx, jc, hours_before=ctx.rng.randint(1, 23), invoice_cancelled=True)
    if variant == "ok-language-case":
        jc = _plan(ctx, history)
        return replace(jc, job=replace(jc.job, language=jc.booking.language.upper()))
    if variant == "ok-summer-time":
        # 01:30-03:30 on the clock: one hour of work in March, three in October
        return _plan(
            ctx,
            history,
            day_kind="summer-time",
            start=(90, 90),
            duration=(120, 120),
            delay=0,
            distance=(0, 10),
        )
    if variant == "ok-start-15-min-late":
        return _plan(ctx, history, delay=ctx.world.interpreter.late_arrival_minutes)
    raise SeedError(f"unknown interpreter variant {variant!r}")


def _cancel(
    ctx: Context, jc: JobCase, *, hours_before: int | None, invoice_cancelled: bool
) -> JobCase:
    """Cancel the booking ``hours_before`` its start (None: not cancelled); the invoice bills
    a cancellation fee at the planned times when ``invoice_cancelled``."""
    booking = jc.booking
    if hours_before is not None:
        start = dt.datetime.combine(booking.date, booking.planned_start)
        extra = ctx.rng.randint(0, 59)
        booking = replace(
            booking, cancelled_at=start - dt.timedelta(hours=hours_before, minutes=extra)
        )
    job = jc.job
    if invoice_cancelled:
        job = replace(
            job,
            start=booking.planned_start,
            end=booking.planned_end,
            cancelled=True,
            transport_minutes=0,
            km=Decimal(0),
        )
    return JobCase(jc.supplier, booking, job)


def _clean(ctx: Context, variant: str, history: bool) -> Draft:
    for _ in range(100):
        draft = _invoice(ctx, variant, history, _clean_plan(ctx, variant, history))
        if draft.expected.decision == "pay":
            return draft
    raise SeedError(f"could not build interpreter case {variant} within the limit")


def _manual(draft: Draft, variant: str, reason: str) -> Draft:
    return replace(draft, case=f"{PREFIX}/{variant}", expected=Expected.manual(reason))


def _other(options: tuple[str, ...] | list[str], not_this: str, ctx: Context) -> str:
    return ctx.rng.choice([o for o in options if o.casefold() != not_this.casefold()])


def build(ctx: Context, variant: str, *, history: bool = False) -> Draft:
    """One interpreter case by variant name (see CLEAN and PROBLEMS)."""
    if variant in CLEAN:
        return _clean(ctx, variant, history)
    reasons = {v: r for v, r, _ in PROBLEMS}
    if variant not in reasons or variant.startswith("duplicate-"):
        raise SeedError(f"unknown or derived interpreter variant {variant!r}")
    reason = reasons[variant]
    contract = ctx.world.interpreter

    def simple(supplier: Supplier | None = None) -> JobCase:
        return _plan(ctx, history, distance=(0, 10), duration=(30, 150), delay=0, supplier=supplier)

    if variant == "format-currency":
        draft = _clean(ctx, "ok-daytime", history)
        return _manual(replace(draft, doc=replace(draft.doc, currency="EUR")), variant, reason)
    if variant == "format-missing-start":
        draft = _invoice(ctx, variant, history, simple(), omit=frozenset({"Starttid"}))
        return _manual(draft, variant, reason)
    if variant == "credit-note":
        draft = _invoice(ctx, variant, history, simple())
        credited = f"T-{ctx.rng.randint(100000, 999999)}"
        return _manual(
            replace(draft, doc=as_credit_note(ctx, draft.doc, credited)), variant, reason
        )
    if variant == "supplier-unknown":
        supplier = ctx.rng.choice(ctx.world.unknown_interpreter_suppliers)
        return _manual(_invoice(ctx, variant, history, simple(supplier=supplier)), variant, reason)
    if variant == "booking-unknown-ref":
        return _manual(_invoice(ctx, variant, history, simple(), bookings=[]), variant, reason)
    if variant == "booking-language":
        jc = simple()
        booking = replace(jc.booking, language=_other(SPOKEN, jc.job.language, ctx))
        return _manual(
            _invoice(ctx, variant, history, replace(jc, booking=booking)), variant, reason
        )
    if variant == "booking-date":
        jc = simple()
        booking = replace(
            jc.booking, date=ctx.weekday_on_or_before(jc.job.date - dt.timedelta(days=1))
        )
        return _manual(
            _invoice(ctx, variant, history, replace(jc, booking=booking)), variant, reason
        )
    if variant == "booking-category":
        jc = simple()
        categories = tuple(sorted(set(CATEGORIES)))
        booking = replace(jc.booking, category=_other(categories, jc.job.category, ctx))
        return _manual(
            _invoice(ctx, variant, history, replace(jc, booking=booking)), variant, reason
        )
    if variant == "cancellation-not-cancelled":
        jc = _cancel(ctx, simple(), hours_before=None, invoice_cancelled=True)
        return _manual(_invoice(ctx, variant, history, jc), variant, reason)
    if variant == "cancellation-early":
        hours = contract.late_cancellation_hours + ctx.rng.choice((0, 6, 48))
        jc = _cancel(ctx, simple(), hours_before=hours, invoice_cancelled=True)
        # exactly the limit counts as early: move the minutes off to keep "hours" exact or more
        jc = replace(
            jc,
            booking=replace(
                jc.booking,
                cancelled_at=dt.datetime.combine(jc.booking.date, jc.booking.planned_start)
                - dt.timedelta(hours=hours),
            ),
        )
        return _manual(_invoice(ctx, variant, history, jc), variant, reason)
    if variant == "cancellation-billed-job":
        jc = _cancel(ctx, simple(), hours_before=ctx.rng.randint(2, 20), invoice_cancelled=False)
        return _manual(_invoice(ctx, variant, history, jc), variant, reason)
    if variant == "late-start":
        delay = contract.late_arrival_minutes + ctx.rng.choice((1, 5, 20, 35))
        jc = _plan(ctx, history, distance=(0, 10), duration=(60, 150), delay=delay)
        return _manual(_invoice(ctx, variant, history, jc), variant, reason)
    if variant.startswith("contract-"):
        return _manual(_contract_case(ctx, variant, history), variant, reason)
    if variant == "arithmetic-vat":
        draft = _invoice(ctx, variant, history, simple())
        doc = draft.doc
        first = doc.lines[0]
        wrong = round_ore(first.amount * Decimal("0.20"))
        lines = (replace(first, tax_amount=wrong), *doc.lines[1:])
        vat = sum((line.tax_amount for line in lines), Decimal(0))
        doc = replace(
            doc,
            lines=lines,
            tax_amount=vat,
            tax_inclusive=doc.line_extension + vat,
            payable=doc.line_extension + vat,
        )
        return _manual(replace(draft, doc=doc), variant, reason)
    if variant == "amount-over-limit":
        for _ in range(100):
            jc = _plan(
                ctx,
                history,
                start=(8 * 60, 8 * 60),
                duration=(7 * 60 + 5, 8 * 60 + 50),
                category="translatoer",
                delay=0,
            )
            draft = _invoice(ctx, variant, history, jc)
            if draft.doc.payable > contract.max_amount:
                return _manual(draft, variant, reason)
        raise SeedError(f"could not build {variant} above the limit")
    if variant in ("payment-fik-check-digit", "payment-bank-account"):
        draft = _invoice(ctx, variant, history, simple())
        due = draft.doc.payment.due_date if draft.doc.payment else None
        if variant == "payment-bank-account":
            bad = PaymentSpec("42", due, bank_reg="7244", bank_account="12345678901")
        else:
            bad = PaymentSpec(
                "93",
                due,
                payment_id="71",
                instruction_id=break_check_digit(fik_payment_id(ctx.rng, "71")),
                creditor_account=f"8{ctx.rng.randrange(10_000_000):07d}",
            )
        return _manual(replace(draft, doc=replace(draft.doc, payment=bad)), variant, reason)
    raise SeedError(f"unhandled interpreter variant {variant!r}")


def _contract_case(ctx: Context, variant: str, history: bool) -> Draft:
    """Billed lines that differ from the contract in one way; everything else is right."""
    contract = ctx.world.interpreter
    if variant == "contract-extra-hour":
        jc = _plan(ctx, history, distance=(0, 10), duration=(30, 110), delay=0)
        expected = list(expected_lines(contract, jc.job, ctx.holidays))
        first = expected[0]
        qty = first.quantity + 1
        expected[0] = replace(first, quantity=qty, amount=round_ore(qty * first.unit_price))
        return _invoice(ctx, variant, history, jc, lines=expected)
    if variant == "contract-double-daytime":
        jc = _plan(ctx, history, start=(9 * 60, 12 * 60), distance=(0, 10), duration=(30, 150))
        expected = list(expected_lines(contract, jc.job, ctx.holidays))
        price = round_ore(expected[0].unit_price * contract.double_factor)
        qty = expected[0].quantity
        expected[0] = CalcLine("TOLK-DOBBELT", qty, price, round_ore(qty * price))
        return _invoice(ctx, variant, history, jc, lines=expected)
    if variant == "contract-transport-short-distance":
        jc = _plan(ctx, history, distance=(2, 9), duration=(30, 150))
        rate = hourly_rate(contract, jc.job.category, jc.job.date)
        price = round_ore(
            rate * contract.transport_rate_factor * contract.transport_unit_minutes / 60
        )
        minutes = ctx.rng.choice((30, 45, 60))
        job = replace(jc.job, transport_minutes=minutes)
        expected = list(expected_lines(contract, job, ctx.holidays))
        qty = Decimal(-(-minutes // contract.transport_unit_minutes))
        expected.append(CalcLine("TRANSPORT", qty, price, round_ore(qty * price)))
        return _invoice(ctx, variant, history, replace(jc, job=job), lines=expected)
    if variant == "contract-mileage-too-far":
        jc = _plan(ctx, history, distance=(15, 40), transport=True, duration=(30, 120))
        job = replace(jc.job, km=2 * jc.job.distance_km + Decimal(ctx.rng.randint(5, 30)))
        allowed = list(expected_lines(contract, job, ctx.holidays))
        billed = [
            replace(line, quantity=job.km, amount=round_ore(job.km * line.unit_price))
            if line.item_id == "KOERSEL"
            else line
            for line in allowed
        ]
        return _invoice(ctx, variant, history, replace(jc, job=job), lines=billed)
    if variant == "contract-wrong-rate":
        jc = _plan(ctx, history, category="oevrig", distance=(0, 10), duration=(30, 150))
        wrong = hourly_rate(contract, "statsproevet", jc.job.date)
        billed = [
            replace(line, unit_price=wrong, amount=round_ore(line.quantity * wrong))
            if line.item_id == "TOLK"
            else line
            for line in expected_lines(contract, jc.job, ctx.holidays)
        ]
        return _invoice(ctx, variant, history, jc, lines=billed)
    raise SeedError(f"unknown interpreter contract variant {variant!r}")


def duplicate(ctx: Context, original: Draft, variant: str) -> Draft:
    """A later interpreter invoice that the robot must see as a duplicate of ``original``."""
    if variant == "duplicate-number":
        doc = resend(ctx, original.doc)
    elif variant == "duplicate-booking":
        supplier = next(
            s for s in ctx.world.interpreter_suppliers if s.cvr == original.supplier_cvr
        )
        doc = replace(resend(ctx, original.doc), number=_number(ctx, supplier))
    else:
        raise SeedError(f"unknown interpreter duplicate variant {variant!r}")
    return Draft(
        category="tolk",
        case=f"{PREFIX}/{variant}",
        doc=doc,
        expected=Expected.manual("MANUAL_DUPLICATE"),
        posting_text=original.posting_text,
        original=original,
    )
