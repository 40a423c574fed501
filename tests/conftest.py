"""Shared test setup. Its presence also puts ``tests/`` on ``sys.path``, so test modules can
``import support`` (the helpers in tests/support)."""

from collections.abc import Iterator

import pytest

from support.postgres import PostgresCluster, PostgresUnavailable, running_cluster

# --- PostgreSQL: one throwaway cluster per pytest session (per xdist worker), started lazily ---


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (see tests/support/postgres.py), started the
    first time a test asks for it and destroyed at the end of the session. Fails (not skips)
    when PostgreSQL is not installed: scripts/setup.sh installs it."""
    try:
        with running_cluster() as cluster:
            yield cluster
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The URL (``postgresql://user:password@127.0.0.1:port/db``) of a fresh, empty database
    for this test, dropped afterwards. Should a test stop the server, the fixture starts it."""
    if not postgres_cluster.is_running():
        postgres_cluster.start()
    with postgres_cluster.new_database() as url:
        yield url


@pytest.fixture(scope="session")
def _postgres_ledger_database(postgres_cluster: PostgresCluster) -> str:
    from paybot.ledger import Ledger

    name = postgres_cluster.create_database("paybot_ledger")
    ledger = Ledger(postgres_cluster.url(name))
    try:
        ledger.create_schema()
    finally:
        ledger.close()
    return name


@pytest.fixture
def postgres_ledger_url(postgres_cluster: PostgresCluster, _postgres_ledger_database: str) -> str:
    """The URL of a database with the ledger's schema at this code's version and no rows
    (one per session, emptied before each test: much faster than a new database)."""
    if not postgres_cluster.is_running():
        postgres_cluster.start()
    postgres_cluster.empty_tables(_postgres_ledger_database)
    return postgres_cluster.url(_postgres_ledger_database)
