"""The ledger database's schema migrations (paybot.migrations, paybot.migrations.runner), on a real
SQLite file and a real PostgreSQL server: upgrading an empty database gives exactly the tables
the code describes; a database made before migrations is adopted with its rows; the start-up
check refuses a schema older or newer than the code, naming both versions."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from paybot.audit.anchor import checkpoints_table
from paybot.database import make_engine
from paybot.errors import DatabaseError, SchemaMismatch
from paybot.ledger import Ledger
from paybot.ledger import schema as ledger_schema
from paybot.migrations import runner as migrate

HEAD = "0002"
NEXT = "0003"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'data' / 'ledger.sqlite'}"


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    made = make_engine(url)
    yield made
    made.dispose()


def differences(engine: sa.Engine) -> list[object]:
    """What differs between the database and the code's tables (Alembic's autogenerate
    comparison: tables, columns, types, nullability, indexes, unique constraints)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, [ledger_schema.metadata, checkpoints_table.metadata]))


def tables(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def made_before_migrations(engine: sa.Engine, *, without: tuple[str, ...] = ()) -> None:
    """A database as paybot made it before migrations: ``create_all`` of the ledger's tables
    and the audit checkpoints (that code, today's, minus the tables in ``without``), and a
    work item in it."""
    with engine.begin() as conn:
        for table in ledger_schema.metadata.sorted_tables:
            if table.name not in without:
                table.create(conn)
        if "audit_checkpoints" not in without:
            checkpoints_table.create(conn)
    ledger = Ledger(engine.url)
    try:
        with ledger._write() as conn:
            ledger._insert_ignore(
                conn, ledger_schema.work_items, ledger._new_items("r", [(17, "1:F-17")], "run-1")
            )
    finally:
        ledger.close()


def work_item_keys(url: str | sa.URL) -> list[str]:
    ledger = Ledger(url)
    try:
        return [i.business_key for i in ledger.items("r")]
    finally:
        ledger.close()


# --- upgrading ---------------------------------------------------------------------------------


def test_upgrading_an_empty_database_gives_exactly_the_codes_tables(engine: sa.Engine) -> None:
    before, after = migrate.upgrade(engine)
    assert (before.current, before.empty) == (None, True)
    assert (after.current, after.up_to_date) == (HEAD, True)
    assert differences(engine) == []
    assert {"work_items", "runs", "alerts", "audit_checkpoints", "alembic_version"} <= tables(
        engine
    )


def test_the_comparison_sees_a_missing_column(engine: sa.Engine) -> None:
    """The check above can fail: a table the code has more columns for shows as a difference."""
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_alerts_sent"))
        conn.execute(sa.text("DROP TABLE alerts"))
    assert any("alerts" in str(d) for d in differences(engine))


def test_upgrade_is_safe_to_repeat(engine: sa.Engine) -> None:
    migrate.upgrade(engine)
    before, after = migrate.upgrade(engine)
    assert before.up_to_date and after.current == HEAD


def test_a_database_made_before_migrations_is_adopted_with_its_rows(
    engine: sa.Engine, url: str
) -> None:
    made_before_migrations(engine, without=("alerts", "audit_checkpoints"))
    state = migrate.schema_state(engine)
    assert (state.current, state.unversioned) == (None, True)
    with pytest.raises(SchemaMismatch) as refused:
        migrate.ensure_schema(engine, create_if_new=True)
    message = str(refused.value)
    assert "version none (made by a paybot from before schema versions)" in message
    assert f"needs ({HEAD})" in message and "robot db upgrade" in message

    before, after = migrate.upgrade(engine)
    assert (before.unversioned, after.current) == (True, HEAD)
    assert differences(engine) == []  # the tables it lacked were made, with their indexes
    assert work_item_keys(url) == ["1:F-17"]


def test_a_table_lacking_a_column_stops_the_upgrade_and_nothing_changes(
    engine: sa.Engine,
) -> None:
    made_before_migrations(engine, without=("heartbeats", "alerts"))
    with engine.begin() as conn:  # an older heartbeats table, without the host column
        conn.execute(sa.text("CREATE TABLE heartbeats (name VARCHAR(64) PRIMARY KEY, pid INT)"))
    with pytest.raises(DatabaseError, match=r"\(heartbeats lacks host, at\); nothing was changed"):
        migrate.upgrade(engine)
    assert "alerts" not in tables(engine) and "alembic_version" not in tables(engine)
    assert migrate.schema_state(engine).current is None


# --- the start-up check ------------------------------------------------------------------------


def test_a_new_sqlite_file_is_created_at_start_up(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'ledger.sqlite'}")
    try:
        assert migrate.ensure_schema(engine).current == HEAD
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_an_empty_postgresql_database_waits_for_robot_db_upgrade(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        with pytest.raises(SchemaMismatch) as refused:
            migrate.ensure_schema(engine)
        assert f"holds no paybot schema yet (version none; this paybot needs {HEAD})" in str(
            refused.value
        )
        assert "run 'robot db upgrade'" in str(refused.value)
        assert tables(engine) == set()  # nothing was created by looking
        migrate.upgrade(engine)
        assert migrate.ensure_schema(engine).current == HEAD
    finally:
        engine.dispose()


def test_a_newer_schema_is_refused_naming_both_versions(engine: sa.Engine) -> None:
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0042'"))
    for attempt in (migrate.ensure_schema, migrate.upgrade):
        with pytest.raises(SchemaMismatch) as refused:
            attempt(engine)
        message = str(refused.value)
        assert "its schema is at version 0042, newer than this paybot" in message
        assert f"is written for ({HEAD})" in message and "update paybot" in message
    assert migrate.schema_state(engine).current == "0042"  # left as it was


@pytest.fixture
def next_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The shipped migrations plus a revision :data:`NEXT` (a column ``note`` on
    ``heartbeats``), as a later paybot would ship them: the code's head becomes :data:`NEXT`
    while the fixture is active."""
    folder = tmp_path / "migrations"
    shutil.copytree(
        str(resources.files("paybot") / "migrations"),
        folder,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (folder / "versions" / f"{NEXT}_heartbeat_note.py").write_text(
        '"""A note on heartbeats (test only)."""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f'revision = "{NEXT}"\n'
        f'down_revision = "{HEAD}"\n'
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        '    op.add_column("heartbeats", sa.Column("note", sa.Text))\n',
        "utf-8",
    )
    monkeypatch.setattr(migrate, "SCRIPT_LOCATION", str(folder))
    migrate._script.cache_clear()
    yield NEXT
    migrate._script.cache_clear()


def test_an_older_schema_is_refused_and_robot_db_upgrade_brings_it_up(
    url: str, next_revision: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(url)
    try:
        with monkeypatch.context() as today:  # the database made by today's code: HEAD
            today.setattr(migrate, "SCRIPT_LOCATION", "paybot:migrations")
            migrate._script.cache_clear()
            migrate.upgrade(engine)
        migrate._script.cache_clear()
        assert migrate.code_version() == next_revision

        with pytest.raises(SchemaMismatch) as refused:
            migrate.ensure_schema(engine)
        message = str(refused.value)
        assert f"its schema is at version {HEAD}, older than this paybot" in message
        assert f"needs ({NEXT})" in message and "robot db upgrade" in message

        before, after = migrate.upgrade(engine)
        assert (before.current, after.current) == (HEAD, NEXT)
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("heartbeats")}
        assert "note" in columns
        assert migrate.ensure_schema(engine).current == NEXT
    finally:
        engine.dispose()


def test_two_machines_upgrading_at_once_do_it_once(url: str) -> None:
    """Two processes starting on a new database at once (two machines' ``robot db upgrade``,
    or a first run and the scheduler on a new SQLite file): one creates, the other waits and
    finds it done."""
    results: list[tuple[str | None, str | None]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def machine() -> None:
        engine = make_engine(url)
        try:
            start.wait()
            before, after = migrate.upgrade(engine)
            results.append((before.current, after.current))
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=machine) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results, key=str) == sorted([(None, HEAD), (HEAD, HEAD)], key=str)


# --- a real ledger file from before migrations -------------------------------------------------

BEFORE = Path(__file__).resolve().parents[1] / "data" / "ledger-before-migrations.sqlite"


def row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        names = sorted(set(sa.inspect(conn).get_table_names()) - {"alembic_version"})
        return {
            n: int(conn.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar() or 0)
            for n in names
        }


def test_a_ledger_file_written_by_the_code_before_migrations_is_upgraded_and_works(
    tmp_path: Path,
) -> None:
    """tests/data/ledger-before-migrations.sqlite was written by paybot at commit 93a22db
    (tests/data/make_ledger_before_migrations.py): rows in every table, an intent open."""
    path = tmp_path / "ledger.sqlite"
    shutil.copyfile(BEFORE, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        counts = row_counts(engine)
        assert counts["work_items"] == 4 and counts["audit_checkpoints"] == 1
        with pytest.raises(SchemaMismatch, match="from before schema versions"):
            migrate.ensure_schema(engine)  # a run refuses it until an operator upgrades
        before, after = migrate.upgrade(engine)
        assert (before.unversioned, after.current) == (True, HEAD)
        upgraded = row_counts(engine)
        assert {table: upgraded[table] for table in counts} == counts, "every row kept"
        assert set(upgraded) - set(counts) == {"scheduled_runs"}  # 0002's table, empty
        assert upgraded["scheduled_runs"] == 0
        assert differences(engine) == []
    finally:
        engine.dispose()
    ledger = Ledger(f"sqlite:///{path}")
    try:
        ledger.ensure_schema()
        states = {i.erp_id: i.state.value for i in ledger.items("small_invoices")}
        assert states == {1: "PAID", 2: "PAY_INTENT", 3: "MANUAL", 4: "PENDING"}
        assert ledger.paid_voucher("20433213:F-1") == "B-1001"
        reconcile = ledger.claim_next("small_invoices", "w9", "next-run", 300)
        assert reconcile is not None and reconcile.erp_id == 2  # the open intent, to reconcile
        [run] = ledger.list_runs("small_invoices")
        assert (run.exit_code, run.paid, run.manual) == (0, 1, 1)
    finally:
        ledger.close()
