"""A robot's rules as one table: ``(reason, check)`` rows run in order (docs/rules.md).

A subclass of :class:`TableRules` names its ``kind`` and ``category``, its ``config_model``,
the table ``checks`` and :meth:`TableRules.payment`; ``check_order`` and ``reason_codes`` are
derived from the table, and :meth:`TableRules.decide` runs the rows up to and including the
first failure, recording every check made in the decision::

    class CleaningRules(TableRules):
        kind = "cleaning.rules:CleaningRules"
        category = Category.OTHER
        config_model = CleaningConfig
        config: CleaningConfig
        checks = (
            (Reason.FORMAT, lambda r, inv, ctx: check_currency(inv)),
            (Reason.AMOUNT, lambda r, inv, ctx: check_amount_limit(inv, r.config.max_amount)),
            ...
        )

A check gets the rules object, the invoice and the :class:`DecisionContext` and returns a
:class:`~paybot.domain.rules.common.Passed`, a :class:`~paybot.domain.rules.common.Verdict`
with the row's reason, or ``None`` (passed, nothing compared). Several rows may share a reason
(the currency and a required section are both ``MANUAL_FORMAT``); ``check_order`` lists each
reason once, at its first row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from pydantic import BaseModel

from paybot.domain.models import (
    Category,
    CheckMade,
    Decision,
    Invoice,
    Manual,
    RegisterEntry,
)
from paybot.domain.parsing import InvoiceFormatError
from paybot.domain.reasons import Reason
from paybot.domain.rules import keys
from paybot.domain.rules.common import (
    CheckResult,
    Verdict,
    check_made,
    format_manual,
    manual,
    pay,
)
from paybot.domain.rules.context import DecisionContext


@dataclass(frozen=True)
class Payment:
    """What a robot pays an invoice that passed every check with: the account string, the
    posting text (at most 50 characters, no personal data) and the values the decision
    records besides the payable amount, account string and dates."""

    account_string: str
    posting_text: str
    compared: Mapping[str, str] = field(default_factory=dict)


class TableRules:
    """The base of a robot's rules: satisfies :class:`~paybot.domain.rules.RobotRules` once a
    subclass sets the class attributes below and :meth:`payment`.

    Duplicate keys default to CVR + invoice number; override :meth:`duplicate_keys` and
    :meth:`register_keys` for more. Pure: no browser, no clock, no files."""

    kind: ClassVar[str]
    category: ClassVar[Category]
    needs_requisitions: ClassVar[bool] = False
    needs_bookings: ClassVar[bool] = False
    config_model: ClassVar[type[BaseModel]]
    """The pydantic model of the rules file (``extra="forbid"``)."""
    checks: ClassVar[
        tuple[tuple[Reason, Callable[[Self, Invoice, DecisionContext], CheckResult]], ...]
    ]
    """The table: ``(reason, check)`` rows in the order of docs/rules.md."""
    check_order: ClassVar[tuple[Reason, ...]] = ()
    """Derived from :attr:`checks`: each reason once, in order."""
    reason_codes: ClassVar[frozenset[str]] = frozenset()
    """Derived from :attr:`checks`: every reason code the rules can give."""

    config: Any
    rule_version: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("checks")
        if table is not None:
            cls.check_order = tuple(dict.fromkeys(reason for reason, _ in table))
            cls.reason_codes = frozenset(reason.value for reason in cls.check_order)

    def __init__(self, config: Any, rule_version: str) -> None:
        self.config = config
        self.rule_version = rule_version

    @classmethod
    def from_config(cls, data: Mapping[str, Any], rule_version: str) -> Self:
        """The rules from the rules file's content; pydantic ``ValidationError`` (or the
        model's ``ConfigIssue``) when it is wrong."""
        return cls(cls.config_model.model_validate(data), rule_version)

    # --- the decision ---------------------------------------------------------------------

    def decide(self: Self, invoice: Invoice, ctx: DecisionContext) -> Decision:
        """Run the table in order: manual handling with the first failing check's reason,
        else :meth:`payment`. Either records every check made (``explanation.checks``)."""
        made: list[CheckMade] = []
        for reason, check in self.checks:
            result = check(self, invoice, ctx)
            made.append(check_made(self.kind, reason, result))
            if isinstance(result, Verdict):
                return manual(self.kind, self.rule_version, result, made)
        paid = self.payment(invoice, ctx)
        return pay(
            self.kind,
            self.rule_version,
            invoice,
            ctx,
            account_string=paid.account_string,
            posting_text=paid.posting_text,
            compared=paid.compared,
            checks=made,
        )

    def payment(self, invoice: Invoice, ctx: DecisionContext) -> Payment:
        """How an invoice that passed every check is paid."""
        raise NotImplementedError(f"{type(self).__name__} does not say how it pays")

    def decide_unreadable(self, error: InvoiceFormatError) -> Manual:
        """Manual handling (``MANUAL_FORMAT``) for an invoice that could not be read."""
        return format_manual(self.kind, self.rule_version, error)

    # --- duplicates -----------------------------------------------------------------------

    def duplicate_keys(self, invoice: Invoice) -> tuple[str, ...]:
        """CVR + invoice number (docs/rules.md, "Duplicates")."""
        return keys.present(keys.invoice_number_key(invoice.supplier_cvr, invoice.invoice_number))

    def register_keys(self, entry: RegisterEntry) -> tuple[str, ...]:
        """The subset of :meth:`duplicate_keys` an inbox row gives."""
        return keys.present(keys.invoice_number_key(entry.supplier_cvr, entry.invoice_number))


__all__ = ["Payment", "TableRules"]
