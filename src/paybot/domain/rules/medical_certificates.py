"""Medical certificates (lægeerklæringer): docs/rules.md, "Medical certificates".

Notes name the form and dates, never the citizen (no CPR number, no name). The duplicate key of
"same practice, citizen and form" is a keyed hash: the rules are built with the installation's
pseudonym key (:class:`~paybot.domain.rules.keys.KeyedHash`) for a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Self

from paybot.domain.checks import cvr_valid
from paybot.domain.models import Category, CertificateInfo, Invoice, Requisition
from paybot.domain.money import format_kr, plain
from paybot.domain.reasons import Reason
from paybot.domain.rules import keys
from paybot.domain.rules.common import (
    Passed,
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
    posting_text_certificate,
)
from paybot.domain.rules.config_types import Period
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.medical_certificates_config import (
    MedicalCertificatesConfig,
    Practice,
    Tariff,
)
from paybot.domain.rules.table import Payment, TableRules


def invoice_practice_name(practice: Practice | None, invoice: Invoice) -> str:
    return practice.name if practice is not None else invoice.supplier_cvr


def _cpr_digits(cpr: str) -> str:
    return "".join(ch for ch in cpr if ch.isdigit())


def _same_citizen_and_form(
    cert: CertificateInfo, requisitions: Sequence[Requisition]
) -> list[Requisition]:
    """The requisitions for the certificate's citizen (CPR compared by its digits) and form."""
    citizen = _cpr_digits(cert.cpr)
    return [r for r in requisitions if _cpr_digits(r.cpr) == citizen and r.form == cert.form]


def _usable(cert: CertificateInfo, requisitions: Sequence[Requisition]) -> list[Requisition]:
    """The open, un-cancelled requisitions for the certificate's citizen and form."""
    return [r for r in _same_citizen_and_form(cert, requisitions) if r.open and not r.cancelled]


def _dated(cert: CertificateInfo, usable: Sequence[Requisition]) -> list[Requisition]:
    return [r for r in usable if r.requested_on <= cert.certificate_date]


def _requisition_compared(cert: CertificateInfo) -> dict[str, str]:
    """What the requisition checks record: the form and date, never the citizen."""
    return {"form": cert.form, "certificate_date": cert.certificate_date.isoformat()}


