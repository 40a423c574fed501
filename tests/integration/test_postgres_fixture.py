"""The throwaway PostgreSQL cluster the tests use (tests/support/postgres.py) is a real server on
127.0.0.1 that asks for a password, keeps its data and port over a restart, and breaks the
connections open across that restart."""

from __future__ import annotations

import psycopg
import pytest

from support.postgres import PostgresCluster


def test_a_fresh_database_takes_writes(
    postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_cluster.conninfo(name)) as conn:
        conn.execute("CREATE TABLE t (n int)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        row = conn.execute("SELECT inet_server_addr()::text, current_setting('port')").fetchone()
    assert row == ("127.0.0.1/32", str(postgres_cluster.port))
    assert postgres_url.startswith(
        f"postgresql://paybot_test:{postgres_cluster.password}@127.0.0.1:"
    )


def test_a_wrong_password_is_refused(postgres_cluster: PostgresCluster) -> None:
    wrong = postgres_cluster.conninfo().replace(postgres_cluster.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)


def test_a_restart_keeps_port_and_data_and_breaks_open_connections(
    postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    port = postgres_cluster.port
    with psycopg.connect(postgres_cluster.conninfo(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (7)")
        postgres_cluster.restart()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    assert postgres_cluster.port == port
    with psycopg.connect(postgres_cluster.conninfo(name)) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]


def test_while_stopped_connections_are_refused(postgres_cluster: PostgresCluster) -> None:
    postgres_cluster.stop()
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(postgres_cluster.conninfo())
    finally:
        postgres_cluster.start()
    with psycopg.connect(postgres_cluster.conninfo()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
