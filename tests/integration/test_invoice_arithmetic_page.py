"""Real XML through the importer, the invoice page and the robot's reading to the arithmetic
and payment-means checks: what the page shows is what EN 16931's arithmetic needs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mockerp.oioubl_import import import_paths
from paybot.domain.models import Invoice
from paybot.domain.parsing import parse_invoice
from paybot.domain.rules.common import check_arithmetic, check_payment_means
from paybot.erp import screens
from support.web import read
from support.world import World, make_world

DATA = Path(__file__).resolve().parents[1] / "data"
STANDARD = Decimal("25")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _shown(world: World, path: Path) -> tuple[Invoice, screens.Page]:
    report = import_paths(world.conn, [path])
    assert report.ok, report.lines()
    loebenr = report.imported[0].loebenr
    page = read(world.client("robot").get(f"/faktura/{loebenr}").data)
    return parse_invoice(screens.read_invoice(page)), page


def test_oioubl_document_allowance_and_charge_add_up(world: World) -> None:
    inv, page = _shown(world, DATA / "oioubl" / "valid" / "oioubl21_fik75_allowancecharge.xml")
    assert inv.syntax == "OIOUBL 2.1"
    assert inv.tax_exclusive_amount is None  # OIOUBL's TaxExclusiveAmount holds the VAT
    assert [(ac.charge, ac.amount, ac.reason) for ac in inv.allowances_charges] == [
        (True, Decimal("95.00"), "Fragt"),
        (False, Decimal("50.00"), "Mængderabat"),
    ]
    assert (inv.allowance_total, inv.charge_total) == (Decimal("50.00"), Decimal("95.00"))
    assert inv.lines[1].unit_price == Decimal("65.00")
    assert inv.lines[1].base_quantity == Decimal("2")
    assert [v.tax_category for v in inv.vat_subtotals] == ["S"]
    assert page.has("rabatter-gebyrer") and page.has("momsspecifikation")
    assert check_arithmetic(inv, STANDARD) is None
    assert check_payment_means(inv) is None


def test_oioubl_mixed_vat_in_two_tax_totals(world: World) -> None:
    inv, _ = _shown(world, DATA / "oioubl" / "valid" / "oioubl21_mixed_vat_attachment.xml")
    assert [(ln.tax_category, ln.tax_percent) for ln in inv.lines] == [
        ("Z", Decimal("0")), ("S", Decimal("25"))
    ]
    assert inv.tax_amount == Decimal("32.00")
    assert check_arithmetic(inv, STANDARD) is None
