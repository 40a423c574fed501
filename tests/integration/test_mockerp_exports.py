"""Exports of Rekvisitioner, Tolkebestillinger and Betalinger: XLSX and CSV attachments."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from paybot.domain.parsing import parse_booking, parse_requisition
from support.db import generated_cpr, insert_booking, insert_invoice, insert_requisition
from support.web import approve_form, read, session_csrf
from support.world import World, make_world

REQUISITION_COLUMNS = [
    "Rekvisitionsnr.", "CPR-nr.", "Blanket", "Dato", "Tolk godkendt", "Status", "Annulleret",
]  # fmt: skip
BOOKING_COLUMNS = [
    "Reference", "Sprog", "Dato", "Start", "Slut", "Kategori", "Afstand km", "Form", "Aflyst",
]  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    rng = random.Random(11)
    for i in range(30):  # more than one page: exports hold every row
        insert_requisition(
            world.conn,
            cpr=generated_cpr(rng),
            form="LÆ 135" if i % 2 else "LÆ 265",
            number=f"REK-{i:03d}",
            interpreter_approved=i % 3 == 0,
        )
    insert_booking(world.conn, reference="TB-1", distance_km="18.5")
    insert_booking(
        world.conn, reference="TB-2", date="2026-11-17", cancelled_at="2026-11-16T15:30:00"
    )
    return world


def _xlsx_rows(body: bytes) -> list[tuple[object, ...]]:
    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def test_export_links_are_on_the_screens(world: World) -> None:
    client = world.client("robot")
    for path in ("/rekvisitioner", "/tolkebestillinger", "/betalinger"):
        page = read(client.get(path).data)
        assert page.doc.get_element_by_id("eksport-xlsx").get("href") == f"{path}/eksport.xlsx"
        assert page.doc.get_element_by_id("eksport-csv").get("href") == f"{path}/eksport.csv"


def test_requisitions_xlsx(world: World) -> None:
    client = world.client("robot")
    response = client.get("/rekvisitioner/eksport.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="rekvisitioner-2026-11-23.xlsx"'
    )
    rows = _xlsx_rows(response.data)
    assert list(rows[0]) == REQUISITION_COLUMNS
    assert len(rows) == 31
    first = dict(zip(REQUISITION_COLUMNS, rows[1], strict=True))
    stored = world.conn.execute("SELECT cpr FROM requisitions WHERE number = 'REK-000'").fetchone()
    assert first["Rekvisitionsnr."] == "REK-000"
    assert first["CPR-nr."] == stored[0]
    assert first["Blanket"] == "LÆ 265"
    assert first["Dato"] == dt.datetime(2026, 11, 1)  # a real date cell
    assert (first["Tolk godkendt"], first["Status"], first["Annulleret"]) == ("Ja", "Åben", "Nej")
    parsed = [parse_requisition(dict(zip(REQUISITION_COLUMNS, r, strict=True))) for r in rows[1:]]
    assert [p.number for p in parsed] == [f"REK-{i:03d}" for i in range(30)]


def test_requisitions_csv(world: World) -> None:
    client = world.client("robot")
    response = client.get("/rekvisitioner/eksport.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="rekvisitioner-2026-11-23.csv"'
    )
    rows = _csv_rows(response.data)
    assert rows[0] == REQUISITION_COLUMNS
    assert len(rows) == 31
    assert rows[1][0] == "REK-000" and rows[1][3] == "01-11-2026" and rows[1][4] == "Ja"
    assert [parse_requisition(dict(zip(rows[0], r, strict=True))).number for r in rows[1:]][:2] == [
        "REK-000",
        "REK-001",
    ]


def test_export_follows_the_screens_filter(world: World) -> None:
    client = world.client("robot")
    page = read(client.get("/rekvisitioner?blanket=LÆ 135").data)
    href = page.doc.get_element_by_id("eksport-csv").get("href")
    rows = _csv_rows(client.get(href).data)
    assert {r[2] for r in rows[1:]} == {"LÆ 135"}
    assert len(rows) == 16


def test_bookings_exports(world: World) -> None:
    client = world.client("robot")
    xlsx = _xlsx_rows(client.get("/tolkebestillinger/eksport.xlsx").data)
    assert list(xlsx[0]) == BOOKING_COLUMNS
    one = dict(zip(BOOKING_COLUMNS, xlsx[1], strict=True))
    assert one["Reference"] == "TB-1"
    assert one["Dato"] == dt.datetime(2026, 11, 16)
    assert (one["Start"], one["Slut"]) == ("08:00", "09:30")
    assert Decimal(str(one["Afstand km"])) == Decimal("18.5")
    assert (one["Kategori"], one["Form"], one["Aflyst"]) == ("Øvrig tolk", "Fremmøde", None)
    two = dict(zip(BOOKING_COLUMNS, xlsx[2], strict=True))
    assert two["Aflyst"] == dt.datetime(2026, 11, 16, 15, 30)
    assert [
        parse_booking(dict(zip(BOOKING_COLUMNS, r, strict=True))).reference for r in xlsx[1:]
    ] == [
        "TB-1",
        "TB-2",
    ]

    rows = _csv_rows(client.get("/tolkebestillinger/eksport.csv").data)
    assert rows == [
        BOOKING_COLUMNS,
        ["TB-1", "Arabisk", "16-11-2026", "08:00", "09:30", "Øvrig tolk", "18,5", "Fremmøde", ""],
        [
            "TB-2", "Arabisk", "17-11-2026", "08:00", "09:30", "Øvrig tolk", "18,5", "Fremmøde",
            "16-11-2026 15:30",
        ],
    ]  # fmt: skip
    assert parse_booking(dict(zip(rows[0], rows[2], strict=True))).reference == "TB-2"


def test_payments_exports(world: World) -> None:
    client = world.client("robot")
    invoice = insert_invoice(world.conn, payable_amount=Decimal("1019.48"))
    client.post(
        f"/faktura/{invoice}/godkend",
        data=approve_form(session_csrf(client), amount="1019,48", date="23-11-2026"),
    )
    xlsx = _xlsx_rows(client.get("/betalinger/eksport.xlsx").data)
    assert xlsx[0][:6] == (
        "Bilagsnummer",
        "Løbenr.",
        "Fakturanr.",
        "CVR-nr.",
        "Leverandør",
        "Beløb",
    )
    assert xlsx[1][0] == "B-2026-000001"
    assert Decimal(str(xlsx[1][5])) == Decimal("1019.48")
    rows = _csv_rows(client.get("/betalinger/eksport.csv").data)
    assert rows[1][0] == "B-2026-000001" and rows[1][5] == "1.019,48"
    assert rows[1][-1] == "23-11-2026 09:00"


def test_unknown_export_format_is_404(world: World) -> None:
    client = world.client("robot")
    assert client.get("/rekvisitioner/eksport.pdf").status_code == 404


def test_exports_need_a_session(world: World) -> None:
    client = world.client(None)
    assert client.get("/rekvisitioner/eksport.xlsx").status_code == 303
