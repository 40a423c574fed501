"""A second, independent reading of docs/rules.md checks the seed's ground truth.

The oracle below applies each robot's checks in the documented order to what the importer put
in the database (not to the seed's drafts), with the limits and lists from world.yaml. Every new
document's first failing check must be the truth's reason, and every "pay" must pay the
imported payable amount. (Expected interpreter lines come from the seed's calculator, which
test_seed_calc.py checks against the worked example and the rules one by one.)
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from mockerp.seed import seed
from mockerp.seed_calc import Job, danish_holidays, expected_lines, tariff_for
from mockerp.seed_numbers import cpr_birth_date, cvr_valid, gln_valid, luhn_valid
from mockerp.seed_world import World, load_world

CENT = Decimal("0.01")


@dataclass
class Doc:
    row: sqlite3.Row
    lines: list[sqlite3.Row]
    allowances: list[sqlite3.Row] = field(default_factory=list)
    subtotals: list[sqlite3.Row] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.row[key]

    def dec(self, key: str) -> Decimal:
        return Decimal(self.row[key])


class Manual(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text or "")
    except ValueError:
        return None


def _time(text: str | None) -> dt.time | None:
    if not text or not re.fullmatch(r"\d{2}:\d{2}", text):
        return None
    return dt.time.fromisoformat(text)


def _cpr_ok(cpr: str | None) -> bool:
    if not cpr or not re.fullmatch(r"\d{6}-\d{4}", cpr):
        return False
    try:
        cpr_birth_date(cpr)
    except ValueError:
        return False
    return True


def _payment_ok(doc: Doc) -> bool:
    code = doc["payment_means_code"]
    reg, account = doc["bank_reg"] or "", doc["bank_account"] or ""
    if code == "42":
        return bool(re.fullmatch(r"\d{4}", reg) and re.fullmatch(r"\d{1,10}", account))
    if code == "93":
        # OIOUBL: card type, id and creditor apart; Peppol (DK-R-010/011): "71#<id>" and
        # the creditor as the payee account
        creditor = doc["creditor_account"] or account
        if not re.fullmatch(r"8\d{7}", creditor):
            return False
        card, pid = doc["payment_id"] or "", doc["instruction_id"] or ""
        if "#" in card:
            card, _, pid = card.partition("#")
        if card == "71":
            return len(pid) == 15 and luhn_valid(pid)
        if card == "75":
            return len(pid) == 16 and luhn_valid(pid)
        return card == "73" and not pid
    if code == "97":
        return True
    if code == "50":
        return bool(re.fullmatch(r"\d{1,10}", account))
    return False


def _opt(value: str | None) -> Decimal:
    return Decimal(value) if value not in (None, "") else Decimal(0)


_SHORT_FORMS = {"aktieselskab": "a/s", "anpartsselskab": "aps", "interessentskab": "i/s"}


def _same_name(a: str, b: str) -> bool:
    """Case, spaces, punctuation and a spelled-out legal form aside, the same words."""

    def plain(name: str) -> str:
        words = [_SHORT_FORMS.get(w, w) for w in name.lower().split()]
        return "".join(ch for ch in "".join(words) if ch.isalnum())

    return plain(a) == plain(b) != ""


def _has_cpr(text: str) -> bool:
    for m in re.finditer(r"(?<![\d-])(\d{6})-?(\d{4})(?![\d-])", text):
        if _cpr_ok(f"{m[1]}-{m[2]}"):
            return True
    return False


def _payee_known(doc: Doc, payee: Any) -> bool:
    code = doc["payment_means_code"]
    if code == "42":
        return payee.kind == "bank" and (
            doc["bank_reg"],
            (doc["bank_account"] or "").zfill(10),
        ) == (payee.bank_reg, (payee.bank_account or "").zfill(10))
    if code == "93":
        return payee.kind.startswith("fik") and doc["creditor_account"] == payee.fik_creditor
    if code == "50":
        return payee.kind == "giro" and doc["bank_account"] == payee.giro_account
    return True


def _arithmetic_ok(doc: Doc, vat_percent: Decimal) -> bool:
    """EN 16931 as docs/rules.md states it: line net within an øre, VAT per category on the
    category's taxable amount rounded once, stated sums exact."""
    taxable: dict[tuple[str, Decimal], Decimal] = {}

    def key(category: str | None, percent: str | None) -> tuple[str, Decimal]:
        rate = Decimal(percent) if percent not in (None, "") else vat_percent
        return (category or ("S" if rate > 0 else "Z"), rate.normalize() + 0)

    for line in doc.lines:
        amount = Decimal(line["amount"])
        base = _opt(line["base_quantity"]) or Decimal(1)
        net = Decimal(line["quantity"]) * Decimal(line["unit_price"]) / base
        net += _opt(line["charge_amount"]) - _opt(line["allowance_amount"])
        if abs(net - amount) > CENT:
            return False
        k = key(line["tax_category"], line["tax_percent"])
        if (k[0] == "S") != (k[1] == vat_percent) or (k[0] != "S" and k[1] != 0):
            return False
        if line["tax_amount"] is not None and abs(amount * k[1] / 100 - Decimal(
            line["tax_amount"]
        )) > CENT:
            return False
        taxable[k] = taxable.get(k, Decimal(0)) + amount
    net_total = sum((Decimal(line["amount"]) for line in doc.lines), Decimal(0))
    if net_total != doc.dec("line_extension_amount"):
        return False
    for ac in doc.allowances:
        k = key(ac["tax_category"], ac["tax_percent"])
        sign = 1 if ac["charge_indicator"] else -1
        taxable[k] = taxable.get(k, Decimal(0)) + sign * Decimal(ac["amount"])
        net_total += sign * Decimal(ac["amount"])
    if doc["tax_exclusive_amount"] is not None and doc.dec("tax_exclusive_amount") != net_total:
        return False
    vat_by_key = {
        k: (v * k[1] / 100).quantize(CENT, rounding=ROUND_HALF_UP) for k, v in taxable.items()
    }
    for sub in doc.subtotals:
        k = key(sub["tax_category"], sub["tax_percent"])
        if k not in vat_by_key or abs(Decimal(sub["tax_amount"]) - vat_by_key[k]) > CENT:
            return False
    vat = doc.dec("tax_amount")
    if doc.subtotals:
        if vat != sum((Decimal(sub["tax_amount"]) for sub in doc.subtotals), Decimal(0)):
            return False
    elif abs(vat - sum(vat_by_key.values(), Decimal(0))) > CENT * len(vat_by_key):
        return False
    total = net_total + vat
    payable = total - _opt(doc["prepaid_amount"]) + _opt(doc["rounding_amount"])
    return doc.dec("payable_amount") == payable and doc.dec("tax_inclusive_amount") == total


