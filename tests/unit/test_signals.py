"""paybot.signals: a stop request reaches the handler inside the block, and the handler that
was there before is back after it."""

from __future__ import annotations

import os
import signal
import threading

from paybot.signals import on_stop_signals


def test_a_stop_signal_reaches_the_handler_and_the_old_one_comes_back() -> None:
    seen: list[int] = []
    before = signal.getsignal(signal.SIGTERM)
    with on_stop_signals(seen.append):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
    assert seen == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) is before


def test_outside_the_main_thread_nothing_is_installed() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []

    def body() -> None:
        with on_stop_signals(seen.append):
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [before]
