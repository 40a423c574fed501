"""The baseline of ``robot_vs_selenium.py``: a bare Selenium script doing the robot's clicks.

    python benchmarks/bare_selenium_payer.py --url URL --vault FILE --truth FILE --out FILE

No paybot, no rpaframework: ``selenium`` drives Debian's Chromium, ``lxml`` reads the pages the
script fetched (the robot reads every page from its source too), ``holidays`` gives the bank
days. What to do with each invoice comes from the seed's ground truth, so the script has no
rules to run: it only does the clicks and reads that the robot does for the same outcome.

1. log in as the robot user (typing with ``send_keys``, waiting for the next page);
2. list every page of ``/indbakke?kategori=oevrige&fra_loebenr=1``, reading ``page_source``;
3. for each new invoice in Løbenr order: open it, read ``page_source``, then pay it (type
   kontostreng, beløb, posteringstekst, betalingsdato; click ``#godkend-betal``; wait for the
   receipt; read ``#bilagsnummer``) or hand it over (type ``#aarsagskode`` and a note;
   click ``#send-manuel``; wait for the invoice page).

Typing is ``find_element`` + ``send_keys`` per field, as a bare Selenium script is written;
``--typing script`` sets the form in one ``execute_script`` instead, as the robot does (to
tell the robot's own overhead from its faster way of filling in forms).

Writes its timestamps (``time.time()``, seconds) and per-step sums as JSON to ``--out``.
"""

from __future__ import annotations

import time

STARTED = time.time()  # before the imports: the script's own start-up is part of its cost

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
from collections import defaultdict  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import holidays  # noqa: E402
import lxml.html  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# The same switches as paybot.erp.browser.QUIET_CHROMIUM (copied, not imported).
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--password-store=basic",
    "--window-size=1280,1000",
)
# --typing script: the fields set in one round trip (value, then input and change events).
FILL_SCRIPT = """
for (const [id, value] of Object.entries(arguments[0])) {
  const el = document.getElementById(id);
  el.value = value;
  el.dispatchEvent(new Event('input', {bubbles: true}));
  el.dispatchEvent(new Event('change', {bubbles: true}));
}
"""
POLL_SECONDS = 0.02  # the robot's poll interval, so neither side waits longer than it must
TIMEOUT_SECONDS = 15.0

# A note of the robot's kind and length (the robot's notes are 100-230 characters).
NOTE = (
    "Fakturaen kan ikke betales automatisk ({reason}). Løbenr. {loebenr}, fakturanr. {nr}: "
    "kontrollér oplysningerne og behandl fakturaen manuelt."
)


def bank_days_from(today: dt.date, due: dt.date | None) -> dt.date:
    """The latest bank day on or before the due date that is not before today, else the next
    bank day from today (the date the robot chooses)."""
    dk = holidays.country_holidays("DK", years=range(today.year, today.year + 2))

    def bank(day: dt.date) -> bool:
        return day.weekday() < 5 and day not in dk

    if due is not None and due >= today:
        day = due
        while not bank(day):
            day -= dt.timedelta(days=1)
        if day >= today:
            return day
    day = today
    while not bank(day):
        day += dt.timedelta(days=1)
    return day


def text_of(doc: Any, element_id: str) -> str:
    found = doc.xpath("//*[@id=$i]", i=element_id)
    return " ".join(found[0].text_content().split()) if found else ""


def posting_text(supplier: str, invoice_number: str) -> str:
    tail = f" fakt. {invoice_number}"
    return (supplier[: 50 - len(tail)].rstrip() + tail)[:50]


