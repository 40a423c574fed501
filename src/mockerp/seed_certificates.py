"""Medical certificates (lægeerklæringer) for the seed, with their requisitions.

Each problem case breaks exactly one rule of docs/rules.md ("Medical certificates", in order):
a wrong amount comes with a valid requisition, a known practice and a fixed-fee form, and so on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from mockerp.oioubl_write import LineSpec, PaymentSpec
from mockerp.seed_calc import certificate_fee, tariff_for
from mockerp.seed_model import (
    Context,
    Draft,
    Expected,
    RequisitionRow,
    SeedError,
    as_credit_note,
    document,
    party,
    posting_text,
    resend,
)
from mockerp.seed_numbers import break_check_digit, fik_payment_id
from mockerp.seed_world import Supplier

PREFIX = "cert"
POSTING = "Lægeerklæring"

RequisitionKind = Literal["open", "none", "closed", "cancelled", "after"]


@dataclass(frozen=True, slots=True)
class Spec:
    form: str
    interpreter: bool = False  # the invoice says an interpreter took part
    approved: bool = False  # the requisition approved an interpreter
    variant: str | None = None


CLEAN_SPECS: dict[str, Spec] = {
    "ok-lae135-interpreter": Spec("LÆ 135", interpreter=True, approved=True),
    "ok-lae125": Spec("LÆ 125"),
    "ok-lae135": Spec("LÆ 135"),
    "ok-lae145": Spec("LÆ 145"),
    "ok-lae225": Spec("LÆ 225"),
    "ok-lae225-uden-sygesikring": Spec("LÆ 225", variant="uden sygesikring"),
    "ok-lae255": Spec("LÆ 255"),
    "ok-lae255-del-1-2": Spec("LÆ 255", variant="del 1+2"),
    "ok-lae265": Spec("LÆ 265"),
    "ok-lae285": Spec("LÆ 285"),
    "ok-lae285-interpreter": Spec("LÆ 285", interpreter=True, approved=True),
    "ok-interpreter-not-approved": Spec("LÆ 135", interpreter=True, approved=False),
}
CLEAN: tuple[str, ...] = tuple(CLEAN_SPECS)

PROBLEMS: tuple[tuple[str, str, bool], ...] = (
    ("format-currency", "MANUAL_FORMAT", True),
    ("format-missing-cpr", "MANUAL_FORMAT", False),
    ("credit-note", "MANUAL_CREDIT_NOTE", True),
    ("supplier-unknown-practice", "MANUAL_SUPPLIER", True),
    ("supplier-wrong-ydernummer", "MANUAL_SUPPLIER", False),
    ("duplicate-number", "MANUAL_DUPLICATE", True),
    ("duplicate-cpr-form", "MANUAL_DUPLICATE", True),
    ("form-request", "MANUAL_FORM", True),
    ("form-by-time", "MANUAL_FORM", False),
    ("form-unknown", "MANUAL_FORM", False),
    ("no-requisition", "MANUAL_NO_REQUISITION", True),
    ("no-requisition-closed", "MANUAL_NO_REQUISITION", False),
    ("requisition-cancelled", "MANUAL_REQUISITION_CANCELLED", True),
    ("certificate-date", "MANUAL_CERTIFICATE_DATE", True),
    ("tariff-wrong-amount", "MANUAL_TARIFF", True),
    ("tariff-period-ended", "MANUAL_TARIFF_PERIOD", True),
    ("tariff-interpreter-not-approved", "MANUAL_TARIFF", False),
    ("tariff-variant", "MANUAL_TARIFF", False),
    ("tariff-zero-fee", "MANUAL_TARIFF", False),
    ("amount-over-limit", "MANUAL_AMOUNT", True),
    ("payment-bank-account", "MANUAL_PAYMENT_MEANS", True),
    ("payment-fik-check-digit", "MANUAL_PAYMENT_MEANS", False),
    ("account-string-closed", "MANUAL_ACCOUNT_STRING", True),
)


def _number(ctx: Context, practice: Supplier) -> str:
    year = ctx.base.year
    if int(practice.cvr) % 2:
        return ctx.invoice_number(practice.cvr, lambda: f"LE-{year}-{ctx.rng.randint(1000, 9999)}")
    return ctx.invoice_number(practice.cvr, lambda: str(ctx.rng.randint(20000, 89999)))


def _requisition(
    ctx: Context, kind: RequisitionKind, cpr: str, form: str, cert_date: dt.date, approved: bool
) -> list[RequisitionRow]:
    if kind == "none":
        return []
    if kind == "after":
        requested = cert_date + dt.timedelta(days=ctx.rng.randint(1, 10))
    else:
        requested = cert_date - dt.timedelta(days=ctx.rng.randint(3, 40))
    return [
        RequisitionRow(
            number=ctx.requisition_number(),
            cpr=cpr,
            form=form,
            requested_on=requested,
            interpreter_approved=approved,
            status="lukket" if kind == "closed" else "aaben",
            cancelled=kind == "cancelled",
        )
    ]


def _certificate(
    ctx: Context,
    case: str,
    history: bool,
    spec: Spec,
    *,
    practice: Supplier | None = None,
    requisition: RequisitionKind = "open",
    amount: Decimal | None = None,
    with_cpr: bool = True,
    certificate_date: dt.date | None = None,
) -> Draft:
    rules = ctx.world.certificates
    chosen = practice or ctx.rng.choice(ctx.world.practices)
    cpr = ctx.cpr()
    issue = ctx.issue_date(history)
    cert_date = certificate_date or issue - dt.timedelta(days=ctx.rng.randint(0, 4))
    tariff = tariff_for(rules, spec.form, cert_date)
    expected: Expected | None = None
    if amount is None:
        if tariff is None or tariff.fee is None:
            raise SeedError(f"{case}: no fixed fee for {spec.form} on {cert_date}")
        amount = certificate_fee(
            tariff, interpreter=spec.interpreter and spec.approved, variant=spec.variant
        )
        expected = Expected.pay(amount, rules.account_string(spec.form))
    number = _number(ctx, chosen)
    on_party = ctx.rng.random() < 0.5
    props: list[tuple[str, str]] = [("Blanket", spec.form)]
    if with_cpr:
        props.append(("CPR", cpr))
    props.append(("Erklæringsdato", cert_date.isoformat()))
    props.append(("Tolk", "ja" if spec.interpreter else "nej"))
    if spec.variant:
        props.append(("Takstvariant", spec.variant))
    if not on_party and chosen.ydernummer:
        props.append(("Ydernummer", chosen.ydernummer))
    text = f"Lægeerklæring {spec.form}" + (" med tolk" if spec.interpreter else "")
    item = "LAE" + "".join(ch for ch in spec.form if ch.isdigit())
    line = LineSpec(
        item, text, Decimal(1), "EA", amount, amount, Decimal(0), Decimal(0), tuple(props)
    )
    due = issue + dt.timedelta(days=14)
    doc = document(
        ctx,
        supplier=party(chosen, ydernummer_on_party=on_party),
        number=number,
        issue=issue,
        lines=[line],
        payment=ctx.payment(chosen, due),
        order_reference=None,
    )
    return Draft(
        category="laegeerklaering",
        case=f"{PREFIX}/{case}",
        doc=doc,
        expected=expected or Expected.manual("MANUAL_TARIFF"),
        posting_text=posting_text(POSTING, number),
        requisitions=_requisition(ctx, requisition, cpr, spec.form, cert_date, spec.approved),
    )


def _manual(draft: Draft, reason: str) -> Draft:
    return replace(draft, expected=Expected.manual(reason))


def build(ctx: Context, variant: str, *, history: bool = False) -> Draft:
    """One certificate case by variant name (see CLEAN and PROBLEMS)."""
    if variant in CLEAN_SPECS:
        return _certificate(ctx, variant, history, CLEAN_SPECS[variant])
    reasons = {v: r for v, r, _ in PROBLEMS}
    if variant not in reasons or variant.startswith("duplicate-"):
        raise SeedError(f"unknown or derived certificate variant {variant!r}")
    reason = reasons[variant]
    plain = Spec("LÆ 125")
    if variant == "format-currency":
        draft = _certificate(ctx, variant, history, Spec("LÆ 135"))
        return _manual(replace(draft, doc=replace(draft.doc, currency="EUR")), reason)
    if variant == "tariff-period-ended":
        # a certificate billed long after it was written, dated where no table of the form
        # has a period (the fee is today's, only the date is outside every period)
        day = ctx.issue_date(history) - dt.timedelta(days=40)
        while tariff_for(ctx.world.certificates, plain.form, day) is not None:
            day -= dt.timedelta(days=30)
        latest = [t for t in ctx.world.certificates.tariffs if t.form == plain.form][-1]
        fee = latest.fee
        if fee is None:
            raise SeedError(f"{variant}: {plain.form} has no fixed fee")
        draft = _certificate(ctx, variant, history, plain, amount=fee, certificate_date=day)
        return _manual(draft, reason)
    if variant == "format-missing-cpr":
        return _manual(_certificate(ctx, variant, history, plain, with_cpr=False), reason)
    if variant == "credit-note":
        draft = _certificate(ctx, variant, history, plain)
        credited = f"LE-{ctx.base.year}-{ctx.rng.randint(1000, 9999)}"
        return _manual(replace(draft, doc=as_credit_note(ctx, draft.doc, credited)), reason)
    if variant == "supplier-unknown-practice":
        practice = ctx.rng.choice(ctx.world.unknown_practices)
        return _manual(_certificate(ctx, variant, history, plain, practice=practice), reason)
    if variant == "supplier-wrong-ydernummer":
        known = {p.ydernummer for p in ctx.world.practices}
        real = ctx.rng.choice(ctx.world.practices)
        ydernummer = next(
            y for y in (f"0{ctx.rng.randrange(100000):05d}" for _ in range(1000)) if y not in known
        )
        practice = replace(real, ydernummer=ydernummer)
        return _manual(_certificate(ctx, variant, history, plain, practice=practice), reason)
    if variant == "form-request":
        form = ctx.rng.choice(("LÆ 131", "LÆ 141", "LÆ 121"))
        amount = Decimal(ctx.rng.choice((397, 796, 1544)))
        return _manual(
            _certificate(ctx, variant, history, Spec(form), amount=amount, requisition="none"),
            reason,
        )
    if variant == "form-by-time":
        amount = Decimal(ctx.rng.randint(8, 30) * 50)
        return _manual(
            _certificate(ctx, variant, history, Spec("LÆ 155"), amount=amount, requisition="none"),
            reason,
        )
    if variant == "form-unknown":
        amount = Decimal(ctx.rng.randint(4, 20) * 50)
        return _manual(
            _certificate(ctx, variant, history, Spec("LÆ 995"), amount=amount, requisition="none"),
            reason,
        )
    if variant in ("no-requisition", "no-requisition-closed", "requisition-cancelled"):
        kinds: dict[str, RequisitionKind] = {
            "no-requisition": "none",
            "no-requisition-closed": "closed",
            "requisition-cancelled": "cancelled",
        }
        kind = kinds[variant]
        spec = CLEAN_SPECS[ctx.rng.choice(("ok-lae125", "ok-lae135", "ok-lae285"))]
        return _manual(_certificate(ctx, variant, history, spec, requisition=kind), reason)
    if variant == "certificate-date":
        return _manual(_certificate(ctx, variant, history, plain, requisition="after"), reason)
    if variant == "tariff-wrong-amount":
        spec = CLEAN_SPECS[ctx.rng.choice(("ok-lae125", "ok-lae135", "ok-lae265"))]
        tariff = tariff_for(ctx.world.certificates, spec.form, ctx.base)
        assert tariff is not None and tariff.fee is not None
        wrong = tariff.fee + Decimal(ctx.rng.choice((53, 100, -47)))
        return _manual(_certificate(ctx, variant, history, spec, amount=wrong), reason)
    if variant == "tariff-interpreter-not-approved":
        spec = Spec("LÆ 135", interpreter=True, approved=False)
        tariff = tariff_for(ctx.world.certificates, spec.form, ctx.base)
        assert tariff is not None and tariff.with_interpreter is not None
        return _manual(
            _certificate(ctx, variant, history, spec, amount=tariff.with_interpreter), reason
        )
    if variant == "tariff-variant":
        spec = Spec("LÆ 225", variant="uden sygesikring")
        tariff = tariff_for(ctx.world.certificates, spec.form, ctx.base)
        assert tariff is not None and tariff.fee is not None
        return _manual(_certificate(ctx, variant, history, spec, amount=tariff.fee), reason)
    if variant == "tariff-zero-fee":
        spec = Spec(ctx.rng.choice(("LÆ 105", "LÆ 165")))
        amount = Decimal(ctx.rng.choice((150, 250, 397)))
        return _manual(_certificate(ctx, variant, history, spec, amount=amount), reason)
    if variant == "amount-over-limit":
        form = ctx.rng.choice(("LÆ 145", "LÆ 265"))
        draft = _certificate(ctx, variant, history, Spec(form, interpreter=True, approved=True))
        if draft.doc.payable <= ctx.world.certificates.max_amount:
            raise SeedError(f"{variant}: {form} with interpreter is within the limit")
        return _manual(draft, reason)
    if variant == "payment-bank-account":
        draft = _certificate(ctx, variant, history, plain)
        due = draft.doc.payment.due_date if draft.doc.payment else None
        bad = PaymentSpec("42", due, bank_reg="22", bank_account="0011223344")
        return _manual(replace(draft, doc=replace(draft.doc, payment=bad)), reason)
    if variant == "payment-fik-check-digit":
        draft = _certificate(ctx, variant, history, plain)
        due = draft.doc.payment.due_date if draft.doc.payment else None
        bad = PaymentSpec(
            "93",
            due,
            payment_id="71",
            instruction_id=break_check_digit(fik_payment_id(ctx.rng, "71")),
            creditor_account=f"8{ctx.rng.randrange(10_000_000):07d}",
        )
        return _manual(replace(draft, doc=replace(draft.doc, payment=bad)), reason)
    if variant == "account-string-closed":
        closed = [
            form
            for form, account in ctx.world.certificates.account_strings.items()
            if account not in ctx.world.active_accounts() and form != "default"
        ]
        if not closed:
            raise SeedError("world.yaml maps no certificate form to a closed account")
        return _manual(_certificate(ctx, variant, history, Spec(closed[0])), reason)
    raise SeedError(f"unhandled certificate variant {variant!r}")


def duplicate(ctx: Context, original: Draft, variant: str) -> Draft:
    """A later certificate invoice that the robot must see as a duplicate of ``original``."""
    if variant == "duplicate-number":
        doc = resend(ctx, original.doc)
    elif variant == "duplicate-cpr-form":
        practice = next(p for p in ctx.world.practices if p.cvr == original.supplier_cvr)
        later = min(
            original.doc.issue_date + dt.timedelta(days=ctx.rng.randint(1, 3)),
            ctx.latest_cutoff(history=False),
        )
        doc = replace(
            resend(ctx, original.doc),
            number=_number(ctx, practice),
            issue_date=max(later, original.doc.issue_date),
        )
    else:
        raise SeedError(f"unknown certificate duplicate variant {variant!r}")
    return Draft(
        category="laegeerklaering",
        case=f"{PREFIX}/{variant}",
        doc=doc,
        expected=Expected.manual("MANUAL_DUPLICATE"),
        posting_text=posting_text(POSTING, doc.number),
        original=original,
    )