class Oracle:
    def __init__(self, conn: sqlite3.Connection, world: World) -> None:
        self.conn = conn
        self.world = world
        self.active = world.active_accounts()
        self.holidays = danish_holidays(range(2020, 2030))
        self.docs: list[Doc] = []
        for row in conn.execute("SELECT * FROM invoices ORDER BY id"):
            lines = conn.execute(
                "SELECT * FROM invoice_lines WHERE invoice_id = ? ORDER BY line_no", (row["id"],)
            ).fetchall()
            allowances = conn.execute(
                "SELECT * FROM invoice_allowances_charges WHERE invoice_id = ? ORDER BY seq",
                (row["id"],),
            ).fetchall()
            subtotals = conn.execute(
                "SELECT * FROM invoice_tax_subtotals WHERE invoice_id = ? ORDER BY seq",
                (row["id"],),
            ).fetchall()
            self.docs.append(Doc(row, lines, allowances, subtotals))

    def earlier(self, doc: Doc) -> list[Doc]:
        return [d for d in self.docs if d["id"] < doc["id"] and d["category"] == doc["category"]]

    def common(self, doc: Doc, extra_required: list[str]) -> None:
        required = ["invoice_number", "issue_date", "supplier_cvr", "payable_amount"]
        if any(not doc[k] for k in required + extra_required) or doc["currency"] != "DKK":
            raise Manual("MANUAL_FORMAT")
        if len(doc.lines) > self.world.small.max_lines:  # the same limit for every robot
            raise Manual("MANUAL_TOO_MANY_LINES")
        if doc["doc_type"] == "credit_note":
            raise Manual("MANUAL_CREDIT_NOTE")

    def decide(self, doc: Doc) -> tuple[str, Decimal | None, str | None]:
        try:
            account = {
                "oevrige": self.small,
                "laegeerklaering": self.certificate,
                "tolk": self.interpreter,
            }[doc["category"]](doc)
        except Manual as manual:
            return manual.reason, None, None
        return "pay", doc.dec("payable_amount"), account

    def small(self, doc: Doc) -> str:
        rules = self.world.small
        self.common(doc, [])
        gln = doc["buyer_gln"] or ""
        if not gln_valid(gln) or gln != self.world.buyer_gln:
            raise Manual("MANUAL_BUYER")
        suppliers = {s.cvr: s for s in self.world.small_suppliers}
        cvr = doc["supplier_cvr"]
        if not cvr_valid(cvr) or cvr not in suppliers:
            raise Manual("MANUAL_SUPPLIER")
        if not _same_name(doc["supplier_name"], suppliers[cvr].name):
            raise Manual("MANUAL_SUPPLIER_NAME")
        for other in self.earlier(doc):
            same_number = other["invoice_number"] == doc["invoice_number"]
            same_amount_day = (
                other.dec("payable_amount") == doc.dec("payable_amount")
                and other["issue_date"] == doc["issue_date"]
            )
            if other["supplier_cvr"] == cvr and (same_number or same_amount_day):
                raise Manual("MANUAL_DUPLICATE")
        texts = [doc["note"] or "", *(line["description"] for line in doc.lines)]
        if any(_has_cpr(text) for text in texts):
            raise Manual("MANUAL_PERSONAL_DATA")
        if not 0 < doc.dec("payable_amount") <= rules.max_amount:
            raise Manual("MANUAL_AMOUNT")
        if not _arithmetic_ok(doc, rules.vat_percent):
            raise Manual("MANUAL_ARITHMETIC")
        due, issue = _date(doc["due_date"]), _date(doc["issue_date"])
        assert issue is not None
        if due is not None and due < issue:
            raise Manual("MANUAL_DUE_BEFORE_ISSUE")
        if due is None or due > issue + dt.timedelta(days=rules.max_payment_terms_days):
            raise Manual("MANUAL_DUE_DATE")
        if not _payment_ok(doc):
            raise Manual("MANUAL_PAYMENT_MEANS")
        if not _payee_known(doc, suppliers[cvr].payee):
            raise Manual("MANUAL_PAYEE_ACCOUNT")
        account = suppliers[cvr].account_string or self.world.order_references.get(
            doc["order_reference"] or ""
        )
        if account is None or account not in self.active:
            raise Manual("MANUAL_ACCOUNT_STRING")
        return account

    def certificate(self, doc: Doc) -> str:
        rules = self.world.certificates
        self.common(doc, ["cert_form"])
        if not _cpr_ok(doc["cert_cpr"]) or _date(doc["cert_date"]) is None:
            raise Manual("MANUAL_FORMAT")
        cvr, form, cpr = doc["supplier_cvr"], doc["cert_form"], doc["cert_cpr"]
        cert_date = _date(doc["cert_date"])
        assert cert_date is not None
        practices = {(p.cvr, p.ydernummer) for p in self.world.practices}
        if not cvr_valid(cvr) or (cvr, doc["supplier_ydernummer"]) not in practices:
            raise Manual("MANUAL_SUPPLIER")
        for other in self.earlier(doc):
            if other["supplier_cvr"] == cvr and (
                other["invoice_number"] == doc["invoice_number"]
                or (other["cert_cpr"] == cpr and other["cert_form"] == form)
            ):
                raise Manual("MANUAL_DUPLICATE")
        tariff = tariff_for(rules, form, cert_date)
        periods = [t for t in rules.tariffs if t.form == form]
        ended = tariff is None and periods and not all(t.by_time for t in periods)
        if form.endswith("5") and ended:
            raise Manual("MANUAL_TARIFF_PERIOD")
        if not form.endswith("5") or tariff is None or tariff.by_time or tariff.fee is None:
            raise Manual("MANUAL_FORM")
        candidates = self.conn.execute(
            "SELECT * FROM requisitions WHERE cpr = ? AND form = ?", (cpr, form)
        ).fetchall()
        usable = [
            r
            for r in candidates
            if r["status"] == "aaben"
            and not r["cancelled"]
            and dt.date.fromisoformat(r["requested_on"]) <= cert_date
        ]
        if not usable:
            if any(r["cancelled"] for r in candidates):
                raise Manual("MANUAL_REQUISITION_CANCELLED")
            if any(r["status"] == "aaben" for r in candidates):
                raise Manual("MANUAL_CERTIFICATE_DATE")
            raise Manual("MANUAL_NO_REQUISITION")
        approved = any(r["interpreter_approved"] for r in usable)
        variant = doc["cert_variant"]
        if variant:
            fee = (tariff.variants or {}).get(variant)
        elif doc["cert_interpreter"] and approved and tariff.with_interpreter is not None:
            fee = tariff.with_interpreter
        else:
            fee = tariff.fee
        if fee is None or fee == 0 or doc.dec("payable_amount") != fee:
            raise Manual("MANUAL_TARIFF")
        if not 0 < doc.dec("payable_amount") <= rules.max_amount:
            raise Manual("MANUAL_AMOUNT")
        if not _payment_ok(doc):
            raise Manual("MANUAL_PAYMENT_MEANS")
        account = rules.account_string(form)
        if account not in self.active:
            raise Manual("MANUAL_ACCOUNT_STRING")
        return account

    def interpreter(self, doc: Doc) -> str:
        contract = self.world.interpreter
        self.common(
            doc,
            [
                "interp_booking_ref",
                "interp_language",
                "interp_date",
                "interp_start",
                "interp_end",
                "interp_category",
            ],
        )
        day = _date(doc["interp_date"])
        start, end = _time(doc["interp_start"]), _time(doc["interp_end"])
        if day is None or start is None or end is None:
            raise Manual("MANUAL_FORMAT")
        cvr, ref = doc["supplier_cvr"], doc["interp_booking_ref"]
        if not cvr_valid(cvr) or cvr not in {s.cvr for s in self.world.interpreter_suppliers}:
            raise Manual("MANUAL_SUPPLIER")
        for other in self.earlier(doc):
            if (
                other["supplier_cvr"] == cvr and other["invoice_number"] == doc["invoice_number"]
            ) or other["interp_booking_ref"] == ref:
                raise Manual("MANUAL_DUPLICATE")
        booking = self.conn.execute("SELECT * FROM bookings WHERE reference = ?", (ref,)).fetchone()
        if (
            booking is None
            or booking["language"].casefold() != doc["interp_language"].casefold()
            or booking["date"] != doc["interp_date"]
            or booking["category"] != doc["interp_category"]
        ):
            raise Manual("MANUAL_BOOKING")
        planned = dt.datetime.combine(day, dt.time.fromisoformat(booking["planned_start"]))
        cancelled_at = booking["cancelled_at"]
        if doc["interp_cancelled"]:
            if cancelled_at is None or planned - dt.datetime.fromisoformat(
                cancelled_at
            ) >= dt.timedelta(hours=contract.late_cancellation_hours):
                raise Manual("MANUAL_CANCELLATION")
        elif cancelled_at is not None:
            raise Manual("MANUAL_CANCELLATION")
        if not doc["interp_cancelled"] and dt.datetime.combine(day, start) - planned > dt.timedelta(
            minutes=contract.late_arrival_minutes
        ):
            raise Manual("MANUAL_LATE")
        job = Job(
            date=day,
            start=start,
            end=end,
            category=booking["category"],
            language=booking["language"],
            mode=booking["mode"],
            distance_km=Decimal(booking["distance_km"]),
            transport_minutes=int(doc["interp_transport_minutes"] or 0),
            km=Decimal(doc["interp_km"] or 0),
            cancelled=bool(doc["interp_cancelled"]),
        )
        wanted = {
            line.item_id: (line.quantity, line.amount)
            for line in expected_lines(contract, job, self.holidays)
        }
        billed = {
            line["item_id"]: (Decimal(line["quantity"]), Decimal(line["amount"]))
            for line in doc.lines
        }
        if set(wanted) != set(billed) or any(
            wanted[k][0] != billed[k][0] or abs(wanted[k][1] - billed[k][1]) > CENT for k in wanted
        ):
            raise Manual("MANUAL_CONTRACT")
        if not _arithmetic_ok(doc, contract.vat_percent):
            raise Manual("MANUAL_ARITHMETIC")
        if not 0 < doc.dec("payable_amount") <= contract.max_amount:
            raise Manual("MANUAL_AMOUNT")
        if not _payment_ok(doc):
            raise Manual("MANUAL_PAYMENT_MEANS")
        if contract.account_string not in self.active:
            raise Manual("MANUAL_ACCOUNT_STRING")
        return contract.account_string


