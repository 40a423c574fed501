"""A small world for the mock finance system's tests: a database with users, a clock, an app."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from mockerp.app import create_app
from mockerp.faults import FaultSettings
from support.clock import FakeClock
from support.db import create_user, new_database
from support.web import login

# Monday 23 November 2026, 09:00 in Copenhagen: a bank day.
MONDAY = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)

PASSWORDS = {"robot": "robot-pw-1", "admin": "admin-pw-1", "clerk": "clerk-pw-1"}


@dataclass
class World:
    db_path: Path
    conn: sqlite3.Connection
    clock: FakeClock

    def app(self, faults: FaultSettings | None = None, **kwargs: Any) -> Flask:
        return create_app(self.db_path, faults, clock=self.clock, **kwargs)

    def client(self, user: str | None = "robot", app: Flask | None = None) -> FlaskClient:
        """A test client, logged in as ``user`` (None: not logged in)."""
        client = (app or self.app()).test_client()
        if user is not None:
            response = login(client, user, PASSWORDS[user])
            assert response.status_code == 303, f"login as {user} failed: {response.status}"
        return client


def make_world(tmp_path: Path) -> World:
    db_path = tmp_path / "erp.sqlite"
    conn = new_database(db_path)
    create_user(conn, "robot", PASSWORDS["robot"], "robot", "Betalingsrobot")
    create_user(conn, "admin", PASSWORDS["admin"], "admin", "Administrator")
    create_user(conn, "clerk", PASSWORDS["clerk"], "clerk", "Sagsbehandler")
    return World(db_path, conn, FakeClock(MONDAY))
