"""Waiting for what another process writes (a database row, a mail, a process that ends):
poll a condition until it holds or a deadline passes. Never a fixed sleep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.1


def wait_for(condition: Callable[[], T], what: str, deadline: float = 240.0) -> T:
    """The first truthy value of ``condition()``, polled every :data:`POLL_SECONDS`; raises
    ``AssertionError`` naming ``what`` when none came within ``deadline`` seconds."""
    pause = threading.Event()
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:g} s waiting for {what}")
        pause.wait(POLL_SECONDS)
