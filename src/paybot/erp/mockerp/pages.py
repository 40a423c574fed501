"""The mock finance system's pages in a browser: open, read, type, click, wait.

The mechanics under :class:`paybot.erp.mockerp.session.MockErpSession`, built for speed: a
page is fetched once and read from its source in Python (:mod:`paybot.erp.mockerp.screens`);
after a click the robot waits for the *condition* (the old page is gone and the new one has
loaded), never for a fixed time. Every page opened, value typed and button clicked goes to the
audit trail.

Failures are sorted here: the login page instead of the expected one is
:class:`~paybot.errors.SessionExpired`; the error page is an
:class:`~paybot.errors.ApplicationError`; a screen without an element the robot relies on is
:class:`~paybot.errors.ScreenChanged`; Chromium's own error page is a
:class:`~paybot.errors.NetworkError`; a dead or hung browser is
:class:`~paybot.errors.BrowserFailed` (:mod:`paybot.erp.driver_errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from paybot.audit.events import Event
from paybot.erp.browser import Browser
from paybot.erp.driver_errors import DRIVER_ERRORS, NET_ERROR, answers, driver_failure
from paybot.erp.mockerp import locators as loc
from paybot.erp.mockerp import screens
from paybot.erp.port import AuditSink
from paybot.errors import (
    ApplicationError,
    BrowserFailed,
    NetworkError,
    ScreenChanged,
    SessionExpired,
)

POLL_SECONDS = 0.02


class Secret(Protocol):
    """The finance system's password (pydantic's ``SecretStr`` provides it)."""

    def get_secret_value(self) -> str:
        """Returns: the secret in clear text, never to be logged. Raises: nothing. Repeat:
        safe."""
        ...


# Blanks personal data in the page before a screenshot (the page is reloaded afterwards).
_MASK_SCRIPT = r"""
const selectors = arguments[0];
for (const sel of selectors) {
  for (const el of document.querySelectorAll(sel)) {
    if ('value' in el && el.tagName !== 'DD' && el.tagName !== 'TD') { el.value = '••••'; }
    el.textContent = '••••';
  }
}
const cpr = /\b(\d{6})-?\d{4}\b/g;
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let node;
while ((node = walker.nextNode())) {
  if (cpr.test(node.nodeValue)) { node.nodeValue = node.nodeValue.replace(cpr, '$1-****'); }
}
"""


# Sets a form's fields the way a paste does (value, then the input and change events a page
# listens for) and returns what each field holds afterwards, in one round trip. Typing key by
# key through chromedriver costs about 4 ms a character: 0.6 s for one caseworker note.
_FILL_SCRIPT = r"""
const values = arguments[0];
const out = {};
for (const [id, value] of Object.entries(values)) {
  const el = document.getElementById(id);
  if (!el || el.disabled || el.readOnly) { out[id] = null; continue; }
  el.focus();
  el.value = value;
  el.dispatchEvent(new Event('input', {bubbles: true}));
  el.dispatchEvent(new Event('change', {bubbles: true}));
  out[id] = el.value;
}
return out;
"""


class MockErpPages:
    """One browser on the mock finance system at ``base_url``: its pages, not yet its
    operations (those are :class:`~paybot.erp.mockerp.session.MockErpSession`'s)."""

    def __init__(
        self,
        browser: Browser,
        base_url: str,
        username: str,
        password: Secret,
        audit: AuditSink,
        *,
        timeout: float = 15.0,
        reopen: Callable[[], Browser] | None = None,
    ) -> None:
        self.browser = browser
        self.driver = browser.driver
        self.reopen = reopen
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self.audit = audit
        self.timeout = timeout
        self.page: screens.Page | None = None
        self.current_path = ""

    # --- the browser itself -----------------------------------------------------------------

    def _failed(self, exc: BaseException, what: str) -> ApplicationError:
        """The error for a failed WebDriver call (see
        :func:`~paybot.erp.driver_errors.driver_failure`)."""
        return driver_failure(exc, f"{self.current_path}: {what}", lambda: answers(self.driver))

    def restart_browser(self) -> None:
        """Replace a dead or hung browser with a new one: its processes are ended first (no
        goodbye to a browser that may hang). The new one is not logged in yet: the caller logs
        in.

        Raises: :class:`BrowserFailed` when there is no way to open one.
        Repeat: safe.
        """
        if self.reopen is None:
            raise BrowserFailed("the browser failed and this session cannot open a new one")
        self.browser.kill()
        self.browser.close()  # an unmarked browser: ask chromedriver to end it
        self.page = None
        self.current_path = ""
        self.browser = self.reopen()
        self.driver = self.browser.driver

    def close(self) -> None:
        """Quit the browser and end whatever of it is left.

        Raises: nothing.
        Repeat: safe.
        """
        self.page = None
        self.browser.close()

    # --- navigation ------------------------------------------------------------------------

    def _url(self, path: str, query: dict[str, object] | None = None) -> str:
        q = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        return f"{self.base_url}{path}" + (f"?{urlencode(q)}" if q else "")

    def _read(self) -> screens.Page:
        try:
            html = self.driver.page_source
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, "the page could not be read") from exc
        return screens.read_page(html)

    def _wait(self, condition: Callable[[Any], object], what: str) -> None:
        try:
            WebDriverWait(self.driver, self.timeout, poll_frequency=POLL_SECONDS).until(condition)
        except TimeoutException as exc:
            if exc.msg:  # the driver's own timeout, not the wait's
                raise self._failed(exc, f"while waiting for {what}") from exc
            raise ApplicationError(
                f"{self.current_path}: waited {self.timeout:g} s for {what}"
            ) from exc
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, f"while waiting for {what}") from exc

    def _body(self) -> WebElement:
        try:
            return self.driver.find_element("tag name", "body")
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, "page has no body") from exc

    def _element(self, element_id: str) -> WebElement:
        try:
            return self.driver.find_element(By.ID, element_id)
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, f"no element #{element_id}") from exc

    def _click(self, element_id: str) -> None:
        element = self._element(element_id)
        try:
            element.click()
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, f"could not click #{element_id}") from exc

    def _fill(self, element_id: str, value: str) -> None:
        """Clear a text field and type into it, through the WebDriver that rpaframework opened.

        rpaframework's ``input_text`` keyword logs through Robot Framework and costs about
        0.2 s a field, and ``input_password`` needs a running Robot Framework; these two
        WebDriver calls are what a clerk's keystrokes amount to.
        """
        element = self._element(element_id)
        try:
            element.clear()
            element.send_keys(value)
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, f"could not type into #{element_id}") from exc

    def _click_and_wait(self, element_id: str, what: str) -> screens.Page:
        """Click, then wait until the old page is gone and the new one has loaded."""
        old_body = self._body()
        self._click(element_id)

        def loaded(driver: Any) -> bool:
            try:
                old_body.tag_name  # noqa: B018 - raises once the old page is gone
                return False
            except WebDriverException:
                return bool(driver.execute_script("return document.readyState") == "complete")

        self._wait(loaded, what)
        return self._clear_system_message(self._read())

    def _clear_system_message(self, page: screens.Page) -> screens.Page:
        for _ in range(3):
            if page.screen != loc.SCREEN_SYSTEM_MESSAGE:
                return page
            self.audit.event(Event.PAGE_OPENED, screen=page.screen, path=self.current_path)
            self.audit.event(Event.BUTTON_CLICKED, button="systembesked-ok")
            page = self._click_and_wait(loc.SYSTEM_MESSAGE_OK, "the system message to close")
        return page

    def _check(self, page: screens.Page, expect: str) -> screens.Page:
        if page.screen == expect:
            return page
        if page.screen == loc.SCREEN_LOGIN and expect != loc.SCREEN_LOGIN:
            raise SessionExpired(f"{self.current_path}: the finance system asked for a new login")
        if page.screen == loc.SCREEN_ERROR:
            code = page.text("fejlkode") or "?"
            raise ApplicationError(
                f"{self.current_path}: the finance system answered with an error page ({code})"
            )
        if not page.screen:
            self._network_error_page(page)
        raise ScreenChanged(
            f"{self.current_path}: expected the screen '{expect}', got '{page.screen or 'unknown'}'"
        )

    def _network_error_page(self, page: screens.Page) -> None:
        """Chromium shows its own error page (``<body class="neterror">``, the address
        ``chrome-error://``) when the finance system cannot be reached: a
        :class:`NetworkError`, not a changed screen."""
        if not page.doc.xpath("//body[contains(@class, 'neterror')]"):
            return
        codes = [str(t) for t in page.doc.xpath("//*[contains(@class, 'error-code')]//text()")]
        code = next((c.strip() for c in codes if NET_ERROR.search(c)), "")
        raise NetworkError(
            f"{self.current_path}: the finance system could not be reached "
            f"({code or 'Chromium showed its network error page'})"
        )

    def open(self, path: str, expect: str, query: dict[str, object] | None = None) -> screens.Page:
        url = self._url(path, query)
        self.current_path = url[len(self.base_url) :]
        try:
            self.driver.get(url)
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, "could not load the page") from exc
        page = self._check(self._clear_system_message(self._read()), expect)
        self.page = page
        self.audit.event(Event.PAGE_OPENED, screen=page.screen, path=self.current_path)
        return page

    def _type(self, element_id: str, field: str, value: str) -> None:
        self._fill(element_id, value)
        self.audit.event(Event.VALUE_TYPED, field=field, value=value)

    def _fill_form(self, fields: list[tuple[str, str, str]]) -> None:
        """Fill several fields at once: ``(element id, audit name, value)``. Every field must
        exist, be editable and hold exactly the value afterwards."""
        values = {element_id: value for element_id, _, value in fields}
        try:
            shown = self.driver.execute_script(_FILL_SCRIPT, values)
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, "could not fill in the form") from exc
        for element_id, name, value in fields:
            got = shown.get(element_id) if isinstance(shown, dict) else None
            if got is None:
                raise ScreenChanged(f"{self.current_path}: no editable field #{element_id}")
            if got != value:
                raise ApplicationError(
                    f"{self.current_path}: #{element_id} holds {got!r} after typing {value!r}"
                )
            self.audit.event(Event.VALUE_TYPED, field=name, value=value)

    def download(self, path: str, expect: str, link: str, folder: Path, suffix: str) -> Path:
        """Click an export link and wait until the file is completely downloaded."""
        before = set(folder.glob(f"*{suffix}"))
        self.open(path, expect)
        self.audit.event(Event.BUTTON_CLICKED, button=link)
        self._click(link)
        found: list[Path] = []

        def arrived(_: Any) -> bool:
            new = [p for p in folder.glob(f"*{suffix}") if p not in before]
            partial = list(folder.glob("*.crdownload"))
            if new and not partial:
                found.extend(new)
                return True
            return False

        self._wait(arrived, f"the export file from {link}")
        return found[0]

    def screenshot(self, target: Path) -> Path | None:
        """A screenshot with personal data blanked out first; None when the browser is gone."""
        try:
            self.driver.execute_script(_MASK_SCRIPT, list(loc.PERSONAL_DATA_SELECTORS))
            self.driver.save_screenshot(str(target))
        except DRIVER_ERRORS:
            return None
        self.page = None  # the page was altered: open it again before acting on it
        self.audit.event(Event.SCREENSHOT, file=target.name)
        return target