class MedicalCertificateRules(TableRules):
    """Pays a certificate from a known practice that was requested, at the tariff."""

    kind = "medical_certificates"
    category = Category.CERTIFICATE
    needs_requisitions = True
    config_model = MedicalCertificatesConfig
    config: MedicalCertificatesConfig
    checks = (
        (Reason.FORMAT, lambda r, inv, ctx: check_currency(inv)),
        (Reason.FORMAT, lambda r, inv, ctx: r._check_certificate_present(inv)),
        (Reason.TOO_MANY_LINES, lambda r, inv, ctx: check_line_count(inv, r.config.max_lines)),
        (Reason.CREDIT_NOTE, lambda r, inv, ctx: check_credit_note(inv)),
        (Reason.SUPPLIER, lambda r, inv, ctx: r._check_practice(inv)),
        (Reason.SUPPLIER_NAME, lambda r, inv, ctx: check_supplier_name(inv, r._practice_name(inv))),
        (Reason.DUPLICATE, lambda r, inv, ctx: check_duplicate(ctx, r.duplicate_keys(inv))),
        (Reason.FORM, lambda r, inv, ctx: r._check_form(r._cert(inv))),
        (Reason.TARIFF_PERIOD, lambda r, inv, ctx: r._check_tariff_period(r._cert(inv))),
        (Reason.NO_REQUISITION, lambda r, inv, ctx: r._check_requisition_exists(inv, ctx)),
        (
            Reason.REQUISITION_CANCELLED,
            lambda r, inv, ctx: r._check_requisition_not_cancelled(inv, ctx),
        ),
        (Reason.CERTIFICATE_DATE, lambda r, inv, ctx: r._check_requisition_dated(inv, ctx)),
        (Reason.TARIFF, lambda r, inv, ctx: r._check_tariff(inv, ctx)),
        (Reason.AMOUNT, lambda r, inv, ctx: check_amount_limit(inv, r.config.max_amount)),
        (Reason.DUE_BEFORE_ISSUE, lambda r, inv, ctx: check_due_not_before_issue(inv)),
        (Reason.PAYMENT_MEANS, lambda r, inv, ctx: check_payment_means(inv)),
        (
            Reason.PAYEE_ACCOUNT,
            lambda r, inv, ctx: check_payee_known(
                inv, r._practice(inv), invoice_practice_name(r._practice(inv), inv)
            ),
        ),
        (
            Reason.ACCOUNT_STRING,
            lambda r, inv, ctx: check_account_active(
                r.config.account_string(r._cert(inv).form),
                ctx,
                f"Der er ingen kontostreng for blanket {r._cert(inv).form} og ingen "
                "standardkontostreng i robottens regler.",
            ),
        ),
    )

    needs_pseudonym_key: ClassVar[bool] = True
    """A run needs the pseudonym key (``keyed_hash``) for the certificate duplicate key."""

    def __init__(
        self,
        config: MedicalCertificatesConfig,
        rule_version: str,
        keyed_hash: keys.KeyedHash | None = None,
    ) -> None:
        super().__init__(config, rule_version)
        self._keyed_hash = keyed_hash
        self._practices = {(p.cvr, p.ydernummer): p for p in config.practices}

    @classmethod
    def from_config(
        cls,
        data: Mapping[str, Any],
        rule_version: str,
        *,
        keyed_hash: keys.KeyedHash | None = None,
    ) -> Self:
        """Without ``keyed_hash`` the rules can be checked but not run (``duplicate_keys``
        raises)."""
        return cls(MedicalCertificatesConfig.model_validate(data), rule_version, keyed_hash)

    def table_periods(self) -> list[tuple[str, Period]]:
        """Every period of the tariff table, named by form (for preflight's warning that a
        table is about to end)."""
        return [(f"takst {t.form}", t) for t in self.config.tariffs]

    def payment(self, invoice: Invoice, ctx: DecisionContext) -> Payment:
        cert = self._cert(invoice)
        tariff = self._tariff(cert)
        requisition = self._requisition(cert, ctx)
        account = self.config.account_string(cert.form)
        assert account is not None  # the account string check passed
        return Payment(
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

    # --- duplicates -----------------------------------------------------------------------

    def _keyed(self) -> keys.KeyedHash:
        if self._keyed_hash is None:
            raise RuntimeError(
                "the certificate rules were built without the pseudonym key (keyed_hash); "
                "load them with load_robot_config for a run"
            )
        return self._keyed_hash

    def duplicate_keys(self, invoice: Invoice) -> tuple[str, ...]:
        cert = invoice.certificate
        return keys.present(
            keys.invoice_number_key(invoice.supplier_cvr, invoice.invoice_number),
            keys.certificate_key(invoice.supplier_cvr, cert.cpr, cert.form, self._keyed())
            if cert
            else None,
        )

    def upgrade_stored_key(self, stored: str) -> str | None:
        """The keyed form of a duplicate key stored by an older paybot (unsalted SHA-256),
        ``None`` when ``stored`` is not one (see :func:`keys.upgrade_certificate_key`)."""
        return keys.upgrade_certificate_key(stored, self._keyed())

    # --- this robot's own checks ----------------------------------------------------------

    @staticmethod
    def _cert(invoice: Invoice) -> CertificateInfo:
        assert invoice.certificate is not None  # checked first (format)
        return invoice.certificate

    def _tariff(self, cert: CertificateInfo) -> Tariff:
        tariff = self.config.tariff_on(cert.form, cert.certificate_date)
        assert tariff is not None and tariff.fee is not None  # the form check passed
        return tariff

    def _requisition(self, cert: CertificateInfo, ctx: DecisionContext) -> Requisition:
        """The requisition the certificate answers: the latest usable one dated on or before
        the certificate date (the requisition checks passed)."""
        dated = _dated(cert, _usable(cert, ctx.requisitions))
        assert dated  # the requisition checks passed
        return max(dated, key=lambda r: (r.requested_on, r.number))

    @staticmethod
    def _check_certificate_present(invoice: Invoice) -> Verdict | Passed:
        cert = invoice.certificate
        if cert is not None:
            return Passed(
                "format.certificate",
                {"form": cert.form, "certificate_date": cert.certificate_date.isoformat()},
            )
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

    def _check_tariff_period(self, cert: CertificateInfo) -> Verdict | Passed:
        """The tariff table has a period for the certificate's date; a fixed-fee form dated
        outside every period goes to a person (``MANUAL_TARIFF_PERIOD``): this year's fees
        must be loaded. Records the period found."""
        form, day = cert.form, cert.certificate_date
        compared = {"form": form, "certificate_date": day.isoformat()}
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
        if tariff is None:
            return Passed("tariff_period", compared)
        return Passed(
            "tariff_period",
            {
                **compared,
                "valid_from": tariff.valid_from.isoformat(),
                "valid_to": tariff.valid_to.isoformat() if tariff.valid_to else "",
            },
        )

    def _check_practice(self, invoice: Invoice) -> Verdict | Passed:
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
        return Passed("supplier", compared)

    def _check_form(self, cert: CertificateInfo) -> Verdict | Passed:
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
            return Passed("form", compared)  # a fixed-fee form; its period is the next check
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
        return Passed("form", compared)

    def _check_requisition_exists(self, invoice: Invoice, ctx: DecisionContext) -> Verdict | Passed:
        """Step 6: a requisition of the form for the citizen that is usable (open, not
        cancelled) or cancelled; none at all, or only closed ones → ``MANUAL_NO_REQUISITION``."""
        cert = self._cert(invoice)
        same = _same_citizen_and_form(cert, ctx.requisitions)
        compared = _requisition_compared(cert)
        if _usable(cert, same) or any(r.cancelled for r in same):
            return Passed(
                "requisition.exists",
                {**compared, "requisitions": ", ".join(sorted(r.number for r in same))},
            )
        closed = [r for r in same if not r.open]
        form = cert.form
        note = (
            f"Der er ingen åben rekvisition af {form} for borgeren; rekvisitionen er lukket "
            f"({', '.join(sorted(r.number for r in closed))})."
            if closed
            else f"Der er ingen rekvisition af {form} for borgeren. Kontrollér, om "
            "kommunen har bestilt erklæringen."
        )
        return Verdict(Reason.NO_REQUISITION, "requisition.none", note, compared)

    def _check_requisition_not_cancelled(
        self, invoice: Invoice, ctx: DecisionContext
    ) -> Verdict | Passed:
        """Step 6: when no requisition is usable, any cancelled one decides
        (``MANUAL_REQUISITION_CANCELLED``)."""
        cert = self._cert(invoice)
        same = _same_citizen_and_form(cert, ctx.requisitions)
        usable = _usable(cert, same)
        cancelled = [r for r in same if r.cancelled]
        compared = _requisition_compared(cert)
        if usable or not cancelled:
            return Passed(
                "requisition.not_cancelled",
                {**compared, "usable": ", ".join(sorted(r.number for r in usable))},
            )
        numbers = ", ".join(sorted(r.number for r in cancelled))
        return Verdict(
            Reason.REQUISITION_CANCELLED,
            "requisition.cancelled",
            f"Kommunens rekvisition af {cert.form} er annulleret (rekvisition {numbers}). "
            "Kontrollér, om erklæringen skal betales.",
            {**compared, "requisitions": numbers},
        )

    def _check_requisition_dated(self, invoice: Invoice, ctx: DecisionContext) -> Verdict | Passed:
        """Step 6: a usable requisition dated on or before the certificate date
        (``MANUAL_CERTIFICATE_DATE``); the latest (by date, then number) is the requisition."""
        cert = self._cert(invoice)
        usable = _usable(cert, ctx.requisitions)
        compared = _requisition_compared(cert)
        if _dated(cert, usable):
            chosen = self._requisition(cert, ctx)
            return Passed(
                "requisition.dated",
                {
                    **compared,
                    "requisition": chosen.number,
                    "requisition_date": chosen.requested_on.isoformat(),
                },
            )
        assert usable  # the requisition checks before this one passed
        first = min(usable, key=lambda r: (r.requested_on, r.number))
        return Verdict(
            Reason.CERTIFICATE_DATE,
            "requisition.after_certificate",
            f"Erklæringen er dateret {date_text(cert.certificate_date)}, før kommunens "
            f"rekvisition {first.number} af {date_text(first.requested_on)}.",
            {
                **compared,
                "requisition": first.number,
                "requisition_date": first.requested_on.isoformat(),
            },
        )

    @staticmethod
    def _expected_fee(
        cert: CertificateInfo, tariff: Tariff, requisition: Requisition
    ) -> Decimal | None:
        if cert.variant:
            return tariff.variant_fee(cert.variant)
        if cert.interpreter and requisition.interpreter_approved and tariff.with_interpreter:
            return tariff.with_interpreter
        return tariff.fee

    def _check_tariff(self, invoice: Invoice, ctx: DecisionContext) -> Verdict | Passed:
        cert = self._cert(invoice)
        tariff = self._tariff(cert)
        requisition = self._requisition(cert, ctx)
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
            return Passed("tariff", compared)
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
