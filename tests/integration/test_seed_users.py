"""The users file (created 0600 with random passwords, refused when others can read it) and
the hashed users in the database."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from mockerp.db import connect
from mockerp.users import UsersFileError, UserSpec, install_users, load_or_create_users_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_missing_users_file_is_created_private_with_random_passwords(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "mockerp-users.json"
    users = load_or_create_users_file(path)
    assert _mode(path) == 0o600
    assert {name: spec.role for name, spec in users.items()} == {
        "robot": "robot",
        "admin": "admin",
        "sagsbehandler": "clerk",
    }
    assert users["robot"].name == "Betalingsrobot"
    passwords = [spec.password for spec in users.values()]
    assert len(set(passwords)) == 3 and all(len(p) >= 20 for p in passwords)
    assert load_or_create_users_file(path) == users  # read back, not made anew
    other = load_or_create_users_file(tmp_path / "other.json")
    assert other["robot"].password != users["robot"].password


def test_the_password_never_shows_in_repr(tmp_path: Path) -> None:
    users = load_or_create_users_file(tmp_path / "u.json")
    assert users["admin"].password not in repr(users)


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660])
def test_a_users_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "u.json"
    users = load_or_create_users_file(path)
    path.chmod(mode)
    with pytest.raises(UsersFileError) as caught:
        load_or_create_users_file(path)
    message = str(caught.value)
    assert str(path) in message and f"{mode:04o}" in message
    assert all(spec.password not in message for spec in users.values())


def test_a_users_file_with_an_unknown_role_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.json"
    path.write_text(json.dumps({"bob": {"password": "secret-x", "role": "boss"}}))
    path.chmod(0o600)
    with pytest.raises(UsersFileError, match="role 'boss'") as caught:
        load_or_create_users_file(path)
    assert "secret-x" not in str(caught.value)


def test_install_hashes_upserts_and_unlocks(tmp_path: Path) -> None:
    conn = connect(tmp_path / "erp.db")
    try:
        first = {"robot": UserSpec(password="first-pass", role="robot", name="Robot")}
        install_users(conn, first)
        row = conn.execute("SELECT * FROM users WHERE username = 'robot'").fetchone()
        assert row["password_hash"] != "first-pass"
        assert check_password_hash(row["password_hash"], "first-pass")
        conn.execute("UPDATE users SET failed_logins = 5, locked_at = '2026-10-01T08:00:00+00:00'")
        second = {
            "robot": UserSpec(password="second-pass", role="robot", name="Betalingsrobot"),
            "sagsbehandler": UserSpec(password="clerk-pass", role="clerk", name="Sagsbehandler"),
        }
        install_users(conn, second)
        rows = {r["username"]: r for r in conn.execute("SELECT * FROM users")}
        assert set(rows) == {"robot", "sagsbehandler"}
        robot = rows["robot"]
        assert check_password_hash(robot["password_hash"], "second-pass")
        assert not check_password_hash(robot["password_hash"], "first-pass")
        assert (robot["failed_logins"], robot["locked_at"], robot["full_name"]) == (
            0,
            None,
            "Betalingsrobot",
        )
        assert rows["sagsbehandler"]["role"] == "clerk"
    finally:
        conn.close()
