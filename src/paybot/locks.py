"""One run of a robot at a time: per data folder (SQLite) or per machine (PostgreSQL).

With the ledger on PostgreSQL (several machines share one queue) the lock is an advisory lock
in the database, one per robot and machine (:func:`acquire_for`, :mod:`paybot.pg_lock`): each
machine runs at most one run of a robot, and the runs of several machines claim work items
from the shared queue side by side (``FOR UPDATE SKIP LOCKED`` and leases, see
:mod:`paybot.ledger`). The rest of this text is about the ``flock`` used with SQLite.

The lock is an exclusive ``flock`` on ``<data_dir>/locks/<robot>.lock``. The kernel releases it
when the last process holding the file open dies, however it dies (even ``SIGKILL``), so there is
never a stale lock to clean up: the file itself may stay, but it locks nothing. The holder writes
who it is (host, pid, run id, start time) into the file so that ``robot runs`` and an operator
can see who holds it.

``robot run`` takes the lock and hands the open file to the robocorp-tasks child process it
starts, so the lock is held as long as either of them lives. On Linux NFS (v4) ``flock`` is
carried out with POSIX byte-range locks on the server, which machines sharing the directory
respect; a data directory on a filesystem without locking is not supported.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy.exc import SQLAlchemyError

from paybot.config_load import ledger_url
from paybot.config_models import Settings
from paybot.database import explain_connection_error
from paybot.errors import Busy, DatabaseUnavailable
from paybot.pg_lock import AdvisoryLock, holder_of
from paybot.private import private_dir, private_opener


class RobotBusy(Busy):
    """Another run of this robot holds the lock (exit 4, not started)."""

    def __init__(self, robot: str, holder: dict[str, str]) -> None:
        self.robot = robot
        self.holder = holder
        who = ", ".join(f"{k} {v}" for k, v in holder.items()) or "unknown holder"
        super().__init__(f"{robot} is already running ({who})")


@dataclass
class RobotLock:
    robot: str
    path: Path
    file: IO[str]

    @property
    def fd(self) -> int:
        return self.file.fileno()

    @property
    def pass_fds(self) -> tuple[int, ...]:
        """What a child process must inherit to hold the lock too (the open file)."""
        return (self.fd,)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
        self.file.close()


def lock_path(data_dir: Path, robot: str) -> Path:
    return data_dir / "locks" / f"{robot}.lock"


def read_holder(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def acquire(
    data_dir: Path, robot: str, run_id: str, *, now: dt.datetime | None = None
) -> RobotLock:
    """Take the robot's lock or raise :class:`RobotBusy` naming the holder. Never blocks."""
    path = lock_path(data_dir, robot)
    private_dir(path.parent)
    file = open(path, "a+", encoding="utf-8", opener=private_opener)  # noqa: SIM115 - held open for the run's lifetime
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        raise RobotBusy(robot, read_holder(path)) from None
    holder = {
        "host": socket.gethostname(),
        "pid": str(os.getpid()),
        "run_id": run_id,
        "since": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
    }
    file.seek(0)
    file.truncate()
    file.write(json.dumps(holder))
    file.flush()
    return RobotLock(robot=robot, path=path, file=file)


def is_locked(data_dir: Path, robot: str) -> bool:
    """True when some process holds the robot's lock right now."""
    path = lock_path(data_dir, robot)
    if not path.exists():
        return False
    with open(path, encoding="utf-8") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)
        return False


@contextlib.contextmanager
def robot_lock(data_dir: Path, robot: str, run_id: str) -> Iterator[RobotLock]:
    lock = acquire(data_dir, robot, run_id)
    try:
        yield lock
    finally:
        lock.release()


# --- PostgreSQL: advisory locks per robot and machine ----------------------------------------


class LockUnreachable(DatabaseUnavailable):
    """The robot's lock is in the ledger's PostgreSQL, and that cannot be reached. Exit 2;
    nothing was started."""


