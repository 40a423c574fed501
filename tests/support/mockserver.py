"""The mock finance system as a real server process on 127.0.0.1, for tests.

``running_mock(db_path, **fault_flags)`` starts ``python -m paybot erp serve --port 0`` as a
subprocess, waits (with a deadline) until it has written its address to the ready file, and
stops it with SIGTERM at the end. Fault flags are given by their option name with underscores,
e.g. ``running_mock(db, error_rate=0.2, fault_seed=7)``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

START_DEADLINE_SECONDS = 30.0
STOP_DEADLINE_SECONDS = 15.0
POLL_SECONDS = 0.02


class MockServerFailed(RuntimeError):
    """The server did not start, or did not stop; the message carries its output."""


@dataclass
class MockServer:
    url: str
    process: subprocess.Popen[bytes]
    db_path: Path
    workdir: Path
    stopped: bool = field(default=False)
    stdout_text: str = ""  # what the server printed, kept when it stops
    stderr_text: str = ""

    def _collect(self) -> None:
        if self.workdir.exists():
            self.stdout_text = (self.workdir / "stdout.txt").read_text("utf-8", "replace")
            self.stderr_text = (self.workdir / "stderr.txt").read_text("utf-8", "replace")
            shutil.rmtree(self.workdir, ignore_errors=True)

    def output(self) -> str:
        if not self.stopped:
            self.stdout_text = (self.workdir / "stdout.txt").read_text("utf-8", "replace")
            self.stderr_text = (self.workdir / "stderr.txt").read_text("utf-8", "replace")
        return f"--- stdout ---\n{self.stdout_text}--- stderr ---\n{self.stderr_text}"

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code (kills it only when it will not stop)."""
        if self.stopped:
            return self.process.returncode
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=STOP_DEADLINE_SECONDS)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
                    raise MockServerFailed(
                        f"mock on {self.url} ignored SIGTERM for {STOP_DEADLINE_SECONDS:g} s\n"
                        + self.output()
                    ) from None
        finally:
            self.stopped = True
            self._collect()
        return self.process.returncode


def serve_command(db_path: Path, ready_file: Path, **fault_flags: object) -> list[str]:
    cmd = [
        sys.executable, "-m", "paybot", "erp", "serve",
        "--port", "0", "--db", str(db_path), "--ready-file", str(ready_file),
    ]  # fmt: skip
    for name, value in fault_flags.items():
        cmd += [f"--{name.replace('_', '-')}", str(value)]
    return cmd


def start_mock(
    db_path: Path, *, env: dict[str, str] | None = None, **fault_flags: object
) -> MockServer:
    """Start the server and wait until it listens; raises with its output when it cannot."""
    work = Path(tempfile.mkdtemp(prefix="mockerp-"))
    ready = work / "ready"
    out_path, err_path = work / "stdout.txt", work / "stderr.txt"
    child_env = {**os.environ, **(env or {})}
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            serve_command(db_path, ready, **fault_flags), stdout=out, stderr=err, env=child_env
        )
    server = MockServer("", process, db_path, work)
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while True:
        if ready.exists():
            url = ready.read_text("utf-8").strip()
            if url:
                server.url = url
                return server
        if process.poll() is not None:
            server.stop()
            raise MockServerFailed(
                f"mock on {db_path} exited with {process.returncode} before listening\n"
                + server.output()
            )
        if time.monotonic() > deadline:
            server.stop()
            raise MockServerFailed(
                f"mock on {db_path} did not listen within {START_DEADLINE_SECONDS:g} s\n"
                + server.output()
            )
        time.sleep(POLL_SECONDS)  # polling for the ready file, bounded by the deadline


@contextmanager
def running_mock(
    db_path: Path, *, env: dict[str, str] | None = None, **fault_flags: object
) -> Iterator[MockServer]:
    server = start_mock(db_path, env=env, **fault_flags)
    try:
        yield server
    finally:
        server.stop()
