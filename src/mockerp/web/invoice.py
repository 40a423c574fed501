"""Faktura: one invoice with every field, its lines and history; approval and manual handling."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from flask import Blueprint, Response, request

from mockerp import approval
from mockerp.formatting import (
    show_amount,
    show_date,
    show_number,
    show_percent,
    show_price,
    show_timestamp,
    yes_no,
)
from mockerp.web.guard import MSG_SERVER_ERROR
from mockerp.web.labels import (
    CATEGORIES,
    DOC_TYPES,
    INTERPRETER_CATEGORIES,
    STATUSES,
    label,
    payment_means,
)
from mockerp.web.pages import error_page, note, render, see_other, user_session
from mockerp.web.state import conn, state

bp = Blueprint("invoice", __name__)

MSG_SENT_TO_MANUAL = "Fakturaen er sendt til manuel behandling."


@dataclass(frozen=True)
class Field:
    id: str  # without the "felt-" prefix
    label: str
    value: str


@dataclass(frozen=True)
class Group:
    title: str
    fields: tuple[Field, ...]
    section_id: str = ""


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _syntax(inv: sqlite3.Row) -> str:
    """``Peppol BIS Billing 3.0`` or ``OIOUBL 2.1`` (from the CustomizationID); '' if unknown."""
    if inv["syntax"] == "peppol":
        return "Peppol BIS Billing 3.0"
    if inv["syntax"] == "oioubl":
        custom = _text(inv["customization_id"]).replace("-", " ").strip()
        return custom if custom.upper().startswith("OIOUBL") else "OIOUBL"
    return ""


def _groups(inv: sqlite3.Row, voucher: str) -> list[Group]:
    groups = [
        Group(
            "Dokument",
            (
                Field("loebenr", "Løbenr.", str(inv["id"])),
                Field("dokument-id", "Dokument-ID", inv["document_uuid"]),
                Field("dokumenttype", "Dokumenttype", label(DOC_TYPES, inv["doc_type"])),
                Field("format", "Format", _syntax(inv)),
                Field("kategori", "Kategori", label(CATEGORIES, inv["category"])),
                Field("status", "Status", label(STATUSES, inv["status"])),
                Field("modtaget", "Modtaget", show_date(inv["received_at"])),
                Field("fakturanr", "Fakturanr.", inv["invoice_number"]),
                Field("udstedt", "Fakturadato", show_date(inv["issue_date"])),
                Field("forfald", "Forfaldsdato", show_date(inv["due_date"])),
                Field("valuta", "Valuta", _text(inv["currency"])),
                Field("ordrereference", "Ordrereference", _text(inv["order_reference"])),
                Field(
                    "kontostreng-faktura",
                    "Kontostreng (fra faktura)",
                    _text(inv["accounting_cost"]),
                ),
                Field("note", "Note", _text(inv["note"])),
            ),
        ),
        Group(
            "Leverandør og modtager",
            (
                Field("leverandoer", "Leverandør", inv["supplier_name"]),
                Field("cvr", "CVR-nr.", _text(inv["supplier_cvr"])),
                Field("leverandoer-gln", "Leverandør GLN", _text(inv["supplier_gln"])),
                Field("ydernummer", "Ydernummer", _text(inv["supplier_ydernummer"])),
                Field("koeber-gln", "Modtager GLN (EAN)", _text(inv["buyer_gln"])),
            ),
        ),
        Group(
            "Beløb",
            (
                Field("linjesum", "Linjesum", show_amount(inv["line_extension_amount"])),
                Field("rabatter", "Rabat i alt", show_amount(inv["allowance_total"])),
                Field("gebyrer", "Gebyrer i alt", show_amount(inv["charge_total"])),
                Field(
                    "total-ekskl-moms",
                    "Total ekskl. moms",
                    show_amount(inv["tax_exclusive_amount"]),
                ),
                Field("moms", "Moms", show_amount(inv["tax_amount"])),
                Field("total", "Total inkl. moms", show_amount(inv["tax_inclusive_amount"])),
                Field("forudbetalt", "Forudbetalt", show_amount(inv["prepaid_amount"])),
                Field("afrunding", "Afrunding", show_amount(inv["rounding_amount"])),
                Field("at-betale", "At betale", show_amount(inv["payable_amount"])),
                Field("afregningsvaluta", "Momsvaluta", _text(inv["tax_currency"])),
                Field(
                    "moms-afregningsvaluta",
                    "Moms i momsvaluta",
                    show_amount(inv["tax_amount_tax_currency"]),
                ),
            ),
        ),
        Group(
            "Betaling",
            (
                Field("betalingsform", "Betalingsform", payment_means(inv["payment_means_code"])),
                Field("betalingskode", "Betalingskode", _text(inv["payment_means_code"])),
                Field("regnr", "Reg.nr.", _text(inv["bank_reg"])),
                Field("kontonr", "Kontonr.", _text(inv["bank_account"])),
                Field("fik-kortart", "Kortart", _text(inv["payment_id"])),
                Field("fik-betalings-id", "Betalings-ID", _text(inv["instruction_id"])),
                Field("fik-kreditornr", "Kreditornr.", _text(inv["creditor_account"])),
            ),
        ),
        Group(
            "Behandling",
            (
                Field("bilagsnummer", "Bilagsnummer", voucher),
                Field("manuel-aarsag", "Årsagskode", _text(inv["manual_reason"])),
                Field("manuel-note", "Bemærkning", _text(inv["manual_note"])),
            ),
        ),
    ]
    if inv["category"] == "laegeerklaering":
        groups.append(
            Group(
                "Lægeerklæring",
                (
                    Field("blanket", "Blanket", _text(inv["cert_form"])),
                    Field("cpr", "CPR-nr.", _text(inv["cert_cpr"])),
                    Field("erklaeringsdato", "Erklæringsdato", show_date(inv["cert_date"])),
                    Field("tolk", "Tolk medvirket", yes_no(inv["cert_interpreter"])),
                    Field("variant", "Takstvariant", _text(inv["cert_variant"])),
                ),
                section_id="laegeerklaering",
            )
        )
    if inv["category"] == "tolk":
        groups.append(
            Group(
                "Tolkning",
                (
                    Field(
                        "bestillingsreference",
                        "Bestillingsreference",
                        _text(inv["interp_booking_ref"]),
                    ),
                    Field("sprog", "Sprog", _text(inv["interp_language"])),
                    Field("tolkedato", "Dato", show_date(inv["interp_date"])),
                    Field("starttid", "Starttid", _text(inv["interp_start"])),
                    Field("sluttid", "Sluttid", _text(inv["interp_end"])),
                    Field(
                        "tolkekategori",
                        "Tolkekategori",
                        label(INTERPRETER_CATEGORIES, inv["interp_category"]),
                    ),
                    Field(
                        "transportminutter",
                        "Transport (minutter)",
                        show_number(inv["interp_transport_minutes"]),
                    ),
                    Field("kilometer", "Kilometer", show_number(inv["interp_km"])),
                    Field("aflyst", "Aflyst", yes_no(inv["interp_cancelled"])),
                ),
                section_id="tolkning",
            )
        )
    return groups


def _lines(db: sqlite3.Connection, invoice_id: int) -> list[dict[str, str]]:
    rows = db.execute(
        "SELECT * FROM invoice_lines WHERE invoice_id = ? ORDER BY line_no", (invoice_id,)
    ).fetchall()
    return [
        {
            "nr": _text(r["line_id"]) or str(r["line_no"]),
            "varenr": _text(r["item_id"]),
            "tekst": r["description"],
            "antal": show_number(r["quantity"]),
            "enhed": _text(r["unit_code"]),
            "enhedspris": show_price(r["unit_price"]),
            "prisenhed": show_number(r["base_quantity"]),
            "rabat": show_amount(r["allowance_amount"]),
            "gebyr": show_amount(r["charge_amount"]),
            "beloeb": show_amount(r["amount"]),
            "momskategori": _text(r["tax_category"]),
            "momssats": show_percent(r["tax_percent"]),
            "moms": show_amount(r["tax_amount"]),
        }
        for r in rows
    ]


def _allowances_charges(db: sqlite3.Connection, invoice_id: int) -> list[dict[str, str]]:
    rows = db.execute(
        "SELECT * FROM invoice_allowances_charges WHERE invoice_id = ? ORDER BY seq",
        (invoice_id,),
    ).fetchall()
    return [
        {
            "art": "Gebyr" if r["charge_indicator"] else "Rabat",
            "tekst": _text(r["reason"]),
            "beloeb": show_amount(r["amount"]),
            "momskategori": _text(r["tax_category"]),
            "momssats": show_percent(r["tax_percent"]),
        }
        for r in rows
    ]


def _tax_subtotals(db: sqlite3.Connection, invoice_id: int) -> list[dict[str, str]]:
    rows = db.execute(
        "SELECT * FROM invoice_tax_subtotals WHERE invoice_id = ? ORDER BY seq", (invoice_id,)
    ).fetchall()
    return [
        {
            "momskategori": _text(r["tax_category"]),
            "momssats": show_percent(r["tax_percent"]),
            "grundlag": show_amount(r["taxable_amount"]),
            "moms": show_amount(r["tax_amount"]),
        }
        for r in rows
    ]


def _history(db: sqlite3.Connection, inv: sqlite3.Row) -> list[dict[str, str]]:
    rows = db.execute(
        "SELECT at, username, action FROM invoice_history WHERE invoice_id = ? ORDER BY at, id",
        (inv["id"],),
    ).fetchall()
    out = [
        {"tid": show_timestamp(r["at"]), "bruger": r["username"], "handling": r["action"]}
        for r in rows
    ]
    if not any(r["action"].lower().startswith("modtaget") for r in rows):
        out.insert(
            0,
            {
                "tid": show_timestamp(inv["received_at"]),
                "bruger": "system",
                "handling": f"Modtaget ({inv['source_file']})",
            },
        )
    return out


def _page(
    invoice_id: int,
    *,
    status: int = 200,
    fejlbesked: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    db = conn()
    inv = db.execute("SELECT * FROM invoices WHERE id = ?", (invoice_id,)).fetchone()
    if inv is None:
        return error_page(404, f"Der findes ingen faktura med løbenr. {invoice_id}.")
    paid = db.execute("SELECT voucher FROM payments WHERE invoice_id = ?", (invoice_id,)).fetchone()
    return render(
        "faktura.html",
        status=status,
        fejlbesked=fejlbesked,
        faktura=inv,
        grupper=_groups(inv, paid["voucher"] if paid else ""),
        linjer=_lines(db, invoice_id),
        rabatter_gebyrer=_allowances_charges(db, invoice_id),
        momsspecifikation=_tax_subtotals(db, invoice_id),
        historik=_history(db, inv),
        status_tekst=label(STATUSES, inv["status"]),
        kan_behandles=inv["status"] == "ny",
        er_kreditnota=inv["doc_type"] == "credit_note",
        formular=form or {},
    )


@bp.get("/faktura/<int:loebenr>")
def invoice(loebenr: int) -> Response:
    return _page(loebenr)


@bp.post("/faktura/<int:loebenr>/godkend")
def approve(loebenr: int) -> Response:
    st = state()
    form = approval.ApprovalForm(
        account_string=request.form.get("kontostreng", ""),
        amount=request.form.get("beloeb", ""),
        posting_text=request.form.get("posteringstekst", ""),
        payment_date=request.form.get("betalingsdato", ""),
    )
    try:
        approval.approve(conn(), loebenr, form, user_session().user, st.now(), st.today())
    except approval.NoSuchInvoice:
        return error_page(404, f"Der findes ingen faktura med løbenr. {loebenr}.")
    except approval.Refused as refusal:
        return _page(
            loebenr, status=refusal.status, fejlbesked=refusal.message, form=dict(request.form)
        )
    if st.faults.lost_answer():
        return error_page(500, MSG_SERVER_ERROR)
    return see_other(f"/faktura/{loebenr}/kvittering")


@bp.post("/faktura/<int:loebenr>/manuel")
def manual(loebenr: int) -> Response:
    form = approval.ManualForm(
        reason=request.form.get("aarsagskode", ""), note=request.form.get("bemaerkning", "")
    )
    try:
        approval.send_to_manual(conn(), loebenr, form, user_session().user, state().now())
    except approval.NoSuchInvoice:
        return error_page(404, f"Der findes ingen faktura med løbenr. {loebenr}.")
    except approval.Refused as refusal:
        return _page(
            loebenr, status=refusal.status, fejlbesked=refusal.message, form=dict(request.form)
        )
    if state().faults.lost_answer():
        return error_page(500, MSG_SERVER_ERROR)
    note(MSG_SENT_TO_MANUAL)
    return see_other(f"/faktura/{loebenr}")


@bp.get("/faktura/<int:loebenr>/kvittering")
def receipt(loebenr: int) -> Response:
    row = (
        conn()
        .execute(
            "SELECT p.*, i.invoice_number, i.supplier_name, u.username FROM payments p"
            " JOIN invoices i ON i.id = p.invoice_id JOIN users u ON u.id = p.approved_by"
            " WHERE p.invoice_id = ?",
            (loebenr,),
        )
        .fetchone()
    )
    if row is None:
        return error_page(404, f"Faktura med løbenr. {loebenr} er ikke betalt.")
    return render(
        "kvittering.html",
        betaling={
            "bilagsnummer": row["voucher"],
            "loebenr": str(loebenr),
            "fakturanr": row["invoice_number"],
            "leverandoer": row["supplier_name"],
            "beloeb": show_amount(row["amount"]),
            "betalingsdato": show_date(row["payment_date"]),
            "kontostreng": row["account_string"],
            "posteringstekst": row["posting_text"],
            "godkendt_af": row["username"],
            "tidspunkt": show_timestamp(row["approved_at"]),
        },
    )
