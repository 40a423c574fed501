"""A believable mix of invoices from the demo municipality's suppliers (fixtures/world.yaml), for
browser tests and screenshots. Deterministic for a given seed; CPR numbers are generated."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from support.db import generated_cpr, insert_invoice

WORLD = Path(__file__).resolve().parents[2] / "src" / "mockerp" / "fixtures" / "world.yaml"
CERTIFICATE_FEES = {
    "LÆ 125": "397.00",
    "LÆ 135": "796.00",
    "LÆ 145": "1544.00",
    "LÆ 265": "1544.00",
}


def _world() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORLD.read_text("utf-8"))
    return loaded


def _payment(supplier: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    kind = supplier.get("payment")
    if kind == "bank":
        return {
            "payment_means_code": "42",
            "bank_reg": supplier["bank_reg"],
            "bank_account": supplier["bank_account"],
        }
    if kind in ("fik71", "fik75"):
        return {
            "payment_means_code": "93",
            "payment_id": kind[3:],
            "instruction_id": f"{rng.randrange(10**14):015d}",
            "creditor_account": supplier["fik_creditor"],
            "bank_reg": None,
            "bank_account": None,
        }
    return {"payment_means_code": "97", "bank_reg": None, "bank_account": None}


def insert_demo_invoices(conn: sqlite3.Connection, count: int, seed: int = 1) -> list[int]:
    world = _world()
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 16, 7, 30, tzinfo=dt.UTC)
    ids: list[int] = []
    for n in range(count):
        received = start + dt.timedelta(hours=5 * n, minutes=rng.randrange(60))
        issued = received.date() - dt.timedelta(days=rng.randrange(1, 4))
        kind = ("oevrige", "laegeerklaering", "oevrige", "tolk")[n % 4]
        common: dict[str, Any] = {
            "received_at": received.isoformat(),
            "issue_date": issued.isoformat(),
            "due_date": (issued + dt.timedelta(days=rng.choice((14, 20, 30)))).isoformat(),
            "invoice_number": f"{rng.randrange(10_000, 99_999)}",
        }
        if n < count - 8 and rng.random() < 0.25:  # some already with a person
            common.update(
                status="manuel",
                manual_reason="MANUAL_SUPPLIER",
                manual_note="Leverandøren er ikke på robottens liste.",
            )
        if kind == "laegeerklaering":
            practice = rng.choice(world["practices"])
            form = rng.choice(sorted(CERTIFICATE_FEES))
            fee = Decimal(CERTIFICATE_FEES[form])
            ids.append(
                insert_invoice(
                    conn,
                    category=kind,
                    supplier_name=practice["name"],
                    supplier_cvr=practice["cvr"],
                    supplier_ydernummer=practice["ydernummer"],
                    line_extension_amount=fee,
                    vat_percent=0,
                    cert_form=form,
                    cert_cpr=generated_cpr(rng),
                    cert_date=issued.isoformat(),
                    cert_interpreter=0,
                    lines=[
                        {"description": f"Lægeerklæring {form}", "item_id": form.replace(" ", "")}
                    ],
                    **_payment(practice, rng),
                    **common,
                )
            )
        elif kind == "tolk":
            supplier = rng.choice(world["interpreter_suppliers"])
            ids.append(
                insert_invoice(
                    conn,
                    category=kind,
                    supplier_name=supplier["name"],
                    supplier_cvr=supplier["cvr"],
                    line_extension_amount=Decimal("1019.48"),
                    interp_booking_ref=f"TB-2026-{rng.randrange(1000, 9999)}",
                    interp_language=rng.choice(("Arabisk", "Somali", "Tigrinya", "Ukrainsk")),
                    interp_date=issued.isoformat(),
                    interp_start="08:00",
                    interp_end="09:40",
                    interp_category="oevrig",
                    interp_transport_minutes="70",
                    interp_km="24",
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
                            "description": "Transporttid 70 min.",
                            "quantity": "3",
                            "unit_price": "92.68",
                            "amount": "278.04",
                            "tax_amount": "69.51",
                        },
                    ],
                    **_payment(supplier, rng),
                    **common,
                )
            )
        else:
            supplier = rng.choice(world["small_suppliers"])
            net = Decimal(rng.randrange(12_000, 380_000)) / 100
            ids.append(
                insert_invoice(
                    conn,
                    category=kind,
                    supplier_name=supplier["name"],
                    supplier_cvr=supplier["cvr"],
                    line_extension_amount=net,
                    accounting_cost=supplier.get("account_string"),
                    lines=[
                        {
                            "description": rng.choice(
                                (
                                    "Kopipapir A4, 5 kasser",
                                    "Rengøring, oktober",
                                    "Toner HP 305A",
                                    "Kaffe og te, mødelokaler",
                                )
                            ),
                            "unit_price": str(net),
                            "amount": str(net),
                        }
                    ],
                    **_payment(supplier, rng),
                    **common,
                )
            )
    return ids
