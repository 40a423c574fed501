"""The robots' payment rules: one class per robot, built from its validated rules file.

Every rules class satisfies :class:`RobotRules`; :data:`RULES_BY_KIND` maps the ``kind`` of a
robot manifest to its class, so a fourth robot adds one module and one entry here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, cast

from paybot.domain.models import Category, Decision, Invoice, Manual, RegisterEntry
from paybot.domain.parsing import InvoiceFormatError
from paybot.domain.reasons import Reason
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.interpreter import InterpreterRules
from paybot.domain.rules.medical_certificates import MedicalCertificateRules
from paybot.domain.rules.small_invoices import SmallInvoiceRules


class RobotRules(Protocol):
    """What a generic runner needs from a robot's rules."""

    kind: ClassVar[str]
    """The manifest's ``kind`` (``small_invoices``)."""
    category: ClassVar[Category]
    """The inbox category the rules are written for."""
    needs_requisitions: ClassVar[bool]
    """Fill :attr:`DecisionContext.requisitions` (the invoice's CPR number's requisitions)."""
    needs_bookings: ClassVar[bool]
    """Fill :attr:`DecisionContext.booking` (the booking with the invoice's reference)."""
    check_order: ClassVar[tuple[Reason, ...]]
    """The reason codes in the order the checks run."""
    reason_codes: ClassVar[frozenset[str]]
    """Every reason code the rules can give (all must be in ``config/reasons.yaml``)."""
    rule_version: str
    """The rules file's ``version`` + ``+`` + the first 12 hex digits of its SHA-256."""

    @classmethod
    def from_config(cls, data: Mapping[str, Any], rule_version: str) -> RobotRules:
        """Validate the rules file's content and build the rules.

        Returns: the rules, carrying ``rule_version``.
        Raises: pydantic's ``ValidationError`` or :class:`ConfigIssue` (a dotted key, the
        value, the problem) when the file is wrong; the loader turns both into a
        ``ConfigError`` naming the file.
        Repeat: safe (pure).
        """
        ...

    def decide(self, invoice: Invoice, ctx: DecisionContext) -> Decision:
        """Run the robot's table of checks in order (docs/rules.md).

        Returns: :class:`Pay` (amount in kroner, account string, payment date: a Danish bank
        day) or :class:`Manual` with the first failing check's reason code; either with every
        check made in its explanation.
        Raises: nothing: bad data is a ``Manual`` decision, never an exception.
        Repeat: safe (pure: the same invoice and context give the same decision).
        """
        ...

    def decide_unreadable(self, error: InvoiceFormatError) -> Manual:
        """The decision for an invoice that could not be read.

        Returns: manual handling with ``MANUAL_FORMAT`` and a Danish note naming the field.
        Raises: nothing.
        Repeat: safe (pure).
        """
        ...

    def duplicate_keys(self, invoice: Invoice) -> tuple[str, ...]:
        """The invoice's duplicate keys (docs/rules.md, "Duplicates"); personal data only as
        a keyed hash.

        Returns: the keys, in a fixed order (empty when none applies).
        Raises: nothing.
        Repeat: safe (pure).
        """
        ...

    def register_keys(self, entry: RegisterEntry) -> tuple[str, ...]:
        """The subset of the duplicate keys an inbox row gives.

        Returns: the same strings :meth:`duplicate_keys` gives for the invoice.
        Raises: nothing.
        Repeat: safe (pure).
        """
        ...


RULES_BY_KIND: Mapping[str, type[RobotRules]] = {
    SmallInvoiceRules.kind: SmallInvoiceRules,
    MedicalCertificateRules.kind: MedicalCertificateRules,
    InterpreterRules.kind: InterpreterRules,
}


def rules_class(kind: str) -> type[RobotRules]:
    """The rules class of a manifest's ``kind``: one of :data:`RULES_BY_KIND`, or an import
    path ``package.module:ClassName`` for a robot whose rules live in another package.
    Raises ``ValueError`` naming what is wrong."""
    if kind in RULES_BY_KIND:
        return RULES_BY_KIND[kind]
    if ":" not in kind:
        known = ", ".join(sorted(RULES_BY_KIND))
        raise ValueError(f"unknown kind; known: {known}, or an import path module:Class")
    module_name, _, attr = kind.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import {kind}: {exc}") from None
    missing = [
        name
        for name in ("category", "from_config", "decide", "decide_unreadable", "duplicate_keys")
        if not hasattr(found, name)
    ]
    if not isinstance(found, type) or missing:
        raise ValueError(
            f"{kind} is not a rules class (missing: {', '.join(missing) or 'a class'})"
        )
    return cast("type[RobotRules]", found)


__all__ = [
    "RULES_BY_KIND",
    "DecisionContext",
    "InterpreterRules",
    "MedicalCertificateRules",
    "RobotRules",
    "SmallInvoiceRules",
    "rules_class",
]
