"""The screens' contents as docs/finance-system.md lists them, read the way the robots read them."""

from __future__ import annotations

import random
import re
from decimal import Decimal
from pathlib import Path

import pytest

from paybot.domain.parsing import parse_booking, parse_invoice, parse_requisition
from paybot.erp.mockerp import screens
from support.db import generated_cpr, insert_booking, insert_invoice, insert_requisition
from support.web import approve_form, read, session_csrf
from support.world import World, make_world

DOC = Path(__file__).resolve().parents[2] / "docs" / "finance-system.md"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _documented_fields() -> set[str]:
    """Every ``felt-*`` id the contract names."""
    return set(re.findall(r"`felt-([a-z-]+)`", DOC.read_text("utf-8")))


def _certificate(world: World, cpr: str) -> int:
    return insert_invoice(
        world.conn,
        category="laegeerklaering",
        supplier_name="Lægerne i Sundhedshuset I/S",
        supplier_cvr="86483505",
        supplier_ydernummer="057584",
        line_extension_amount=Decimal("796.00"),
        vat_percent=0,
        cert_form="LÆ 135",
        cert_cpr=cpr,
        cert_date="2026-11-10",
        cert_interpreter=0,
        cert_variant=None,
        payment_means_code="93",
        payment_id="71",
        instruction_id="000000012345674",
        creditor_account="85432109",
        bank_reg=None,
        bank_account=None,
        lines=[
            {
                "description": "Lægeerklæring LÆ 135",
                "item_id": "LÆ135",
                "amount": "796.00",
                "unit_price": "796.00",
            }
        ],
    )


def _interpreter(world: World) -> int:
    return insert_invoice(
        world.conn,
        category="tolk",
        supplier_name="Tolkeservice Midt ApS",
        supplier_cvr="11226914",
        line_extension_amount=Decimal("1019.48"),
        interp_booking_ref="TB-2026-0042",
        interp_language="Arabisk",
        interp_date="2026-11-16",
        interp_start="08:00",
        interp_end="09:40",
        interp_category="oevrig",
        interp_transport_minutes="70",
        interp_km="37.5",
        interp_cancelled=0,
        lines=[
            {
                "item_id": "TOLK",
                "description": "Tolkning 08:00-09:40",
                "quantity": "2",
                "unit_code": "HUR",
                "unit_price": "370.72",
                "amount": "741.44",
                "tax_amount": "185.36",
            },
            {
                "item_id": "TRANSPORT",
                "description": "Transport",
                "quantity": "3",
                "unit_price": "92.68",
                "amount": "278.04",
                "tax_amount": "69.51",
            },
        ],
    )


def test_invoice_page_shows_every_documented_field(world: World) -> None:
    cpr = generated_cpr(random.Random(1))
    certificate = _certificate(world, cpr)
    interpreter = _interpreter(world)
    client = world.client("robot")
    shown: set[str] = set()
    for invoice in (certificate, interpreter):
        page = read(client.get(f"/faktura/{invoice}").data)
        assert page.screen == "faktura"
        raw = screens.read_invoice(page)
        shown |= set(raw.fields)
    missing = _documented_fields() - shown
    assert not missing, f"documented but not shown: {sorted(missing)}"


def test_certificate_values_in_danish_formats(world: World) -> None:
    cpr = generated_cpr(random.Random(2))
    invoice = _certificate(world, cpr)
    client = world.client("robot")
    page = read(client.get(f"/faktura/{invoice}").data)
    h1 = page.doc.xpath("//h1")[0].text_content()
    raw = screens.read_invoice(page)
    assert h1 == f"Faktura {raw.get('fakturanr')} fra Lægerne i Sundhedshuset I/S"
    assert raw.get("loebenr") == str(invoice)
    assert raw.get("dokumenttype") == "Faktura"
    assert raw.get("kategori") == "Lægeerklæring"
    assert raw.get("status") == "Ny"
    assert raw.get("at-betale") == "796,00"
    assert raw.get("moms") == "0,00"
    assert raw.get("betalingsform") == "FIK"
    assert raw.get("betalingskode") == "93"
    assert raw.get("fik-kortart") == "71"
    assert raw.get("fik-betalings-id") == "000000012345674"
    assert raw.get("fik-kreditornr") == "85432109"
    assert raw.get("regnr") == ""
    assert raw.get("blanket") == "LÆ 135"
    assert raw.get("cpr") == cpr
    assert raw.get("erklaeringsdato") == "10-11-2026"
    assert raw.get("tolk") == "Nej"
    assert raw.get("ydernummer") == "057584"
    assert page.has("laegeerklaering") and not page.has("tolkning")
    [line] = raw.lines
    assert (line.tekst, line.antal, line.beloeb, line.momssats) == (
        "Lægeerklæring LÆ 135",
        "1",
        "796,00",
        "0",
    )


