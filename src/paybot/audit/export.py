"""The audit trail for an auditor's own tools (``robot audit export``): CSV or XLSX.

One row per record, masked again on the way out (:func:`paybot.audit.masking.mask_data`), with
fixed columns (:data:`COLUMNS`): ``seq``, ``time`` (Copenhagen time with its offset,
``2026-11-30 07:15:00+01:00``; the trail keeps UTC), ``event``, ``robot``, ``run_id``,
``worker``, ``loebenr``, ``business_key``, ``decision``, ``reason``, ``rule``,
``rule_version`` (empty where a record has none), ``details`` (every other field, compact JSON
with sorted keys) and ``hash`` (the record's chain hash as written, to find it in the trail).

With the rows goes the verification of the whole trail (:func:`verification_summary`: the
result and the checkpoint it was verified against), made after the rows were read, so it
covers every exported record even while a robot appends:

- XLSX: sheet ``Revisionsspor`` with the rows, sheet ``Verifikation`` with the summary
  (label, value).
- CSV: UTF-8 with a byte order mark (Excel then reads æøå right), cells separated by ``;``
  (what Excel with Danish regional settings splits on; ``,`` or a tab on request), ``\\r\\n``
  line ends. The summary comes first, as rows whose first cell starts with ``#``
  (``# Verification``, …); the header row follows (its first cell is ``seq``), then the
  records. One file, so the verification travels with the data.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
``'`` so that no spreadsheet takes it for a formula (CSV/formula injection). The output is
written to a temporary file created owner-only (0600, whatever the umask) next to the target,
then renamed over it: a failed export leaves nothing behind, and an existing file is replaced
whole. Reading is streaming (constant memory for the CSV; openpyxl's write-only mode for XLSX).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from paybot import __version__
from paybot.audit.anchor import Checkpoint
from paybot.audit.chain import AuditTrailError
from paybot.audit.events import Event
from paybot.audit.show import NO_FILTERS, Filters, iter_records, masked_record, record_key
from paybot.audit.signing import KeyRing
from paybot.audit.verify import verify
from paybot.domain.calendar import danish_timestamp, danish_timestamp_or_text
from paybot.errors import PaybotError
from paybot.exit_codes import EXIT_USAGE

FORMATS = ("csv", "xlsx")
SEPARATORS = {"semicolon": ";", "comma": ",", "tab": "\t"}
"""A CSV's cell separators by name; ``;`` by default: Excel with Danish regional settings
(decimal comma) splits a double-clicked CSV on the semicolon, the list separator there."""
COLUMNS: tuple[str, ...] = (
    "seq",
    "time",
    "event",
    "robot",
    "run_id",
    "worker",
    "loebenr",
    "business_key",
    "decision",
    "reason",
    "rule",
    "rule_version",
    "details",
    "hash",
)
RECORDS_SHEET = "Revisionsspor"
SUMMARY_SHEET = "Verifikation"
SUMMARY_MARK = "#"
XLSX_MAX_ROWS = 1_048_576  # Excel's limit, the header row included
XLSX_MAX_CELL = 32_767  # characters in one cell

# Fields that have a column of their own (or are left out: ``prev`` follows from the row
# before, ``ts`` is the ``time`` column, ``invoice`` is the worker's name for business_key).
_OWN = frozenset(
    {"seq", "ts", "event", "robot", "run_id", "worker", "erp_id", "business_key", "invoice"}
    | {"decision", "reason", "rule", "rule_version", "hash", "prev"}
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Summarize = Callable[[Path], tuple[str, str]]


class ExportError(PaybotError):
    """The export cannot be made (no trail, an output that cannot be written, a bad format).
    Names the file; nothing has been written. Exit 2."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class ExportResult:
    out: Path
    rows: int
    first_seq: int | None
    last_seq: int | None
    verification: str
    checkpoint: str


