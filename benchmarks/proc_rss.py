"""Memory of a process tree, sampled from /proc: for the benchmarks in this folder.

``TreeSampler(pid)`` is a thread that sums VmRSS over ``pid`` and all its descendants every
50 ms (the whole of /proc is scanned for new descendants every 250 ms) and keeps the peaks: of
the tree, of its Python processes together, per kind of process (python, chromedriver,
chromium) and per process; with ``keep_series`` also every sample of every process.

VmRSS counts a page shared by several processes once in each (as ``ps`` does): Chromium's
processes share much of their memory, so the tree's sum is an upper bound of what it holds.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path

SAMPLE_SECONDS = 0.05
RESCAN_SECONDS = 0.25


def proc_stat(pid: int) -> tuple[int, str] | None:
    """(ppid, comm) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes().decode("utf-8", "replace")
    except OSError:
        return None
    close = raw.rfind(")")
    comm = raw[raw.find("(") + 1 : close]
    return int(raw[close + 2 :].split()[1]), comm


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text("utf-8", "replace").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def kind_of(comm: str) -> str:
    if comm.startswith("python"):
        return "python"
    if comm.startswith("chromedriver"):
        return "chromedriver"
    return "chromium"  # chromium, its zygote, renderers, GPU/utility processes, the sh wrapper


class TreeSampler(threading.Thread):
    """Peak VmRSS of a process and all its descendants: in total, per kind, per process."""

    def __init__(self, root: int, *, keep_series: bool = False) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.root = root
        self.keep_series = keep_series
        self.tree: dict[int, tuple[str, int]] = {root: ("python", 0)}  # pid: (kind, ppid)
        self.peak_total_kb = 0
        self.peak_python_kb = 0
        self.peak_kind_kb: dict[str, int] = defaultdict(int)
        self.peak_process_kb: dict[int, int] = defaultdict(int)
        self.parents: dict[int, int] = {}
        self.kinds: dict[int, str] = {root: "python"}
        self.series: list[tuple[float, dict[int, int]]] = []  # (time.time(), {pid: kB})
        self._halt = threading.Event()

    def _rescan(self) -> None:
        children: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                st = proc_stat(int(entry.name))
                if st is not None:
                    children[st[0]].append((int(entry.name), st[1]))
        tree: dict[int, tuple[str, int]] = {self.root: ("python", 0)}
        todo = [self.root]
        while todo:
            parent = todo.pop()
            for child, comm in children.get(parent, []):
                tree[child] = (kind_of(comm), parent)
                self.parents[child] = parent
                self.kinds[child] = kind_of(comm)
                todo.append(child)
        self.tree = tree

    def sample(self) -> None:
        per_kind: dict[str, int] = defaultdict(int)
        now: dict[int, int] = {}
        for pid, (kind, _) in self.tree.items():
            kb = rss_kb(pid)
            now[pid] = kb
            per_kind[kind] += kb
            self.peak_process_kb[pid] = max(self.peak_process_kb[pid], kb)
        self.peak_total_kb = max(self.peak_total_kb, sum(per_kind.values()))
        self.peak_python_kb = max(self.peak_python_kb, per_kind["python"])
        for kind, kb in per_kind.items():
            self.peak_kind_kb[kind] = max(self.peak_kind_kb[kind], kb)
        if self.keep_series:
            self.series.append((time.time(), now))

    def run(self) -> None:
        last_scan = 0.0
        while not self._halt.is_set():
            now = time.monotonic()
            if now - last_scan >= RESCAN_SECONDS:
                self._rescan()
                last_scan = now
            self.sample()
            self._halt.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    @property
    def processes_seen(self) -> set[int]:
        return set(self.peak_process_kb)

    def peak_largest_kb(self, kind: str) -> int:
        """The peak of the largest single process of a kind."""
        return max(
            (kb for pid, kb in self.peak_process_kb.items() if self.kinds[pid] == kind), default=0
        )
