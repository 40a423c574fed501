"""robocorp's log (``robocorp/log.html`` in the run folder) as a tree a person can read.

One step per invoice (``Løbenr. 17 · 20433213:F-1``), and inside it a step per phase (read,
decide, pay or hand over, reconcile) holding the masked one-line summaries of the audit events
of that phase (pages opened, fields read, values typed, buttons clicked: see
:mod:`paybot.audit.forward`), one line per check the rules made (``✓``/``✗``), errors at level
ERROR, business refusals at WARN, and the masked screenshot of an application error embedded as
an image. The step of an invoice that failed ends as FAIL.

robocorp-log has no public API for a step of one's own (its steps are the functions it logs
automatically, and our packages are excluded from that so that no variable with a CPR number
reaches the log: ``[tool.robocorp.log]`` in ``pyproject.toml``). A step here is the element
robocorp's auto-logging writes for a function call (``start_element``/``end_method`` of its
loggers), written explicitly; robocorp-log is pinned in ``constraints.txt`` and
``tests/integration/test_robolog.py`` reads a real ``log.html`` back through its public decoder,
so an upgrade that changes this fails there. Like every robocorp log call, it only writes from
the main thread (worker ``w1``; other workers' invoices are in the audit trail). Outside a
robocorp-tasks run everything here does nothing. Texts are masked (:func:`mask_text`) before
they are written; never pass anything unmasked that is not text.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from paybot.audit.forward import robocorp_active
from paybot.audit.masking import mask_text

LIBNAME = "paybot"
PASS, FAIL = "PASS", "FAIL"
MAX_SCREENSHOT_BYTES = 2_000_000
"""A bigger screenshot is named but not embedded (log.html stays small enough to open)."""


def _writing() -> bool:
    return threading.current_thread() is threading.main_thread() and robocorp_active()


class Step:
    """An open step: set ``status`` to :data:`FAIL` to end it as failed without raising."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = PASS


def _start(name: str, doc: str) -> None:
    from robocorp.log._logger_instances import _get_logger_instances

    with _get_logger_instances() as loggers:
        for logger in loggers:
            logger.start_element(name, LIBNAME, __file__, 0, "METHOD", doc, [])


def _end(name: str, status: str) -> None:
    from robocorp.log._logger_instances import _get_logger_instances

    with _get_logger_instances() as loggers:
        for logger in loggers:
            logger.end_method("METHOD", name, LIBNAME, status)


@contextmanager
def step(name: str, doc: str = "") -> Iterator[Step]:
    """A step named ``name`` (masked) around the body; what is logged inside nests in it. It
    ends FAIL when the body raises (the exception goes on) or sets ``status = FAIL``."""
    handle = Step(mask_text(name))
    writing = _writing()
    if writing:
        _start(handle.name, mask_text(doc))
    try:
        yield handle
    except BaseException:
        handle.status = FAIL
        raise
    finally:
        if writing:
            _end(handle.name, handle.status)


def info(message: str) -> None:
    if _writing():
        from robocorp import log

        log.info(mask_text(message))


def warn(message: str) -> None:
    if _writing():
        from robocorp import log

        log.warn(mask_text(message))


def error(message: str) -> None:
    """An error line (robocorp's ``log.critical``: level ERROR in log.html)."""
    if _writing():
        from robocorp import log

        log.critical(mask_text(message))


def screenshot(path: Path, caption: str) -> None:
    """Embed the PNG at ``path`` (taken with the page's personal fields blanked, see
    :meth:`paybot.erp.port.FinanceSystem.screenshot`) as an image at level ERROR, with the
    masked ``caption``; a missing or too big file is named instead."""
    if not _writing():
        return
    from html import escape

    from robocorp import log

    try:
        data = path.read_bytes()
    except OSError:
        log.critical(mask_text(f"{caption}: no screenshot ({path.name})"))
        return
    if len(data) > MAX_SCREENSHOT_BYTES:
        log.critical(mask_text(f"{caption}: screenshot {path.name} (too big to embed)"))
        return
    image = base64.b64encode(data).decode("ascii")
    log.html(
        f"<p>{escape(mask_text(caption))} ({escape(path.name)})</p>"
        f'<img alt="{escape(path.name)}" style="max-width:100%" '
        f'src="data:image/png;base64,{image}"/>',
        level="ERROR",
    )