def verification_summary(
    path: Path, *, keys: KeyRing | None = None, anchor: Checkpoint | None = None
) -> tuple[str, str]:
    """``(text, checkpoint_text)``: the verification of the whole trail at ``path`` (with the
    auditor's public ``keys`` and the ``anchor`` kept in the ledger, as ``robot audit verify``
    does; docs/audit.md) and the checkpoint it was verified against. Raises
    :class:`AuditTrailError` when the trail cannot be read."""
    result = verify(path, verifier=keys, anchor=anchor)
    if result.ok:
        text = f"intact: {result.describe(path)}"
        if result.warnings:
            text += " (" + "; ".join(result.warnings) + ")"
    else:
        text = f"BROKEN: {result.describe(path)}"
        if result.first_bad_line is not None:
            text += f"; the {result.records} records before line {result.first_bad_line} are intact"
    last = result.last_checkpoint
    if last is not None:
        checked = "signature checked" if result.signed else "signature NOT checked (no key)"
        checkpoint = (
            f"signed checkpoint: seq {last.seq}, hash {last.hash}, signed at {last.why} "
            f"({danish_timestamp_or_text(last.ts)}) with key {last.key_id}, {checked}"
        )
        if anchor is not None:
            checkpoint += f"; the ledger's latest checkpoint: seq {anchor.seq}, hash {anchor.hash}"
    elif result.records == 0 or result.last_hash is None:
        checkpoint = "none: no signed checkpoint, and no intact record to check against"
    else:
        checkpoint = (
            f"no signed checkpoint (unsigned trail); checked against its own last intact "
            f"record only (a cut tail cannot be seen): seq {result.records}, "
            f"hash {result.last_hash}"
        )
    return text, checkpoint


def safe_cell(value: Any) -> Any:
    """``value``, with a leading ``'`` when it is text a spreadsheet could run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def export_row(record: Mapping[str, Any]) -> list[Any]:
    """The record as the values of :data:`COLUMNS` (``seq`` and ``loebenr`` as ints when
    they are; everything else text), masked, not yet made formula-safe."""
    safe = masked_record(record)
    ts = safe.get("ts")
    try:
        time = danish_timestamp(ts) if isinstance(ts, str) else ""
    except ValueError:
        time = str(ts)
    seq = safe.get("seq")
    erp_id = safe.get("erp_id")
    decision = safe.get("decision")
    if decision is None and safe.get("event") == Event.DECISION:
        decision = safe.get("kind")  # older decision records
    rest = {k: v for k, v in safe.items() if k not in _OWN}
    if decision is not None and safe.get("decision") is None:
        rest.pop("kind", None)
    key = record_key(safe)
    return [
        seq if isinstance(seq, int) and not isinstance(seq, bool) else _text(seq),
        time,
        _text(safe.get("event")),
        _text(safe.get("robot")),
        _text(safe.get("run_id")),
        _text(safe.get("worker")),
        erp_id if isinstance(erp_id, int) and not isinstance(erp_id, bool) else _text(erp_id),
        key or "",
        _text(decision),
        _text(safe.get("reason")),
        _text(safe.get("rule")),
        _text(safe.get("rule_version")),
        _text(rest) if rest else "",
        _text(safe.get("hash")),
    ]


def format_for(out: Path, given: str | None) -> str:
    """``given`` (``csv``/``xlsx``), else the output file's suffix; :class:`ExportError`
    otherwise."""
    fmt = (given or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        if given:
            raise ExportError(f"format {given!r} is not one of {', '.join(FORMATS)}")
        raise ExportError(
            f"{out}: cannot tell the format from the name; give --format csv or --format xlsx"
        )
    suffix = out.suffix.lstrip(".").lower()
    if given and suffix in FORMATS and suffix != fmt:
        raise ExportError(f"{out}: the name says {suffix}, --format says {fmt}; make them agree")
    return fmt


def _check_paths(trail: Path, out: Path) -> None:
    if not trail.is_file():
        raise ExportError(f"no audit trail at {trail}")
    if out.is_dir():
        raise ExportError(f"{out} is a folder; name a file to write")
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise ExportError(
            f"{out} is a link or a device, not a plain file; the export replaces a plain file "
            "whole and writes nowhere else"
        )
    parent = out.parent
    if not parent.is_dir():
        raise ExportError(f"{out}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"{out}: the folder {parent} cannot be written")
    with contextlib.suppress(OSError):
        if out.exists() and out.samefile(trail):
            raise ExportError(f"{out} is the audit trail itself; name another file")


@contextlib.contextmanager
def _private_output(out: Path) -> Iterator[IO[bytes]]:
    """A new owner-only file next to ``out`` that becomes ``out`` when the block ends without
    an error (and is removed when it does not)."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.fchmod(fd, 0o600)
    except OSError as exc:
        raise ExportError(f"{out}: cannot write ({exc.strerror or exc})") from exc
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        temp.replace(out)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ExportError(f"{out}: cannot write ({exc.strerror or exc})") from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _summary_rows(
    trail: Path,
    filters: Filters,
    rows: int,
    seqs: tuple[int | None, int | None],
    verification: tuple[str, str],
    now: dt.datetime,
) -> list[tuple[str, str]]:
    first, last = seqs
    span = f", seq {first} to {last}" if first is not None else ""
    return [
        ("Audit trail", str(trail)),
        ("Selection", filters.describe() or "the whole trail"),
        ("Records exported", f"{rows}{span}"),
        ("Verification", verification[0]),
        ("Checkpoint", verification[1]),
        ("Exported at", danish_timestamp(now)),
        ("Times", "Copenhagen time with its offset; the trail itself keeps UTC"),
        ("Personal data", "masked (CPR DDMMYY-****, accounts ********87, names ***)"),
        ("Exported by", f"paybot {__version__}"),
    ]


