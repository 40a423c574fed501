"""The web console end to end: ``robot console`` as a real waitress server on 127.0.0.1 and a
real headless Chromium (Debian's, through the robots' own ``open_browser``). An operator logs
in, opens every page, hands an invoice over and pauses a robot; an auditor reads the invoice's
trail and the exports page. Screenshots of every page are kept in the test's folder; with
``PAYBOT_UPDATE_SCREENSHOTS=1`` the overview and the queue are also saved to docs/img/.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from paybot.erp.browser import Browser, BrowserOptions, open_browser
from paybot.ledger import State
from support.console import PASSWORDS, ROBOT, RUN_ID, ConsoleWorld, make_world

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
DEADLINE = 30.0


@pytest.fixture
def world(tmp_path: Path) -> ConsoleWorld:
    return make_world(tmp_path, heartbeat=True, script_key=False)


@pytest.fixture
def console(world: ConsoleWorld, tmp_path: Path) -> Iterator[str]:
    ready = tmp_path / "console.ready"
    out = (tmp_path / "console.out").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "paybot", "console", "--port", "0", "--ready-file", str(ready)],
        env=world.env,
        cwd=world.home,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        pause = threading.Event()
        end = time.monotonic() + DEADLINE
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > end:
                raise AssertionError(
                    "the console did not start:\n"
                    + (tmp_path / "console.out").read_text("utf-8", "replace")
                )
            pause.wait(0.05)
        yield ready.read_text("utf-8").strip()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        out.close()
        assert code == 0, (tmp_path / "console.out").read_text("utf-8", "replace")


@pytest.fixture
def browser(console: str, tmp_path: Path) -> Iterator[Browser]:
    opened = open_browser(f"{console}/login", BrowserOptions(profile_dir=tmp_path / "profile"))
    opened.driver.set_window_size(1366, 900)
    try:
        yield opened
    finally:
        opened.close()


def shoot(driver: WebDriver, folder: Path, name: str) -> Path:
    """A full-page screenshot (the window made as tall as the page first)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1366, max(700, min(int(height) + 120, 2400)))
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1366, 900)
    return path


def click(driver: WebDriver, element: WebElement) -> None:
    """Click a link or button and wait until the page it leads to has replaced this one."""
    element.click()
    WebDriverWait(driver, DEADLINE).until(expected_conditions.staleness_of(element))
    WebDriverWait(driver, DEADLINE).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def log_in(driver: WebDriver, base: str, name: str) -> None:
    driver.get(f"{base}/login")
    driver.find_element(By.NAME, "brugernavn").send_keys(name)
    driver.find_element(By.NAME, "adgangskode").send_keys(PASSWORDS[name])
    click(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Overblik"


def body(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


def test_an_operator_and_an_auditor_use_the_console_in_a_real_browser(
    console: str, browser: Browser, world: ConsoleWorld, tmp_path: Path
) -> None:
    driver, shots = browser.driver, tmp_path / "shots"
    shots.mkdir()
    log_in(driver, console, "otto")
    text = body(driver)
    assert "Småfakturaer" in text and "120,50 kr." in text  # last night's paid amount
    assert "Planlæggeren kører på robot-server" in text
    assert "Småfakturaer: seneste kørsel endte ikke godt (nogle fakturaer fejlede, kode 1)" in text
    saved = {"overview": shoot(driver, shots, "overview")}

    click(driver, driver.find_element(By.LINK_TEXT, "Kørsler"))
    assert "fejl på nogle fakturaer" in body(driver)
    saved["runs"] = shoot(driver, shots, "runs")
    driver.get(f"{console}/koersler/{RUN_ID}")
    assert "MANUAL_SUPPLIER" in body(driver) and "<script>" in body(driver)  # shown as text
    saved["run"] = shoot(driver, shots, "run")
    click(driver, driver.find_element(By.LINK_TEXT, "vis"))  # the failure's screenshot
    assert driver.current_url.endswith("/screenshots/lobenr-7-attempt-1.png")
    driver.back()

    # the queue: hand invoice 5 over with a reason and a note
    click(driver, driver.find_element(By.LINK_TEXT, "Kø"))
    form = driver.find_element(By.CSS_SELECTOR, f"form[action='/koe/{ROBOT}/5/overdrag']")
    Select(form.find_element(By.NAME, "aarsag")).select_by_value("MANUAL_SUPPLIER")
    form.find_element(By.NAME, "note").send_keys("Leverandøren har ringet; afvent kreditnota")
    click(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    text = body(driver)
    assert "Løbenr. 5 (fake-small) er markeret til manuel behandling" in text
    assert "MANUAL_SUPPLIER (console:otto): Leverandøren har ringet" in text
    saved["queue"] = shoot(driver, shots, "queue")

    # the schedule: pause the robot
    click(driver, driver.find_element(By.LINK_TEXT, "Planlægning"))
    click(driver, driver.find_element(By.CSS_SELECTOR, f"button[name=pause][value='{ROBOT}']"))
    assert f"{ROBOT} er sat på pause." in body(driver)
    saved["schedule"] = shoot(driver, shots, "schedule")
    assert not driver.find_elements(By.LINK_TEXT, "Revisionsspor")  # not an auditor
    click(driver, driver.find_element(By.CSS_SELECTOR, "header form button"))  # log out
    assert driver.find_element(By.TAG_NAME, "h1").text == "Log ind"
    saved["login"] = shoot(driver, shots, "login")

    # the auditor: the invoice's trail, the exports page
    log_in(driver, console, "aud")
    click(driver, driver.find_element(By.LINK_TEXT, "Revisionsspor"))
    driver.find_element(By.NAME, "faktura").send_keys("5")
    click(driver, driver.find_element(By.CSS_SELECTOR, "form.filter button"))
    text = body(driver)
    assert "Sporet er intakt" in text and "item_handed_over" in text and "console:otto" in text
    saved["trail"] = shoot(driver, shots, "trail")
    click(driver, driver.find_element(By.LINK_TEXT, "Eksport"))
    assert "Hent eksport" in body(driver)
    saved["exports"] = shoot(driver, shots, "exports")

    # what the browser did is in the ledger, the job store and the trail
    ledger = world.ledger()
    try:
        assert ledger.handover_for(ROBOT, 5) is not None
        five = ledger.item(ROBOT, 5)
        assert five is not None and five.state is State.PENDING
    finally:
        ledger.close()
    paused = subprocess.run(
        [sys.executable, "-m", "paybot", "schedule"], env=world.env, cwd=world.home,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert any(line.split()[:2] == [ROBOT, "paused"] for line in paused.stdout.splitlines())
    events = {(r["event"], r.get("by")) for r in world.audit()}
    assert ("item_handed_over", "console:otto") in events
    assert ("scheduler_job_paused", "console:otto") in events
    if os.environ.get("PAYBOT_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(saved["overview"], IMG / "console-overview.png")
        shutil.copyfile(saved["queue"], IMG / "console-queue.png")
    print(f"screenshots in {shots}")
