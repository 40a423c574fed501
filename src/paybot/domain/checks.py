"""Check digits and shapes of Danish numbers (DOMAIN.md, "Check digits").

Pure functions: text in, ``bool`` out. They never raise on bad input; a value that is not even
the right shape is simply invalid.
"""

from __future__ import annotations

import datetime as dt
import re

_CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)
_CPR_RE = re.compile(r"^(\d{2})(\d{2})(\d{2})-(\d)(\d{3})$")


def _digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def cvr_valid(cvr: str) -> bool:
    """8 digits whose weighted sum (2,7,6,5,4,3,2,1) is divisible by 11."""
    if not _digits(cvr, 8):
        return False
    return sum(int(d) * w for d, w in zip(cvr, _CVR_WEIGHTS, strict=True)) % 11 == 0


def gs1_check_digit(body: str) -> int:
    """The GS1 check digit of ``body``: weights 3,1,3,... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gln_valid(gln: str) -> bool:
    """13 digits (EAN-13 / GLN) with a valid GS1 check digit."""
    if not _digits(gln, 13):
        return False
    return gs1_check_digit(gln[:12]) == int(gln[12])


def luhn_check_digit(body: str) -> int:
    """The modulus-10 (Luhn) check digit of ``body``: weights 2,1,2,... from the right, a
    product over 9 has 9 subtracted."""
    total = 0
    for i, d in enumerate(reversed(body)):
        product = int(d) * (2 if i % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    if len(number) < 2 or not (number.isascii() and number.isdigit()):
        return False
    return luhn_check_digit(number[:-1]) == int(number[-1])


FIK_ID_LENGTHS = {"71": 15, "75": 16}


def fik_id_valid(card_type: str, payment_id: str | None) -> bool:
    """A FIK payment id for its card type: +71 15 digits and +75 16 digits, both with a Luhn
    check digit; +73 carries no payment id. Other card types are invalid."""
    pid = (payment_id or "").strip()
    if card_type == "73":
        return pid == ""
    length = FIK_ID_LENGTHS.get(card_type)
    if length is None:
        return False
    return _digits(pid, length) and luhn_valid(pid)


def fik_creditor_valid(creditor: str) -> bool:
    """A FIK creditor number: 8 digits starting with 8."""
    return _digits(creditor, 8) and creditor.startswith("8")


def bank_account_valid(reg: str, account: str) -> bool:
    """A Danish bank account: registration number 4 digits, account number 1-10 digits."""
    return _digits(reg, 4) and 1 <= len(account) <= 10 and account.isascii() and account.isdigit()


def giro_account_valid(account: str) -> bool:
    """A giro account number: 1-10 digits."""
    return 1 <= len(account) <= 10 and account.isascii() and account.isdigit()


def cpr_birth_date(cpr: str) -> dt.date | None:
    """The birth date of a ``DDMMYY-SSSS`` number, or ``None`` when there is no such date.

    The century follows the CPR office's table: the first digit of the sequence number with the
    year decides between 1800, 1900 and 2000.
    """
    m = _CPR_RE.match(cpr)
    if m is None:
        return None
    day, month, yy, century_digit = int(m[1]), int(m[2]), int(m[3]), int(m[4])
    if century_digit <= 3:
        century = 1900
    elif century_digit in (4, 9):
        century = 2000 if yy <= 36 else 1900
    else:
        century = 2000 if yy <= 57 else 1800
    try:
        return dt.date(century + yy, month, day)
    except ValueError:
        return None


def cpr_shape_valid(cpr: str) -> bool:
    """``DDMMYY-SSSS`` with a real date. No modulus-11 test: since 1 October 2007 numbers
    without a valid modulus-11 digit are issued and valid (cpr.dk)."""
    return cpr_birth_date(cpr) is not None


_CPR_IN_TEXT = re.compile(r"(?<![\d-])(\d{6})(?:-| |)(\d{4})(?![\d-])")


def cpr_numbers_in(text: str) -> list[str]:
    """Every CPR-shaped number in free text, as ``DDMMYY-SSSS``: ``DDMMYY-SSSS``,
    ``DDMMYY SSSS`` or ten digits in a row (not part of a longer number) whose first six are
    a real date (:func:`cpr_shape_valid`; no modulus-11 test). An order number such as
    ``4500012345`` is not one (there is no 45th day)."""
    found: list[str] = []
    for m in _CPR_IN_TEXT.finditer(text):
        cpr = f"{m[1]}-{m[2]}"
        if cpr_shape_valid(cpr) and cpr not in found:
            found.append(cpr)
    return found


def mask_cpr(cpr: str) -> str:
    """``DDMMYY-****``: the birth date stays, the sequence number does not."""
    return f"{cpr[:6]}-****"


def mask_digits(value: str, keep: int = 2) -> str:
    """Every digit but the last ``keep`` replaced by ``*`` (``0012345678`` → ``********78``),
    as the audit trail masks bank accounts."""
    digits = sum(ch.isdigit() for ch in value)
    out: list[str] = []
    seen = 0
    for ch in value:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def normalise_cpr(value: str) -> str | None:
    """``DDMMYY-SSSS`` from ``DDMMYY-SSSS`` or ``DDMMYYSSSS`` (spaces ignored); ``None`` when
    the value has another shape. The date is not checked here."""
    text = "".join(value.split())
    if re.fullmatch(r"\d{6}-\d{4}", text):
        return text
    if re.fullmatch(r"\d{10}", text):
        return f"{text[:6]}-{text[6:]}"
    return None
