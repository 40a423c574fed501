"""``robot db`` and the ledger on a real PostgreSQL server, through the command line: the
password from the environment never shows; a run against a database without the schema stops
before anything is touched (exit 2, naming both versions) and runs once ``robot db upgrade``
made it; a missing driver, a server that refuses, a wrong password or database end in one
sentence and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from test_scheduler_fakes import FakeHome, make_home

from paybot.cli import main
from support.postgres import PostgresCluster, free_port


@pytest.fixture
def home(tmp_path: Path) -> FakeHome:
    return make_home(tmp_path, {"fake-quick": "quick"})


def with_database(home: FakeHome, url: str, password: str | None = None) -> FakeHome:
    """The fake home with ``PAYBOT_LEDGER_URL`` (and ``PAYBOT_LEDGER_PASSWORD``) set."""
    home.env["PAYBOT_LEDGER_URL"] = url
    if password is not None:
        home.env["PAYBOT_LEDGER_PASSWORD"] = password
    return home


def output(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def assert_clear_error(done: subprocess.CompletedProcess[str], *phrases: str) -> None:
    text = output(done)
    assert done.returncode == 2, text
    assert "Traceback" not in text, text
    for phrase in phrases:
        assert phrase in text, text


def test_db_upgrade_and_current_with_the_password_from_the_environment(
    home: FakeHome, postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    bare = make_url(postgres_url).set(password=None).render_as_string(hide_password=False)
    with_database(home, bare, postgres_cluster.password)
    before = home.robot("db", "current")
    assert before.returncode == 1, output(before)
    assert "schema version: none: an empty database (this paybot needs 0002)" in before.stdout
    upgraded = home.robot("db", "upgrade")
    assert upgraded.returncode == 0, output(upgraded)
    assert "schema version none → 0002 (upgraded)" in upgraded.stdout
    again = home.robot("db", "upgrade")
    assert "0002, up to date (nothing to do)" in again.stdout
    after = home.robot("db", "current")
    assert after.returncode == 0 and "schema version: 0002 (up to date)" in after.stdout
    for done in (before, upgraded, again, after):
        assert postgres_cluster.password not in output(done)
        assert f"127.0.0.1:{postgres_cluster.port}" in done.stdout


@pytest.mark.slow
def test_a_run_waits_for_robot_db_upgrade_then_records_its_history_in_postgresql(
    home: FakeHome,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with_database(home, postgres_url)
    refused = home.robot("run", "fake-quick")
    assert_clear_error(
        refused, "holds no paybot schema yet (version none; this paybot needs 0002)", "not started"
    )
    assert home.marker("fake-quick.ran") is None  # the robot never started
    assert make_url(postgres_url).password not in output(refused)
    assert_clear_error(home.robot("scheduler"), "run 'robot db upgrade' once")
    home.use_env(monkeypatch)
    for command in ("runs", "status", "queue"):  # in this process: quicker than a robot each
        assert main([command]) == 2, command
        said = capsys.readouterr()
        assert "run 'robot db upgrade' once" in said.err and "Traceback" not in said.err

    assert home.robot("db", "upgrade").returncode == 0
    done = home.robot("run", "fake-quick")
    assert done.returncode == 0, output(done)
    assert home.marker("fake-quick.ran") == "manual"
    [row] = home.runs("fake-quick")  # read back from PostgreSQL
    assert (row.trigger, row.exit_code, row.paid) == ("manual", 0, 2)
    listed = home.robot("runs")
    assert listed.returncode == 0 and row.run_id in listed.stdout


def test_a_missing_driver_is_named_with_the_way_to_install_it(
    home: FakeHome, postgres_url: str
) -> None:
    with_database(home, postgres_url)
    hidden = (
        "import sys; sys.modules['psycopg'] = None\n"  # `import psycopg` fails as if missing
        "from paybot.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    for args in (["db", "current"], ["runs"], ["run", "fake-quick"]):
        done = subprocess.run(
            [sys.executable, "-c", hidden, *args],
            env=home.env,
            cwd=home.home,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert_clear_error(
            done, "the PostgreSQL driver (psycopg 3) is not installed", "paybot[postgres]"
        )
        assert make_url(postgres_url).password not in output(done)
    assert home.marker("fake-quick.ran") is None


def test_a_server_that_refuses_the_connection(home: FakeHome) -> None:
    port = free_port()  # nothing listens there
    with_database(home, f"postgresql://paybot@127.0.0.1:{port}/paybot", "some-password")
    for args in (("db", "upgrade"), ("run", "fake-quick")):
        done = home.robot(*args)
        assert_clear_error(
            done,
            f"ledger database postgresql+psycopg://paybot:***@127.0.0.1:{port}/paybot",
            "the server refused the connection",
        )
        assert "some-password" not in output(done)


def test_a_wrong_password_and_a_missing_database(
    home: FakeHome, postgres_cluster: PostgresCluster
) -> None:
    wrong = make_url(postgres_cluster.url("postgres")).set(password="not-the-password")
    with_database(home, wrong.render_as_string(hide_password=False))
    done = home.robot("db", "current")
    assert_clear_error(done, "the server refused the login", "PAYBOT_LEDGER_PASSWORD")
    assert "not-the-password" not in output(done)

    with_database(home, postgres_cluster.url("no_such_database"))
    done = home.robot("db", "upgrade")
    assert_clear_error(done, "no such database on the server")
    assert postgres_cluster.password not in output(done)


def test_a_password_in_the_settings_file_is_refused_without_showing_it(home: FakeHome) -> None:
    settings = home.home / "config" / "paybot.yaml"
    text = settings.read_text("utf-8")
    sqlite = 'url: "sqlite:///{data_dir}/ledger.sqlite"'
    assert sqlite in text
    settings.write_text(
        text.replace(sqlite, 'url: "postgresql://paybot:hemmelig-kode@db.example/paybot"'), "utf-8"
    )
    done = home.robot("db", "current")
    assert_clear_error(done, "ledger.url", "holds a password", "PAYBOT_LEDGER_PASSWORD")
    assert "hemmelig-kode" not in output(done)
