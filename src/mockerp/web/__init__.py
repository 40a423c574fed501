"""The finance system's screens, one module per screen, and what runs around every request."""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from mockerp.web import admin, auth_views, guard, inbox, invoice, payments, reference, system
from mockerp.web.pages import BadQuery, error_page
from mockerp.web.state import close_connection

BLUEPRINTS = (
    auth_views.bp,
    inbox.bp,
    invoice.bp,
    payments.bp,
    reference.bp,
    admin.bp,
    system.bp,
)


def _bad_query(exc: BadQuery) -> Response:
    return error_page(400, str(exc))


def _http_error(exc: HTTPException) -> Response:
    return error_page(exc.code or 500, "")


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    # The type and the path only: an exception's text may quote data from the invoice.
    current_app.logger.error(
        "%s %s failed: %s", request.method, request.path, type(exc).__name__, exc_info=exc
    )
    return error_page(500, "Systemet kunne ikke behandle forespørgslen.")


def install(app: Flask) -> None:
    guard.install(app)
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    app.register_error_handler(BadQuery, _bad_query)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.teardown_appcontext(close_connection)
