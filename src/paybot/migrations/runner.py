"""The ledger database's schema version: read it, check it, upgrade it (Alembic, the revisions
in :mod:`paybot.migrations`).

One database holds the ledger, the run history, the alerts' outbox and the audit checkpoints,
so there is one version for all of them: the Alembic revision in the table ``alembic_version``
(``0001``, ``0002``, ...). This code is written for the newest revision it ships, the *head*.

At start-up every command that uses the ledger calls :func:`ensure_schema`, which refuses
(:class:`~paybot.errors.SchemaMismatch`, exit 2, naming both versions) to work on a database
whose version is not the head:

- **older** (or none: made by a paybot from before migrations): back it up, ``robot db upgrade``;
- **newer** (or a revision this code does not know): this machine runs older code than another
  one that upgraded the database; update paybot here;
- **empty**: a brand-new embedded SQLite file is created and upgraded at once (first-run
  convenience: nothing else uses it); an empty PostgreSQL database is refused until an operator
  runs ``robot db upgrade`` (a shared server's schema changes when a person says so).

:func:`upgrade` is what ``robot db upgrade`` runs: one transaction (PostgreSQL and SQLite both
have transactional DDL, so a failed upgrade changes nothing), under a lock, so two machines
upgrading at once do it one after the other and the second finds nothing left to do: on SQLite
``BEGIN IMMEDIATE``, on PostgreSQL the transaction-level advisory lock :data:`UPGRADE_LOCK`.
Safe to repeat.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from paybot import __version__
from paybot.database import explain_connection_error, is_sqlite, shown, writer
from paybot.errors import DatabaseError, SchemaMismatch

SCRIPT_LOCATION = "paybot:migrations"
VERSION_TABLE = "alembic_version"
UPGRADE_LOCK = 7_061_796_201_301
"""The key of the PostgreSQL advisory lock an upgrade holds (``pg_advisory_xact_lock``)."""
LEDGER_TABLES = frozenset({"work_items", "register", "runs", "decisions"})
"""Tables whose presence without a version means "made by a paybot before migrations"."""


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def code_version() -> str:
    """The schema version this code is written for (the newest revision it ships)."""
    head = _script().get_current_head()
    if head is None:  # pragma: no cover - the package always ships revision 0001
        raise DatabaseError("paybot ships no schema revisions: the installation is broken")
    return head


def known_versions() -> list[str]:
    """Every revision this code ships, oldest first."""
    return [r.revision for r in reversed(list(_script().walk_revisions()))]


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands. ``current`` is ``None`` when it has no version;
    ``unversioned`` is true when it has paybot's tables all the same (made before migrations)."""

    database: str
    current: str | None
    head: str
    unversioned: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def empty(self) -> bool:
        return self.current is None and not self.unversioned

    @property
    def newer(self) -> bool:
        """A version this code does not ship: written by newer code."""
        return self.current is not None and self.current not in known_versions()

    def describe(self) -> str:
        """``0001 (up to date)``, ``none: an empty database``, ... for ``robot db current``."""
        if self.up_to_date:
            return f"{self.current} (up to date)"
        if self.empty:
            return f"none: an empty database (this paybot needs {self.head})"
        if self.unversioned:
            return f"none: made by a paybot from before schema versions (needs {self.head})"
        if self.newer:
            return f"{self.current}: newer than this paybot {__version__} knows ({self.head})"
        return f"{self.current}: older than this paybot needs ({self.head})"

    def refusal(self) -> SchemaMismatch:
        """The error a command stops with when the database is not at the head."""
        where = f"ledger database {self.database}"
        if self.newer:
            return SchemaMismatch(
                f"{where}: its schema is at version {self.current}, newer than this paybot "
                f"{__version__} is written for ({self.head}): another machine runs newer code; "
                "update paybot on this machine before it uses this database"
            )
        if self.empty:
            return SchemaMismatch(
                f"{where}: holds no paybot schema yet (version none; this paybot needs "
                f"{self.head}): run 'robot db upgrade' once to create it (docs/database.md)"
            )
        current = (
            "none (made by a paybot from before schema versions)"
            if self.unversioned
            else self.current
        )
        return SchemaMismatch(
            f"{where}: its schema is at version {current}, older than this paybot "
            f"{__version__} needs ({self.head}): back the database up, then run "
            "'robot db upgrade' (docs/database.md)"
        )


def _read(conn: Connection, database: str) -> SchemaState:
    heads = MigrationContext.configure(conn).get_current_heads()
    if len(heads) > 1:
        raise DatabaseError(
            f"ledger database {database}: its {VERSION_TABLE} table holds several versions "
            f"({', '.join(heads)}); a person must look at it"
        )
    current = heads[0] if heads else None
    unversioned = current is None and bool(LEDGER_TABLES & set(inspect(conn).get_table_names()))
    return SchemaState(database, current, code_version(), unversioned)


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A write transaction that holds the upgrade lock: ``BEGIN IMMEDIATE`` on SQLite, the
    advisory lock :data:`UPGRADE_LOCK` on PostgreSQL (released at commit or rollback)."""
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        yield conn


def schema_state(engine: Engine) -> SchemaState:
    """Read the database's schema version (reads only). Raises
    :class:`~paybot.errors.DatabaseUnavailable` when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            return _read(conn, shown(engine.url))
    except SQLAlchemyError as exc:
        raise explain_connection_error(engine, exc) from None


def _upgrade_in(conn: Connection, state: SchemaState) -> None:
    try:
        command.upgrade(_config(conn), "head")
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"ledger database {state.database}: the upgrade from version "
            f"{state.current or 'none'} to {state.head} failed and changed nothing "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from None
    except RuntimeError as exc:  # a revision's own refusal (see 0001)
        raise DatabaseError(f"ledger database {state.database}: {exc}") from None


def upgrade(engine: Engine) -> tuple[SchemaState, SchemaState]:
    """Bring the database to this code's version (``robot db upgrade``); returns the state
    before and after. Refuses (:class:`~paybot.errors.SchemaMismatch`) a database that is newer
    than the code. Safe to repeat: at the head it does nothing."""
    where = shown(engine.url)
    current = schema_state(engine)  # without the write lock: the common case is "up to date"
    if current.up_to_date:
        return current, current
    try:
        with _locked(engine) as conn:
            before = _read(conn, where)
            if before.newer:
                raise before.refusal()
            if not before.up_to_date:
                _upgrade_in(conn, before)
            after = _read(conn, where)
    except SQLAlchemyError as exc:
        raise explain_connection_error(engine, exc) from None
    return before, after


def ensure_schema(engine: Engine, *, create_if_new: bool | None = None) -> SchemaState:
    """The start-up check: returns the state when the database is at this code's version;
    creates the schema in an empty database when ``create_if_new`` (default: only for SQLite);
    else raises :class:`~paybot.errors.SchemaMismatch` naming both versions (or
    :class:`~paybot.errors.DatabaseUnavailable` when it cannot be reached). Safe to repeat."""
    state = schema_state(engine)
    if state.up_to_date:
        return state
    create = is_sqlite(engine) if create_if_new is None else create_if_new
    if not (state.empty and create):
        raise state.refusal()
    _before, after = upgrade(engine)  # another process may have created it meanwhile: fine
    if not after.up_to_date:  # pragma: no cover - upgrade() raises first
        raise after.refusal()
    return after