@contextlib.contextmanager
def _reachable(settings: Settings) -> Iterator[None]:
    """Turn a failure to reach the database into the one sentence every command gives for it
    (:func:`paybot.database.explain_connection_error`), a missing driver included."""
    try:
        yield
    except SQLAlchemyError as exc:
        explained = explain_connection_error(ledger_url(settings), exc)
        raise LockUnreachable(f"{explained}; the robot's lock is kept there") from exc


def uses_database_lock(settings: Settings) -> bool:
    """True when the ledger is on PostgreSQL: then the robot's lock is in the database."""
    return settings.ledger.shared


def run_key(robot: str, machine: str) -> str:
    """The advisory lock ``robot run`` holds (or a task run on its own)."""
    return f"paybot run {robot}@{machine}"


def child_key(robot: str, machine: str) -> str:
    """The advisory lock the run's robocorp child holds while it works: the run is alive as
    long as either of the two is held (the child can outlive a killed parent)."""
    return f"paybot run-child {robot}@{machine}"


@dataclass
class DatabaseLock:
    """The robot's lock as an advisory lock in the shared PostgreSQL (see :mod:`paybot.pg_lock`)."""

    robot: str
    lock: AdvisoryLock

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return ()  # the child takes a lock of its own (child_key)

    def release(self) -> None:
        self.lock.release()


def _busy(settings: Settings, robot: str, key: str) -> RobotBusy:
    holder = holder_of(ledger_url(settings), key) or ""
    return RobotBusy(
        robot, {"held by": holder or "another session", "machine": settings.machine_name}
    )


def _app_name(what: str, robot: str, run_id: str, machine: str) -> str:
    return f"paybot {what} {robot} {run_id} {machine} pid {os.getpid()}"


def acquire_for(settings: Settings, robot: str, run_id: str) -> RobotLock | DatabaseLock:
    """The robot's lock for a run on this machine: the ``flock`` in the data folder with a
    SQLite ledger, the advisory lock per robot and machine with PostgreSQL. Raises
    :class:`RobotBusy` naming the holder; never waits. With PostgreSQL a database that cannot
    be reached raises :class:`sqlalchemy.exc.SQLAlchemyError`."""
    if not uses_database_lock(settings):
        return acquire(settings.data_dir, robot, run_id)
    machine = settings.machine_name
    url = ledger_url(settings)
    with _reachable(settings):
        lock = AdvisoryLock(url, run_key(robot, machine), _app_name("run", robot, run_id, machine))
        if not lock.try_take():
            raise _busy(settings, robot, run_key(robot, machine))
        if holder_of(url, child_key(robot, machine)) is not None:
            # the child of an earlier run whose parent was killed is still working
            lock.release()
            raise _busy(settings, robot, child_key(robot, machine))
    return DatabaseLock(robot, lock)


def hold_in_child(settings: Settings, robot: str, run_id: str) -> DatabaseLock | None:
    """In the robocorp child of ``robot run`` (which holds the run's lock): with PostgreSQL,
    the child's own advisory lock (:func:`child_key`), so that the run counts as alive while
    the child is, even if its parent was killed; ``None`` with SQLite (the child inherited the
    ``flock``'s file). Raises :class:`RobotBusy` when another child holds it."""
    if not uses_database_lock(settings):
        return None
    machine = settings.machine_name
    key = child_key(robot, machine)
    with _reachable(settings):
        lock = AdvisoryLock(ledger_url(settings), key, _app_name("child", robot, run_id, machine))
        if not lock.try_take():
            raise _busy(settings, robot, key)
    return DatabaseLock(robot, lock)


def is_running(settings: Settings, robot: str) -> bool:
    """True when a run of ``robot`` holds its lock on this machine right now (the ``flock``
    with SQLite, either advisory lock with PostgreSQL)."""
    if not uses_database_lock(settings):
        return is_locked(settings.data_dir, robot)
    machine = settings.machine_name
    url = ledger_url(settings)
    return any(
        holder_of(url, key) is not None
        for key in (run_key(robot, machine), child_key(robot, machine))
    )
