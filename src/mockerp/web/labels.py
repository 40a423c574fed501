"""Danish names of the stored codes, as the screens show them."""

from __future__ import annotations

CATEGORIES = {"laegeerklaering": "Lægeerklæring", "tolk": "Tolk", "oevrige": "Øvrige"}
STATUSES = {"ny": "Ny", "betalt": "Betalt", "manuel": "Manuel behandling"}
DOC_TYPES = {"invoice": "Faktura", "credit_note": "Kreditnota"}
PAYMENT_MEANS = {
    "42": "Bankoverførsel",
    "93": "FIK",
    "50": "Giro",
    "97": "NemKonto",
}
INTERPRETER_CATEGORIES = {
    "translatoer": "Translatør",
    "statsproevet": "Statsprøvet tolk",
    "oevrig": "Øvrig tolk",
}
BOOKING_MODES = {"fremmoede": "Fremmøde", "video": "Video", "telefon": "Telefon"}
REQUISITION_STATUSES = {"aaben": "Åben", "lukket": "Lukket"}


def label(table: dict[str, str], code: str | None) -> str:
    """The Danish name of a code; an unknown code is shown as it is."""
    if code is None:
        return ""
    return table.get(str(code), str(code))


def payment_means(code: str | None) -> str:
    if not code:
        return ""
    return PAYMENT_MEANS.get(str(code), f"Ukendt ({code})")
