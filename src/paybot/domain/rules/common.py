"""Checks shared by the robots, and building the :data:`~paybot.domain.models.Decision`.

A check is a function that returns :class:`Passed` when the invoice passes (the rule and the
values it compared), or a :class:`Verdict`: the reason code, the rule that decided, a Danish
note for the caseworker and the values it compared. ``None`` is still accepted as "passed,
nothing compared" (the older style). A robot's rules run their checks in the order of
docs/rules.md (:class:`~paybot.domain.rules.table.TableRules`); the first verdict becomes a
:class:`~paybot.domain.models.Manual` decision, and every check made is recorded in the
decision's :class:`~paybot.domain.models.Explanation`.

Compared values are strings: amounts ``plain`` (``1019.48``), dates ISO (``2026-03-01``).
They may hold personal data only under a key the audit trail masks (``bank_account``,
``bank_reg``, ``cpr``: paybot.audit.masking); the certificates' CPR number is never put in.

Notes never contain a CPR number, a citizen's name or a bank account number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from paybot.domain import en16931
from paybot.domain.checks import (
    bank_account_valid,
    cpr_numbers_in,
    cvr_valid,
    fik_creditor_valid,
    fik_id_valid,
    giro_account_valid,
    mask_cpr,
    mask_digits,
)
from paybot.domain.models import (
    CheckMade,
    DocType,
    Explanation,
    Invoice,
    Manual,
    Pay,
    PaymentMeans,
)
from paybot.domain.money import format_kr, plain
from paybot.domain.names import normalise_company_name, same_company_name
from paybot.domain.parsing import InvoiceFormatError
from paybot.domain.reasons import Reason
from paybot.domain.rules.config_types import KnownPayee, bank_account_key
from paybot.domain.rules.context import DecisionContext

MAX_POSTING_TEXT = 50
MAX_NOTE = 1000


@dataclass(frozen=True)
class Verdict:
    """A failed check: manual handling for ``reason``."""

    reason: Reason
    rule: str
    note: str
    compared: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Passed:
    """A passed check: the rule (``supplier``, ``arithmetic``) and the values it compared.

    Falsy, like the ``None`` it replaces, so ``check_a(inv) or check_b(inv)`` written for
    checks that returned ``Verdict | None`` still gives the first failure."""

    rule: str
    compared: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return False


CheckResult = Verdict | Passed | None
"""What a check returns; ``None`` means passed with nothing compared (the older style)."""

Check = Callable[[Invoice, DecisionContext], CheckResult]
"""One step of a robot's check order."""


def check_made(kind: str, reason: Reason, result: CheckResult) -> CheckMade:
    """The record of one check for the decision's explanation: the rule as ``{kind}.{rule}``
    (a ``None`` result is named after ``reason``: ``MANUAL_DUE_DATE`` → ``due_date``)."""
    if isinstance(result, Verdict):
        return CheckMade(
            rule=f"{kind}.{result.rule}",
            reason=result.reason,
            passed=False,
            compared=dict(result.compared),
        )
    if result is None:
        result = Passed(reason.value.removeprefix("MANUAL_").lower())
    return CheckMade(
        rule=f"{kind}.{result.rule}",
        reason=reason,
        passed=True,
        compared=dict(result.compared),
    )


def date_text(day: dt.date) -> str:
    return f"{day:%d-%m-%Y}"


# --- decisions --------------------------------------------------------------------------------


def manual(
    kind: str, rule_version: str, verdict: Verdict, checks: Sequence[CheckMade] = ()
) -> Manual:
    """Manual handling for ``verdict``; ``checks`` are the checks made, the failed one last
    (it is added when missing)."""
    note = verdict.note if len(verdict.note) <= MAX_NOTE else verdict.note[: MAX_NOTE - 1] + "…"
    if not checks or checks[-1].passed:
        checks = (*checks, check_made(kind, verdict.reason, verdict))
    return Manual(
        reason=verdict.reason,
        note=note,
        explanation=Explanation(
            rule=f"{kind}.{verdict.rule}",
            rule_version=rule_version,
            compared=dict(verdict.compared),
            checks=tuple(checks),
        ),
    )


def format_manual(kind: str, rule_version: str, error: InvoiceFormatError) -> Manual:
    """The decision for an invoice :func:`~paybot.domain.parsing.parse_invoice` could not read."""
    compared = {"field": error.field}
    if error.value is not None:
        compared["value"] = error.value
    return manual(kind, rule_version, Verdict(Reason.FORMAT, "format.field", error.note, compared))


