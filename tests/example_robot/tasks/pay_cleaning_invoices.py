"""Robot pay-cleaning-invoices (the example fourth robot)."""

from robocorp.tasks import task

from paybot.run.task import run_from_task


@task
def pay_cleaning_invoices() -> None:
    """Pay the cleaning contractor's invoices."""
    run_from_task("pay-cleaning-invoices")
