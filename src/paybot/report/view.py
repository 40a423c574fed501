"""What the HTML reports show, built from ``report.json`` data: Danish words, amounts in
Danish notation, times in Copenhagen time, and the proportions the templates draw the SVG
charts with.

Input is the JSON data of a run report (:meth:`paybot.run.report.Report.as_json`, schema 1 or
2; an older report simply shows less). Every text is masked here (:func:`mask_text`) and once
more by the templates' environment. Amounts are ``Decimal`` in the invoice's currency (EN 16931
BT-5; an item without one from a report before schema 3 is DKK when paid, since the rules pay
only DKK, else unknown); ``kr`` texts are Danish (``92.467,47 kr.``). Totals in kr count only
DKK amounts, a credit note negative; other currencies are summed per code beside them and an
amount in an unknown currency is never added to anything (:class:`MoneySum`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from paybot.audit.masking import mask_text
from paybot.domain.calendar import DANISH_TIME
from paybot.domain.money import format_dkk, format_kr

RESULT_DA: dict[str, str] = {
    "paid": "Betalt",
    "manual": "Sendt til manuel behandling",
    "failed": "Fejlet",
    "lost": "Taget over af en anden kørsel",
    "skipped": "Sprunget over",
    "would_pay": "Ville være betalt (prøvekørsel)",
    "would_hand_over": "Ville være sendt til manuel behandling (prøvekørsel)",
}
"""A result (``paybot.run.worker.Result``) in Danish."""

EXIT_DA: dict[int, str] = {
    0: "Kørslen blev gennemført (manuel behandling er et normalt udfald).",
    1: "Nogle fakturaer fejlede og venter til næste kørsel.",
    2: "Fejl i opsætningen: intet blev rørt.",
    3: "Kontrollen før start fejlede (økonomisystem, login, skærmbillede eller revisionssporet): "
    "intet blev rørt.",
    4: "En anden kørsel af robotten var i gang: ikke startet.",
}

WEEKDAYS_DA = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
MONTHS_DA = (
    "januar",
    "februar",
    "marts",
    "april",
    "maj",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "december",
)
SAFE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
"""A screenshot's or run id's name as paybot makes them: no slashes, no ``..``."""
ZERO = Decimal("0.00")
DKK = "DKK"
UNKNOWN_CURRENCY_DA = "ukendt valuta"
PAID_RESULTS = frozenset({"paid", "would_pay"})
"""Results whose amount is DKK also without a currency in the report: the rules pay only DKK
(``check_currency``)."""


def amount_of(value: object) -> Decimal | None:
    """``"1019.48"`` → ``Decimal("1019.48")``; ``None``, ``""`` or anything not a finite
    number → ``None``."""
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def kr(amount: Decimal | None) -> str:
    """``92.467,47 kr.``; ``""`` for no amount."""
    return format_kr(amount) if amount is not None else ""


def currency_of(item: Mapping[str, Any]) -> str | None:
    """An item's currency code (``DKK``, ``EUR``), or ``None`` when unknown. A paid item
    without one (reports before schema 3, a payment found again after a crash) is DKK (see
    :data:`PAID_RESULTS`)."""
    code = str(item.get("currency") or "").strip().upper()
    if code:
        return code
    if str(item.get("result", "")) in PAID_RESULTS:
        return DKK
    return None


def money(amount: Decimal | None, currency: str | None) -> str:
    """``-796,00 kr.``, ``2.296,25 EUR``, ``2.296,25 (ukendt valuta)``; ``""`` for no
    amount. ``amount`` is signed already (a credit note negative)."""
    if amount is None:
        return ""
    if currency == DKK:
        return format_kr(amount)
    return f"{format_dkk(amount)} {currency or f'({UNKNOWN_CURRENCY_DA})'}"


@dataclass
class MoneySum:
    """A sum of amounts in several currencies: ``dkk`` (kroner, ``None`` when no DKK amount
    was added), ``other`` per currency code, and how many amounts had an unknown currency
    (counted, never added)."""

    dkk: Decimal | None = None
    other: dict[str, Decimal] = field(default_factory=dict)
    unknown: int = 0

    def add(self, amount: Decimal | None, currency: str | None) -> None:
        """Add one signed amount; ``None`` adds nothing."""
        if amount is None:
            return
        if currency == DKK:
            self.dkk = (self.dkk or ZERO) + amount
        elif currency:
            self.other[currency] = self.other.get(currency, ZERO) + amount
        else:
            self.unknown += 1

    def __iadd__(self, more: MoneySum) -> MoneySum:
        if more.dkk is not None:
            self.dkk = (self.dkk or ZERO) + more.dkk
        for code, amount in more.other.items():
            self.other[code] = self.other.get(code, ZERO) + amount
        self.unknown += more.unknown
        return self

    @property
    def empty(self) -> bool:
        return self.dkk is None and not self.other and not self.unknown

    @property
    def text(self) -> str:
        """``1.019,48 kr. + 2.296,25 EUR + 1 beløb i ukendt valuta``; ``""`` when empty."""
        parts = [format_kr(self.dkk)] if self.dkk is not None else []
        parts += [money(a, code) for code, a in sorted(self.other.items())]
        if self.unknown:
            parts.append(f"{self.unknown} beløb i {UNKNOWN_CURRENCY_DA}")
        return " + ".join(parts)


def moment_of(iso: object) -> dt.datetime | None:
    """An ISO 8601 moment with a zone, in Copenhagen time; ``None`` otherwise."""
    try:
        moment = dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return None
    return moment.astimezone(DANISH_TIME) if moment.tzinfo else None


def danish_moment(moment: dt.datetime | None) -> str:
    """``30-11-2026 kl. 01:30`` (Copenhagen time)."""
    return f"{moment:%d-%m-%Y} kl. {moment:%H:%M}" if moment else ""


def danish_window(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """``30-11-2026 kl. 01:30–01:42``, or with both dates when the run passed midnight."""
    if start is None:
        return danish_moment(end)
    if end is None:
        return danish_moment(start)
    if start.date() == end.date():
        return f"{danish_moment(start)}–{end:%H:%M}"
    return f"{danish_moment(start)} – {danish_moment(end)}"


def danish_date(day: dt.date) -> str:
    """``mandag 30. november 2026``."""
    return f"{WEEKDAYS_DA[day.weekday()]} {day.day}. {MONTHS_DA[day.month - 1]} {day.year}"


def safe_name(name: object) -> str | None:
    """``name`` when it is a plain file name paybot could have made, else ``None`` (a link
    never leaves the folder it points into)."""
    text = str(name or "")
    if SAFE_FILE.fullmatch(text) and ".." not in text:
        return text
    return None


def _text(value: object) -> str:
    return mask_text(str(value)) if value not in (None, "") else ""


@dataclass
class Row:
    """One invoice in a table of the report."""

    erp_id: int
    business_key: str
    result: str
    result_da: str
    amount: Decimal | None
    """Signed: a credit note's amount is negative."""
    currency: str | None
    """ISO 4217 code (EN 16931 BT-5), ``None`` when unknown."""
    credit_note: bool
    amount_text: str
    """``1.019,48 kr.``, ``-796,00 kr.``, ``2.296,25 EUR``, ``12,00 (ukendt valuta)``."""
    reason: str
    reason_text: str
    note: str
    account_string: str
    voucher: str
    error: str
    screenshot: str | None
    """A link relative to the report (``screenshots/lobenr-19-attempt-3.png``), or ``None``."""
    seconds: float | None


