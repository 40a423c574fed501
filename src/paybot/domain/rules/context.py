"""What a rule may know besides the invoice: today, the chart of accounts, reference data.

The runner fills it in; the rules never fetch anything themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from paybot.domain.calendar import DEFAULT_CALENDAR, BankCalendar
from paybot.domain.models import Booking, Requisition


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionContext:
    today: dt.date
    """The run's date (the payment date is computed from it)."""
    active_accounts: frozenset[str]
    """Account strings that are active in the finance system's chart of accounts."""
    duplicate_of: str | None = None
    """A short Danish description of the earlier document this one duplicates, e.g.
    ``"løbenr. 17 (samme CVR og fakturanummer)"``; ``None`` when it is not a duplicate."""
    requisitions: Sequence[Requisition] = ()
    """Certificates: every requisition for the invoice's CPR number (any form, any status)."""
    booking: Booking | None = None
    """Interpreter invoices: the booking with the invoice's booking reference, if any."""
    calendar: BankCalendar = DEFAULT_CALENDAR
    """Bank days for the payment date (public holidays, the banks' closing days and the
    municipality's extra closing days from ``config/bank-calendar.yaml``)."""
