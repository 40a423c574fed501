"""The ledger on a SQL database (SQLite by default, PostgreSQL possible). See ``paybot.ledger``
for why this gives exactly-once payment."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import URL, Connection, Row, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from paybot.database import make_engine, shown, writer
from paybot.domain.models import Category, ErpStatus, RegisterEntry
from paybot.errors import LedgerError
from paybot.ledger import schema as t
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
    RULES,
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
from paybot.migrations.runner import SchemaState, ensure_schema, upgrade

_ITEM_FIELDS = tuple(f.name for f in dataclasses.fields(WorkItem))
log = logging.getLogger("paybot.ledger")
P = ParamSpec("P")
R = TypeVar("R")
FIRST_PAUSE_SECONDS = 0.5
LONGEST_PAUSE_SECONDS = 10.0


def connection_lost(exc: BaseException) -> bool:
    """True for the errors a database that went away (restart, fail-over, network) gives, and
    for a transaction the server rolled back on its own (deadlock, serialization): a write
    transaction that failed so is safe to run again."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


def _retried(method: Callable[Concatenate[Ledger, P], R]) -> Callable[Concatenate[Ledger, P], R]:
    """Run the ledger method again when the PostgreSQL connection was lost (see
    :meth:`Ledger._retry`)."""

    @functools.wraps(method)
    def wrapper(self: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._retry(method.__name__, lambda: method(self, *args, **kwargs))

    return wrapper


def _item(row: Row[Any]) -> WorkItem:
    values = dict(row._mapping)
    values["state"] = State(values["state"])
    return WorkItem(**{k: values[k] for k in _ITEM_FIELDS})


def _run(row: Row[Any]) -> RunRecord:
    return RunRecord(**dict(row._mapping))


class Ledger(StateChanges):
    """Work items, the document register, decisions and runs in one database.

    ``url``: ``sqlite:///path/ledger.sqlite`` or ``postgresql://user@host:5432/db`` (text or a
    SQLAlchemy ``URL``, which may carry the password: see ``paybot.config_load.ledger_url``).
    ``clock`` gives aware UTC times (lease expiry is judged by it; tests pass a controllable
    clock). Raises :class:`~paybot.errors.DatabaseUnavailable` when the PostgreSQL driver is
    not installed; connecting happens at first use (:meth:`ensure_schema` at start-up).

    ``retry_seconds`` (PostgreSQL only; setting ``ledger.retry_seconds``): a method whose
    database connection is lost (the server restarted, say) runs again after a pause (0.5 s,
    doubling, at most 10 s) until this many seconds have passed, then raises
    :class:`LedgerError`. Running again is safe for every method: each is one transaction, and
    a transaction whose commit may or may not have reached the server before the connection
    broke is recognised on the next attempt (a claim finds the item it already leased; a state
    change finds the item already in the new state under the same lease token)."""

    def __init__(
        self,
        url: str | URL,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        busy_timeout_s: float = 30.0,
        retry_seconds: float = 0.0,
    ) -> None:
        self.url = url
        self._clock = clock
        self._engine = make_engine(url, busy_timeout_s=busy_timeout_s)
        self._writer = writer(self._engine)
        self._postgres = self._engine.dialect.name == "postgresql"
        self._retry_seconds = retry_seconds if self._postgres else 0.0
        self._attempt = threading.local()

    def _retrying(self) -> bool:
        """True inside a second or later attempt of a method (see :meth:`_retry`)."""
        return int(getattr(self._attempt, "n", 0)) > 1

    def _retry(self, what: str, call: Callable[[], R]) -> R:
        if self._retry_seconds <= 0 or int(getattr(self._attempt, "n", 0)) > 0:
            return call()  # no retry, or already inside a retried method
        deadline = time.monotonic() + self._retry_seconds
        pause = FIRST_PAUSE_SECONDS
        self._attempt.n = 0
        try:
            while True:
                self._attempt.n += 1
                try:
                    return call()
                except DBAPIError as exc:
                    if not connection_lost(exc):
                        raise
                    problem = f"{type(exc.orig).__name__}: {str(exc.orig).strip()[:200]}"
                    if time.monotonic() + pause > deadline:
                        raise LedgerError(
                            f"the ledger's database {shown(self.url)} could not be reached "
                            f"for {self._retry_seconds:g} s ({what}; {problem})"
                        ) from exc
                    log.warning(
                        "ledger %s: the database connection was lost (%s); again in %.1f s",
                        what, problem, pause,
                    )  # fmt: skip
                    time.sleep(pause)
                    pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
        finally:
            self._attempt.n = 0

    # --- plumbing ---------------------------------------------------------------------------

    @_retried
    def create_schema(self) -> None:
        """Bring the schema to this code's version (``robot db upgrade``: the migrations in
        ``paybot.migrations`` own the tables). Safe to repeat; refuses a newer database
        (:class:`~paybot.errors.SchemaMismatch`)."""
        upgrade(self._engine)

    def ensure_schema(self, *, create_if_new: bool | None = None) -> SchemaState:
        """The start-up check (:func:`paybot.migrations.runner.ensure_schema`): the database is at
        this code's schema version, or an empty SQLite file is created, else
        :class:`~paybot.errors.SchemaMismatch` / :class:`~paybot.errors.DatabaseUnavailable`."""
        return ensure_schema(self._engine, create_if_new=create_if_new)

    def close(self) -> None:
        self._engine.dispose()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` on SQLite, committed on success."""
        with self._writer.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.begin() as conn:
            yield conn

    def _now(self) -> dt.datetime:
        return self._clock()

    def _insert_ignore(self, conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._postgres:
            conn.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
        else:
            conn.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)

    # --- the register -----------------------------------------------------------------------

    @_retried
    def upsert_register(
        self, robot: str, entries: Iterable[tuple[RegisterEntry, Sequence[str]]]
    ) -> int:
        """Store inbox rows (new or changed status) and their duplicate keys. Returns the number
        of entries given."""
        entries = list(entries)
        if not entries:
            return 0
        with self._write() as conn:
            return self._upsert_register(conn, robot, entries)

    def _upsert_register(
        self, conn: Connection, robot: str, entries: Sequence[tuple[RegisterEntry, Sequence[str]]]
    ) -> int:
        now = self._now()
        rows: list[dict[str, Any]] = []
        keys: list[dict[str, Any]] = []
        for entry, entry_keys in entries:
            rows.append(
                {
                    "robot": robot,
                    "erp_id": entry.erp_id,
                    "category": entry.category.value,
                    "status": entry.status.value,
                    "cvr": entry.supplier_cvr,
                    "invoice_number": entry.invoice_number,
                    "issue_date": entry.issue_date,
                    "amount": entry.payable_amount,
                    "updated_at": now,
                }
            )
            keys += [{"robot": robot, "key": k, "erp_id": entry.erp_id} for k in entry_keys]
        if not rows:
            return 0
        changing = ("category", "status", "cvr", "invoice_number", "issue_date", "amount")
        if self._postgres:
            pg = postgresql.insert(t.register)
            conn.execute(
                pg.on_conflict_do_update(
                    index_elements=["robot", "erp_id"],
                    set_={c: pg.excluded[c] for c in (*changing, "updated_at")},
                ),
                rows,
            )
        else:
            lite = sqlite.insert(t.register)
            conn.execute(
                lite.on_conflict_do_update(
                    index_elements=["robot", "erp_id"],
                    set_={c: lite.excluded[c] for c in (*changing, "updated_at")},
                ),
                rows,
            )
        self._insert_ignore(conn, t.dup_keys, keys)
        return len(rows)

    @_retried
    def record_inbox_page(
        self,
        robot: str,
        category: str,
        entries: Sequence[tuple[RegisterEntry, Sequence[str]]],
        work: Sequence[tuple[int, str]],
        run_id: str,
    ) -> int:
        """One inbox page, in one transaction: its rows in the register, a work item per new
        invoice, and the collect mark moved to the page's highest Løbenr. A run that dies
        between two pages resumes after the last page committed, and never skips an invoice
        of a page it did not commit. Returns the new mark. Safe to repeat."""
        with self._write() as conn:
            self._upsert_register(conn, robot, entries)
            self._insert_ignore(conn, t.work_items, self._new_items(robot, work, run_id))
            c = t.collect_marks.c
            mark = int(
                conn.execute(
                    select(c.last_erp_id).where(c.robot == robot, c.category == category)
                ).scalar()
                or 0
            )
            new_mark = max([mark, *(e.erp_id for e, _ in entries)])
            row = {"robot": robot, "category": category, "last_erp_id": new_mark}
            row["updated_at"] = self._now()
            insert = postgresql.insert if self._postgres else sqlite.insert
            stmt = insert(t.collect_marks)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["robot", "category"],
                    set_={"last_erp_id": new_mark, "updated_at": row["updated_at"]},
                ),
                [row],
            )
        return new_mark

    @_retried
    def collect_mark(self, robot: str, category: str) -> int:
        """The Løbenr the next collect of ``category`` reads after: the last page committed;
        for a ledger from before the marks, the register's highest Løbenr (0 when empty)."""
        c = t.collect_marks.c
        with self._read() as conn:
            value = conn.execute(
                select(c.last_erp_id).where(c.robot == robot, c.category == category)
            ).scalar()
        return int(value) if value is not None else self.register_high_water(robot)

    @_retried
    def register_high_water(self, robot: str) -> int:
        """The highest Løbenr in the robot's register (0 when empty)."""
        with self._read() as conn:
            value = conn.execute(
                select(func.max(t.register.c.erp_id)).where(t.register.c.robot == robot)
            ).scalar()
        return int(value or 0)

    @_retried
    def register_entry(self, robot: str, erp_id: int) -> RegisterEntry | None:
        r = t.register.c
        with self._read() as conn:
            row = conn.execute(
                select(t.register).where(r.robot == robot, r.erp_id == erp_id)
            ).first()
        if row is None:
            return None
        return RegisterEntry(
            erp_id=row.erp_id,
            category=Category(row.category),
            status=ErpStatus(row.status),
            supplier_cvr=row.cvr,
            invoice_number=row.invoice_number,
            issue_date=row.issue_date,
            payable_amount=row.amount,
        )

    @_retried
    def earlier_document(self, robot: str, erp_id: int, keys: Sequence[str]) -> EarlierDoc | None:
        """The earliest document with a lower Løbenr sharing any of ``keys``."""
        if not keys:
            return None
        d, r = t.dup_keys.c, t.register.c
        joined = t.dup_keys.outerjoin(t.register, and_(r.robot == d.robot, r.erp_id == d.erp_id))
        query = (
            select(d.erp_id, d.key, r.status)
            .select_from(joined)
            .where(d.robot == robot, d.key.in_(list(keys)), d.erp_id < erp_id)
            .order_by(d.erp_id, d.key)
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        status = ErpStatus(row.status) if row.status is not None else None
        return EarlierDoc(erp_id=row.erp_id, key=row.key, status=status)

    @_retried
    def record_keys(self, robot: str, erp_id: int, keys: Sequence[str]) -> None:
        """Add keys known only after opening the document (e.g. a certificate's hashed key)."""
        with self._write() as conn:
            self._insert_ignore(
                conn, t.dup_keys, [{"robot": robot, "key": k, "erp_id": erp_id} for k in keys]
            )

    @_retried
    def upgrade_keys(self, robot: str, prefix: str, convert: Callable[[str], str | None]) -> int:
        """Replace every stored key of ``robot`` that starts with ``prefix`` by
        ``convert(key)`` (deleted when that is ``None``), in one transaction; returns how many
        were replaced. Used for keys an older paybot stored in a form that is no longer
        allowed (unsalted hashes of personal data). On SQLite the old values are overwritten
        in the file (``secure_delete``) and the write-ahead log is truncated afterwards, so
        they do not linger in free pages. Safe to repeat (the second call finds none)."""
        d = t.dup_keys.c
        with self._write() as conn:
            old = conn.execute(
                select(d.key, d.erp_id).where(
                    d.robot == robot, d.key.startswith(prefix, autoescape=True)
                )
            ).all()
            if not old:
                return 0
            new = [
                {"robot": robot, "key": k, "erp_id": row.erp_id}
                for row in old
                if (k := convert(row.key)) is not None
            ]
            self._insert_ignore(conn, t.dup_keys, new)
            conn.execute(
                t.dup_keys.delete().where(
                    d.robot == robot, d.key.startswith(prefix, autoescape=True)
                )
            )
        if not self._postgres:
            with self._engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(old)

    # --- work items -------------------------------------------------------------------------

    @_retried
    def ensure_work(self, robot: str, erp_id: int, business_key: str, run_id: str) -> WorkItem:
        """The item for ``erp_id``, created ``PENDING`` when new; an existing item is returned
        unchanged (idempotent)."""
        w = t.work_items.c
        with self._write() as conn:
            self._insert_ignore(
                conn, t.work_items, self._new_items(robot, [(erp_id, business_key)], run_id)
            )
            found = conn.execute(
                select(t.work_items).where(w.robot == robot, w.erp_id == erp_id)
            ).one()
        return _item(found)

    @_retried
    def ensure_work_many(self, robot: str, work: Sequence[tuple[int, str]], run_id: str) -> None:
        """``ensure_work`` for many ``(erp_id, business_key)`` at once, in one transaction
        (a first full sync of the inbox creates thousands)."""
        if not work:
            return
        with self._write() as conn:
            self._insert_ignore(conn, t.work_items, self._new_items(robot, work, run_id))

    def _new_items(
        self, robot: str, work: Sequence[tuple[int, str]], run_id: str
    ) -> list[dict[str, Any]]:
        now = self._now()
        return [
            {
                "robot": robot,
                "erp_id": erp_id,
                "business_key": business_key,
                "state": State.PENDING.value,
                "attempts": 0,
                "lease_token": 0,
                "run_id": run_id,
                "created_at": now,
                "updated_at": now,
            }
            for erp_id, business_key in work
        ]

    @_retried
    def item(self, robot: str, erp_id: int) -> WorkItem | None:
        w = t.work_items.c
        with self._read() as conn:
            row = conn.execute(
                select(t.work_items).where(w.robot == robot, w.erp_id == erp_id)
            ).first()
        return None if row is None else _item(row)

    @_retried
    def items(self, robot: str, states: Iterable[State] | None = None) -> list[WorkItem]:
        w = t.work_items.c
        query = select(t.work_items).where(w.robot == robot).order_by(w.erp_id)
        if states is not None:
            query = query.where(w.state.in_([State(s).value for s in states]))
        with self._read() as conn:
            return [_item(row) for row in conn.execute(query)]

    @_retried
    def claim_next(
        self, robot: str, worker: str, run_id: str, lease_seconds: float
    ) -> WorkItem | None:
        """Lease the item with the lowest Løbenr that is PENDING or in an intent state, not under
        a live lease, and did not fail in this run already, nor in another run since this one
        started (runs of several machines sharing the queue: an item one of them failed, or
        looked at in a dry run, is not passed back and forth between them; it waits for the
        next run). Atomic across threads and processes.

        ``worker`` must be unique among everything that claims from this ledger at the same time
        (e.g. ``f"{run_id}/w1"``); the lease token makes a stale handle useless anyway."""
        lease = check_lease_seconds(lease_seconds)
        w = t.work_items.c
        started = select(t.runs.c.started_at).where(t.runs.c.run_id == run_id).scalar_subquery()
        with self._write() as conn:
            now = self._now()
            if self._retrying():
                # The last attempt's commit may have reached the server: that item is ours.
                mine = conn.execute(
                    select(t.work_items).where(
                        w.robot == robot,
                        w.lease_owner == worker,
                        w.run_id == run_id,
                        w.lease_expires > now,
                    )
                ).first()
                if mine is not None:
                    return _item(mine)
            query = (
                select(t.work_items)
                .where(
                    w.robot == robot,
                    w.state.in_([s.value for s in CLAIMABLE]),
                    or_(w.lease_owner.is_(None), w.lease_expires <= now),
                    or_(
                        w.failed_run_id.is_(None),
                        and_(
                            w.failed_run_id != run_id,
                            or_(started.is_(None), w.updated_at < started),
                        ),
                    ),
                )
                .order_by(w.erp_id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            row = conn.execute(query).first()
            if row is None:
                return None
            claimed = dataclasses.replace(
                _item(row),
                lease_owner=worker,
                lease_token=row.lease_token + 1,
                lease_expires=now + lease,
                run_id=run_id,
                updated_at=now,
            )
            conn.execute(
                update(t.work_items)
                .where(w.id == row.id)
                .values(
                    lease_owner=claimed.lease_owner,
                    lease_token=claimed.lease_token,
                    lease_expires=claimed.lease_expires,
                    run_id=run_id,
                    updated_at=now,
                )
            )
        return claimed

    def _current(self, conn: Connection, item: WorkItem) -> WorkItem:
        row = conn.execute(
            select(t.work_items).where(t.work_items.c.id == item.id).with_for_update()
        ).first()
        if row is None:
            raise LedgerError(f"{item.describe()}: no such work item in the ledger")
        return _item(row)

    @_retried
    def renew(self, item: WorkItem, worker: str, lease_seconds: float) -> WorkItem:
        """Extend a lease we still hold; :class:`LedgerError` when it was lost."""
        lease = check_lease_seconds(lease_seconds)
        with self._write() as conn:
            now = self._now()
            current = self._current(conn, item)
            check_lease(current, item, worker, now, "renewing the lease")
            conn.execute(
                update(t.work_items)
                .where(t.work_items.c.id == item.id)
                .values(lease_expires=now + lease, updated_at=now)
            )
        return dataclasses.replace(current, lease_expires=now + lease, updated_at=now)

    @_retried
    def release(self, item: WorkItem, worker: str, *, done_this_run: bool = False) -> bool:
        """Give the item back (state unchanged). ``done_this_run``: not handed out again in the
        run that claimed it (a dry run looks at each item once). False when the lease was not
        ours any more."""
        w = t.work_items.c
        values: dict[str, Any] = {"lease_owner": None, "lease_expires": None}
        if done_this_run:
            values["failed_run_id"] = item.run_id
        with self._write() as conn:
            result = conn.execute(
                update(t.work_items)
                .where(w.id == item.id, w.lease_owner == worker, w.lease_token == item.lease_token)
                .values(**values, updated_at=self._now())
            )
        return result.rowcount == 1

    @_retried
    def _change(
        self, item: WorkItem, worker: str, change: Change, values: Mapping[str, Any]
    ) -> Transition:
        try:
            with self._write() as conn:
                now = self._now()
                current = self._current(conn, item)
                done = self._done_before(current, item, change)
                if done is not None:
                    return done
                check_lease(current, item, worker, now, change.value)
                new = check_change(current, change)
                if change is Change.PAY_INTENT:
                    marked = self._handover(conn, current.robot, current.erp_id)
                    if marked is not None:
                        raise handover_refusal(current, marked.reason)
                updates: dict[str, Any] = {**values, "state": new.value, "updated_at": now}
                if new not in KEEPS_LEASE:
                    updates |= {"lease_owner": None, "lease_expires": None}
                conn.execute(
                    update(t.work_items).where(t.work_items.c.id == item.id).values(**updates)
                )
                after = self._current(conn, item)
        except IntegrityError as exc:
            # the partial unique index: one PAY_INTENT or PAID item per business key
            holder = self._paying_holder(item.business_key)
            raise LedgerError(
                f"{item.describe()}: {change.value} refused by the database: business key "
                f"{item.business_key} is already "
                + (f"{holder.state.value} on {holder.describe()}" if holder else "being paid")
            ) from exc
        return Transition(item=after, old=current.state, new=new)

    def _done_before(self, current: WorkItem, item: WorkItem, change: Change) -> Transition | None:
        """On a second attempt of a state change: the change when the first attempt's commit
        did reach the server (the item is in the change's target state under the caller's
        lease token: no one else can have made it), else ``None``."""
        if not self._retrying():
            return None
        _, target = RULES[change]
        if current.state is target and current.lease_token == item.lease_token:
            return Transition(item=current, old=item.state, new=target)
        return None

    @_retried
    def _paying_holder(self, business_key: str) -> WorkItem | None:
        w = t.work_items.c
        with self._read() as conn:
            row = conn.execute(
                select(t.work_items).where(
                    w.business_key == business_key, w.state.in_([s.value for s in PAYING])
                )
            ).first()
        return None if row is None else _item(row)

    @_retried
    def record_failure(self, item: WorkItem, worker: str, error: str | BaseException) -> int:
        """An application failure: attempts + 1, the (masked) error kept, the lease released,
        the state unchanged; the item is not claimed again in this run. Returns the attempts."""
        with self._write() as conn:
            now = self._now()
            current = self._current(conn, item)
            check_lease(current, item, worker, now, "record_failure")
            attempts = current.attempts + 1
            conn.execute(
                update(t.work_items)
                .where(t.work_items.c.id == item.id)
                .values(
                    attempts=attempts,
                    last_error=safe_text(error),
                    failed_run_id=current.run_id,
                    lease_owner=None,
                    lease_expires=None,
                    updated_at=now,
                )
            )
        return attempts

    @_retried
    def paid_voucher(self, business_key: str) -> str | None:
        """The voucher of the PAID item with this business key (any robot), if any."""
        w = t.work_items.c
        with self._read() as conn:
            return conn.execute(
                select(w.voucher).where(w.business_key == business_key, w.state == State.PAID.value)
            ).scalar()

    # --- decisions --------------------------------------------------------------------------

    @_retried
    def record_decision(
        self, run_id: str, robot: str, erp_id: int, decision: Mapping[str, Any], dry_run: bool
    ) -> None:
        """Keep a decision (personal data masked) in the history, also for dry runs."""
        with self._write() as conn:
            conn.execute(
                insert(t.decisions).values(
                    run_id=run_id,
                    robot=robot,
                    erp_id=erp_id,
                    decision=decision_json(decision),
                    dry_run=dry_run,
                    at=self._now(),
                )
            )

    @_retried
    def decisions_for(self, robot: str, erp_id: int) -> list[DecisionRecord]:
        d = t.decisions.c
        with self._read() as conn:
            rows = conn.execute(
                select(t.decisions).where(d.robot == robot, d.erp_id == erp_id).order_by(d.id)
            ).all()
        return [
            DecisionRecord(
                run_id=r.run_id,
                robot=r.robot,
                erp_id=r.erp_id,
                decision=json.loads(r.decision),
                dry_run=bool(r.dry_run),
                at=r.at,
            )
            for r in rows
        ]

    # --- runs -------------------------------------------------------------------------------

    @_retried
    def start_run(self, run_id: str, robot: str, trigger: str, host: str, pid: int) -> RunRecord:
        record = RunRecord(run_id, robot, trigger, host, pid, started_at=self._now())
        try:
            with self._write() as conn:
                conn.execute(insert(t.runs).values(**dataclasses.asdict(record)))
        except IntegrityError as exc:
            earlier = self._retrying() and self._same_run(record)
            if earlier:
                return earlier  # the first attempt's commit reached the server
            raise LedgerError(f"run {run_id} of {robot}: already started") from exc
        return record

    def _same_run(self, record: RunRecord) -> RunRecord | None:
        with self._read() as conn:
            found = conn.execute(select(t.runs).where(t.runs.c.run_id == record.run_id)).first()
        if found is None:
            return None
        stored = _run(found)
        same = (stored.robot, stored.host, stored.pid) == (record.robot, record.host, record.pid)
        return stored if same else None

    def _get_run(self, conn: Connection, run_id: str) -> RunRecord:
        row = conn.execute(select(t.runs).where(t.runs.c.run_id == run_id)).first()
        if row is None:
            raise LedgerError(f"run {run_id}: not in the ledger")
        return _run(row)

    @_retried
    def finish_run(
        self, run_id: str, exit_code: int, counts: RunCounts, note: str | None = None
    ) -> RunRecord:
        with self._write() as conn:
            self._get_run(conn, run_id)
            conn.execute(
                update(t.runs)
                .where(t.runs.c.run_id == run_id)
                .values(
                    ended_at=self._now(),
                    exit_code=exit_code,
                    paid=counts.paid,
                    manual=counts.manual,
                    failed=counts.failed,
                    skipped=counts.skipped,
                    note=None if note is None else safe_text(note),
                )
            )
            return self._get_run(conn, run_id)

    @_retried
    def record_run(self, record: RunRecord) -> RunRecord:
        """Insert a run row as given: a run that never started a process (the scheduler's
        missed and skipped runs). The note is masked like every other."""
        if record.note is not None:
            record = dataclasses.replace(record, note=safe_text(record.note))
        try:
            with self._write() as conn:
                conn.execute(insert(t.runs).values(**dataclasses.asdict(record)))
        except IntegrityError as exc:
            earlier = self._retrying() and self._same_run(record)
            if earlier:
                return earlier
            raise LedgerError(f"run {record.run_id} of {record.robot}: already recorded") from exc
        return record

    @_retried
    def list_runs(self, robot: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first."""
        r = t.runs.c
        query = select(t.runs).order_by(r.started_at.desc(), r.run_id.desc()).limit(limit)
        if robot is not None:
            query = query.where(r.robot == robot)
        with self._read() as conn:
            return [_run(row) for row in conn.execute(query)]

    @_retried
    def mark_abandoned_runs(
        self,
        robot: str,
        current_run_id: str | None,
        note: str = ABANDONED_NOTE,
        *,
        host: str | None = None,
    ) -> list[str]:
        """Close the robot's unfinished runs other than ``current_run_id`` as abandoned (ended,
        no exit code). Call it while holding the robot's lock (``paybot.locks``): then no other
        run of the robot can be alive (on this machine: ``host`` limits it to the runs recorded
        with that machine's name, for a ledger several machines share). Returns the run ids
        closed."""
        r = t.runs.c
        with self._write() as conn:
            query = select(r.run_id).where(r.robot == robot, r.ended_at.is_(None))
            if host is not None:
                query = query.where(r.host == host)
            if current_run_id is not None:
                query = query.where(r.run_id != current_run_id)
            ids = list(conn.execute(query).scalars())
            if ids:
                conn.execute(
                    update(t.runs)
                    .where(r.run_id.in_(ids))
                    .values(ended_at=self._now(), note=safe_text(note))
                )
        return ids

    @_retried
    def release_leases_of_other_runs(
        self, robot: str, current_run_id: str, *, host: str | None = None
    ) -> list[int]:
        """Free the leases that runs other than ``current_run_id`` hold on the robot's items.
        Call it while holding the robot's lock: no other run of the robot can be alive, so its
        leases belong to a dead run and need not wait to expire. With ``host`` (a ledger
        several machines share) only the leases of runs recorded with that machine's name:
        other machines' runs may be alive, and a dead machine's leases expire. Returns the erp
        ids freed."""
        w, r = t.work_items.c, t.runs.c
        with self._write() as conn:
            query = select(w.erp_id).where(
                w.robot == robot, w.lease_owner.is_not(None), w.run_id != current_run_id
            )
            if host is not None:
                query = query.where(w.run_id.in_(select(r.run_id).where(r.host == host)))
            ids = list(conn.execute(query).scalars())
            if ids:
                conn.execute(
                    update(t.work_items)
                    .where(w.robot == robot, w.erp_id.in_(ids))
                    .values(lease_owner=None, lease_expires=None, updated_at=self._now())
                )
        return ids

    @_retried
    def undecided_below(self, robot: str, erp_id: int, run_id: str) -> list[int]:
        """The robot's PENDING items with a Løbenr below ``erp_id`` that a worker of another
        run holds a live lease on (read but not yet decided, as far as the ledger can tell):
        with several machines on one queue, a worker waits for these before it looks for an
        earlier document with the same keys, as :class:`paybot.run.ordering.KeyOrder` does
        for the workers of one run."""
        w = t.work_items.c
        with self._read() as conn:
            return list(
                conn.execute(
                    select(w.erp_id)
                    .where(
                        w.robot == robot,
                        w.erp_id < erp_id,
                        w.state == State.PENDING.value,
                        w.lease_owner.is_not(None),
                        w.lease_expires > self._now(),
                        w.run_id != run_id,
                    )
                    .order_by(w.erp_id)
                ).scalars()
            )

    @_retried
    def claim_scheduled_run(
        self, robot: str, scheduled_at: dt.datetime, machine: str, outcome: str
    ) -> str:
        """Claim the planned run of ``robot`` at ``scheduled_at`` (aware UTC) for ``machine``
        with ``outcome`` (``started``, ``missed``, ``skipped``); returns the machine that holds
        the claim: ``machine`` when this call got it, another one when its scheduler acted on
        this planned time first. One insert with ``ON CONFLICT DO NOTHING``: two schedulers
        racing for one planned time never both get it. Safe to repeat."""
        s = t.scheduled_runs.c
        row = {
            "robot": robot,
            "scheduled_at": scheduled_at,
            "machine": machine,
            "claimed_at": self._now(),
            "outcome": outcome,
        }
        with self._write() as conn:
            self._insert_ignore(conn, t.scheduled_runs, [row])
            holder = conn.execute(
                select(s.machine).where(s.robot == robot, s.scheduled_at == scheduled_at)
            ).scalar()
        return str(holder)

    @_retried
    def item_counts(self, robot: str) -> dict[State, int]:
        """How many of the robot's work items are in each state (states without any left out)."""
        w = t.work_items.c
        with self._read() as conn:
            rows = conn.execute(
                select(w.state, func.count()).where(w.robot == robot).group_by(w.state)
            ).all()
        return {State(state): int(n) for state, n in rows}

    # --- hand-overs and releases --------------------------------------------------------------

    def _handover(self, conn: Connection, robot: str, erp_id: int) -> Handover | None:
        h = t.handovers.c
        row = conn.execute(select(t.handovers).where(h.robot == robot, h.erp_id == erp_id)).first()
        return None if row is None else Handover(**dict(row._mapping))

    def _item_in(self, conn: Connection, robot: str, erp_id: int) -> WorkItem | None:
        w = t.work_items.c
        row = conn.execute(
            select(t.work_items).where(w.robot == robot, w.erp_id == erp_id).with_for_update()
        ).first()
        return None if row is None else _item(row)

    @_retried
    def request_handover(
        self, robot: str, erp_id: int, *, reason: str, note: str, by: str
    ) -> Handover:
        """Mark a PENDING item for manual handling (see :class:`Handover`); a second mark
        replaces the first. :class:`LedgerError` for an item in any other state."""
        with self._write() as conn:
            check_handover(self._item_in(conn, robot, erp_id), robot, erp_id)
            mark = Handover(robot, erp_id, reason, safe_text(note), by, self._now())
            h = t.handovers.c
            conn.execute(t.handovers.delete().where(h.robot == robot, h.erp_id == erp_id))
            conn.execute(insert(t.handovers).values(**dataclasses.asdict(mark)))
        return mark

    @_retried
    def handover_for(self, robot: str, erp_id: int) -> Handover | None:
        with self._read() as conn:
            return self._handover(conn, robot, erp_id)

    @_retried
    def handovers(self, robot: str, since: dt.datetime | None = None) -> list[Handover]:
        """The robot's hand-over marks (also of items handed over since), oldest first."""
        h = t.handovers.c
        query = select(t.handovers).where(h.robot == robot).order_by(h.at, h.erp_id)
        if since is not None:
            query = query.where(h.at >= since)
        with self._read() as conn:
            return [Handover(**dict(row._mapping)) for row in conn.execute(query)]

    @_retried
    def release_item(self, robot: str, erp_id: int) -> WorkItem:
        """A PENDING item back to the next run as if new: the hand-over mark removed, the
        failures forgotten (``attempts`` 0; the last error kept for the record). Refused while
        a run holds the item, or for an item in any other state."""
        w = t.work_items.c
        with self._write() as conn:
            now = self._now()
            current = check_release(self._item_in(conn, robot, erp_id), robot, erp_id, now)
            h = t.handovers.c
            conn.execute(t.handovers.delete().where(h.robot == robot, h.erp_id == erp_id))
            conn.execute(
                update(t.work_items)
                .where(w.id == current.id)
                .values(
                    attempts=0,
                    failed_run_id=None,
                    lease_owner=None,
                    lease_expires=None,
                    updated_at=now,
                )
            )
            after = self._item_in(conn, robot, erp_id)
        assert after is not None
        return after

    # --- heartbeat and alerts -------------------------------------------------------------------

    @_retried
    def beat(self, name: str, host: str, pid: int) -> Heartbeat:
        """Record that ``name`` is alive now (one row per name, replaced)."""
        beat = Heartbeat(name, host, pid, self._now())
        with self._write() as conn:
            conn.execute(t.heartbeats.delete().where(t.heartbeats.c.name == name))
            conn.execute(insert(t.heartbeats).values(**dataclasses.asdict(beat)))
        return beat

    @_retried
    def heartbeat(self, name: str) -> Heartbeat | None:
        with self._read() as conn:
            row = conn.execute(select(t.heartbeats).where(t.heartbeats.c.name == name)).first()
        return None if row is None else Heartbeat(**dict(row._mapping))

    @_retried
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
        """Put an alert in the outbox (unsent)."""
        values = {
            "robot": robot,
            "run_id": run_id,
            "channel": channel,
            "kind": kind,
            "subject": subject,
            "text": text,
            "html": html,
            "created_at": self._now(),
            "tries": 0,
        }
        with self._write() as conn:
            key = conn.execute(insert(t.alerts).values(**values)).inserted_primary_key
            assert key is not None
            return self._alert(conn, int(key[0]))

    def _alert(self, conn: Connection, alert_id: int) -> AlertRecord:
        row = conn.execute(select(t.alerts).where(t.alerts.c.id == alert_id)).first()
        if row is None:
            raise LedgerError(f"alert {alert_id}: not in the ledger")
        return AlertRecord(**dict(row._mapping))

    @_retried
    def alert_tried(self, alert_id: int, error: str | None) -> AlertRecord:
        """A delivery attempt: ``error`` None means delivered (``sent_at`` set)."""
        with self._write() as conn:
            current = self._alert(conn, alert_id)
            now = self._now()
            conn.execute(
                update(t.alerts)
                .where(t.alerts.c.id == alert_id)
                .values(
                    tries=current.tries + 1,
                    last_try_at=now,
                    sent_at=now if error is None else None,
                    last_error=None if error is None else safe_text(error),
                )
            )
            return self._alert(conn, alert_id)

    @_retried
    def alerts(self, *, unsent_only: bool = False, limit: int = 20) -> list[AlertRecord]:
        """Newest first; ``unsent_only``: those still to deliver."""
        a = t.alerts.c
        query = select(t.alerts).order_by(a.id.desc()).limit(limit)
        if unsent_only:
            query = query.where(a.sent_at.is_(None))
        with self._read() as conn:
            return [AlertRecord(**dict(row._mapping)) for row in conn.execute(query)]

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name