@dataclass
class Bar:
    """One row of the decisions chart: a count and an amount, each with its share (0–1) of
    the largest in the chart, which the template turns into a bar's width."""

    key: str
    label: str
    count: int
    amount: Decimal | None
    """Kroner: the DKK amounts only (credit notes negative); ``None`` when none."""
    amount_text: str
    """All of it: ``1.019,48 kr. + 2.296,25 EUR``."""
    count_share: float = 0.0
    amount_share: float = 0.0


@dataclass
class Timing:
    """One invoice's column in the time chart."""

    erp_id: int
    seconds: float
    result: str
    share: float = 0.0


@dataclass
class ReasonLine:
    code: str
    text: str
    count: int
    amount_text: str


@dataclass
class RunView:
    """One run's report as the templates show it."""

    robot: str
    title: str
    run_id: str
    municipality: str
    dry_run: bool
    trigger: str
    exit_code: int
    exit_da: str
    window: str
    started: dt.datetime | None
    finished: dt.datetime | None
    rule_version: str
    paybot_version: str
    config_checksum: str
    message: str
    warnings: list[str]
    swept: list[str]
    browser_restarts: int
    left: int
    paid: list[Row] = field(default_factory=list)
    handed_over: list[Row] = field(default_factory=list)
    failed: list[Row] = field(default_factory=list)
    skipped: list[Row] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)
    reasons: list[ReasonLine] = field(default_factory=list)
    link_prefix: str = ""
    """What links to files of the run folder start with (``""`` in the run's own report,
    ``../runs/<run-id>/`` in the morning report)."""

    def total(self, key: str) -> tuple[int, Decimal]:
        """Count and amount of one bar (``paid``, ``manual``, …); ``(0, 0)`` when absent."""
        for bar in self.bars:
            if bar.key == key:
                return bar.count, bar.amount or ZERO
        return 0, ZERO

    def money(self, key: str) -> MoneySum:
        """All amounts of the rows behind one bar (``paid``, ``manual``, …), per currency."""
        rows = {
            "paid": self.paid,
            "would_pay": self.paid,
            "manual": self.handed_over,
            "would_hand_over": self.handed_over,
            "failed": self.failed,
            "skipped": self.skipped,
        }.get(key, [])
        return sum_rows(rows)

    @property
    def paid_count(self) -> int:
        return self.total("paid")[0]

    @property
    def paid_amount(self) -> Decimal:
        return self.total("paid")[1]

    @property
    def max_seconds(self) -> float:
        return max((t.seconds for t in self.timings), default=0.0)

    @property
    def mean_seconds(self) -> float:
        return sum(t.seconds for t in self.timings) / len(self.timings) if self.timings else 0.0


