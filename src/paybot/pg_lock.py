"""Locks in a shared PostgreSQL: session-level advisory locks on a connection of their own.

When the ledger is on PostgreSQL (several robot machines share it) the robot's lock is not a
``flock`` in the data folder (see :mod:`paybot.locks`) but ``pg_try_advisory_lock`` on a
dedicated connection. The lock lives exactly as long as that database session: the holder's
process ends (however: even ``SIGKILL``), its connection closes and the server drops the lock;
a machine that loses power is noticed by the server's TCP keepalives, which this connection
sets to 30 s + 3 × 10 s, so its lock is gone about a minute later. Nothing stale to clean up.

The key is a 64-bit hash of a text such as ``paybot run pay-small-invoices@robot-2`` (the
server's ``hashtextextended``); the holder is named in the session's ``application_name``
(robot, run id, machine, pid), which is how :func:`holder_of` tells who holds it.

When the server restarts, the session and its lock are gone. A watcher thread checks the
connection every :data:`CHECK_SECONDS`; on losing it, it reconnects (doubling pauses up to
10 s) and takes the lock again. When another process took it in between, the holder is told
(``on_lost``) and :attr:`AdvisoryLock.lost` is set.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from paybot.database import database_url, missing_driver

log = logging.getLogger("paybot.locks")

CHECK_SECONDS = 5.0
"""How often a held lock's connection is checked (and the lock taken again after a restart)."""
KEEPALIVE_OPTIONS = (
    "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
)
"""Server-side keepalives for the lock's session: a holder whose machine died without closing
its connection loses the lock within about a minute."""
_LOCK = text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))")
_HOLDERS = text(
    """
    SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(:key, 0)
    """
)


def _connect_args(url: str | URL, application_name: str) -> dict[str, Any]:
    if make_url(url).get_backend_name() != "postgresql":
        raise ValueError(f"advisory locks need PostgreSQL, not {make_url(url).get_backend_name()}")
    return {
        "application_name": application_name[:63],
        "options": KEEPALIVE_OPTIONS,
        "connect_timeout": 10,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }


def _engine(url: str | URL, application_name: str) -> Engine:
    """An engine without a pool for one lock's session. Raises
    :class:`~paybot.errors.DatabaseUnavailable` when psycopg 3 is not installed."""
    try:
        return create_engine(
            database_url(url),
            poolclass=NullPool,
            connect_args=_connect_args(url, application_name),
        )
    except ImportError:
        raise missing_driver(url) from None


def holder_of(url: str | URL, key: str) -> str | None:
    """The ``application_name`` of the session holding ``key`` (``""`` when it set none), or
    ``None`` when nobody holds it. Raises :class:`sqlalchemy.exc.SQLAlchemyError` when the
    database cannot be asked."""
    engine = _engine(url, "paybot lock check")
    try:
        with engine.connect() as conn:
            row = conn.execute(_HOLDERS, {"key": key}).first()
    finally:
        engine.dispose()
    return None if row is None else str(row[0] or "")


class AdvisoryLock:
    """One advisory lock held on a connection of its own; :meth:`try_take` then
    :meth:`release`. Not re-entrant."""

    def __init__(
        self,
        url: str | URL,
        key: str,
        application_name: str,
        *,
        on_lost: Callable[[str], None] | None = None,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.url = url
        self.key = key
        self.on_lost = on_lost
        self.lost = threading.Event()
        self._check_seconds = check_seconds
        self._engine = _engine(url, application_name)
        self._conn: Connection | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def try_take(self) -> bool:
        """Take the lock now (never waits). False when another session holds it. Raises
        :class:`sqlalchemy.exc.SQLAlchemyError` when the database cannot be reached."""
        conn = self._engine.connect()
        try:
            got = bool(conn.execute(_LOCK, {"key": self.key}).scalar())
            conn.commit()  # session-level lock: outlives the transaction
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        self._watcher = threading.Thread(target=self._watch, name="paybot-lock", daemon=True)
        self._watcher.start()
        return True

    def _watch(self) -> None:
        pause: float | None = None  # None: the connection was fine last time
        while not self._stop.wait(self._check_seconds if pause is None else pause):
            try:
                if self._conn is None:
                    raise ConnectionError("no connection")
                self._conn.execute(text("SELECT 1")).scalar()
                self._conn.commit()
                pause = None
                continue
            except (SQLAlchemyError, ConnectionError):
                with contextlib.suppress(Exception):
                    if self._conn is not None:
                        self._conn.close()
                self._conn = None
            try:
                conn = self._engine.connect()
                got = bool(conn.execute(_LOCK, {"key": self.key}).scalar())
                conn.commit()
            except SQLAlchemyError:
                pause = min((pause or 0.25) * 2, 10.0)
                continue
            if got:
                log.warning("%s: the database connection was lost; lock taken again", self.key)
                self._conn, pause = conn, None
                continue
            conn.close()
            self.lost.set()
            log.error("%s: lost to another process while the database was away", self.key)
            if self.on_lost is not None:
                self.on_lost(self.key)
            return

    def release(self) -> None:
        """Give the lock back and close the connection (safe to repeat)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=15)
            self._watcher = None
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                conn.execute(_UNLOCK, {"key": self.key})
                conn.commit()
            with contextlib.suppress(SQLAlchemyError):
                conn.close()
        self._engine.dispose()
