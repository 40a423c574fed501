"""Opening a paybot database (the ledger's; the audit checkpoints live in the same one).

Neither the ledger nor the audit trail owns it: both import it, so neither imports the other
for it (no import cycle between ``paybot.ledger`` and ``paybot.audit``).

SQLite (the default, ``sqlite:///data/ledger.sqlite``): WAL journal (readers never wait for the
writer), ``synchronous=FULL`` (a committed payment intent survives a power cut), a busy timeout
(a writer waits for another instead of failing), ``secure_delete`` (a deleted row's bytes are
overwritten, not left readable in free pages), and our own ``BEGIN``: write transactions
start with ``BEGIN IMMEDIATE``, so two processes claiming work never both read the same free
item and then race to update it; the second waits until the first has committed. The file and
the files SQLite keeps next to it are owner-only (``0600``, folder ``0700``).

PostgreSQL (``postgresql://user@host:5432/db``, as operators write it, or ``postgres://``) is
opened with the psycopg 3 driver (the optional extra ``paybot[postgres]``); the ledger's queries
lock rows there (``FOR UPDATE [SKIP LOCKED]``). Connecting gives up after ``connect_timeout_s``
seconds; a pooled connection is tested before use (a restarted server costs one retry, not an
error). A missing driver raises :class:`~paybot.errors.DatabaseUnavailable` here; a server that
refuses is explained by :func:`explain_connection_error` (the schema check at start-up is
the first use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from paybot.errors import DatabaseUnavailable, LedgerError
from paybot.private import private_file, tighten

WRITE_OPTION = "paybot_write"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
POSTGRES_DRIVER = "postgresql+psycopg"
INSTALL_DRIVER = "pip install 'paybot[postgres]' (scripts/setup.sh installs it)"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def database_url(url: str | URL) -> URL:
    """The SQLAlchemy URL for ``url``: ``postgresql://`` and ``postgres://`` get the psycopg 3
    driver (``postgresql+psycopg://``); anything else is parsed as it is. Raises
    :class:`~paybot.errors.DatabaseUnavailable` for text that is not a database URL (the text
    is not repeated: it may hold a password)."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and ValueError (a bad port)
        raise DatabaseUnavailable(
            f"ledger.url is not a database URL ({type(exc).__name__}); expected "
            "sqlite:///path/ledger.sqlite or postgresql://user@host:5432/database"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
    return parsed


def shown(url: str | URL) -> str:
    """``url`` as it may be shown: the password replaced by ``***``."""
    try:
        return (make_url(url) if isinstance(url, str) else url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it, it may be a password
        return "(ledger.url, not a database URL)"


def make_engine(
    url: str | URL, *, busy_timeout_s: float = 30.0, connect_timeout_s: float = 10.0
) -> Engine:
    parsed = database_url(url)
    if parsed.get_backend_name() == "postgresql":
        try:
            return create_engine(
                parsed,
                pool_pre_ping=True,
                connect_args={"connect_timeout": max(1, round(connect_timeout_s))},
            )
        except ImportError:
            raise missing_driver(parsed) from None
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except (ImportError, SQLAlchemyError) as exc:
            raise DatabaseUnavailable(
                f"ledger database {shown(parsed)}: cannot use it ({type(exc).__name__}: {exc}); "
                "paybot supports sqlite:/// and postgresql://"
            ) from None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise LedgerError(
            f"ledger url {shown(parsed)!r}: an in-memory SQLite database is not shared between "
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


def missing_driver(url: str | URL) -> DatabaseUnavailable:
    """The error for a PostgreSQL URL when psycopg 3 is not installed."""
    return DatabaseUnavailable(
        f"ledger database {shown(url)}: the PostgreSQL driver (psycopg 3) is not installed: "
        f"{INSTALL_DRIVER}"
    )


def explain_connection_error(engine: Engine | URL, exc: BaseException) -> DatabaseUnavailable:
    """A :class:`~paybot.errors.DatabaseUnavailable` that names the database (no password) and
    says in words what the server or the network answered: refused, no answer, login refused,
    no such database. The driver's own first line follows; it never holds the password.
    ``engine``: the engine that failed, or its URL."""
    url = engine if isinstance(engine, URL) else engine.url
    where = shown(url)
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    detail = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    password = url.password
    if password:
        detail = detail.replace(str(password), "***")
    lowered = detail.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        hint = (
            "the server refused the login: check the user, and the password in "
            "PAYBOT_LEDGER_PASSWORD, the systemd credential ledger-password or the vault "
            "file's ledger_password"
        )
    elif "does not exist" in lowered and "database" in lowered:
        hint = "no such database on the server: create it (docs/database.md)"
    elif "connection refused" in lowered:
        hint = "the server refused the connection: is PostgreSQL running on that host and port?"
    elif "timeout" in lowered or "timed out" in lowered:
        hint = "the server did not answer in time: check the host, the port and the network"
    elif "unable to open database file" in lowered:
        hint = "SQLite cannot open the file: check the folder exists and is writable"
    else:
        hint = "cannot connect"
    return DatabaseUnavailable(f"ledger database {where}: {hint} ({detail})")
