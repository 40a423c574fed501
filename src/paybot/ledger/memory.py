"""An in-memory ledger with the same behaviour as the SQL one, for tests of the runner. The
contract tests (``tests/integration/test_ledger_contract.py``) run over both."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from paybot.domain.models import RegisterEntry
from paybot.errors import LedgerError
from paybot.ledger.model import (
    CLAIMABLE,
    PAYING,
    AlertRecord,
    DecisionRecord,
    EarlierDoc,
    Handover,
    Heartbeat,
    RunCounts,
    RunRecord,
    State,
    Transition,
    WorkItem,
    utc_now,
)
from paybot.ledger.transitions import (
    ABANDONED_NOTE,
    KEEPS_LEASE,
    Change,
    StateChanges,
    check_change,
    check_handover,
    check_lease,
    check_lease_seconds,
    check_release,
    decision_json,
    handover_refusal,
    safe_text,
)


class InMemoryLedger(StateChanges):
    """The ledger's fake: everything in dicts behind one lock (safe across threads)."""

    def __init__(self, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._items: dict[int, WorkItem] = {}
        self._by_erp: dict[tuple[str, int], int] = {}
        self._register: dict[tuple[str, int], RegisterEntry] = {}
        self._keys: set[tuple[str, str, int]] = set()
        self._decisions: list[DecisionRecord] = []
        self._runs: dict[str, RunRecord] = {}
        self._handovers: dict[tuple[str, int], Handover] = {}
        self._beats: dict[str, Heartbeat] = {}
        self._alerts: dict[int, AlertRecord] = {}
        self._scheduled: dict[tuple[str, dt.datetime], str] = {}
        self._alert_ids = itertools.count(1)
        self._marks: dict[tuple[str, str], int] = {}

    def create_schema(self) -> None:
        """Nothing to create."""

    def close(self) -> None:
        """Nothing to close."""

    # --- the register -----------------------------------------------------------------------

    def upsert_register(
        self, robot: str, entries: Iterable[tuple[RegisterEntry, Sequence[str]]]
    ) -> int:
        count = 0
        with self._lock:
            for entry, keys in entries:
                self._register[(robot, entry.erp_id)] = entry
                self._keys.update((robot, k, entry.erp_id) for k in keys)
                count += 1
        return count

    def register_high_water(self, robot: str) -> int:
        with self._lock:
            return max((erp for (r, erp) in self._register if r == robot), default=0)

    def record_inbox_page(
        self,
        robot: str,
        category: str,
        entries: Sequence[tuple[RegisterEntry, Sequence[str]]],
        work: Sequence[tuple[int, str]],
        run_id: str,
    ) -> int:
        self.upsert_register(robot, entries)
        self.ensure_work_many(robot, work, run_id)
        with self._lock:
            mark = max([self._marks.get((robot, category), 0), *(e.erp_id for e, _ in entries)])
            self._marks[(robot, category)] = mark
            return mark

    def collect_mark(self, robot: str, category: str) -> int:
        with self._lock:
            found = self._marks.get((robot, category))
        return found if found is not None else self.register_high_water(robot)

    def register_entry(self, robot: str, erp_id: int) -> RegisterEntry | None:
        with self._lock:
            return self._register.get((robot, erp_id))

    def earlier_document(self, robot: str, erp_id: int, keys: Sequence[str]) -> EarlierDoc | None:
        wanted = set(keys)
        with self._lock:
            found = sorted(
                (erp, key)
                for (r, key, erp) in self._keys
                if r == robot and key in wanted and erp < erp_id
            )
            if not found:
                return None
            erp, key = found[0]
            entry = self._register.get((robot, erp))
            return EarlierDoc(erp_id=erp, key=key, status=entry.status if entry else None)

    def record_keys(self, robot: str, erp_id: int, keys: Sequence[str]) -> None:
        with self._lock:
            self._keys.update((robot, k, erp_id) for k in keys)

    def upgrade_keys(self, robot: str, prefix: str, convert: Callable[[str], str | None]) -> int:
        with self._lock:
            old = {(r, k, e) for (r, k, e) in self._keys if r == robot and k.startswith(prefix)}
            self._keys -= old
            for _, key, erp_id in old:
                new = convert(key)
                if new is not None:
                    self._keys.add((robot, new, erp_id))
            return len(old)

    # --- work items -------------------------------------------------------------------------

    def ensure_work(self, robot: str, erp_id: int, business_key: str, run_id: str) -> WorkItem:
        with self._lock:
            existing = self._by_erp.get((robot, erp_id))
            if existing is not None:
                return self._items[existing]
            now = self._clock()
            item = WorkItem(
                id=next(self._ids),
                robot=robot,
                erp_id=erp_id,
                business_key=business_key,
                state=State.PENDING,
                run_id=run_id,
                created_at=now,
                updated_at=now,
            )
            self._items[item.id] = item
            self._by_erp[(robot, erp_id)] = item.id
            return item

    def ensure_work_many(self, robot: str, work: Sequence[tuple[int, str]], run_id: str) -> None:
        for erp_id, business_key in work:
            self.ensure_work(robot, erp_id, business_key, run_id)

    def item(self, robot: str, erp_id: int) -> WorkItem | None:
        with self._lock:
            found = self._by_erp.get((robot, erp_id))
            return None if found is None else self._items[found]

    def items(self, robot: str, states: Iterable[State] | None = None) -> list[WorkItem]:
        wanted = None if states is None else {State(s) for s in states}
        with self._lock:
            return sorted(
                (
                    i
                    for i in self._items.values()
                    if i.robot == robot and (wanted is None or i.state in wanted)
                ),
                key=lambda i: i.erp_id,
            )

    def claim_next(
        self, robot: str, worker: str, run_id: str, lease_seconds: float
    ) -> WorkItem | None:
        lease = check_lease_seconds(lease_seconds)
        with self._lock:
            now = self._clock()
            run = self._runs.get(run_id)
            started = run.started_at if run is not None else None
            free = [
                i
                for i in self._items.values()
                if i.robot == robot
                and i.state in CLAIMABLE
                and (
                    i.lease_owner is None
                    or (i.lease_expires is not None and i.lease_expires <= now)
                )
                and (
                    i.failed_run_id is None
                    or (
                        i.failed_run_id != run_id
                        and (started is None or i.updated_at is None or i.updated_at < started)
                    )
                )
            ]
            if not free:
                return None
            chosen = min(free, key=lambda i: i.erp_id)
            claimed = dataclasses.replace(
                chosen,
                lease_owner=worker,
                lease_token=chosen.lease_token + 1,
                lease_expires=now + lease,
                run_id=run_id,
                updated_at=now,
            )
            self._items[claimed.id] = claimed
            return claimed

    def _current(self, item: WorkItem) -> WorkItem:
        current = self._items.get(item.id)
        if current is None:
            raise LedgerError(f"{item.describe()}: no such work item in the ledger")
        return current

    def renew(self, item: WorkItem, worker: str, lease_seconds: float) -> WorkItem:
        lease = check_lease_seconds(lease_seconds)
        with self._lock:
            now = self._clock()
            current = self._current(item)
            check_lease(current, item, worker, now, "renewing the lease")
            renewed = dataclasses.replace(current, lease_expires=now + lease, updated_at=now)
            self._items[item.id] = renewed
            return renewed

    def release(self, item: WorkItem, worker: str, *, done_this_run: bool = False) -> bool:
        with self._lock:
            current = self._current(item)
            if current.lease_owner != worker or current.lease_token != item.lease_token:
                return False
            skip = item.run_id if done_this_run else current.failed_run_id
            self._items[item.id] = dataclasses.replace(
                current,
                lease_owner=None,
                lease_expires=None,
                failed_run_id=skip,
                updated_at=self._clock(),
            )
            return True

    def _change(
        self, item: WorkItem, worker: str, change: Change, values: Mapping[str, Any]
    ) -> Transition:
        with self._lock:
            now = self._clock()
            current = self._current(item)
            check_lease(current, item, worker, now, change.value)
            new = check_change(current, change)
            marked = self._handovers.get((current.robot, current.erp_id))
            if change is Change.PAY_INTENT and marked is not None:
                raise handover_refusal(current, marked.reason)
            if new in PAYING:
                self._refuse_second_payment(current)
            after = dataclasses.replace(current, **values, state=new, updated_at=now)
            if new not in KEEPS_LEASE:
                after = dataclasses.replace(after, lease_owner=None, lease_expires=None)
            self._items[item.id] = after
            return Transition(item=after, old=current.state, new=new)

    def _refuse_second_payment(self, current: WorkItem) -> None:
        """What the SQL ledger's partial unique index does."""
        for other in self._items.values():
            if (
                other.id != current.id
                and other.business_key == current.business_key
                and other.state in PAYING
            ):
                raise LedgerError(
                    f"{current.describe()}: record_pay_intent refused by the database: business "
                    f"key {current.business_key} is already {other.state.value} on "
                    f"{other.describe()}"
                )

    def record_failure(self, item: WorkItem, worker: str, error: str | BaseException) -> int:
        with self._lock:
            now = self._clock()
            current = self._current(item)
            check_lease(current, item, worker, now, "record_failure")
            after = dataclasses.replace(
                current,
                attempts=current.attempts + 1,
                last_error=safe_text(error),
                failed_run_id=current.run_id,
                lease_owner=None,
                lease_expires=None,
                updated_at=now,
            )
            self._items[item.id] = after
            return after.attempts

    def paid_voucher(self, business_key: str) -> str | None:
        with self._lock:
            for i in self._items.values():
                if i.business_key == business_key and i.state is State.PAID:
                    return i.voucher
        return None

    # --- decisions --------------------------------------------------------------------------

    def record_decision(
        self, run_id: str, robot: str, erp_id: int, decision: Mapping[str, Any], dry_run: bool
    ) -> None:
        stored = json.loads(decision_json(decision))
        with self._lock:
            self._decisions.append(
                DecisionRecord(run_id, robot, erp_id, stored, dry_run, self._clock())
            )

    def decisions_for(self, robot: str, erp_id: int) -> list[DecisionRecord]:
        with self._lock:
            return [d for d in self._decisions if d.robot == robot and d.erp_id == erp_id]

    # --- runs -------------------------------------------------------------------------------

    def start_run(self, run_id: str, robot: str, trigger: str, host: str, pid: int) -> RunRecord:
        with self._lock:
            if run_id in self._runs:
                raise LedgerError(f"run {run_id} of {robot}: already started")
            record = RunRecord(run_id, robot, trigger, host, pid, started_at=self._clock())
            self._runs[run_id] = record
            return record

    def finish_run(
        self, run_id: str, exit_code: int, counts: RunCounts, note: str | None = None
    ) -> RunRecord:
        with self._lock:
            if run_id not in self._runs:
                raise LedgerError(f"run {run_id}: not in the ledger")
            record = dataclasses.replace(
                self._runs[run_id],
                ended_at=self._clock(),
                exit_code=exit_code,
                paid=counts.paid,
                manual=counts.manual,
                failed=counts.failed,
                skipped=counts.skipped,
                note=None if note is None else safe_text(note),
            )
            self._runs[run_id] = record
            return record

    def record_run(self, record: RunRecord) -> RunRecord:
        if record.note is not None:
            record = dataclasses.replace(record, note=safe_text(record.note))
        with self._lock:
            if record.run_id in self._runs:
                raise LedgerError(f"run {record.run_id} of {record.robot}: already recorded")
            self._runs[record.run_id] = record
            return record

    def list_runs(self, robot: str | None = None, limit: int = 50) -> list[RunRecord]:
        with self._lock:
            chosen = [r for r in self._runs.values() if robot is None or r.robot == robot]
        chosen.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return chosen[:limit]

    def release_leases_of_other_runs(
        self, robot: str, current_run_id: str, *, host: str | None = None
    ) -> list[int]:
        with self._lock:
            hosts = {r.run_id: r.host for r in self._runs.values()}
            freed = [
                i
                for i in self._items.values()
                if i.robot == robot
                and i.lease_owner is not None
                and i.run_id != current_run_id
                and (host is None or hosts.get(i.run_id or "") == host)
            ]
            for i in freed:
                self._items[i.id] = dataclasses.replace(
                    i, lease_owner=None, lease_expires=None, updated_at=self._clock()
                )
            return sorted(i.erp_id for i in freed)

    def mark_abandoned_runs(
        self,
        robot: str,
        current_run_id: str | None,
        note: str = ABANDONED_NOTE,
        *,
        host: str | None = None,
    ) -> list[str]:
        with self._lock:
            ids = [
                r.run_id
                for r in self._runs.values()
                if r.robot == robot
                and r.ended_at is None
                and r.run_id != current_run_id
                and (host is None or r.host == host)
            ]
            for run_id in ids:
                self._runs[run_id] = dataclasses.replace(
                    self._runs[run_id], ended_at=self._clock(), note=safe_text(note)
                )
            return ids

    def undecided_below(self, robot: str, erp_id: int, run_id: str) -> list[int]:
        now = self._clock()
        with self._lock:
            return sorted(
                i.erp_id
                for i in self._items.values()
                if i.robot == robot
                and i.erp_id < erp_id
                and i.state is State.PENDING
                and i.lease_owner is not None
                and i.lease_expires is not None
                and i.lease_expires > now
                and i.run_id != run_id
            )

    def claim_scheduled_run(
        self, robot: str, scheduled_at: dt.datetime, machine: str, outcome: str
    ) -> str:
        with self._lock:
            return self._scheduled.setdefault((robot, scheduled_at), machine)

    def item_counts(self, robot: str) -> dict[State, int]:
        counts: dict[State, int] = {}
        with self._lock:
            for i in self._items.values():
                if i.robot == robot:
                    counts[i.state] = counts.get(i.state, 0) + 1
        return counts

    # --- hand-overs and releases --------------------------------------------------------------

    def _item_of(self, robot: str, erp_id: int) -> WorkItem | None:
        found = self._by_erp.get((robot, erp_id))
        return None if found is None else self._items[found]

    def request_handover(
        self, robot: str, erp_id: int, *, reason: str, note: str, by: str
    ) -> Handover:
        with self._lock:
            check_handover(self._item_of(robot, erp_id), robot, erp_id)
            mark = Handover(robot, erp_id, reason, safe_text(note), by, self._clock())
            self._handovers[(robot, erp_id)] = mark
            return mark

    def handover_for(self, robot: str, erp_id: int) -> Handover | None:
        with self._lock:
            return self._handovers.get((robot, erp_id))

    def handovers(self, robot: str, since: dt.datetime | None = None) -> list[Handover]:
        with self._lock:
            found = [
                h
                for h in self._handovers.values()
                if h.robot == robot and (since is None or h.at >= since)
            ]
        return sorted(found, key=lambda h: (h.at, h.erp_id))

    def release_item(self, robot: str, erp_id: int) -> WorkItem:
        with self._lock:
            now = self._clock()
            current = check_release(self._item_of(robot, erp_id), robot, erp_id, now)
            self._handovers.pop((robot, erp_id), None)
            after = dataclasses.replace(
                current,
                attempts=0,
                failed_run_id=None,
                lease_owner=None,
                lease_expires=None,
                updated_at=now,
            )
            self._items[after.id] = after
            return after

    # --- heartbeat and alerts -------------------------------------------------------------------

    def beat(self, name: str, host: str, pid: int) -> Heartbeat:
        with self._lock:
            beat = Heartbeat(name, host, pid, self._clock())
            self._beats[name] = beat
            return beat

    def heartbeat(self, name: str) -> Heartbeat | None:
        with self._lock:
            return self._beats.get(name)

    def add_alert(
        self,
        *,
        robot: str,
        run_id: str | None,
        channel: str,
        kind: str,
        subject: str,
        text: str,
        html: str,
    ) -> AlertRecord:
        with self._lock:
            alert = AlertRecord(
                next(self._alert_ids), robot, run_id, channel, kind, subject, text, html,
                created_at=self._clock(),
            )  # fmt: skip
            self._alerts[alert.id] = alert
            return alert

    def alert_tried(self, alert_id: int, error: str | None) -> AlertRecord:
        with self._lock:
            current = self._alerts.get(alert_id)
            if current is None:
                raise LedgerError(f"alert {alert_id}: not in the ledger")
            now = self._clock()
            after = dataclasses.replace(
                current,
                tries=current.tries + 1,
                last_try_at=now,
                sent_at=now if error is None else None,
                last_error=None if error is None else safe_text(error),
            )
            self._alerts[alert_id] = after
            return after

    def alerts(self, *, unsent_only: bool = False, limit: int = 20) -> list[AlertRecord]:
        with self._lock:
            found = [a for a in self._alerts.values() if not (unsent_only and a.sent)]
        return sorted(found, key=lambda a: a.id, reverse=True)[:limit]
