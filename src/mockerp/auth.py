"""Users, passwords and sessions of the finance system.

- Passwords are checked against werkzeug hashes; 5 failures in a row lock the account until an
  admin unlocks it (a locked account refuses even the right password).
- Sessions live in the ``sessions`` table. The browser holds a random token in an HttpOnly
  cookie; the table holds only its SHA-256, so the database alone cannot be used to log in.
- Every session has its own CSRF token, which every form must send back.
- A session ends after ``idle`` without requests, or (a fault setting) after N requests.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from functools import lru_cache

from werkzeug.security import check_password_hash, generate_password_hash

from mockerp.db import transaction

MAX_FAILED_LOGINS = 5


class LoginOutcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"  # unknown user or wrong password
    LOCKED = "locked"  # locked now or before


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user_id: int | None = None


@dataclass(frozen=True)
class User:
    id: int
    username: str
    full_name: str
    role: str


@dataclass(frozen=True)
class Session:
    token_hash: str
    csrf_token: str
    user: User
    requests: int


class SessionState(enum.Enum):
    MISSING = "missing"
    EXPIRED = "expired"


def stamp(now: dt.datetime) -> str:
    """A stored timestamp: ISO 8601 in UTC with microseconds."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _parse_stamp(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Checked for unknown users, so a wrong user name takes as long as a wrong password."""
    return generate_password_hash(secrets.token_urlsafe(16))


def check_login(
    conn: sqlite3.Connection, username: str, password: str, now: dt.datetime
) -> LoginResult:
    """Check a login attempt and record its outcome (failure counter, lock)."""
    row = conn.execute(
        "SELECT id, password_hash, failed_logins, locked_at FROM users WHERE username = ?",
        (username,),
    ).fetchone()
    if row is None:
        check_password_hash(_dummy_hash(), password)
        return LoginResult(LoginOutcome.WRONG)
    if row["locked_at"] is not None:
        return LoginResult(LoginOutcome.LOCKED)
    if check_password_hash(row["password_hash"], password):
        conn.execute("UPDATE users SET failed_logins = 0 WHERE id = ?", (row["id"],))
        return LoginResult(LoginOutcome.OK, row["id"])
    with transaction(conn):
        conn.execute(
            "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ?", (row["id"],)
        )
        conn.execute(
            "UPDATE users SET locked_at = ? WHERE id = ? AND failed_logins >= ?",
            (stamp(now), row["id"], MAX_FAILED_LOGINS),
        )
        locked = conn.execute("SELECT locked_at FROM users WHERE id = ?", (row["id"],)).fetchone()[
            "locked_at"
        ]
    return LoginResult(LoginOutcome.LOCKED if locked else LoginOutcome.WRONG)


def unlock(conn: sqlite3.Connection, username: str) -> bool:
    """Unlock the account and reset its failure counter; False when there is no such user."""
    cur = conn.execute(
        "UPDATE users SET locked_at = NULL, failed_logins = 0 WHERE username = ?", (username,)
    )
    return cur.rowcount == 1


def start_session(conn: sqlite3.Connection, user_id: int, now: dt.datetime) -> tuple[str, str]:
    """A new session for the user: returns (cookie token, CSRF token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO sessions (token, user_id, csrf_token, created_at, last_seen, requests)"
        " VALUES (?, ?, ?, ?, ?, 0)",
        (hash_token(token), user_id, csrf, stamp(now), stamp(now)),
    )
    return token, csrf


def end_session(conn: sqlite3.Connection, token: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token = ?", (hash_token(token),))


def use_session(
    conn: sqlite3.Connection,
    token: str | None,
    now: dt.datetime,
    *,
    idle: dt.timedelta,
    max_requests: int = 0,
) -> Session | SessionState:
    """The session of a request, counted as used now; or why there is none.

    A session idle for longer than ``idle``, or (when ``max_requests`` > 0) one that has already
    served ``max_requests`` requests, is deleted and reported as expired.
    """
    if not token:
        return SessionState.MISSING
    key = hash_token(token)
    row = conn.execute(
        "SELECT s.csrf_token, s.last_seen, s.requests, u.id, u.username, u.full_name, u.role"
        " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token = ?",
        (key,),
    ).fetchone()
    if row is None:
        return SessionState.EXPIRED
    idle_for = now - _parse_stamp(row["last_seen"])
    if idle_for > idle or (max_requests > 0 and row["requests"] >= max_requests):
        conn.execute("DELETE FROM sessions WHERE token = ?", (key,))
        return SessionState.EXPIRED
    conn.execute(
        "UPDATE sessions SET last_seen = ?, requests = requests + 1 WHERE token = ?",
        (stamp(now), key),
    )
    user = User(row["id"], row["username"], row["full_name"], row["role"])
    return Session(key, row["csrf_token"], user, row["requests"] + 1)


def purge_sessions(conn: sqlite3.Connection, now: dt.datetime, idle: dt.timedelta) -> int:
    """Delete sessions idle for longer than ``idle``; returns how many."""
    cur = conn.execute("DELETE FROM sessions WHERE last_seen < ?", (stamp(now - idle),))
    return cur.rowcount


def same_token(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a CSRF token; missing tokens never match."""
    if not sent or not expected:
        return False
    return secrets.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))
