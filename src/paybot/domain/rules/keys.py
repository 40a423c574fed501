"""Duplicate keys (docs/rules.md, "Duplicates").

Two documents with the same key are the same invoice. The key strings are the same whether
computed from the opened invoice or from its inbox row, so the register can be filled from the
inbox. A key that would contain personal data (CPR + form) is a SHA-256 digest instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from paybot.domain.models import business_key
from paybot.domain.money import plain


def _clean(text: str) -> str:
    return " ".join(text.split())


def invoice_number_key(cvr: str, invoice_number: str) -> str | None:
    """CVR + invoice number (all robots); ``None`` when either is empty."""
    if not cvr.strip() or not invoice_number.strip():
        return None
    return f"cvr+nr:{business_key(_clean(cvr), _clean(invoice_number))}"


def amount_date_key(cvr: str, amount: Decimal | None, issue_date: dt.date | None) -> str | None:
    """CVR + payable amount + invoice date (small invoices)."""
    if not cvr.strip() or amount is None or issue_date is None:
        return None
    return f"cvr+beloeb+dato:{_clean(cvr)}:{plain(amount)}:{issue_date.isoformat()}"


def certificate_key(cvr: str, cpr: str, form: str) -> str:
    """CVR + CPR + form (certificates), hashed: the key holds no CPR number."""
    digits = "".join(ch for ch in cpr if ch.isdigit())
    material = f"{_clean(cvr)}|{digits}|{_clean(form)}".encode()
    return f"cvr+cpr+blanket:sha256:{hashlib.sha256(material).hexdigest()}"


def booking_key(booking_ref: str) -> str | None:
    """The booking reference (interpreter invoices): the same job billed twice."""
    ref = _clean(booking_ref).upper()
    return f"bestilling:{ref}" if ref else None


def present(*keys: str | None) -> tuple[str, ...]:
    return tuple(k for k in keys if k is not None)
