"""Login, lockout, sessions and CSRF of the mock finance system (Flask test client)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mockerp.auth import hash_token
from support.web import csrf_in, login, read, session_csrf
from support.world import PASSWORDS, World, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def test_login_redirects_to_the_inbox_and_shows_the_user(world: World) -> None:
    client = world.client(None)
    response = login(client, "robot", PASSWORDS["robot"])
    assert response.status_code == 303
    assert response.headers["Location"] == "/indbakke"
    cookie = response.headers["Set-Cookie"]
    assert "mockerp_session=" in cookie and "HttpOnly" in cookie
    page = read(client.get("/indbakke").data)
    assert page.screen == "indbakke"
    assert page.text("bruger") == "robot"


def test_login_goes_to_next_but_never_off_site(world: World) -> None:
    client = world.client(None)
    assert login(client, "robot", PASSWORDS["robot"], "/kontoplan").headers["Location"] == (
        "/kontoplan"
    )
    client = world.client(None)
    assert login(client, "robot", PASSWORDS["robot"], "//evil.example/x").headers["Location"] == (
        "/indbakke"
    )


def test_sessions_are_stored_hashed_with_their_own_csrf_token(world: World) -> None:
    client = world.client("robot")
    token = client.get_cookie("mockerp_session")
    assert token is not None
    rows = world.conn.execute("SELECT token, csrf_token FROM sessions").fetchall()
    assert [r["token"] for r in rows] == [hash_token(token.value)]
    assert session_csrf(client) == rows[0]["csrf_token"]


def test_wrong_password_is_refused_with_the_documented_message(world: World) -> None:
    client = world.client(None)
    response = login(client, "robot", "not-the-password")
    page = read(response.data)
    assert response.status_code == 401
    assert page.screen == "login"
    assert page.error == "Forkert brugernavn eller adgangskode."
    assert client.get_cookie("mockerp_session") is None
    unknown = read(login(client, "nobody", "x").data)
    assert unknown.error == "Forkert brugernavn eller adgangskode."


def test_five_failures_lock_the_account_until_an_admin_unlocks_it(world: World) -> None:
    client = world.client(None)
    errors = [read(login(client, "robot", f"wrong-{i}").data).error for i in range(5)]
    locked = "Kontoen er spærret efter for mange forkerte forsøg. Kontakt administrator."
    assert errors[:4] == ["Forkert brugernavn eller adgangskode."] * 4
    assert errors[4] == locked
    # the right password does not help while locked
    right = login(client, "robot", PASSWORDS["robot"])
    assert right.status_code == 401
    assert read(right.data).error == locked

    admin = world.client("admin")
    page = read(admin.get("/admin").data)
    assert page.has("laas-op-robot")
    csrf = csrf_in(admin.get("/admin").data, "laas-op-robot")
    unlocked = admin.post("/admin/laas-op", data={"csrf_token": csrf, "brugernavn": "robot"})
    assert unlocked.status_code == 303
    assert login(world.client(None), "robot", PASSWORDS["robot"]).status_code == 303


def test_a_successful_login_resets_the_failure_counter(world: World) -> None:
    client = world.client(None)
    for i in range(4):
        login(client, "robot", f"wrong-{i}")
    assert login(client, "robot", PASSWORDS["robot"]).status_code == 303
    for i in range(4):
        assert read(login(client, "robot", f"again-{i}").data).error.startswith("Forkert")
    assert login(client, "robot", PASSWORDS["robot"]).status_code == 303


def test_pages_need_a_session(world: World) -> None:
    client = world.client(None)
    response = client.get("/faktura/7?x=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/faktura/7%3Fx%3D1"
    page = read(client.get(response.headers["Location"]).data)
    assert page.screen == "login"
    assert page.info == "Din session er udløbet. Log ind igen."
    # and after logging in, the page that was asked for
    assert login(client, "robot", PASSWORDS["robot"], "/faktura/7?x=1").headers["Location"] == (
        "/faktura/7?x=1"
    )


def test_idle_session_expires(world: World) -> None:
    client = world.client("robot", world.app(session_idle_minutes=15))
    world.clock.advance(dt.timedelta(minutes=14, seconds=59))
    assert client.get("/indbakke").status_code == 200  # and this request renews it
    world.clock.advance(dt.timedelta(minutes=15))
    assert client.get("/indbakke").status_code == 200
    world.clock.advance(dt.timedelta(minutes=15, seconds=1))
    expired = client.get("/indbakke")
    assert expired.status_code == 303
    assert expired.headers["Location"].startswith("/login?next=/indbakke")
    assert world.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def test_post_with_an_expired_session_goes_to_login_and_back_to_the_invoice(
    world: World,
) -> None:
    client = world.client("robot")
    csrf = session_csrf(client)
    world.clock.advance(dt.timedelta(minutes=16))
    response = client.post("/faktura/3/godkend", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/faktura/3"


def test_logout_ends_the_session(world: World) -> None:
    client = world.client("robot")
    response = client.post("/logout", data={"csrf_token": session_csrf(client)})
    assert response.status_code == 303
    assert world.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    assert client.get("/indbakke").status_code == 303
    assert read(client.get("/login?logget_ud=1").data).info == "Du er logget ud."


def test_a_new_login_replaces_the_old_session(world: World) -> None:
    client = world.client("robot")
    old = client.get_cookie("mockerp_session")
    assert old is not None
    login(client, "robot", PASSWORDS["robot"])
    new = client.get_cookie("mockerp_session")
    assert new is not None and new.value != old.value
    stored = [r[0] for r in world.conn.execute("SELECT token FROM sessions")]
    assert stored == [hash_token(new.value)]


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_post_without_the_session_csrf_token_is_refused(world: World, token: str | None) -> None:
    from support.db import insert_invoice

    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    data = {"aarsagskode": "MANUAL_AMOUNT", "bemaerkning": "x"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(f"/faktura/{invoice}/manuel", data=data)
    assert response.status_code == 400
    assert read(response.data).screen == "fejl"
    status = world.conn.execute("SELECT status FROM invoices WHERE id = ?", (invoice,)).fetchone()
    assert status[0] == "ny"


def test_another_sessions_csrf_token_is_refused(world: World) -> None:
    from support.db import insert_invoice

    invoice = insert_invoice(world.conn)
    app = world.app()
    first, second = world.client("robot", app), world.client("clerk", app)
    response = second.post(
        f"/faktura/{invoice}/manuel",
        data={"csrf_token": session_csrf(first), "aarsagskode": "MANUAL_AMOUNT"},
    )
    assert response.status_code == 400


def test_login_form_needs_its_csrf_token(world: World) -> None:
    client = world.client(None)
    client.get("/login")
    response = client.post(
        "/login", data={"brugernavn": "robot", "adgangskode": PASSWORDS["robot"]}
    )
    assert response.status_code == 400
    assert read(response.data).screen == "fejl"
    assert client.get_cookie("mockerp_session") is None
