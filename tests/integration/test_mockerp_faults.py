"""Fault injection: HTTP 500 before any work, session expiry, system messages, latency."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mockerp.faults import FaultSettingError, FaultSettings, settings_from
from support.db import insert_invoice, payments_of
from support.web import approve_form, csrf_in, read, session_csrf
from support.world import World, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _set_faults(world: World, admin_app_client: object, **values: str) -> None:
    from flask.testing import FlaskClient

    assert isinstance(admin_app_client, FlaskClient)
    form = {"csrf_token": csrf_in(admin_app_client.get("/admin").data, "fejl-form"), **values}
    response = admin_app_client.post("/admin/fejl", data=form)
    assert response.status_code == 303, response.text


def test_error_rate_one_answers_500_and_pays_nothing(world: World) -> None:
    invoice = insert_invoice(world.conn)
    app = world.app()
    robot, admin = world.client("robot", app), world.client("admin", app)
    csrf = session_csrf(robot)
    requests_before = world.conn.execute(
        "SELECT requests FROM sessions s JOIN users u"
        " ON u.id = s.user_id WHERE u.username = 'robot'"
    ).fetchone()[0]
    _set_faults(world, admin, error_rate="1")

    response = robot.post(f"/faktura/{invoice}/godkend", data=approve_form(csrf, date="23-11-2026"))
    assert response.status_code == 500
    page = read(response.data)
    assert page.screen == "fejl"
    assert page.doc.xpath("//h1")[0].text_content() == "Der opstod en fejl"
    assert page.text("fejlkode") == "500"
    assert payments_of(world.conn, invoice) == []
    assert world.conn.execute("SELECT status FROM invoices").fetchone()[0] == "ny"
    # the request never reached the session either
    requests_after = world.conn.execute(
        "SELECT requests FROM sessions s JOIN users u"
        " ON u.id = s.user_id WHERE u.username = 'robot'"
    ).fetchone()[0]
    assert requests_after == requests_before
    assert robot.get("/indbakke").status_code == 500
    # admin pages are never faulted, so the admin can switch it off again
    _set_faults(world, admin, error_rate="0")
    response = robot.post(f"/faktura/{invoice}/godkend", data=approve_form(csrf, date="23-11-2026"))
    assert response.status_code == 303
    assert len(payments_of(world.conn, invoice)) == 1


def test_error_dice_are_replayable_from_the_seed(world: World) -> None:
    def statuses(seed: int) -> list[int]:
        client = world.app(FaultSettings(error_rate=0.5, seed=seed)).test_client()
        return [client.get("/login").status_code for _ in range(40)]

    first = statuses(7)
    assert first == statuses(7)
    assert 8 <= first.count(500) <= 32
    assert set(first) == {200, 500}


def test_session_expires_after_n_requests(world: World) -> None:
    client = world.client("robot", world.app(FaultSettings(session_expiry_requests=3)))
    assert [client.get("/indbakke").status_code for _ in range(3)] == [200, 200, 200]
    expired = client.get("/indbakke")
    assert expired.status_code == 303
    assert expired.headers["Location"] == "/login?next=/indbakke"
    assert read(client.get(expired.headers["Location"]).data).info == (
        "Din session er udløbet. Log ind igen."
    )


def test_system_message_leads_back_to_the_page_asked_for(world: World) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot", world.app(FaultSettings(system_message_rate=1.0, seed=1)))
    response = client.get(f"/faktura/{invoice}?x=1")
    page = read(response.data)
    assert response.status_code == 200
    assert page.screen == "systembesked"
    assert page.doc.xpath("//h1")[0].text_content() == "Systembesked"
    assert page.text("systembesked-tekst")
    form = page.doc.get_element_by_id("systembesked-form")
    assert form.get("action") == "/systembesked" and form.get("method") == "post"
    assert page.has("systembesked-ok")
    next_value = form.xpath(".//input[@name='next']/@value")[0]
    assert next_value == f"/faktura/{invoice}?x=1"

    ok = client.post(
        "/systembesked", data={"csrf_token": csrf_in(response.data), "next": next_value}
    )
    assert ok.status_code == 303
    assert ok.headers["Location"] == f"/faktura/{invoice}?x=1"
    assert read(client.get(ok.headers["Location"]).data).screen == "faktura"
    # the dice roll again on the next page
    assert read(client.get("/indbakke").data).screen == "systembesked"


def test_system_message_never_replaces_a_download_or_a_post(world: World) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot", world.app(FaultSettings(system_message_rate=1.0, seed=1)))
    export = client.get("/rekvisitioner/eksport.csv")
    assert export.headers["Content-Disposition"].startswith("attachment")
    csrf = csrf_in(client.get("/indbakke").data, "logout-form")
    response = client.post(
        f"/faktura/{invoice}/godkend", data=approve_form(csrf, date="23-11-2026")
    )
    assert response.status_code == 303


def test_system_message_next_must_be_local(world: World) -> None:
    client = world.client("robot")
    response = client.post(
        "/systembesked",
        data={"csrf_token": session_csrf(client), "next": "https://evil.example/"},
    )
    assert response.headers["Location"] == "/indbakke"


def test_latency_is_added_to_every_response(world: World) -> None:
    quick = world.client("robot")
    start = time.monotonic()
    quick.get("/kontoplan")
    baseline = time.monotonic() - start
    assert baseline < 0.15

    slow = world.client("robot", world.app(FaultSettings(latency_ms=150)))
    for path in ("/kontoplan", "/login"):
        start = time.monotonic()
        slow.get(path)
        assert time.monotonic() - start >= 0.15, path


def test_slow_pages_hit_their_share(world: World) -> None:
    client = world.app(FaultSettings(slow_rate=1.0, slow_ms=120, seed=3)).test_client()
    start = time.monotonic()
    client.get("/login")
    assert time.monotonic() - start >= 0.12


def test_settings_from_flags_and_environment() -> None:
    env = {"MOCKERP_ERROR_RATE": "0.25", "MOCKERP_LATENCY_MS": "40"}
    settings = settings_from(env, {"latency_ms": 10, "seed": None})
    assert (settings.error_rate, settings.latency_ms, settings.seed) == (0.25, 10, None)
    with pytest.raises(FaultSettingError, match=r"MOCKERP_ERROR_RATE = 2\.0: must be a share"):
        settings_from({"MOCKERP_ERROR_RATE": "2"})
    with pytest.raises(FaultSettingError, match="MOCKERP_SLOW_MS = 'lots'"):
        settings_from({"MOCKERP_SLOW_MS": "lots"})
    with pytest.raises(FaultSettingError, match="--latency-ms = -1"):
        settings_from({}, {"latency_ms": -1})


def test_admin_fault_form_refuses_bad_values(world: World) -> None:
    admin = world.client("admin")
    form = {"csrf_token": csrf_in(admin.get("/admin").data, "fejl-form"), "error_rate": "1,5"}
    response = admin.post("/admin/fejl", data=form)
    assert response.status_code == 422
    assert "Andel HTTP 500" in read(response.data).error
    form["error_rate"] = "1.5"
    assert admin.post("/admin/fejl", data=form).status_code == 422
