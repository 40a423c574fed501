"""What the audit trail and the ledger cost on this machine's disk.

    python benchmarks/audit_costs.py [--dir D] [--records N] [--repeat R]

- append: µs per event through the whole processor chain of a signed trail, without and with
  ``fsync`` (**PASS** when an append without ``fsync`` stays under 300 µs);
- verify: ``robot audit verify``'s work (chain, and every signed checkpoint checked with the
  public key) over a generated signed trail of ``--records`` realistic records, against
  ``sha256sum`` reading the same file in the same run; medians of ``--repeat`` turns each
  (**PASS** when verify takes at most 3× ``sha256sum``);
- ledger: ms per claim → pay intent → paid cycle on SQLite (WAL, synchronous=FULL).

Run it on the disk the data directory lives on (``--dir``); tmpfs would flatter ``fsync``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import statistics
import subprocess
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from paybot.audit import GENESIS, AuditTrail, canonical_json, verify
from paybot.audit.signing import KeyRing, Signer, Verifier, new_key_pair
from paybot.ledger import Ledger

CHECKPOINT_EVERY = 1000


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


def bench_append(folder: Path, count: int, durable: bool, signer: Signer) -> float:
    path = folder / f"append-{'durable' if durable else 'plain'}.jsonl"
    with AuditTrail(
        path, forward_to_robocorp=False, signer=signer, checkpoint_every=CHECKPOINT_EVERY
    ) as trail:
        trail.checkpoint("run_start")
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


def generate_trail(path: Path, count: int, signer: Signer) -> None:
    """``count`` records, a signed checkpoint after every ``CHECKPOINT_EVERY`` of them, as the
    robot writes them."""
    prev = GENESIS
    first = GENESIS
    ts = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with open(path, "w", encoding="utf-8") as file:
        for i in range(count):
            seq = i + 1
            if seq > 1 and (seq - 1) % (CHECKPOINT_EVERY + 1) == 0:
                record = {
                    "event": "checkpoint",
                    "why": "interval",
                    "covers_seq": seq - 1,
                    "first_hash": first,
                    "key_id": signer.key_id,
                    "signature": signer.sign(first, seq - 1, prev),
                }
            else:
                record = sample_event(i)
            record["ts"] = (ts + dt.timedelta(seconds=i)).isoformat(timespec="microseconds")
            record["seq"] = seq
            record["prev"] = prev
            prev = hashlib.sha256(canonical_json(record).encode()).hexdigest()
            record["hash"] = prev
            if seq == 1:
                first = prev
            file.write(canonical_json(record) + "\n")


def bench_verify(path: Path, verifier: KeyRing, repeat: int, records: int) -> None:
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
        theirs.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = verify(path, verifier=verifier)
        ours.append(time.perf_counter() - start)
        assert result.ok and result.records == records and result.signed, result
    size = path.stat().st_size
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(
        f"verify: {records:,} records ({result.checkpoints:,} signed checkpoints), "
        f"{size / 1e6:.0f} MB ({size / records:.0f} B/record)"
    )
    print(
        f"  robot audit verify: {statistics.median(ours):.2f} s "
        f"(min {min(ours):.2f}, max {max(ours):.2f})"
    )
    print(
        f"  sha256sum:          {statistics.median(theirs):.2f} s "
        f"(min {min(theirs):.2f}, max {max(theirs):.2f})"
    )
    print(f"  ratio {ratio:.2f}x (target at most 3x): {'PASS' if ratio <= 3 else 'FAIL'}")


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
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="paybot-bench-", dir=args.dir))
    private, public = new_key_pair()
    signer = Signer.from_text(private, "benchmark")
    verifier = KeyRing((Verifier.from_text(public, "benchmark"),))
    try:
        plain = bench_append(folder, 5000, durable=False, signer=signer)
        durable = bench_append(folder, 300, durable=True, signer=signer)
        verdict = "PASS" if plain < 300 else "FAIL"
        print(f"append without fsync: {plain:8.1f} µs/event (target under 300 µs): {verdict}")
        print(f"append with fsync:    {durable:8.1f} µs/event")
        path = folder / "generated.jsonl"
        generate_trail(path, args.records, signer)
        bench_verify(path, verifier, args.repeat, args.records)
        print(f"ledger claim + intent + paid: {bench_ledger(folder, 300):.2f} ms/invoice")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
