"""The admin page: admins only; unlock, fault settings, reset."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.db import insert_booking, insert_invoice, insert_requisition
from support.web import approve_form, csrf_in, read, session_csrf
from support.world import World, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


@pytest.mark.parametrize("user", ["robot", "clerk"])
def test_admin_pages_are_forbidden_to_others(world: World, user: str) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client(user)
    csrf = session_csrf(client)
    response = client.get("/admin")
    assert response.status_code == 403
    page = read(response.data)
    assert (page.screen, page.text("fejlkode")) == ("fejl", "403")
    for path, form in [
        ("/admin/nulstil", {"bekraeft": "ja"}),
        ("/admin/fejl", {"error_rate": "1"}),
        ("/admin/laas-op", {"brugernavn": "admin"}),
    ]:
        assert client.post(path, data={"csrf_token": csrf, **form}).status_code == 403, path
    assert (
        world.conn.execute("SELECT COUNT(*) FROM invoices WHERE id = ?", (invoice,)).fetchone()[0]
        == 1
    )
    assert client.get("/indbakke").status_code == 200  # faults were not switched on


def test_admin_sees_users_and_forms(world: World) -> None:
    client = world.client("admin")
    page = read(client.get("/admin").data)
    assert page.screen == "admin"
    assert page.has("nav-admin")
    assert page.missing(("fejl-form", "nulstil-form", "brugere")) == []
    users = page.doc.xpath("//table[@id='brugere']//td[@data-felt='brugernavn']/text()")
    assert users == ["admin", "clerk", "robot"]


def test_reset_deletes_business_data_and_keeps_users_and_accounts(world: World) -> None:
    invoice = insert_invoice(world.conn)
    insert_requisition(world.conn, cpr="010190-1234")
    insert_booking(world.conn)
    robot = world.client("robot")
    robot.post(
        f"/faktura/{invoice}/godkend", data=approve_form(session_csrf(robot), date="23-11-2026")
    )
    admin = world.client("admin")
    csrf = csrf_in(admin.get("/admin").data, "nulstil-form")
    refused = admin.post("/admin/nulstil", data={"csrf_token": csrf})
    assert refused.status_code == 422
    assert world.conn.execute("SELECT COUNT(*) FROM invoices").fetchone()[0] == 1

    done = admin.post("/admin/nulstil", data={"csrf_token": csrf, "bekraeft": "ja"})
    assert done.status_code == 303
    counts = {
        table: world.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("invoices", "payments", "requisitions", "bookings", "users", "accounts")
    }
    assert counts == {
        "invoices": 0,
        "payments": 0,
        "requisitions": 0,
        "bookings": 0,
        "users": 3,
        "accounts": 5,
    }
    assert read(admin.get("/admin").data).info.startswith("Databasen er nulstillet")


def test_unlock_of_an_unknown_user_is_named(world: World) -> None:
    client = world.client("admin")
    csrf = csrf_in(client.get("/admin").data, "fejl-form")
    response = client.post("/admin/laas-op", data={"csrf_token": csrf, "brugernavn": "ghost"})
    assert response.status_code == 404
    assert "ghost" in read(response.data).error
