"""Serving the console with waitress until SIGTERM or SIGINT (the pattern of the mock
finance system's server: one listening socket, a ready file for whoever waits for it, a clean
stop on the first signal).

127.0.0.1 by default. The console speaks plain HTTP: reached from other machines it belongs
behind a reverse proxy with TLS (docs/console.md, "Security").
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from waitress.server import BaseWSGIServer, create_server

from paybot.console.app import IDLE_MINUTES, create_app
from paybot.console.reads import close
from paybot.console.state import EXTENSION, ConsoleState
from paybot.errors import UsageError
from paybot.signals import on_stop_signals

DEFAULT_PORT = 8470
DEFAULT_THREADS = 4


class ServeError(UsageError):
    """The console cannot start (the port is in use, a folder is missing); the message names
    the port or file. Exit 2."""


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
            ident="paybot-console",
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(url + "\n", encoding="utf-8")
    tmp.replace(path)


class _StopOnce:
    """The first SIGTERM or SIGINT raises ``SystemExit`` in the main thread, which ends
    waitress's loop; later ones are ignored, so shutting down is never interrupted half way."""

    def __init__(self) -> None:
        self.stopping = False

    def __call__(self, signum: int) -> None:
        if not self.stopping:
            self.stopping = True
            raise SystemExit(128 + signum)


def serve(
    home: Path,
    host: str,
    port: int,
    ready_file: Path | None = None,
    *,
    idle_minutes: int = IDLE_MINUTES,
    threads: int = DEFAULT_THREADS,
    announce: Callable[[str], None] = _stdout,
) -> None:
    """Serve the console for the project at ``home`` until SIGTERM/SIGINT. Once listening,
    ``announce`` gets ``paybot console listening on http://HOST:PORT`` and ``ready_file`` (if
    given) the address; it is removed on the way out. Raises :class:`ServeError` or
    :class:`~paybot.errors.ConfigError` before listening."""
    if ready_file is not None and not ready_file.parent.is_dir():
        raise ServeError(f"{ready_file}: the folder {ready_file.parent} does not exist")
    app = create_app(home, idle_minutes=idle_minutes)
    server = bind(app, host, port, threads)
    url = f"http://{host}:{int(server.getsockname()[1])}"
    try:
        with on_stop_signals(_StopOnce()):
            try:
                if ready_file is not None:
                    write_ready_file(ready_file, url)
                announce(f"paybot console listening on {url}")
                server.run()  # returns when the signal handler raises inside its loop
            except SystemExit:
                pass  # the signal came just before or after the loop: the same clean stop
            finally:
                server.close()
                st = app.extensions[EXTENSION]
                assert isinstance(st, ConsoleState)
                close(st)
    finally:
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
