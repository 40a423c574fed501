"""Small invoices (småfakturaer) for the seed: clean variants and one-problem cases.

Each problem case breaks exactly one rule; everything the robot checks before that rule
(docs/rules.md, "Small invoices", in order) holds, so the expected reason is unambiguous.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Literal

from mockerp.oioubl_write import AllowanceChargeSpec, LineSpec, PaymentSpec
from mockerp.seed_model import (
    Context,
    Draft,
    Expected,
    SeedError,
    as_credit_note,
    document,
    party,
    posting_text,
    refigured,
    resend,
    with_vat,
)
from mockerp.seed_numbers import break_check_digit, cvr_valid, fik_payment_id, gln_check_digit
from mockerp.seed_world import PayKind, Supplier

PREFIX = "small"

# Clean variants, most important first (small batches take them in this order).
CLEAN: tuple[str, ...] = (
    "ok-bank",
    "ok-fik71",
    "ok-order-reference",
    "ok-nemkonto",
    "ok-fik75",
    "ok-giro",
    "ok-fik73",
    "ok-at-limit",
    "ok-due-30-days",
    "ok-peppol",  # Peppol BIS 3, FIK in the Peppol form, line discount, 0 % line, freight
    "ok-allowances",  # OIOUBL 2.1 with the same: allowances, charges, two VAT categories
    "ok-name-long-form",
)

# (variant, expected reason, in the mandatory set for batches of 60 or more)
PROBLEMS: tuple[tuple[str, str, bool], ...] = (
    ("format-currency", "MANUAL_FORMAT", True),
    ("credit-note", "MANUAL_CREDIT_NOTE", True),
    ("buyer-other-gln", "MANUAL_BUYER", True),
    ("buyer-check-digit", "MANUAL_BUYER", True),
    ("supplier-unknown", "MANUAL_SUPPLIER", True),
    ("supplier-invalid-cvr", "MANUAL_SUPPLIER", True),
    ("duplicate-number", "MANUAL_DUPLICATE", True),
    ("duplicate-amount-date", "MANUAL_DUPLICATE", True),
    ("amount-over-limit", "MANUAL_AMOUNT", True),
    ("arithmetic-line-sum", "MANUAL_ARITHMETIC", True),
    ("arithmetic-vat", "MANUAL_ARITHMETIC", True),
    ("arithmetic-category-vat", "MANUAL_ARITHMETIC", True),
    ("due-date-too-late", "MANUAL_DUE_DATE", True),
    ("due-date-missing", "MANUAL_DUE_DATE", True),
    ("payment-fik-check-digit", "MANUAL_PAYMENT_MEANS", True),
    ("payment-bank-account", "MANUAL_PAYMENT_MEANS", True),
    ("account-string-missing", "MANUAL_ACCOUNT_STRING", True),
    # what a clerk would stop at (issue 9)
    ("lines-too-many", "MANUAL_TOO_MANY_LINES", True),
    ("supplier-name-other", "MANUAL_SUPPLIER_NAME", True),
    ("personal-data-cpr", "MANUAL_PERSONAL_DATA", True),
    ("due-before-issue", "MANUAL_DUE_BEFORE_ISSUE", True),
    ("payee-account-changed", "MANUAL_PAYEE_ACCOUNT", True),
)

_LONG_FORMS = {"A/S": "Aktieselskab", "ApS": "Anpartsselskab", "I/S": "Interessentskab"}

# what each kind of supplier sells: (item id, text, unit, lowest and highest price in kr)
_CATALOGS: dict[str, tuple[tuple[str, str, str, int, int], ...]] = {
    "6.45.51-000-2.9": (  # other purchases of goods: office supplies
        ("KP-A4", "Kopipapir A4 80 g, 500 ark", "PK", 35, 60),
        ("KUG-10", "Kuglepenne, blå, 10 stk.", "PK", 25, 45),
        ("RB-A4", "Ringbind A4, 2 ringe", "EA", 18, 40),
        ("TON-K", "Toner, sort, til kopimaskine", "EA", 450, 900),
    ),
    "6.45.51-000-2.2": (  # food
        ("KAF-1", "Kaffebønner, 1 kg", "KGM", 120, 220),
        ("TE-100", "Te, 100 breve", "PK", 30, 60),
    ),
    "6.45.51-000-4.0": (
        ("SUP-T", "IT-support, påbegyndt time", "HUR", 650, 950),
        ("USB-C", "USB-C kabel, 2 m", "EA", 80, 150),
        ("MUS", "Trådløs mus", "EA", 120, 260),
    ),
    "0.25.11-000-4.0": (
        ("VIN", "Vinduespolering, bygning", "EA", 400, 900),
        ("REN-M", "Rengøringsmidler, kasse", "EA", 150, 350),
        ("PL-M", "Plantepleje, måned", "MON", 300, 600),
        ("MAL-10", "Vægmaling, 10 l", "EA", 350, 700),
        ("SKR", "Skruer, 200 stk.", "PK", 40, 90),
    ),
    "3.22.01-000-2.9": (
        ("LB-DA", "Lærebog i dansk, 5. klasse", "EA", 150, 350),
        ("AH-MA", "Arbejdshæfte matematik", "EA", 45, 95),
    ),
    "5.32.32-000-4.0": (
        ("GT", "Gribetang", "EA", 80, 200),
        ("BB", "Badebænk", "EA", 400, 900),
        ("SK-S", "Skridsikre sokker, par", "PR", 30, 70),
    ),
}


def _catalog(supplier: Supplier) -> tuple[tuple[str, str, str, int, int], ...]:
    return _CATALOGS.get(supplier.account_string or "0.25.11-000-4.0", _CATALOGS["0.25.11-000-4.0"])


def _number(ctx: Context, supplier: Supplier) -> str:
    style = int(supplier.cvr) % 3
    if style == 0:
        return ctx.invoice_number(supplier.cvr, lambda: str(ctx.rng.randint(100000, 999999)))
    if style == 1:
        year = ctx.base.year
        return ctx.invoice_number(supplier.cvr, lambda: f"F-{year}-{ctx.rng.randint(1000, 99999)}")
    return ctx.invoice_number(
        supplier.cvr, lambda: f"{ctx.rng.randint(10000, 99999)}/{ctx.base:%y}"
    )


def _lines(ctx: Context, supplier: Supplier, *, big: bool = False) -> list[LineSpec]:
    catalog = _catalog(supplier)
    count = ctx.rng.randint(1, 4 if not big else 2)
    chosen = ctx.rng.sample(list(catalog), k=min(count, len(catalog)))
    lines = []
    for item_id, text, unit, low, high in chosen:
        price = ctx.price(low, high)
        quantity = Decimal(ctx.rng.randint(8, 30) if big else ctx.rng.randint(1, 6))
        lines.append(
            LineSpec(item_id, text, quantity, unit, price, quantity * price, Decimal(0), Decimal(0))
        )
    return with_vat(lines, ctx.world.small.vat_percent)


def _supplier_paying(ctx: Context, kind: PayKind) -> Supplier:
    options = [
        s
        for s in ctx.world.small_suppliers
        if s.payee.kind == kind and s.account_string is not None
    ]
    if not options:
        raise SeedError(f"world.yaml has no small supplier paid by {kind}")
    return ctx.rng.choice(options)


def _supplier_without_account(ctx: Context) -> Supplier:
    options = [s for s in ctx.world.small_suppliers if s.account_string is None]
    if not options:
        raise SeedError("world.yaml has no small supplier without an account string")
    return ctx.rng.choice(options)


def _clean(
    ctx: Context,
    case: str,
    history: bool,
    *,
    supplier: Supplier | None = None,
    order_reference: str | None = None,
    big: bool = False,
    terms: int | None = None,
    fixed_lines: list[LineSpec] | None = None,
) -> Draft:
    """A valid small invoice (within the limit unless ``big``) from a known supplier."""
    small = ctx.world.small
    chosen = supplier or ctx.rng.choice(
        [s for s in ctx.world.small_suppliers if s.account_string is not None]
    )
    for _ in range(200):
        lines = fixed_lines if fixed_lines is not None else _lines(ctx, chosen, big=big)
        issue = ctx.issue_date(history)
        due = issue + dt.timedelta(
            days=terms if terms is not None else ctx.rng.choice((8, 14, 20, 30))
        )
        number = _number(ctx, chosen)
        ref = order_reference
        if ref is None and ctx.rng.random() < 0.5:
            ref = f"PO-{ctx.rng.randint(10000, 99999)}"
        doc = document(
            ctx,
            supplier=party(chosen),
            number=number,
            issue=issue,
            lines=lines,
            payment=ctx.payment(chosen, due),
            order_reference=ref,
            accounting_cost=chosen.account_string if ctx.rng.random() < 0.5 else None,
        )
        within = doc.payable <= small.max_amount
        if within != big and ctx.claim_small_key(chosen.cvr, doc.payable, issue):
            account = chosen.account_string or ctx.world.order_references.get(ref or "")
            expected = (
                Expected.pay(doc.payable, account)
                if account
                else Expected.manual("MANUAL_ACCOUNT_STRING")
            )
            return Draft(
                category="oevrige",
                case=f"{PREFIX}/{case}",
                doc=doc,
                expected=expected,
                posting_text=posting_text(chosen.name, number),
            )
    raise SeedError(f"could not build small invoice case {case}")


def _at_limit(ctx: Context, history: bool) -> Draft:
    """Payable exactly the limit: net lines in 0.20 kr steps so the VAT is exact."""
    small = ctx.world.small
    net = small.max_amount * 100 / (100 + small.vat_percent)
    supplier = _supplier_paying(ctx, "bank")
    first = Decimal(ctx.rng.randint(1000, int(net * 5) - 1000)) / Decimal(5)
    item_a, text_a, unit_a, _, _ = _catalog(supplier)[0]
    item_b, text_b, unit_b, _, _ = _catalog(supplier)[-1]
    lines = with_vat(
        [
            LineSpec(item_a, text_a, Decimal(1), unit_a, first, first, Decimal(0), Decimal(0)),
            LineSpec(
                item_b, text_b, Decimal(1), unit_b, net - first, net - first, Decimal(0), Decimal(0)
            ),
        ],
        small.vat_percent,
    )
    return _clean(ctx, "ok-at-limit", history, supplier=supplier, fixed_lines=lines)


_ZERO_RATED = ("AVIS", "Dagblad, abonnement (momsfritaget)", "MON", 95, 260)
"""Newspapers are zero-rated in Denmark (momsloven § 34, stk. 1, nr. 8): category Z, 0 %."""


def _with_extras(
    ctx: Context,
    case: str,
    history: bool,
    syntax: Literal["oioubl", "peppol"],
    *,
    wrong_vat: Decimal = Decimal(0),
) -> Draft:
    """A clean invoice with a line discount, a zero-rated line and a freight charge, its totals
    by EN 16931 (VAT per rate rounded once); ``wrong_vat`` is added to the VAT and totals."""
    small = ctx.world.small
    for _ in range(50):
        supplier = _supplier_paying(ctx, "fik71") if syntax == "peppol" else None
        base = _clean(ctx, case, history, supplier=supplier)
        doc = base.doc
        first = doc.lines[0]
        gross = first.quantity * first.unit_price
        discount = (gross * Decimal(ctx.rng.choice((5, 10, 15))) / 100).quantize(Decimal("0.01"))
        item, text, unit, low, high = _ZERO_RATED
        paper = ctx.price(low, high)
        lines = (
            replace(first, allowance=discount, amount=gross - discount),
            *doc.lines[1:],
            LineSpec(item, text, Decimal(1), unit, paper, paper, Decimal(0), Decimal(0)),
        )
        freight = AllowanceChargeSpec(True, "Fragt", ctx.price(29, 79), small.vat_percent)
        doc = refigured(replace(doc, lines=lines, allowances_charges=(freight,), syntax=syntax))
        if wrong_vat:
            doc = replace(
                doc,
                tax_amount=doc.tax_amount + wrong_vat,
                tax_inclusive=doc.tax_inclusive + wrong_vat,
                payable=doc.payable + wrong_vat,
            )
        if not 0 < doc.payable <= small.max_amount:
            continue
        if not ctx.claim_small_key(doc.supplier.cvr or "", doc.payable, doc.issue_date):
            continue
        account = base.expected.account_string
        if account is None:
            continue
        expected = Expected.pay(doc.payable, account)
        return replace(base, case=f"{PREFIX}/{case}", doc=doc, expected=expected)
    raise SeedError(f"could not build small invoice case {case}")


def _with_expected(draft: Draft, case: str, reason: str) -> Draft:
    return replace(draft, case=f"{PREFIX}/{case}", expected=Expected.manual(reason))


def build(ctx: Context, variant: str, *, history: bool = False) -> Draft:
    """One small-invoice case by variant name (see CLEAN and PROBLEMS)."""
    small = ctx.world.small
    clean_kinds: dict[str, PayKind] = {
        "ok-bank": "bank",
        "ok-fik71": "fik71",
        "ok-fik75": "fik75",
        "ok-fik73": "fik73",
        "ok-nemkonto": "nemkonto",
        "ok-giro": "giro",
    }
    if variant in clean_kinds:
        return _clean(ctx, variant, history, supplier=_supplier_paying(ctx, clean_kinds[variant]))
    if variant == "ok-order-reference":
        ref = ctx.rng.choice(sorted(ctx.world.order_references))
        return _clean(
            ctx, variant, history, supplier=_supplier_without_account(ctx), order_reference=ref
        )
    if variant == "ok-at-limit":
        try:
            return _at_limit(ctx, history)
        except SeedError:
            # Exactly the limit is one amount: in a large seed the supplier-amount-date
            # combinations that are not duplicates run out; an ordinary clean case instead.
            return _clean(ctx, "ok-bank", history, supplier=_supplier_paying(ctx, "bank"))
    if variant == "ok-due-30-days":
        return _clean(ctx, variant, history, terms=small.max_payment_terms_days)
    if variant in ("ok-peppol", "ok-allowances"):
        return _with_extras(ctx, variant, history, "peppol" if variant == "ok-peppol" else "oioubl")
    if variant == "ok-name-long-form":
        # "Kontorland Aktieselskab" for "Kontorland A/S": the same company, paid
        base = _clean(ctx, variant, history, supplier=_supplier_paying(ctx, "bank"))
        short = base.doc.supplier.name
        for form, long in _LONG_FORMS.items():
            if short.endswith(" " + form):
                short = short[: -len(form)] + long
                break
        return replace(base, doc=replace(base.doc, supplier=replace(base.doc.supplier, name=short)))

    reasons = {v: r for v, r, _ in PROBLEMS}
    if variant not in reasons:
        raise SeedError(f"unknown small invoice variant {variant!r}")
    if variant.startswith("duplicate-"):
        raise SeedError(f"{variant} is built from an original, see duplicate()")
    reason = reasons[variant]
    if variant == "amount-over-limit":
        return _with_expected(_clean(ctx, variant, history, big=True), variant, reason)
    if variant == "arithmetic-category-vat":
        # a Peppol invoice whose VAT is 5 øre more than its categories give (totals follow)
        draft = _with_extras(ctx, variant, history, "peppol", wrong_vat=Decimal("0.05"))
        return _with_expected(draft, variant, reason)
    if variant == "lines-too-many":
        supplier = _supplier_paying(ctx, "bank")
        item, text, unit, _, _ = _catalog(supplier)[0]
        price = Decimal(ctx.rng.randint(1, 4))  # a few kroner a line: well within the limit
        count = small.max_lines + ctx.rng.randint(1, 50)
        many = with_vat(
            [
                LineSpec(
                    item,
                    f"{text}, levering {i}",
                    Decimal(1),
                    unit,
                    price,
                    price,
                    Decimal(0),
                    Decimal(0),
                )
                for i in range(1, count + 1)
            ],
            small.vat_percent,
        )
        base = _clean(ctx, variant, history, supplier=supplier, fixed_lines=many)
        return _with_expected(base, variant, reason)
    if variant == "payee-account-changed":
        # a known supplier's invoice asking for payment to an account it never gave us
        base = _clean(ctx, variant, history, supplier=_supplier_paying(ctx, "bank"))
        assert base.doc.payment is not None
        known = base.doc.payment.bank_account or ""
        account = known
        while account == known:
            account = f"{ctx.rng.randrange(10**10):010d}"
        payment = PaymentSpec(
            "42",
            base.doc.payment.due_date,
            bank_reg=f"{ctx.rng.randint(1000, 9899)}",
            bank_account=account,
        )
        return _with_expected(
            replace(base, doc=replace(base.doc, payment=payment)), variant, reason
        )
    if variant == "account-string-missing":
        base = _clean(ctx, variant, history, supplier=_supplier_without_account(ctx))
        unmapped = ctx.rng.choice((None, f"PO-{ctx.rng.randint(10000, 99999)}"))
        doc = replace(base.doc, order_reference=unmapped)
        return replace(base, case=f"{PREFIX}/{variant}", doc=doc, expected=Expected.manual(reason))
    base = _clean(ctx, variant, history)
    doc = base.doc
    if variant == "format-currency":
        doc = replace(doc, currency="EUR")
        if ctx.rng.random() < 0.5:
            # Peppol with the VAT also in DKK as the tax currency (BT-111): shown apart
            dkk = (doc.tax_amount * Decimal("7.4604")).quantize(Decimal("0.01"))
            doc = replace(doc, syntax="peppol", tax_currency="DKK", tax_currency_amount=dkk)
    elif variant == "credit-note":
        doc = as_credit_note(ctx, doc, f"{ctx.rng.randint(100000, 999999)}")
        if ctx.rng.random() < 0.5:
            doc = replace(doc, syntax="peppol")
    elif variant == "buyer-other-gln":
        doc = replace(doc, buyer_gln=ctx.rng.choice(ctx.world.other_glns))
    elif variant == "buyer-check-digit":
        ours = ctx.world.buyer_gln
        wrong = str((int(gln_check_digit(ours[:12])) + 3) % 10)
        doc = replace(doc, buyer_gln=ours[:12] + wrong)
    elif variant in ("supplier-unknown", "supplier-invalid-cvr"):
        wanted = variant == "supplier-unknown"
        supplier = next(s for s in ctx.world.unknown_suppliers if cvr_valid(s.cvr) == wanted)
        number = _number(ctx, supplier)
        doc = replace(
            doc,
            supplier=party(supplier),
            number=number,
            payment=ctx.payment(supplier, doc.payment.due_date if doc.payment else None),
        )
        base = replace(base, posting_text=posting_text(supplier.name, number))
    elif variant == "arithmetic-line-sum":
        # lower than the lines: the payable stays within the limit (MANUAL_AMOUNT comes first)
        delta = Decimal(ctx.rng.choice((10, 25, 100)) if doc.line_extension > 200 else 10)
        extension = doc.line_extension - delta
        vat = doc.tax_amount
        doc = replace(
            doc, line_extension=extension, tax_inclusive=extension + vat, payable=extension + vat
        )
    elif variant == "arithmetic-vat":
        first = doc.lines[0]
        wrong_vat = (first.amount * Decimal("0.20")).quantize(Decimal("0.01"))
        lines = (replace(first, tax_amount=wrong_vat), *doc.lines[1:])
        vat = sum((line.tax_amount for line in lines), Decimal(0))
        doc = replace(
            doc,
            lines=lines,
            tax_amount=vat,
            tax_inclusive=doc.line_extension + vat,
            payable=doc.line_extension + vat,
        )
    elif variant == "due-date-too-late":
        assert doc.payment is not None
        late = small.max_payment_terms_days + ctx.rng.choice((1, 5, 15, 30))
        doc = replace(
            doc, payment=replace(doc.payment, due_date=doc.issue_date + dt.timedelta(days=late))
        )
    elif variant == "supplier-name-other":
        # a known supplier's CVR under another supplier's name
        other = ctx.rng.choice([s for s in ctx.world.small_suppliers if s.cvr != doc.supplier.cvr])
        doc = replace(doc, supplier=replace(doc.supplier, name=other.name))
    elif variant == "personal-data-cpr":
        cpr = ctx.cpr()
        shown = cpr if ctx.rng.random() < 0.5 else cpr.replace("-", "")
        doc = replace(
            doc, note=f"Vedr. borger {shown}: hjælpemiddel efter aftale med sagsbehandler"
        )
    elif variant == "due-before-issue":
        assert doc.payment is not None
        early = doc.issue_date - dt.timedelta(days=ctx.rng.choice((1, 7, 30)))
        doc = replace(doc, payment=replace(doc.payment, due_date=early))
    elif variant == "due-date-missing":
        assert doc.payment is not None
        doc = replace(doc, payment=replace(doc.payment, due_date=None))
    elif variant == "payment-fik-check-digit":
        assert doc.payment is not None
        card = ctx.rng.choice(("71", "75"))
        doc = replace(
            doc,
            payment=PaymentSpec(
                "93",
                doc.payment.due_date,
                payment_id=card,
                instruction_id=break_check_digit(fik_payment_id(ctx.rng, card)),
                creditor_account=f"8{ctx.rng.randrange(10_000_000):07d}",
            ),
        )
    elif variant == "payment-bank-account":
        assert doc.payment is not None
        reg, account = ctx.rng.choice(
            (("957", "0012345678"), ("9570", "00123456789"), ("95A0", "12345"))
        )
        doc = replace(
            doc, payment=PaymentSpec("42", doc.payment.due_date, bank_reg=reg, bank_account=account)
        )
    return replace(base, case=f"{PREFIX}/{variant}", doc=doc, expected=Expected.manual(reason))


def duplicate(ctx: Context, original: Draft, variant: str) -> Draft:
    """A later document that the robot must see as a duplicate of ``original``."""
    if variant == "duplicate-number":
        doc = resend(ctx, original.doc)
    elif variant == "duplicate-amount-date":
        supplier = next(s for s in ctx.world.small_suppliers if s.cvr == original.supplier_cvr)
        doc = replace(resend(ctx, original.doc), number=_number(ctx, supplier))
    else:
        raise SeedError(f"unknown small duplicate variant {variant!r}")
    return Draft(
        category="oevrige",
        case=f"{PREFIX}/{variant}",
        doc=doc,
        expected=Expected.manual("MANUAL_DUPLICATE"),
        posting_text=original.posting_text,
        original=original,
    )
