"""A seeded Tryton with sao for the end-to-end tests (``erp.kind: tryton``).

``tryton_home(folder, invoices, seed)`` runs ``robot tryton setup`` (sao from npm and the
module template are cached in ``~/.cache/paybot/tryton``, so only the first run on a machine
pays for them); ``running_tryton(home, databases)`` serves trytond with sao on a free port,
``-d`` with the databases named (each a copy of the seeded one: one per test that needs a
fresh state); ``tryton_env(...)`` is the robot's environment for one database.

Tests that need Tryton are skipped when the ``[tryton]`` extra is not installed, unless
``PAYBOT_REQUIRE_TRYTON=1`` (``./scripts/test`` sets it: CI never skips them silently).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.robots import ROOT, audit_key_env, write_vault

SETUP_TIMEOUT_SECONDS = 900


def require_tryton() -> None:
    """Skip (or fail, with ``PAYBOT_REQUIRE_TRYTON=1``) without trytond and npm."""
    missing = []
    try:
        import trytond  # noqa: F401
    except ImportError:
        missing.append("the [tryton] extra (pip install -e '.[tryton]')")
    if shutil.which("npm") is None:
        missing.append("npm")
    if missing:
        reason = "Tryton tests need " + " and ".join(missing)
        if os.environ.get("PAYBOT_REQUIRE_TRYTON") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@dataclass(frozen=True)
class TrytonHome:
    folder: Path
    truth: dict[str, Any]
    robot_password: str

    @property
    def db_dir(self) -> Path:
        return self.folder / "db"


def tryton_home(folder: Path, invoices: int, seed: int, categories: list[str]) -> TrytonHome:
    args = [sys.executable, "-m", "trytonerp.cli", "setup", "--home", str(folder)]
    args += ["--invoices", str(invoices), "--seed", str(seed)]
    for category in categories:
        args += ["--category", category]
    done = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=SETUP_TIMEOUT_SECONDS, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    truth = json.loads((folder / "tryton.truth.json").read_text("utf-8"))
    users = json.loads((folder / "tryton-users.json").read_text("utf-8"))
    return TrytonHome(folder, truth, users["robot"]["password"])


@dataclass(frozen=True)
class TrytonServer:
    url: str
    home: TrytonHome
    process: subprocess.Popen[bytes]

    def db_file(self, database: str) -> Path:
        return self.home.db_dir / f"{database}.sqlite"

    def invoices(self, database: str) -> dict[int, tuple[str, str | None]]:
        conn = sqlite3.connect(f"file:{self.db_file(database)}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("SELECT id, state, comment FROM account_invoice").fetchall()
        finally:
            conn.close()
        return {r[0]: (r[1], r[2]) for r in rows}

    def payment_lines(self, database: str) -> dict[int, int]:
        """Invoice id → how many payment moves were reconciled with it (Pay wizard moves)."""
        conn = sqlite3.connect(f"file:{self.db_file(database)}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute(
                'SELECT invoice, COUNT(*) FROM "account_invoice-account_move_line" GROUP BY invoice'
            ).fetchall()
        finally:
            conn.close()
        return {r[0]: r[1] for r in rows}


@contextmanager
def running_tryton(home: TrytonHome, databases: list[str]) -> Iterator[TrytonServer]:
    from trytonerp.cli import default_cache
    from trytonerp.database import TrytonPaths
    from trytonerp.sao import sao_root
    from trytonerp.serve import free_port, server_command

    seeded = home.db_dir / "paybot.sqlite"
    for name in databases:
        if name != "paybot":
            shutil.copyfile(seeded, home.db_dir / f"{name}.sqlite")
            # trytond keeps attachments (the original e-invoices) in a file store per
            # database next to it, not in the SQLite file
            shutil.rmtree(home.db_dir / name, ignore_errors=True)
            shutil.copytree(home.db_dir / "paybot", home.db_dir / name)
    port = free_port()
    paths = TrytonPaths(home.folder)
    command = server_command(paths, sao_root(default_cache()), port)
    command = [*command[:-1], *databases]  # -d with every database named
    log = (home.folder / "trytond.log").open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("trytond did not start: " + str(home.folder / "trytond.log"))
            time.sleep(0.2)
        yield TrytonServer(url, home, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def tryton_env(root: Path, server: TrytonServer, database: str) -> dict[str, str]:
    """The robot's environment for ``database``: private data and output folders, the vault
    with the robot's Tryton password, a fresh audit key."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    vault = write_vault(root / "secrets", server.home.robot_password)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
    return env | {
        "PAYBOT_HOME": str(ROOT),
        "PAYBOT_ERP_KIND": "tryton",
        "PAYBOT_ERP_URL": server.url,
        "PAYBOT_ERP_ELEMENT_TIMEOUT_SECONDS": "20",
        "PAYBOT_TRYTON_DATABASE": database,
        "PAYBOT_TRYTON_EXPORTS_DIR": str(server.home.folder / "exports"),
        "PAYBOT_DATA_DIR": str(data),
        "PAYBOT_OUTPUT_DIR": str(root / "output"),
        "PAYBOT_VAULT_FILE": str(vault),
        "PAYBOT_RUNNER_BACKOFF_SECONDS": "0.2",
        **audit_key_env(root),
    }
