"""What the running web app shares between requests, and the request's own database connection."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app, g

from mockerp.faults import Faults
from mockerp.formatting import LOCAL_TZ

EXTENSION = "mockerp"


class OneShots:
    """Small per-session notes that are read once: the next page's message, and the page a
    system message was just clicked away from. In memory, like a real server's flash store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notes: dict[tuple[str, str], str] = {}

    def put(self, session_key: str, kind: str, value: str) -> None:
        with self._lock:
            if len(self._notes) > 10_000:  # sessions that never came back
                self._notes.clear()
            self._notes[(session_key, kind)] = value

    def take(self, session_key: str, kind: str) -> str | None:
        with self._lock:
            return self._notes.pop((session_key, kind), None)


@dataclass
class AppState:
    db_path: Path
    faults: Faults
    idle: dt.timedelta
    clock: Callable[[], dt.datetime]
    anchor: sqlite3.Connection | None = None  # kept open, never used by requests
    renamed_ids: tuple[str, ...] = ()  # a changed user interface: these ids get "-v2"
    notes: OneShots = field(default_factory=OneShots)

    def now(self) -> dt.datetime:
        now = self.clock()
        return now if now.tzinfo else now.replace(tzinfo=dt.UTC)

    def today(self) -> dt.date:
        """Today in Denmark."""
        return self.now().astimezone(LOCAL_TZ).date()


def state() -> AppState:
    found: AppState = current_app.extensions[EXTENSION]
    return found


def open_connection(path: Path) -> sqlite3.Connection:
    """A connection to a database whose schema exists (``mockerp.db.connect`` made it when the
    app started); opening is ~0.1 ms, running the schema script every request would be ~1 ms."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=True)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def conn() -> sqlite3.Connection:
    """The request's connection, opened on first use and closed when the request ends."""
    found: sqlite3.Connection | None = g.get("conn")
    if found is None:
        found = open_connection(state().db_path)
        g.conn = found
    return found


def close_connection(_exc: BaseException | None = None) -> None:
    found: sqlite3.Connection | None = g.pop("conn", None)
    if found is not None:
        found.close()
