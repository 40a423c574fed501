"""The reason codes for manual handling (docs/rules.md, "Reason codes").

Stable identifiers: reports and statistics rely on them. Their Danish texts live in
``config/reasons.yaml``; the loader checks that every code here has one.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    FORMAT = "MANUAL_FORMAT"
    CREDIT_NOTE = "MANUAL_CREDIT_NOTE"
    BUYER = "MANUAL_BUYER"
    SUPPLIER = "MANUAL_SUPPLIER"
    DUPLICATE = "MANUAL_DUPLICATE"
    AMOUNT = "MANUAL_AMOUNT"
    ARITHMETIC = "MANUAL_ARITHMETIC"
    DUE_DATE = "MANUAL_DUE_DATE"
    PAYMENT_MEANS = "MANUAL_PAYMENT_MEANS"
    ACCOUNT_STRING = "MANUAL_ACCOUNT_STRING"
    FORM = "MANUAL_FORM"
    NO_REQUISITION = "MANUAL_NO_REQUISITION"
    REQUISITION_CANCELLED = "MANUAL_REQUISITION_CANCELLED"
    CERTIFICATE_DATE = "MANUAL_CERTIFICATE_DATE"
    TARIFF = "MANUAL_TARIFF"
    BOOKING = "MANUAL_BOOKING"
    LATE = "MANUAL_LATE"
    CANCELLATION = "MANUAL_CANCELLATION"
    CONTRACT = "MANUAL_CONTRACT"
    REPEATED_FAILURES = "MANUAL_REPEATED_FAILURES"
    """Not a rule's decision: the robot could not handle the invoice for ``runner.max_nights``
    runs in a row (application errors), so a person takes it."""
    TOO_MANY_LINES = "MANUAL_TOO_MANY_LINES"
    SUPPLIER_NAME = "MANUAL_SUPPLIER_NAME"
    PERSONAL_DATA = "MANUAL_PERSONAL_DATA"
    DUE_BEFORE_ISSUE = "MANUAL_DUE_BEFORE_ISSUE"
    PAYEE_ACCOUNT = "MANUAL_PAYEE_ACCOUNT"
    TARIFF_PERIOD = "MANUAL_TARIFF_PERIOD"


ALL_REASONS: frozenset[str] = frozenset(r.value for r in Reason)
