"""The mock's seed world in Tryton, through proteus and Tryton's own UBL import.

Builds the same plan as ``robot erp seed`` (:func:`mockerp.seed_plan.build_plan`, same seed →
same documents and ground truth) and loads it into a fresh Tryton database:

- the company "Demo Kommune" in DKK (its party carries the municipality's GLN), the minimal
  chart of Tryton's ``account`` module, a fiscal year around the base date, 25 % VAT (UNECE
  ``S``/``VAT``, so ``edocument_ubl`` finds it) and 0 % VAT (``Z``, ``E``);
- one expense account per account string of the world's chart (code = the account string;
  the inactive one closed), and a suspense account "Ukonteret" that imported lines post to
  until the robot sets the account string;
- one expense journal per inbox category (the intake files each e-invoice in its journal);
- the suppliers as parties with their CVR as an identifier;
- a payment method for the invoices' Pay wizard (journal "Bank", account "Bank") and a
  payment journal (``account_payment``, manual) with clearing;
- users from the users file (the same file format as the mock's): ``robot`` in the
  Accounting group only, language English (the labels it finds lists and wizard buttons by),
  ``sagsbehandler`` (Accounting and Payment), ``admin``; the module-configuration wizard
  marked done so nobody meets it at login;
- every document as a draft supplier invoice: through ``edocument.ubl.invoice.parse`` (Tryton's
  own UBL import) when it accepts the file, else built with proteus from the same figures;
  the original file attached to the invoice (the clerk's "original document");
- the history: paid ones validated, posted and paid by ``sagsbehandler``'s payment method,
  manual ones with the hand-over note a clerk wrote;
- the ground truth (the mock's format; Løbenr = the Tryton invoice's id) and the reference
  exports (requisitions, bookings) a case system would produce.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from mockerp.oioubl_write import DocumentSpec, write_document
from mockerp.peppol_write import write_peppol
from mockerp.seed import DEFAULT_BASE_DATE
from mockerp.seed_model import Context, Draft
from mockerp.seed_plan import build_plan
from mockerp.seed_store import MANUAL_NOTES, Stored
from mockerp.seed_truth import truth_document, write_truth
from mockerp.seed_world import World, load_world
from mockerp.users import load_or_create_users_file
from trytonerp import LANGUAGE
from trytonerp.database import TrytonPaths, fresh_database, write_config
from trytonerp.exports import write_exports

JOURNALS = {
    "oevrige": ("Småfakturaer", "SMAA"),
    "laegeerklaering": ("Lægeerklæringer", "LAEG"),
    "tolk": ("Tolkeregninger", "TOLK"),
}
"""Inbox category → (journal name, code): each robot's inbox is its journal's draft invoices."""
SUSPENSE_CODE = "9999"
BANK_CODE = "5810"
MANUAL_MARK = "Manuel behandling:"
"""How a hand-over note starts (the saved filter "Manuel behandling" looks for it)."""
PAYMENT_METHOD = "Bank"


@dataclass
class TrytonSeedResult:
    paths: TrytonPaths
    invoices: int
    by_category: dict[str, int] = field(default_factory=dict)
    via_ubl: int = 0
    via_proteus: int = 0
    history_paid: int = 0
    history_manual: int = 0
    seconds: float = 0.0
    refusals: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        cats = ", ".join(f"{k} {v}" for k, v in sorted(self.by_category.items()))
        return [
            f"Tryton database: {self.paths.db_file} (fresh; name {self.paths.database!r})",
            f"Users: passwords in {self.paths.users_file}",
            f"Invoices: {self.invoices} new ({cats}); "
            f"{self.via_ubl} loaded through Tryton's UBL import, {self.via_proteus} with proteus",
            f"History: {self.history_paid} paid, {self.history_manual} with a person",
            f"Ground truth: {self.paths.truth_file}",
            f"Seeded in {self.seconds:.1f} s",
        ]


def _document_bytes(doc: DocumentSpec) -> bytes:
    return write_peppol(doc) if doc.syntax == "peppol" else write_document(doc)


class _Seeder:
    def __init__(self, world: World, users: dict[str, Any], base: dt.date) -> None:
        from proteus import Model

        self.Model = Model
        self.world = world
        self.users = users
        self.base = base
        self.refusals: list[str] = []
        """Why Tryton's UBL import refused a document (it was keyed in with proteus)."""

    # --- the company and its books ------------------------------------------------------

    def company(self) -> None:
        from trytond.modules.account.tests.tools import create_chart, create_fiscalyear
        from trytond.modules.account_invoice.tests.tools import set_fiscalyear_invoice_sequences
        from trytond.modules.company.tests.tools import create_company, get_company

        Party = self.Model.get("party.party")
        party = Party(name=self.world.municipality_name)
        party.identifiers.new(type=None, code=self.world.buyer_gln)  # GLN: no type of its own
        party.save()
        create_company(party, "DKK")
        self.company_ = get_company()
        create_chart(self.company_)
        for year in (self.base.year - 1, self.base.year, self.base.year + 1):
            fy = create_fiscalyear(self.company_, (dt.date(year, 1, 1), dt.date(year, 12, 31)))
            fy = set_fiscalyear_invoice_sequences(fy)
            fy.click("create_period")
        self._accounts()
        self._taxes()
        self._journals()

    def _account_type(self, *, expense: bool) -> Any:
        Type = self.Model.get("account.account.type")
        if expense:
            return Type.find([("expense", "=", True)], limit=1)[0]
        return Type.find([("statement", "=", "balance"), ("assets", "=", True)], limit=1)[0]

    def _accounts(self) -> None:
        from trytond.modules.account.tests.tools import get_accounts

        Account = self.Model.get("account.account")
        self.base_accounts = get_accounts(self.company_)
        expense = self.base_accounts["expense"]
        for a in self.world.accounts:
            acc = Account(name=a.name, code=a.account_string, type=expense.type)
            acc.parent = expense.parent
            acc.closed = not a.active
            acc.save()
        suspense = Account(name="Ukonteret (afventer kontering)", code=SUSPENSE_CODE)
        suspense.type = expense.type
        suspense.parent = expense.parent
        suspense.save()
        self.suspense = suspense
        bank = self.base_accounts["cash"]
        bank.name, bank.code = "Bank", BANK_CODE
        bank.save()
        self.bank = bank
        Config = self.Model.get("account.configuration")
        config = Config(1)
        config.default_category_account_expense = suspense
        config.default_account_payable = self.base_accounts["payable"]
        config.save()

    def _taxes(self) -> None:
        from trytond.modules.account.tests.tools import create_tax

        for rate, category, name in (
            (Decimal("0.25"), "S", "Moms 25 %"),
            (Decimal("0"), "Z", "Moms 0 % (nulsats)"),
            (Decimal("0"), "E", "Momsfritaget"),
        ):
            tax = create_tax(rate, self.company_)
            tax.name = tax.description = name
            tax.unece_category_code = category
            tax.unece_code = "VAT"
            tax.save()

    def units(self) -> None:
        """Units by UNECE code for the ones the seed's documents use that Tryton lacks (each,
        pack, pair, month): without them its UBL import refuses a line."""
        Uom = self.Model.get("product.uom")
        (unit,) = Uom.find([("unece_code", "=", "C62")], limit=1)
        for code, name, symbol in (
            ("EA", "Each", "stk"),
            ("PK", "Pack", "pk"),
            ("PR", "Pair", "par"),
            ("MON", "Month", "md"),
        ):
            if Uom.find([("unece_code", "=", code)], limit=1):
                continue
            Uom(
                name=name,
                symbol=symbol,
                category=unit.category,
                rate=1.0,
                factor=1.0,
                rounding=0.01,
                digits=2,
                unece_code=code,
            ).save()

    def _journals(self) -> None:
        Journal = self.Model.get("account.journal")
        self.journals: dict[str, Any] = {}
        for category, (name, code) in JOURNALS.items():
            journal = Journal(name=name, code=code, type="expense")
            journal.save()
            self.journals[category] = journal
        (cash,) = Journal.find([("type", "=", "cash")], limit=1)
        cash.name = "Bank"
        cash.save()
        Method = self.Model.get("account.invoice.payment.method")
        method = Method(name=PAYMENT_METHOD, company=self.company_, journal=cash)
        method.credit_account = self.bank
        method.debit_account = self.bank
        method.save()
        self.payment_method = method
        PaymentJournal = self.Model.get("account.payment.journal")
        pj = PaymentJournal(name="Betalinger (NemKonto)", process_method="manual")
        pj.currency = self.company_.currency
        pj.clearing_account = self.bank
        pj.clearing_journal = cash
        pj.save()

    # --- people -------------------------------------------------------------------------

    def suppliers(self) -> None:
        Party = self.Model.get("party.party")
        w = self.world
        self.parties: dict[str, Any] = {}
        for s in (
            *w.small_suppliers,
            *w.unknown_suppliers,
            *w.practices,
            *w.unknown_practices,
            *w.interpreter_suppliers,
            *w.unknown_interpreter_suppliers,
        ):
            if s.cvr in self.parties:
                continue
            party = Party(name=s.name)
            # Plain, without a type: Tryton's dk_cvr type refuses the invalid CVR the seed
            # has on purpose, and edocument_ubl matches an unmapped scheme by the code alone.
            party.identifiers.new(type=None, code=s.cvr)
            party.save()
            self.parties[s.cvr] = party

    def people(self) -> None:
        User = self.Model.get("res.user")
        Group = self.Model.get("res.group")
        Lang = self.Model.get("ir.lang")

        def group(name: str) -> Any:
            (found,) = Group.find([("name", "=", name)])
            return found

        (lang,) = Lang.find([("code", "=", LANGUAGE)])
        groups = {
            "robot": [group("Accounting")],
            "clerk": [group("Accounting"), group("Payment")],
        }
        for login, spec in self.users.items():
            if spec.role == "admin":
                (admin,) = User.find([("login", "=", "admin")])
                admin.password = spec.password
                admin.save()
                continue
            user = User(login=login, name=spec.name, language=lang)
            user.password = spec.password
            Company = self.Model.get("company.company")
            user.companies.append(Company(self.company_.id))
            user.company = Company(self.company_.id)
            user.groups.extend(groups[spec.role])
            user.save()
        Item = self.Model.get("ir.module.config_wizard.item")
        for item in Item.find([]):
            item.state = "done"
            item.save()

    def saved_filter(self) -> None:
        """A saved filter on the supplier invoices: the invoices handed to a person."""
        Search = self.Model.get("ir.ui.view_search")
        Search(
            name="Manuel behandling",
            model="account.invoice",
            domain=json.dumps(
                [
                    ["type", "=", "in"],
                    ["state", "=", "draft"],
                    ["comment", "ilike", f"{MANUAL_MARK}%"],
                ]
            ),
        ).save()

    # --- documents ----------------------------------------------------------------------

    def invoice(self, draft: Draft, data: bytes, file_name: str) -> tuple[Any, bool]:
        """A draft supplier invoice from one document: Tryton's UBL import when it takes it,
        else proteus. Returns the invoice and whether the UBL import made it."""
        Invoice = self.Model.get("account.invoice")
        EInvoice = self.Model.get("edocument.ubl.invoice")
        journal = self.journals[draft.category]
        via_ubl = False
        try:
            invoice_id = EInvoice.parse(data, {"company": self.company_.id})
            _correct_source_untaxed(invoice_id, data)
            invoice = Invoice(invoice_id)
            via_ubl = True
        except Exception as exc:
            self.refusals.append(f"{file_name}: {str(exc).splitlines()[0][:200]}")
            invoice = self._keyed_in(draft)
        invoice.journal = journal
        invoice.save()
        if _match_document_vat(invoice.id, data):
            invoice.reload()
        Attachment = self.Model.get("ir.attachment")
        Attachment(
            name=file_name, type="data", data=data, resource=invoice, description="e-faktura"
        ).save()
        return invoice, via_ubl

    def _keyed_in(self, draft: Draft) -> Any:
        Invoice = self.Model.get("account.invoice")
        Tax = self.Model.get("account.tax")
        doc = draft.doc
        party = self.parties.get(doc.supplier.cvr or "")
        if party is None:
            Party = self.Model.get("party.party")
            party = Party(name=doc.supplier.name)
            party.save()
            self.parties[doc.supplier.cvr or doc.supplier.name] = party
        invoice = Invoice(type="in", party=party, company=self.company_)
        invoice.reference = doc.number
        invoice.invoice_date = doc.issue_date
        sign = Decimal(-1) if doc.doc_type == "credit_note" else Decimal(1)
        # Each line at its amount (quantity 1: the clerk keys the line total, so Tryton's
        # figures are the document's to the øre), then the document's allowances/charges.
        entries = [(spec.name or "-", spec.amount, spec.tax_percent) for spec in doc.lines]
        entries += [
            (
                ac.reason or ("Gebyr" if ac.charge else "Rabat"),
                ac.amount if ac.charge else -ac.amount,
                ac.tax_percent,
            )
            for ac in doc.allowances_charges
        ]
        for description, amount, percent in entries:
            line = invoice.lines.new()
            line.account = self.suspense
            line.description = description
            line.quantity = 1.0
            line.unit_price = (sign * amount).quantize(Decimal("0.0001"))
            taxes = Tax.find([("rate", "=", percent / 100), ("parent", "=", None)], limit=1)
            if taxes:
                line.taxes.append(taxes[0])
        return invoice

    def pay_history(self, invoice: Any, clerk: str) -> None:
        from proteus import Wizard

        invoice.click("post")
        pay = Wizard("account.invoice.pay", [invoice])
        pay.form.payment_method = self.payment_method
        pay.form.date = invoice.invoice_date + dt.timedelta(days=7)
        pay.execute("choice")
        if pay.state == "ask":
            pay.form.type = "writeoff" if False else "partial"
            pay.execute("pay")
        del clerk

    def manual_history(self, invoice: Any, reason: str) -> None:
        note = MANUAL_NOTES.get(reason, "Sendt til manuel behandling.")
        invoice.comment = f"{MANUAL_MARK} {reason}\n{note}"
        invoice.save()


