"""SIGTERM and SIGINT handled for the length of a block, the old handlers put back after: how
``robot run``, a run's task and the scheduler are asked to stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def on_stop_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """While the block runs, SIGTERM and SIGINT call ``handler(signum)``, which must do little
    (set an event, forward the signal, raise ``KeyboardInterrupt``). Outside the main thread,
    where Python cannot install a handler, nothing is installed. Raises nothing of its own;
    safe to nest (each level puts back what it found)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        handler(signum)

    old = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)
