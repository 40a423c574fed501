"""Robot pay-interpreter-invoices.

Pay interpreter invoices checked against bookings and the contract.

Started by `robot run pay-interpreter-invoices` (or the scheduler). Thin on purpose: the work is in
paybot.run; see robots/pay-interpreter-invoices.yaml for the schedule and rules file.
"""

from robocorp.tasks import task

from paybot.run.task import run_from_task


@task
def pay_interpreter_invoices() -> None:
    """Pay interpreter invoices checked against bookings and the contract."""
    run_from_task("pay-interpreter-invoices")
