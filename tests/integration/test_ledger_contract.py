"""One contract for every ledger: the in-memory fake, the real SQLite file and a real
PostgreSQL server (the tests' throwaway cluster, tests/support/postgres.py) behave the same (as
APScheduler's data-store tests run over memory, SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from paybot.domain.models import Category, ErpStatus, RegisterEntry
from paybot.errors import LedgerError
from paybot.ledger import InMemoryLedger, Ledger, LedgerPort, State, WorkItem
from paybot.run_folder import Counts
from support.clock import FakeClock
from support.db import generated_cpr

ROBOT = "small_invoices"
RUN = "20261120-081500-3f9a"
LEASE = 300.0
START = dt.datetime(2026, 11, 20, 8, 15, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def ledger(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[LedgerPort]:
    made: LedgerPort
    if request.param == "memory":
        made = InMemoryLedger(clock=clock)
    elif request.param == "postgresql":
        made = Ledger(request.getfixturevalue("postgres_ledger_url"), clock=clock)
    else:
        made = Ledger(f"sqlite:///{tmp_path / 'data' / 'ledger.sqlite'}", clock=clock)
    made.create_schema()
    yield made
    made.close()


def pay(ledger: LedgerPort, item: WorkItem, worker: str = "w1", amount: str = "1250.00") -> None:
    ledger.record_pay_intent(
        item,
        worker,
        amount=Decimal(amount),
        account_string="6.45.51-000-2.2",
        payment_date=dt.date(2026, 11, 23),
        rule_version="1 abcdef012345",
    )


def entry(erp_id: int, number: str, status: ErpStatus = ErpStatus.NEW) -> RegisterEntry:
    return RegisterEntry(
        erp_id=erp_id,
        category=Category.OTHER,
        status=status,
        supplier_cvr="20433213",
        invoice_number=number,
        issue_date=dt.date(2026, 11, 19),
        payable_amount=Decimal("1250.00"),
    )


# --- work items ------------------------------------------------------------------------------


def test_ensure_work_is_idempotent(ledger: LedgerPort) -> None:
    first = ledger.ensure_work(ROBOT, 17, "20433213:F-17", RUN)
    again = ledger.ensure_work(ROBOT, 17, "20433213:F-17", "another-run")
    assert first.id == again.id
    assert again.state is State.PENDING and again.attempts == 0 and again.run_id == RUN
    assert [i.erp_id for i in ledger.items(ROBOT)] == [17]
    assert ledger.item(ROBOT, 18) is None


def test_ensure_work_leaves_a_handled_item_alone(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 17, "20433213:F-17", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    ledger.record_skipped(item, "w1", "paid by a clerk")
    assert ledger.ensure_work(ROBOT, 17, "20433213:F-17", "next-run").state is State.SKIPPED


def test_claims_go_lowest_loebenr_first_and_never_twice(ledger: LedgerPort) -> None:
    for erp_id in (30, 10, 20):
        ledger.ensure_work(ROBOT, erp_id, f"20433213:F-{erp_id}", RUN)
    claimed = [ledger.claim_next(ROBOT, f"w{n}", RUN, LEASE) for n in range(4)]
    assert [c.erp_id if c else None for c in claimed] == [10, 20, 30, None]
    first = claimed[0]
    assert first is not None
    assert first.lease_owner == "w0" and first.lease_token == 1
    assert first.lease_expires == START + dt.timedelta(seconds=LEASE)


def test_many_items_at_once_are_like_one_at_a_time(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 2, "20433213:F-2", "old-run")
    ledger.ensure_work_many(
        ROBOT, [(1, "20433213:F-1"), (2, "20433213:F-2"), (3, "20433213:F-3")], RUN
    )
    items = {i.erp_id: i for i in ledger.items(ROBOT)}
    assert sorted(items) == [1, 2, 3]
    assert items[2].run_id == "old-run"  # an existing item is left as it was
    assert {i.state for i in items.values()} == {State.PENDING}


def test_claims_stay_within_the_robot(ledger: LedgerPort) -> None:
    ledger.ensure_work("interpreter_invoices", 1, "20433213:T-1", RUN)
    assert ledger.claim_next(ROBOT, "w1", RUN, LEASE) is None


def test_a_released_item_can_be_claimed_again(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    assert ledger.release(item, "w1") is True
    again = ledger.claim_next(ROBOT, "w2", RUN, LEASE)
    assert again is not None and again.erp_id == 1 and again.lease_token == 2
    assert ledger.release(item, "w1") is False  # the old handle is not the holder any more


def test_an_item_done_for_this_run_waits_for_the_next_run(ledger: LedgerPort) -> None:
    """A dry run looks at each item once: released as done for the run, the item is not handed
    out again in that run, but is in the next one, with its state unchanged."""
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    assert ledger.release(item, "w1", done_this_run=True) is True
    assert ledger.claim_next(ROBOT, "w1", RUN, LEASE) is None
    later = ledger.claim_next(ROBOT, "w1", "run-2", LEASE)
    assert later is not None and later.erp_id == 1 and later.state == State.PENDING


def test_the_lock_holder_frees_a_dead_runs_leases_at_once(ledger: LedgerPort) -> None:
    for erp_id in (1, 2):
        ledger.ensure_work(ROBOT, erp_id, f"20433213:F-{erp_id}", "dead-run")
    dead = ledger.claim_next(ROBOT, "w1", "dead-run", LEASE)
    assert dead is not None
    ledger.record_pay_intent(
        dead,
        "w1",
        amount=Decimal("10.00"),
        account_string="6.45.51-000-2.2",
        payment_date=dt.date(2026, 11, 30),
        rule_version="v",
    )
    mine = ledger.claim_next(ROBOT, "w1", "next-run", LEASE)
    assert mine is not None and mine.erp_id == 2  # item 1 is still leased to the dead run
    assert ledger.release_leases_of_other_runs(ROBOT, "next-run") == [1]
    taken = ledger.claim_next(ROBOT, "w2", "next-run", LEASE)
    assert taken is not None and taken.erp_id == 1 and taken.state == State.PAY_INTENT
    assert ledger.release_leases_of_other_runs(ROBOT, "next-run") == []  # ours are kept


def test_a_dead_workers_lease_expires_and_the_item_is_taken_over(
    ledger: LedgerPort, clock: FakeClock
) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    dead = ledger.claim_next(ROBOT, "run1/w1", RUN, LEASE)
    assert dead is not None
    clock.advance(dt.timedelta(seconds=LEASE - 1))
    assert ledger.claim_next(ROBOT, "run2/w1", "run2", LEASE) is None  # still leased
    clock.advance(dt.timedelta(seconds=1))
    taken = ledger.claim_next(ROBOT, "run2/w1", "run2", LEASE)
    assert taken is not None and taken.erp_id == 1 and taken.run_id == "run2"
    assert taken.lease_token == dead.lease_token + 1
    # The first worker wakes up: it can change nothing.
    with pytest.raises(LedgerError, match=r"Løbenr 1 .*held by run2/w1"):
        pay(ledger, dead, "run1/w1")
    with pytest.raises(LedgerError, match="Løbenr 1"):
        ledger.renew(dead, "run1/w1", LEASE)
    pay(ledger, taken, "run2/w1")
    assert ledger.item(ROBOT, 1) is not None


def test_an_expired_lease_refuses_the_intent_even_before_takeover(
    ledger: LedgerPort, clock: FakeClock
) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    clock.advance(dt.timedelta(seconds=LEASE + 1))
    with pytest.raises(LedgerError, match="expired"):
        pay(ledger, item, "w1")
    current = ledger.item(ROBOT, 1)
    assert current is not None and current.state is State.PENDING


def test_renewing_keeps_the_item(ledger: LedgerPort, clock: FakeClock) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    clock.advance(dt.timedelta(seconds=LEASE - 10))
    renewed = ledger.renew(item, "w1", LEASE)
    assert renewed.lease_expires == clock.now + dt.timedelta(seconds=LEASE)
    clock.advance(dt.timedelta(seconds=60))
    assert ledger.claim_next(ROBOT, "w2", RUN, LEASE) is None
    pay(ledger, item, "w1")  # the original handle still holds it (same token)


def test_the_wrong_worker_name_cannot_use_a_handle(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    with pytest.raises(LedgerError, match="held by w1"):
        pay(ledger, item, "w2")


def test_the_payment_path(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    intent = ledger.record_pay_intent(
        item,
        "w1",
        amount=Decimal("1019.48"),
        account_string="5.46.60-014-4.0",
        payment_date=dt.date(2026, 11, 23),
        rule_version="2024 0123456789ab",
    )
    assert (intent.old, intent.new) == (State.PENDING, State.PAY_INTENT)
    assert intent.item.amount == Decimal("1019.48") and isinstance(intent.item.amount, Decimal)
    assert intent.item.lease_owner == "w1"  # still ours: now click
    assert intent.audit_fields() == {
        "erp_id": 1,
        "business_key": "20433213:F-1",
        "from": "PENDING",
        "to": "PAY_INTENT",
    }
    paid = ledger.record_paid(intent.item, "w1", "B-2026-000123")
    assert (paid.old, paid.new) == (State.PAY_INTENT, State.PAID)
    assert paid.item.voucher == "B-2026-000123" and paid.item.lease_owner is None
    stored = ledger.item(ROBOT, 1)
    assert stored is not None
    assert stored.state is State.PAID and stored.amount == Decimal("1019.48")
    assert stored.payment_date == dt.date(2026, 11, 23) and stored.decision_kind == "pay"
    assert ledger.paid_voucher("20433213:F-1") == "B-2026-000123"
    assert ledger.paid_voucher("20433213:F-2") is None
    assert ledger.claim_next(ROBOT, "w2", RUN, LEASE) is None


def test_money_must_be_a_decimal(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    with pytest.raises(TypeError, match="Løbenr 1"):
        ledger.record_pay_intent(
            item,
            "w1",
            amount=1250.0,  # type: ignore[arg-type]
            account_string="x",
            payment_date=dt.date(2026, 11, 23),
            rule_version="v",
        )


def test_the_manual_path(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    intent = ledger.record_manual_intent(
        item, "w1", reason="MANUAL_DUPLICATE", rule_version="1 abcdef012345"
    )
    assert (intent.old, intent.new) == (State.PENDING, State.MANUAL_INTENT)
    done = ledger.record_manual_done(intent.item, "w1")
    assert (done.old, done.new) == (State.MANUAL_INTENT, State.MANUAL)
    assert done.item.reason == "MANUAL_DUPLICATE" and done.item.lease_owner is None


@pytest.mark.parametrize(
    ("call", "state_word"),
    [("record_paid", "PENDING"), ("record_manual_done", "PENDING"), ("cancel_intent", "PENDING")],
)
def test_changes_from_the_wrong_state_are_refused(
    ledger: LedgerPort, call: str, state_word: str
) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    with pytest.raises(LedgerError, match=f"Løbenr 1 .*{call}.*{state_word}"):
        if call == "record_paid":
            ledger.record_paid(item, "w1", "B-1")
        elif call == "record_manual_done":
            ledger.record_manual_done(item, "w1")
        else:
            ledger.cancel_intent(item, "w1", "x")


def test_a_second_payment_of_one_business_key_is_refused(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    ledger.ensure_work(ROBOT, 2, "20433213:F-1", RUN)  # the same invoice, received twice
    first = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    second = ledger.claim_next(ROBOT, "w2", RUN, LEASE)
    assert first is not None and second is not None
    pay(ledger, first, "w1")
    with pytest.raises(LedgerError, match=r"Løbenr 2 .*20433213:F-1 is already PAY_INTENT"):
        pay(ledger, second, "w2")
    stored = ledger.item(ROBOT, 2)
    assert stored is not None and stored.state is State.PENDING


def test_the_refusal_spans_robots_and_survives_payment(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    ledger.ensure_work("medical_certificates", 7, "20433213:F-1", RUN)
    mine = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    theirs = ledger.claim_next("medical_certificates", "w9", RUN, LEASE)
    assert mine is not None and theirs is not None
    pay(ledger, mine, "w1")
    intent = ledger.item(ROBOT, 1)
    assert intent is not None
    ledger.record_paid(intent, "w1", "B-2026-000001")
    with pytest.raises(LedgerError, match="already PAID"):
        pay(ledger, theirs, "w9")


def test_a_cancelled_intent_frees_the_business_key(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    ledger.ensure_work(ROBOT, 2, "20433213:F-1", RUN)
    first = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    second = ledger.claim_next(ROBOT, "w2", RUN, LEASE)
    assert first is not None and second is not None
    pay(ledger, first, "w1")
    ledger.cancel_intent(first, "w1", "still new in the finance system")
    pay(ledger, second, "w2")


def test_an_item_without_business_key_cannot_be_paid(ledger: LedgerPort) -> None:
    ledger.ensure_work(ROBOT, 1, "", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    with pytest.raises(LedgerError, match=r"Løbenr 1 .*business key"):
        pay(ledger, item, "w1")


# --- reconciliation after a crash ------------------------------------------------------------


def crashed_intent(ledger: LedgerPort, clock: FakeClock, manual: bool = False) -> WorkItem:
    """A run recorded an intent and died; the next run claims the item once the lease ran out."""
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", "run1")
    item = ledger.claim_next(ROBOT, "run1/w1", "run1", LEASE)
    assert item is not None
    if manual:
        ledger.record_manual_intent(item, "run1/w1", reason="MANUAL_AMOUNT", rule_version="v")
    else:
        pay(ledger, item, "run1/w1")
    clock.advance(dt.timedelta(seconds=LEASE + 1))
    again = ledger.claim_next(ROBOT, "run2/w1", "run2", LEASE)
    assert again is not None
    assert again.state is (State.MANUAL_INTENT if manual else State.PAY_INTENT)
    return again


def test_reconcile_found_paid_records_the_voucher(ledger: LedgerPort, clock: FakeClock) -> None:
    item = crashed_intent(ledger, clock)
    done = ledger.record_paid(item, "run2/w1", "B-2026-000777")
    assert (done.old, done.new) == (State.PAY_INTENT, State.PAID)


def test_reconcile_found_new_cancels_and_pays_again(ledger: LedgerPort, clock: FakeClock) -> None:
    item = crashed_intent(ledger, clock)
    back = ledger.cancel_intent(item, "run2/w1", "still Ny in the finance system")
    assert (back.old, back.new) == (State.PAY_INTENT, State.PENDING)
    assert back.item.amount is None and back.item.lease_owner == "run2/w1"
    assert back.item.note == "still Ny in the finance system"
    pay(ledger, back.item, "run2/w1")
    paid = ledger.record_paid(back.item, "run2/w1", "B-2026-000778")
    assert paid.new is State.PAID


def test_reconcile_found_manual_by_someone_else_skips(ledger: LedgerPort, clock: FakeClock) -> None:
    item = crashed_intent(ledger, clock)
    skipped = ledger.record_skipped(item, "run2/w1", "sent to manual handling by a clerk")
    assert (skipped.old, skipped.new) == (State.PAY_INTENT, State.SKIPPED)
    assert ledger.claim_next(ROBOT, "run2/w1", "run2", LEASE) is None


def test_reconcile_a_manual_intent(ledger: LedgerPort, clock: FakeClock) -> None:
    item = crashed_intent(ledger, clock, manual=True)
    done = ledger.record_manual_done(item, "run2/w1")
    assert (done.old, done.new) == (State.MANUAL_INTENT, State.MANUAL)


# --- application failures --------------------------------------------------------------------


def test_a_failure_counts_keeps_the_masked_error_and_waits_for_the_next_run(
    ledger: LedgerPort,
) -> None:
    cpr = generated_cpr(random.Random(5))
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    ledger.ensure_work(ROBOT, 2, "20433213:F-2", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None and item.erp_id == 1
    assert ledger.record_failure(item, "w1", TimeoutError(f"page for {cpr} timed out")) == 1
    stored = ledger.item(ROBOT, 1)
    assert stored is not None
    assert stored.state is State.PENDING and stored.lease_owner is None
    assert stored.last_error == f"TimeoutError: page for {cpr[:6]}-**** timed out"
    nxt = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert nxt is not None and nxt.erp_id == 2  # not item 1 again in this run
    retry = ledger.claim_next(ROBOT, "w1", "next-run", LEASE)
    assert retry is not None and retry.erp_id == 1
    assert ledger.record_failure(retry, "w1", "HTTP 500") == 2


def test_a_failure_needs_the_lease(ledger: LedgerPort, clock: FakeClock) -> None:
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    clock.advance(dt.timedelta(seconds=LEASE))
    with pytest.raises(LedgerError, match="Løbenr 1"):
        ledger.record_failure(item, "w1", "late")


def test_items_by_state(ledger: LedgerPort) -> None:
    for erp_id in (1, 2, 3):
        ledger.ensure_work(ROBOT, erp_id, f"20433213:F-{erp_id}", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    ledger.record_skipped(item, "w1", "handled")
    assert [i.erp_id for i in ledger.items(ROBOT, [State.PENDING])] == [2, 3]
    assert [i.erp_id for i in ledger.items(ROBOT, [State.SKIPPED])] == [1]
    assert [i.erp_id for i in ledger.items(ROBOT)] == [1, 2, 3]


def test_threads_claiming_never_share_an_item(ledger: LedgerPort) -> None:
    for erp_id in range(1, 121):
        ledger.ensure_work(ROBOT, erp_id, f"20433213:F-{erp_id}", RUN)
    got: dict[str, list[int]] = {f"w{n}": [] for n in range(4)}
    barrier = threading.Barrier(4)

    def work(worker: str) -> None:
        barrier.wait()
        while (item := ledger.claim_next(ROBOT, worker, RUN, LEASE)) is not None:
            got[worker].append(item.erp_id)
            ledger.record_skipped(item, worker, "test")

    threads = [threading.Thread(target=work, args=(w,)) for w in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [erp for ids in got.values() for erp in ids]
    assert sorted(claimed) == list(range(1, 121))


# --- the register ----------------------------------------------------------------------------


def test_register_high_water_and_entries(ledger: LedgerPort) -> None:
    assert ledger.register_high_water(ROBOT) == 0
    count = ledger.upsert_register(
        ROBOT, [(entry(5, "F-5"), ["cvr+nr:20433213:F-5"]), (entry(9, "F-9"), [])]
    )
    assert count == 2
    assert ledger.register_high_water(ROBOT) == 9
    assert ledger.register_high_water("other") == 0
    stored = ledger.register_entry(ROBOT, 5)
    assert stored == entry(5, "F-5")
    assert stored is not None and isinstance(stored.payable_amount, Decimal)
    ledger.upsert_register(ROBOT, [(entry(5, "F-5", ErpStatus.PAID), [])])
    updated = ledger.register_entry(ROBOT, 5)
    assert updated is not None and updated.status is ErpStatus.PAID


def test_an_inbox_page_is_committed_with_its_work_and_the_collect_mark(
    ledger: LedgerPort,
) -> None:
    assert ledger.collect_mark(ROBOT, "oevrige") == 0
    page = [(entry(3, "F-3"), ["cvr+nr:20433213:F-3"]), (entry(7, "F-7", ErpStatus.PAID), [])]
    mark = ledger.record_inbox_page(ROBOT, "oevrige", page, [(3, "20433213:F-3")], RUN)
    assert mark == 7 and ledger.collect_mark(ROBOT, "oevrige") == 7
    assert [i.erp_id for i in ledger.items(ROBOT)] == [3]
    assert ledger.register_entry(ROBOT, 7) is not None
    # Repeating a page (a retry) changes nothing; an empty page keeps the mark.
    assert ledger.record_inbox_page(ROBOT, "oevrige", page, [(3, "20433213:F-3")], RUN) == 7
    assert ledger.record_inbox_page(ROBOT, "oevrige", [], [], RUN) == 7
    assert len(ledger.items(ROBOT)) == 1
    assert ledger.collect_mark(ROBOT, "tolk") == 7, "no mark yet: the register's high water"
    assert ledger.collect_mark("other", "oevrige") == 0


def test_earlier_document_by_shared_key(ledger: LedgerPort) -> None:
    key = "cvr+nr:20433213:F-5"
    ledger.upsert_register(
        ROBOT,
        [
            (entry(5, "F-5", ErpStatus.MANUAL), [key, "cvr+beloeb+dato:a"]),
            (entry(8, "F-5"), [key]),
            (entry(12, "F-5"), [key]),
        ],
    )
    earlier = ledger.earlier_document(ROBOT, 8, [key])
    assert earlier is not None
    assert (earlier.erp_id, earlier.key, earlier.status) == (5, key, ErpStatus.MANUAL)
    first = ledger.earlier_document(ROBOT, 12, ["nope", key])
    assert first is not None and first.erp_id == 5  # the earliest
    assert ledger.earlier_document(ROBOT, 5, [key]) is None  # nothing before the first
    assert ledger.earlier_document(ROBOT, 8, []) is None
    assert ledger.earlier_document("other_robot", 8, [key]) is None


def test_keys_recorded_after_opening_find_duplicates(ledger: LedgerPort) -> None:
    hashed = "cvr+cpr+blanket:hmac-sha256:" + "ab" * 32
    ledger.record_keys(ROBOT, 3, [hashed])
    ledger.record_keys(ROBOT, 3, [hashed])  # idempotent
    earlier = ledger.earlier_document(ROBOT, 4, [hashed])
    assert earlier is not None and earlier.erp_id == 3 and earlier.status is None


def test_old_keys_are_replaced_in_place(ledger: LedgerPort) -> None:
    old, bad = "cvr+cpr+blanket:sha256:" + "ab" * 32, "cvr+cpr+blanket:sha256:short"
    ledger.record_keys(ROBOT, 3, [old, "cvr+nr:86483505:L-1"])
    ledger.record_keys(ROBOT, 4, [bad])
    ledger.record_keys("other_robot", 3, [old])

    def convert(key: str) -> str | None:
        return None if key == bad else "cvr+cpr+blanket:hmac-sha256:" + "cd" * 32

    assert ledger.upgrade_keys(ROBOT, "cvr+cpr+blanket:sha256:", convert) == 2
    assert ledger.upgrade_keys(ROBOT, "cvr+cpr+blanket:sha256:", convert) == 0  # repeatable
    assert ledger.earlier_document(ROBOT, 9, [old]) is None
    assert ledger.earlier_document(ROBOT, 9, [bad]) is None
    new = ledger.earlier_document(ROBOT, 9, ["cvr+cpr+blanket:hmac-sha256:" + "cd" * 32])
    assert new is not None and new.erp_id == 3  # duplicate detection kept
    kept = ledger.earlier_document(ROBOT, 9, ["cvr+nr:86483505:L-1"])
    assert kept is not None and kept.erp_id == 3
    other = ledger.earlier_document("other_robot", 9, [old])
    assert other is not None  # another robot's rows are its own run's business


# --- decisions and runs ----------------------------------------------------------------------


def test_decisions_are_kept_masked(ledger: LedgerPort) -> None:
    cpr = generated_cpr(random.Random(9))
    ledger.record_decision(
        RUN,
        ROBOT,
        17,
        {"kind": "manual", "reason": "MANUAL_NO_REQUISITION", "compared": {"cpr": cpr}},
        dry_run=True,
    )
    ledger.record_decision("run2", ROBOT, 17, {"kind": "pay", "amount": Decimal("1.50")}, False)
    found = ledger.decisions_for(ROBOT, 17)
    assert [d.run_id for d in found] == [RUN, "run2"]
    assert found[0].dry_run is True and found[1].dry_run is False
    assert found[0].decision["compared"] == {"cpr": f"{cpr[:6]}-****"}
    assert found[1].decision["amount"] == "1.50"
    assert ledger.decisions_for(ROBOT, 18) == []


def test_runs_history(ledger: LedgerPort, clock: FakeClock) -> None:
    ledger.start_run("r1", ROBOT, "schedule", "host-a", 101)
    clock.advance(dt.timedelta(minutes=1))
    ledger.start_run("r2", "interpreter_invoices", "manual", "host-a", 102)
    clock.advance(dt.timedelta(minutes=1))
    finished = ledger.finish_run("r1", 1, Counts(paid=3, manual=2, failed=1, skipped=4), "ok")
    assert finished.finished and not finished.abandoned
    assert (finished.paid, finished.manual, finished.failed, finished.skipped) == (3, 2, 1, 4)
    assert finished.exit_code == 1 and finished.ended_at == START + dt.timedelta(minutes=2)
    assert [r.run_id for r in ledger.list_runs()] == ["r2", "r1"]
    assert [r.run_id for r in ledger.list_runs(ROBOT)] == ["r1"]
    assert [r.run_id for r in ledger.list_runs(limit=1)] == ["r2"]
    with pytest.raises(LedgerError, match="r1"):
        ledger.start_run("r1", ROBOT, "schedule", "host-a", 103)
    with pytest.raises(LedgerError, match="r404"):
        ledger.finish_run("r404", 0, Counts())


def test_abandoned_runs_are_closed_without_exit_code(ledger: LedgerPort) -> None:
    ledger.start_run("dead1", ROBOT, "schedule", "host-a", 101)
    ledger.start_run("done", ROBOT, "schedule", "host-a", 102)
    ledger.finish_run("done", 0, Counts())
    ledger.start_run("other-robot", "interpreter_invoices", "schedule", "host-a", 103)
    ledger.start_run("current", ROBOT, "schedule", "host-a", 104)
    assert ledger.mark_abandoned_runs(ROBOT, "current") == ["dead1"]
    runs = {r.run_id: r for r in ledger.list_runs()}
    assert runs["dead1"].abandoned and runs["dead1"].note is not None
    assert not runs["current"].abandoned and runs["current"].ended_at is None
    assert runs["other-robot"].ended_at is None
    assert runs["done"].exit_code == 0
    assert ledger.mark_abandoned_runs(ROBOT, "current") == []


# --- hand-overs, releases, heartbeat and alerts (robot queue, robot status) ------------------


def test_a_handed_over_item_is_never_paid(ledger: LedgerPort, clock: FakeClock) -> None:
    ledger.ensure_work(ROBOT, 7, "20433213:F-7", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    # the operator marks it while a worker holds it: the payment intent is refused after
    cpr = generated_cpr(random.Random(11))
    mark = ledger.request_handover(
        ROBOT, 7, reason="MANUAL_FORMAT", note=f"Bilag mangler {cpr}", by="ops"
    )
    assert (mark.reason, mark.by, mark.at) == ("MANUAL_FORMAT", "ops", START)
    assert cpr not in mark.note  # notes are masked like every other text
    with pytest.raises(LedgerError, match="marked for manual handling"):
        pay(ledger, item)
    assert ledger.item(ROBOT, 7).state is State.PENDING  # type: ignore[union-attr]
    # handing it over to manual handling is still allowed
    t = ledger.record_manual_intent(item, "w1", reason="MANUAL_FORMAT", rule_version="1")
    assert t.new is State.MANUAL_INTENT
    assert ledger.handover_for(ROBOT, 7) == mark
    assert ledger.handovers(ROBOT) == [mark]
    assert ledger.handovers(ROBOT, since=START + dt.timedelta(seconds=1)) == []


def test_only_a_pending_item_can_be_handed_over_or_released(
    ledger: LedgerPort, clock: FakeClock
) -> None:
    with pytest.raises(LedgerError, match="no such work item"):
        ledger.request_handover(ROBOT, 99, reason="MANUAL_FORMAT", note="", by="ops")
    ledger.ensure_work(ROBOT, 8, "20433213:F-8", RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    with pytest.raises(LedgerError, match="a run is working on it"):
        ledger.release_item(ROBOT, 8)
    pay(ledger, item)
    with pytest.raises(LedgerError, match="PAY_INTENT, not PENDING"):
        ledger.request_handover(ROBOT, 8, reason="MANUAL_FORMAT", note="", by="ops")
    with pytest.raises(LedgerError, match="PAY_INTENT, not PENDING"):
        ledger.release_item(ROBOT, 8)


def test_release_forgets_failures_and_the_mark(ledger: LedgerPort, clock: FakeClock) -> None:
    ledger.ensure_work(ROBOT, 9, "20433213:F-9", RUN)
    for night in range(3):
        item = ledger.claim_next(ROBOT, "w1", f"run-{night}", LEASE)
        assert item is not None
        ledger.record_failure(item, "w1", "HTTP 500")
    ledger.request_handover(ROBOT, 9, reason="MANUAL_REPEATED_FAILURES", note="", by="robot")
    assert ledger.item(ROBOT, 9).attempts == 3  # type: ignore[union-attr]
    released = ledger.release_item(ROBOT, 9)
    assert (released.state, released.attempts, released.failed_run_id) == (State.PENDING, 0, None)
    assert released.last_error is not None  # kept for the record
    assert ledger.handover_for(ROBOT, 9) is None
    again = ledger.claim_next(ROBOT, "w1", "run-2", LEASE)  # the run it last failed in, too
    assert again is not None and again.erp_id == 9
    pay(ledger, again)


def test_item_counts_by_state(ledger: LedgerPort) -> None:
    assert ledger.item_counts(ROBOT) == {}
    ledger.ensure_work_many(ROBOT, [(1, "k:1"), (2, "k:2"), (3, "k:3")], RUN)
    item = ledger.claim_next(ROBOT, "w1", RUN, LEASE)
    assert item is not None
    pay(ledger, item)
    assert ledger.item_counts(ROBOT) == {State.PENDING: 2, State.PAY_INTENT: 1}
    assert ledger.item_counts("other") == {}


def test_heartbeat_is_replaced(ledger: LedgerPort, clock: FakeClock) -> None:
    assert ledger.heartbeat("scheduler") is None
    ledger.beat("scheduler", "host-a", 10)
    clock.advance(dt.timedelta(minutes=1))
    ledger.beat("scheduler", "host-a", 11)
    beat = ledger.heartbeat("scheduler")
    assert beat is not None and (beat.pid, beat.at) == (11, START + dt.timedelta(minutes=1))


def test_alerts_outbox(ledger: LedgerPort, clock: FakeClock) -> None:
    first = ledger.add_alert(
        robot=ROBOT, run_id=RUN, channel="email", kind="run", subject="s", text="t", html="h"
    )
    second = ledger.add_alert(
        robot=ROBOT, run_id=None, channel="webhook", kind="run", subject="s2", text="", html=""
    )
    assert (first.tries, first.sent, first.created_at) == (0, False, START)
    clock.advance(dt.timedelta(minutes=1))
    cpr = generated_cpr(random.Random(12))
    failed = ledger.alert_tried(first.id, f"connection refused {cpr}")
    assert (failed.tries, failed.sent, failed.last_try_at) == (1, False, clock.now)
    assert failed.last_error is not None and cpr not in failed.last_error
    assert [a.id for a in ledger.alerts(unsent_only=True)] == [second.id, first.id]
    sent = ledger.alert_tried(first.id, None)
    assert (sent.tries, sent.sent, sent.last_error) == (2, True, None)
    assert [a.id for a in ledger.alerts(unsent_only=True)] == [second.id]
    assert [a.id for a in ledger.alerts(limit=1)] == [second.id]
    with pytest.raises(LedgerError):
        ledger.alert_tried(999, None)
