"""Real XML through the importer, the invoice page and the robot's reading to the arithmetic
and payment-means checks: what the page shows is what EN 16931's arithmetic needs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mockerp.oioubl_import import import_paths
from paybot.domain.models import DocType, Invoice, Manual, Pay
from paybot.domain.parsing import parse_invoice
from paybot.domain.rules import SmallInvoiceRules
from paybot.domain.rules.common import Passed, check_arithmetic, check_payment_means
from paybot.erp.mockerp import screens
from support.domain_builders import context, small_rules
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
    assert isinstance(check_arithmetic(inv, STANDARD), Passed)
    assert isinstance(check_payment_means(inv), Passed)


def test_oioubl_mixed_vat_in_two_tax_totals(world: World) -> None:
    inv, _ = _shown(world, DATA / "oioubl" / "valid" / "oioubl21_mixed_vat_attachment.xml")
    assert [(ln.tax_category, ln.tax_percent) for ln in inv.lines] == [
        ("Z", Decimal("0")), ("S", Decimal("25"))
    ]
    assert inv.tax_amount == Decimal("32.00")
    assert isinstance(check_arithmetic(inv, STANDARD), Passed)


PEPPOL = DATA / "peppol"


def test_peppol_invoice_is_read_checked_and_paid_like_oioubl(world: World) -> None:
    inv, _ = _shown(world, PEPPOL / "valid" / "peppol_bis3_invoice_fik71_allowances.xml")
    assert inv.syntax == "Peppol BIS Billing 3.0"
    assert (inv.supplier_cvr, inv.buyer_gln) == ("20433213", "5798528809575")  # 0184, 0088
    assert inv.tax_exclusive_amount == Decimal("612.10")
    assert inv.rounding_amount == Decimal("-0.13")
    assert inv.lines[0].allowance_amount == Decimal("50.00")
    assert inv.lines[3].base_quantity == Decimal("100")
    assert all(line.tax_amount is None for line in inv.lines)  # Peppol sends no line VAT
    # the FIK in its Peppol form, as the page shows it (DK-R-010/011); the creditor number
    # (PayeeFinancialAccount/ID) is shown as the creditor, not as a bank account
    assert inv.payment.fik_card_type == "71#000000012345674"
    assert (inv.payment.fik_creditor, inv.payment.bank_account) == ("85432109", None)
    assert isinstance(check_arithmetic(inv, STANDARD), Passed)
    assert isinstance(check_payment_means(inv), Passed)
    # Kontorland has agreed a bank account only: a FIK creditor it never gave us goes to a
    # person (read from the Peppol form like the OIOUBL one) ...
    shipped = small_rules()
    refused = shipped.decide(inv, context())
    assert isinstance(refused, Manual) and refused.reason == "MANUAL_PAYEE_ACCOUNT", refused
    # ... and once the creditor is agreed, the Peppol invoice is paid like an OIOUBL one
    suppliers = [
        s.model_copy(update={"fik_creditors": [*s.fik_creditors, "85432109"]})
        if s.cvr == "20433213"
        else s
        for s in shipped.config.suppliers
    ]
    agreed = SmallInvoiceRules(
        shipped.config.model_copy(update={"suppliers": suppliers}), shipped.rule_version
    )
    decision = agreed.decide(inv, context())
    assert isinstance(decision, Pay), decision
    assert decision.amount == Decimal("740.00")


def test_peppol_wrong_category_vat_is_named(world: World) -> None:
    path = PEPPOL / "valid" / "peppol_bis3_invoice_fik71_allowances.xml"
    wrong = world.db_path.parent / "wrong.xml"
    wrong.write_bytes(
        path.read_bytes()
        .replace(b"<cbc:TaxAmount currencyID=\"DKK\">128.03</cbc:TaxAmount>\n      <cac:Tax",
                 b"<cbc:TaxAmount currencyID=\"DKK\">128.05</cbc:TaxAmount>\n      <cac:Tax")
    )
    inv, _ = _shown(world, wrong)
    verdict = check_arithmetic(inv, STANDARD)
    assert verdict is not None and verdict.rule == "arithmetic.vat_category"
    assert verdict.note.startswith(
        "Momsen for kategori S (25 %) er 128,05 kr., men 25 % af 512,10 kr. giver 128,03 kr."
    )


def test_peppol_credit_note(world: World) -> None:
    inv, _ = _shown(world, PEPPOL / "valid" / "peppol_bis3_creditnote_bank.xml")
    assert inv.doc_type is DocType.CREDIT_NOTE
    assert isinstance(check_arithmetic(inv, STANDARD), Passed)
    decision = small_rules().decide(inv, context())
    assert isinstance(decision, Manual) and decision.reason == "MANUAL_CREDIT_NOTE"


def test_vat_in_the_tax_currency_is_kept_apart(world: World) -> None:
    inv, _ = _shown(world, PEPPOL / "valid" / "peppol_bis3_invoice_eur_tax_currency_dkk.xml")
    assert (inv.currency, inv.tax_amount) == ("EUR", Decimal("128.03"))  # not + 955.41
    assert (inv.tax_currency, inv.tax_amount_tax_currency) == ("DKK", Decimal("955.41"))
    assert isinstance(check_arithmetic(inv, STANDARD), Passed)
    decision = small_rules().decide(inv, context())
    assert isinstance(decision, Manual) and decision.reason == "MANUAL_FORMAT"


def test_payment_means_outside_dk_r_005_is_rejected(world: World) -> None:
    report = import_paths(world.conn, [PEPPOL / "invalid" / "peppol_payment_means_30_dk_r_005.xml"])
    assert not report.ok
    assert "'30' is not allowed by DK-R-005" in report.rejected[0][1]
