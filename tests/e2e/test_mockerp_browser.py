"""The mock finance system in a real headless Chromium, driven through RPA.Browser.Selenium,
and the robots' own adapter (``paybot.erp.mockerp.session.MockErpSession``) against it,
unchanged.

With ``PAYBOT_UPDATE_SCREENSHOTS=1`` the first test also saves docs/img/inbox.png and
docs/img/invoice.png.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pydantic import SecretStr

from mockerp.bankdays import next_bank_day
from paybot.erp.browser import Browser, BrowserOptions, open_browser
from paybot.erp.mockerp import screens
from paybot.erp.mockerp.session import MockErpSession
from paybot.errors import AlreadyHandled
from support.clock import danish_today
from support.db import create_user, generated_cpr, insert_invoice, new_database
from support.demo import insert_demo_invoices
from support.mockserver import MockServer, running_mock
from support.web import HttpClient, approve_form

pytestmark = pytest.mark.e2e

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
ROBOT_PASSWORD = "e2e-robot-pw"  # test-only users in a throw-away database
CLERK_PASSWORD = "e2e-clerk-pw"
WAIT = "10s"


def _pay_day() -> dt.date:
    """The first bank day from today as the server (Copenhagen) sees it."""
    return next_bank_day(danish_today())


@dataclass
class Mock:
    server: MockServer
    conn: sqlite3.Connection
    invoices: list[int]


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mock]:
    db_path = tmp_path_factory.mktemp("e2e") / "erp.sqlite"
    conn = new_database(db_path)
    create_user(conn, "robot", ROBOT_PASSWORD, "robot", "Betalingsrobot")
    create_user(conn, "clerk", CLERK_PASSWORD, "clerk", "Sagsbehandler")
    invoices = insert_demo_invoices(conn, 36, seed=4)
    with running_mock(db_path) as server:
        yield Mock(server, conn, invoices)


@pytest.fixture
def browser(mock: Mock) -> Iterator[Browser]:
    opened = open_browser(f"{mock.server.url}/login", BrowserOptions())
    try:
        yield opened
    finally:
        opened.close()


def _new_invoices(mock: Mock, category: str) -> list[int]:
    rows = mock.conn.execute(
        "SELECT id FROM invoices WHERE status = 'ny' AND category = ? ORDER BY id",
        (category,),
    ).fetchall()
    return [r[0] for r in rows]


def _log_in(browser: Browser) -> None:
    """Log in as the robot user. The password goes straight to the element: SeleniumLibrary's
    ``input_password`` needs a running Robot Framework, and its
    ``input_text`` would log the text."""
    lib = browser.lib
    lib.go_to(browser.driver.current_url.split("/login")[0] + "/login")
    lib.input_text("id:brugernavn", "robot")
    browser.driver.find_element("id", "adgangskode").send_keys(ROBOT_PASSWORD)
    lib.click_button("id:log-ind")
    lib.wait_until_page_contains_element("css:body:not([data-side='login'])", WAIT)


def test_clerk_flow_pay_an_invoice_and_find_it_in_betalinger(mock: Mock, browser: Browser) -> None:
    lib = browser.lib
    _log_in(browser)
    lib.wait_until_page_contains_element("css:body[data-side='indbakke']", WAIT)
    assert lib.get_text("id:bruger") == "robot"
    assert lib.get_text("id:side-info") == "Side 1 af 2"
    if os.environ.get("PAYBOT_UPDATE_SCREENSHOTS") == "1":
        IMG.mkdir(parents=True, exist_ok=True)
        browser.driver.save_screenshot(str(IMG / "inbox.png"))

    invoice = _new_invoices(mock, "oevrige")[0]
    payable = Decimal(
        mock.conn.execute(
            "SELECT payable_amount FROM invoices WHERE id = ?", (invoice,)
        ).fetchone()[0]
    )
    lib.click_link(f"css:tr[data-loebenr='{invoice}'] td[data-felt='loebenr'] a")
    lib.wait_until_page_contains_element("id:godkend-form", WAIT)
    assert lib.get_text("id:felt-loebenr") == str(invoice)
    if os.environ.get("PAYBOT_UPDATE_SCREENSHOTS") == "1":
        browser.driver.save_screenshot(str(IMG / "invoice.png"))

    lib.input_text("id:kontostreng", "6.45.51-000-2.2")
    lib.input_text("id:beloeb", f"{payable:.2f}".replace(".", ","))
    lib.input_text("id:posteringstekst", f"E2E fakt. {invoice}")
    lib.input_text("id:betalingsdato", _pay_day().strftime("%d-%m-%Y"))
    lib.click_button("id:godkend-betal")
    lib.wait_until_page_contains_element("id:kvittering", WAIT)
    voucher = lib.get_text("id:bilagsnummer")
    assert voucher.startswith(f"B-{danish_today().year}-")
    assert lib.get_text("id:kvittering-loebenr") == str(invoice)

    lib.click_link("id:nav-betalinger")
    lib.wait_until_page_contains_element("css:body[data-side='betalinger']", WAIT)
    page = screens.read_page(browser.driver.page_source)
    rows = screens.table_rows(page, "betalinger", "betaling")
    [row] = [r for r in rows if r["bilagsnummer"] == voucher]
    assert row["loebenr"] == str(invoice)
    assert row["beloeb"] == f"{payable:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    assert row["godkendt-af"] == "robot"


@dataclass
class RecordingAudit:
    """A tiny audit sink: it only remembers what it was told."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def event(self, event: str, *, durable: bool = False, **fields: Any) -> None:
        self.events.append((event, {"durable": durable, **fields}))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


