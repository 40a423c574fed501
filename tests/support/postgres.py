"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a temp folder, a free
port on 127.0.0.1 — never the system's cluster. The folder is made in the temp folder, or
``/var/tmp`` when the postgres user cannot reach the temp folder (see :func:`base_folder`).

``PostgresCluster.start()`` runs ``initdb`` and ``pg_ctl start`` from
``/usr/lib/postgresql/<newest>/bin`` (``scripts/setup.sh`` installs Debian's ``postgresql``
package when it is missing). ``initdb`` refuses to run as root, so as root the server runs as the
``postgres`` user (Debian's package makes it) through ``runuser``, with the temp folder chowned to
it; as any other user it runs as that user.

The cluster listens on 127.0.0.1 only (no Unix socket in a shared folder), asks for a password
(``scram-sha-256``) from a superuser ``paybot_test`` whose password is made afresh for each cluster,
and trades durability for speed (``fsync=off``): it is for tests only.

With pytest-xdist every worker is its own pytest session, so each worker that needs PostgreSQL
starts its own cluster (about two seconds); tests get a fresh database each
(``new_database``), so nothing is shared between workers or tests.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "paybot_test"


class PostgresUnavailable(RuntimeError):
    """The server's binaries (or the driver) are not installed: run scripts/setup.sh."""


def server_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<major>/bin`` that holds ``initdb`` and ``pg_ctl``."""
    root = Path("/usr/lib/postgresql")
    candidates = sorted(
        (p / "bin" for p in root.glob("*") if (p / "bin" / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresUnavailable(
            "PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb): "
            "run scripts/setup.sh, which installs Debian's postgresql package"
        )
    return candidates[-1]


def _reachable_by_others(folder: Path) -> bool:
    """Every folder from ``/`` down to ``folder`` lets other users pass (the ``x`` bit)."""
    try:
        return all(p.stat().st_mode & 0o001 for p in (folder, *folder.parents))
    except OSError:
        return False


def base_folder() -> Path:
    """Where clusters are made: ``PAYBOT_TEST_POSTGRES_DIR`` when set, else the temp folder,
    else ``/var/tmp``. As root the server runs as ``postgres``, which must be able to reach its
    folder: a temp folder that others cannot pass (a ``/tmp`` made ``0700``) is skipped."""
    chosen = os.environ.get("PAYBOT_TEST_POSTGRES_DIR")
    if chosen:
        return Path(chosen)
    candidates = [Path(tempfile.gettempdir()), Path("/var/tmp")]
    if os.geteuid() != 0:
        return candidates[0]
    for folder in candidates:
        if _reachable_by_others(folder):
            return folder
    closed = ", ".join(map(str, candidates))
    raise PostgresUnavailable(
        f"no folder the postgres user can reach for the test cluster ({closed} are closed to "
        "other users): set PAYBOT_TEST_POSTGRES_DIR"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresCluster:
    """One throwaway cluster. ``start()`` makes and starts it; ``destroy()`` stops it and removes
    its folder. ``stop()``/``start()``/``restart()`` in between keep the data (a restart is what
    "the database restarted in the middle of a run" means in the tests)."""

    folder: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="paybot-pg-", dir=base_folder()))
    )
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    bin_dir: Path = field(default_factory=server_bin_dir)
    _made: bool = False
    _started_once: bool = False

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    # --- URLs --------------------------------------------------------------------------------

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        """``postgresql://paybot_test:<password>@127.0.0.1:<port>/<database>``, the form an
        operator writes in ``PAYBOT_LEDGER_URL`` (no driver named). ``password=False`` leaves the
        password out, for tests of the password coming from the environment or a vault."""
        secret = f":{self.password}" if password else ""
        return f"postgresql://{SUPERUSER}{secret}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """A libpq connection string for psycopg, to set up or inspect databases directly."""
        return (
            f"host={self.host} port={self.port} dbname={database} user={SUPERUSER} "
            f"password={self.password} connect_timeout=5"
        )

    # --- running the server ------------------------------------------------------------------

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", "postgres", "--", *argv]

    def _run(self, argv: list[str], *, timeout: float = 60) -> None:
        result = subprocess.run(
            self._as_server_user(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.folder,
            check=False,
        )
        if result.returncode != 0:
            log = (
                self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            )
            raise RuntimeError(
                f"{' '.join(argv[:2])} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n--- server log ---\n{log}"
            )

    def _make(self) -> None:
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable(
                    "no 'postgres' user to run the test cluster as (initdb refuses root): "
                    "run scripts/setup.sh, which installs Debian's postgresql package"
                ) from exc
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        self.folder.chmod(0o700)
        pwfile = self.folder / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
            ]
        )
        pwfile.unlink()
        self._made = True

    def _write_settings(self) -> None:
        # postgresql.auto.conf is the server's own override file: later restarts keep these.
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "max_connections": "200",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
        }
        auto = self.data_dir / "postgresql.auto.conf"
        auto.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))

    def start(self, *, attempts: int = 5) -> PostgresCluster:
        """Make the cluster on first use, then start it and wait until it takes connections.
        On first start a free port is chosen (again, should another process take it first)."""
        if not self._made:
            self._make()
        for attempt in range(attempts):
            if not self._started_once:
                self.port = free_port()
            self._write_settings()
            try:
                self._run(
                    [
                        str(self.bin_dir / "pg_ctl"),
                        "start",
                        "--pgdata",
                        str(self.data_dir),
                        "--log",
                        str(self.log_file),
                        "--wait",
                        "--timeout",
                        "60",
                    ],
                    timeout=90,
                )
                self._started_once = True
                return self
            except RuntimeError:
                # A restart keeps its port (clients hold the URL): only a first start may move.
                if attempt == attempts - 1 or self._started_once:
                    raise
                time.sleep(0.2)  # another process took the port: pick another
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: ends sessions and rolls back their transactions;
        ``immediate``: like a crash). The data stays; ``start()`` brings it back on the same
        port."""
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "stop",
                "--pgdata",
                str(self.data_dir),
                "--mode",
                mode,
                "--wait",
            ]
        )

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again on the same port: every open connection breaks."""
        self.stop(mode)
        self.start()

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def destroy(self) -> None:
        """Stop the server (if running) and remove its folder. Safe to call twice."""
        if self._made and self.is_running():
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- databases ---------------------------------------------------------------------------

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (a unique name unless given); returns its name."""
        import psycopg

        name = name or f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any session still connected to it."""
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def empty_tables(self, name: str, *, keep: tuple[str, ...] = ("alembic_version",)) -> None:
        """Empty every table of database ``name`` but ``keep`` (``TRUNCATE ... RESTART
        IDENTITY``): a migrated database made fresh for the next test in milliseconds, where
        ``CREATE DATABASE`` takes a second. Waits at most 10 s for a lock (a connection a test
        left open in a transaction fails here, loudly)."""
        import psycopg

        with psycopg.connect(self.conninfo(name), autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                ).fetchall()
                if row[0] not in keep
            ]
            if tables:
                quoted = ", ".join(f'"{t}"' for t in tables)
                conn.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")

    @contextlib.contextmanager
    def new_database(self) -> Iterator[str]:
        """A fresh database for one test; yields its URL (with the password) and drops it after."""
        name = self.create_database()
        try:
            yield self.url(name)
        finally:
            if self.is_running():
                self.drop_database(name)


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    """Start a throwaway cluster and destroy it on the way out (also on errors)."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
