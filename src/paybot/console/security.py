"""CSRF on every form and the security headers on every answer.

- CSRF: Flask-WTF's ``CSRFProtect`` checks every POST (also the login form) for the token the
  page put in the form (``{{ csrf_token() }}``), signed with the session key and bound to the
  session; a missing or wrong token is refused with 400 and a page saying so.
- Headers (OWASP Secure Headers Project): a Content-Security-Policy without any script at all
  (the console has none), ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'``,
  ``Referrer-Policy: no-referrer``, ``X-Content-Type-Options: nosniff``,
  ``Cross-Origin-Opener-Policy: same-origin``, and ``Cache-Control: no-store`` (pages hold
  invoice data; the browser keeps no copy). A run's own report may carry inline styles and
  embedded images; it gets :data:`REPORT_CSP`, still without script.
"""

from __future__ import annotations

from flask import Flask, Response, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
REPORT_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
REPORT_CSP_FLAG = "paybot_report_csp"

HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def _headers(response: Response) -> Response:
    report = bool(getattr(response, REPORT_CSP_FLAG, False))
    response.headers["Content-Security-Policy"] = REPORT_CSP if report else CSP
    for name, value in HEADERS.items():
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def _csrf_refused(error: CSRFError) -> tuple[str, int]:
    return render_template("fejl.html", title="Formularen blev afvist", message=(
        "Formularen kunne ikke modtages, fordi sikkerhedsnøglen mangler, er forkert eller for "
        "gammel. Gå tilbage, genindlæs siden og prøv igen."
    )), 400  # fmt: skip


def install(app: Flask) -> CSRFProtect:
    """CSRF protection and the headers on ``app``."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 3600)
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)  # served over plain HTTP on loopback
    csrf = CSRFProtect(app)
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_refused)
    return csrf
