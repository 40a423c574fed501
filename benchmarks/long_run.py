"""Memory of a long run: the whole process tree (robot, chromedriver, Chromium) over many
invoices, with and without a fresh browser every N invoices.

    .venv/bin/python benchmarks/long_run.py [--invoices 300] [--restart-every 0 100]
        [--seed 1] [--chunk 1000] [--keep]

Seeds a mock with enough invoices that at least ``--invoices`` new small invoices wait in the
robot's inbox (seeded in chunks of ``--chunk`` and imported, as ``collect_scale.py`` does; the
new small invoices past ``--invoices`` are moved to another category, so the robot works on
exactly that many). Then, once per value of ``--restart-every`` (``runner.browser_restart_every``,
0: never), runs ``robot run pay-small-invoices`` on a fresh copy of that database and samples
VmRSS of every process of the run's tree every 50 ms (``proc_rss.TreeSampler``).

Printed per run: the invoices done, the time per invoice, and the tree's memory (the median
of the samples in a window of 20 invoices) after the first tenth of the invoices (warm: the
browser has opened every kind of page) and at the end, the growth between them in MB and per
1,000 invoices, extrapolated to 5,000 invoices; and the peaks. The target (issue 10): growth
of the whole tree at most 50 MB over 5,000 invoices. VmRSS counts pages shared by Chromium's
processes once in each, so the sum is an upper bound; its growth is what is compared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from collect_scale import build_mock
from proc_rss import TreeSampler

from paybot.audit.signing import new_key_pair

ROOT = Path(__file__).resolve().parents[1]
ROBOT = "pay-small-invoices"
CATEGORY = "oevrige"
TARGET_MB = 50.0
TARGET_INVOICES = 5000
WINDOW = 20
RUN_TIMEOUT_SECONDS = 6 * 3600


class LongRunFailed(Exception):
    pass


def new_small_invoices(db: Path) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT id FROM invoices WHERE category = ? AND status = 'ny' ORDER BY id", (CATEGORY,)
        ).fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows]


def keep_only(db: Path, invoices: int) -> int:
    """Move the new small invoices past the first ``invoices`` to another category."""
    ids = new_small_invoices(db)
    conn = sqlite3.connect(db)
    try:
        conn.executemany(
            "UPDATE invoices SET category = 'tolk' WHERE id = ?", [(i,) for i in ids[invoices:]]
        )
        conn.commit()
    finally:
        conn.close()
    return min(invoices, len(ids))


@dataclass
class Run:
    restart_every: int
    invoices: int
    seconds: float
    warm_mb: float
    end_mb: float
    high_mb: float
    """The highest window after the first tenth: what the run held at its fullest."""
    peak_mb: float
    peak_chromium_mb: float
    exit_code: int
    restarts: int

    @property
    def growth_mb(self) -> float:
        return self.end_mb - self.warm_mb

    @property
    def per_1000_mb(self) -> float:
        span = self.invoices - self.invoices // 10
        return self.growth_mb / max(span, 1) * 1000


def finished_times(audit: Path) -> list[float]:
    """When each invoice reached a final state (PAID, MANUAL, SKIPPED), from the trail."""
    out = []
    for line in audit.read_text("utf-8").splitlines():
        r = json.loads(line)
        if r["event"] == "state_changed" and r.get("to") in ("PAID", "MANUAL", "SKIPPED"):
            out.append(dt.datetime.fromisoformat(r["ts"]).timestamp())
    return out


def tree_mb_between(sampler: TreeSampler, start: float, end: float) -> float:
    sums = [sum(kb.values()) for t, kb in sampler.series if start <= t <= end]
    return statistics.median(sums) / 1024 if sums else 0.0


def run_once(work: Path, template_db: Path, users: Path, restart_every: int) -> Run:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.mockserver import running_mock

    root = work / f"run-every-{restart_every}"
    root.mkdir()
    db = root / "mockerp.sqlite"
    shutil.copyfile(template_db, db)
    data = root / "data"
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
            "PAYBOT_OUTPUT_DIR": str(root / "output"),
            "PAYBOT_VAULT_FILE": str(vault),
            "PAYBOT_AUDIT_SIGNING_KEY": new_key_pair()[0],  # signed, as in production
            "PAYBOT_RUNNER_BROWSER_RESTART_EVERY": str(restart_every),
        }
        began = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "paybot", "run", ROBOT],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sampler = TreeSampler(proc.pid, keep_series=True)
        sampler.start()
        try:
            code = proc.wait(timeout=RUN_TIMEOUT_SECONDS)
        finally:
            sampler.stop()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        seconds = time.monotonic() - began
    done = finished_times(data / "audit" / "audit.jsonl")
    if len(done) < 2 * WINDOW:
        raise LongRunFailed(f"only {len(done)} invoices finished (exit {code})")
    warm_at = max(len(done) // 10, WINDOW)
    warm = tree_mb_between(sampler, done[warm_at - WINDOW], done[warm_at])
    end = tree_mb_between(sampler, done[-WINDOW], done[-1])
    high = max(
        tree_mb_between(sampler, done[i - WINDOW], done[i])
        for i in range(warm_at, len(done), WINDOW // 2)
    )
    report = json.loads(next((root / "output" / "runs").glob("*/report.json")).read_text("utf-8"))
    return Run(
        restart_every=restart_every,
        invoices=len(done),
        seconds=seconds,
        warm_mb=warm,
        end_mb=end,
        high_mb=high,
        peak_mb=sampler.peak_total_kb / 1024,
        peak_chromium_mb=sampler.peak_kind_kb["chromium"] / 1024,
        exit_code=code,
        restarts=int(report.get("browser_restarts", 0)),
    )


def print_run(r: Run) -> None:
    label = f"a fresh browser every {r.restart_every}" if r.restart_every else "one browser"
    print(f"{label}: {r.invoices} invoices in {r.seconds / 60:.1f} min "
          f"({r.seconds / max(r.invoices, 1) * 1000:.0f} ms each), exit {r.exit_code}")  # fmt: skip
    print(
        f"  whole tree: {r.warm_mb:.0f} MB after the first tenth, {r.end_mb:.0f} MB at the end "
        f"({r.growth_mb:+.0f} MB), {r.high_mb:.0f} MB at the highest "
        f"({r.high_mb - r.warm_mb:+.0f} MB)"
    )
    if r.restart_every:
        print(
            f"  a fresh browser every {r.restart_every} invoices: the tree goes back to a fresh "
            f"browser's size, so its growth is bounded by what one browser gains in "
            f"{r.restart_every} invoices, however long the run"
        )
    else:
        at_target = r.per_1000_mb * TARGET_INVOICES / 1000
        verdict = "within" if at_target <= TARGET_MB else "OVER"
        print(
            f"  {r.per_1000_mb:+.1f} MB per 1,000 invoices: {at_target:+.0f} MB over "
            f"{TARGET_INVOICES:,} if it keeps growing so ({verdict} the {TARGET_MB:.0f} MB "
            "target)"
        )
    print(f"  peaks: tree {r.peak_mb:.0f} MB, Chromium {r.peak_chromium_mb:.0f} MB; "
          f"browser failures replaced: {r.restarts}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=300, help="invoices to work (300)")
    parser.add_argument(
        "--restart-every",
        type=int,
        nargs="+",
        default=[0, 100],
        help="runner.browser_restart_every values to compare (0 100)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="paybot-long-run-"))
    try:
        began = time.monotonic()
        # About half of the seeded invoices are new small ones.
        db, users = build_mock(work, args.invoices * 2 + 100, args.chunk, args.seed)
        have = keep_only(db, args.invoices)
        print(f"mock with {have} new small invoices built in {time.monotonic() - began:.0f} s")
        for every in args.restart_every:
            print_run(run_once(work, db, users, every))
        print(f"(took {(time.monotonic() - began) / 60:.1f} min)")
    except LongRunFailed as exc:
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
