"""``robot erp seed``: a fresh demo database with deterministic invoices and their ground truth.

Builds the demo municipality from ``fixtures/world.yaml``: users, chart of accounts,
requisitions and interpreter bookings; N new invoices written as OIOUBL 2.1 files and loaded
through the importer; a history of earlier documents (paid or sent to manual handling) so that
duplicates exist; and a truth file saying what the robots should decide. The same
(invoices, seed, base date) gives byte-identical XML files and truth file.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mockerp.db import connect
from mockerp.oioubl_import import import_paths
from mockerp.oioubl_write import write_document
from mockerp.peppol_write import write_peppol
from mockerp.seed_model import Context, Draft, SeedError
from mockerp.seed_plan import build_plan
from mockerp.seed_store import Stored, apply_history, insert_reference_data
from mockerp.seed_truth import truth_document, write_truth
from mockerp.seed_world import load_world
from mockerp.users import install_users, load_or_create_users_file

DEFAULT_BASE_DATE = dt.date(2026, 11, 2)
USERS_FILE_NAME = "mockerp-users.json"
_OUR_FILE = re.compile(r"^\d{6}-.+\.xml$")

__all__ = ["DEFAULT_BASE_DATE", "SeedError", "SeedResult", "seed"]


@dataclass(frozen=True, slots=True)
class SeedResult:
    db_path: Path
    xml_dir: Path
    truth_path: Path
    users_path: Path
    users: tuple[str, ...]
    invoices: int
    by_category: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    history_paid: int = 0
    history_manual: int = 0
    requisitions: int = 0
    bookings: int = 0
    seconds: float = 0.0

    def summary_lines(self) -> list[str]:
        categories = ", ".join(f"{k} {v}" for k, v in sorted(self.by_category.items()))
        decisions = ", ".join(f"{k} {v}" for k, v in sorted(self.expected.items()))
        return [
            f"Database: {self.db_path} (fresh)",
            f"Users: {', '.join(self.users)} (passwords in {self.users_path})",
            f"Invoices: {self.invoices} new ({categories})",
            f"History: {self.history_paid} paid, {self.history_manual} sent to manual handling",
            f"Reference data: {self.requisitions} requisitions,"
            f" {self.bookings} interpreter bookings",
            f"Expected decisions for the new invoices: {decisions}",
            f"OIOUBL files: {self.xml_dir}",
            f"Ground truth: {self.truth_path}",
            f"Seeded in {self.seconds:.1f} s",
        ]


def _fresh_database(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def _prepare_xml_dir(xml_dir: Path) -> None:
    """Create the folder; remove the files an earlier seed wrote there (and nothing else)."""
    xml_dir.mkdir(parents=True, exist_ok=True)
    for path in xml_dir.iterdir():
        if path.is_file() and _OUR_FILE.match(path.name):
            path.unlink()


def _file_name(index: int, draft: Draft) -> str:
    safe = re.sub(r"[^A-Za-z0-9-]+", "_", draft.doc.number).strip("_") or "dokument"
    return f"{index:06d}-{draft.category}-{safe}.xml"


def _receipt_times(history: list[Draft], new: list[Draft], base: dt.date) -> None:
    """History: the day after issue; new: from 06:00 UTC two days before the base date, in
    Løbenr order, so receipt times rise with the Løbenr."""
    last: dt.datetime | None = None
    for draft in history:
        moment = dt.datetime.combine(
            draft.doc.issue_date + dt.timedelta(days=1), dt.time(6, 0), tzinfo=dt.UTC
        )
        if last is not None and moment <= last:
            moment = last + dt.timedelta(minutes=1)
        draft.received_at = last = moment
    start = dt.datetime.combine(base - dt.timedelta(days=2), dt.time(6, 0), tzinfo=dt.UTC)
    step = max(1, min(37, (36 * 3600) // max(1, len(new))))
    for index, draft in enumerate(new):
        draft.received_at = start + dt.timedelta(seconds=index * step)


def seed(
    db_path: Path,
    *,
    invoices: int,
    seed: int,
    truth_path: Path | None = None,
    xml_dir: Path | None = None,
    users_path: Path | None = None,
    base_date: dt.date | str | None = None,
) -> SeedResult:
    """Create a fresh demo database at ``db_path`` (an existing one is deleted)."""
    started = time.perf_counter()
    if invoices < 0:
        raise ValueError(f"invoices must be 0 or more, got {invoices}")
    base = dt.date.fromisoformat(base_date) if isinstance(base_date, str) else base_date
    base = base or DEFAULT_BASE_DATE
    db_path = Path(db_path)
    truth_path = Path(truth_path) if truth_path else db_path.with_name(f"{db_path.stem}.truth.json")
    xml_dir = Path(xml_dir) if xml_dir else db_path.with_name(f"{db_path.stem}-oioubl")
    users_path = Path(users_path) if users_path else db_path.with_name(USERS_FILE_NAME)

    users = load_or_create_users_file(users_path)  # refuses an unsafe file before any harm
    world = load_world()
    ctx = Context(rng=random.Random(seed), world=world, base=base)
    plan = build_plan(ctx, invoices)
    _receipt_times(plan.history, plan.new, base)

    _prepare_xml_dir(xml_dir)
    drafts = plan.history + plan.new
    paths: dict[Path, Draft] = {}
    for index, draft in enumerate(drafts, start=1):
        path = xml_dir / _file_name(index, draft)
        doc = draft.doc
        path.write_bytes(write_peppol(doc) if doc.syntax == "peppol" else write_document(doc))
        paths[path] = draft

    db_path.parent.mkdir(parents=True, exist_ok=True)
    _fresh_database(db_path)
    conn = connect(db_path)
    try:
        install_users(conn, users)
        insert_reference_data(conn, world, plan.requisitions, plan.bookings)

        def received(path: Path) -> dt.datetime:
            moment = paths[path].received_at
            assert moment is not None
            return moment

        report = import_paths(conn, list(paths), received_at=received)
        if not report.ok or report.duplicates:
            problems = "; ".join(report.lines()[:5])
            raise SeedError(f"the seed's own OIOUBL files did not import cleanly: {problems}")
        by_file = {Path(doc.file): doc.loebenr for doc in report.imported}
        stored = [Stored(by_file[path], draft) for path, draft in paths.items()]
        paid, manual = apply_history(conn, stored, ctx.holidays)
    finally:
        conn.close()

    write_truth(truth_path, truth_document(stored, seed=seed, invoices=invoices, base_date=base))
    return SeedResult(
        db_path=db_path,
        xml_dir=xml_dir,
        truth_path=truth_path,
        users_path=users_path,
        users=tuple(users),
        invoices=len(plan.new),
        by_category=dict(Counter(d.category for d in plan.new)),
        expected=dict(Counter(d.expected.decision for d in plan.new)),
        history_paid=paid,
        history_manual=manual,
        requisitions=len(plan.requisitions),
        bookings=len(plan.bookings),
        seconds=time.perf_counter() - started,
    )
