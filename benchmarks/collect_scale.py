"""Scale check of the robot's collect phase: a large inbox register, time and memory.

    .venv/bin/python benchmarks/collect_scale.py [--invoices N] [--seed S] [--yearly Y] [--keep]

Builds a mock with ``--invoices`` (default 2000) invoices: ``robot erp seed`` makes at most
``--chunk`` (default 1000) at a time (above ~1100 it stops with "could not build small invoice
case ok-at-limit"), so further chunks are seeded with other seeds into a side folder and loaded
with ``robot erp import``. Then runs ``robot run pay-small-invoices --dry-run`` with an empty
ledger (a first sync: every inbox page of the category from Løbenr 1), stops it with SIGTERM
(between two invoices, as an operator would) once the audit trail shows ``collected``, and
reads from the audit trail:

- collect phase: from the end of the preflight (the record before the first inbox page with
  ``after=``) to ``collected``; split into reading the pages (to the last page's
  ``page_opened``) and the ledger's work (register upsert and a work item per new invoice);
- time per inbox page (median; first and last tenth of the pages, as an ``OFFSET`` query
  grows with the page);
- peak VmRSS of the robot's Python process (the robocorp child) during the collect, against
  its size when the collect began; and of ``robot run`` itself.

A second run shows the next, incremental collect (from the register's high-water mark). The
numbers are extrapolated to a first full sync of ``--yearly`` (default 80,000) small invoices.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proc_rss import TreeSampler

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


def run_until_collected(env: dict[str, str], audit: Path) -> RunResult:
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
    deadline = time.monotonic() + COLLECT_DEADLINE_SECONDS
    try:
        while True:
            lines = audit.read_text("utf-8").splitlines()[seen:] if audit.exists() else []
            if any('"event":"collected"' in line for line in lines):
                proc.send_signal(signal.SIGTERM)
                break
            if proc.poll() is not None:
                raise ScaleCheckFailed(
                    f"the robot ended (exit {proc.returncode}) before collecting"
                )
            if time.monotonic() > deadline:
                raise ScaleCheckFailed(f"no 'collected' within {COLLECT_DEADLINE_SECONDS} s")
            time.sleep(0.1)
        proc.wait(timeout=STOP_DEADLINE_SECONDS)
    finally:
        sampler.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records = [json.loads(line) for line in audit.read_text("utf-8").splitlines()[seen:]]
    ts = [dt.datetime.fromisoformat(r["ts"]).timestamp() for r in records]
    return RunResult(records, ts, sampler, proc.returncode)


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
    return Collect(
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


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.1f} s"


def report(first: Collect, second: Collect | None, yearly: int) -> None:
    tenth = max(1, first.pages // 10)
    print(
        f"first sync (empty ledger): {first.rows} inbox rows of '{CATEGORY}' ({first.new} new) "
        f"in {first.pages} pages of {PAGE_ROWS}"
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
    grew = first.rss_peak_mb - first.rss_before_mb
    print(
        f"  robot's Python process:   {first.rss_before_mb:.0f} MB when the collect began, peak "
        f"{first.rss_peak_mb:.0f} MB during it (+{grew:.0f} MB, "
        f"{grew * 1024 / max(first.rows, 1):.1f} kB per row)"
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
        f"  (late pages took {late / early:.2f}× the early ones here; a page of an inbox paged "
        f"by OFFSET costs more the further in it is, which {first.pages} pages cannot show)"
    )
    print(f"  ledger: {duration(ledger)} (every row new; rows already handled cost less)")
    print(
        f"  memory: +{memory:,.0f} MB in the robot's Python process (every row is kept until "
        f"the register is written), {first.rss_before_mb + memory:,.0f} MB in all"
    )
    print(
        "  (one run pays this once: later runs read from the register's high-water mark; a "
        "run that fails before 'collected' pays it again)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=2000, help="seeded invoices (2000)")
    parser.add_argument("--chunk", type=int, default=1000, help="invoices per seed run (1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--yearly", type=int, default=80_000, help="small invoices a year")
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
        data = work / "data"
        data.mkdir()
        vault = data / "vault.json"
        password = json.loads(users.read_text("utf-8"))["robot"]["password"]
        vault.write_text(json.dumps({"erp": {"username": "robot", "password": password}}))
        vault.chmod(0o600)
        with running_mock(db) as server:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
            env |= {
                "PAYBOT_HOME": str(ROOT),
                "PAYBOT_ERP_URL": server.url,
                "PAYBOT_DATA_DIR": str(data),
                "PAYBOT_OUTPUT_DIR": str(work / "output"),
                "PAYBOT_VAULT_FILE": str(vault),
            }
            audit = data / "audit" / "audit.jsonl"
            first = analyse(run_until_collected(env, audit))
            second = None if args.no_second_run else analyse(run_until_collected(env, audit))
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
