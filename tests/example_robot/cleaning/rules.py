"""The example fourth robot's rules: pay the cleaning contractor up to a limit.

One table of (reason, check) rows on paybot.domain.rules.table.TableRules, built from the
shared checks in paybot.domain.rules.common, as docs/adding-a-robot.md shows.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from paybot.domain.models import Category, Invoice
from paybot.domain.reasons import Reason
from paybot.domain.rules.common import (
    check_account_active,
    check_amount_limit,
    check_credit_note,
    check_currency,
    check_cvr_known,
    check_duplicate,
    check_payment_means,
    posting_text_small,
)
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.table import Payment, TableRules


class CleaningConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    source: str
    contractor_cvr: str
    account_string: str
    max_amount: Decimal


class CleaningRules(TableRules):
    kind = "cleaning.rules:CleaningRules"
    category = Category.OTHER
    config_model = CleaningConfig
    config: CleaningConfig
    checks = (
        (Reason.FORMAT, lambda r, inv, ctx: check_currency(inv)),
        (Reason.CREDIT_NOTE, lambda r, inv, ctx: check_credit_note(inv)),
        (
            Reason.SUPPLIER,
            lambda r, inv, ctx: check_cvr_known(
                inv, {r.config.contractor_cvr: "rengøringsfirmaet"}
            ),
        ),
        (Reason.DUPLICATE, lambda r, inv, ctx: check_duplicate(ctx, r.duplicate_keys(inv))),
        (Reason.AMOUNT, lambda r, inv, ctx: check_amount_limit(inv, r.config.max_amount)),
        (Reason.PAYMENT_MEANS, lambda r, inv, ctx: check_payment_means(inv)),
        (
            Reason.ACCOUNT_STRING,
            lambda r, inv, ctx: check_account_active(
                r.config.account_string, ctx, "Rengøringskontoen findes ikke i kontoplanen."
            ),
        ),
    )

    def payment(self, invoice: Invoice, ctx: DecisionContext) -> Payment:
        return Payment(
            account_string=self.config.account_string,
            posting_text=posting_text_small(invoice.supplier_name, invoice.invoice_number),
            compared={"max_amount": str(self.config.max_amount)},
        )
