"""The schema of ``config/rules/small_invoices.yaml``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, model_validator

from paybot.domain.rules.config_types import (
    DEFAULT_MAX_LINES,
    AccountString,
    Amount,
    ConfigModel,
    Cvr,
    Gln,
    KnownPayee,
    MaxLines,
    Percent,
    Text,
    Version,
    check_unique,
)


class SmallSupplier(KnownPayee):
    cvr: Cvr
    name: Text
    account_string: AccountString | None = None
    """Where this supplier's invoices are posted; empty: the order reference decides."""


class SmallInvoicesConfig(ConfigModel):
    version: Version
    source: Text
    max_amount: Amount = Decimal("3000.00")
    max_lines: MaxLines = DEFAULT_MAX_LINES
    vat_percent: Percent = Decimal(25)
    max_payment_terms_days: Annotated[int, Field(ge=0, le=365)] = 30
    buyer_glns: Annotated[list[Gln], Field(min_length=1)]
    suppliers: list[SmallSupplier]
    order_references: dict[str, AccountString] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        check_unique("suppliers", "cvr", [s.cvr for s in self.suppliers])
        check_unique("buyer_glns", "", list(self.buyer_glns))
        return self