def pay(
    kind: str,
    rule_version: str,
    invoice: Invoice,
    ctx: DecisionContext,
    *,
    account_string: str,
    posting_text: str,
    compared: Mapping[str, str],
    checks: Sequence[CheckMade] = (),
) -> Pay:
    """Pay ``invoice``; ``checks`` are the checks made (all passed)."""
    day = ctx.calendar.payment_date(ctx.today, invoice.due_date)
    values = {
        "payable_amount": plain(invoice.payable_amount),
        "account_string": account_string,
        "due_date": invoice.due_date.isoformat() if invoice.due_date else "",
        "payment_date": day.isoformat(),
        **compared,
    }
    return Pay(
        amount=invoice.payable_amount,
        account_string=account_string,
        posting_text=posting_text,
        payment_date=day,
        explanation=Explanation(
            rule=f"{kind}.pay", rule_version=rule_version, compared=values, checks=tuple(checks)
        ),
    )


def first_verdict(
    checks: Sequence[Check], invoice: Invoice, ctx: DecisionContext
) -> Verdict | None:
    """The first failing check's verdict (older style; records nothing of the passed ones)."""
    for check in checks:
        result = check(invoice, ctx)
        if isinstance(result, Verdict):
            return result
    return None


# --- posting text -----------------------------------------------------------------------------


