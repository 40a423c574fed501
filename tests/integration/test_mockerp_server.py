"""``robot erp`` commands, and the server as a real process on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mockerp.bankdays import next_bank_day
from mockerp.cli import main
from support.clock import danish_today
from support.db import insert_booking, insert_invoice, payments_of
from support.mockserver import running_mock, serve_command
from support.web import HttpClient, approve_form
from support.world import PASSWORDS, World, make_world

DATA = Path(__file__).resolve().parents[1] / "data" / "oioubl"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paybot", "erp", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- serve -----------------------------------------------------------------------------------


def test_server_on_port_zero_serves_a_payment_over_http(world: World) -> None:
    invoice = insert_invoice(world.conn)
    with running_mock(world.db_path) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert not server.url.endswith(":0")
        client = HttpClient(server.url)
        home = client.login("robot", PASSWORDS["robot"])
        assert (home.status, home.page.screen) == (200, "indbakke")
        pay_day = next_bank_day(danish_today()).strftime("%d-%m-%Y")
        receipt = client.post(
            f"/faktura/{invoice}/godkend", approve_form(client.csrf(), date=pay_day)
        )
        assert receipt.page.screen == "kvittering"
        voucher = receipt.page.text("bilagsnummer")
        assert voucher.startswith("B-")
        served = client.get("/static/style.css")
        assert served.status == 200 and b"body" in served.body
        assert "max-age=3600" in served.headers["cache-control"]
    assert server.stop() == 0
    out = server.stdout_text
    assert f"mockerp listening on {server.url}\n" in out
    assert PASSWORDS["robot"] not in out + server.stderr_text
    assert not server.workdir.exists()
    assert payments_of(world.conn, invoice)[0]["voucher"] == voucher


def test_sigterm_stops_the_server_and_removes_the_ready_file(world: World, tmp_path: Path) -> None:
    ready = tmp_path / "ready.txt"
    process = subprocess.Popen(
        serve_command(world.db_path, ready), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()  # blocks until the server announces itself
        assert line.startswith("mockerp listening on http://127.0.0.1:")
        assert ready.read_text("utf-8").strip() == line.split(" on ", 1)[1].strip()
        process.terminate()
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not ready.exists()


def test_error_rate_flag_and_environment_reach_the_server(world: World) -> None:
    with running_mock(world.db_path, error_rate=1, fault_seed=5) as server:
        response = HttpClient(server.url).get("/login")
        assert response.status == 500
        assert response.page.text("fejlkode") == "500"
    assert "error-rate=1.0" in server.stdout_text
    with running_mock(world.db_path, env={"MOCKERP_ERROR_RATE": "1"}) as server:
        assert HttpClient(server.url).get("/login").status == 500


def test_port_in_use_is_a_clear_error(world: World) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(["serve", "--port", str(port), "--db", str(world.db_path)])
    assert result.returncode == 2
    assert result.stderr.strip() == (f"robot erp serve: port {port} on 127.0.0.1 is already in use")


@pytest.mark.parametrize(
    ("flag", "value", "named"),
    [
        ("--error-rate", "1.5", "'1.5' must be a share between 0 and 1"),
        ("--latency-ms", "fast", "'fast' is not a whole number"),
        ("--port", "70000", "'70000' is not a port (0-65535)"),
    ],
)
def test_bad_flag_values_are_named(
    world: World, capsys: pytest.CaptureFixture[str], flag: str, value: str, named: str
) -> None:
    assert main(["serve", "--port", "0", "--db", str(world.db_path), flag, value]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"robot erp serve: argument {flag}: {named}"


def test_bad_environment_value_is_named(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOCKERP_SYSTEM_MESSAGE_RATE", "often")
    assert main(["serve", "--port", "0", "--db", str(world.db_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "robot erp serve: MOCKERP_SYSTEM_MESSAGE_RATE = 'often': must be a number"
    )


def test_missing_database_folder_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "erp.sqlite"
    assert main(["serve", "--port", "0", "--db", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{missing}: the folder {missing.parent} does not exist"
    )
    assert main(["reset", "--db", str(missing)]) == 2


# --- reset, users, import, seed --------------------------------------------------------------


def test_reset_keeps_users_and_accounts(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    insert_invoice(world.conn)
    insert_booking(world.conn)
    assert main(["reset", "--db", str(world.db_path)]) == 0
    assert "business data deleted" in capsys.readouterr().out
    count = world.conn.execute
    assert count("SELECT COUNT(*) FROM invoices").fetchone()[0] == 0
    assert count("SELECT COUNT(*) FROM bookings").fetchone()[0] == 0
    assert count("SELECT COUNT(*) FROM users").fetchone()[0] == 3
    assert count("SELECT COUNT(*) FROM accounts").fetchone()[0] == 5


def test_reset_needs_an_existing_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reset", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "none.sqlite: no such database" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite").exists()


def test_users_lists_and_unlocks(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.conn.execute(
        "UPDATE users SET locked_at = '2026-11-23T08:00:00+00:00', failed_logins = 5"
        " WHERE username = 'robot'"
    )
    assert main(["users", "--db", str(world.db_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["user", "role", "locked", "name"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["admin", "admin", "no"],
        ["clerk", "clerk", "no"],
        ["robot", "robot", "yes"],
    ]
    assert not any(PASSWORDS["robot"] in line for line in lines)
    assert main(["users", "--db", str(world.db_path), "--unlock", "robot"]) == 0
    row = world.conn.execute(
        "SELECT locked_at, failed_logins FROM users WHERE username = 'robot'"
    ).fetchone()
    assert (row[0], row[1]) == (None, 0)
    capsys.readouterr()
    assert main(["users", "--db", str(world.db_path), "--unlock", "ghost"]) == 2
    assert "no user 'ghost'" in capsys.readouterr().err


def test_import_reports_and_exits_1_on_a_rejected_file(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA / "valid" / "oioubl202_certificate_lae135.xml", folder)
    assert main(["import", "--db", str(world.db_path), str(folder)]) == 0
    assert world.conn.execute("SELECT COUNT(*) FROM invoices").fetchone()[0] == 1
    capsys.readouterr()
    bad = DATA / "invalid" / "missing_id.xml"
    assert main(["import", "--db", str(world.db_path), str(bad)]) == 1
    assert "missing_id.xml" in capsys.readouterr().out
    assert main(["import", "--db", str(world.db_path), str(tmp_path / "nope.xml")]) == 2


def test_imported_invoice_shows_on_its_page(world: World, tmp_path: Path) -> None:
    """An invoice loaded by the real importer renders, and the robots' parser reads it."""
    from paybot.domain.parsing import parse_invoice
    from paybot.erp.mockerp import screens
    from support.web import read

    assert main(["import", "--db", str(world.db_path), str(DATA / "valid")]) == 0
    client = world.client("robot")
    ids = [r[0] for r in world.conn.execute("SELECT id FROM invoices ORDER BY id")]
    assert len(ids) == len(list((DATA / "valid").glob("*.xml")))
    for invoice in ids:
        page = read(client.get(f"/faktura/{invoice}").data)
        assert page.screen == "faktura", invoice
        assert parse_invoice(screens.read_invoice(page)).erp_id == invoice


def test_seed_writes_beside_the_database_by_default(tmp_path: Path) -> None:
    pytest.importorskip("mockerp.seed")
    db_path = tmp_path / "demo.sqlite"
    result = _run(
        ["seed", "--db", str(db_path), "--invoices", "12", "--seed", "3",
         "--base-date", "2026-11-23"],
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert db_path.exists()
    assert (tmp_path / "demo.truth.json").exists()
    assert (tmp_path / "demo-oioubl").is_dir()
    users_file = tmp_path / "mockerp-users.json"
    assert users_file.exists()
    assert oct(users_file.stat().st_mode & 0o777) == "0o600"
    import json

    for spec in json.loads(users_file.read_text("utf-8")).values():
        assert spec["password"] not in result.stdout + result.stderr
