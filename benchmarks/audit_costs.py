"""What the audit trail and the ledger cost on this machine's disk.

    python benchmarks/audit_costs.py [--dir D] [--records N]

- append: µs per event through the whole processor chain, without and with ``fsync``;
- verify: seconds per million records (a generated trail of ``--records`` realistic records);
- ledger: ms per claim → pay intent → paid cycle on SQLite (WAL, synchronous=FULL).

Run it on the disk the data directory lives on (``--dir``); tmpfs would flatter ``fsync``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from paybot.audit import GENESIS, AuditTrail, canonical_json, verify
from paybot.ledger import Ledger


def sample_event(i: int) -> dict[str, object]:
    return {
        "event": "decision",
        "run_id": "20261120-081500-3f9a",
        "robot": "small_invoices",
        "worker": "w1",
        "erp_id": 100_000 + i,
        "business_key": f"20433213:F-{i:06d}",
        "kind": "pay",
        "rule": "small.pay",
        "rule_version": "3 a1b2c3d4e5f6",
        "amount": "1250.00",
        "account_string": "6.45.51-000-2.2",
        "payment_date": "2026-11-23",
        "compared": {"payable_amount": "1250.00", "max_amount": "3000.00"},
    }


def bench_append(folder: Path, count: int, durable: bool) -> float:
    path = folder / f"append-{'durable' if durable else 'plain'}.jsonl"
    with AuditTrail(path, forward_to_robocorp=False) as trail:
        log = trail.logger()
        log.event("run_started")  # open the file, warm up
        start = time.perf_counter()
        for i in range(count):
            event = sample_event(i)
            name = str(event.pop("event"))
            log.event(name, durable=durable, **event)
        elapsed = time.perf_counter() - start
    assert verify(path).ok
    return elapsed / count * 1e6


def generate_trail(path: Path, count: int) -> None:
    prev = GENESIS
    ts = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with open(path, "w", encoding="utf-8") as file:
        for i in range(count):
            record = sample_event(i)
            record["ts"] = (ts + dt.timedelta(seconds=i)).isoformat(timespec="microseconds")
            record["seq"] = i + 1
            record["prev"] = prev
            prev = hashlib.sha256(canonical_json(record).encode()).hexdigest()
            record["hash"] = prev
            file.write(canonical_json(record) + "\n")


def bench_ledger(folder: Path, count: int) -> float:
    ledger = Ledger(f"sqlite:///{folder / 'ledger.sqlite'}")
    ledger.create_schema()
    for i in range(count):
        ledger.ensure_work("bench", i, f"20433213:F-{i}", "r1")
    start = time.perf_counter()
    while (item := ledger.claim_next("bench", "w1", "r1", 300)) is not None:
        intent = ledger.record_pay_intent(
            item,
            "w1",
            amount=Decimal("1250.00"),
            account_string="6.45.51-000-2.2",
            payment_date=dt.date(2026, 11, 23),
            rule_version="v",
        )
        ledger.record_paid(intent.item, "w1", f"B-2026-{item.erp_id:06d}")
    elapsed = time.perf_counter() - start
    ledger.close()
    return elapsed / count * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="paybot-bench-", dir=args.dir))
    try:
        plain = bench_append(folder, 5000, durable=False)
        durable = bench_append(folder, 300, durable=True)
        print(f"append without fsync: {plain:8.1f} µs/event")
        print(f"append with fsync:    {durable:8.1f} µs/event")
        path = folder / "generated.jsonl"
        generate_trail(path, args.records)
        size = path.stat().st_size
        start = time.perf_counter()
        result = verify(path)
        seconds = time.perf_counter() - start
        assert result.ok and result.records == args.records
        per_million = seconds / args.records * 1e6
        print(
            f"verify: {args.records} records, {size / 1e6:.0f} MB "
            f"({size / args.records:.0f} B/record): {seconds:.1f} s "
            f"= {per_million:.1f} s per million records"
        )
        print(f"ledger claim + intent + paid: {bench_ledger(folder, 300):.2f} ms/invoice")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
