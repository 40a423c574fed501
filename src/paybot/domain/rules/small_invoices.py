"""Small invoices (småfakturaer) from known suppliers: docs/rules.md, "Small invoices"."""

from __future__ import annotations

from paybot.domain.checks import gln_valid
from paybot.domain.models import Category, Invoice, RegisterEntry
from paybot.domain.money import plain
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
    check_no_cpr_in_text,
    check_payee_known,
    check_payment_means,
    check_supplier_name,
    date_text,
    posting_text_small,
)
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.small_invoices_config import SmallInvoicesConfig, SmallSupplier
from paybot.domain.rules.table import Payment, TableRules


class SmallInvoiceRules(TableRules):
    """Pays an invoice from a known supplier within the limit whose figures add up."""

    kind = "small_invoices"
    category = Category.OTHER
    config_model = SmallInvoicesConfig
    config: SmallInvoicesConfig
    _suppliers: dict[str, SmallSupplier]
    _supplier_names: dict[str, str]
    checks = (
        (Reason.FORMAT, lambda r, inv, ctx: check_currency(inv)),
        (Reason.TOO_MANY_LINES, lambda r, inv, ctx: check_line_count(inv, r.config.max_lines)),
        (Reason.CREDIT_NOTE, lambda r, inv, ctx: check_credit_note(inv)),
        (Reason.BUYER, lambda r, inv, ctx: r._check_buyer(inv)),
        (Reason.SUPPLIER, lambda r, inv, ctx: check_cvr_known(inv, r._supplier_names)),
        (Reason.SUPPLIER_NAME, lambda r, inv, ctx: check_supplier_name(inv, r._supplier_names)),
        (Reason.DUPLICATE, lambda r, inv, ctx: check_duplicate(ctx, r.duplicate_keys(inv))),
        (Reason.PERSONAL_DATA, lambda r, inv, ctx: check_no_cpr_in_text(inv)),
        (Reason.AMOUNT, lambda r, inv, ctx: check_amount_limit(inv, r.config.max_amount)),
        (Reason.ARITHMETIC, lambda r, inv, ctx: check_arithmetic(inv, r.config.vat_percent)),
        (Reason.DUE_BEFORE_ISSUE, lambda r, inv, ctx: check_due_not_before_issue(inv)),
        (Reason.DUE_DATE, lambda r, inv, ctx: r._check_due_date(inv)),
        (Reason.PAYMENT_MEANS, lambda r, inv, ctx: check_payment_means(inv)),
        (Reason.PAYEE_ACCOUNT, lambda r, inv, ctx: r._check_payee(inv)),
        (Reason.ACCOUNT_STRING, lambda r, inv, ctx: r._check_account_string(inv, ctx)),
    )

    def __init__(self, config: SmallInvoicesConfig, rule_version: str) -> None:
        super().__init__(config, rule_version)
        self._suppliers = {s.cvr: s for s in config.suppliers}
        self._supplier_names = {s.cvr: s.name for s in config.suppliers}

    def payment(self, invoice: Invoice, ctx: DecisionContext) -> Payment:
        account = self.account_string_for(invoice)
        assert account is not None  # the account string check passed
        return Payment(
            account_string=account,
            posting_text=posting_text_small(invoice.supplier_name, invoice.invoice_number),
            compared={"max_amount": plain(self.config.max_amount), "cvr": invoice.supplier_cvr},
        )

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

    def _check_buyer(self, invoice: Invoice) -> Verdict | Passed:
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
        return Passed("buyer", compared)

    def _check_due_date(self, invoice: Invoice) -> Verdict | Passed:
        limit = self.config.max_payment_terms_days
        if invoice.due_date is None:
            return Verdict(
                Reason.DUE_DATE,
                "due_date.missing",
                "Fakturaen har ingen forfaldsdato.",
                {"due_date": ""},
            )
        days = (invoice.due_date - invoice.issue_date).days
        compared = {
            "issue_date": invoice.issue_date.isoformat(),
            "due_date": invoice.due_date.isoformat(),
            "days": str(days),
            "max_days": str(limit),
        }
        if days > limit:
            return Verdict(
                Reason.DUE_DATE,
                "due_date.terms",
                f"Forfaldsdatoen {date_text(invoice.due_date)} er {days} dage efter "
                f"fakturadatoen {date_text(invoice.issue_date)}; en offentlig myndighed må "
                f"højst have {limit} dages betalingsfrist.",
                compared,
            )
        return Passed("due_date", compared)

    def _check_payee(self, invoice: Invoice) -> Verdict | Passed:
        supplier = self._suppliers.get(invoice.supplier_cvr)
        name = supplier.name if supplier is not None else invoice.supplier_cvr
        return check_payee_known(invoice, supplier, name)

    def _check_account_string(self, invoice: Invoice, ctx: DecisionContext) -> Verdict | Passed:
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