def _row(item: Mapping[str, Any], reason_texts: Mapping[str, Any], link_prefix: str) -> Row:
    result = str(item.get("result", ""))
    amount = amount_of(item.get("amount"))
    credit_note = bool(item.get("credit_note"))
    if amount is not None and credit_note:
        amount = -abs(amount)
    currency = currency_of(item)
    reason = str(item.get("reason") or "")
    shot = safe_name(item.get("screenshot"))
    seconds = item.get("seconds")
    return Row(
        erp_id=int(item.get("erp_id", 0)),
        business_key=_text(item.get("business_key")),
        result=result,
        result_da=RESULT_DA.get(result, result),
        amount=amount,
        currency=currency,
        credit_note=credit_note,
        amount_text=money(amount, currency),
        reason=reason,
        reason_text=_text(reason_texts.get(reason, "")),
        note=_text(item.get("note")),
        account_string=_text(item.get("account_string")),
        voucher=_text(item.get("voucher")),
        error=_text(item.get("error")),
        screenshot=f"{link_prefix}screenshots/{shot}" if shot else None,
        seconds=float(seconds) if isinstance(seconds, int | float) else None,
    )


def _shares(bars: list[Bar]) -> None:
    most = max((b.count for b in bars), default=0)
    richest = max((b.amount or ZERO for b in bars), default=ZERO)
    for b in bars:
        b.count_share = b.count / most if most else 0.0
        b.amount_share = float(max(b.amount or ZERO, ZERO) / richest) if richest else 0.0


def run_view(data: Mapping[str, Any], *, link_prefix: str = "") -> RunView:
    """The view of one run's ``report.json`` data. ``link_prefix`` is put before links into
    the run folder (it must end with ``/`` when not empty). Never raises for missing keys."""
    items: list[Mapping[str, Any]] = [i for i in data.get("items") or [] if isinstance(i, dict)]
    texts: Mapping[str, Any] = data.get("reason_texts") or {}
    rows = [_row(i, texts, link_prefix) for i in items]
    by: dict[str, list[Row]] = {}
    for r in rows:
        by.setdefault(r.result, []).append(r)
    started, finished = moment_of(data.get("started_at")), moment_of(data.get("finished_at"))
    code = int(data.get("exit_code", 0))
    view = RunView(
        robot=_text(data.get("robot")),
        title=_text(data.get("title") or data.get("robot")),
        run_id=_text(data.get("run_id")),
        municipality=_text(data.get("municipality")),
        dry_run=bool(data.get("dry_run")),
        trigger=_text(data.get("trigger")),
        exit_code=code,
        exit_da=EXIT_DA.get(code, _text(data.get("exit_meaning"))),
        window=danish_window(started, finished),
        started=started,
        finished=finished,
        rule_version=_text(data.get("rule_version")),
        paybot_version=_text(data.get("paybot_version")),
        config_checksum=_text(data.get("config_checksum")),
        message=_text(data.get("message")),
        warnings=[_text(w) for w in data.get("warnings") or []],
        swept=[_text(w) for w in data.get("swept") or []],
        browser_restarts=int(data.get("browser_restarts") or 0),
        left=int(data.get("left_for_next_run") or 0),
        link_prefix=link_prefix,
    )
    view.paid = by.get("paid", []) + by.get("would_pay", [])
    view.handed_over = by.get("manual", []) + by.get("would_hand_over", [])
    view.failed = by.get("failed", []) + by.get("lost", [])
    view.skipped = by.get("skipped", [])
    keys = ["would_pay", "would_hand_over"] if view.dry_run else ["paid", "manual"]
    for key in [*keys, "failed", "skipped"]:
        group = by.get(key, []) + (by.get("lost", []) if key == "failed" else [])
        total = sum_rows(group)
        view.bars.append(Bar(key, RESULT_DA[key], len(group), total.dkk, total.text))
    view.bars.append(Bar("left", "Venter til næste kørsel", view.left, None, ""))
    _shares(view.bars)
    view.timings = [Timing(r.erp_id, r.seconds, r.result) for r in rows if r.seconds is not None]
    slowest = view.max_seconds
    for t in view.timings:
        t.share = t.seconds / slowest if slowest else 0.0
    view.reasons = reason_lines(view.handed_over, texts)
    return view


def reason_lines(rows: list[Row], texts: Mapping[str, Any]) -> list[ReasonLine]:
    """Per reason code: its Danish text, how many invoices and their amount; most first."""
    codes: dict[str, list[Row]] = {}
    for r in rows:
        codes.setdefault(r.reason or "–", []).append(r)
    lines = []
    for code, group in sorted(codes.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        total = sum_rows(group)
        lines.append(ReasonLine(code, _text(texts.get(code, "")), len(group), total.text))
    return lines


def sum_rows(rows: list[Row]) -> MoneySum:
    """The rows' amounts summed per currency (credit notes negative)."""
    total = MoneySum()
    for r in rows:
        total.add(r.amount, r.currency)
    return total
