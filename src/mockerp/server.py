"""Serving the web app with waitress on 127.0.0.1 until SIGTERM or SIGINT."""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from flask import Flask
from waitress.server import BaseWSGIServer, create_server

from mockerp.app import create_app
from mockerp.faults import FaultSettings

DEFAULT_THREADS = 8


class ServeError(Exception):
    """The server cannot start; the message names the file, port or value."""


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def bind(app: Flask, host: str, port: int, threads: int = DEFAULT_THREADS) -> BaseWSGIServer:
    """A waitress server listening on ``host:port`` (0 = a free port), not yet running."""
    try:
        server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="mockerp",
            clear_untrusted_proxy_headers=True,
            channel_timeout=30,
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"port {port} on {host} is already in use") from exc
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    if not isinstance(server, BaseWSGIServer):  # pragma: no cover - one host, one socket
        raise ServeError(f"{host}:{port}: expected one listening socket")
    return server


def write_ready_file(path: Path, url: str) -> None:
    """Write the address atomically, so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(url + "\n", encoding="utf-8")
    tmp.replace(path)


class _Stop(SystemExit):
    """Raised by the SIGTERM/SIGINT handler; waitress's loop ends on SystemExit."""


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """The first SIGTERM or SIGINT raises :class:`_Stop` in the main thread; later ones are
    ignored, so shutting down is never interrupted half way."""
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise _Stop(128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(
    db_path: Path,
    host: str,
    port: int,
    ready_file: Path | None,
    faults: FaultSettings | None = None,
    *,
    session_idle_minutes: int = 15,
    renamed_ids: tuple[str, ...] = (),
    threads: int = DEFAULT_THREADS,
    announce: Callable[[str], None] = _stdout,
) -> None:
    """Serve the finance system over ``db_path`` until SIGTERM/SIGINT.

    Once listening, ``announce`` gets ``mockerp listening on http://HOST:PORT`` and
    ``ready_file`` (if given) receives the address; the ready file is removed on the way out.
    """
    if not db_path.parent.is_dir():
        raise ServeError(f"{db_path}: the folder {db_path.parent} does not exist")
    if ready_file is not None and not ready_file.parent.is_dir():
        raise ServeError(f"{ready_file}: the folder {ready_file.parent} does not exist")
    app = create_app(
        db_path, faults, session_idle_minutes=session_idle_minutes, renamed_ids=renamed_ids
    )
    server = bind(app, host, port, threads)
    url = f"http://{host}:{int(server.getsockname()[1])}"
    try:
        with _stop_on_signals():
            try:
                if ready_file is not None:
                    write_ready_file(ready_file, url)
                announce(f"mockerp listening on {url}")
                server.run()  # returns when the signal handler raises _Stop inside its loop
            except _Stop:
                pass  # the signal came just before or after the loop: the same clean stop
            finally:
                server.close()
    finally:
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