def test_interpreter_values_and_lines(world: World) -> None:
    invoice = _interpreter(world)
    client = world.client("robot")
    page = read(client.get(f"/faktura/{invoice}").data)
    raw = screens.read_invoice(page)
    assert page.has("tolkning") and not page.has("laegeerklaering")
    assert raw.get("tolkekategori") == "Øvrig tolk"
    assert raw.get("tolkedato") == "16-11-2026"
    assert (raw.get("starttid"), raw.get("sluttid")) == ("08:00", "09:40")
    assert raw.get("transportminutter") == "70"
    assert raw.get("kilometer") == "37,5"
    assert raw.get("aflyst") == "Nej"
    assert raw.get("linjesum") == "1.019,48"
    assert raw.get("at-betale") == "1.274,35"
    assert [(line.varenr, line.antal, line.enhedspris, line.beloeb) for line in raw.lines] == [
        ("TOLK", "2", "370,72", "741,44"),
        ("TRANSPORT", "3", "92,68", "278,04"),
    ]


def test_the_robots_parser_reads_the_invoice_pages(world: World) -> None:
    """The contract end to end: paybot's own parser accepts what the pages show."""
    cpr = generated_cpr(random.Random(3))
    client = world.client("robot")
    for invoice in (_certificate(world, cpr), _interpreter(world), insert_invoice(world.conn)):
        raw = screens.read_invoice(read(client.get(f"/faktura/{invoice}").data))
        parsed = parse_invoice(raw)
        assert parsed.erp_id == invoice
    small = parse_invoice(screens.read_invoice(read(client.get(f"/faktura/{invoice}").data)))
    assert small.payable_amount == Decimal("1250.00")


def test_history_shows_received_paid_and_who(world: World) -> None:
    invoice = insert_invoice(world.conn, source_file="kontorland-0042.xml")
    client = world.client("robot")
    client.post(
        f"/faktura/{invoice}/godkend", data=approve_form(session_csrf(client), date="23-11-2026")
    )
    page = read(client.get(f"/faktura/{invoice}").data)
    rows = screens.table_rows(page, "historik", "haendelse")
    assert [(r["bruger"], r["handling"].split(":")[0]) for r in rows] == [
        ("system", "Modtaget (kontorland-0042.xml)"),
        ("robot", "Godkendt og betalt"),
    ]
    assert rows[0]["tid"] == "20-11-2026 09:15"  # 08:15 UTC is 09:15 in Copenhagen
    assert rows[1]["tid"] == "23-11-2026 09:00"


def test_payments_list_and_filters(world: World) -> None:
    client = world.client("robot")
    csrf = session_csrf(client)
    invoices = [insert_invoice(world.conn, supplier_cvr=cvr) for cvr in ("11111111", "22222222")]
    for invoice in invoices:
        client.post(f"/faktura/{invoice}/godkend", data=approve_form(csrf, date="24-11-2026"))
    page = read(client.get("/betalinger").data)
    assert page.screen == "betalinger"
    rows = screens.table_rows(page, "betalinger", "betaling")
    assert [r["bilagsnummer"] for r in rows] == ["B-2026-000001", "B-2026-000002"]
    assert rows[0] == {
        "bilagsnummer": "B-2026-000001",
        "loebenr": str(invoices[0]),
        "fakturanr": rows[0]["fakturanr"],
        "cvr": "11111111",
        "leverandoer": "Kontorland A/S",
        "beloeb": "1.250,00",
        "betalingsdato": "24-11-2026",
        "kontostreng": "6.45.51-000-2.2",
        "godkendt-af": "robot",
        "tidspunkt": "23-11-2026 09:00",
    }
    by_invoice = screens.table_rows(
        read(client.get(f"/betalinger?loebenr={invoices[1]}").data), "betalinger", "betaling"
    )
    assert [r["bilagsnummer"] for r in by_invoice] == ["B-2026-000002"]
    by_cvr = screens.table_rows(
        read(client.get("/betalinger?cvr=11111111").data), "betalinger", "betaling"
    )
    assert [r["loebenr"] for r in by_cvr] == [str(invoices[0])]


def test_payments_page_through_with_newest_last(world: World) -> None:
    client = world.client("robot")
    csrf = session_csrf(client)
    for _ in range(27):
        invoice = insert_invoice(world.conn)
        client.post(f"/faktura/{invoice}/godkend", data=approve_form(csrf, date="23-11-2026"))
    first = read(client.get("/betalinger").data)
    assert len(screens.table_rows(first, "betalinger", "betaling")) == 25
    assert first.has("naeste-side")
    second = read(client.get("/betalinger?side=2").data)
    rows = screens.table_rows(second, "betalinger", "betaling")
    assert [r["bilagsnummer"] for r in rows] == ["B-2026-000026", "B-2026-000027"]


