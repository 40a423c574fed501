"""Duplicate keys (docs/rules.md, "Duplicates").

Two documents with the same key are the same invoice. The key strings are the same whether
computed from the opened invoice or from its inbox row, so the register can be filled from the
inbox. A key that would contain personal data (CPR + form) is a keyed hash instead
(:class:`KeyedHash`, HMAC-SHA-256 with the installation's pseudonym key, a secret kept outside
the data folder): without the key nobody can test candidate CPR numbers against it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
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


PSEUDONYM_KEY = "pseudonym_key"
"""The secret's name for :func:`paybot.secrets.read_secret` (``PAYBOT_PSEUDONYM_KEY``, systemd
credential ``pseudonym-key``, vault file key ``pseudonym_key``)."""

MIN_KEY_BYTES = 32
"""The shortest pseudonym key accepted: 32 bytes (64 hex digits), HMAC-SHA-256's block of
security (RFC 2104 § 3: at least the hash's output length)."""

_HEX = re.compile(r"[0-9a-fA-F]+")


class KeyedHash:
    """HMAC-SHA-256 with a secret key (RFC 2104). ``repr`` and ``str`` never show the key.

    Raises ``ValueError`` (naming the problem, never the value) when the key is shorter than
    :data:`MIN_KEY_BYTES`."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(
                f"the key has {len(key)} bytes; at least {MIN_KEY_BYTES} are needed "
                f"(e.g. {2 * MIN_KEY_BYTES} hex digits)"
            )
        self._key = bytes(key)

    @classmethod
    def from_text(cls, text: str) -> KeyedHash:
        """The key written as hex digits (``secrets.token_hex(32)``) or as base64
        (``secrets.token_urlsafe(32)``, standard or URL-safe alphabet, padding optional).
        Raises ``ValueError`` naming the problem, never the value."""
        text = text.strip()
        if _HEX.fullmatch(text) and len(text) % 2 == 0:
            return cls(bytes.fromhex(text))
        padded = text + "=" * (-len(text) % 4)
        try:
            key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                "the key is neither hex digits nor base64; create one with: "
                "python -c 'import secrets;print(secrets.token_hex(32))'"
            ) from None
        return cls(key)

    def hexdigest(self, message: bytes) -> str:
        """HMAC-SHA-256 of ``message``: 64 hex digits."""
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "KeyedHash(key='[hidden]')"

    __str__ = __repr__


CERTIFICATE_KEY_PREFIX = "cvr+cpr+blanket:hmac-sha256:"
LEGACY_CERTIFICATE_KEY_PREFIX = "cvr+cpr+blanket:sha256:"
"""Keys of paybot before 2026-11 (unsalted SHA-256: reversible with the masked birth date in
about 10,000 tries); :func:`upgrade_certificate_key` replaces them."""


def _certificate_digest(cvr: str, cpr: str, form: str) -> bytes:
    digits = "".join(ch for ch in cpr if ch.isdigit())
    material = f"{_clean(cvr)}|{digits}|{_clean(form)}".encode()
    return hashlib.sha256(material).digest()


def certificate_key(cvr: str, cpr: str, form: str, keyed: KeyedHash) -> str:
    """CVR + CPR + form (certificates) as a keyed hash: the key holds no CPR number and
    cannot be tested against guesses without the pseudonym key.

    ``cvr+cpr+blanket:hmac-sha256:`` + HMAC-SHA-256(key, SHA-256(``cvr|cpr digits|form``)):
    the inner SHA-256 is the digest the old unsalted keys stored, so they can be converted
    in place (:func:`upgrade_certificate_key`) without the CPR number."""
    return CERTIFICATE_KEY_PREFIX + keyed.hexdigest(_certificate_digest(cvr, cpr, form))


def upgrade_certificate_key(stored: str, keyed: KeyedHash) -> str | None:
    """The keyed form of an old unsalted key (``cvr+cpr+blanket:sha256:<64 hex>``): equal to
    :func:`certificate_key` of the same certificate, so duplicates of certificates decided
    before the upgrade are still found. ``None`` for any other key (including a malformed old
    one, which can then only be deleted). Safe to repeat."""
    if not stored.startswith(LEGACY_CERTIFICATE_KEY_PREFIX):
        return None
    digest = stored.removeprefix(LEGACY_CERTIFICATE_KEY_PREFIX)
    if len(digest) != 64 or not _HEX.fullmatch(digest):
        return None
    return CERTIFICATE_KEY_PREFIX + keyed.hexdigest(bytes.fromhex(digest))


def booking_key(booking_ref: str) -> str | None:
    """The booking reference (interpreter invoices): the same job billed twice."""
    ref = _clean(booking_ref).upper()
    return f"bestilling:{ref}" if ref else None


def present(*keys: str | None) -> tuple[str, ...]:
    return tuple(k for k in keys if k is not None)
