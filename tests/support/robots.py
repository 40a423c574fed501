"""Running the real robots (``python -m paybot run ...``) against a seeded mock, for tests.

``seeded_template(tmp_path_factory, invoices, seed)`` seeds once; ``RobotWorld.start`` copies that
database so every test begins from the freshly seeded state, starts the mock on a free port,
writes the robot's vault file (the login and a fresh pseudonym key, outside the data folder as
in production) and gives an environment in which ``robot`` uses a private data
and output folder. ``compare_with_truth`` lists every invoice whose outcome in the finance
system differs from the seed's ground truth.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from mockerp.truth_check import compare
from paybot.erp.processes import marked_processes
from support.mockserver import MockServer, running_mock

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Template:
    folder: Path
    db: Path
    users: Path
    truth: dict[str, Any]


def seed_template(folder: Path, invoices: int, seed: int) -> Template:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "mockerp.sqlite"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "paybot",
            "erp",
            "seed",
            "--db",
            str(db),
            "--invoices",
            str(invoices),
            "--seed",
            str(seed),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    truth = json.loads((folder / "mockerp.truth.json").read_text("utf-8"))
    return Template(folder, db, folder / "mockerp-users.json", truth)


@dataclass
class RobotWorld:
    root: Path
    template: Template
    server: MockServer
    db: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def audit_file(self) -> Path:
        return self.data_dir / "audit" / "audit.jsonl"

    @property
    def ledger_file(self) -> Path:
        return self.data_dir / "ledger.sqlite"

    def robot(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = RUN_TIMEOUT_SECONDS
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "paybot", *args],
            env=self.env | (env or {}),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "paybot", *args],
            env=self.env | (env or {}),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def erp(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db, timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def ledger(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.ledger_file, timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def expected(self, category: str) -> list[dict[str, Any]]:
        return [
            d
            for d in self.template.truth["documents"]
            if d["category"] == category and d["status"] == "ny"
        ]

    def outcomes(self) -> dict[int, tuple[str, str | None, str | None, str | None]]:
        """Løbenr → (status, manual reason, paid amount, account string) in the mock."""
        with self.erp() as conn:
            rows = conn.execute(
                "SELECT i.id, i.status, i.manual_reason, p.amount, p.account_string"
                " FROM invoices i LEFT JOIN payments p ON p.invoice_id = i.id"
            ).fetchall()
        return {
            r["id"]: (r["status"], r["manual_reason"], r["amount"], r["account_string"])
            for r in rows
        }

    def compare_with_truth(self, category: str) -> list[str]:
        """Every invoice of the category whose outcome differs from the ground truth."""
        with self.erp() as conn:
            return compare(conn, self.template.truth, {category}).mismatches

    def payments_per_invoice(self) -> dict[int, int]:
        with self.erp() as conn:
            rows = conn.execute("SELECT invoice_id, COUNT(*) FROM payments GROUP BY invoice_id")
            return {r[0]: r[1] for r in rows}

    def query(self, sql: str, *params: object) -> list[sqlite3.Row]:
        """Rows of the ledger (none while its file or schema is not there yet: a run that
        another process started may not have created it)."""
        if not self.ledger_file.exists():
            return []
        conn = self.ledger()
        try:
            return list(conn.execute(sql, params))
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    def item_states(self) -> list[str]:
        """The state of every work item in the ledger."""
        return [r["state"] for r in self.query("SELECT state FROM work_items")]

    def finished_runs(self) -> list[sqlite3.Row]:
        """The run history's rows with an exit code, oldest first."""
        return self.query("SELECT * FROM runs WHERE exit_code IS NOT NULL ORDER BY started_at")

    def last_report(self) -> dict[str, Any]:
        """The newest run's ``report.json``."""
        reports = sorted((self.output_dir / "runs").glob("*/report.json"))
        data: dict[str, Any] = json.loads(reports[-1].read_text("utf-8"))
        return data

    def browser_processes(self) -> list[psutil.Process]:
        """This world's Chromium and chromedriver processes, found as paybot finds them: by
        the marker (profile folder) under this world's data folder
        (:mod:`paybot.erp.processes`)."""
        return marked_processes(str(self.data_dir / "tmp" / "browser."))


