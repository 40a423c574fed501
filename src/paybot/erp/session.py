"""The robot's hands and eyes in the finance system: one logged-in browser session.

Built for speed from the start: a page is fetched once and read from its source in Python
(:mod:`paybot.erp.screens`); after a click the robot waits for the *condition* (the old page
is gone and the new one has loaded), never for a fixed time. Every page opened, value typed,
button clicked and voucher read goes to the audit trail.

Failures are sorted here: the login page instead of the expected one is
:class:`~paybot.errors.SessionExpired`; the error page is an
:class:`~paybot.errors.ApplicationError`; a screen without an element the robot relies on is
:class:`~paybot.errors.ScreenChanged`; a refusal that a person must look at is a
:class:`~paybot.errors.BusinessError`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import urllib3.exceptions
from selenium.common.exceptions import (
    InvalidSessionIdException,
    NoSuchWindowException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from paybot.audit.events import Event
from paybot.domain.models import ErpStatus, RawInvoice
from paybot.domain.reasons import Reason
from paybot.domain.values import erp_status
from paybot.erp import locators as loc
from paybot.erp import screens
from paybot.erp.browser import Browser
from paybot.errors import (
    ApplicationError,
    BrowserFailed,
    BusinessError,
    NetworkError,
    ScreenChanged,
    SessionExpired,
)
from paybot.exit_codes import EXIT_PREFLIGHT

POLL_SECONDS = 0.02
PROBE_SECONDS = 5.0
"""How long a browser that timed out gets to answer ``return 1`` before it counts as hung."""
SCRIPT_TIMEOUT_SECONDS = 30.0

DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    WebDriverException,
    urllib3.exceptions.HTTPError,  # chromedriver is gone or does not answer
    http.client.HTTPException,
    OSError,
)
"""What a call through the WebDriver raises when the page, the browser or the driver fails."""

# chromedriver's words for a browser that crashed, was killed or lost its tab.
_BROWSER_GONE = (
    "invalid session id",
    "chrome not reachable",
    "disconnected",
    "session deleted",
    "tab crashed",
    "target crashed",
    "page crash",
    "no such window",
    "target window already closed",
    "unable to receive message from renderer",
    "cannot connect to chrome",
    "not connected to devtools",
    "browser has closed",
)
_RENDERER_TIMEOUT = "timed out receiving message from renderer"
_NET_ERROR = re.compile(r"(?:net::)?ERR_[A-Z_]+")


def why(exc: BaseException) -> str:
    """The driver's message without Selenium's stack trace."""
    if isinstance(exc, WebDriverException):
        return (exc.msg or type(exc).__name__).splitlines()[0]
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class AuditSink(Protocol):
    """Where the session writes what it reads, types and clicks (an
    :class:`~paybot.audit.AuditLogger`)."""

    def event(self, event: Event, *, durable: bool = False, **fields: Any) -> None:
        """Append one record of ``event`` with ``fields`` (masked by the trail).

        Returns: nothing; with ``durable`` only once the record is on disk.
        Raises: :class:`~paybot.audit.chain.AuditTrailError` when the trail cannot be
        written.
        Repeat: not idempotent: each call appends a record.
        """
        ...


class Secret(Protocol):
    """The finance system's password (pydantic's ``SecretStr`` provides it)."""

    def get_secret_value(self) -> str:
        """Returns: the secret in clear text, never to be logged. Raises: nothing. Repeat:
        safe."""
        ...


class LoginRefused(ApplicationError):
    """Wrong user name or password, or the account is locked: retrying will not help
    (``retryable`` is false: neither the preflight nor the worker tries again). Exit 3."""

    retryable = False
    exit_code = EXIT_PREFLIGHT


class AlreadyHandled(ApplicationError):
    """The finance system says the invoice is already paid or with a person."""


# Refusals of the approval form that a person must look at, by the words of the message.
_REFUSAL_REASONS: tuple[tuple[str, Reason], ...] = (
    ("kontostreng", Reason.ACCOUNT_STRING),
    ("beløbet afviger", Reason.AMOUNT),
    ("kreditnota", Reason.CREDIT_NOTE),
)

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


def danish_amount(amount: Decimal) -> str:
    """``Decimal('1019.48')`` → ``'1019,48'``: how a clerk types an amount."""
    return f"{amount.quantize(Decimal('0.01')):f}".replace(".", ",")


class ErpSession:
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

    def _answers(self) -> bool:
        """Whether the browser still runs a script: after a timeout, tells a hung renderer
        (no answer within :data:`PROBE_SECONDS`) from a slow finance system."""
        try:
            self.driver.set_script_timeout(PROBE_SECONDS)
            self.driver.execute_script("return 1")
        except DRIVER_ERRORS:
            return False
        finally:
            with contextlib.suppress(*DRIVER_ERRORS):
                self.driver.set_script_timeout(SCRIPT_TIMEOUT_SECONDS)
        return True

    def _failed(self, exc: BaseException, what: str) -> ApplicationError:
        """The error for a failed WebDriver call: :class:`BrowserFailed` when the browser or
        chromedriver is dead or hung, :class:`NetworkError` when the finance system could not
        be reached, else an :class:`ApplicationError` of the finance system's page."""
        text = why(exc)
        lowered = text.lower()
        message = f"{self.current_path}: {what}: {text}"
        if not isinstance(exc, WebDriverException) or isinstance(
            exc, InvalidSessionIdException | NoSuchWindowException
        ):
            return BrowserFailed(f"{message} (the browser is gone)")
        if any(words in lowered for words in _BROWSER_GONE):
            return BrowserFailed(f"{message} (the browser is gone)")
        if "net::err_" in lowered:
            return NetworkError(f"{message} (the finance system could not be reached)")
        if _RENDERER_TIMEOUT in lowered and not self._answers():
            return BrowserFailed(f"{message} (the browser stopped answering)")
        return ApplicationError(message)

    def restart_browser(self) -> None:
        """Replace a dead or hung browser with a new one: its processes are ended first (no
        goodbye to a browser that may hang). The new one is not logged in yet: the caller logs
        in. Raises :class:`BrowserFailed` when there is no way to open one."""
        if self.reopen is None:
            raise BrowserFailed("the browser failed and this session cannot open a new one")
        self.browser.kill()
        self.browser.close()  # an unmarked browser: ask chromedriver to end it
        self.page = None
        self.current_path = ""
        self.browser = self.reopen()
        self.driver = self.browser.driver

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
        code = next((c.strip() for c in codes if _NET_ERROR.search(c)), "")
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

    # --- login -----------------------------------------------------------------------------

    def login(self) -> None:
        self.open(loc.LOGIN, loc.SCREEN_LOGIN)
        self._type(loc.LOGIN_USER, "brugernavn", self.username)
        self._fill(loc.LOGIN_PASSWORD, self._password.get_secret_value())
        self.audit.event(Event.VALUE_TYPED, field="adgangskode", value="[secret]")
        self.audit.event(Event.BUTTON_CLICKED, button="log-ind")
        page = self._click_and_wait(loc.LOGIN_BUTTON, "the login to finish")
        if page.screen == loc.SCREEN_LOGIN:
            why = page.error or "no reason given"
            raise LoginRefused(f"{self.base_url}: login as {self.username!r} refused: {why}")
        if page.screen == loc.SCREEN_ERROR:
            code = page.text("fejlkode") or "?"
            raise ApplicationError(f"{self.base_url}: an error page ({code}) after logging in")
        self.page = page
        self.audit.event(Event.LOGIN, user=self.username, screen=page.screen)

    # --- reading -----------------------------------------------------------------------------

    def inbox_page(self, category: str, after: int) -> screens.ListPage:
        """The page of the inbox category (all statuses) after Løbenr ``after``: paged by
        Løbenr (keyset), so every page costs the same however far in it is."""
        page = self.open(loc.INBOX, loc.SCREEN_INBOX, {"kategori": category, "after": after})
        return screens.read_list(page, loc.INBOX_TABLE_ID, loc.INBOX_ROW_CLASS)

    def list_all(
        self,
        path: str,
        expect: str,
        table_id: str,
        row_class: str,
        query: dict[str, object] | None = None,
    ) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []
        side = 1
        while True:
            page = self.open(path, expect, {**(query or {}), "side": side})
            listing = screens.read_list(page, table_id, row_class)
            rows.extend(listing.rows)
            if not listing.has_next:
                return rows
            side += 1

    def read_invoice(self, erp_id: int) -> RawInvoice:
        """Open the invoice and read everything on it (one page load, one read)."""
        page = self.open(loc.INVOICE.format(erp_id=erp_id), loc.SCREEN_INVOICE)
        raw = screens.read_invoice(page)
        shown = raw.get("loebenr")
        if shown != str(erp_id):
            raise ScreenChanged(f"{self.current_path}: shows Løbenr {shown!r}, expected {erp_id}")
        return raw

    def active_accounts(self) -> frozenset[str]:
        rows = self.list_all(loc.CHART, loc.SCREEN_CHART, loc.CHART_TABLE_ID, "")
        return frozenset(r["kontostreng"] for r in rows if r.get("aktiv", "").lower() == "ja")

    def payment_for(self, erp_id: int) -> dict[str, str] | None:
        """The payment of an invoice as Betalinger shows it, or None."""
        page = self.open(loc.PAYMENTS, loc.SCREEN_PAYMENTS, {"loebenr": erp_id})
        for row in screens.table_rows(page, loc.PAYMENTS_TABLE_ID, loc.PAYMENTS_ROW_CLASS):
            if row.get("loebenr") == str(erp_id):
                return row
        return None

    # --- acting ------------------------------------------------------------------------------

    def _on_invoice(self, erp_id: int) -> None:
        """Be on the invoice's page; an invoice that is no longer new has no forms."""
        page = self.page
        if (
            page is None
            or page.screen != loc.SCREEN_INVOICE
            or page.text("felt-loebenr") != str(erp_id)
        ):
            page = self.open(loc.INVOICE.format(erp_id=erp_id), loc.SCREEN_INVOICE)
        status = page.text("felt-status")
        if erp_status(status) is not ErpStatus.NEW:
            raise AlreadyHandled(f"Løbenr {erp_id}: status is {status!r}, not Ny")

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

    def approve(
        self,
        erp_id: int,
        *,
        account_string: str,
        amount: Decimal,
        posting_text: str,
        payment_date: dt.date,
    ) -> str:
        """Fill in the approval form, click "Godkend og betal" and return the voucher number."""
        self._on_invoice(erp_id)
        self._fill_form(
            [
                (loc.APPROVE_ACCOUNT, "kontostreng", account_string),
                (loc.APPROVE_AMOUNT, "beloeb", danish_amount(amount)),
                (loc.APPROVE_TEXT, "posteringstekst", posting_text),
                (loc.APPROVE_DATE, "betalingsdato", payment_date.strftime("%d-%m-%Y")),
            ]
        )
        # Not fsynced: the ledger already holds the intent durably (the record recovery uses).
        self.audit.event(Event.BUTTON_CLICKED, button="godkend-betal")
        page = self._click_and_wait(loc.APPROVE_BUTTON, "the payment receipt")
        self.page = page
        if page.screen == loc.SCREEN_RECEIPT:
            voucher = screens.read_voucher(page)
            shown = page.text(loc.RECEIPT_LOEBENR_ID)
            if not voucher or shown != str(erp_id):
                raise ScreenChanged(
                    f"{self.current_path}: receipt for Løbenr {shown!r} without a voucher"
                )
            self.audit.event(Event.VOUCHER_READ, voucher=voucher, durable=True)
            return voucher
        if page.screen == loc.SCREEN_INVOICE and page.error:
            self._refused(erp_id, page.error)
        self._check(page, loc.SCREEN_RECEIPT)
        raise ScreenChanged(f"{self.current_path}: no receipt after approval")

    def _refused(self, erp_id: int, message: str) -> None:
        lowered = message.lower()
        if (
            "allerede betalt" in lowered
            or "manuel behandling" in lowered
            or "ikke længere ny" in lowered
        ):
            raise AlreadyHandled(f"Løbenr {erp_id}: {message}")
        for words, reason in _REFUSAL_REASONS:
            if words in lowered:
                raise BusinessError(
                    reason, f"Løbenr {erp_id}: the finance system refused: {message}"
                )
        raise ApplicationError(f"Løbenr {erp_id}: the finance system refused: {message}")

    def send_to_manual(self, erp_id: int, *, reason: Reason, note: str) -> None:
        self._on_invoice(erp_id)
        self._fill_form(
            [(loc.MANUAL_REASON, "aarsagskode", reason), (loc.MANUAL_NOTE, "bemaerkning", note)]
        )
        self.audit.event(Event.BUTTON_CLICKED, button="send-manuel")
        page = self._click_and_wait(loc.MANUAL_BUTTON, "the invoice after manual handling")
        self.page = page
        if page.screen == loc.SCREEN_INVOICE and page.error:
            self._refused(erp_id, page.error)
        self._check(page, loc.SCREEN_INVOICE)
        status = page.text("felt-status")
        if "manuel" not in status.lower():
            raise ApplicationError(
                f"Løbenr {erp_id}: still {status!r} after sending to manual handling"
            )

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