def _correct_source_untaxed(invoice_id: int, data: bytes) -> None:
    """Work around edocument_ubl 8.0.6, which adds the document's charges to (and subtracts
    its allowances from) ``TaxExclusiveAmount`` although that total already holds them
    (EN 16931 BT-109): the invoice's "source" untaxed amount comes out wrong and Tryton then
    refuses to post any invoice with a document-level charge or allowance. The value is set
    to the file's own ``TaxExclusiveAmount``, in one transaction as the administrator."""
    from lxml import etree
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    root = etree.fromstring(data)
    text = root.findtext("./{*}LegalMonetaryTotal/{*}TaxExclusiveAmount")
    has_document_ac = root.find("./{*}AllowanceCharge") is not None
    if text is None or not has_document_ac:
        return
    from proteus.config import get_config

    database = get_config().database_name
    with Transaction().start(database, 0) as transaction:
        Invoice = Pool().get("account.invoice")
        Invoice.write(Invoice.browse([invoice_id]), {"source_untaxed_amount": Decimal(text)})
        transaction.commit()


def _match_document_vat(invoice_id: int, data: bytes) -> bool:
    """Set each VAT line of the draft invoice to the document's own VAT amount
    (``TaxTotal/TaxSubtotal/TaxAmount`` of that rate), as a clerk keying in a supplier
    invoice does, when the two differ by rounding only (at most 0.01 kr a line).

    Tryton rounds VAT half to even (199.70 × 25 % = 49.925 → 49.92); the supplier's document,
    like Danish practice and EN 16931's examples, rounds half up (49.93), so the invoice's
    total in Tryton is 0.01 kr short and the robot rightly refuses to pay an amount other than
    the document's. Tryton keeps an edited VAT amount as long as its base is unchanged
    (``update_taxes`` rewrites a line only when the base differs). Returns whether a line was
    changed; one transaction as the administrator."""
    from lxml import etree
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    root = etree.fromstring(data)
    document: dict[Decimal, Decimal] = {}
    for sub in root.findall("./{*}TaxTotal/{*}TaxSubtotal"):
        percent = sub.findtext("./{*}TaxCategory/{*}Percent")
        amount = sub.findtext("./{*}TaxAmount")
        if percent is not None and amount is not None:
            rate = Decimal(percent.strip()) / 100
            document[rate] = document.get(rate, Decimal(0)) + Decimal(amount.strip())
    if not document:
        return False
    from proteus.config import get_config

    changed = False
    with Transaction().start(get_config().database_name, 0) as transaction:
        pool = Pool()
        invoice = pool.get("account.invoice")(invoice_id)
        InvoiceTax = pool.get("account.invoice.tax")
        for line in invoice.taxes:
            tax_rate = line.tax.rate if line.tax else None
            found: Decimal | None = next((v for k, v in document.items() if k == tax_rate), None)
            if found is None:
                continue
            want = found
            if line.amount < 0:  # a credit note: Tryton's amounts are negative
                want = -want
            if line.amount != want and abs(line.amount - want) <= Decimal("0.01"):
                InvoiceTax.write([line], {"amount": want})
                changed = True
        transaction.commit()
    return changed