def process_names(procs: list[psutil.Process]) -> set[str]:
    """The names of those of ``procs`` still there (``chromium``, ``chromedriver``)."""
    found = set()
    for p in procs:
        with contextlib.suppress(psutil.Error):
            found.add(p.name())
    return found


def write_vault(folder: Path, password: str) -> Path:
    """``folder/vault.json`` (folder 0700, file 0600): the robot's login and a new random
    pseudonym key (``pseudonym_key``, 64 hex digits)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    vault = folder / "vault.json"
    content = {
        "erp": {"username": "robot", "password": password},
        "pseudonym_key": secrets.token_hex(32),
    }
    fd = os.open(vault, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(content, out)
    return vault


@contextmanager
def robot_world(root: Path, template: Template, **faults: Any) -> Iterator[RobotWorld]:
    root.mkdir(parents=True, exist_ok=True)
    db = root / "mockerp.sqlite"
    shutil.copyfile(template.db, db)
    data = root / "data"
    data.mkdir(exist_ok=True)
    users = json.loads(template.users.read_text("utf-8"))
    vault = write_vault(root / "secrets", users["robot"]["password"])
    with running_mock(db, **faults) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
        env |= {
            "PAYBOT_HOME": str(ROOT),
            "PAYBOT_ERP_URL": server.url,
            "PAYBOT_DATA_DIR": str(data),
            "PAYBOT_OUTPUT_DIR": str(root / "output"),
            "PAYBOT_VAULT_FILE": str(vault),
            "PAYBOT_RUNNER_BACKOFF_SECONDS": "0.2",
            **audit_key_env(root),
        }
        yield RobotWorld(root=root, template=template, server=server, db=db, env=env)


def audit_key_env(root: Path) -> dict[str, str]:
    """A fresh audit signing key for a test world: the private key in the environment (as a
    systemd credential or vault would give it), the public key in ``root/audit-public-key.pem``
    (outside the data folder), as ``PAYBOT_AUDIT_*`` variables."""
    from paybot.audit.signing import new_key_pair

    private, public = new_key_pair()
    public_file = root / "audit-public-key.pem"
    public_file.write_text(public, encoding="utf-8")
    return {
        "PAYBOT_AUDIT_SIGNING_KEY": private,
        "PAYBOT_AUDIT_PUBLIC_KEY_FILE": str(public_file),
    }


def personal_values(db: Path) -> set[str]:
    """Every CPR number (with and without the dash) and bank account number in the mock."""
    conn = sqlite3.connect(db)
    try:
        cprs = {r[0] for r in conn.execute("SELECT cert_cpr FROM invoices WHERE cert_cpr != ''")}
        cprs |= {r[0] for r in conn.execute("SELECT cpr FROM requisitions")}
        accounts = {
            r[0] for r in conn.execute("SELECT bank_account FROM invoices WHERE bank_account != ''")
        }
    finally:
        conn.close()
    return cprs | {c.replace("-", "") for c in cprs} | accounts


def leaks(folders: list[Path], values: set[str]) -> list[str]:
    """``file: value`` for every personal value found as a whole number in any file below
    ``folders``, the ledger's SQLite file included (robocorp's log.html embeds its log
    compressed; its source, output.robolog, is plain text and is searched)."""
    import re

    patterns = [re.compile(rf"(?<!\d){re.escape(v)}(?!\d)") for v in sorted(values) if v]
    found = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.suffix == ".png":
                continue
            text = path.read_bytes().decode("utf-8", "replace")
            found += [f"{path}: {p.pattern}" for p in patterns if p.search(text)]
    return found