def fit(text: str, limit: int = MAX_POSTING_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip()


def posting_text_small(supplier: str, invoice_number: str) -> str:
    """``"{supplier} fakt. {nr}"``, the supplier cut so the whole fits 50 characters."""
    tail = f" fakt. {' '.join(invoice_number.split())}"
    room = MAX_POSTING_TEXT - len(tail)
    name = " ".join(supplier.split())
    if room <= 0:
        return fit(tail.strip())
    return fit(name[:room].rstrip() + tail) if name else fit(tail.strip())


def posting_text_certificate(invoice_number: str) -> str:
    return fit(f"Lægeerklæring fakt. {invoice_number}")


def posting_text_interpreter(booking_ref: str, invoice_number: str) -> str:
    return fit(f"Tolkning {booking_ref} fakt. {invoice_number}")


# --- shared checks ----------------------------------------------------------------------------


def check_currency(invoice: Invoice) -> Verdict | Passed:
    if invoice.currency == "DKK":
        return Passed("format.currency", {"currency": invoice.currency})
    return Verdict(
        Reason.FORMAT,
        "format.currency",
        f"Fakturaen er i valutaen {invoice.currency}, ikke DKK. "
        "Robotten betaler kun fakturaer i danske kroner.",
        {"currency": invoice.currency, "expected": "DKK"},
    )


def check_credit_note(invoice: Invoice) -> Verdict | Passed:
    if invoice.doc_type is not DocType.CREDIT_NOTE:
        return Passed("credit_note", {"doc_type": invoice.doc_type.value})
    return Verdict(
        Reason.CREDIT_NOTE,
        "credit_note",
        f"Dokumentet er en kreditnota på {format_kr(invoice.payable_amount)} "
        "Den skal modregnes manuelt hos leverandøren.",
        {"doc_type": invoice.doc_type.value},
    )


def check_cvr_known(
    invoice: Invoice, known: Mapping[str, str], what: str = "kendte leverandører"
) -> Verdict | Passed:
    """CVR valid (modulus 11) and in ``known`` (CVR → name)."""
    cvr = invoice.supplier_cvr
    if not cvr_valid(cvr):
        return Verdict(
            Reason.SUPPLIER,
            "supplier.cvr_check_digit",
            f"CVR-nummeret {cvr} er ugyldigt (8 cifre med modulus 11-kontrol). "
            "Kontrollér leverandøren.",
            {"cvr": cvr},
        )
    if cvr not in known:
        return Verdict(
            Reason.SUPPLIER,
            "supplier.unknown",
            f"Leverandøren {invoice.supplier_name or '(uden navn)'} (CVR {cvr}) er ikke på "
            f"robottens liste over {what}.",
            {"cvr": cvr},
        )
    return Passed("supplier", {"cvr": cvr, "supplier": known[cvr]})


RECORDED_KEY_KINDS = ("cvr+nr", "cvr+beloeb+dato", "bestilling")
"""Duplicate key kinds whose value may be recorded; any other key (``cvr+cpr+blanket``, from a
CPR number) is recorded by its kind only."""


def key_shown(key: str) -> str:
    """``key`` as a decision may record it: whole for :data:`RECORDED_KEY_KINDS`, else its kind
    (the text before the first ``:``)."""
    kind = key.partition(":")[0]
    return key if kind in RECORDED_KEY_KINDS else kind


def check_duplicate(ctx: DecisionContext, keys: Sequence[str] = ()) -> Verdict | Passed:
    """Not a duplicate; ``keys`` are the invoice's duplicate keys the runner looked up
    (recorded by :func:`key_shown`)."""
    if ctx.duplicate_of is None:
        return Passed("duplicate", {"keys": "; ".join(key_shown(k) for k in keys)})
    return Verdict(
        Reason.DUPLICATE,
        "duplicate",
        f"Fakturaen ser ud til at være en dublet af {ctx.duplicate_of}. "
        "Kontrollér, at den ikke bliver betalt to gange.",
        {"duplicate_of": ctx.duplicate_of},
    )


def check_amount_limit(invoice: Invoice, max_amount: Decimal) -> Verdict | Passed:
    """``0 < payable <= max_amount``."""
    amount = invoice.payable_amount
    compared = {"payable_amount": plain(amount), "max_amount": plain(max_amount)}
    if amount <= 0:
        return Verdict(
            Reason.AMOUNT,
            "amount.not_positive",
            f"Beløbet at betale er {format_kr(amount)}; robotten betaler kun beløb over 0 kr.",
            compared,
        )
    if amount > max_amount:
        return Verdict(
            Reason.AMOUNT,
            "amount.limit",
            f"Beløbet {format_kr(amount)} er over robottens grænse på {format_kr(max_amount)}",
            compared,
        )
    return Passed("amount", compared)


def check_arithmetic(invoice: Invoice, vat_percent: Decimal) -> Verdict | Passed:
    """Lines, allowances and charges, VAT per category and the totals as EN 16931 computes
    them (:func:`paybot.domain.en16931.audit`; ``vat_percent`` is the standard rate, category
    S). The note names the first figure that differs, the stated and the computed value; a
    pass records the totals checked."""
    finding = en16931.audit(invoice, vat_percent)
    if finding is not None:
        return Verdict(
            Reason.ARITHMETIC, f"arithmetic.{finding.rule}", finding.note, dict(finding.compared)
        )
    return Passed(
        "arithmetic",
        {
            "lines": str(len(invoice.lines)),
            "line_total": plain(invoice.line_extension_amount),
            "tax_amount": plain(invoice.tax_amount),
            "vat_percent": str(vat_percent),
            "payable_amount": plain(invoice.payable_amount),
            "total": plain(invoice.total),
        },
    )


def fik_parts(p: PaymentMeans) -> tuple[str, str | None, str]:
    """FIK card type, payment id and creditor number from either form.

    OIOUBL 2.x: card type ``71`` (``PaymentID``), payment id (``InstructionID``) and creditor
    (``CreditAccount/AccountID``) apart. Peppol BIS 3 (DK-R-010/011): ``PaymentID``
    ``71#000000012345674`` (card type before ``#``, ``73#`` or ``73`` without an id) and the
    creditor number in ``PayeeFinancialAccount/ID``, shown as the account number.
    """
    card = (p.fik_card_type or "").strip().lstrip("+")
    payment_id = (p.fik_payment_id or "").strip() or None
    if "#" in card:
        card, _, rest = card.partition("#")
        card = card.strip().lstrip("+")
        payment_id = payment_id or rest.strip() or None
    creditor = (p.fik_creditor or "").strip() or (p.bank_account or "").strip()
    return card, payment_id, creditor


def check_payment_means(invoice: Invoice) -> Verdict | Passed:
    """42 bank (reg.no. + account), 93 FIK (71/75 with a valid id, 73 without; creditor
    number), 97 NemKonto, 50 giro (account 1-10 digits). Anything else is manual.

    A pass records the numbers checked; the account under ``bank_reg`` / ``bank_account``,
    keys the audit trail masks (``********78``). FIK is read in the OIOUBL form (card type,
    payment id and creditor apart) and in the Peppol BIS 3 form (DK-R-010/011: ``PaymentID``
    ``71#000000012345674``, the creditor number as the payee account), see :func:`fik_parts`."""
    p = invoice.payment

    def fail(rule: str, note: str, compared: Mapping[str, str]) -> Verdict:
        return Verdict(Reason.PAYMENT_MEANS, f"payment_means.{rule}", note, dict(compared))

    code = (p.code or "").strip()
    if not code:
        return fail("missing", "Fakturaen har ingen betalingsoplysninger.", {"code": ""})
    compared = {"code": code}
    if code == "97":
        return Passed("payment_means", compared)
    if code == "42":
        if bank_account_valid(p.bank_reg or "", p.bank_account or ""):
            return Passed(
                "payment_means",
                {**compared, "bank_reg": p.bank_reg or "", "bank_account": p.bank_account or ""},
            )
        return fail(
            "bank_account",
            "Reg.nr. eller kontonummer til bankoverførsel mangler eller er ugyldigt "
            "(reg.nr. 4 cifre, kontonummer 1-10 cifre). Kontrollér betalingsoplysningerne.",
            compared,
        )
    if code == "50":
        if giro_account_valid(p.bank_account or ""):
            return Passed("payment_means", {**compared, "bank_account": p.bank_account or ""})
        return fail(
            "giro_account",
            "Girokontonummeret mangler eller er ugyldigt (1-10 cifre).",
            compared,
        )
    if code == "93":
        card, payment_id, creditor = fik_parts(p)
        compared["fik_card_type"] = card
        if card not in ("71", "73", "75"):
            return fail(
                "fik_card_type",
                f"FIK-kortarten '{card or 'mangler'}' kan robotten ikke betale "
                "(kun +71, +73 og +75).",
                compared,
            )
        if not fik_id_valid(card, payment_id):
            problem = (
                "+73 har ikke noget betalings-ID, men fakturaen angiver et"
                if card == "73"
                else f"betalings-ID'et passer ikke til kortart +{card} (længde eller kontrolciffer)"
            )
            return fail("fik_payment_id", f"FIK-betalingen er ugyldig: {problem}.", compared)
        # Peppol's creditor sits in the account number field, which is never shown in a note
        from_account = not (p.fik_creditor or "").strip()
        if not from_account:
            compared["fik_creditor"] = creditor
        if not fik_creditor_valid(creditor):
            shown = "(kontonummer-feltet)" if from_account and creditor else creditor
            return fail(
                "fik_creditor",
                f"FIK-kreditornummeret '{shown or 'mangler'}' er ugyldigt "
                "(8 cifre, begynder med 8).",
                compared,
            )
        return Passed(
            "payment_means",
            {**compared, "fik_payment_id": payment_id or "", "fik_creditor": creditor},
        )
    return fail(
        "unknown_code",
        f"Betalingskoden {code} kender robotten ikke (kun 42 bank, 93 FIK, 50 giro og "
        "97 NemKonto).",
        compared,
    )


def check_account_active(
    account_string: str | None, ctx: DecisionContext, missing_note: str
) -> Verdict | Passed:
    if account_string is None:
        return Verdict(
            Reason.ACCOUNT_STRING, "account_string.missing", missing_note, {"account_string": ""}
        )
    if account_string not in ctx.active_accounts:
        return Verdict(
            Reason.ACCOUNT_STRING,
            "account_string.inactive",
            f"Kontostrengen {account_string} findes ikke som aktiv konto i kontoplanen.",
            {"account_string": account_string},
        )
    return Passed("account_string", {"account_string": account_string})


# --- what a clerk would stop at (issue 9) -----------------------------------------------------


def check_line_count(invoice: Invoice, max_lines: int) -> Verdict | Passed:
    """At most ``max_lines`` lines: a long invoice is no routine purchase, and the robot
    should not spend minutes on it."""
    count = len(invoice.lines)
    if count <= max_lines:
        return Passed("lines", {"lines": str(count), "max_lines": str(max_lines)})
    return Verdict(
        Reason.TOO_MANY_LINES,
        "lines.too_many",
        f"Fakturaen har {count} linjer; robotten behandler højst {max_lines}. "
        "Gennemgå fakturaen manuelt.",
        {"lines": str(count), "max_lines": str(max_lines)},
    )


def check_supplier_name(invoice: Invoice, known: Mapping[str, str]) -> Verdict | Passed:
    """The supplier's name on the invoice is the name on the list for its CVR (``known``: CVR
    → name), compared by :func:`~paybot.domain.names.same_company_name`: case, spaces,
    punctuation and the long or short legal form (``A/S`` = ``Aktieselskab``) do not matter;
    anything else does. Never a fuzzy match: a different name goes to a person. Runs after the
    CVR is known to be on the list."""
    listed = known.get(invoice.supplier_cvr)
    if listed is None or same_company_name(invoice.supplier_name, listed):
        return Passed(
            "supplier.name",
            {"supplier_name": invoice.supplier_name, "listed_name": listed or ""},
        )
    shown = invoice.supplier_name.strip() or "(uden navn)"
    return Verdict(
        Reason.SUPPLIER_NAME,
        "supplier.name",
        f"Fakturaen er fra '{shown}' med CVR {invoice.supplier_cvr}, men på leverandørlisten "
        f"hedder CVR {invoice.supplier_cvr} '{listed}'. Kontrollér, at fakturaen er fra den "
        "rigtige leverandør (en anden virksomheds CVR-nummer kan være brugt).",
        {
            "cvr": invoice.supplier_cvr,
            "supplier_name": invoice.supplier_name,
            "listed_name": listed,
            "normalised": normalise_company_name(invoice.supplier_name),
            "listed_normalised": normalise_company_name(listed),
        },
    )


def check_due_not_before_issue(invoice: Invoice) -> Verdict | Passed:
    """A due date (when there is one) is not before the invoice date."""
    due = invoice.due_date
    if due is None or due >= invoice.issue_date:
        return Passed(
            "due_date.not_before_issue",
            {
                "issue_date": invoice.issue_date.isoformat(),
                "due_date": due.isoformat() if due else "",
            },
        )
    days = (invoice.issue_date - due).days
    return Verdict(
        Reason.DUE_BEFORE_ISSUE,
        "due_date.before_issue",
        f"Forfaldsdatoen {date_text(due)} ligger {days} dage før fakturadatoen "
        f"{date_text(invoice.issue_date)}. Kontrollér datoerne med leverandøren.",
        {
            "issue_date": invoice.issue_date.isoformat(),
            "due_date": due.isoformat(),
            "days_before": str(days),
        },
    )


def free_text(invoice: Invoice) -> str:
    """The invoice's free text: its note and every line's description, one per line."""
    return "\n".join([invoice.note, *(line.description for line in invoice.lines)])


def check_no_cpr_in_text(invoice: Invoice) -> Verdict | Passed:
    """No CPR-shaped number (``DDMMYY-SSSS`` or ten digits with a real date:
    :func:`~paybot.domain.checks.cpr_numbers_in`) in the note or a line's description: such an
    invoice belongs to a citizen's case, not a routine purchase. The number is shown masked
    (``DDMMYY-****``)."""
    numbers = cpr_numbers_in(free_text(invoice))
    if not numbers:
        return Passed("personal_data.cpr_in_text", {"cpr_numbers": "0"})
    where = "noten" if cpr_numbers_in(invoice.note) else "en linjetekst"
    masked = ", ".join(mask_cpr(n) for n in numbers)
    return Verdict(
        Reason.PERSONAL_DATA,
        "personal_data.cpr_in_text",
        f"Fakturaen indeholder et CPR-nummer ({masked}) i {where}. Det tyder på en borgersag, "
        "ikke et almindeligt indkøb; fakturaen skal behandles i sagen.",
        {"cpr_numbers": str(len(numbers)), "where": where},
    )


def check_payee_known(invoice: Invoice, payee: KnownPayee | None, name: str) -> Verdict | Passed:
    """The bank account (42), giro account (50) or FIK creditor number (93) on the invoice is
    one of those agreed with the supplier (``payee``, from the rules file); NemKonto (97) has
    none and passes. A changed account is the commonest invoice fraud, so an account the robot
    does not know goes to a person, who checks it with the supplier on a known telephone
    number. Accounts are shown masked (every digit but the last two)."""
    p = invoice.payment
    code = (p.code or "").strip()
    known = payee or KnownPayee()
    if code == "42":
        given = bank_account_key(p.bank_reg or "", p.bank_account or "")
        agreed, what = known.bank_accounts, "Kontonummeret"
    elif code == "50":
        given = (p.bank_account or "").strip().zfill(10)
        agreed, what = known.giro_accounts, "Girokontonummeret"
    elif code == "93":
        given = fik_parts(p)[2]  # OIOUBL's creditor field, or Peppol's payee account
        agreed, what = known.fik_creditors, "FIK-kreditornummeret"
    else:
        return Passed("payee.known_account", {"code": code})
    if given in agreed:
        return Passed(
            "payee.known_account",
            {"code": code, "bank_account": mask_digits(given), "known_accounts": str(len(agreed))},
        )
    masked = mask_digits(given)
    listed = ", ".join(mask_digits(a) for a in agreed) or "ingen"
    return Verdict(
        Reason.PAYEE_ACCOUNT,
        "payee.unknown_account",
        f"{what} på fakturaen ({masked}) er ikke et af dem, vi kender for {name} "
        f"(kendte: {listed}). Kontrollér det hos leverandøren på et kendt telefonnummer, "
        "ikke via fakturaen, før der betales.",
        {"code": code, "bank_account": masked, "known_accounts": str(len(agreed))},
    )
