"""What ``robot run`` exits with (also in the README's table, checked by a test), named once
for every module that returns or reads one. Each :class:`paybot.errors.PaybotError` carries
the code it ends a command with (``exit_code``)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PREFLIGHT = 3
EXIT_BUSY = 4

EXIT_MEANINGS = {
    EXIT_OK: "completed (manual handling is a normal outcome)",
    EXIT_FAILED: "some invoices failed with application errors and are left for the next run",
    EXIT_USAGE: "usage or configuration error",
    EXIT_PREFLIGHT: "preflight failed: nothing was touched",
    EXIT_BUSY: "another run of this robot is in progress",
}

# ``robot audit`` gives 1 its own meaning (docs/audit.md, the README's audit section); 0 and 2
# mean the same as above.
EXIT_AUDIT_BROKEN = EXIT_FAILED
"""``robot audit verify``/``export``: the trail is broken (the first bad record is named)."""
EXIT_AUDIT_NOT_FOUND = EXIT_FAILED
"""``robot audit show``: no invoice fits the name, or several do and none exactly."""
