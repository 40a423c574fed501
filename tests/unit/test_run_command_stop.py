"""What ``robot run`` says when its robot's process wrote no outcome: a Ctrl-C or SIGTERM that
``robot run`` forwarded is named as the stop request it was, not as an unexplained signal."""

from __future__ import annotations

import signal

from paybot.commands.run import _how_it_ended


def test_a_forwarded_ctrl_c_is_named_as_a_stop_request() -> None:
    text = _how_it_ended(-signal.SIGTERM, signal.SIGINT)
    assert "stopped on request" in text and "SIGINT" in text and "Ctrl-C" in text
    assert "SIGTERM" in _how_it_ended(-signal.SIGTERM, signal.SIGTERM)


def test_a_signal_nobody_asked_for_is_still_reported_as_such() -> None:
    assert "signal 15" in _how_it_ended(-signal.SIGTERM)
    assert "OOM" in _how_it_ended(-signal.SIGKILL, signal.SIGINT)
    assert "before it wrote one" in _how_it_ended(1, signal.SIGINT)
