"""Masking personal data before anything is written (Databeskyttelsesloven § 11).

Kept: invoice ids, CVR, GLN, amounts, state changes. Masked:

- by key, at any depth (``cpr``, ``invoice_cpr``, ``felt-cpr`` …):

  - ``cpr`` → ``DDMMYY-****`` (``070761-****``; ``***`` when the value is not CPR-shaped),
  - ``citizen_name`` → ``***``,
  - ``bank_account``, ``kontonr``, ``bank_reg``, ``regnr`` → every digit but the last two
    replaced by ``*`` (``********78``),
  - ``password``, ``adgangskode``, ``secret``, ``token``, ``csrf_token`` → ``[secret]``;

- by field: a dict with ``field`` and ``value`` (``{"event": "field_read", "field": "cpr",
  "value": …}``, also a decision's ``compared``) has ``value`` masked as the key ``field`` would be;
- everywhere: any CPR-shaped substring of any string (six digits, an optional ``-`` or space, four
  digits, not part of a longer run of digits, the first six a real date DDMMYY) →
  ``DDMMYY-****``. This catches CPR numbers in error messages,
  notes and URLs; a ten-digit number that only looks like one is masked too (safe side).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from paybot.audit.plain import JSONValue, to_plain

# ``\b\d{6}-?\d{4}\b``, but bounded by non-digits rather than word boundaries, so that a CPR
# number glued to letters (``cpr0707611234``, ``id_0707611234``) is masked too.
CPR_SHAPE = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})[- ]?(\d{4})(?!\d)")
_WHOLE_CPR = re.compile(r"\s*(\d{6})-?(\d{4}|\*{4})\s*")  # masked already: idempotent

SECRET = "[secret]"  # noqa: S105 - the mask that replaces a secret
HIDDEN = "***"

CPR_KEYS: frozenset[str] = frozenset({"cpr"})
NAME_KEYS: frozenset[str] = frozenset({"citizen_name"})
ACCOUNT_KEYS: frozenset[str] = frozenset({"bank_account", "kontonr", "bank_reg", "regnr"})
SECRET_KEYS: frozenset[str] = frozenset(
    {"password", "adgangskode", "secret", "token", "csrf_token"}
)


def _real_ddmmyy(dd: str, mm: str, yy: str) -> bool:
    day, month, year = int(dd), int(mm), int(yy)
    for century in (1900, 2000):
        try:
            dt.date(century + year, month, day)
        except ValueError:
            continue
        return True
    return False


def _cpr_replacement(match: re.Match[str]) -> str:
    dd, mm, yy, _serial = match.groups()
    if _real_ddmmyy(dd, mm, yy):
        return f"{dd}{mm}{yy}-****"
    return match.group(0)


def mask_text(text: str) -> str:
    """``text`` with every CPR-shaped substring masked: ``0707611234`` → ``070761-****``."""
    if len(text) < 10:
        return text
    return CPR_SHAPE.sub(_cpr_replacement, text)


def mask_cpr(value: object) -> str:
    """``070761-1234``, ``0707611234`` (or ``070761-****``) → ``070761-****``; anything else
    → ``***``."""
    match = _WHOLE_CPR.fullmatch(str(value))
    return f"{match.group(1)}-****" if match else HIDDEN


def mask_account(value: object) -> str:
    """Every digit but the last two replaced by ``*``: ``0012345678`` → ``********78``."""
    text = str(value)
    digits = sum(ch.isdigit() for ch in text)
    keep = 2
    out: list[str] = []
    seen = 0
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - keep else "*")
        elif ch.isspace() or ch in "-./":
            out.append(ch)
        else:
            out.append("*")
    return "".join(out)


def _normalise_key(key: str) -> str:
    name = key.strip().lower().replace("-", "_").replace(" ", "_")
    return name.removeprefix("felt_")


def _matches(name: str, keys: frozenset[str]) -> bool:
    if name in keys:
        return True
    return any(name.endswith("_" + k) or name.startswith(k + "_") for k in keys)


Masker = Callable[[object], str]


def _secret(_value: object) -> str:
    return SECRET


def _hidden(_value: object) -> str:
    return HIDDEN


@functools.lru_cache(maxsize=4096)
def masker_for(key: str) -> Masker | None:
    """How a value stored under ``key`` (or read from the field ``key``) is masked, or
    ``None`` when the key is not personal."""
    name = _normalise_key(key)
    if _matches(name, SECRET_KEYS):
        return _secret
    if _matches(name, CPR_KEYS):
        return mask_cpr
    if _matches(name, NAME_KEYS):
        return _hidden
    if _matches(name, ACCOUNT_KEYS):
        return mask_account
    return None


def _apply(masker: Masker, value: JSONValue) -> JSONValue:
    """``masker`` applied to every leaf of ``value`` (lists and dicts under a personal key)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return {k: _apply(masker, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_apply(masker, v) for v in value]
    if value == "":
        return value
    return masker(value)


def mask_data(value: object) -> JSONValue:
    """``value`` as plain JSON data with all personal data masked (see the module doc)."""
    return _mask(to_plain(value))


def _mask(value: JSONValue) -> JSONValue:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, dict):
        return _mask_dict(value)
    return value


def _mask_dict(data: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
    field = data.get("field")
    field_masker = masker_for(field) if isinstance(field, str) and "value" in data else None
    out: dict[str, JSONValue] = {}
    for key, value in data.items():
        masker = masker_for(key)
        if masker is None and key == "value" and field_masker is not None:
            masker = field_masker
        safe_key = mask_text(key)
        out[safe_key] = _apply(masker, value) if masker is not None else _mask(value)
    return out


class MaskPersonalData:
    """structlog processor: the event dict as plain JSON data with personal data masked.

    Put it before anything that writes or forwards the event."""

    def __call__(
        self, logger: object, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        return _mask_dict({str(k): to_plain(v) for k, v in event_dict.items()})
