"""What ``robot run`` exits with (also in the README's table, checked by a test), named once
for every module that returns or reads one."""

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
