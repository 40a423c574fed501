"""Approval ("Godkend og betal") and manual handling, with every refusal the contract lists."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest

from support.db import insert_invoice, payments_of
from support.web import HttpClient, approve_form, read, session_csrf
from support.world import PASSWORDS, TODAY, World, make_world

MONDAY = TODAY.strftime("%d-%m-%Y")  # 23-11-2026


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _status(world: World, invoice: int) -> str:
    row = world.conn.execute("SELECT status FROM invoices WHERE id = ?", (invoice,)).fetchone()
    return str(row[0])


def test_approval_pays_once_and_redirects_to_the_receipt(world: World) -> None:
    invoice = insert_invoice(world.conn, payable_amount=Decimal("1019.48"))
    client = world.client("robot")
    form = approve_form(session_csrf(client), amount="1.019,48", date=MONDAY)
    response = client.post(f"/faktura/{invoice}/godkend", data=form)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/faktura/{invoice}/kvittering"

    receipt = read(client.get(response.headers["Location"]).data)
    assert receipt.screen == "kvittering"
    assert receipt.text("bilagsnummer") == "B-2026-000001"
    assert receipt.text("kvittering-loebenr") == str(invoice)

    [payment] = payments_of(world.conn, invoice)
    assert payment["voucher"] == "B-2026-000001"
    assert Decimal(payment["amount"]) == Decimal("1019.48")
    assert payment["payment_date"] == "2026-11-23"
    assert payment["account_string"] == "6.45.51-000-2.2"
    assert _status(world, invoice) == "betalt"

    page = read(client.get(f"/faktura/{invoice}").data)
    assert page.text("felt-status") == "Betalt"
    assert page.text("felt-bilagsnummer") == "B-2026-000001"
    assert not page.has("godkend-form")
    history = [r["action"] for r in world.conn.execute("SELECT action FROM invoice_history")]
    assert history == [
        "Godkendt og betalt: bilag B-2026-000001, 1.019,48 kr., konto 6.45.51-000-2.2"
    ]


def test_vouchers_count_up(world: World) -> None:
    first, second = insert_invoice(world.conn), insert_invoice(world.conn)
    client = world.client("robot")
    csrf = session_csrf(client)
    for invoice in (first, second):
        client.post(f"/faktura/{invoice}/godkend", data=approve_form(csrf, date=MONDAY))
    vouchers = [payments_of(world.conn, i)[0]["voucher"] for i in (first, second)]
    assert vouchers == ["B-2026-000001", "B-2026-000002"]


@pytest.mark.parametrize("typed", ["1.250,00", "1250,00", "1250.00", "1250", "1.250,5"])
def test_typed_amount_formats_are_read(world: World, typed: str) -> None:
    invoice = insert_invoice(world.conn)  # 1.250,00
    client = world.client("robot")
    form = approve_form(session_csrf(client), amount=typed, date=MONDAY)
    assert client.post(f"/faktura/{invoice}/godkend", data=form).status_code == 303
    assert Decimal(payments_of(world.conn, invoice)[0]["amount"]) == Decimal(
        typed.replace(".", "").replace(",", ".") if "," in typed else typed
    )


def test_second_approval_is_refused_with_the_voucher(world: World) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    form = approve_form(session_csrf(client), date=MONDAY)
    client.post(f"/faktura/{invoice}/godkend", data=form)
    again = client.post(f"/faktura/{invoice}/godkend", data=form)
    assert again.status_code == 409
    page = read(again.data)
    assert page.screen == "faktura"
    assert page.error == "Fakturaen er allerede betalt (bilag B-2026-000001)."
    assert len(payments_of(world.conn, invoice)) == 1


def test_the_unique_constraint_refuses_a_second_payment_even_when_the_status_lies(
    world: World,
) -> None:
    """A payment that slipped past the status check (a race) meets the constraint."""
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    form = approve_form(session_csrf(client), date=MONDAY)
    client.post(f"/faktura/{invoice}/godkend", data=form)
    world.conn.execute("UPDATE invoices SET status = 'ny' WHERE id = ?", (invoice,))
    again = client.post(f"/faktura/{invoice}/godkend", data=form)
    assert again.status_code == 409
    assert read(again.data).error == "Fakturaen er allerede betalt (bilag B-2026-000001)."
    assert len(payments_of(world.conn, invoice)) == 1
    assert world.conn.execute("SELECT COUNT(*) FROM invoice_history").fetchone()[0] == 1


def test_concurrent_approvals_over_real_http_pay_exactly_once(world: World) -> None:
    from waitress.server import create_server

    invoice = insert_invoice(world.conn)
    server = create_server(world.app(), host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        clients = [HttpClient(url) for _ in range(6)]
        forms = []
        for c in clients:
            c.login("robot", PASSWORDS["robot"])
            forms.append(approve_form(c.csrf(), date=MONDAY))
        start = threading.Barrier(len(clients))
        statuses: list[int] = []

        def approve(c: HttpClient, form: dict[str, str]) -> None:
            start.wait(timeout=10)
            statuses.append(c.post(f"/faktura/{invoice}/godkend", form, follow=False).status)

        workers = [
            threading.Thread(target=approve, args=p) for p in zip(clients, forms, strict=True)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=30)
    finally:
        server.close()
    assert sorted(statuses) == [303] + [409] * 5
    assert len(payments_of(world.conn, invoice)) == 1


@pytest.mark.parametrize(
    ("amount", "accepted"),
    [("1.250,99", True), ("1.249,01", True), ("1.251,00", False), ("1.249,00", False)],
)
def test_amount_may_differ_by_less_than_one_krone(
    world: World, amount: str, accepted: bool
) -> None:
    invoice = insert_invoice(world.conn)  # payable 1.250,00
    client = world.client("robot")
    response = client.post(
        f"/faktura/{invoice}/godkend",
        data=approve_form(session_csrf(client), amount=amount, date=MONDAY),
    )
    if accepted:
        assert response.status_code == 303
        assert len(payments_of(world.conn, invoice)) == 1
    else:
        assert response.status_code == 422
        assert read(response.data).error == (
            "Beløbet afviger fra fakturaens beløb med 1 kr. eller mere."
        )
        assert payments_of(world.conn, invoice) == []
        assert _status(world, invoice) == "ny"


@pytest.mark.parametrize("account", ["9.99.99-999-9.9", "6.45.51-000-2.9"])
def test_unknown_or_inactive_account_string_is_refused(world: World, account: str) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    response = client.post(
        f"/faktura/{invoice}/godkend",
        data=approve_form(session_csrf(client), account=account, date=MONDAY),
    )
    assert response.status_code == 422
    assert read(response.data).error == "Kontostrengen findes ikke i kontoplanen."
    assert payments_of(world.conn, invoice) == []


@pytest.mark.parametrize(
    "date",
    [
        "28-11-2026",  # Saturday
        "29-11-2026",  # Sunday
        "25-12-2026",  # Christmas Day, a Friday
        "20-11-2026",  # last Friday: before today
    ],
)
def test_payment_date_must_be_a_bank_day_from_today(world: World, date: str) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    response = client.post(
        f"/faktura/{invoice}/godkend", data=approve_form(session_csrf(client), date=date)
    )
    assert response.status_code == 422
    assert read(response.data).error == "Betalingsdatoen skal være en bankdag fra i dag og frem."
    assert payments_of(world.conn, invoice) == []


@pytest.mark.parametrize(
    "date",
    [
        "24-12-2026",  # Christmas Eve, a Thursday: the banks are closed
        "31-12-2026",  # New Year's Eve, a Thursday
        "07-05-2027",  # the Friday after Ascension Day 2027
        "24-12-2027",  # Christmas Eve, a Friday
    ],
)
def test_a_bank_closing_day_is_refused_as_a_bank_would(world: World, date: str) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    response = client.post(
        f"/faktura/{invoice}/godkend", data=approve_form(session_csrf(client), date=date)
    )
    assert response.status_code == 422
    assert "banklukkedag" in read(response.data).error
    assert payments_of(world.conn, invoice) == []


def test_a_later_bank_day_is_accepted(world: World) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    response = client.post(
        f"/faktura/{invoice}/godkend", data=approve_form(session_csrf(client), date="28-12-2026")
    )
    assert response.status_code == 303
    assert payments_of(world.conn, invoice)[0]["payment_date"] == "2026-12-28"


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("kontostreng", "", "Kontostreng"),
        ("beloeb", "", "Beløb"),
        ("beloeb", "1.250", "Beløb"),  # ambiguous: refused rather than guessed
        ("beloeb", "12,345", "Beløb"),
        ("posteringstekst", " ", "Posteringstekst"),
        ("betalingsdato", "2026-11-23", "Betalingsdato"),
        ("betalingsdato", "31-02-2026", "Betalingsdato"),
    ],
)
def test_missing_or_unreadable_fields_are_named(
    world: World, field: str, value: str, label: str
) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    form = approve_form(session_csrf(client), date=MONDAY)
    form[field] = value
    response = client.post(f"/faktura/{invoice}/godkend", data=form)
    assert response.status_code == 422
    page = read(response.data)
    assert page.error == f"Udfyld {label}."
    assert page.screen == "faktura"
    assert payments_of(world.conn, invoice) == []


def test_posting_text_over_50_characters_is_refused(world: World) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    form = approve_form(session_csrf(client), text="x" * 51, date=MONDAY)
    response = client.post(f"/faktura/{invoice}/godkend", data=form)
    assert response.status_code == 422
    assert read(response.data).error == "Posteringsteksten må højst være 50 tegn."


def test_credit_note_cannot_be_approved(world: World) -> None:
    invoice = insert_invoice(world.conn, doc_type="credit_note")
    client = world.client("robot")
    response = client.post(
        f"/faktura/{invoice}/godkend", data=approve_form(session_csrf(client), date=MONDAY)
    )
    assert response.status_code == 422
    assert read(response.data).error == "En kreditnota kan ikke godkendes til betaling."
    assert payments_of(world.conn, invoice) == []


def test_refusal_keeps_what_was_typed(world: World) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    form = approve_form(session_csrf(client), account="1.2.3", date=MONDAY)
    html = client.post(f"/faktura/{invoice}/godkend", data=form).text
    assert 'id="kontostreng" name="kontostreng" value="1.2.3"' in html


def test_unknown_invoice_is_404(world: World) -> None:
    client = world.client("robot")
    response = client.post(
        "/faktura/999/godkend", data=approve_form(session_csrf(client), date=MONDAY)
    )
    assert response.status_code == 404
    assert read(response.data).text("fejlkode") == "404"
    assert read(client.get("/faktura/999").data).screen == "fejl"


# --- manual handling -----------------------------------------------------------------------


def test_manual_handling_records_reason_and_note(world: World) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    response = client.post(
        f"/faktura/{invoice}/manuel",
        data={
            "csrf_token": session_csrf(client),
            "aarsagskode": "MANUAL_AMOUNT",
            "bemaerkning": "Beløbet er over grænsen på 3.000,00 kr.",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/faktura/{invoice}"
    page = read(client.get(f"/faktura/{invoice}").data)
    assert page.info == "Fakturaen er sendt til manuel behandling."
    assert page.text("felt-status") == "Manuel behandling"
    assert page.text("felt-manuel-aarsag") == "MANUAL_AMOUNT"
    assert page.text("felt-manuel-note") == "Beløbet er over grænsen på 3.000,00 kr."
    assert not page.has("manuel-form")
    # the message is shown once
    assert read(client.get(f"/faktura/{invoice}").data).info == ""
    row = world.conn.execute(
        "SELECT status, manual_reason, manual_by FROM invoices WHERE id = ?", (invoice,)
    ).fetchone()
    assert (row["status"], row["manual_reason"]) == ("manuel", "MANUAL_AMOUNT")
    assert row["manual_by"] is not None


def test_manual_invoice_cannot_be_approved(world: World) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    csrf = session_csrf(client)
    client.post(f"/faktura/{invoice}/manuel", data={"csrf_token": csrf, "aarsagskode": "MANUAL_X"})
    response = client.post(f"/faktura/{invoice}/godkend", data=approve_form(csrf, date=MONDAY))
    assert response.status_code == 409
    assert read(response.data).error == (
        "Fakturaen er sendt til manuel behandling og kan ikke godkendes."
    )
    assert payments_of(world.conn, invoice) == []


@pytest.mark.parametrize(
    ("first", "status"), [("betal", "Betalt"), ("manuel", "Manuel behandling")]
)
def test_manual_handling_is_refused_when_not_new(world: World, first: str, status: str) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    csrf = session_csrf(client)
    if first == "betal":
        client.post(f"/faktura/{invoice}/godkend", data=approve_form(csrf, date=MONDAY))
    else:
        client.post(f"/faktura/{invoice}/manuel", data={"csrf_token": csrf, "aarsagskode": "ABC"})
    response = client.post(
        f"/faktura/{invoice}/manuel", data={"csrf_token": csrf, "aarsagskode": "MANUAL_AMOUNT"}
    )
    assert response.status_code == 409
    assert read(response.data).error == f"Fakturaen er ikke længere ny (status: {status})."


@pytest.mark.parametrize("code", ["", "ab", "manual_amount", "MANUAL AMOUNT", "X" * 41])
def test_reason_code_must_have_the_documented_shape(world: World, code: str) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    response = client.post(
        f"/faktura/{invoice}/manuel", data={"csrf_token": session_csrf(client), "aarsagskode": code}
    )
    assert response.status_code == 422
    assert read(response.data).error == "Udfyld Årsagskode."
    assert _status(world, invoice) == "ny"


def test_note_over_1000_characters_is_refused(world: World) -> None:
    invoice = insert_invoice(world.conn)
    client = world.client("robot")
    response = client.post(
        f"/faktura/{invoice}/manuel",
        data={"csrf_token": session_csrf(client), "aarsagskode": "ABC", "bemaerkning": "x" * 1001},
    )
    assert response.status_code == 422
    assert _status(world, invoice) == "ny"
