"""A scheduled night in a test world: ``robot scheduler --run-now ROBOT`` (the real scheduler
starting the real ``robot run``), with its alerts going to an SMTP server on 127.0.0.1, and
the processes a run is made of, found as an operator (or the OOM killer) would find them."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage

import psutil

from support.robots import RobotWorld

STOP_DEADLINE_SECONDS = 120


def notify_env(port: int, email: str) -> dict[str, str]:
    """Alerts by mail to ``email`` through the SMTP server on 127.0.0.1:``port`` (no TLS)."""
    return {
        "PAYBOT_NOTIFY_SMTP_HOST": "127.0.0.1",
        "PAYBOT_NOTIFY_SMTP_PORT": str(port),
        "PAYBOT_NOTIFY_SMTP_STARTTLS": "false",
        "PAYBOT_NOTIFY_EMAIL": email,
    }


@dataclass
class Scheduler:
    process: subprocess.Popen[str]
    output: str = ""
    """Everything it wrote, once it has been stopped."""

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def robot_worker(self) -> psutil.Process | None:
        """The robot's worker process: the robocorp-tasks child of the ``robot run`` the
        scheduler started (the process that drives the browser), or None while there is
        none."""
        try:
            below = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        for proc in below:
            try:
                if "robocorp.tasks" in proc.cmdline():
                    return proc
            except psutil.Error:
                continue
        return None


@contextmanager
def scheduled_run(world: RobotWorld, robot: str) -> Iterator[Scheduler]:
    """The scheduler started with one run of ``robot`` now; stopped with SIGTERM (as systemd
    stops it) on leaving, its output then in ``Scheduler.output``."""
    process = world.popen(
        "scheduler",
        "--run-now",
        robot,
        env={"PAYBOT_SCHEDULER_STOP_DEADLINE_SECONDS": str(STOP_DEADLINE_SECONDS)},
    )
    scheduler = Scheduler(process)
    try:
        yield scheduler
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            scheduler.output, _ = process.communicate(timeout=STOP_DEADLINE_SECONDS + 60)
        finally:
            if process.poll() is None:
                process.kill()
                scheduler.output, _ = process.communicate()


def mail_text(mail: EmailMessage) -> tuple[str, str]:
    """A mail's plain-text and HTML parts."""
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None, "an alert has a plain and an HTML part"
    return str(plain.get_content()), str(html.get_content())
