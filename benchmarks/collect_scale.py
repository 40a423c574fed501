"""Scale check of the robot's collect phase: a large inbox register, time and memory.

    .venv/bin/python benchmarks/collect_scale.py [--invoices N] [--inbox M]
        [--inbox-category-only] [--fail-at-page P] [--collect-deadline SECONDS]
        [--seed S] [--yearly Y] [--keep]

Builds a mock with ``--invoices`` (default 2000) invoices: ``robot erp seed`` makes at most
``--chunk`` (default 1000) at a time (above ~1100 it stops with "could not build small invoice
case ok-at-limit"), so further chunks are seeded with other seeds into a side folder and loaded
with ``robot erp import``. ``--inbox M`` then copies the seeded invoices' rows in SQL (new
Løbenr, document id and invoice number) until the inbox holds M invoices: an inbox of 80,000
in seconds, for the collect phase, which reads the inbox's list only. About half the seeded
invoices are the robot's category; with ``--inbox-category-only`` only those are copied, so
all M invoices are read by the robot (``--inbox 80000 --inbox-category-only``: a first sync of
80,000 small invoices, 3,200 pages).

**A failure at page P** (``--fail-at-page``, default 5; 0: none): a first
``robot run pay-small-invoices --dry-run`` with an empty ledger is killed (SIGKILL, the whole
process group) once it has opened its P-th inbox page; the ledger's collect mark and the next
run's first inbox page show where the sync resumed (page P, not page 1).

Then runs ``robot run pay-small-invoices --dry-run`` (a first sync: every inbox page of the
category after the collect mark), stops it with SIGTERM (between two invoices, as an operator
would) once the audit trail shows ``collected``, and reads from the audit trail:

- collect phase: from the end of the preflight (the record before the first inbox page with
  ``after=``) to ``collected``; split into reading the pages (to the last page's
  ``page_opened``) and the ledger's work (register upsert and a work item per new invoice);
- time per inbox page, the ledger's commit of the page included (median; first and last
  tenth of the pages: flat when paging by Løbenr; an ``OFFSET`` query grows with the page);
- VmRSS of the robot's Python process (the robocorp child) when the collect began, at the end
  of its first tenth of pages, at its end, and its peak; and of ``robot run`` itself.

A second run shows the next, incremental collect (from the register's high-water mark). The
numbers are extrapolated to a first full sync of ``--yearly`` (default 80,000) small invoices.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import json
import math
import os
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from proc_rss import TreeSampler

from paybot.audit.signing import new_key_pair

ROOT = Path(__file__).resolve().parents[1]
ROBOT = "pay-small-invoices"
CATEGORY = "oevrige"
PAGE_ROWS = 25
COLLECT_DEADLINE_SECONDS = 1800
STOP_DEADLINE_SECONDS = 120


class ScaleCheckFailed(Exception):
    pass


def paybot(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "paybot", *args], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise ScaleCheckFailed(f"robot {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return done.stdout


def build_mock(folder: Path, invoices: int, chunk: int, seed: int) -> tuple[Path, Path]:
    """The database (seeded, then further chunks imported) and its users file."""
    main = folder / "mock"
    main.mkdir(parents=True)
    db = main / "mockerp.sqlite"
    paybot(
        "erp", "seed", "--db", str(db), "--invoices", str(min(chunk, invoices)), "--seed", str(seed)
    )
    left, n = invoices - chunk, 1
    while left > 0:
        side = folder / f"chunk-{n}"
        side.mkdir()
        size = min(chunk, left)
        paybot(
            "erp", "seed", "--db", str(side / "mockerp.sqlite"),
            "--invoices", str(size), "--seed", str(seed + n),
        )  # fmt: skip
        paybot("erp", "import", "--db", str(db), str(side / "mockerp-oioubl"))
        left, n = left - size, n + 1
    return db, main / "mockerp-users.json"


@dataclass
class RunResult:
    records: list[dict[str, Any]]
    ts: list[float]
    sampler: TreeSampler
    exit_code: int
    load: list[tuple[float, float]]
    """(wall-clock time, the machine's 1-minute load average), every 10 s of the run."""


def run_until_collected(
    env: dict[str, str], audit: Path, deadline_seconds: float = COLLECT_DEADLINE_SECONDS
) -> RunResult:
    """``robot run --dry-run``, stopped by SIGTERM once this run's ``collected`` is written."""
    seen = len(audit.read_text("utf-8").splitlines()) if audit.exists() else 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "paybot", "run", ROBOT, "--dry-run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sampler = TreeSampler(proc.pid, keep_series=True)
    sampler.start()
    deadline = time.monotonic() + deadline_seconds
    load: list[tuple[float, float]] = []
    try:
        while True:
            if not load or time.time() - load[-1][0] >= 10:
                load.append((time.time(), os.getloadavg()[0]))
            lines = audit.read_text("utf-8").splitlines()[seen:] if audit.exists() else []
            if any('"event":"collected"' in line for line in lines):
                proc.send_signal(signal.SIGTERM)
                break
            if proc.poll() is not None:
                raise ScaleCheckFailed(
                    f"the robot ended (exit {proc.returncode}) before collecting"
                )
            if time.monotonic() > deadline:
                raise ScaleCheckFailed(f"no 'collected' within {deadline_seconds:g} s")
            time.sleep(0.1)
        proc.wait(timeout=STOP_DEADLINE_SECONDS)
    finally:
        sampler.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records = [json.loads(line) for line in audit.read_text("utf-8").splitlines()[seen:]]
    ts = [dt.datetime.fromisoformat(r["ts"]).timestamp() for r in records]
    return RunResult(records, ts, sampler, proc.returncode, load)


@dataclass
class Collect:
    rows: int
    new: int
    pages: int
    seconds: float
    page_seconds: list[float]
    reading: float
    ledger: float
    rss_before_mb: float
    rss_peak_mb: float
    parent_peak_mb: float
    rss_first_tenth_mb: float = 0.0
    rss_end_mb: float = 0.0
    first_after: int = 0
    tenths: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    """Per tenth of the pages: (median seconds a page, the machine's load average then)."""


def analyse(run: RunResult) -> Collect:
    events = [r["event"] for r in run.records]
    pages = [
        i
        for i, r in enumerate(run.records)
        if r["event"] == "page_opened" and "after=" in r.get("path", "")
    ]
    done = events.index("collected")
    begin = run.ts[pages[0] - 1]
    marks = [begin] + [run.ts[i] for i in pages]
    per_page = [b - a for a, b in itertools.pairwise(marks)]
    # The robot's own process: the Python child of `robot run`.
    s = run.sampler
    child = next(
        (p for p, parent in s.parents.items() if parent == s.root and s.kinds[p] == "python"),
        s.root,
    )
    before = [kb[child] for t, kb in s.series if t <= begin and child in kb]
    during = [kb[child] for t, kb in s.series if begin <= t <= run.ts[done] + 0.2 and child in kb]
    tenth_end = run.ts[pages[max(0, len(pages) // 10 - 1)]]
    at_tenth = [kb[child] for t, kb in s.series if t <= tenth_end and child in kb]
    at_end = [kb[child] for t, kb in s.series if t <= run.ts[done] and child in kb]
    first_path = run.records[pages[0]]["path"]
    tenths = []
    size = max(1, len(per_page) // 10)
    for k in range(0, len(per_page) - size + 1, size):
        middle = marks[k + size // 2]
        near = min(run.load, key=lambda sample: abs(sample[0] - middle), default=(0.0, 0.0))
        tenths.append((statistics.median(per_page[k : k + size]), near[1]))
    return Collect(
        tenths=tenths[:10],
        rss_first_tenth_mb=(at_tenth[-1] if at_tenth else 0) / 1024,
        rss_end_mb=(at_end[-1] if at_end else 0) / 1024,
        first_after=after_of(first_path),
        rows=int(run.records[done]["rows"]),
        new=int(run.records[done]["new"]),
        pages=len(pages),
        seconds=run.ts[done] - begin,
        page_seconds=per_page,
        reading=run.ts[pages[-1]] - begin,
        ledger=run.ts[done] - run.ts[pages[-1]],
        rss_before_mb=(before[-1] if before else 0) / 1024,
        rss_peak_mb=max(during, default=0) / 1024,
        parent_peak_mb=s.peak_process_kb[s.root] / 1024,
    )


def after_of(path: str) -> int:
    """``/indbakke?kategori=oevrige&after=1234`` → 1234."""
    return int(parse_qs(urlsplit(path).query)["after"][0])


@dataclass
class Failed:
    page: int
    pages_seen: list[int]
    """The ``after`` of every inbox page the killed run opened, in order."""
    mark: int


def run_until_page(env: dict[str, str], audit: Path, ledger: Path, page: int) -> Failed:
    """``robot run --dry-run`` killed (SIGKILL, its whole process group: a crash, not a stop)
    once it has opened its ``page``-th inbox page; the collect mark it left in the ledger."""
    seen = len(audit.read_text("utf-8").splitlines()) if audit.exists() else 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "paybot", "run", ROBOT, "--dry-run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + COLLECT_DEADLINE_SECONDS
    afters: list[int] = []
    try:
        while True:
            lines = audit.read_text("utf-8").splitlines()[seen:] if audit.exists() else []
            records = [json.loads(line) for line in lines]
            afters = [
                after_of(r["path"])
                for r in records
                if r["event"] == "page_opened" and "after=" in r.get("path", "")
            ]
            if len(afters) >= page:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if any(r["event"] == "collected" for r in records):
                raise ScaleCheckFailed(f"the inbox has fewer than {page} pages")
            if proc.poll() is not None:
                raise ScaleCheckFailed(
                    f"the robot ended (exit {proc.returncode}) before page {page}"
                )
            if time.monotonic() > deadline:
                raise ScaleCheckFailed(f"no page {page} within {COLLECT_DEADLINE_SECONDS} s")
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    conn = sqlite3.connect(ledger)
    try:
        row = conn.execute(
            "SELECT last_erp_id FROM collect_marks WHERE robot = ? AND category = ?",
            (ROBOT, CATEGORY),
        ).fetchone()
    finally:
        conn.close()
    return Failed(page=page, pages_seen=afters, mark=int(row[0]) if row else 0)


def clone_inbox(db: Path, total: int, category: str | None = None) -> int:
    """Copy the seeded invoices' rows (in SQL, new Løbenr, document id and invoice number)
    until the inbox holds ``total`` invoices (of ``category`` only, when given: then every
    copied row is one the robot collects); returns how many it holds (of ``category``)."""
    where, params = (" AND category = ?", (category,)) if category else ("", ())
    conn = sqlite3.connect(db)
    try:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(invoices)") if r[1] != "id"]
        base = conn.execute("SELECT MAX(id) FROM invoices").fetchone()[0]
        count = f"SELECT COUNT(*) FROM invoices WHERE 1 = 1{where}"  # noqa: S608 - fixed text
        seeded = conn.execute(count + " AND id <= ?", (*params, base)).fetchone()[0]
        have = conn.execute(count, params).fetchone()[0]
        copy = 1
        while have < total:
            n = min(seeded, total - have)
            picked = ", ".join(
                {
                    "document_uuid": f"document_uuid || '-k{copy}'",
                    "invoice_number": f"invoice_number || '/k{copy}'",
                    "raw_xml": "''",
                }.get(c, c)
                for c in cols
            )
            conn.execute(
                f"INSERT INTO invoices ({', '.join(cols)}) SELECT {picked} FROM invoices"  # noqa: S608 - column names from the schema
                f" WHERE id <= ?{where} ORDER BY id LIMIT ?",
                (base, *params, n),
            )
            have += n
            copy += 1
        conn.commit()
        return int(conn.execute(count, params).fetchone()[0])
    finally:
        conn.close()


def server_side(db: Path, users: Path, repeat: int = 5) -> list[tuple[int, float, float]]:
    """The mock's inbox page, served in-process (Flask's test client, no browser, no network):
    ``(page, ms by Løbenr, ms by page number)`` for the first, middle and last page of the
    category, each the median of ``repeat`` requests, the two ways taking turns."""
    sys.path.insert(0, str(ROOT / "tests"))
    from mockerp.app import create_app
    from support.web import login

    conn = sqlite3.connect(db)
    try:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM invoices WHERE category = ? ORDER BY id", (CATEGORY,)
            )
        ]
    finally:
        conn.close()
    pages = math.ceil(len(ids) / PAGE_ROWS)
    client = create_app(db).test_client()
    password = json.loads(users.read_text("utf-8"))["robot"]["password"]
    login(client, "robot", password)
    out = []
    for page in sorted({1, max(1, pages // 2), pages}):
        after = ids[(page - 1) * PAGE_ROWS - 1] if page > 1 else 0
        keyset, offset = [], []
        for _ in range(repeat):
            began = time.perf_counter()
            client.get(f"/indbakke?kategori={CATEGORY}&after={after}")
            keyset.append(time.perf_counter() - began)
            began = time.perf_counter()
            client.get(f"/indbakke?kategori={CATEGORY}&side={page}")
            offset.append(time.perf_counter() - began)
        out.append((page, statistics.median(keyset) * 1000, statistics.median(offset) * 1000))
    return out


def ledger_side(pages: int) -> tuple[float, float]:
    """The ledger's page commit (``record_inbox_page``: the register rows, their duplicate
    keys, a work item each and the collect mark, one transaction) in-process on a fresh SQLite
    ledger, ``pages`` pages of 25 new invoices: median ms over the first and the last tenth."""
    from decimal import Decimal

    from paybot.domain.models import Category, ErpStatus, RegisterEntry
    from paybot.ledger import Ledger

    folder = Path(tempfile.mkdtemp(prefix="paybot-collect-ledger-"))
    ledger = Ledger(f"sqlite:///{folder / 'ledger.sqlite'}")
    try:
        ledger.create_schema()
        took = []
        for page in range(pages):
            entries, work = [], []
            for i in range(PAGE_ROWS):
                n = page * PAGE_ROWS + i + 1
                entry = RegisterEntry(
                    erp_id=n, category=Category(CATEGORY), status=ErpStatus.NEW,
                    supplier_cvr=f"{20000000 + n % 500}", invoice_number=f"F-{n}",
                    issue_date=dt.date(2026, 11, 1), payable_amount=Decimal("100.00"),
                )  # fmt: skip
                keys = [f"cvr+nr:{entry.supplier_cvr}:F-{n}", f"cvr+beloeb+dato:{n}:100.00"]
                entries.append((entry, keys))
                work.append((n, f"{entry.supplier_cvr}:F-{n}"))
            began = time.perf_counter()
            ledger.record_inbox_page(ROBOT, CATEGORY, entries, work, "bench")
            took.append(time.perf_counter() - began)
    finally:
        ledger.close()
        shutil.rmtree(folder, ignore_errors=True)
    tenth = max(1, pages // 10)
    return statistics.median(took[:tenth]) * 1000, statistics.median(took[-tenth:]) * 1000


def report_server_side(rows: list[tuple[int, float, float]]) -> None:
    print("the mock's inbox page, served in-process (median of 5; no browser):")
    for page, keyset, offset in rows:
        print(f"  page {page:5d}: by Løbenr (after=) {keyset:6.1f} ms; by page number "
              f"(OFFSET) {offset:6.1f} ms")  # fmt: skip


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.1f} s"


def report_failure(failed: Failed, resumed: Collect) -> None:
    pages = failed.pages_seen
    committed = sum(1 for a in pages[1:] if a <= failed.mark) + (failed.mark > pages[-1])
    if resumed.first_after in pages:
        at = pages.index(resumed.first_after) + 1
        where = f"page {at} of the killed run (after Løbenr {resumed.first_after})"
    else:
        at = len(pages) + 1
        where = f"the page after the killed run's last (after Løbenr {resumed.first_after})"
    verdict = "resumed where it failed" if at in (failed.page, failed.page + 1) else "NOT resumed"
    print(
        f"failure at page {failed.page}: the run was killed (SIGKILL) with {committed} page(s) "
        f"committed, collect mark Løbenr {failed.mark}; the next run's first inbox page was "
        f"{where}: {verdict} (not page 1)"
    )


def report(first: Collect, second: Collect | None, yearly: int) -> None:
    tenth = max(1, first.pages // 10)
    print(
        f"first sync (after the collect mark {first.first_after}): {first.rows} inbox rows of "
        f"'{CATEGORY}' ({first.new} new) in {first.pages} pages of {PAGE_ROWS}"
    )
    print(f"  collect phase:            {first.seconds:6.1f} s")
    print(
        f"    reading the pages:      {first.reading:6.1f} s = "
        f"{ms(first.reading / first.pages)} per page (median "
        f"{ms(statistics.median(first.page_seconds))}; first tenth "
        f"{ms(statistics.median(first.page_seconds[:tenth]))}, last tenth "
        f"{ms(statistics.median(first.page_seconds[-tenth:]))})"
    )
    print(
        f"    ledger (register, work items): {first.ledger:5.1f} s = "
        f"{first.ledger / max(first.rows, 1) * 1000:.2f} ms per row"
    )
    series = ", ".join(f"{s * 1000:.0f} ms (load {load:.0f})" for s, load in first.tenths)
    print(f"    median per tenth of the pages, with the machine's load average: {series}")
    grew = first.rss_peak_mb - first.rss_before_mb
    print(
        f"  robot's Python process:   {first.rss_before_mb:.0f} MB when the collect began, "
        f"{first.rss_first_tenth_mb:.0f} MB after its first tenth of pages, "
        f"{first.rss_end_mb:.0f} MB at its end; peak {first.rss_peak_mb:.0f} MB "
        f"(+{grew:.0f} MB in all; +{first.rss_end_mb - first.rss_first_tenth_mb:.0f} MB "
        "from the first tenth to the end)"
    )
    print(f"  'robot run' (the parent, waiting): peak {first.parent_peak_mb:.0f} MB")
    if second is not None:
        print(
            f"second run (incremental, from the high-water mark): {second.pages} page(s), "
            f"{second.rows} rows, collect {second.seconds:.2f} s"
        )
    pages = math.ceil(yearly / PAGE_ROWS)
    per_page = first.reading / first.pages
    early = statistics.median(first.page_seconds[:tenth])
    late = statistics.median(first.page_seconds[-tenth:])
    ledger = first.ledger / max(first.rows, 1) * yearly
    memory = grew / max(first.rows, 1) * yearly
    print(f"\nextrapolated to a first full sync of {yearly:,} small invoices ({pages:,} pages):")
    print(f"  reading the pages at {ms(per_page)} a page: {duration(per_page * pages)}")
    print(
        f"  (late pages took {late / early:.2f}× the early ones here; the mock's page and the "
        "ledger's commit, measured apart above, show what the server and the ledger add; "
        "the rest is the browser and the machine's load: the medians per tenth above)"
    )
    print(
        f"  ledger: committed page by page (included above); after the last page "
        f"{duration(ledger)} more"
    )
    print(
        f"  memory: one page at a time; this run's growth, +{grew:.0f} MB peak, does not scale "
        f"with the inbox (linear extrapolation would say +{memory:,.0f} MB)"
    )
    print("  (a run that fails at page N leaves a collect mark: the next run goes on at page N)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=2000, help="seeded invoices (2000)")
    parser.add_argument("--chunk", type=int, default=1000, help="invoices per seed run (1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--yearly", type=int, default=80_000, help="small invoices a year")
    parser.add_argument(
        "--inbox", type=int, default=0, help="copy rows in SQL up to this many invoices (0: no)"
    )
    parser.add_argument(
        "--inbox-category-only",
        action="store_true",
        help=f"copy only '{CATEGORY}' rows: all --inbox invoices are the robot's to collect",
    )
    parser.add_argument(
        "--collect-deadline",
        type=float,
        default=COLLECT_DEADLINE_SECONDS,
        help=f"seconds a first sync may take before the check fails ({COLLECT_DEADLINE_SECONDS})",
    )
    parser.add_argument(
        "--fail-at-page", type=int, default=5, help="kill a first run at this page (0: no)"
    )
    parser.add_argument("--no-second-run", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "tests"))
    from support.mockserver import running_mock

    work = Path(tempfile.mkdtemp(prefix="paybot-collect-scale-"))
    try:
        began = time.monotonic()
        db, users = build_mock(work, args.invoices, args.chunk, args.seed)
        print(
            f"mock with {args.invoices} invoices (seed {args.seed}, chunks of {args.chunk}) "
            f"built in {time.monotonic() - began:.1f} s"
        )
        if args.inbox > args.invoices:
            only = CATEGORY if args.inbox_category_only else None
            held = clone_inbox(db, args.inbox, only)
            print(f"inbox copied up to {held} invoices{f' of {only!r}' if only else ''} in SQL")
        data = work / "data"
        data.mkdir()
        vault = data / "vault.json"
        password = json.loads(users.read_text("utf-8"))["robot"]["password"]
        vault.write_text(
            json.dumps(
                {
                    "erp": {"username": "robot", "password": password},
                    "pseudonym_key": secrets.token_hex(32),
                }
            )
        )
        vault.chmod(0o600)
        with running_mock(db) as server:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
            env |= {
                "PAYBOT_HOME": str(ROOT),
                "PAYBOT_ERP_URL": server.url,
                "PAYBOT_DATA_DIR": str(data),
                "PAYBOT_OUTPUT_DIR": str(work / "output"),
                "PAYBOT_VAULT_FILE": str(vault),
                "PAYBOT_AUDIT_SIGNING_KEY": new_key_pair()[0],  # signed, as in production
            }
            audit = data / "audit" / "audit.jsonl"
            failed = None
            if args.fail_at_page:
                failed = run_until_page(env, audit, data / "ledger.sqlite", args.fail_at_page)
            first = analyse(run_until_collected(env, audit, args.collect_deadline))
            second = None if args.no_second_run else analyse(run_until_collected(env, audit))
        report_server_side(server_side(db, users))
        early, late = ledger_side(first.pages)
        print(
            f"the ledger's page commit, in-process on a fresh SQLite ledger ({first.pages} pages "
            f"of {PAGE_ROWS} new invoices): first tenth {early:.1f} ms, last tenth {late:.1f} ms"
        )
        if failed is not None:
            report_failure(failed, first)
        report(first, second, args.yearly)
        print(f"(scale check took {(time.monotonic() - began) / 60:.1f} min)")
    except ScaleCheckFailed as exc:
        print(f"FAILED: {exc}")
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
