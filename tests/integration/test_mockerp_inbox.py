"""The inbox: 25 a page in Løbenr order, filters, paging links."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from paybot.erp.mockerp import screens
from support.db import insert_invoice
from support.web import read
from support.world import World, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    categories = ["oevrige", "tolk", "laegeerklaering"]
    statuses = ["ny", "ny", "betalt", "manuel"]
    for i in range(60):
        insert_invoice(
            world.conn,
            category=categories[i % 3],
            status=statuses[i % 4],
            payable_amount=Decimal("1000.00") + i,
            supplier_name=f"Leverandør {i:02d}",
        )
    return world


def _rows(client: FlaskClient, query: str) -> tuple[screens.Page, list[dict[str, str]]]:
    page = read(client.get(f"/indbakke?{query}").data)
    return page, screens.table_rows(page, "fakturaer", "faktura")


def _all_rows(client: FlaskClient, query: str) -> list[dict[str, str]]:
    """Follow the Næste links as a robot does."""
    rows: list[dict[str, str]] = []
    page, found = _rows(client, query)
    rows.extend(found)
    while page.has("naeste-side"):
        href = page.doc.get_element_by_id("naeste-side").get("href")
        page = read(client.get(href).data)
        rows.extend(screens.table_rows(page, "fakturaer", "faktura"))
    return rows


def test_first_page_has_25_rows_in_loebenr_order(world: World) -> None:
    client = world.client("robot")
    page, rows = _rows(client, "")
    assert page.screen == "indbakke"
    assert page.text("antal") == "60 fakturaer"
    assert page.text("side-info") == "Side 1 af 3"
    assert [int(r["loebenr"]) for r in rows] == list(range(1, 26))
    assert page.has("naeste-side") and not page.has("forrige-side")
    first = rows[0]
    assert first["beloeb"] == "1.000,00"
    assert first["status"] == "Ny"
    assert first["kategori"] == "Øvrige"
    assert first["udstedt"] == "19-11-2026"
    assert first["modtaget"] == "20-11-2026"
    assert set(first) == {
        "loebenr", "modtaget", "leverandoer", "cvr", "fakturanr",
        "udstedt", "forfald", "beloeb", "kategori", "status",
    }  # fmt: skip


def test_rows_link_to_the_invoice(world: World) -> None:
    client = world.client("robot")
    page, _ = _rows(client, "")
    links = page.doc.xpath("//tr[@data-loebenr='17']/td[@data-felt='loebenr']/a/@href")
    assert links == ["/faktura/17"]


def test_last_page_and_previous_link(world: World) -> None:
    client = world.client("robot")
    page, rows = _rows(client, "side=3")
    assert [int(r["loebenr"]) for r in rows] == list(range(51, 61))
    assert page.text("side-info") == "Side 3 af 3"
    assert not page.has("naeste-side")
    prev = page.doc.get_element_by_id("forrige-side")
    assert prev.get("rel") == "prev"
    assert parse_qs(urlsplit(prev.get("href")).query) == {"side": ["2"]}


def test_paging_through_everything_sees_each_invoice_once(world: World) -> None:
    client = world.client("robot")
    assert [int(r["loebenr"]) for r in _all_rows(client, "")] == list(range(1, 61))


def test_order_stays_stable_while_statuses_change(world: World) -> None:
    client = world.client("robot")
    before = [r["loebenr"] for r in _all_rows(client, "")]
    world.conn.execute("UPDATE invoices SET status = 'betalt' WHERE id % 7 = 0")
    assert [r["loebenr"] for r in _all_rows(client, "")] == before


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kategori=tolk", [i for i in range(1, 61) if (i - 1) % 3 == 1]),
        ("status=manuel", [i for i in range(1, 61) if (i - 1) % 4 == 3]),
        (
            "kategori=laegeerklaering&status=ny",
            [i for i in range(1, 61) if (i - 1) % 3 == 2 and (i - 1) % 4 in (0, 1)],
        ),
        ("fra_loebenr=40", list(range(40, 61))),
        ("kategori=oevrige&fra_loebenr=30", [i for i in range(30, 61) if (i - 1) % 3 == 0]),
    ],
)
def test_filters(world: World, query: str, expected: list[int]) -> None:
    client = world.client("robot")
    rows = _all_rows(client, query)
    assert [int(r["loebenr"]) for r in rows] == expected
    page, _ = _rows(client, query)
    assert page.text("antal") == f"{len(expected)} fakturaer"


def test_next_link_keeps_the_filters(world: World) -> None:
    client = world.client("robot")
    page, rows = _rows(client, "status=ny")
    assert len(rows) == 25
    href = page.doc.get_element_by_id("naeste-side").get("href")
    assert parse_qs(urlsplit(href).query) == {"status": ["ny"], "side": ["2"]}


def test_paging_by_loebenr_follows_the_last_loebenr_shown(world: World) -> None:
    """Keyset paging (``after=<løbenr>``), as the robot pages: every row once, in order, each
    Næste link carrying the last Løbenr of its page."""
    client = world.client("robot")
    expected = [i for i in range(1, 61) if (i - 1) % 3 == 0 and i > 4]
    page, rows = _rows(client, "kategori=oevrige&after=4")
    assert [int(r["loebenr"]) for r in rows] == expected
    assert not page.has("naeste-side")
    assert page.text("side-info") == "Efter løbenr. 4"
    page, rows = _rows(client, "after=0")
    assert [int(r["loebenr"]) for r in rows] == list(range(1, 26))
    href = page.doc.get_element_by_id("naeste-side").get("href")
    assert parse_qs(urlsplit(href).query) == {"after": ["25"]}
    assert [int(r["loebenr"]) for r in _all_rows(client, "after=0")] == list(range(1, 61))
    _, rows = _rows(client, "after=60")
    assert rows == []


def test_filter_form_shows_the_chosen_values(world: World) -> None:
    client = world.client("robot")
    page, _ = _rows(client, "kategori=tolk&status=betalt")
    assert page.doc.xpath("//select[@id='kategori']/option[@selected]/@value") == ["tolk"]
    assert page.doc.xpath("//select[@id='status']/option[@selected]/@value") == ["betalt"]


def test_empty_result_has_one_page_and_no_rows(world: World) -> None:
    client = world.client("robot")
    page, rows = _rows(client, "fra_loebenr=1000")
    assert rows == []
    assert page.text("antal") == "0 fakturaer"
    assert page.text("side-info") == "Side 1 af 1"


@pytest.mark.parametrize(
    "query", ["kategori=alt", "status=x", "side=0", "fra_loebenr=abc", "after=-1"]
)
def test_bad_query_values_are_named(world: World, query: str) -> None:
    client = world.client("robot")
    response = client.get(f"/indbakke?{query}")
    assert response.status_code == 400
    page = read(response.data)
    assert page.screen == "fejl"
    assert query.split("=")[0] in page.text("fejltekst")
