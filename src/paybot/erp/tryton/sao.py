"""Driving sao, Tryton's web client (a single-page application), through Selenium.

What a clerk does with the mouse, the robot does with the same elements, found by what stays
put between releases (docs/adding-a-finance-system.md, "Finding stable locators"):

- form fields and model buttons by their ``name=`` attribute (the field or button name of
  Tryton's model: ``reference``, ``comment``, ``post``, ``pay``);
- toolbar buttons by their ``id`` (``button#save``);
- tabs, wizard buttons and dialog buttons by their label, in the robot user's pinned language
  (English: Tryton has no Danish translation of these modules);
- a record by its address: ``#<database>/model/account.invoice/<id>`` opens its form, as a
  bookmark does.

Waiting (a single-page application never "loads" a page): after every click the robot waits
for the *expected result* (the form shows the invoice asked for, the state field says
"Posted", the wizard's dialog is there), never for quiet: ``jQuery.active === 0`` says no
request is in flight, but a confirmation dialog fades in after that.

Reading lists and records the forms do not show goes through Tryton's own JSON-RPC, called
from inside the page with sao's ``Sao.rpc`` and the robot's own session: the same user, the
same access rights and rules as the screens; nothing the robot's user could not read in sao.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from selenium.common.exceptions import (
    ElementNotInteractableException,
    InvalidElementStateException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from paybot.erp.browser import Browser
from paybot.erp.driver_errors import DRIVER_ERRORS, answers, driver_failure
from paybot.errors import ApplicationError, LoginRefused, ScreenChanged, SessionExpired

TABS_CLOSE_SECONDS = 5.0
"""How long to wait for sao's open tabs to close before a fresh page is the quicker way."""

POLL_SECONDS = 0.05

_RPC_SCRIPT = r"""
const done = arguments[arguments.length - 1];
const session = window.Sao && Sao.Session && Sao.Session.current_session;
if (!session || !session.user_id) { done({expired: true}); return; }
Sao.rpc({method: arguments[0], params: arguments[1]}, session, true, false).then(
  (r) => done({ok: JSON.stringify(Sao.rpc.prepareObject(r))}),
  (e) => done({error: JSON.stringify(e)}));
"""

_LOGGED_IN = (
    "return !!(window.Sao && Sao.Session && Sao.Session.current_session"
    " && Sao.Session.current_session.user_id)"
)

_CURRENT_RECORD = r"""
const tab = window.Sao && Sao.Tab && Sao.Tab.tabs && Sao.Tab.tabs.get_current();
const screen = tab && tab.screen;
const record = screen && screen.current_record;
if (!record || screen.current_view.view_type !== 'form') { return null; }
const shown = [...document.querySelectorAll('#tabcontent [name=reference]')].some(
  (el) => el.offsetParent !== null);
if (!shown) { return null; }
return [screen.model_name, record.id];
"""

_MASK_SCRIPT = r"""
const cpr = /\b(\d{6})-?\d{4}\b/g;
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let node;
while ((node = walker.nextNode())) {
  if (cpr.test(node.nodeValue)) { node.nodeValue = node.nodeValue.replace(cpr, '$1-****'); }
}
for (const el of document.querySelectorAll('input, textarea')) {
  if (cpr.test(el.value)) { el.value = el.value.replace(cpr, '$1-****'); }
}
"""


