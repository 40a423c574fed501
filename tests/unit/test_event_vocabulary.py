"""Every audit event the code writes is in the documented vocabulary (paybot.audit.events),
so an auditor's list of events cannot drift from what the robots write."""

from __future__ import annotations

import re
from pathlib import Path

from paybot.audit import EVENTS

SRC = Path(__file__).resolve().parents[2] / "src" / "paybot"
WRITES = re.compile(r"""\.event\(\s*["']([a-z_]+)["']""")
SCHEDULER = re.compile(r"""["'](scheduler_[a-z_]+)["']""")


def test_every_event_written_is_documented() -> None:
    texts = [f.read_text("utf-8") for f in SRC.rglob("*.py")]
    written = {m.group(1) for t in texts for m in WRITES.finditer(t)}
    written |= {m.group(1) for t in texts for m in SCHEDULER.finditer(t)}
    assert len(written) > 15, "the pattern no longer finds the events"
    assert written - EVENTS == set()
