"""The example fourth robot's rules: pay the cleaning contractor up to a limit.

Built from the shared checks in paybot.domain.rules.common, as docs/adding-a-robot.md shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from paybot.domain.models import Category, Decision, Invoice, Manual, RegisterEntry
from paybot.domain.parsing import InvoiceFormatError
from paybot.domain.reasons import Reason
from paybot.domain.rules import keys
from paybot.domain.rules.common import (
    Check,
    check_account_active,
    check_amount_limit,
    check_credit_note,
    check_currency,
    check_cvr_known,
    check_duplicate,
    check_payment_means,
    first_verdict,
    format_manual,
    manual,
    pay,
    posting_text_small,
)
from paybot.domain.rules.context import DecisionContext


class CleaningConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    source: str
    contractor_cvr: str
    account_string: str
    max_amount: Decimal


class CleaningRules:
    kind: ClassVar[str] = "cleaning.rules:CleaningRules"
    category: ClassVar[Category] = Category.OTHER
    needs_requisitions: ClassVar[bool] = False
    needs_bookings: ClassVar[bool] = False
    check_order: ClassVar[tuple[Reason, ...]] = (
        Reason.FORMAT,
        Reason.CREDIT_NOTE,
        Reason.SUPPLIER,
        Reason.DUPLICATE,
        Reason.AMOUNT,
        Reason.PAYMENT_MEANS,
        Reason.ACCOUNT_STRING,
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset(r.value for r in check_order)

    def __init__(self, config: CleaningConfig, rule_version: str) -> None:
        self.config = config
        self.rule_version = rule_version
        contractor = {config.contractor_cvr: "rengøringsfirmaet"}
        self._checks: tuple[Check, ...] = (
            lambda inv, ctx: check_currency(inv),
            lambda inv, ctx: check_credit_note(inv),
            lambda inv, ctx: check_cvr_known(inv, contractor),
            lambda inv, ctx: check_duplicate(ctx),
            lambda inv, ctx: check_amount_limit(inv, config.max_amount),
            lambda inv, ctx: check_payment_means(inv),
            lambda inv, ctx: check_account_active(
                config.account_string, ctx, "Rengøringskontoen findes ikke i kontoplanen."
            ),
        )

    @classmethod
    def from_config(cls, data: Mapping[str, Any], rule_version: str) -> Self:
        return cls(CleaningConfig.model_validate(data), rule_version)

    def decide(self, invoice: Invoice, ctx: DecisionContext) -> Decision:
        verdict = first_verdict(self._checks, invoice, ctx)
        if verdict is not None:
            return manual(self.kind, self.rule_version, verdict)
        return pay(
            self.kind,
            self.rule_version,
            invoice,
            ctx,
            account_string=self.config.account_string,
            posting_text=posting_text_small(invoice.supplier_name, invoice.invoice_number),
            compared={"max_amount": str(self.config.max_amount)},
        )

    def decide_unreadable(self, error: InvoiceFormatError) -> Manual:
        return format_manual(self.kind, self.rule_version, error)

    def duplicate_keys(self, invoice: Invoice) -> tuple[str, ...]:
        return keys.present(keys.invoice_number_key(invoice.supplier_cvr, invoice.invoice_number))

    def register_keys(self, entry: RegisterEntry) -> tuple[str, ...]:
        return keys.present(keys.invoice_number_key(entry.supplier_cvr, entry.invoice_number))
