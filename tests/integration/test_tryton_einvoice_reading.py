"""The Tryton adapter reads the attached e-invoice as the mock's invoice page shows it: for every
document of a seed (the ones `robot tryton setup` attaches) and the sample files, the typed
invoice from :func:`paybot.erp.tryton.einvoice.read_einvoice` equals the one the robots read
from the mock's page, field by field (the finance system's own fields left out: Løbenr,
status, voucher)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mockerp.oioubl_import import import_paths
from mockerp.oioubl_write import write_document
from mockerp.peppol_write import write_peppol
from mockerp.seed import DEFAULT_BASE_DATE
from mockerp.seed_model import Context
from mockerp.seed_plan import build_plan
from mockerp.seed_world import load_world
from paybot.domain.models import RawInvoice
from paybot.domain.parsing import InvoiceFormatError, parse_invoice
from paybot.erp.mockerp import screens
from paybot.erp.tryton.einvoice import EInvoiceUnreadable, read_einvoice
from support.web import read
from support.world import World, make_world

DATA = Path(__file__).resolve().parents[1] / "data"
OWN_FIELDS = {"loebenr", "status", "bilagsnummer", "manuel-aarsag", "manuel-note", "modtaget"}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def seed_files(folder: Path, invoices: int, seed: int) -> list[Path]:
    ctx = Context(rng=random.Random(seed), world=load_world(), base=DEFAULT_BASE_DATE)
    plan = build_plan(ctx, invoices)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, draft in enumerate(plan.history + plan.new, start=1):
        doc = draft.doc
        path = folder / f"{index:04d}.xml"
        path.write_bytes(write_peppol(doc) if doc.syntax == "peppol" else write_document(doc))
        paths.append(path)
    return paths


def typed(raw: RawInvoice) -> object:
    try:
        return parse_invoice(raw).model_dump(exclude={"erp_id", "status", "voucher"})
    except InvoiceFormatError as exc:
        return ("unreadable", exc.field)


def both(world: World, path: Path) -> tuple[object, object]:
    report = import_paths(world.conn, [path])
    assert report.ok, report.lines()
    loebenr = report.imported[0].loebenr
    page = read(world.client("robot").get(f"/faktura/{loebenr}").data)
    shown = screens.read_invoice(page)
    fields, lines, acs, vat = read_einvoice(path.read_bytes())
    fields |= {"loebenr": str(loebenr), "status": "Ny"}
    attached = RawInvoice(fields=fields, lines=lines, allowances_charges=acs, vat_subtotals=vat)
    mock = RawInvoice(
        fields={k: v for k, v in shown.fields.items() if k not in OWN_FIELDS}
        | {"loebenr": str(loebenr), "status": "Ny"},
        lines=shown.lines,
        allowances_charges=shown.allowances_charges,
        vat_subtotals=shown.vat_subtotals,
    )
    return typed(attached), typed(mock)


def test_every_seed_document_reads_as_on_the_mocks_page(world: World, tmp_path: Path) -> None:
    files = seed_files(tmp_path / "xml", invoices=60, seed=20261130)
    assert len(files) > 60
    differ = []
    for path in files:
        attached, mock = both(world, path)
        if attached != mock:
            differ.append(f"{path.name}: {attached} != {mock}")
    assert differ == []


@pytest.mark.parametrize(
    "path",
    sorted((DATA / "oioubl" / "valid").glob("*.xml"))
    + sorted((DATA / "peppol" / "valid").glob("*.xml")),
    ids=lambda p: p.name,
)
def test_the_sample_files_read_as_on_the_mocks_page(world: World, path: Path) -> None:
    attached, mock = both(world, path)
    assert attached == mock


def test_a_file_that_is_not_an_invoice_is_refused() -> None:
    with pytest.raises(EInvoiceUnreadable):
        read_einvoice(b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>")
    with pytest.raises(EInvoiceUnreadable):
        read_einvoice(b"not xml")
