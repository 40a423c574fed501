"""Comparing a supplier's name on an invoice with the name on the robot's supplier list.

Never a fuzzy match (DESIGN.md: "fuzzy name matching to decide a payment" is a known mistake):
two names are the same when they are equal after

1. Unicode NFKC and case folding (``KONTORLAND`` = ``Kontorland``),
2. writing a Danish legal form the short way (``Aktieselskab`` → ``A/S``, ``Anpartsselskab`` →
   ``ApS``, ``Interessentskab`` → ``I/S``, and the others in :data:`LEGAL_FORMS`;
   Erhvervsstyrelsen's company forms, selskabsloven and lov om visse erhvervsdrivende
   virksomheder, 2024),
3. dropping spaces and punctuation (``A/S`` = ``AS`` = ``A.S.``).

Anything else (a missing legal form, another word, a typo) is a different name.
"""

from __future__ import annotations

import re
import unicodedata

LEGAL_FORMS: dict[str, str] = {
    "aktieselskab": "as",
    "aktieselskabet": "as",
    "anpartsselskab": "aps",
    "anpartsselskabet": "aps",
    "interessentskab": "is",
    "interessentskabet": "is",
    "kommanditselskab": "ks",
    "kommanditselskabet": "ks",
    "partnerselskab": "ps",
    "partnerselskabet": "ps",
    "iværksætterselskab": "ivs",
    "iværksætterselskabet": "ivs",
    "andelsselskab med begrænset ansvar": "amba",
    "forening med begrænset ansvar": "fmba",
    "selskab med begrænset ansvar": "smba",
}
"""Long legal forms (case-folded) and their short forms without punctuation."""

_LONG_FORM = re.compile(
    r"(?<!\w)(" + "|".join(sorted(map(re.escape, LEGAL_FORMS), key=len, reverse=True)) + r")(?!\w)"
)
_NOT_WORD = re.compile(r"[\W_]+")


def normalise_company_name(name: str) -> str:
    """The comparable form of a company name (see the module docstring)."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = " ".join(text.split())
    text = _LONG_FORM.sub(lambda m: LEGAL_FORMS[m.group(1)], text)
    return _NOT_WORD.sub("", text)


def same_company_name(on_invoice: str, on_list: str) -> bool:
    """Whether two names are the same company name (not a fuzzy match: see above)."""
    a, b = normalise_company_name(on_invoice), normalise_company_name(on_list)
    return bool(a) and a == b
