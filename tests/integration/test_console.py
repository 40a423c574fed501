"""The web console (``robot console``) through Flask's test client, over a real project: real
SQLite ledger and job store, a real audit trail, real run folders (tests/support/console.py).

Roles, CSRF, lockout, the session's timeout, the security headers, escaping of script in
supplier names and notes, path traversal in run-folder links, and the queue and schedule
changes audited as the command line audits them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from paybot.console.app import create_app
from paybot.console.users import LOCKOUT_FAILURES, LOCKOUT_WINDOW, UserStore
from paybot.ledger import State, utc_now
from support.clock import FakeClock
from support.console import (
    MORNING,
    PASSWORDS,
    ROBOT,
    RUN_ID,
    SCRIPT,
    SECRET_FILE_TEXT,
    ConsoleWorld,
    fast_hasher,
    make_world,
)

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConsoleWorld:
    made = make_world(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("PAYBOT_")]:
        monkeypatch.delenv(name)
    for name, value in made.env.items():
        if name.startswith("PAYBOT_"):
            monkeypatch.setenv(name, value)
    return made


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc_now())


@pytest.fixture
def app(world: ConsoleWorld, clock: FakeClock) -> Iterator[Flask]:
    users = UserStore(world.settings().data_dir, hasher=fast_hasher(), clock=clock)
    made = create_app(world.home, clock=clock, users=users)
    made.config["TESTING"] = True
    yield made


def token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    found = TOKEN.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def login(client: FlaskClient, name: str, password: str | None = None) -> int:
    csrf = token(client, "/login")
    answer = client.post(
        "/login",
        data={"brugernavn": name, "adgangskode": password or PASSWORDS[name], "csrf_token": csrf},
    )
    return answer.status_code


def client_as(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, name) == 303
    return client


# --- logging in, roles ---------------------------------------------------------------------


def test_every_page_needs_a_login(app: Flask) -> None:
    client = app.test_client()
    for path in ("/", "/koersler", "/koe", "/spor", "/planlaegning", "/eksport",
                 f"/koersler/{RUN_ID}", f"/koersler/{RUN_ID}/filer/report.json"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["Location"].startswith("/login"), path


def test_a_viewer_reads_but_cannot_act_or_audit(app: Flask) -> None:
    client = client_as(app, "vera")
    for path in ("/", "/koersler", "/koe", "/planlaegning", f"/koersler/{RUN_ID}"):
        assert client.get(path).status_code == 200, path
    assert client.get("/spor?faktura=5").status_code == 403
    assert client.get("/eksport").status_code == 403
    queue = client.get("/koe").get_data(as_text=True)
    assert "Til manuel behandling" not in queue  # no forms for a viewer
    csrf = token(client, "/koe")
    answer = client.post(f"/koe/{ROBOT}/5/frigiv", data={"csrf_token": csrf})
    assert answer.status_code == 403
    answer = client.post(f"/planlaegning/{ROBOT}/pause", data={"csrf_token": csrf})
    assert answer.status_code == 403


def test_an_auditor_reads_the_trail_and_exports_but_cannot_act(
    app: Flask, world: ConsoleWorld
) -> None:
    client = client_as(app, "aud")
    page = client.get(f"/spor?faktura=5&robot={ROBOT}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Sporet er intakt" in text and "field_read" in text and "decision" in text
    csrf = token(client, "/eksport")
    answer = client.post("/eksport", data={"csrf_token": csrf, "format": "csv"})
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    body = answer.get_data(as_text=True)
    assert "field_read" in body and "intact" in body
    assert not list((world.settings().data_dir / "console" / "exports").iterdir())  # removed
    assert client.post(f"/koe/{ROBOT}/5/frigiv", data={"csrf_token": csrf}).status_code == 403


def test_an_operator_hands_over_and_releases_audited_like_the_command_line(
    app: Flask, world: ConsoleWorld
) -> None:
    client = client_as(app, "otto")
    assert client.get("/spor?faktura=5").status_code == 403
    csrf = token(client, "/koe")
    note = f"Leverandøren ringede {SCRIPT}"
    answer = client.post(
        f"/koe/{ROBOT}/5/overdrag",
        data={"csrf_token": csrf, "aarsag": "MANUAL_SUPPLIER", "note": note},
    )
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "markeret til manuel behandling" in page
    assert SCRIPT not in page and "&lt;script&gt;" in page  # the note, escaped
    # a run is paying 6: the ledger refuses, and the page says so
    answer = client.post(
        f"/koe/{ROBOT}/6/overdrag",
        data={"csrf_token": csrf, "aarsag": "MANUAL_SUPPLIER", "note": "x"},
    )
    assert "blev ikke overdraget" in client.get("/koe").get_data(as_text=True)
    answer = client.post(
        f"/koe/{ROBOT}/5/overdrag", data={"csrf_token": csrf, "aarsag": "NOPE", "note": "x"}
    )
    assert "not a code of" in client.get("/koe").get_data(as_text=True)
    assert client.post(f"/koe/{ROBOT}/5/frigiv", data={"csrf_token": csrf}).status_code == 303
    ledger = world.ledger()
    try:
        five = ledger.item(ROBOT, 5)
        assert five is not None and (five.state, five.attempts) == (State.PENDING, 0)
        assert ledger.handover_for(ROBOT, 5) is None
    finally:
        ledger.close()
    [handed] = world.audit("item_handed_over")
    [released] = world.audit("item_released")
    assert (handed["erp_id"], handed["reason"], handed["by"]) == (
        5,
        "MANUAL_SUPPLIER",
        "console:otto",
    )
    assert handed["note"] == note and released["by"] == "console:otto"
    assert released["attempts_before"] == 1


def test_an_operator_pauses_and_resumes_a_robot_audited(app: Flask, world: ConsoleWorld) -> None:
    client = client_as(app, "otto")
    csrf = token(client, "/planlaegning")
    answer = client.post(f"/planlaegning/{ROBOT}/pause", data={"csrf_token": csrf})
    assert answer.status_code == 303
    page = client.get("/planlaegning").get_data(as_text=True)
    assert f"{ROBOT} er sat på pause" in page and "Genoptag" in page
    overview = client.get("/").get_data(as_text=True)
    assert "sat på pause" in overview  # status reads the same job store
    client.post(f"/planlaegning/{ROBOT}/genoptag", data={"csrf_token": csrf})
    assert f"{ROBOT} kører igen efter planen" in client.get("/planlaegning").get_data(as_text=True)
    events = [
        (r["event"], r["by"]) for r in world.audit() if r["event"].startswith("scheduler_job")
    ]
    assert events == [
        ("scheduler_job_paused", "console:otto"),
        ("scheduler_job_resumed", "console:otto"),
    ]
    assert client.post(f"/planlaegning/{ROBOT}/slet", data={"csrf_token": csrf}).status_code == 404


# --- CSRF ----------------------------------------------------------------------------------


def test_a_form_without_or_with_a_wrong_csrf_token_is_refused(
    app: Flask, world: ConsoleWorld
) -> None:
    client = client_as(app, "otto")
    for data in ({}, {"csrf_token": "forged"}):
        answer = client.post(f"/planlaegning/{ROBOT}/pause", data=data)
        assert answer.status_code == 400
        assert "sikkerhedsnøglen" in answer.get_data(as_text=True)
        answer = client.post(
            f"/koe/{ROBOT}/5/overdrag", data={**data, "aarsag": "MANUAL_SUPPLIER", "note": "x"}
        )
        assert answer.status_code == 400
    # a token of another session does not do either
    foreign = token(client_as(app, "otto"), "/planlaegning")
    answer = client.post(f"/planlaegning/{ROBOT}/pause", data={"csrf_token": foreign})
    assert answer.status_code == 400
    assert not [r for r in world.audit() if r["event"].startswith(("scheduler_job", "item_"))]
    # the login form too
    fresh = app.test_client()
    answer = fresh.post("/login", data={"brugernavn": "otto", "adgangskode": PASSWORDS["otto"]})
    assert answer.status_code == 400


# --- passwords, lockout, timeout -----------------------------------------------------------


def test_guessing_passwords_locks_the_name_out_for_a_while(
    app: Flask, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="paybot.console")
    client = app.test_client()
    for guess in range(LOCKOUT_FAILURES - 1):
        assert login(client, "otto", f"guess-{guess}") == 401
    assert login(client, "otto", "the last guess") == 429  # this one locks the name
    assert login(client, "otto") == 429  # the right password, but locked out
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == LOCKOUT_FAILURES + 1 and "locked out until" in refused[-1]
    assert all("guess" not in line for line in refused)  # never a password in the log
    page = client.get("/login")
    assert page.status_code == 200
    assert "spærret" in client.post(
        "/login",
        data={
            "brugernavn": "otto",
            "adgangskode": PASSWORDS["otto"],
            "csrf_token": token(client, "/login"),
        },
    ).get_data(as_text=True)
    assert login(client, "vera") == 303  # another name is not locked
    # an unknown name answers the same, and locks too (nothing learnt from the answer)
    other = app.test_client()
    answers = [login(other, "nobody", "x" * 12) for _ in range(LOCKOUT_FAILURES)]
    assert answers == [401] * (LOCKOUT_FAILURES - 1) + [429]
    clock.advance(LOCKOUT_WINDOW + dt.timedelta(seconds=1))
    assert login(app.test_client(), "otto") == 303


def test_an_idle_session_ends_and_a_busy_one_lasts(app: Flask, clock: FakeClock) -> None:
    client = client_as(app, "vera")
    for _ in range(3):  # used every 10 minutes: still alive after 30
        clock.advance(dt.timedelta(minutes=10))
        assert client.get("/").status_code == 200
    clock.advance(dt.timedelta(minutes=15, seconds=1))
    answer = client.get("/koe")
    assert answer.status_code == 303 and "udloebet=1" in answer.headers["Location"]
    assert client.get("/").status_code == 303  # the session is gone, not only refused once


def test_a_new_password_or_a_removed_user_ends_open_sessions(
    app: Flask, world: ConsoleWorld
) -> None:
    client = client_as(app, "vera")
    store = UserStore(world.settings().data_dir, hasher=fast_hasher())
    store.set_password("vera", "a-brand-new-password")
    assert client.get("/").status_code == 303
    client = client_as(app, "otto")
    store.remove("otto")
    assert client.get("/").status_code == 303


def test_after_login_only_a_path_of_this_site_is_followed(app: Flask) -> None:
    for target, expected in (("/koe?robot=x", "/koe?robot=x"), ("//evil.example/", "/"),
                             ("https://evil.example/", "/"), ("/\\evil.example", "/")):  # fmt: skip
        client = app.test_client()
        csrf = token(client, "/login")
        answer = client.post(
            "/login?next=" + __import__("urllib.parse").parse.quote(target),
            data={"brugernavn": "vera", "adgangskode": PASSWORDS["vera"], "csrf_token": csrf},
        )
        assert answer.headers["Location"] == expected, target


# --- headers, escaping, files --------------------------------------------------------------


def test_every_answer_carries_the_security_headers(app: Flask) -> None:
    client = client_as(app, "vera")
    for path in ("/login", "/", "/koe", f"/koersler/{RUN_ID}/filer/report.json", "/nope"):
        answer = client.get(path)
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp, path
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Cache-Control"] == "no-store"
    cookie = client.get_cookie("paybot_console")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"


def test_script_in_supplier_names_business_keys_and_notes_is_shown_not_run(
    app: Flask,
) -> None:
    for name, path in (("aud", f"/spor?faktura=5&robot={ROBOT}"), ("vera", "/koe"),
                       ("vera", f"/koersler/{RUN_ID}")):  # fmt: skip
        text = client_as(app, name).get(path).get_data(as_text=True)
        assert "<script" not in text.lower(), path
        assert "&lt;script&gt;" in text, path


def test_run_folder_links_serve_only_files_inside_the_run_folder(
    app: Flask, world: ConsoleWorld
) -> None:
    client = client_as(app, "vera")
    shot = client.get(f"/koersler/{RUN_ID}/filer/screenshots/lobenr-7-attempt-1.png")
    assert shot.status_code == 200 and shot.mimetype == "image/png"
    page = client.get(f"/koersler/{RUN_ID}").get_data(as_text=True)
    assert f"/koersler/{RUN_ID}/filer/screenshots/lobenr-7-attempt-1.png" in page
    assert "120,50 kr." in page and "7,25 kr." in page  # amounts by outcome
    assert "7,25 kr. + 2.296,25 EUR" in page  # euros never added to the kroner
    # a symlink inside the folder that points out of it
    folder = world.settings().output_dir / "runs" / RUN_ID
    (folder / "link.png").symlink_to(folder.parent / "secret.png")
    for bad in ("../secret.txt", "../secret.png", "..%2fsecret.png", "%2e%2e/secret.png",
                "screenshots/../../secret.png", "/etc/passwd", "link.png",
                "screenshots/..%5c..%5csecret.png", "console.log"):  # fmt: skip
        answer = client.get(f"/koersler/{RUN_ID}/filer/{bad}", follow_redirects=True)
        assert answer.status_code == 404, bad  # ("//etc/passwd": merged to one slash first)
        assert SECRET_FILE_TEXT not in answer.get_data(as_text=True)
    for bad_run in ("..", "..%2f..%2fhome", "20261130T003000Z-ffff"):
        assert client.get(f"/koersler/{bad_run}/filer/report.json").status_code == 404


def test_the_run_report_and_the_morning_report_are_served_with_their_links(app: Flask) -> None:
    client = client_as(app, "vera")
    overview = client.get("/").get_data(as_text=True)
    assert f'href="/reports/{MORNING}"' in overview
    morning = client.get(f"/reports/{MORNING}")
    assert morning.status_code == 200 and "Morgenrapport" in morning.get_data(as_text=True)
    csp = morning.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    # the morning report's relative link (../runs/<id>/report.html) leads to the run's report
    report = client.get(f"/runs/{RUN_ID}/report.html")
    assert report.status_code == 200 and "Kørselsrapport" in report.get_data(as_text=True)
    assert client.get(f"/runs/{RUN_ID}/screenshots/lobenr-7-attempt-1.png").status_code == 200
    runs = client.get("/koersler").get_data(as_text=True)
    assert f'href="/koersler/{RUN_ID}/filer/report.html"' in runs
    for bad in ("notes.html", "..%2fruns%2f" + RUN_ID + "%2freport.json", "morning-x.html"):
        answer = client.get(f"/reports/{bad}", follow_redirects=True)
        assert answer.status_code == 404, bad
        assert SECRET_FILE_TEXT not in answer.get_data(as_text=True)


def test_pages_answer_while_a_robot_holds_the_ledgers_write_lock(
    app: Flask, world: ConsoleWorld
) -> None:
    """A robot's write transaction (SQLite ``BEGIN IMMEDIATE``) does not hold the console up:
    it reads what was committed (WAL), in short transactions of its own."""
    client = client_as(app, "vera")
    assert client.get("/").status_code == 200  # the ledger is opened once, here
    database = make_url(world.settings().ledger.url).database
    assert database is not None
    robot = sqlite3.connect(database, timeout=1.0, isolation_level=None)
    try:
        robot.execute("BEGIN IMMEDIATE")
        robot.execute("UPDATE work_items SET attempts = 99 WHERE erp_id = 5")
        started = time.monotonic()
        for path in ("/", "/koe", "/koersler", f"/koersler/{RUN_ID}", "/planlaegning"):
            assert client.get(path).status_code == 200, path
        assert time.monotonic() - started < 20  # not the ledger's 30 s busy timeout
        queue = client.get("/koe").get_data(as_text=True)
        assert ">99<" not in queue  # the uncommitted change is not seen
    finally:
        robot.execute("ROLLBACK")
        robot.close()


def test_every_post_route_refuses_a_form_without_its_token(app: Flask, world: ConsoleWorld) -> None:
    """Not only the forms a test thought of: every rule that takes a POST."""
    client = client_as(app, "otto")
    posts = [r for r in app.url_map.iter_rules() if "POST" in (r.methods or set())]
    assert len(posts) >= 6
    values = {"robot": ROBOT, "erp_id": 5, "action": "pause"}
    for rule in posts:
        path = rule.build({k: v for k, v in values.items() if k in rule.arguments})[1]
        answer = client.post(path, data={"aarsag": "MANUAL_SUPPLIER", "note": "x"})
        assert answer.status_code == 400, path
    assert not [r for r in world.audit() if r["event"].startswith(("scheduler_job", "item_"))]


def test_before_any_run_the_pages_show_nothing_and_create_no_ledger(
    world: ConsoleWorld, clock: FakeClock
) -> None:
    settings = world.settings()
    database = Path(make_url(settings.ledger.url).database or "")
    for path in database.parent.glob(database.name + "*"):
        path.unlink()
    users = UserStore(settings.data_dir, hasher=fast_hasher(), clock=clock)
    app = create_app(world.home, clock=clock, users=users)
    client = client_as(app, "vera")
    assert "Ingen kørsler endnu" in client.get("/").get_data(as_text=True)
    assert "Ingen arbejdsemner" in client.get("/koe").get_data(as_text=True)
    assert client.get(f"/koersler/{RUN_ID}").status_code == 404
    assert not database.exists()


def test_a_queue_filter_out_of_range_is_ignored_not_a_server_error(app: Flask) -> None:
    """``aeldre_end`` beyond what a ``timedelta`` holds (about 2.7 million years) is read as no
    filter, like any other value that is not a number of days."""
    client = client_as(app, "vera")
    plain = client.get("/koe").get_data(as_text=True)
    for days in ("1e308", "1e9", "-1", "nan", "inf", "abc"):
        answer = client.get(f"/koe?aeldre_end={days}")
        assert answer.status_code == 200, days
        assert "20433213:F-5" in answer.get_data(as_text=True) and "20433213:F-5" in plain
    assert "20433213:F-5" not in client.get("/koe?aeldre_end=36500").get_data(as_text=True)


def test_run_files_name_their_charset_once(app: Flask) -> None:
    client = client_as(app, "vera")
    for path in (f"/koersler/{RUN_ID}/filer/report.html", f"/reports/{MORNING}"):
        assert client.get(path).headers["Content-Type"] == "text/html; charset=utf-8", path
    assert client.get("/static/console.css").headers["Content-Type"] == "text/css; charset=utf-8"


def test_a_wrong_method_or_an_oversized_form_is_answered_in_danish(app: Flask) -> None:
    client = client_as(app, "otto")
    wrong = client.delete("/koe")
    assert wrong.status_code == 405 and "Method Not Allowed" not in wrong.get_data(as_text=True)
    assert "Metoden" in wrong.get_data(as_text=True) and "GET" in wrong.headers["Allow"]
    big = client.post("/logout", data={"note": "x" * (65 * 1024)})
    assert big.status_code == 413 and "For stor" in big.get_data(as_text=True)


def test_the_overview_says_one_faktura_and_two_fakturaer(app: Flask) -> None:
    """The run record counts 2 paid and 1 handed over (tests/support/console.py)."""
    text = client_as(app, "vera").get("/").get_data(as_text=True)
    assert "2 fakturaer, 120,50 kr." in text
    assert "1 faktura, 7,25 kr." in text and "1 fakturaer" not in text


def test_an_intact_but_unsigned_trail_is_a_warning_not_all_clear(app: Flask) -> None:
    """The support world's trail is written without a signing key: intact, but it could be
    rewritten unnoticed, so the verdict is shown as a warning (yellow), not as all clear."""
    text = client_as(app, "aud").get(f"/spor?faktura=5&robot={ROBOT}").get_data(as_text=True)
    verdict = re.search(r'<p class="besked (\w+)">Sporet er intakt', text)
    assert verdict is not None and verdict.group(1) == "warn"
    assert "UNSIGNED" in text


def test_an_export_period_at_the_ends_of_the_calendar_is_a_form_error(app: Flask) -> None:
    client = client_as(app, "aud")
    for fra, til in (("", "9999-12-31"), ("0001-01-01", "")):
        answer = client.post(
            "/eksport",
            data={"format": "csv", "fra": fra, "til": til, "csrf_token": token(client, "/eksport")},
        )
        assert answer.status_code == 400, (fra, til)
        assert (fra or til) in answer.get_data(as_text=True)


def test_logging_out_ends_a_copied_session_cookie(app: Flask) -> None:
    """The session lives in the signed cookie: a copy taken before logging out (another
    browser, a stolen cookie) must not go on working after it."""
    client = client_as(app, "vera")
    assert client.get("/").status_code == 200
    copy = app.test_client()
    cookie = client.get_cookie("paybot_console")
    assert cookie is not None
    copy.set_cookie("paybot_console", cookie.value)
    assert copy.get("/").status_code == 200, "the copy works while the user is logged in"
    assert client.post("/logout", data={"csrf_token": token(client, "/")}).status_code == 303
    assert copy.get("/").status_code == 303, "the copy ended with the logout"
    assert client_as(app, "vera").get("/").status_code == 200, "logging in again works"
