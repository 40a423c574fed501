"""One run of a robot at a time, across processes and machines that share the data directory.

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

from paybot.errors import Busy
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
