"""The mock finance system's users: a JSON users file (mode 0600) and its hashed copy in the db.

The file maps a username to its password, role and full name::

    {"robot": {"password": "...", "role": "robot", "name": "Betalingsrobot"}, ...}

When the file does not exist it is created with random passwords. Passwords never appear in
messages, logs or ``repr``; the database holds only ``werkzeug`` hashes.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.security import generate_password_hash

from mockerp.db import transaction

ROLES = frozenset({"admin", "clerk", "robot"})

DEFAULT_USERS: dict[str, tuple[str, str]] = {
    "robot": ("robot", "Betalingsrobot"),
    "admin": ("admin", "Administrator"),
    "sagsbehandler": ("clerk", "Sagsbehandler"),
}


class UsersFileError(Exception):
    """The users file is unsafe or unreadable; the message names the file (never a password)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True, slots=True)
class UserSpec:
    password: str = field(repr=False)
    role: str
    name: str


def _create(path: Path) -> None:
    users = {
        username: {"password": secrets.token_urlsafe(18), "role": role, "name": name}
        for username, (role, name) in DEFAULT_USERS.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(users, ensure_ascii=False, indent=2) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # someone else created it meanwhile: read theirs
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _parse(path: Path, raw: object) -> dict[str, UserSpec]:
    if not isinstance(raw, dict) or not raw:
        raise UsersFileError(path, 'expected a JSON object of users, e.g. {"robot": {...}}')
    users: dict[str, UserSpec] = {}
    for username, entry in raw.items():
        if not isinstance(username, str) or not username.strip():
            raise UsersFileError(path, f"user name {username!r} is empty")
        if not isinstance(entry, dict):
            raise UsersFileError(path, f"user {username!r}: expected an object")
        password = entry.get("password")
        role = entry.get("role")
        name = entry.get("name", username)
        if not isinstance(password, str) or not password:
            raise UsersFileError(path, f"user {username!r}: password missing or empty")
        if role not in ROLES:
            raise UsersFileError(
                path, f"user {username!r}: role {role!r} is not one of {sorted(ROLES)}"
            )
        if not isinstance(name, str) or not name.strip():
            raise UsersFileError(path, f"user {username!r}: name {name!r} is not a text")
        users[username] = UserSpec(password=password, role=role, name=name)
    return users


def load_or_create_users_file(path: Path) -> dict[str, UserSpec]:
    """Read the users file; create it (mode 0600, random passwords) when it is missing.

    Refuses a file that others than its owner can read or write.
    """
    if not path.exists():
        _create(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise UsersFileError(path, f"cannot read the users file: {exc.strerror or exc}") from exc
    if mode & 0o077:
        raise UsersFileError(
            path,
            f"the users file has mode {mode:04o}; it holds passwords, so it must be readable "
            f"by its owner only (chmod 600 {path})",
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsersFileError(path, f"cannot read the users file: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise UsersFileError(path, f"not valid JSON (line {exc.lineno})") from exc
    return _parse(path, raw)


def install_users(conn: sqlite3.Connection, users: Mapping[str, UserSpec]) -> None:
    """Create or update each user (hashed password, role, name) and unlock it. One transaction."""
    hashed = [
        (username, spec.name, generate_password_hash(spec.password), spec.role)
        for username, spec in users.items()
    ]
    with transaction(conn):
        conn.executemany(
            "INSERT INTO users (username, full_name, password_hash, role) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(username) DO UPDATE SET full_name = excluded.full_name,"
            " password_hash = excluded.password_hash, role = excluded.role,"
            " failed_logins = 0, locked_at = NULL",
            hashed,
        )
