"""What a robot's ``@task`` calls: settings → runner → outcome.

Runs inside the robocorp-tasks process that ``robot run`` starts (which passes the run id, run
folder and options in ``PAYBOT_*`` environment variables and holds the robot's lock), or on its
own (``python -m robocorp.tasks run tasks/pay_small_invoices.py``), in which case it takes the
lock and records the run history itself.

SIGTERM and the first Ctrl-C ask the run to stop between two invoices; the outcome is written to
``outcome.json`` in the run folder either way.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

from paybot import locks
from paybot.audit.chain import AuditTrailError
from paybot.audit.open import (
    adopts_unsigned_trail,
    check_trail_under_its_lock,
    open_run_trail,
    run_signer,
)
from paybot.config import find_home, ledger_url, load_credentials, load_robot_config
from paybot.errors import ConfigError, DatabaseError, PaybotError, PreflightError
from paybot.exit_codes import EXIT_FAILED
from paybot.ledger import Ledger
from paybot.private import private_dir, restrict_umask
from paybot.run.runner import Runner, RunRequest
from paybot.run_folder import (
    ENV_DRY_RUN,
    ENV_LOCK_HELD,
    ENV_RUN_DIR,
    ENV_RUN_ID,
    ENV_TRIGGER,
    ENV_WORKERS,
    Outcome,
    new_run_id,
    run_dir,
)
from paybot.signals import on_stop_signals


class RunNotClean(PaybotError):
    """Raised at the end of a task whose run did not complete cleanly, so that robocorp marks
    the task as failed; the details are in the run folder's report. ``exit_code`` is the
    run's."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        self.exit_code = exit_code
        super().__init__(message)


def stop_on_signals(stop: threading.Event) -> AbstractContextManager[None]:
    """SIGTERM and SIGINT set ``stop``; a second SIGINT interrupts as usual."""

    def handler(signum: int) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    return on_stop_signals(handler)


def _echo(line: str) -> None:
    """The run's console (``robot run`` shows it and keeps it in ``console.log``)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run_robot(robot: str, env: Mapping[str, str] | None = None) -> Outcome:
    restrict_umask()  # also when robocorp runs the task without ``robot run``
    env = os.environ if env is None else env
    run_id = env.get(ENV_RUN_ID) or new_run_id()
    standalone = ENV_RUN_ID not in env
    folder = Path(env[ENV_RUN_DIR]) if env.get(ENV_RUN_DIR) else None
    try:
        cfg = load_robot_config(find_home(env), robot, env)
        folder = folder or run_dir(cfg.settings.output_dir, run_id)
        credentials = load_credentials(cfg.settings, env)
        signer = run_signer(cfg.settings, env)
    except ConfigError as exc:
        outcome = Outcome.of(exc)
        if folder is not None:
            outcome.write(folder)
        return outcome
    settings = cfg.settings
    private_dir(settings.data_dir)
    private_dir(folder)
    stop = threading.Event()
    machine = settings.machine_name
    with ExitStack() as stack:
        try:
            if env.get(ENV_LOCK_HELD) != "1":
                lock: locks.RobotLock | locks.DatabaseLock | None
                lock = locks.acquire_for(settings, robot, run_id)
            else:
                lock = locks.hold_in_child(settings, robot, run_id)
        except (locks.RobotBusy, locks.LockUnreachable) as exc:
            outcome = Outcome.of(exc)
            outcome.write(folder)
            return outcome
        if lock is not None:
            stack.callback(lock.release)
        # Before anything is touched: the trail must be the one this robot left, or signing
        # its head would vouch for records someone else wrote (docs/audit.md).
        try:
            check_trail_under_its_lock(settings, signer)
            adopting = signer is not None and adopts_unsigned_trail(settings)
        except AuditTrailError as exc:
            outcome = Outcome.of(PreflightError(f"preflight failed: audit trail: {exc}"))
            outcome.write(folder)
            return outcome
        try:
            ledger = Ledger(ledger_url(settings), retry_seconds=settings.ledger.retry_seconds)
            stack.callback(ledger.close)
            ledger.ensure_schema()
        except DatabaseError as exc:
            outcome = Outcome.of(type(exc)(f"{exc}; not started"))  # exit 2
            outcome.write(folder)
            return outcome
        trigger = env.get(ENV_TRIGGER, "manual")
        if standalone:
            ledger.mark_abandoned_runs(
                robot, run_id, host=machine if settings.ledger.shared else None
            )
            ledger.start_run(run_id, robot, trigger, machine, os.getpid())
        earlier = [
            r for r in ledger.list_runs(limit=20) if r.run_id != run_id and r.host == machine
        ][:1]
        trail = open_run_trail(stack, settings, signer, runs_before=len(earlier))
        marks = {"dry_run": True} if env.get(ENV_DRY_RUN) == "1" else {}
        trail.checkpoint(
            "adopted" if adopting else "run_start", run_id=run_id, robot=robot, **marks
        )
        stack.enter_context(stop_on_signals(stop))
        request = RunRequest(
            cfg=cfg,
            credentials=credentials,
            run_id=run_id,
            run_dir=folder,
            workers=int(env.get(ENV_WORKERS) or cfg.manifest.workers),
            dry_run=env.get(ENV_DRY_RUN) == "1",
            trigger=trigger,
            stop=stop,
            progress=_echo,
        )
        try:
            outcome = Runner(request, ledger, trail).run()
        finally:
            trail.checkpoint("run_end", run_id=run_id, robot=robot, **marks)
        outcome.write(folder)
        if standalone:
            ledger.finish_run(run_id, outcome.exit_code, outcome.counts, outcome.message or None)
        return outcome


def run_from_task(robot: str) -> None:
    """The body of every robot's ``@task``."""
    outcome = run_robot(robot)
    if outcome.exit_code != 0:
        raise RunNotClean(
            f"{robot}: exit code {outcome.exit_code}: {outcome.message}", outcome.exit_code
        )
