"""Invoices per minute with 1, 2 and 4 workers, on one and on two robot "machines" sharing one
PostgreSQL, against the mock finance system answering every request after 300 ms.

    .venv/bin/python benchmarks/scale_out.py [--invoices 200] [--latency-ms 300]
        [--configs 1x1,1x2,1x4,2x1,2x2] [--seed 3] [--keep] [--json FILE]

``MxW`` is M machines with W workers (browsers) each. Every configuration starts from a fresh
copy of one seeded mock database (``--invoices`` documents give about half as many new small
invoices for ``pay-small-invoices``) behind its own mock server, and a fresh database in a
throwaway PostgreSQL cluster on 127.0.0.1 (Debian's server, as the tests start it). A
"machine" is a ``robot run`` process with its own data folder, output folder, audit trail and
``PAYBOT_MACHINE``; the machines of a configuration start together (``nice -n 5``) and share
only the ledger. After each configuration, ``robot erp compare`` must report every small
invoice as the ground truth says and no invoice may have two payments, or the benchmark stops
with FAIL (exit 1).

Two figures per configuration:

- **total**: invoices / (first process start → last process end), browser start, login,
  preflight and collect included;
- **work**: invoices / (first decision recorded in the ledger → last item finished): the
  per-invoice phase, where more browsers help.

Both machines of a two-machine configuration run on this host: they share its CPU, so the
figures show the shared queue's overhead and correctness, not a second machine's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from paybot.audit.signing import new_key_pair
from paybot.ledger import Ledger

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.mockserver import running_mock  # noqa: E402
from support.postgres import running_cluster  # noqa: E402

ROBOT = "pay-small-invoices"
CATEGORY = "oevrige"


class BenchmarkFailed(Exception):
    pass


@dataclass
class Result:
    config: str
    machines: int
    workers_each: int
    invoices: int
    total_seconds: float
    work_seconds: float

    @property
    def total_per_minute(self) -> float:
        return self.invoices * 60 / self.total_seconds

    @property
    def work_per_minute(self) -> float:
        return self.invoices * 60 / self.work_seconds if self.work_seconds > 0 else 0.0


def seed(folder: Path, invoices: int, seed_value: int) -> tuple[Path, Path, Path, int]:
    folder.mkdir(parents=True)
    db = folder / "mockerp.sqlite"
    cmd = [sys.executable, "-m", "paybot", "erp", "seed", "--db", str(db)]
    cmd += ["--invoices", str(invoices), "--seed", str(seed_value)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchmarkFailed(f"seeding failed:\n{done.stdout}{done.stderr}")
    truth = folder / "mockerp.truth.json"
    small = [
        d
        for d in json.loads(truth.read_text("utf-8"))["documents"]
        if d["category"] == CATEGORY and d["status"] == "ny"
    ]
    return db, truth, folder / "mockerp-users.json", len(small)


def check(db: Path, truth: Path, expected: int) -> None:
    cmd = [sys.executable, "-m", "paybot", "erp", "compare", "--db", str(db)]
    cmd += ["--truth", str(truth), "--category", CATEGORY]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    want = f"{CATEGORY}: {expected} of {expected} as expected"
    if done.returncode != 0 or done.stdout.strip() != want:
        raise BenchmarkFailed(f"not as the ground truth says:\n{done.stdout}{done.stderr}")
    conn = sqlite3.connect(db)
    try:
        twice = conn.execute(
            "SELECT invoice_id FROM payments GROUP BY invoice_id HAVING COUNT(*) > 1"
        ).fetchall()
    finally:
        conn.close()
    if twice:
        raise BenchmarkFailed(f"paid twice: {[r[0] for r in twice]}")


def work_seconds(url: str) -> float:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT min(at) FROM decisions")).scalar()
            last = conn.execute(text("SELECT max(updated_at) FROM work_items")).scalar()
    finally:
        engine.dispose()
    return (last - first).total_seconds() if first and last else 0.0


def run_config(
    root: Path, cluster: Any, template: tuple[Path, Path, Path, int], spec: str, latency: int
) -> Result:
    machines, workers = (int(x) for x in spec.split("x"))
    db_template, truth, users, expected = template
    root.mkdir(parents=True)
    db = root / "mockerp.sqlite"
    shutil.copyfile(db_template, db)
    url = cluster.url(cluster.create_database()).replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    ledger = Ledger(url)
    ledger.create_schema()  # `robot db upgrade`, once before the machines start
    ledger.close()
    password = json.loads(users.read_text("utf-8"))["robot"]["password"]
    vault = root / "vault.json"
    vault.write_text(
        json.dumps(
            {
                "erp": {"username": "robot", "password": password},
                "pseudonym_key": secrets.token_hex(32),
            }
        )
    )
    vault.chmod(0o600)
    with running_mock(db, latency_ms=latency) as server:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
        base |= {
            "PAYBOT_HOME": str(ROOT),
            "PAYBOT_ERP_URL": server.url,
            "PAYBOT_VAULT_FILE": str(vault),
            "PAYBOT_LEDGER_URL": url,
            "PAYBOT_AUDIT_SIGNING_KEY": new_key_pair()[0],
        }
        procs = []
        started = time.monotonic()
        for n in range(1, machines + 1):
            env = base | {
                "PAYBOT_MACHINE": f"robot-{n}",
                "PAYBOT_DATA_DIR": str(root / f"robot-{n}" / "data"),
                "PAYBOT_OUTPUT_DIR": str(root / f"robot-{n}" / "output"),
            }
            cmd = ["nice", "-n", "5", sys.executable, "-m", "paybot", "run", ROBOT]
            cmd += ["--workers", str(workers)]
            procs.append(
                subprocess.Popen(
                    cmd,
                    env=env,
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        outputs = [p.communicate()[0] for p in procs]
        total = time.monotonic() - started
        for p, out in zip(procs, outputs, strict=True):
            if p.returncode != 0:
                raise BenchmarkFailed(f"{spec}: robot run exit {p.returncode}:\n{out[-3000:]}")
    check(db, truth, expected)
    return Result(spec, machines, workers, expected, total, work_seconds(url))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--configs", default="1x1,1x2,1x4,2x1,2x2")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="paybot-scale-"))
    results: list[Result] = []
    try:
        template = seed(folder / "seed", args.invoices, args.seed)
        print(
            f"{template[3]} new small invoices per configuration, finance system latency "
            f"{args.latency_ms} ms, load average {os.getloadavg()[0]:.1f} at start",
            flush=True,
        )
        with running_cluster() as cluster:
            for spec in args.configs.split(","):
                result = run_config(folder / spec, cluster, template, spec, args.latency_ms)
                results.append(result)
                print(
                    f"{spec}: {result.machines} machine(s) × {result.workers_each} worker(s): "
                    f"total {result.total_per_minute:.1f}/min ({result.total_seconds:.0f} s), "
                    f"work {result.work_per_minute:.1f}/min ({result.work_seconds:.0f} s); "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    except BenchmarkFailed as exc:
        print(f"FAIL: {exc}")
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    base = results[0].work_per_minute if results else 0
    print(
        "\n| configuration | workers in all | invoices/min (total) | invoices/min (work) "
        "| × one worker (work) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        ratio = r.work_per_minute / base if base else 0
        print(
            f"| {r.machines} machine(s) × {r.workers_each} | {r.machines * r.workers_each} | "
            f"{r.total_per_minute:.1f} | {r.work_per_minute:.1f} | {ratio:.2f}× |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    asdict(r)
                    | {"total_per_minute": r.total_per_minute, "work_per_minute": r.work_per_minute}
                    for r in results
                ],
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
