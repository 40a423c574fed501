"""What the console's pages show, read from where the command line reads it.

- the ledger (``ledger.url``): one engine for the console's life, opened when the ledger
  exists (before a first run there is nothing to read, and nothing is created); each read is
  one short transaction, so robots that run meanwhile are not held up;
- the job store (``<data_dir>/scheduler.sqlite``) through :class:`JobBook`, opened for each
  page and closed again, as ``robot schedule`` does;
- the health as ``robot status`` computes it (:func:`paybot.status.gather`);
- the run folders (``<output_dir>/runs/<run-id>/``): ``report.json``'s figures;
- the audit trail (``audit.file``) through :mod:`paybot.audit.show` and
  :func:`paybot.audit.verify.verify`.

Nothing here changes anything but :func:`shared_ledger`'s engine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from paybot.audit import mask_text
from paybot.audit.anchor import Checkpoint, trail_name
from paybot.audit.open import ledger_checkpoints
from paybot.audit.show import (
    Candidate,
    Filters,
    choose,
    find_invoices,
    invoice_records,
    masked_record,
)
from paybot.audit.signing import KeyRing, load_verifier
from paybot.audit.verify import VerifyResult, first_record_hash, verify
from paybot.console.state import ConsoleState
from paybot.ledger import CLAIMABLE, InMemoryLedger, Ledger, LedgerPort, RunRecord, State, WorkItem
from paybot.report.view import MoneySum, currency_of, money
from paybot.run_folder import run_dir
from paybot.scheduler.jobs import Entry, JobBook, make_scheduler
from paybot.scheduler.service import running_scheduler
from paybot.status import Status, gather

_LOCK = threading.Lock()
LEDGER_KEY = "ledger"


def shared_ledger(st: ConsoleState) -> LedgerPort:
    """The ledger, opened once (an empty in-memory one while its SQLite file does not exist
    yet; then it is looked for again on the next request)."""
    with _LOCK:
        found = st.cache.get(LEDGER_KEY)
        if found is not None:
            assert isinstance(found, Ledger)
            return found
        url = make_url(st.settings.ledger.url)
        if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
            return InMemoryLedger()
        ledger = Ledger(st.settings.ledger.url)
        ledger.create_schema()
        st.cache[LEDGER_KEY] = ledger
        return ledger


def close(st: ConsoleState) -> None:
    with _LOCK:
        found = st.cache.pop(LEDGER_KEY, None)
        if isinstance(found, Ledger):
            found.close()


@contextlib.contextmanager
def job_book(st: ConsoleState) -> Iterator[JobBook]:
    """The robots' jobs, as ``robot schedule`` opens them (a scheduler started paused, that
    never runs a job), closed on the way out."""
    scheduler = make_scheduler(st.settings)
    scheduler.start(paused=True)
    try:
        yield JobBook(scheduler, st.home, st.manifests)
    finally:
        scheduler.shutdown(wait=False)


def entries(st: ConsoleState) -> list[Entry]:
    with job_book(st) as book:
        return book.entries(st.clock())


# --- run folders -------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """A run's report.json in figures: counts and amounts by outcome (``amounts``: kroner,
    the DKK items only, credit notes negative; ``amount_texts``: all of it, other currencies
    with their code, as :class:`paybot.report.view.MoneySum` writes it). Each item has an
    ``amount_text`` (``2.296,25 EUR``, ``-200,00 kr.``)."""

    counts: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    amount_texts: dict[str, str] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    rule_version: str = ""
    warnings: list[str] = field(default_factory=list)


def report_json(st: ConsoleState, run_id: str) -> dict[str, Any] | None:
    path = run_dir(st.settings.output_dir, run_id) / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _amount(text: Any) -> Decimal | None:
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def figures(st: ConsoleState, run_id: str) -> Figures | None:
    """``report.json``'s counts, amounts per outcome and items (masked again); ``None`` when
    the run has no readable report."""
    data = report_json(st, run_id)
    if data is None:
        return None
    counts = data.get("counts") if isinstance(data.get("counts"), dict) else {}
    items = [i for i in data.get("items") or [] if isinstance(i, dict)]
    sums: dict[str, MoneySum] = {}
    shown: list[dict[str, Any]] = []
    for item in items:
        value, currency = _amount(item.get("amount")), currency_of(item)
        if value is not None and item.get("credit_note"):
            value = -abs(value)
        sums.setdefault(str(item.get("result", "")), MoneySum()).add(value, currency)
        masked = {k: mask_text(str(v)) if v is not None else None for k, v in item.items()}
        shown.append(masked | {"amount_text": money(value, currency)})
    return Figures(
        counts={str(k): int(v) for k, v in (counts or {}).items() if isinstance(v, int)},
        amounts={k: s.dkk for k, s in sums.items() if s.dkk is not None},
        amount_texts={k: s.text for k, s in sums.items() if not s.empty},
        items=shown,
        message=mask_text(str(data.get("message") or "")),
        rule_version=str(data.get("rule_version") or ""),
        warnings=[mask_text(str(w)) for w in data.get("warnings") or []],
    )


def run_files(st: ConsoleState, run_id: str) -> dict[str, bool]:
    folder = run_dir(st.settings.output_dir, run_id)
    return {name: (folder / name).is_file() for name in ("report.html", "report.json", "log.html")}


MORNING_DIR = "reports"
MORNING_NAME = re.compile(r"^morning-\d{4}-\d{2}-\d{2}\.html$")


def morning_reports(st: ConsoleState) -> list[str]:
    """The morning reports the run report wrote (``<output_dir>/reports/morning-DATE.html``),
    newest first, by file name."""
    folder = st.settings.output_dir / MORNING_DIR
    found = [p.name for p in folder.glob("morning-*.html")] if folder.is_dir() else []
    return sorted((n for n in found if MORNING_NAME.match(n)), reverse=True)


# --- overview ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RobotNight:
    robot: str
    title: str
    last_run: RunRecord | None
    figures: Figures | None


def overview(st: ConsoleState) -> tuple[Status, list[RobotNight]]:
    """The health as ``robot status`` computes it, and each robot's last run with its
    report's figures."""
    ledger = shared_ledger(st)
    status = gather(
        st.settings,
        st.manifests,
        ledger,
        entries(st),
        st.clock(),
        host=socket.gethostname(),
        local_pid=running_scheduler(st.settings.data_dir),
    )
    nights = [
        RobotNight(
            r.robot,
            r.title,
            r.last_run,
            figures(st, r.last_run.run_id) if r.last_run else None,
        )
        for r in status.robots
    ]
    return status, nights


