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