class _Rows:
    """The selected records as export rows, counting them and noting the first and last seq."""

    def __init__(self, trail: Path, filters: Filters) -> None:
        self.trail, self.filters = trail, filters
        self.count = 0
        self.first: int | None = None
        self.last: int | None = None

    def __iter__(self) -> Iterator[list[Any]]:
        containing = self.filters.run_id
        for record in iter_records(self.trail, containing=containing):
            if not self.filters.admits(record):
                continue
            row = export_row(record)
            self.count += 1
            if isinstance(row[0], int):
                self.first = row[0] if self.first is None else self.first
                self.last = row[0]
            yield [safe_cell(v) for v in row]


def _xlsx_cell(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if len(value) > XLSX_MAX_CELL:
        cut = "… [cut: longer than a spreadsheet cell holds; see the trail]"
        value = value[: XLSX_MAX_CELL - len(cut)] + cut
    return value


_WIDTHS = (8, 26, 16, 24, 22, 7, 9, 24, 9, 26, 34, 20, 80, 20)


def _write_xlsx(file: IO[bytes], rows: _Rows, summary: Callable[[], list[tuple[str, str]]]) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(RECORDS_SHEET)
    for index, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    header = []
    for name in COLUMNS:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in rows:
        if rows.count >= XLSX_MAX_ROWS:
            raise ExportError(
                f"more than {XLSX_MAX_ROWS - 1:,} records: more than a spreadsheet holds; "
                "export a shorter period, or to CSV"
            )
        sheet.append([_xlsx_cell(v) for v in row])
    checked = book.create_sheet(SUMMARY_SHEET)
    checked.column_dimensions["A"].width = 18
    checked.column_dimensions["B"].width = 120
    for label, value in summary():
        checked.append([_xlsx_cell(safe_cell(label)), _xlsx_cell(safe_cell(value))])
    book.save(file)


def _write_csv(
    file: IO[bytes],
    rows: _Rows,
    summary: Callable[[], list[tuple[str, str]]],
    out: Path,
    separator: str,
) -> None:
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="", dir=out.parent) as body:
        writer = csv.writer(body, delimiter=separator)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        lines = summary()
        body.seek(0)
        with open(file.fileno(), "w", encoding="utf-8-sig", newline="", closefd=False) as text:
            head = csv.writer(text, delimiter=separator)
            head.writerows(
                [f"{SUMMARY_MARK} {safe_cell(label)}", safe_cell(value)] for label, value in lines
            )
            shutil.copyfileobj(body, text)


def export(
    trail: Path,
    out: Path,
    fmt: str | None = None,
    filters: Filters = NO_FILTERS,
    *,
    separator: str = ";",
    summarize: Summarize = verification_summary,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> ExportResult:
    """Write the records of ``trail`` that ``filters`` admits to ``out`` as ``fmt`` (``csv``
    or ``xlsx``; default: ``out``'s suffix), with the verification; a CSV's cells are
    separated by ``separator`` (:data:`SEPARATORS`). Raises
    :class:`ExportError` (nothing written) for a missing trail, an output that cannot be
    written or a bad format, :class:`AuditTrailError` when the trail cannot be read. Safe to
    repeat: the output is replaced whole."""
    trail, out = trail.absolute(), out.absolute()
    _check_paths(trail, out)
    chosen = format_for(out, fmt)
    if separator not in SEPARATORS.values():
        raise ExportError(f"separator {separator!r} is not one of {', '.join(SEPARATORS)}")
    rows = _Rows(trail, filters)
    outcome: list[tuple[str, str]] = []

    def summary() -> list[tuple[str, str]]:
        outcome.append(summarize(trail))
        return _summary_rows(trail, filters, rows.count, (rows.first, rows.last), outcome[0], now())

    try:
        with _private_output(out) as file:
            if chosen == "xlsx":
                _write_xlsx(file, rows, summary)
            else:
                _write_csv(file, rows, summary, out, separator)
    except AuditTrailError:
        raise
    except OSError as exc:
        raise ExportError(f"{out}: cannot write ({exc.strerror or exc})") from exc
    text, checkpoint = outcome[0]
    return ExportResult(out, rows.count, rows.first, rows.last, text, checkpoint)
