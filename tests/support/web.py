"""Talking to the mock finance system without a browser: the Flask test client, or real HTTP.

Pages are read with the robots' own reader (:mod:`paybot.erp.mockerp.screens`), so a test that
passes here reads the pages the way the robots will.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

import lxml.html
from flask.testing import FlaskClient

from paybot.erp.mockerp import screens


def read(html: str | bytes) -> screens.Page:
    text = html.decode("utf-8") if isinstance(html, bytes) else html
    return screens.read_page(text)


def csrf_in(html: str | bytes, form_id: str | None = None) -> str:
    """The CSRF token of a form on the page (the first form when no id is given)."""
    doc = lxml.html.document_fromstring(html)
    path = "//input[@name='csrf_token']/@value"
    if form_id:
        path = f"//form[@id='{form_id}']{path[1:]}"
    result = doc.xpath(path)
    found = result if isinstance(result, list) else []
    if not found:
        raise AssertionError(f"no csrf_token in form {form_id or '(any)'} on the page")
    return str(found[0])


# --- the Flask test client -----------------------------------------------------------------


def login(client: FlaskClient, username: str, password: str, next_path: str = "") -> Any:
    """Log in as a browser would (GET the form, POST it); returns the POST's response."""
    page = client.get("/login")
    token = csrf_in(page.data, "login-form")
    return client.post(
        "/login",
        data={
            "brugernavn": username,
            "adgangskode": password,
            "csrf_token": token,
            "next": next_path,
        },
    )


def session_csrf(client: FlaskClient) -> str:
    """The logged-in session's CSRF token, read from the logout form on a page."""
    return csrf_in(client.get("/kontoplan").data, "logout-form")


def approve_form(
    csrf: str,
    *,
    account: str = "6.45.51-000-2.2",
    amount: str = "1.250,00",
    text: str = "Kontorland fakt. 1",
    date: str,
) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "kontostreng": account,
        "beloeb": amount,
        "posteringstekst": text,
        "betalingsdato": date,
    }


# --- real HTTP -----------------------------------------------------------------------------


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def page(self) -> screens.Page:
        return read(self.body)


@dataclass
class HttpClient:
    """A minimal browser over ``http.client``: keeps cookies, follows redirects if asked."""

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 20.0

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        *,
        follow: bool = True,
    ) -> HttpResult:
        parts = urlsplit(self.base_url)
        for _ in range(10):
            conn = http.client.HTTPConnection(
                parts.hostname or "", parts.port, timeout=self.timeout
            )
            headers = {}
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body = None
            if form is not None:
                body = urlencode(form).encode("utf-8")
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                got = {k.lower(): v for k, v in response.getheaders()}
                for raw in response.headers.get_all("Set-Cookie") or []:
                    cookie = SimpleCookie()
                    cookie.load(raw)
                    for name, morsel in cookie.items():
                        if morsel["max-age"] == "0" or morsel.value == "":
                            self.cookies.pop(name, None)
                        else:
                            self.cookies[name] = morsel.value
            finally:
                conn.close()
            result = HttpResult(response.status, got, data)
            if follow and response.status in (301, 302, 303, 307, 308):
                path = got["location"]
                if path.startswith("http"):
                    path = urlsplit(path)._replace(scheme="", netloc="").geturl()
                method, form = "GET", None
                continue
            return result
        raise AssertionError(f"{self.base_url}{path}: too many redirects")

    def get(self, path: str, *, follow: bool = True) -> HttpResult:
        return self.request("GET", path, follow=follow)

    def post(self, path: str, form: dict[str, str], *, follow: bool = True) -> HttpResult:
        return self.request("POST", path, form, follow=follow)

    def login(self, username: str, password: str) -> HttpResult:
        token = csrf_in(self.get("/login").body, "login-form")
        return self.post(
            "/login",
            {"brugernavn": username, "adgangskode": password, "csrf_token": token, "next": ""},
        )

    def csrf(self) -> str:
        return csrf_in(self.get("/kontoplan").body, "logout-form")