# --- runs and queue ----------------------------------------------------------------------


def runs(st: ConsoleState, robot: str | None, limit: int = 100) -> list[RunRecord]:
    return shared_ledger(st).list_runs(robot, limit=limit)


def run(st: ConsoleState, run_id: str) -> RunRecord | None:
    """The run of the history with this id (the newest 1,000 are looked through)."""
    return next((r for r in runs(st, None, limit=1000) if r.run_id == run_id), None)


@dataclass(frozen=True)
class QueueRow:
    item: WorkItem
    age: dt.timedelta | None
    mark: str
    last_error: str

    @property
    def open(self) -> bool:
        return self.item.state is State.PENDING


def queue(
    st: ConsoleState,
    *,
    robot: str | None,
    states: set[State] | None,
    older_than_days: float | None,
    failing: bool,
) -> list[QueueRow]:
    """The work items as ``robot queue`` lists them (default: not settled yet)."""
    ledger = shared_ledger(st)
    now = st.clock()
    wanted = states if states else set(CLAIMABLE)
    rows: list[QueueRow] = []
    for name in sorted(st.manifests) if robot is None else [robot]:
        marks = {m.erp_id: m for m in ledger.handovers(name)}
        for item in ledger.items(name, wanted):
            age = now - item.created_at if item.created_at else None
            if failing and item.attempts == 0:
                continue
            if older_than_days is not None and (
                age is None or age < dt.timedelta(days=older_than_days)
            ):
                continue
            mark = marks.get(item.erp_id)
            rows.append(
                QueueRow(
                    item,
                    age,
                    f"{mark.reason} ({mark.by}): {mark.note}"
                    if mark and item.state in CLAIMABLE
                    else "",
                    mask_text(item.last_error or ""),
                )
            )
    return rows


# --- the trail -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Trail:
    candidates: list[Candidate]
    chosen: Candidate | None
    records: list[dict[str, Any]]


def trail(st: ConsoleState, invoice: str, robot: str | None = None) -> Trail:
    """One invoice's records, masked again (:mod:`paybot.audit.show`). Raises
    :class:`~paybot.audit.AuditTrailError` when the trail cannot be read."""
    path = st.settings.audit.file
    if not path.is_file():
        return Trail([], None, [])
    filters = Filters(robot=robot)
    candidates = find_invoices(path, invoice, filters)
    chosen = choose(candidates)
    records = [] if chosen is None else invoice_records(path, chosen, filters)
    return Trail(candidates, chosen, [masked_record(r) for r in records])


def keys(st: ConsoleState) -> KeyRing | None:
    configured = st.settings.audit.public_key_file
    return load_verifier(configured) if configured.is_file() else None


def anchor(st: ConsoleState) -> Checkpoint | None:
    path = st.settings.audit.file
    store = ledger_checkpoints(st.settings)
    if store is None:
        return None
    try:
        return store.anchor_for(trail_name(path), first_record_hash(path))
    finally:
        store.close()


def verification(st: ConsoleState) -> VerifyResult | None:
    """``robot audit verify``'s result for the whole trail (with the configured public key and
    the ledger's checkpoint), kept while the file's size and time are the same; ``None``
    without a trail."""
    path = st.settings.audit.file
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    key = (stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        cached = st.cache.get("verification")
        if cached is not None and cached[0] == key:
            result: VerifyResult = cached[1]
            return result
    result = verify(path, verifier=keys(st), anchor=anchor(st))
    with _LOCK:
        st.cache["verification"] = (key, result)
    return result