def danish_date(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value, "%d-%m-%Y").date()
    except ValueError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--vault", type=Path, required=True, help="the robot's vault file")
    parser.add_argument("--truth", type=Path, required=True, help="the seed's ground truth")
    parser.add_argument("--category", default="oevrige")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--typing",
        choices=("send_keys", "script"),
        default="send_keys",
        help="send_keys: find_element + send_keys per field (default); script: set the fields "
        "in one execute_script, as the robot does",
    )
    args = parser.parse_args()
    base = args.url.rstrip("/")
    user = json.loads(args.vault.read_text("utf-8"))["erp"]
    truth = {
        d["loebenr"]: d["expected"]
        for d in json.loads(args.truth.read_text("utf-8"))["documents"]
        if d["category"] == args.category and d["status"] == "ny"
    }
    marks: dict[str, float] = {"started": STARTED}
    steps: dict[str, float] = defaultdict(float)

    marks["imports_done"] = time.time()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(30)
    wait = WebDriverWait(driver, TIMEOUT_SECONDS, poll_frequency=POLL_SECONDS)
    # While the old page is being replaced, chromedriver 156 sometimes answers a call on its
    # element with "unknown error: ... Node with given id does not belong to the document"
    # instead of a stale element: that also means "not yet", so the wait goes on polling.
    gone = WebDriverWait(
        driver,
        TIMEOUT_SECONDS,
        poll_frequency=POLL_SECONDS,
        ignored_exceptions=(WebDriverException,),
    )

    def type_into(fields: dict[str, str]) -> None:
        if args.typing == "script":
            driver.execute_script(FILL_SCRIPT, fields)
            return
        for element_id, value in fields.items():
            driver.find_element(By.ID, element_id).send_keys(value)

    def click_and_wait(button_id: str, expected: tuple[str, str]) -> None:
        old = driver.find_element(By.TAG_NAME, "body")
        driver.find_element(By.ID, button_id).click()
        gone.until(ec.staleness_of(old))
        wait.until(ec.presence_of_element_located(expected))

    try:
        marks["browser_ready"] = time.time()
        driver.get(f"{base}/login")
        marks["login_page"] = time.time()
        driver.find_element(By.ID, "brugernavn").send_keys(user["username"])
        driver.find_element(By.ID, "adgangskode").send_keys(user["password"])
        click_and_wait("log-ind", (By.ID, "bruger"))
        marks["logged_in"] = time.time()

        new: list[int] = []
        side = 1
        while True:
            driver.get(f"{base}/indbakke?kategori={args.category}&fra_loebenr=1&side={side}")
            doc = lxml.html.document_fromstring(driver.page_source)
            for row in doc.xpath("//table[@id='fakturaer']//tr[contains(@class, 'faktura')]"):
                cells = {td.get("data-felt"): td.text_content().strip() for td in row}
                if cells.get("status", "").lower() == "ny":
                    new.append(int(cells["loebenr"]))
            if not doc.xpath("//*[@id='naeste-side']"):
                break
            side += 1
        marks["listed"] = time.time()
        if sorted(new) != sorted(truth):
            raise SystemExit(f"the inbox lists {len(new)} new invoices, the truth {len(truth)}")

        # The Danish date, as the finance system checks it (not the machine's UTC date).
        today = dt.datetime.now(ZoneInfo("Europe/Copenhagen")).date()
        vouchers = 0
        for loebenr in sorted(new):
            t0 = time.time()
            driver.get(f"{base}/faktura/{loebenr}")
            doc = lxml.html.document_fromstring(driver.page_source)
            t1 = time.time()
            steps["open + read invoice"] += t1 - t0
            if "phase_start" not in marks:
                marks["phase_start"] = t1
            if text_of(doc, "felt-status").lower() != "ny":
                raise SystemExit(f"Løbenr {loebenr} is not new")
            expected = truth[loebenr]
            if expected["decision"] == "pay":
                amount = f"{Decimal(expected['amount']):.2f}".replace(".", ",")
                day = bank_days_from(today, danish_date(text_of(doc, "felt-forfald")))
                text = posting_text(
                    text_of(doc, "felt-leverandoer"), text_of(doc, "felt-fakturanr")
                )
                type_into(
                    {
                        "kontostreng": expected["account_string"],
                        "beloeb": amount,
                        "posteringstekst": text,
                        "betalingsdato": day.strftime("%d-%m-%Y"),
                    }
                )
                t2 = time.time()
                steps["type"] += t2 - t1
                click_and_wait("godkend-betal", (By.ID, "bilagsnummer"))
                if not driver.find_element(By.ID, "bilagsnummer").text.startswith("B-"):
                    raise SystemExit(f"Løbenr {loebenr}: no voucher on the receipt")
                vouchers += 1
                steps["click + wait + read result"] += time.time() - t2
            else:
                note = NOTE.format(
                    reason=expected["reason"], loebenr=loebenr, nr=text_of(doc, "felt-fakturanr")
                )
                type_into({"aarsagskode": expected["reason"], "bemaerkning": note})
                t2 = time.time()
                steps["type"] += t2 - t1
                click_and_wait("send-manuel", (By.CSS_SELECTOR, "body[data-side='faktura']"))
                status = driver.find_element(By.ID, "felt-status").text
                if "manuel" not in status.lower():
                    raise SystemExit(f"Løbenr {loebenr}: {status!r} after the hand-over")
                steps["click + wait + read result"] += time.time() - t2
        marks["phase_end"] = time.time()
    finally:
        driver.quit()
    marks["finished"] = time.time()
    result = {
        "marks": marks,
        "steps": dict(steps),
        "invoices": len(new),
        "paid": vouchers,
        "typing": args.typing,
    }
    args.out.write_text(json.dumps(result, indent=1), "utf-8")


if __name__ == "__main__":
    main()