def seed_tryton(
    paths: TrytonPaths,
    *,
    invoices: int,
    seed: int,
    cache_dir: Path,
    base_date: dt.date | None = None,
    categories: Iterable[str] | None = None,
) -> TrytonSeedResult:
    """A fresh Tryton database from the seed world (an existing one is replaced)."""
    from proteus import config as proteus_config

    started = time.perf_counter()
    base = base_date or DEFAULT_BASE_DATE
    paths.home.mkdir(parents=True, exist_ok=True)
    users = load_or_create_users_file(paths.users_file)
    world = load_world()
    ctx = Context(rng=random.Random(seed), world=world, base=base)
    plan = build_plan(ctx, invoices)
    wanted = set(categories) if categories else set(JOURNALS)
    if not paths.config_file.exists():
        write_config(paths)
    fresh_database(paths, cache_dir)
    proteus_config.set_trytond(database=paths.database, config_file=str(paths.config_file))
    seeder = _Seeder(world, users, base)
    seeder.company()
    seeder.units()
    seeder.suppliers()
    seeder.people()
    seeder.saved_filter()
    result = TrytonSeedResult(paths=paths, invoices=0)
    stored: list[Stored] = []
    paths.xml_dir.mkdir(parents=True, exist_ok=True)
    drafts = [d for d in plan.history + plan.new if d.category in wanted]
    for index, draft in enumerate(drafts, start=1):
        data = _document_bytes(draft.doc)
        name = f"{index:06d}-{draft.category}-{draft.doc.number}.xml".replace("/", "_")
        (paths.xml_dir / name).write_bytes(data)
        invoice, via_ubl = seeder.invoice(draft, data, name)
        result.via_ubl += via_ubl
        result.via_proteus += not via_ubl
        if draft.history == "betalt":
            seeder.pay_history(invoice, "sagsbehandler")
            result.history_paid += 1
        elif draft.history is not None:
            seeder.manual_history(invoice, draft.expected.reason or "MANUAL_FORMAT")
            result.history_manual += 1
        else:
            result.invoices += 1
        stored.append(Stored(invoice.id, draft))
    result.by_category = dict(Counter(d.category for d in drafts if d.history is None))
    truth = truth_document(stored, seed=seed, invoices=invoices, base_date=base)
    truth["finance_system"] = "tryton"
    write_truth(paths.truth_file, truth)
    write_exports(paths.exports_dir, plan.requisitions, plan.bookings)
    result.refusals = seeder.refusals
    result.seconds = time.perf_counter() - started
    return result
