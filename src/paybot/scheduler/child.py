"""One scheduled run as a child process, isolated from the scheduler and ended completely.

The child starts in a session (and process group) of its own, so a signal meant for the
scheduler's terminal never reaches it, and the whole group can be signalled at once. While it
runs, the scheduler notes every process below it (by parent pid, walking ``/proc``) and every
process in its session: Chromium and chromedriver may start processes of their own, and a
process whose parent died is handed to init, after which nothing links it to the run any more.
Ending a run therefore signals everything ever seen (that is still the same process), not only
the group: SIGTERM first, SIGKILL after a grace, and then checks in ``/proc`` that nothing
survived.

The child is not reaped until the run is over: its pid (and so its process group and session
id) cannot be given to another process while it is a zombie.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from paybot.private import private_dir, private_opener
from paybot.scheduler.proctree import Proc, alive, descendants, session_members, snapshot

DEFAULT_POLL_SECONDS = 0.5
KILL_WAIT_SECONDS = 5.0
"""How long to wait for SIGKILLed processes to disappear (uninterruptible I/O can delay it)."""


class Ended(StrEnum):
    EXITED = "exited"
    TIMEOUT = "timeout"
    STOPPED = "stopped"


@dataclass(frozen=True)
class KillResult:
    signalled: int
    """Processes of the run that were alive when it was ended."""
    survivors: tuple[Proc, ...] = ()
    """Processes still alive after SIGKILL (should be none; then the kernel is stuck on I/O)."""


@dataclass
class ChildRun:
    process: subprocess.Popen[bytes]
    log_path: Path
    poll_seconds: float = DEFAULT_POLL_SECONDS
    seen: dict[tuple[int, int], Proc] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_path: Path,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> ChildRun:
        """Start ``command`` in a new session with its output appended to ``log_path``."""
        private_dir(log_path.parent)
        with open(log_path, "ab", opener=private_opener) as log:
            process = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        run = cls(process, log_path, poll_seconds)
        run.track()
        return run

    @property
    def pid(self) -> int:
        return self.process.pid

    # --- watching ----------------------------------------------------------------------------

    def has_exited(self) -> bool:
        """True once the child has exited; it stays a zombie (not reaped) until :meth:`reap`."""
        if self.process.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def track(self) -> None:
        """Note every process below the child and in its session (see the module's doc)."""
        procs = snapshot()
        roots = [self.pid, *(p.pid for p in alive(self.seen.values()))]
        found = descendants(roots, procs)
        if self.process.returncode is None:  # not reaped: the session id is still ours
            found.update(session_members(self.pid, procs))
        for proc in found.values():
            self.seen.setdefault(proc.key, proc)

    def wait(self, deadline: float, stop: threading.Event | None = None) -> Ended:
        """Wait until the child exits (``EXITED``), ``time.monotonic()`` passes ``deadline``
        (``TIMEOUT``) or ``stop`` is set (``STOPPED``), noting its processes meanwhile."""
        pause = threading.Event() if stop is None else stop
        while True:
            if self.has_exited():
                return Ended.EXITED
            if stop is not None and stop.is_set():
                return Ended.STOPPED
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Ended.TIMEOUT
            self.track()
            pause.wait(min(self.poll_seconds, remaining))

    # --- ending ------------------------------------------------------------------------------

    def ask_to_stop(self) -> None:
        """SIGTERM to the child alone: ``robot run`` finishes the invoice it is on and exits."""
        if not self.has_exited():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    def leftovers(self) -> list[Proc]:
        """Processes of the run still alive (the child itself excluded)."""
        self.track()
        return [p for p in alive(self.seen.values()) if p.pid != self.pid]

    def _signal_all(self, sig: signal.Signals, procs: list[Proc]) -> None:
        if not self.has_exited() or any(p.pgid == self.pid for p in procs):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
        for proc in procs:
            if proc.pgid != self.pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(proc.pid, sig)

    def _wait_gone(self, seconds: float) -> list[Proc]:
        deadline = time.monotonic() + seconds
        pause = threading.Event()
        while True:
            self.track()
            remaining = alive(self.seen.values())
            left = deadline - time.monotonic()
            if not remaining or left <= 0:
                return remaining
            pause.wait(min(0.05, left))

    def terminate(self, grace_seconds: float) -> KillResult:
        """End the child and everything it started: SIGTERM to its process group and to every
        process of the run outside it, SIGKILL to whatever is left after ``grace_seconds``,
        then check that nothing survived."""
        self.track()
        targets = alive(self.seen.values())
        if not targets:
            return KillResult(0)
        self._signal_all(signal.SIGTERM, targets)
        remaining = self._wait_gone(grace_seconds)
        for _ in range(3):
            if not remaining:
                break
            self._signal_all(signal.SIGKILL, remaining)
            remaining = self._wait_gone(KILL_WAIT_SECONDS)
        return KillResult(len(targets), tuple(remaining))

    def reap(self) -> int:
        """Collect the child's exit status: its exit code, or ``128 + signal`` when a signal
        ended it (as a shell reports it)."""
        code = self.process.wait()
        return 128 - code if code < 0 else code