def test_the_robots_erp_session_works_unchanged(mock: Mock, browser: Browser) -> None:
    conn = mock.conn
    cpr = generated_cpr(random.Random(9))
    certificate = insert_invoice(
        conn,
        category="laegeerklaering",
        supplier_name="Lægehuset Vestergade",
        supplier_cvr="40564136",
        supplier_ydernummer="012873",
        line_extension_amount=Decimal("796.00"),
        vat_percent=0,
        cert_form="LÆ 135",
        cert_cpr=cpr,
        cert_date="2026-11-10",
        cert_interpreter=0,
        payment_means_code="97",
        bank_reg=None,
        bank_account=None,
    )
    to_pay = insert_invoice(conn, payable_amount=Decimal("1019.48"))
    to_person = insert_invoice(conn)
    audit = RecordingAudit()
    session = MockErpSession(
        browser, mock.server.url, "robot", SecretStr(ROBOT_PASSWORD), audit, timeout=10
    )
    session.login()

    raw = session.read_invoice(certificate)
    assert raw.get("loebenr") == str(certificate)
    assert raw.get("blanket") == "LÆ 135"
    assert raw.get("cpr") == cpr
    assert raw.get("at-betale") == "796,00"
    assert len(raw.lines) == 1

    pay_day = _pay_day().strftime("%d-%m-%Y")
    voucher = session.approve(
        to_pay,
        account_string="6.45.51-000-2.2",
        amount=Decimal("1019.48"),
        posting_text=f"Kontorland A/S fakt. {to_pay}",
        payment_date=_pay_day(),
    )
    stored = conn.execute("SELECT voucher FROM payments WHERE invoice_id = ?", (to_pay,))
    assert stored.fetchone()[0] == voucher
    payment = session.payment_for(to_pay)
    assert payment is not None
    assert (payment.erp_id, payment.voucher, payment.approved_by) == (to_pay, voucher, "robot")
    assert (payment.amount, payment.payment_date) == (Decimal("1019.48"), _pay_day())
    assert payment.account_string == "6.45.51-000-2.2"
    assert session.payment_for(to_person) is None

    # Paid by someone else while the robot had the page open (the crash-and-retry race):
    # the form is still on the robot's screen, the system refuses, and the robot sees why.
    raced = insert_invoice(conn)
    session.read_invoice(raced)
    clerk = HttpClient(mock.server.url)
    clerk.login("clerk", CLERK_PASSWORD)
    paid = clerk.post(f"/faktura/{raced}/godkend", approve_form(clerk.csrf(), date=pay_day))
    assert paid.page.screen == "kvittering"
    with pytest.raises(AlreadyHandled, match="allerede betalt"):
        session.approve(
            raced,
            account_string="6.45.51-000-2.2",
            amount=Decimal("1250.00"),
            posting_text="igen",
            payment_date=_pay_day(),
        )
    count = conn.execute("SELECT COUNT(*) FROM payments WHERE invoice_id = ?", (raced,))
    assert count.fetchone()[0] == 1

    session.hand_over(to_person, reason="MANUAL_AMOUNT", note="Over beløbsgrænsen.")
    status = conn.execute("SELECT status, manual_reason FROM invoices WHERE id = ?", (to_person,))
    assert tuple(status.fetchone()) == ("manuel", "MANUAL_AMOUNT")

    accounts = session.active_accounts()
    assert "5.46.60-014-4.0" in accounts
    assert "6.45.51-000-2.9" not in accounts  # inactive

    names = audit.names()
    assert names[:1] == ["page_opened"]
    assert ("voucher_read", {"durable": True, "voucher": voucher}) in audit.events
    assert ROBOT_PASSWORD not in repr(audit.events)


def test_erp_session_login(mock: Mock, browser: Browser) -> None:
    audit = RecordingAudit()
    session = MockErpSession(
        browser, mock.server.url, "robot", SecretStr(ROBOT_PASSWORD), audit, timeout=10
    )
    session.login()
    assert session.page is not None and session.page.screen == "indbakke"
    assert ROBOT_PASSWORD not in repr(audit.events)


def test_robot_gets_through_system_messages_and_downloads_an_export(
    mock: Mock, tmp_path: Path
) -> None:
    """The same database behind a server that puts a system message in front of every page;
    the robot clicks them away, reads an invoice and downloads the requisitions export."""
    invoice = insert_invoice(mock.conn)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with running_mock(mock.server.db_path, system_message_rate=1, fault_seed=3) as faulty:
        browser = open_browser(f"{faulty.url}/login", BrowserOptions(download_dir=downloads))
        try:
            _log_in(browser)
            audit = RecordingAudit()
            session = MockErpSession(
                browser, faulty.url, "robot", SecretStr(ROBOT_PASSWORD), audit, timeout=10
            )
            assert session.read_invoice(invoice).get("loebenr") == str(invoice)
            assert ("button_clicked", {"durable": False, "button": "systembesked-ok"}) in (
                audit.events
            )
            file = session.download(
                "/rekvisitioner", "rekvisitioner", "eksport-xlsx", downloads, ".xlsx"
            )
        finally:
            browser.close()
    assert file.name.startswith("rekvisitioner-") and file.suffix == ".xlsx"
    header = next(load_workbook(file, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert header[:3] == ("Rekvisitionsnr.", "CPR-nr.", "Blanket")
