"""Robot pay-small-invoices.

Pay small invoices from known suppliers (småfakturaer).

Started by `robot run pay-small-invoices` (or the scheduler). Thin on purpose: the work is in
paybot.run; see robots/pay-small-invoices.yaml for the schedule and rules file.
"""

from robocorp.tasks import task

from paybot.run.task import run_from_task


@task
def pay_small_invoices() -> None:
    """Pay small invoices from known suppliers (småfakturaer)."""
    run_from_task("pay-small-invoices")
