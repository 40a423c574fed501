"""A Tryton SQLite database: the trytond configuration file, module activation, a template.

Activating the modules takes about a minute on SQLite, so a database with the modules active
and nothing else is kept as a template next to the data (``tryton-template-<key>.sqlite``,
keyed by trytond's version and the module list) and copied for every new database. Safe to
repeat: a template that exists is reused; one that is half written is never used (written
under a temporary name, then renamed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from trytonerp import LANGUAGE, MODULES, TRYTOND_VERSION


class TrytonSetupError(Exception):
    """Tryton could not be set up; the message says what failed."""


@dataclass(frozen=True)
class TrytonPaths:
    """Where one Tryton installation keeps its files (all under ``home``)."""

    home: Path
    database: str = "paybot"

    @property
    def db_dir(self) -> Path:
        return self.home / "db"

    @property
    def db_file(self) -> Path:
        """trytond's SQLite backend keeps database ``NAME`` in ``<path>/NAME.sqlite``."""
        return self.db_dir / f"{self.database}.sqlite"

    @property
    def config_file(self) -> Path:
        return self.home / "trytond.conf"

    @property
    def users_file(self) -> Path:
        return self.home / "tryton-users.json"

    @property
    def truth_file(self) -> Path:
        return self.home / "tryton.truth.json"

    @property
    def exports_dir(self) -> Path:
        """The case system's export files (requisitions, bookings): Tryton keeps neither."""
        return self.home / "exports"

    @property
    def xml_dir(self) -> Path:
        return self.home / "einvoices"


def template_key() -> str:
    text = f"{TRYTOND_VERSION}:{','.join(sorted(MODULES))}:{LANGUAGE}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def write_config(paths: TrytonPaths, *, sao_root: Path | None = None, listen: str = "") -> Path:
    """The trytond configuration file (SQLite under ``db_dir``; sao as the web root)."""
    paths.db_dir.mkdir(parents=True, exist_ok=True)
    lines = ["[database]", "uri = sqlite://", f"path = {paths.db_dir}", ""]
    lines += ["[web]"]
    if listen:
        lines.append(f"listen = {listen}")
    if sao_root is not None:
        lines.append(f"root = {sao_root}")
    lines += ["", "[session]", "timeout = 3600", ""]
    paths.config_file.write_text("\n".join(lines), encoding="utf-8")
    return paths.config_file


def _admin(paths: TrytonPaths, database: str, *args: str) -> None:
    admin = Path(sys.executable).with_name("trytond-admin")
    password_file = paths.home / ".admin-password"
    if not password_file.exists():
        password_file.write_text(os.urandom(16).hex() + "\n")
        password_file.chmod(0o600)
    env = {**os.environ, "TRYTONPASSFILE": str(password_file)}
    result = subprocess.run(
        [str(admin), "-c", str(paths.config_file), "-d", database, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-5:])
        raise TrytonSetupError(f"trytond-admin {' '.join(args)} failed: {tail}")


def fresh_database(paths: TrytonPaths, cache_dir: Path) -> Path:
    """A new database file with the modules active (copied from the template, made first
    when missing). An existing database of that name is replaced."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    template = cache_dir / f"tryton-template-{template_key()}.sqlite"
    if not template.exists():
        name = f"template-{os.getpid()}"
        work = paths.db_dir / f"{name}.sqlite"
        work.unlink(missing_ok=True)
        work.touch()
        _admin(
            paths,
            name,
            "--all",
            "--activate-dependencies",
            "-u",
            *MODULES,
            "--email",
            "admin@example.invalid",
        )
        partial = template.with_suffix(".partial")
        shutil.move(work, partial)
        partial.replace(template)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{paths.db_file}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, paths.db_file)
    return paths.db_file
