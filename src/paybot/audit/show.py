"""Finding and printing one invoice's records (``robot audit show``).

An invoice is named by its Løbenr (``erp_id``, e.g. ``17``), its business key
(``CVR:invoice number``, e.g. ``20433213:F-00001``) or its invoice number (``F-00001``).
Unreadable lines are passed over here; ``robot audit verify`` reports them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from paybot.audit.chain import AuditTrailError
from paybot.audit.masking import mask_data

# Fields shown in the columns of a line rather than among its particulars.
_COLUMNS = frozenset(
    {
        "ts",
        "seq",
        "prev",
        "hash",
        "durable",
        "event",
        "run_id",
        "robot",
        "worker",
        "erp_id",
        "business_key",
    }
)
_MAX_VALUE = 160


def iter_records(path: Path, *, containing: str | None = None) -> Iterator[dict[str, Any]]:
    """The file's records; with ``containing``, only lines whose text holds it (a cheap filter
    before parsing: a trail grows by some 1.6 million records a year)."""
    needle = json.dumps(containing, ensure_ascii=False)[1:-1].encode() if containing else None
    try:
        with open(path, "rb") as file:
            for raw in file:
                if needle is not None and needle not in raw:
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield record
    except OSError as exc:
        raise AuditTrailError(f"audit trail {path}: cannot read ({exc})") from exc


def matches(record: Mapping[str, Any], invoice: str) -> bool:
    """True when ``record`` belongs to the invoice named ``invoice``."""
    wanted = invoice.strip()
    if not wanted:
        return False
    key = record.get("business_key")
    if isinstance(key, str) and key == wanted:
        return True
    if ":" in wanted:
        return False
    if str(record.get("erp_id", "")) == wanted:
        return True
    if isinstance(key, str) and key.partition(":")[2] == wanted:
        return True
    return str(record.get("invoice_number", "")) == wanted


def records_for(path: Path, invoice: str) -> list[dict[str, Any]]:
    """The invoice's records in the order they were written."""
    wanted = invoice.strip()
    return [r for r in iter_records(path, containing=wanted) if matches(r, wanted)]


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("\n", " ")
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def format_record(record: Mapping[str, Any]) -> str:
    """``2026-11-20 08:15:00  20261120-081500-3f9a  w1  decision  reason=… rule=…`` (masked)."""
    safe = mask_data(dict(record))
    assert isinstance(safe, dict)
    ts = str(safe.get("ts", "")).replace("T", " ")[:19]
    run = str(safe.get("run_id", "-"))
    worker = str(safe.get("worker", "-"))
    particulars = " ".join(
        f"{key}={_short(value)}"
        for key, value in sorted(safe.items())
        if key not in _COLUMNS and value not in (None, "", [], {})
    )
    return f"{ts}  {run}  {worker:<4}  {safe.get('event', '?')}  {particulars}".rstrip()
