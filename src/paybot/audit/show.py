"""Finding one invoice in the audit trail and reading its whole part of it (``robot audit show``).

An invoice is named by its Løbenr (``erp_id``, e.g. ``17``), its business key
(``CVR:invoice number``, e.g. ``20433213:F-00001``) or its invoice number alone (``F-00001``).
Not every record of an invoice carries its business key (a worker binds it as ``invoice``, the
state changes as ``business_key``, older records may have neither), but every one carries the
robot and the Løbenr. So the name is first resolved to invoices, each ``(robot, Løbenr,
business key)`` (:func:`find_invoices`: a Løbenr is a number in one finance system, so the same
number can name invoices of two robots, or two invoices of one robot when the finance system
was reset), then every record of the chosen one is taken (:func:`invoice_records`): those with
its robot and Løbenr whose business key, when they carry one, is its own, and before them the
``collected`` record of the collection that read it. :func:`choose` picks the invoice when
the name fits exactly one, or exactly one exactly (a Løbenr or a whole business key beats an
invoice number that only ends one); otherwise the caller lists the candidates.

Unreadable lines are passed over here; ``robot audit verify`` reports them. A trail grows by
some 1.6 million records a year: each pass reads the file once, line by line, and parses only
lines that hold the text looked for.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybot.audit.chain import AuditTrailError
from paybot.audit.masking import mask_data
from paybot.domain.calendar import danish_timestamp, danish_timestamp_or_text
from paybot.exit_codes import EXIT_AUDIT_NOT_FOUND

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
        "invoice",
    }
)
_MAX_VALUE = 160
_CHAIN_FIELDS = ("prev", "hash")  # hex digests: never personal data, and masking could bend them
COLLECTED = "collected"


class AmbiguousInvoice(AuditTrailError):
    """The name fits several invoices and none of them exactly; ``candidates`` lists them.
    Exit 1, as for a name that fits none."""

    exit_code = EXIT_AUDIT_NOT_FOUND

    def __init__(self, name: str, candidates: list[Candidate]) -> None:
        self.candidates = candidates
        super().__init__(f"{name!r} names {len(candidates)} invoices")


@dataclass(frozen=True)
class Filters:
    """Which records to take: of one run, one robot, and ``since`` ≤ ts < ``until`` (aware
    datetimes; a record without a readable ``ts`` is left out when either is set)."""

    run_id: str | None = None
    robot: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def admits(self, record: Mapping[str, Any]) -> bool:
        if self.run_id is not None and record.get("run_id") != self.run_id:
            return False
        if self.robot is not None and record.get("robot") != self.robot:
            return False
        if self.since is None and self.until is None:
            return True
        moment = record_time(record)
        if moment is None:
            return False
        if self.since is not None and moment < self.since:
            return False
        return self.until is None or moment < self.until

    def describe(self) -> str:
        """``run 20261120-081500-3f9a, since 2026-11-20 00:00:00+01:00`` or ``""``."""
        parts = []
        if self.robot is not None:
            parts.append(f"robot {self.robot}")
        if self.run_id is not None:
            parts.append(f"run {self.run_id}")
        if self.since is not None:
            parts.append(f"since {danish_timestamp(self.since)}")
        if self.until is not None:
            parts.append(f"before {danish_timestamp(self.until)}")
        return ", ".join(parts)

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.run_id, self.robot, self.since, self.until))


NO_FILTERS = Filters()


@dataclass
class Candidate:
    """One invoice the name may mean. ``exact``: named by its Løbenr or whole business key,
    not only by the invoice number its business key ends in."""

    robot: str | None
    erp_id: int | None
    business_key: str | None
    exact: bool = False
    runs: list[str] = field(default_factory=list)
    first_ts: str | None = None

    def describe(self) -> str:
        """``robot pay-small-invoices  Løbenr 17  20433213:F-00017  first 2026-… (run …)``."""
        first = ""
        if self.first_ts:
            try:
                first = f"  first {danish_timestamp(self.first_ts)}"
            except ValueError:
                first = f"  first {self.first_ts}"
        runs = f"  runs {', '.join(self.runs)}" if self.runs else ""
        return (
            f"robot {self.robot or '-'}  Løbenr {self.erp_id if self.erp_id is not None else '-'}"
            f"  {self.business_key or '(no business key)'}{first}{runs}"
        ).rstrip()


def record_time(record: Mapping[str, Any]) -> dt.datetime | None:
    """The record's ``ts`` as an aware datetime, or ``None`` when missing or unreadable."""
    ts = record.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(ts)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def record_key(record: Mapping[str, Any]) -> str | None:
    """The business key a record carries (``business_key``, or ``invoice`` as the worker binds
    it), or ``None``."""
    for name in ("business_key", "invoice"):
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def record_erp_id(record: Mapping[str, Any]) -> int | None:
    value = record.get("erp_id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def masked_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with personal data masked (:func:`mask_data`) again before it is shown;
    ``prev`` and ``hash`` are kept as written (a digest with ten digits in a row must not be
    taken for a CPR number)."""
    safe = mask_data({k: v for k, v in record.items() if k not in _CHAIN_FIELDS})
    assert isinstance(safe, dict)
    for name in _CHAIN_FIELDS:
        if name in record:
            safe[name] = record[name]
    return safe


def iter_records(
    path: Path, *, containing: str | Iterable[bytes] | None = None
) -> Iterator[dict[str, Any]]:
    """The file's records; with ``containing``, only lines whose text holds it (or, given as
    bytes, one of them): a cheap filter before parsing."""
    if isinstance(containing, str):
        needles: tuple[bytes, ...] | None = (
            json.dumps(containing, ensure_ascii=False)[1:-1].encode(),
        )
    elif containing is not None:
        needles = tuple(containing)
    else:
        needles = None
    try:
        with open(path, "rb") as file:
            for raw in file:
                if needles is not None and not any(n in raw for n in needles):
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield record
    except OSError as exc:
        raise AuditTrailError(f"audit trail {path}: cannot read ({exc})") from exc


def _match(record: Mapping[str, Any], wanted: str) -> bool | None:
    """``True``: the record names the invoice exactly (Løbenr or whole business key);
    ``False``: by its invoice number only; ``None``: not at all."""
    key = record_key(record)
    if ":" in wanted:
        return True if key == wanted else None
    erp_id = record_erp_id(record)
    if wanted.isdigit() and erp_id is not None and erp_id == int(wanted):
        return True
    if key is not None and key.partition(":")[2] == wanted:
        return False
    if str(record.get("invoice_number", "")) == wanted:
        return False
    return None


def find_invoices(path: Path, invoice: str, filters: Filters = NO_FILTERS) -> list[Candidate]:
    """Every invoice the name may mean, among the records ``filters`` admits, in the order
    they first appear. An invoice whose records carry no business key at all is one candidate
    with ``business_key`` ``None``."""
    wanted = invoice.strip()
    if not wanted:
        return []
    found: dict[tuple[str | None, int | None, str | None], Candidate] = {}
    for record in iter_records(path, containing=wanted):
        how = _match(record, wanted)
        if how is None or not filters.admits(record):
            continue
        robot = record.get("robot") if isinstance(record.get("robot"), str) else None
        ident = (robot, record_erp_id(record), record_key(record))
        candidate = found.get(ident)
        if candidate is None:
            candidate = found[ident] = Candidate(*ident, first_ts=_text(record.get("ts")))
        candidate.exact = candidate.exact or how
        run = record.get("run_id")
        if isinstance(run, str) and run not in candidate.runs:
            candidate.runs.append(run)
    keyed = {(c.robot, c.erp_id) for c in found.values() if c.business_key is not None}
    return [
        c
        for c in found.values()
        if c.business_key is not None or c.erp_id is None or (c.robot, c.erp_id) not in keyed
    ]


def choose(candidates: list[Candidate]) -> Candidate | None:
    """The one candidate, or the one exact candidate among several; ``None`` when the name is
    ambiguous (or names nothing)."""
    if len(candidates) == 1:
        return candidates[0]
    exact = [c for c in candidates if c.exact]
    return exact[0] if len(exact) == 1 else None


def _belongs(record: Mapping[str, Any], invoice: Candidate) -> bool:
    if record.get("robot") != invoice.robot:
        return False
    if invoice.erp_id is None:
        return record_key(record) == invoice.business_key
    if record_erp_id(record) != invoice.erp_id:
        return False
    key = record_key(record)
    return key is None or invoice.business_key is None or key == invoice.business_key


def _collected_it(record: Mapping[str, Any], invoice: Candidate) -> bool:
    start = record.get("from_loebenr")
    return (
        record.get("event") == COLLECTED
        and record.get("robot") == invoice.robot
        and invoice.erp_id is not None
        and isinstance(start, int)
        and start <= invoice.erp_id
    )


def invoice_records(
    path: Path, invoice: Candidate, filters: Filters = NO_FILTERS
) -> list[dict[str, Any]]:
    """Every record of ``invoice`` that ``filters`` admits, in the order written, from the
    collection that read it (the robot's last ``collected`` record, starting at or below its
    Løbenr, before its first record) to its last record."""
    needles: list[bytes] = [b'"event":"collected"']
    if invoice.erp_id is not None:
        needles += [f'"erp_id":{invoice.erp_id}'.encode(), f'"erp_id":"{invoice.erp_id}"'.encode()]
    elif invoice.business_key is not None:
        needles.append(json.dumps(invoice.business_key, ensure_ascii=False).encode())
    collection: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    for record in iter_records(path, containing=needles):
        if not records and _collected_it(record, invoice):
            collection = record
        elif _belongs(record, invoice):
            records.append(record)
    if records and collection is not None:
        records.insert(0, collection)
    return [r for r in records if filters.admits(r)]


def records_for(path: Path, invoice: str, filters: Filters = NO_FILTERS) -> list[dict[str, Any]]:
    """The records of the invoice named ``invoice`` (see the module), in the order they were
    written; ``[]`` when the name fits none. Raises :class:`AmbiguousInvoice` when it fits
    several and none exactly."""
    candidates = find_invoices(path, invoice, filters)
    if not candidates:
        return []
    chosen = choose(candidates)
    if chosen is None:
        raise AmbiguousInvoice(invoice.strip(), candidates)
    return invoice_records(path, chosen, filters)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("\n", " ")
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def shown_time(record: Mapping[str, Any]) -> str:
    """The record's time as people read it (``2026-11-20 09:15:05+01:00``); the raw ``ts``
    when it cannot be read, ``-`` when there is none."""
    ts = record.get("ts")
    return danish_timestamp_or_text(ts) if isinstance(ts, str) else "-"


def checks_summary(checks: Any) -> str:
    """A decision's ``checks`` on one line: ``15 made, 15 passed`` or ``7 made, 6 passed,
    failed: MANUAL_TARIFF (medical_certificates.tariff.amount)``; ``--json`` shows them all."""
    if not isinstance(checks, list):
        return _short(checks)
    made = [c for c in checks if isinstance(c, Mapping)]
    passed = sum(1 for c in made if c.get("passed") is True)
    text = f"{len(made)} made, {passed} passed"
    failed = [c for c in made if c.get("passed") is False]
    if failed:
        text += f", failed: {failed[-1].get('reason', '?')} ({failed[-1].get('rule', '?')})"
    return text


def format_record(record: Mapping[str, Any]) -> str:
    """``      5  2026-11-20 09:15:05+01:00  20261120-081500-3f9a  w1    decision  reason=…``:
    seq, Copenhagen time with offset, run, worker, event, the rest (masked)."""
    safe = masked_record(record)
    seq = safe.get("seq")
    run = str(safe.get("run_id", "-"))
    worker = str(safe.get("worker", "-"))
    particulars = " ".join(
        f"{key}={checks_summary(value) if key == 'checks' else _short(value)}"
        for key, value in sorted(safe.items())
        if key not in _COLUMNS and value not in (None, "", [], {})
    )
    return (
        f"{seq if isinstance(seq, int) else '-':>7}  {shown_time(safe)}  {run}  {worker:<4}  "
        f"{safe.get('event', '?')}  {particulars}"
    ).rstrip()
