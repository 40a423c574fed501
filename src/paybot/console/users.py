"""The console's local users: names, roles, Argon2 password hashes, and the lockout.

Kept in ``<data_dir>/console/users.sqlite`` (folder 0700, file 0600; :mod:`paybot.private`),
managed with ``robot console user add|password|remove|unlock|list``. A password is hashed with
Argon2id (argon2-cffi's defaults, RFC 9106's second recommended setting); the hash is all that is
kept. Passwords are at least :data:`MIN_PASSWORD` characters.

Lockout: after :data:`LOCKOUT_FAILURES` failed logins for one name within
:data:`LOCKOUT_WINDOW`, that name cannot log in until the window has passed since the oldest of
them (also for names that do not exist, so a guesser learns nothing from the answer); a correct
password during the lockout is refused too. A successful login clears the name's failures;
``robot console user unlock NAME`` clears them by hand. (OWASP's Authentication Cheat Sheet:
lock the account, not the address, for a short while.)

Every call opens its own connection and holds it for one short transaction, so the console's
threads and the command line can use the store at the same time. Safe to repeat, except
:meth:`UserStore.add` (a name is added once).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from paybot.errors import UsageError
from paybot.private import private_dir, private_file

STORE_FOLDER = "console"
STORE_FILE = "users.sqlite"
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = dt.timedelta(minutes=15)
MIN_PASSWORD = 12
"""NIST SP 800-63B asks for at least 8; a console that can stop payments asks for more."""
MAX_PASSWORD = 256
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    name TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_name ON failures (name, at);
"""


class Role(StrEnum):
    """What a user may do (docs/console.md, "Users and roles")."""

    VIEWER = "viewer"
    """Reads the overview, the runs, the queue and the schedule."""
    OPERATOR = "operator"
    """As a viewer, and releases or hands over work items, pauses and resumes robots."""
    AUDITOR = "auditor"
    """As a viewer, and reads an invoice's audit trail and exports the trail."""


class UserError(UsageError):
    """A bad name, role or password, or a user that exists (add) or does not (the others);
    the message says which. Nothing was changed (exit 2)."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    generation: int
    """Raised when the password changes: sessions of an older generation end."""
    created_at: dt.datetime


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    """The user when the name and password fit and the name is not locked out."""
    locked_until: dt.datetime | None = None
    """Set when the name is locked out (UTC)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def store_path(data_dir: Path) -> Path:
    return data_dir / STORE_FOLDER / STORE_FILE


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise UserError(
            f"user name {name!r}: 2 to 40 characters, lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter"
        )
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(
            f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters "
            f"(it has {len(password)})"
        )
    return password


class UserStore:
    """The users of one data folder (see the module)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.path = store_path(data_dir)
        self.hasher = hasher or PasswordHasher()
        self._clock = clock
        self._dummy: str | None = None
        private_dir(self.path.parent)
        private_file(self.path)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10.0)
        try:
            with conn:  # one transaction, committed on success
                yield conn
        finally:
            conn.close()

    # --- managing users (the command line) ---------------------------------------------------

    def add(self, name: str, role: Role, password: str) -> User:
        check_name(name)
        digest = self.hasher.hash(check_password(password))
        now = self._clock()
        try:
            with self._connect() as conn:
                conn.execute(
                    "INSERT INTO users (name, role, hash, created_at) VALUES (?, ?, ?, ?)",
                    (name, role.value, digest, now.isoformat()),
                )
        except sqlite3.IntegrityError:
            raise UserError(f"user {name!r} exists (use 'robot console user password')") from None
        return User(name, role, 1, now)

    def set_password(self, name: str, password: str) -> None:
        """A new password; the user's open sessions end."""
        digest = self.hasher.hash(check_password(password))
        with self._connect() as conn:
            changed = conn.execute(
                "UPDATE users SET hash = ?, generation = generation + 1 WHERE name = ?",
                (digest, name),
            ).rowcount
            conn.execute("DELETE FROM failures WHERE name = ?", (name,))
        if not changed:
            raise UserError(f"no user {name!r}")

    def end_sessions(self, name: str) -> None:
        """Every open session of ``name`` ends (logging out: a copied cookie dies with it, in
        every browser the user is logged in). Raises: nothing for an unknown name. Repeat:
        safe (each call ends the sessions opened since)."""
        with self._connect() as conn:
            conn.execute("UPDATE users SET generation = generation + 1 WHERE name = ?", (name,))

    def remove(self, name: str) -> None:
        with self._connect() as conn:
            removed = conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
            conn.execute("DELETE FROM failures WHERE name = ?", (name,))
        if not removed:
            raise UserError(f"no user {name!r}")

    def unlock(self, name: str) -> int:
        """Forget the name's failed logins; returns how many there were."""
        with self._connect() as conn:
            return int(conn.execute("DELETE FROM failures WHERE name = ?", (name,)).rowcount)

    def users(self) -> list[User]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT name, role, generation, created_at FROM users ORDER BY name"
            ).fetchall()
        return [_user(row) for row in rows]

    def get(self, name: str) -> User | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT name, role, generation, created_at FROM users WHERE name = ?", (name,)
            ).fetchone()
        return _user(row) if row else None

    # --- logging in ---------------------------------------------------------------------------

    def locked_until(self, name: str) -> dt.datetime | None:
        """When the name's lockout ends (UTC), or ``None`` when it is not locked out."""
        since = self._clock() - LOCKOUT_WINDOW
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT at FROM failures WHERE name = ? AND at > ? ORDER BY at",
                (name, since.isoformat()),
            ).fetchall()
        if len(rows) < LOCKOUT_FAILURES:
            return None
        return dt.datetime.fromisoformat(rows[-LOCKOUT_FAILURES][0]) + LOCKOUT_WINDOW

    def _dummy_hash(self) -> str:
        """A hash to check a password of an unknown name against (made once, when needed)."""
        if self._dummy is None:
            self._dummy = self.hasher.hash("not a password of anyone")
        return self._dummy

    def login(self, name: str, password: str) -> LoginResult:
        """Check a login. A wrong password (or an unknown name) is recorded as a failure; the
        answer takes as long for an unknown name as for a known one."""
        name = name.strip()[:64]
        locked = self.locked_until(name)
        with self._connect() as conn:
            row = conn.execute(
                "SELECT name, role, generation, created_at, hash FROM users WHERE name = ?",
                (name,),
            ).fetchone()
        digest: str = row[4] if row else self._dummy_hash()
        try:
            ok = self.hasher.verify(digest, password[:MAX_PASSWORD]) and row is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if locked is not None:
            return LoginResult(None, locked)
        if not ok:
            now = self._clock()
            with self._connect() as conn:
                conn.execute(
                    "INSERT INTO failures (name, at) VALUES (?, ?)", (name, now.isoformat())
                )
                conn.execute(
                    "DELETE FROM failures WHERE at < ?", ((now - 2 * LOCKOUT_WINDOW).isoformat(),)
                )
            return LoginResult(None, self.locked_until(name))
        with self._connect() as conn:
            conn.execute("DELETE FROM failures WHERE name = ?", (name,))
        return LoginResult(_user(row[:4]))


def _user(row: tuple[str, str, int, str]) -> User:
    return User(row[0], Role(row[1]), int(row[2]), dt.datetime.fromisoformat(row[3]))
