"""``robot console user ...``: the console's users from the command line, their store (owner-only,
hashes only) and the session key kept beside it."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import pytest

from paybot.cli import main
from paybot.console.secret_key import session_key
from paybot.console.users import Role, UserStore, store_path
from support.console import fast_hasher, make_world

PASSWORD = "correct horse battery"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    world = make_world(tmp_path)
    for name in [n for n in os.environ if n.startswith("PAYBOT_")]:
        monkeypatch.delenv(name)
    for name, value in world.env.items():
        if name.startswith("PAYBOT_"):
            monkeypatch.setenv(name, value)
    return world.settings().data_dir


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_users_are_added_listed_changed_and_removed(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    assert main(["console", "user", "add", "kim", "--role", "operator", "--password-stdin"]) == 0
    stdin(monkeypatch, PASSWORD + "\n")
    assert main(["console", "user", "add", "kim", "--role", "viewer", "--password-stdin"]) == 2
    assert "exists" in capsys.readouterr().err
    stdin(monkeypatch, "short\n")
    assert main(["console", "user", "add", "lis", "--role", "viewer", "--password-stdin"]) == 2
    assert "12 to 256 characters" in capsys.readouterr().err
    stdin(monkeypatch, "")  # no terminal, no variable, no --password-stdin: refused
    assert main(["console", "user", "add", "lis", "--role", "viewer"]) == 2
    assert "PAYBOT_CONSOLE_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("PAYBOT_CONSOLE_PASSWORD", "from the environment")
    assert main(["console", "user", "add", "lis", "--role", "auditor"]) == 0
    with pytest.raises(SystemExit):  # a password is never an argument
        main(["console", "user", "add", "ole", "--role", "viewer", "--password", "x" * 12])
    capsys.readouterr()
    assert main(["console", "user", "list"]) == 0
    listed = capsys.readouterr().out
    assert "kim" in listed and "operator" in listed and "lis" in listed and "auditor" in listed
    store = UserStore(data_dir, hasher=fast_hasher())
    assert store.login("kim", PASSWORD).user is not None
    assert store.login("lis", "from the environment").user is not None
    monkeypatch.setenv("PAYBOT_CONSOLE_PASSWORD", "a new password for kim")
    assert main(["console", "user", "password", "kim"]) == 0
    assert store.login("kim", PASSWORD).user is None
    assert store.login("kim", "a new password for kim").user is not None
    assert main(["console", "user", "remove", "lis"]) == 0
    assert main(["console", "user", "remove", "lis"]) == 2
    assert [u.name for u in store.users()] == ["aud", "kim", "otto", "vera"]


def test_the_store_keeps_hashes_only_and_is_owner_only(data_dir: Path) -> None:
    path = store_path(data_dir)
    raw = path.read_bytes()
    assert b"operator-password-1" not in raw and b"$argon2id$" in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert UserStore(data_dir, hasher=fast_hasher()).get("otto").role is Role.OPERATOR  # type: ignore[union-attr]


def test_unlock_forgets_the_failed_logins(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = UserStore(data_dir, hasher=fast_hasher())
    for _ in range(5):
        store.login("otto", "wrong password")
    assert store.locked_until("otto") is not None
    assert store.login("otto", "operator-password-1").user is None
    assert main(["console", "user", "unlock", "otto"]) == 0
    assert "5 failed logins forgotten" in capsys.readouterr().out
    assert store.login("otto", "operator-password-1").user is not None


def test_the_session_key_is_made_once_owner_only_or_taken_from_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAYBOT_CONSOLE_SECRET_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    first = session_key(tmp_path, None)
    assert len(first) == 64 and session_key(tmp_path, None) == first
    assert stat.S_IMODE((tmp_path / "console" / "secret_key").stat().st_mode) == 0o600
    monkeypatch.setenv("PAYBOT_CONSOLE_SECRET_KEY", "k" * 40)
    assert session_key(tmp_path, None) == "k" * 40
    monkeypatch.setenv("PAYBOT_CONSOLE_SECRET_KEY", "short")
    with pytest.raises(Exception, match="at least 32") as caught:
        session_key(tmp_path, None)
    assert "short" not in str(caught.value)  # the value is never told


@pytest.mark.parametrize(
    "tail",
    [
        ["--password", "typed-on-the-line-1"],
        ["--password=typed-on-the-line-1"],
        ["--password-stdin=typed-on-the-line-1"],
        ["typed-on-the-line-1"],
        ["-p", "typed-on-the-line-1"],
    ],
)
def test_a_password_on_the_command_line_is_refused_without_being_printed(
    data_dir: Path, capsys: pytest.CaptureFixture[str], tail: list[str]
) -> None:
    """The refusal must not echo it either: stderr goes to journals and CI logs."""
    for command in (["add", "ole", "--role", "viewer"], ["password", "vera"]):
        try:
            code = main(["console", "user", *command, *tail])
        except SystemExit as exc:
            code = exc.code  # type: ignore[assignment]
        assert code == 2, command
        out, err = capsys.readouterr()
        assert "typed-on-the-line" not in out + err, command
        assert "PAYBOT_CONSOLE_PASSWORD" in err
    assert UserStore(data_dir, hasher=fast_hasher()).get("ole") is None
