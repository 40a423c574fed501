"""What ``robot run`` exits with (also in the README's table, checked by a test)."""

from __future__ import annotations

EXIT_MEANINGS = {
    0: "completed (manual handling is a normal outcome)",
    1: "some invoices failed with application errors and are left for the next run",
    2: "usage or configuration error",
    3: "preflight failed: nothing was touched",
    4: "another run of this robot is in progress",
}
