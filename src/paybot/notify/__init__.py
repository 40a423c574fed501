"""Alerts: a mail (and optionally a chat message) when a scheduled run failed, stopped early
or left invoices failing, and an optional morning summary.

- :mod:`~paybot.notify.facts`: what happened, read from the run history and the ledger; no
  personal data (Løbenr, counts, reason codes, the run's masked note),
- :mod:`~paybot.notify.compose`: the message, plain text and HTML (Jinja2 templates in
  ``templates/``): what happened and what to do, in Danish for the finance team and in plain
  words for the operator,
- :mod:`~paybot.notify.send`: SMTP with STARTTLS, and a webhook (JSON POST),
- :mod:`~paybot.notify.outbox`: :class:`Notifier`, which keeps every alert in the ledger's
  outbox until it is delivered: a mail server that is down never fails a run, the alert is
  tried again on the scheduler's next ticks (``notify.retry_minutes``), and ``robot status``
  shows it.
"""

from paybot.notify.outbox import Notifier

__all__ = ["Notifier"]