def test_requisitions_screen_and_filters(world: World) -> None:
    rng = random.Random(4)
    cprs = [generated_cpr(rng) for _ in range(3)]
    insert_requisition(world.conn, cpr=cprs[0], form="LÆ 135", number="REK-1")
    insert_requisition(
        world.conn, cpr=cprs[1], form="LÆ 265", number="REK-2", interpreter_approved=True
    )
    insert_requisition(
        world.conn, cpr=cprs[2], form="LÆ 135", number="REK-3", status="lukket", cancelled=True
    )
    client = world.client("robot")
    page = read(client.get("/rekvisitioner").data)
    assert page.screen == "rekvisitioner"
    rows = screens.table_rows(page, "rekvisitioner", "rekvisition")
    assert rows[1] == {
        "rekvisitionsnr": "REK-2",
        "cpr": cprs[1],
        "blanket": "LÆ 265",
        "dato": "01-11-2026",
        "tolk-godkendt": "Ja",
        "status": "Åben",
        "annulleret": "Nej",
    }
    assert [parse_requisition(r).number for r in rows] == ["REK-1", "REK-2", "REK-3"]
    by_form = screens.table_rows(
        read(client.get("/rekvisitioner?blanket=læ135").data), "rekvisitioner", "rekvisition"
    )
    assert [r["rekvisitionsnr"] for r in by_form] == ["REK-1", "REK-3"]
    by_cpr = screens.table_rows(
        read(client.get(f"/rekvisitioner?cpr={cprs[2].replace('-', '')}").data),
        "rekvisitioner",
        "rekvisition",
    )
    assert [(r["rekvisitionsnr"], r["status"], r["annulleret"]) for r in by_cpr] == [
        ("REK-3", "Lukket", "Ja")
    ]


def test_bookings_screen_and_filters(world: World) -> None:
    insert_booking(world.conn, reference="TB-1", date="2026-11-16", distance_km="18.5")
    insert_booking(
        world.conn,
        reference="TB-2",
        date="2026-11-17",
        category="translatoer",
        mode="video",
        distance_km="0",
        cancelled_at="2026-11-16T15:30:00",
    )
    client = world.client("robot")
    rows = screens.table_rows(
        read(client.get("/tolkebestillinger").data), "tolkebestillinger", "tolkebestilling"
    )
    assert rows == [
        {
            "reference": "TB-1",
            "sprog": "Arabisk",
            "dato": "16-11-2026",
            "start": "08:00",
            "slut": "09:30",
            "kategori": "Øvrig tolk",
            "afstand-km": "18,5",
            "form": "Fremmøde",
            "aflyst": "",
        },
        {
            "reference": "TB-2",
            "sprog": "Arabisk",
            "dato": "17-11-2026",
            "start": "08:00",
            "slut": "09:30",
            "kategori": "Translatør",
            "afstand-km": "0",
            "form": "Video",
            "aflyst": "16-11-2026 15:30",
        },
    ]
    assert [parse_booking(r).reference for r in rows] == ["TB-1", "TB-2"]
    for query in ("dato=17-11-2026", "dato=2026-11-17", "reference=TB-2"):
        found = screens.table_rows(
            read(client.get(f"/tolkebestillinger?{query}").data),
            "tolkebestillinger",
            "tolkebestilling",
        )
        assert [r["reference"] for r in found] == ["TB-2"], query
    assert client.get("/tolkebestillinger?dato=17/11").status_code == 400


def test_chart_of_accounts(world: World) -> None:
    client = world.client("robot")
    page = read(client.get("/kontoplan").data)
    assert page.screen == "kontoplan"
    rows = screens.table_rows(page, "kontoplan", "")
    by_account = {r["kontostreng"]: r for r in rows}
    assert by_account["5.46.60-014-4.0"] == {
        "kontostreng": "5.46.60-014-4.0",
        "navn": "Integration, tolkebistand",
        "aktiv": "Ja",
    }
    assert by_account["6.45.51-000-2.9"]["aktiv"] == "Nej"
    assert not page.has("naeste-side")


def test_every_logged_in_page_has_the_header_and_navigation(world: World) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("clerk")
    for path, screen in [
        ("/indbakke", "indbakke"),
        (f"/faktura/{invoice}", "faktura"),
        ("/betalinger", "betalinger"),
        ("/rekvisitioner", "rekvisitioner"),
        ("/tolkebestillinger", "tolkebestillinger"),
        ("/kontoplan", "kontoplan"),
    ]:
        page = read(client.get(path).data)
        assert page.screen == screen, path
        assert page.text("bruger") == "clerk", path
        missing = page.missing(
            (
                "nav-indbakke",
                "nav-betalinger",
                "nav-rekvisitioner",
                "nav-tolkebestillinger",
                "nav-kontoplan",
                "logout-form",
            )
        )
        assert not missing, f"{path} lacks {missing}"
        assert not page.has("nav-admin")
        forms = page.doc.xpath("//form[@method='post']")
        assert forms and all(f.xpath(".//input[@name='csrf_token']/@value") for f in forms)


def test_invoice_page_has_what_the_robots_preflight_requires(world: World) -> None:
    from paybot.erp.mockerp import locators

    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    page = read(client.get(f"/faktura/{invoice}").data)
    assert page.missing(locators.REQUIRED_ON_INVOICE) == []
    assert read(client.get("/indbakke").data).missing(locators.REQUIRED_ON_INBOX) == []
    assert read(client.get("/kontoplan").data).missing(locators.REQUIRED_ON_CHART) == []