def decode(value: Any) -> Any:
    """Tryton's JSON classes (``{"__class__": "Decimal", ...}``) as Python values."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        kind = value.get("__class__")
        if kind == "Decimal":
            return Decimal(str(value["decimal"]))
        if kind == "date":
            return dt.date(value["year"], value["month"], value["day"])
        if kind == "datetime":
            return dt.datetime(
                value["year"],
                value["month"],
                value["day"],
                value.get("hour", 0),
                value.get("minute", 0),
                value.get("second", 0),
                tzinfo=dt.UTC,
            )
        if kind == "bytes":
            return base64.b64decode(value["base64"])
        return {k: decode(v) for k, v in value.items()}
    return value


class RpcError(ApplicationError):
    """Tryton answered a call with an error (``UserError``: a refusal it explains)."""

    def __init__(self, method: str, error: Any) -> None:
        self.error = error
        text = error
        if isinstance(error, list) and len(error) > 1:
            detail = error[1]
            text = f"{error[0]}: {detail[0] if isinstance(detail, list) and detail else detail}"
        super().__init__(f"{method}: Tryton answered {text}")

    @property
    def user_error(self) -> bool:
        return (
            isinstance(self.error, list)
            and bool(self.error)
            and self.error[0]
            in {
                "UserError",
                "UserWarning",
            }
        )


class Sao:
    """One browser logged in to one Tryton database through sao."""

    def __init__(
        self, browser: Browser, base_url: str, database: str, *, timeout: float = 15.0
    ) -> None:
        self.browser = browser
        self.driver = browser.driver
        self.base_url = base_url.split("#", 1)[0].rstrip("/") + "/"
        self.database = database
        self.timeout = timeout
        self.where = ""

    # --- failures -------------------------------------------------------------------------

    def failed(self, exc: BaseException, what: str) -> ApplicationError:
        return driver_failure(exc, f"{self.where or 'sao'}: {what}", lambda: answers(self.driver))

    def wait(self, condition: Callable[[], object], what: str, timeout: float | None = None) -> Any:
        """Poll ``condition`` until it returns something true; that is returned."""
        try:
            return WebDriverWait(
                self.driver, timeout or self.timeout, poll_frequency=POLL_SECONDS
            ).until(lambda _: condition())
        except TimeoutException as exc:
            if exc.msg:
                raise self.failed(exc, f"while waiting for {what}") from exc
            raise ApplicationError(
                f"{self.where or 'sao'}: waited {timeout or self.timeout:g} s for {what}"
            ) from exc
        except DRIVER_ERRORS as exc:
            raise self.failed(exc, f"while waiting for {what}") from exc

    def script(self, source: str, *args: Any) -> Any:
        try:
            return self.driver.execute_script(source, *args)
        except DRIVER_ERRORS as exc:
            raise self.failed(exc, "a script in the page failed") from exc

    # --- elements -------------------------------------------------------------------------

    def visible(self, css: str) -> list[WebElement]:
        try:
            return [e for e in self.driver.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        except WebDriverException:
            return []  # the element went stale while sao redrew: the caller polls again

    def by_label(self, css: str, label: str) -> WebElement | None:
        """The visible element matching ``css`` whose text (or title) is ``label``."""
        for el in self.visible(css):
            with contextlib.suppress(WebDriverException):
                text = " ".join(el.text.split()) or (el.get_attribute("title") or "")
                if text.casefold() == label.casefold():
                    return el
        return None

    def click(self, el: WebElement, what: str) -> None:
        try:
            self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
            el.click()
        except DRIVER_ERRORS as exc:
            raise self.failed(exc, f"could not click {what}") from exc

    def click_when_ready(self, find: Callable[[], WebElement | None], what: str) -> None:
        """Find and click, again until the click lands: sao redraws a form after every
        answer, so a button found a moment ago may be covered or replaced."""

        def clicked() -> bool:
            el = find()
            if el is None:
                return False
            try:
                self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
                el.click()
            except (ElementNotInteractableException, StaleElementReferenceException):
                return False
            except DRIVER_ERRORS as exc:
                raise self.failed(exc, f"could not click {what}") from exc
            return True

        self.wait(clicked, what)

    def type_into(self, el: WebElement, text: str, what: str, *, tab: bool = False) -> None:
        """Clear the field and type ``text``, again until the field takes it (a field that
        sao is still drawing refuses keys: "invalid element state")."""

        def typed() -> bool:
            try:
                el.clear()
                el.send_keys(text + (Keys.TAB if tab else ""))
            except (ElementNotInteractableException, InvalidElementStateException):
                return False
            except DRIVER_ERRORS as exc:
                raise self.failed(exc, f"could not type into {what}") from exc
            return True

        self.wait(typed, f"{what} to take the text")

    # --- session ------------------------------------------------------------------------

    def logged_in(self) -> bool:
        return bool(self.script(_LOGGED_IN))

    def login(self, username: str, password: str) -> None:
        """The login dialog (user name), then the password dialog; waits until sao has a
        session. Raises :class:`LoginRefused` when the password dialog comes back."""
        self.where = "login"
        try:
            # A whole new page, never only a new #fragment (which loads nothing): a sao whose
            # tabs would not close (a form left half-edited, a dialog over it) is left behind,
            # so the attempt after a re-login starts clean.
            self.driver.get("about:blank")
            self.driver.get(f"{self.base_url}#{self.database}")
        except DRIVER_ERRORS as exc:
            raise self.failed(exc, "could not load sao") from exc
        field = self.wait(lambda: self.visible("input#login"), "the login dialog")[0]
        self.type_into(field, username, "the login field")
        self.click(self.wait(lambda: self.visible("button[type=submit]"), "Login")[0], "Login")
        secret = self.wait(lambda: self.visible("input[type=password]"), "the password dialog")
        self.type_into(secret[0], password, "the password field")
        ok = self.wait(lambda: self.by_label(".modal.in button", "OK"), "OK")
        self.click(ok, "OK")

        def answered() -> str:
            if self.logged_in():
                return "in"
            again = self.visible("input[type=password]")
            if again and not again[0].get_attribute("value"):
                return "refused"
            return ""

        if self.wait(answered, "the login to finish") == "refused":
            raise LoginRefused(f"{self.base_url}: login as {username!r} refused")
        # The menu loads after the session: wait for it, so a click never lands on a
        # half-built page.
        self.wait(lambda: self.visible("#menu .treeview, #menu [role=tree], #menu li"), "the menu")

    # --- JSON-RPC through sao ---------------------------------------------------------------

    def rpc(self, method: str, *params: Any) -> Any:
        """``Sao.rpc`` with the robot's own session; the answer decoded. Raises
        :class:`SessionExpired` when sao has no session, :class:`RpcError` for Tryton's
        error."""
        try:
            self.driver.set_script_timeout(self.timeout)
            answer = self.driver.execute_async_script(_RPC_SCRIPT, method, [*params, {}])
        except DRIVER_ERRORS as exc:
            raise self.failed(exc, f"{method} did not answer") from exc
        if not isinstance(answer, dict) or answer.get("expired"):
            raise SessionExpired(f"{self.base_url}: sao has no session (logged out)")
        if "error" in answer:
            raise RpcError(method, json.loads(answer["error"] or "null"))
        return decode(json.loads(answer["ok"]))

    # --- records ----------------------------------------------------------------------------

    def open_record(self, model: str, record_id: int) -> None:
        """The record's form, opened by its address (as a bookmark does); waits until the form
        shows that record."""
        self.where = f"#{self.database}/model/{model}/{record_id}"
        # A fresh form every time: the open tabs are closed first (a tab kept from an earlier
        # look would show the record as it was then), and the address is set anew.
        self.script(
            f"Sao.Tab.tabs.close(false); window.location.hash = {json.dumps('#' + self.database)};"
        )
        try:
            self.wait(
                lambda: not self.script("return Sao.Tab.tabs.length"),
                "the tabs to close",
                timeout=min(TABS_CLOSE_SECONDS, self.timeout),
            )
        except ApplicationError as stuck:
            # A tab that will not close (a form sao still holds as changed after the Pay
            # wizard, a dialog over it) is not worth waiting for: a new login loads a whole
            # new page (see login), and the worker retries the invoice after it.
            raise SessionExpired(f"{self.where}: sao's tabs would not close ({stuck})") from stuck
        self.script(f"window.location.hash = {json.dumps(self.where)}")
        want = [model, record_id]
        self.wait(lambda: self.script(_CURRENT_RECORD) == want, f"the form of {model} {record_id}")

    def field(self, name: str) -> WebElement | None:
        found = self.visible(f"#tabcontent .tab-pane.active [name={name}], [name={name}]")
        return found[0] if found else None

    def field_text(self, name: str) -> str:
        """What a form field shows: a select's chosen option, an input's value, else text."""
        el = self.field(name)
        if el is None:
            return ""
        try:
            if el.tag_name == "select":
                return str(
                    self.script(
                        "const s = arguments[0]; const o = s.options[s.selectedIndex];"
                        " return o ? o.text : '';",
                        el,
                    )
                    or ""
                )
            if el.tag_name in {"input", "textarea"}:
                return str(el.get_attribute("value") or "")
            return " ".join(el.text.split())
        except DRIVER_ERRORS as exc:
            raise self.failed(exc, f"could not read the field {name}") from exc

    def button(self, name: str) -> WebElement | None:
        """A model button of the form (``post``, ``pay``), when shown and enabled."""
        for el in self.visible(f"button[name={name}]"):
            with contextlib.suppress(WebDriverException):
                if el.is_enabled():
                    return el
        return None

    def choose(self, find: Callable[[], WebElement | None], label: str, what: str) -> None:
        """An option of a select by its label, once sao has filled the options in (they come
        in an answer after the dialog shows); waits until it is the chosen one. A select
        that never offers ``label`` is a changed screen."""

        def chosen() -> bool:
            el = find()
            if el is None:
                return False
            try:
                select = Select(el)
                if select.first_selected_option.text.strip() == label:
                    return True
                select.select_by_visible_text(label)
            except (NoSuchElementException, StaleElementReferenceException):
                return False
            except DRIVER_ERRORS as exc:
                raise self.failed(exc, f"could not choose {label!r} in {what}") from exc
            return False

        try:
            self.wait(chosen, f"{what} {label!r}")
        except ApplicationError as exc:
            raise ScreenChanged(f"{self.where}: {what} offers no {label!r}: {exc}") from exc

    def tab(self, label: str) -> None:
        """A notebook page of the form, by its label."""
        el = self.wait(lambda: self.by_label(".nav-tabs a, [role=tab]", label), f"the tab {label}")
        self.click(el, f"the tab {label}")

    def save(self) -> None:
        """The toolbar's save button (``button#save``); waits until the record is saved (the
        button is disabled again)."""
        el = self.wait(lambda: self.visible("button#save"), "the save button")[0]
        self.click(el, "save")
        self.wait(lambda: not self.visible("button#save:not([disabled])"), "the record to be saved")

    def dialog_button(self, label: str) -> WebElement | None:
        return self.by_label(".modal.in .modal-footer button", label)

    def screenshot(self, path: str) -> bool:
        try:
            self.driver.execute_script(_MASK_SCRIPT)
            self.driver.save_screenshot(path)
        except DRIVER_ERRORS:
            return False
        return True
