"""Check digits and generated identifiers for the seed (DOMAIN.md, "Check digits").

The seed's own small implementations: mockerp never imports paybot. CPR numbers are generated
(a real date, a random serial); they are never real people's numbers by intent, and are not
made modulus-11 valid (numbers without a valid modulus-11 digit have been issued since 2007).
"""

from __future__ import annotations

import datetime as dt
import random

_CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)


def cvr_valid(cvr: str) -> bool:
    """Modulus 11 over the 8 digits (weights 2,7,6,5,4,3,2,1)."""
    if len(cvr) != 8 or not cvr.isdigit():
        return False
    return sum(int(d) * w for d, w in zip(cvr, _CVR_WEIGHTS, strict=True)) % 11 == 0


def gln_check_digit(body: str) -> str:
    """GS1 check digit of the first 12 digits: weights 3,1,3,... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gln_valid(gln: str) -> bool:
    return len(gln) == 13 and gln.isdigit() and gln_check_digit(gln[:12]) == gln[12]


def luhn_check_digit(body: str) -> str:
    """Modulus 10 (Luhn) over the body from the right, weights 2,1,2,..."""
    total = 0
    for i, d in enumerate(reversed(body)):
        product = int(d) * (2 if i % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return len(number) > 1 and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def fik_payment_id(rng: random.Random, card_type: str) -> str:
    """A valid FIK payment id: 15 digits for +71, 16 for +75 (last digit Luhn)."""
    length = {"71": 15, "75": 16}[card_type]
    body = f"{rng.randrange(10 ** (length - 1)):0{length - 1}d}"
    return body + luhn_check_digit(body)


def break_check_digit(number: str) -> str:
    """The same number with a wrong last (check) digit."""
    return number[:-1] + str((int(number[-1]) + 5) % 10)


def generated_cpr(rng: random.Random, born_from: int = 1945, born_to: int = 2005) -> str:
    """``DDMMYY-SSSS`` with a real birth date; the serial's first digit fits the century."""
    first = dt.date(born_from, 1, 1).toordinal()
    last = dt.date(born_to, 12, 31).toordinal()
    born = dt.date.fromordinal(rng.randint(first, last))
    if born.year >= 2000:
        century_digit = rng.choice((4, 9)) if born.year <= 2036 else 5
    else:
        century_digit = rng.choice((0, 1, 2, 3))
    serial = f"{century_digit}{rng.randrange(1000):03d}"
    return f"{born:%d%m%y}-{serial}"


def cpr_birth_date(cpr: str) -> dt.date:
    """The birth date of a ``DDMMYY-SSSS`` number (raises ValueError when it is not a date)."""
    day, month, year2 = int(cpr[0:2]), int(cpr[2:4]), int(cpr[4:6])
    digit = int(cpr[7])
    if digit in (0, 1, 2, 3):
        century = 1900
    elif digit in (4, 9):
        century = 2000 if year2 <= 36 else 1900
    else:
        century = 2000 if year2 <= 57 else 1800
    return dt.date(century + year2, month, day)
