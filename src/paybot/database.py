"""Opening a paybot database (the ledger's; the audit checkpoints live in the same one).

Neither the ledger nor the audit trail owns it: both import it, so neither imports the other
for it (no import cycle between ``paybot.ledger`` and ``paybot.audit``).

SQLite (the default, ``sqlite:///data/ledger.sqlite``): WAL journal (readers never wait for the
writer), ``synchronous=FULL`` (a committed payment intent survives a power cut), a busy timeout
(a writer waits for another instead of failing), ``secure_delete`` (a deleted row's bytes are
overwritten, not left readable in free pages), and our own ``BEGIN``: write transactions
start with ``BEGIN IMMEDIATE``, so two processes claiming work never both read the same free
item and then race to update it; the second waits until the first has committed. The file and
the files SQLite keeps next to it are owner-only (``0600``, folder ``0700``). PostgreSQL
URLs are passed through; the ledger's queries lock rows there (``FOR UPDATE [SKIP LOCKED]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from paybot.errors import LedgerError
from paybot.private import private_file, tighten

WRITE_OPTION = "paybot_write"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def make_engine(url: str, *, busy_timeout_s: float = 30.0) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise LedgerError(
            f"ledger url {url!r}: an in-memory SQLite database is not shared between "
            "connections; give a file (sqlite:///path/ledger.sqlite) or use InMemoryLedger"
        )
    private_file(Path(database))  # 0600 in a 0700 folder; SQLite's -wal/-shm copy its mode
    for suffix in SQLITE_SIDE_FILES:
        tighten(Path(database + suffix))
    engine = create_engine(
        parsed, connect_args={"timeout": busy_timeout_s, "check_same_thread": False}
    )
    busy_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # deleted rows are overwritten, not left in free pages (old unsalted keys)
            cursor.execute("PRAGMA secure_delete = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = bool(connection.get_execution_options().get(WRITE_OPTION))
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, its transactions marked as writes (``BEGIN IMMEDIATE`` on SQLite)."""
    return engine.execution_options(**{WRITE_OPTION: True})
