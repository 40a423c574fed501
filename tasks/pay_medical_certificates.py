"""Robot pay-medical-certificates.

Pay doctors' certificates (LÆ forms) the municipality requested, at the agreed tariff.

Started by `robot run pay-medical-certificates` (or the scheduler). Thin on purpose: the work is in
paybot.run; see robots/pay-medical-certificates.yaml for the schedule and rules file.
"""

from robocorp.tasks import task

from paybot.run.task import run_from_task


@task
def pay_medical_certificates() -> None:
    """Pay doctors' certificates (LÆ forms) the municipality requested, at the agreed tariff."""
    run_from_task("pay-medical-certificates")
