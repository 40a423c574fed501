"""Chromium and chromedriver processes that belong to paybot, and ending them.

Every browser a run opens is **marked** with its profile folder,
``<data_dir>/tmp/browser.<robot>.<run_id>.<n>``: chromedriver is started with
``PAYBOT_BROWSER=<that folder>`` in its environment, which Chromium and every process it starts
inherit, and Chromium gets the folder as its ``--user-data-dir``. Only processes carrying such
a marker are ever ended here: a user's own Chromium (or another robot's, or another data
folder's) has none, or another one.

chromedriver starts in a session of its own (a Ctrl-C in the terminal reaches the robot, which
finishes the invoice it is on, not the browser under it) with ``PR_SET_PDEATHSIG`` = SIGKILL:
when the thread that started it dies (the robot's worker process killed by the OOM killer, say),
the kernel kills chromedriver at once. Chromium outlives chromedriver, so the next one to come
**sweeps** by the marker: ``robot run`` when its worker process has ended (however it ended),
and every run at start-up for its robot (it holds the robot's lock, so no other run of the
robot is using a browser). The scheduler ends a run's whole process tree as well
(:mod:`paybot.scheduler.child`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import psutil

ENV_MARKER = "PAYBOT_BROWSER"
"""The environment variable that marks a browser's processes: the browser's profile folder."""
USER_DATA_DIR = "--user-data-dir="
KILL_WAIT_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1

_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
except OSError:  # not Linux: no parent-death signal, the sweeps still apply
    _libc = None


def browser_marker(data_dir: Path, robot: str, run_id: str, n: int) -> Path:
    """The profile folder (and marker) of a run's ``n``-th browser."""
    return data_dir / "tmp" / f"browser.{robot}.{run_id}.{n}"


def marker_prefix(data_dir: Path, robot: str, run_id: str | None = None) -> str:
    """What the markers of a robot's browsers (or of one run's) start with."""
    folder = data_dir / "tmp"
    return str(folder / (f"browser.{robot}.{run_id}." if run_id else f"browser.{robot}."))


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets SIGKILL when the thread that
    started it dies (``PR_SET_PDEATHSIG``), and dies at once when that happened already."""
    parent = os.getpid()
    libc = _libc

    def preexec() -> None:  # runs in the child between fork and exec: no locks, no logging
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _marked(proc: psutil.Process, prefix: str) -> bool:
    with contextlib.suppress(psutil.Error, OSError):
        if proc.environ().get(ENV_MARKER, "").startswith(prefix):
            return True
    with contextlib.suppress(psutil.Error, OSError):
        return any(
            arg.startswith(USER_DATA_DIR) and arg[len(USER_DATA_DIR) :].startswith(prefix)
            for arg in proc.cmdline()
        )
    return False


def marked_processes(prefix: str) -> list[psutil.Process]:
    """Living processes whose marker starts with ``prefix`` (see the module's doc), and the
    processes below them (a renderer started before the marker was looked at)."""
    found: dict[int, psutil.Process] = {}
    me = os.getpid()
    for proc in psutil.process_iter():
        if proc.pid == me or proc.pid in found or not _marked(proc, prefix):
            continue
        found[proc.pid] = proc
        with contextlib.suppress(psutil.Error):
            for child in proc.children(recursive=True):
                found.setdefault(child.pid, child)
    alive = []
    for proc in found.values():
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
    return alive


_sweep_lock = threading.Lock()


def end_processes(prefix: str, wait_seconds: float = KILL_WAIT_SECONDS) -> int:
    """SIGKILL every process marked with ``prefix`` and wait (at most ``wait_seconds``) until
    they are gone; returns how many there were. Safe to repeat."""
    with _sweep_lock:
        procs = marked_processes(prefix)
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(procs, timeout=wait_seconds)
        return len(procs)
