"""What the ``robot`` commands print, written once: a line of output, a table of columns, and
the operator a command's audit record names."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence


def say(text: str = "") -> None:
    """One line on standard output (a command's result, not a log line)."""
    sys.stdout.write(text + "\n")


def table(rows: Sequence[Sequence[str]]) -> Iterator[str]:
    """``rows`` (the first one the header) as lines of left-aligned columns two spaces apart,
    without trailing spaces. ``rows`` must not be empty and every row must have as many cells
    as the first."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        yield "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()


def operator() -> str:
    """Who runs the command, for ``by`` in the audit trail: ``SUDO_USER`` (the person behind
    ``sudo``), else ``USER``, else the numeric uid."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or str(os.getuid())
