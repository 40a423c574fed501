"""Processes as Linux shows them in ``/proc``: who descends from whom, who is still alive.

A process is known by its pid *and* its start time (``/proc/<pid>/stat`` field 22), so a pid
the kernel has handed to a new process is never mistaken for the old one. Zombies count as
dead: they hold no resources but a table entry, and their parent (or init) reaps them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_DEAD_STATES = frozenset({"Z", "X", "x"})


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    start: int
    """Start time in clock ticks after boot: with the pid, the process's identity."""

    @property
    def key(self) -> tuple[int, int]:
        return (self.pid, self.start)

    @property
    def dead(self) -> bool:
        return self.state in _DEAD_STATES


def parse_stat(text: str) -> Proc:
    """One ``/proc/<pid>/stat`` line. The command name (field 2) is in parentheses and may
    itself hold spaces and parentheses, so the fields are counted from the last ``)``."""
    head, _, tail = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = tail.split()
    # fields[0] is field 3 (state); field n is fields[n - 3]
    return Proc(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        state=fields[0],
        start=int(fields[19]),
    )


def read_proc(pid: int) -> Proc | None:
    """The process ``pid`` now, or ``None`` when there is none."""
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, IndexError):
        return None


def snapshot() -> dict[int, Proc]:
    """Every process on the machine, by pid."""
    procs: dict[int, Proc] = {}
    with contextlib.suppress(OSError):
        for entry in PROC.iterdir():
            if entry.name.isdigit():
                proc = read_proc(int(entry.name))
                if proc is not None:
                    procs[proc.pid] = proc
    return procs


def descendants(roots: Iterable[int], procs: dict[int, Proc]) -> dict[int, Proc]:
    """The processes in ``procs`` below any of ``roots`` (children, grandchildren, ...),
    found by parent pid; the roots themselves are included when they are in ``procs``."""
    children: dict[int, list[Proc]] = {}
    for proc in procs.values():
        children.setdefault(proc.ppid, []).append(proc)
    found: dict[int, Proc] = {}
    queue = [pid for pid in roots]
    for pid in queue:
        if pid in procs and pid not in found:
            found[pid] = procs[pid]
        for child in children.get(pid, ()):
            if child.pid not in found:
                found[child.pid] = child
                queue.append(child.pid)
    return found


def session_members(sid: int, procs: dict[int, Proc]) -> dict[int, Proc]:
    """Processes in session ``sid`` or in process group ``sid``."""
    return {p.pid: p for p in procs.values() if p.sid == sid or p.pgid == sid}


def is_alive(proc: Proc) -> bool:
    """The same process (pid and start time) still exists and is not a zombie."""
    now = read_proc(proc.pid)
    return now is not None and now.start == proc.start and not now.dead


def alive(procs: Iterable[Proc]) -> list[Proc]:
    return [p for p in procs if is_alive(p)]