def _seeded(tmp: Path, invoices: int, seed_value: int, base: str) -> tuple[Path, dict[str, Any]]:
    db = tmp / "demo.db"
    result = seed(db, invoices=invoices, seed=seed_value, base_date=base)
    return db, json.loads(result.truth_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("invoices", "seed_value", "base"),
    [(60, 1, "2026-11-02"), (200, 2, "2026-11-02"), (150, 99, "2027-04-05"), (7, 5, "2026-06-15")],
)
def test_an_independent_reading_of_the_rules_agrees_with_the_truth(
    tmp_path: Path, invoices: int, seed_value: int, base: str
) -> None:
    db, truth = _seeded(tmp_path, invoices, seed_value, base)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        oracle = Oracle(conn, load_world())
        by_id = {d["id"]: d for d in oracle.docs}
        disagreements = []
        for entry in truth["documents"]:
            if entry["status"] != "ny":
                continue
            doc = by_id[entry["loebenr"]]
            decision, amount, account = oracle.decide(doc)
            expected = entry["expected"]
            if expected["decision"] == "pay":
                got = (decision, amount, account)
                want = ("pay", Decimal(expected["amount"]), expected["account_string"])
            else:
                got, want = (decision, None, None), (expected["reason"], None, None)
            if got != want:
                disagreements.append(f"{entry['loebenr']} {entry['case']}: {got} != {want}")
        assert disagreements == []
    finally:
        conn.close()


def test_the_oracle_notices_a_broken_invoice(tmp_path: Path) -> None:
    db, truth = _seeded(tmp_path, 60, 1, "2026-11-02")
    pays = {
        e["category"]: e["loebenr"]
        for e in truth["documents"]
        if e["status"] == "ny" and e["expected"]["decision"] == "pay"
    }
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("UPDATE invoices SET currency = 'SEK' WHERE id = ?", (pays["oevrige"],))
        conn.execute(
            "UPDATE invoices SET payable_amount = '1.00' WHERE id = ?", (pays["laegeerklaering"],)
        )
        conn.execute(
            "UPDATE invoices SET interp_language = 'Klingon' WHERE id = ?", (pays["tolk"],)
        )
        oracle = Oracle(conn, load_world())
        by_id = {d["id"]: d for d in oracle.docs}
        assert oracle.decide(by_id[pays["oevrige"]])[0] == "MANUAL_FORMAT"
        assert oracle.decide(by_id[pays["laegeerklaering"]])[0] == "MANUAL_TARIFF"
        assert oracle.decide(by_id[pays["tolk"]])[0] == "MANUAL_BOOKING"
    finally:
        conn.close()
