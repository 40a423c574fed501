"""Medical certificates (lægeerklæringer): docs/rules.md, "Medical certificates".

Notes name the form and dates, never the citizen (no CPR number, no name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Self

from paybot.domain.checks import cvr_valid
from paybot.domain.models import (
    Category,
    CertificateInfo,
    Decision,
    Invoice,
    Manual,
    RegisterEntry,
    Requisition,
)
from paybot.domain.money import format_kr, plain
from paybot.domain.parsing import InvoiceFormatError
from paybot.domain.reasons import Reason
from paybot.domain.rules import keys
from paybot.domain.rules.common import (
    Check,
    Verdict,
    check_account_active,
    check_amount_limit,
    check_credit_note,
    check_currency,
    check_due_not_before_issue,
    check_duplicate,
    check_line_count,
    check_payee_known,
    check_payment_means,
    check_supplier_name,
    date_text,
    first_verdict,
    format_manual,
    manual,
    pay,
    posting_text_certificate,
)
from paybot.domain.rules.config_types import Period
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.medical_certificates_config import (
    MedicalCertificatesConfig,
    Practice,
    Tariff,
)


def invoice_practice_name(practice: Practice | None, invoice: Invoice) -> str:
    return practice.name if practice is not None else invoice.supplier_cvr


def _cpr_digits(cpr: str) -> str:
    return "".join(ch for ch in cpr if ch.isdigit())


class MedicalCertificateRules:
    """Pays a certificate from a known practice that was requested, at the tariff."""

    kind: ClassVar[str] = "medical_certificates"
    category: ClassVar[Category] = Category.CERTIFICATE
    needs_requisitions: ClassVar[bool] = True
    needs_bookings: ClassVar[bool] = False
    check_order: ClassVar[tuple[Reason, ...]] = (
        Reason.FORMAT,
        Reason.TOO_MANY_LINES,
        Reason.CREDIT_NOTE,
        Reason.SUPPLIER,
        Reason.SUPPLIER_NAME,
        Reason.DUPLICATE,
        Reason.FORM,
        Reason.TARIFF_PERIOD,
        Reason.NO_REQUISITION,
        Reason.REQUISITION_CANCELLED,
        Reason.CERTIFICATE_DATE,
        Reason.TARIFF,
        Reason.AMOUNT,
        Reason.DUE_BEFORE_ISSUE,
        Reason.PAYMENT_MEANS,
        Reason.PAYEE_ACCOUNT,
        Reason.ACCOUNT_STRING,
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset(r.value for r in check_order)

    def __init__(self, config: MedicalCertificatesConfig, rule_version: str) -> None:
        self.config = config
        self.rule_version = rule_version
        self._practices = {(p.cvr, p.ydernummer): p for p in config.practices}
        self._before_requisition: tuple[Check, ...] = (
            lambda inv, ctx: check_currency(inv) or self._check_certificate_present(inv),
            lambda inv, ctx: check_line_count(inv, config.max_lines),
            lambda inv, ctx: check_credit_note(inv),
            lambda inv, ctx: self._check_practice(inv),
            lambda inv, ctx: check_supplier_name(inv, self._practice_name(inv)),
            lambda inv, ctx: check_duplicate(ctx),
            lambda inv, ctx: self._check_form(self._cert(inv)),
        )
        self._after_tariff: tuple[Check, ...] = (
            lambda inv, ctx: check_amount_limit(inv, config.max_amount),
            lambda inv, ctx: check_due_not_before_issue(inv),
            lambda inv, ctx: check_payment_means(inv),
            lambda inv, ctx: check_payee_known(
                inv, self._practice(inv), invoice_practice_name(self._practice(inv), inv)
            ),
            lambda inv, ctx: check_account_active(
                config.account_string(self._cert(inv).form),
                ctx,
                f"Der er ingen kontostreng for blanket {self._cert(inv).form} og ingen "
                "standardkontostreng i robottens regler.",
            ),
        )

    @classmethod
    def from_config(cls, data: Mapping[str, Any], rule_version: str) -> Self:
        return cls(MedicalCertificatesConfig.model_validate(data), rule_version)

    def table_periods(self) -> list[tuple[str, Period]]:
        """Every period of the tariff table, named by form (for preflight's warning that a
        table is about to end)."""
        return [(f"takst {t.form}", t) for t in self.config.tariffs]

    # --- the decision ---------------------------------------------------------------------

    def decide(self, invoice: Invoice, ctx: DecisionContext) -> Decision:
        verdict = first_verdict(self._before_requisition, invoice, ctx)
        if verdict is not None:
            return manual(self.kind, self.rule_version, verdict)
        cert = self._cert(invoice)
        tariff = self.config.tariff_on(cert.form, cert.certificate_date)
        assert tariff is not None and tariff.fee is not None  # the form check passed
        requisition = self._matching_requisition(cert, ctx.requisitions)
        if isinstance(requisition, Verdict):
            return manual(self.kind, self.rule_version, requisition)
        verdict = self._check_tariff(invoice, cert, tariff, requisition) or first_verdict(
            self._after_tariff, invoice, ctx
        )
        if verdict is not None:
            return manual(self.kind, self.rule_version, verdict)
        account = self.config.account_string(cert.form)
        assert account is not None
        return pay(
            self.kind,
            self.rule_version,
            invoice,
            ctx,
            account_string=account,
            posting_text=posting_text_certificate(invoice.invoice_number),
            compared={
                "form": cert.form,
                "certificate_date": cert.certificate_date.isoformat(),
                "requisition": requisition.number,
                "requisition_date": requisition.requested_on.isoformat(),
                "tariff": plain(self._expected_fee(cert, tariff, requisition) or Decimal(0)),
            },
        )

    def decide_unreadable(self, error: InvoiceFormatError) -> Manual:
        return format_manual(self.kind, self.rule_version, error)

    # --- duplicates -----------------------------------------------------------------------

    def duplicate_keys(self, invoice: Invoice) -> tuple[str, ...]:
        cert = invoice.certificate
        return keys.present(
            keys.invoice_number_key(invoice.supplier_cvr, invoice.invoice_number),
            keys.certificate_key(invoice.supplier_cvr, cert.cpr, cert.form) if cert else None,
        )

    def register_keys(self, entry: RegisterEntry) -> tuple[str, ...]:
        return keys.present(keys.invoice_number_key(entry.supplier_cvr, entry.invoice_number))

    # --- this robot's own checks ----------------------------------------------------------

    @staticmethod
    def _cert(invoice: Invoice) -> CertificateInfo:
        assert invoice.certificate is not None  # checked first (format)
        return invoice.certificate

    @staticmethod
    def _check_certificate_present(invoice: Invoice) -> Verdict | None:
        if invoice.certificate is not None:
            return None
        return Verdict(
            Reason.FORMAT,
            "format.certificate",
            "Fakturaen mangler oplysninger om lægeerklæringen (blanket, CPR-nr. og "
            "erklæringsdato).",
            {"category": invoice.category.value},
        )

    def _practice(self, invoice: Invoice) -> Practice | None:
        return self._practices.get((invoice.supplier_cvr, (invoice.ydernummer or "").strip()))

    def _practice_name(self, invoice: Invoice) -> dict[str, str]:
        """CVR → the listed name of the practice with the invoice's CVR and ydernummer."""
        practice = self._practice(invoice)
        return {practice.cvr: practice.name} if practice is not None else {}

    def _check_practice(self, invoice: Invoice) -> Verdict | None:
        cvr = invoice.supplier_cvr
        yder = (invoice.ydernummer or "").strip()
        compared = {"cvr": cvr, "ydernummer": yder}
        if not cvr_valid(cvr):
            return Verdict(
                Reason.SUPPLIER,
                "supplier.cvr_check_digit",
                f"CVR-nummeret {cvr} er ugyldigt (8 cifre med modulus 11-kontrol). "
                "Kontrollér lægepraksis.",
                compared,
            )
        if (cvr, yder) not in self._practices:
            shown = f"ydernummer {yder}" if yder else "uden ydernummer"
            name = f"{invoice.supplier_name} " if invoice.supplier_name else ""
            return Verdict(
                Reason.SUPPLIER,
                "supplier.practice_unknown",
                f"Lægepraksis {name}(CVR {cvr}, {shown}) er ikke på robottens liste over "
                "kendte lægepraksis.",
                compared,
            )
        return None

    def _check_form(self, cert: CertificateInfo) -> Verdict | None:
        form, day = cert.form, cert.certificate_date
        compared = {"form": form, "certificate_date": day.isoformat()}
        if form.endswith("1"):
            note = (
                f"Blanket {form} er kommunens anmodningsblanket; lægen skal fakturere "
                f"svarblanketten ({form[:-1]}5)."
            )
            return Verdict(Reason.FORM, "form.request_form", note, compared)
        tariff = self.config.tariff_on(form, day)
        rows = [t for t in self.config.tariffs if t.form == form]
        if tariff is None and rows and not all(t.by_time for t in rows):
            periods = ", ".join(
                f"{date_text(t.valid_from)}-{date_text(t.valid_to) if t.valid_to else ''}"
                for t in rows
            )
            return Verdict(
                Reason.TARIFF_PERIOD,
                "tariff_period.certificate_date",
                f"Erklæringen er dateret {date_text(day)}, men robottens takster for {form} "
                f"gælder kun {periods}. Årets takster skal indlæses i robottens regler, eller "
                "fakturaen behandles manuelt.",
                {**compared, "periods": periods},
            )
        if tariff is None and rows:
            tariff = rows[-1]  # billed by time in every period
        if tariff is not None and tariff.by_time:
            return Verdict(
                Reason.FORM,
                "form.by_time",
                f"Blanket {form} honoreres efter regning (tidsforbrug) og skal godkendes manuelt.",
                compared,
            )
        if tariff is None or not form.endswith("5"):
            return Verdict(
                Reason.FORM,
                "form.no_fixed_fee",
                f"Blanket {form} har ingen fast takst i robottens takstblad på "
                f"erklæringsdatoen {date_text(day)}.",
                compared,
            )
        return None

    @staticmethod
    def _matching_requisition(
        cert: CertificateInfo, requisitions: Sequence[Requisition]
    ) -> Requisition | Verdict:
        """The latest open, un-cancelled requisition for the same citizen and form dated on
        or before the certificate date; else the verdict of docs/rules.md step 6."""
        form, day = cert.form, cert.certificate_date
        citizen = _cpr_digits(cert.cpr)
        same = [r for r in requisitions if _cpr_digits(r.cpr) == citizen and r.form == form]
        usable = [r for r in same if r.open and not r.cancelled]
        compared = {"form": form, "certificate_date": day.isoformat()}
        if not usable:
            cancelled = [r for r in same if r.cancelled]
            if cancelled:
                numbers = ", ".join(sorted(r.number for r in cancelled))
                return Verdict(
                    Reason.REQUISITION_CANCELLED,
                    "requisition.cancelled",
                    f"Kommunens rekvisition af {form} er annulleret (rekvisition {numbers}). "
                    "Kontrollér, om erklæringen skal betales.",
                    {**compared, "requisitions": numbers},
                )
            closed = [r for r in same if not r.open]
            note = (
                f"Der er ingen åben rekvisition af {form} for borgeren; rekvisitionen er lukket "
                f"({', '.join(sorted(r.number for r in closed))})."
                if closed
                else f"Der er ingen rekvisition af {form} for borgeren. Kontrollér, om "
                "kommunen har bestilt erklæringen."
            )
            return Verdict(Reason.NO_REQUISITION, "requisition.none", note, compared)
        dated = [r for r in usable if r.requested_on <= day]
        if not dated:
            first = min(usable, key=lambda r: (r.requested_on, r.number))
            return Verdict(
                Reason.CERTIFICATE_DATE,
                "requisition.after_certificate",
                f"Erklæringen er dateret {date_text(day)}, før kommunens rekvisition "
                f"{first.number} af {date_text(first.requested_on)}.",
                {
                    **compared,
                    "requisition": first.number,
                    "requisition_date": first.requested_on.isoformat(),
                },
            )
        return max(dated, key=lambda r: (r.requested_on, r.number))

    @staticmethod
    def _expected_fee(
        cert: CertificateInfo, tariff: Tariff, requisition: Requisition
    ) -> Decimal | None:
        if cert.variant:
            return tariff.variant_fee(cert.variant)
        if cert.interpreter and requisition.interpreter_approved and tariff.with_interpreter:
            return tariff.with_interpreter
        return tariff.fee

    def _check_tariff(
        self, invoice: Invoice, cert: CertificateInfo, tariff: Tariff, requisition: Requisition
    ) -> Verdict | None:
        amount = invoice.payable_amount
        compared = {
            "form": cert.form,
            "certificate_date": cert.certificate_date.isoformat(),
            "payable_amount": plain(amount),
            "requisition": requisition.number,
        }
        if cert.variant and tariff.variant_fee(cert.variant) is None:
            known = ", ".join(tariff.variants) or "ingen"
            return Verdict(
                Reason.TARIFF,
                "tariff.unknown_variant",
                f"Takstvarianten '{cert.variant}' findes ikke for {cert.form} (kendte: {known}).",
                {**compared, "variant": cert.variant},
            )
        expected = self._expected_fee(cert, tariff, requisition)
        assert expected is not None
        compared["tariff"] = plain(expected)
        if expected == 0:
            return Verdict(
                Reason.TARIFF,
                "tariff.not_paid",
                f"Blanket {cert.form} honoreres ikke (takst 0 kr.), men fakturaen lyder på "
                f"{format_kr(amount)}",
                compared,
            )
        if amount == expected:
            return None
        which = "takstvarianten " + cert.variant if cert.variant else "taksten"
        extra = ""
        if cert.interpreter and not cert.variant:
            if not requisition.interpreter_approved:
                extra = " Rekvisitionen har ikke godkendt tolk, så tolketaksten gælder ikke."
            elif tariff.with_interpreter is None:
                extra = " Blanketten har ingen særskilt takst med tolk."
        return Verdict(
            Reason.TARIFF,
            "tariff.amount",
            f"Beløbet {format_kr(amount)} svarer ikke til {which} for {cert.form} på "
            f"erklæringsdatoen {date_text(cert.certificate_date)}: {format_kr(expected)}" + extra,
            compared,
        )
