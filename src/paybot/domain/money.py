"""Money as ``Decimal``: rounding to øre and the Danish way of writing amounts.

Never float. Amounts are rounded half up to øre (0.01 kr), as Danish invoices are.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ORE = Decimal("0.01")
ZERO = Decimal("0.00")
TOLERANCE = Decimal("0.01")
"""The rounding tolerance of one øre used where docs/rules.md says ± 0.01."""


def round_ore(amount: Decimal) -> Decimal:
    """Round half up to øre: 92.675 → 92.68, -12.505 → -12.51."""
    return amount.quantize(ORE, rounding=ROUND_HALF_UP)


def within(a: Decimal, b: Decimal, tolerance: Decimal = TOLERANCE) -> bool:
    """``|a - b| <= tolerance``."""
    return abs(a - b) <= tolerance


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    """``percent`` % of ``amount``, rounded to øre."""
    return round_ore(amount * percent / Decimal(100))


def format_number(value: Decimal, decimals: int = 2) -> str:
    """Danish notation: ``1.019,48``; thousands ``.``, decimals ``,``; half up."""
    quantum = Decimal(1).scaleb(-decimals)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    text = f"{abs(rounded):,.{decimals}f}"  # 1,019.48 (Decimal formatting, no float)
    return sign + text.replace(",", "_").replace(".", ",").replace("_", ".")


def format_dkk(amount: Decimal) -> str:
    """``1.019,48``: an amount as the finance system shows it."""
    return format_number(amount, 2)


def format_kr(amount: Decimal) -> str:
    """``1.019,48 kr.``: an amount in a Danish sentence."""
    return f"{format_dkk(amount)} kr."


def format_quantity(value: Decimal) -> str:
    """A quantity in Danish notation without trailing zeros: ``2``, ``1,5``, ``0,75``."""
    normal = value.normalize()
    if normal == normal.to_integral_value():
        return format_number(normal, 0)
    exponent = normal.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) else 2
    return format_number(normal, decimals)


def plain(amount: Decimal) -> str:
    """``1019.48``: an amount for keys and explanations (always two decimals)."""
    return str(round_ore(amount))
