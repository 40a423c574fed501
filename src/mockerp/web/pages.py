"""Helpers every screen uses: rendering, error pages, messages, paging, query parameters."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Response, g, make_response, render_template, request

from mockerp.auth import Session
from mockerp.web.state import state

PER_PAGE = 25

ERROR_TITLES = {
    400: "Ugyldig forespørgsel",
    403: "Adgang nægtet",
    404: "Siden findes ikke",
    405: "Handlingen er ikke tilladt",
    500: "Der opstod en fejl",
}


class BadQuery(Exception):
    """A query parameter with a value the screen cannot use; the message names it."""


def session() -> Session | None:
    found: Session | None = g.get("session")
    return found


def user_session() -> Session:
    """The logged-in session (the guard has made sure there is one)."""
    found = session()
    if found is None:  # pragma: no cover - the guard redirects first
        raise RuntimeError(f"{request.path}: no session on a page that needs one")
    return found


def note(message: str) -> None:
    """A message (``#besked``) for the next page this session opens."""
    s = session()
    if s is not None:
        state().notes.put(s.token_hash, "besked", message)


def render(template: str, *, status: int = 200, **context: Any) -> Response:
    s = session()
    if "besked" not in context and s is not None:
        context["besked"] = state().notes.take(s.token_hash, "besked")
    context.setdefault("fejlbesked", None)
    context.setdefault("besked", None)
    response = make_response(render_template(template, session=s, **context), status)
    return response


def error_page(code: int, message: str = "") -> Response:
    return render(
        "fejl.html",
        status=code,
        kode=code,
        titel=ERROR_TITLES.get(code, "Der opstod en fejl"),
        tekst=message,
    )


def see_other(location: str) -> Response:
    """A 303 redirect: after a POST the browser fetches the result with GET."""
    return Response(status=303, headers={"Location": location})


_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\s]*$")


def is_local_path(path: str) -> bool:
    """A path on this server (``/faktura/7?x=1``), never ``//host`` or ``http://…``."""
    return bool(_LOCAL_PATH.match(path))


def current_path() -> str:
    """The path and query string asked for, e.g. ``/indbakke?side=2``."""
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def text_arg(name: str) -> str:
    return request.args.get(name, "").strip()


def choice_arg(name: str, allowed: set[str] | dict[str, str]) -> str:
    value = text_arg(name)
    if value and value not in allowed:
        raise BadQuery(f"{name}={value!r} er ikke en gyldig værdi.")
    return value


def int_arg(name: str, *, minimum: int = 1) -> int | None:
    value = text_arg(name)
    if not value:
        return None
    if not value.isdigit() or int(value) < minimum:
        raise BadQuery(f"{name}={value!r} skal være et helt tal fra {minimum} og op.")
    return int(value)


@dataclass(frozen=True)
class Pager:
    side: int
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def offset(self) -> int:
        return (self.side - 1) * self.per_page

    @property
    def has_next(self) -> bool:
        return self.side < self.pages

    @property
    def has_prev(self) -> bool:
        return self.side > 1

    def link(self, side: int, params: dict[str, object]) -> str:
        return f"{request.path}?{query_string({**params, 'side': side})}"


def query_string(params: dict[str, object]) -> str:
    """``{'kategori': 'tolk', 'status': ''}`` → ``'kategori=tolk'`` (empty values left out)."""
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})
