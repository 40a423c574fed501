"""trytond with sao on 127.0.0.1, on one database (``-d``: trytond 8.0.12 otherwise fails
every login with "Application Error 'res.user'")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from trytonerp.database import TrytonPaths, write_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(paths: TrytonPaths, sao: Path, port: int) -> list[str]:
    """The trytond command line (the configuration file is written first)."""
    write_config(paths, sao_root=sao, listen=f"127.0.0.1:{port}")
    trytond = Path(sys.executable).with_name("trytond")
    return [str(trytond), "-c", str(paths.config_file), "-d", paths.database]


def start_server(paths: TrytonPaths, sao: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """trytond in the background, its output in ``log``; the caller stops it."""
    command = server_command(paths, sao, port)
    handle = log.open("ab")
    return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)


def serve_forever(paths: TrytonPaths, sao: Path, port: int) -> None:
    """Replace this process by trytond (SIGTERM and Ctrl-C stop it)."""
    command = server_command(paths, sao, port)
    os.execv(command[0], command)  # noqa: S606 - our own trytond, fixed arguments
