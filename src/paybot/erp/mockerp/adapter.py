"""``erp.kind: mockerp``: how a run opens a session on the mock finance system."""

from __future__ import annotations

from paybot.erp.mockerp.session import MockErpSession
from paybot.erp.port import Connection, FinanceSystem


def connect(conn: Connection) -> FinanceSystem:
    """A new browser (``conn.open_browser``) on ``erp.url``, not logged in yet.

    Raises: :class:`~paybot.errors.BrowserFailed` when no browser can be opened.
    Repeat: safe (each call is a new session).
    """
    erp = conn.settings.erp
    session = MockErpSession(
        conn.open_browser(),
        erp.url,
        conn.credentials.username,
        conn.credentials.password,
        conn.audit,
        timeout=erp.element_timeout_seconds,
        reopen=conn.open_browser,
    )
    session.downloads = conn.downloads
    return session
