"""Small invoices (småfakturaer) from known suppliers: docs/rules.md, "Small invoices"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from paybot.domain.checks import gln_valid
from paybot.domain.models import Category, Decision, Invoice, Manual, RegisterEntry
from paybot.domain.money import plain
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
    check_no_cpr_in_text,
    check_payee_known,
    check_payment_means,
    check_supplier_name,
    date_text,
    first_verdict,
    format_manual,
    manual,
    pay,
    posting_text_small,
)
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.small_invoices_config import SmallInvoicesConfig


class SmallInvoiceRules:
    """Pays an invoice from a known supplier within the limit whose figures add up."""

    kind: ClassVar[str] = "small_invoices"
    category: ClassVar[Category] = Category.OTHER
    needs_requisitions: ClassVar[bool] = False
    needs_bookings: ClassVar[bool] = False
    check_order: ClassVar[tuple[Reason, ...]] = (
        Reason.FORMAT,
        Reason.TOO_MANY_LINES,
        Reason.CREDIT_NOTE,
        Reason.BUYER,
        Reason.SUPPLIER,
        Reason.SUPPLIER_NAME,
        Reason.DUPLICATE,
        Reason.PERSONAL_DATA,
        Reason.AMOUNT,
        Reason.ARITHMETIC,
        Reason.DUE_BEFORE_ISSUE,
        Reason.DUE_DATE,
        Reason.PAYMENT_MEANS,
        Reason.PAYEE_ACCOUNT,
        Reason.ACCOUNT_STRING,
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset(r.value for r in check_order)

    def __init__(self, config: SmallInvoicesConfig, rule_version: str) -> None:
        self.config = config
        self.rule_version = rule_version
        self._suppliers = {s.cvr: s for s in config.suppliers}
        self._supplier_names = {s.cvr: s.name for s in config.suppliers}
        self._checks: tuple[Check, ...] = (
            lambda inv, ctx: check_currency(inv),
            lambda inv, ctx: check_line_count(inv, config.max_lines),
            lambda inv, ctx: check_credit_note(inv),
            lambda inv, ctx: self._check_buyer(inv),
            lambda inv, ctx: check_cvr_known(inv, self._supplier_names),
            lambda inv, ctx: check_supplier_name(inv, self._supplier_names),
            lambda inv, ctx: check_duplicate(ctx),
            lambda inv, ctx: check_no_cpr_in_text(inv),
            lambda inv, ctx: check_amount_limit(inv, config.max_amount),
            lambda inv, ctx: check_arithmetic(inv, config.vat_percent),
            lambda inv, ctx: check_due_not_before_issue(inv),
            lambda inv, ctx: self._check_due_date(inv),
            lambda inv, ctx: check_payment_means(inv),
            lambda inv, ctx: self._check_payee(inv),
            self._check_account_string,
        )

    @classmethod
    def from_config(cls, data: Mapping[str, Any], rule_version: str) -> Self:
        return cls(SmallInvoicesConfig.model_validate(data), rule_version)

    # --- the decision ---------------------------------------------------------------------

    def decide(self, invoice: Invoice, ctx: DecisionContext) -> Decision:
        verdict = first_verdict(self._checks, invoice, ctx)
        if verdict is not None:
            return manual(self.kind, self.rule_version, verdict)
        account = self.account_string_for(invoice)
        assert account is not None  # the account string check passed
        return pay(
            self.kind,
            self.rule_version,
            invoice,
            ctx,
            account_string=account,
            posting_text=posting_text_small(invoice.supplier_name, invoice.invoice_number),
            compared={"max_amount": plain(self.config.max_amount), "cvr": invoice.supplier_cvr},
        )

    def decide_unreadable(self, error: InvoiceFormatError) -> Manual:
        return format_manual(self.kind, self.rule_version, error)

    def account_string_for(self, invoice: Invoice) -> str | None:
        """The supplier's account string, else the one of the invoice's order reference."""
        supplier = self._suppliers.get(invoice.supplier_cvr)
        if supplier is not None and supplier.account_string is not None:
            return supplier.account_string
        if invoice.order_reference is not None:
            return self.config.order_references.get(invoice.order_reference.strip())
        return None

    # --- duplicates -----------------------------------------------------------------------

    def duplicate_keys(self, invoice: Invoice) -> tuple[str, ...]:
        return keys.present(
            keys.invoice_number_key(invoice.supplier_cvr, invoice.invoice_number),
            keys.amount_date_key(invoice.supplier_cvr, invoice.payable_amount, invoice.issue_date),
        )

    def register_keys(self, entry: RegisterEntry) -> tuple[str, ...]:
        return keys.present(
            keys.invoice_number_key(entry.supplier_cvr, entry.invoice_number),
            keys.amount_date_key(entry.supplier_cvr, entry.payable_amount, entry.issue_date),
        )

    # --- this robot's own checks ----------------------------------------------------------

    def _check_buyer(self, invoice: Invoice) -> Verdict | None:
        gln = (invoice.buyer_gln or "").strip()
        compared = {"buyer_gln": gln, "our_glns": ", ".join(self.config.buyer_glns)}
        if not gln:
            return Verdict(
                Reason.BUYER, "buyer.missing", "Fakturaen har ingen modtager-GLN (EAN).", compared
            )
        if not gln_valid(gln):
            return Verdict(
                Reason.BUYER,
                "buyer.check_digit",
                f"Modtager-GLN {gln} er ugyldigt (13 cifre med kontrolciffer).",
                compared,
            )
        if gln not in self.config.buyer_glns:
            return Verdict(
                Reason.BUYER,
                "buyer.not_ours",
                f"Fakturaen er sendt til GLN {gln}, som ikke er et af kommunens numre. "
                "Send den videre til den rette modtager eller afvis den.",
                compared,
            )
        return None

    def _check_due_date(self, invoice: Invoice) -> Verdict | None:
        limit = self.config.max_payment_terms_days
        if invoice.due_date is None:
            return Verdict(
                Reason.DUE_DATE,
                "due_date.missing",
                "Fakturaen har ingen forfaldsdato.",
                {"due_date": ""},
            )
        days = (invoice.due_date - invoice.issue_date).days
        if days > limit:
            return Verdict(
                Reason.DUE_DATE,
                "due_date.terms",
                f"Forfaldsdatoen {date_text(invoice.due_date)} er {days} dage efter "
                f"fakturadatoen {date_text(invoice.issue_date)}; en offentlig myndighed må "
                f"højst have {limit} dages betalingsfrist.",
                {
                    "issue_date": invoice.issue_date.isoformat(),
                    "due_date": invoice.due_date.isoformat(),
                    "days": str(days),
                    "max_days": str(limit),
                },
            )
        return None

    def _check_payee(self, invoice: Invoice) -> Verdict | None:
        supplier = self._suppliers.get(invoice.supplier_cvr)
        name = supplier.name if supplier is not None else invoice.supplier_cvr
        return check_payee_known(invoice, supplier, name)

    def _check_account_string(self, invoice: Invoice, ctx: DecisionContext) -> Verdict | None:
        ref = (invoice.order_reference or "").strip()
        name = invoice.supplier_name or invoice.supplier_cvr
        missing = (
            f"Leverandøren {name} har ingen kontostreng, og ordrereferencen {ref} giver ingen."
            if ref
            else f"Leverandøren {name} har ingen kontostreng, og fakturaen har ingen "
            "ordrereference. Kontér fakturaen manuelt."
        )
        return check_account_active(self.account_string_for(invoice), ctx, missing)


__all__ = ["SmallInvoiceRules", "SmallInvoicesConfig"]
