"""``robot run <robot>`` and ``robot list``.

``robot run`` validates the robot's whole configuration first (exit 2 naming file, key and
value), takes the robot's lock (exit 4 when another run holds it), records the run in the
history, and runs the robot's task module through robocorp-tasks in a child process that
inherits the lock. The child's console output is shown and kept in the run folder
(``console.log``, a time in front of every line); SIGTERM or Ctrl-C asks the run to stop
between two invoices. With ``PAYBOT_LOG_FORMAT=json`` (see :mod:`paybot.logs`) every line
``robot run`` writes to stdout is a JSON line with the run id.

A run that ends with exit 1 or 3 is an expected outcome, not a crash: the traceback robocorp
prints for it is left out, and the output ends with a sentence saying what happened and where
the report is.
When the child has ended, however it ended (killed with SIGKILL by the OOM killer, say), every
browser process of the run that is still there is ended (see :mod:`paybot.erp.processes`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from paybot import locks
from paybot.audit.open import run_signer
from paybot.commands.output import say, table
from paybot.config import (
    ENV_HOME,
    RobotConfig,
    find_home,
    ledger_url,
    load_credentials,
    load_manifests,
    load_robot_config,
    make_folders,
)
from paybot.erp.processes import end_processes, marker_prefix
from paybot.errors import ConfigError, DatabaseError, UsageError
from paybot.exit_codes import EXIT_FAILED, EXIT_MEANINGS, EXIT_OK
from paybot.ledger import CLAIMABLE, Ledger
from paybot.logs import JSON, json_line, log_format, stamp
from paybot.private import open_private, private_dir, tighten_tree
from paybot.report.morning import morning_path
from paybot.report.night import night_of
from paybot.report.view import moment_of
from paybot.run_folder import (
    ENV_DRY_RUN,
    ENV_LOCK_HELD,
    ENV_ROBOT,
    ENV_RUN_DIR,
    ENV_RUN_ID,
    ENV_TRIGGER,
    ENV_WORKERS,
    Counts,
    Outcome,
    new_run_id,
    run_dir,
)
from paybot.signals import on_stop_signals


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        help="run a robot now",
        description="Run a robot against the finance system: preflight, collect, pay or hand "
        "over each invoice, report. Exit codes: "
        + "; ".join(f"{k} {v}" for k, v in EXIT_MEANINGS.items()),
    )
    run.add_argument("robot", help="the robot's name, e.g. pay-small-invoices (see 'robot list')")
    run.add_argument("--workers", type=int, help="browser sessions in parallel (default: manifest)")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="read, decide and record, but never approve or hand over",
    )
    run.set_defaults(handler=cmd_run)
    lst = subparsers.add_parser(
        "list",
        help="list the robots and their schedules",
        description="The robots of this installation (robots/*.yaml): name, inbox category, "
        "schedule (cron, Copenhagen time, or 'disabled') and title.",
    )
    lst.add_argument("--json", action="store_true", help="a JSON list, one object per robot")
    lst.set_defaults(handler=cmd_list)


def _out(text: str, level: str = "info", **ids: object) -> None:
    """One line of ``robot run``'s own output (JSON in JSON mode)."""
    if log_format() == JSON:
        sys.stdout.write(json_line(text, level=level, **ids) + "\n")
    else:
        sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _load(robot: str) -> RobotConfig:
    cfg = load_robot_config(find_home(), robot)
    make_folders(cfg.settings)  # one that cannot be made: exit 2 naming the setting
    load_credentials(cfg.settings)  # a missing password stops the run before anything starts
    run_signer(cfg.settings)  # so does a missing audit signing key (unless audit.signed: false)
    task = cfg.home / cfg.manifest.task.module
    if not task.is_file():
        raise ConfigError(
            str(cfg.home / "robots" / f"{robot}.yaml"),
            "task.module",
            cfg.manifest.task.module,
            "no such file",
        )
    return cfg


def cmd_run(ns: argparse.Namespace) -> int:
    cfg = _load(ns.robot)
    workers = ns.workers if ns.workers is not None else cfg.manifest.workers
    if not 1 <= workers <= 16:
        raise UsageError(f"--workers {workers}: must be between 1 and 16")
    settings = cfg.settings
    run_id = new_run_id()
    folder = run_dir(settings.output_dir, run_id)
    lock = locks.acquire_for(settings, cfg.name, run_id)  # RobotBusy: exit 4, by main
    trigger = os.environ.get(ENV_TRIGGER, "manual")
    machine = settings.machine_name
    ledger: Ledger | None = None
    try:
        ledger = Ledger(ledger_url(settings), retry_seconds=settings.ledger.retry_seconds)
        ledger.ensure_schema()
    except DatabaseError as exc:  # exit 2, by main
        if ledger is not None:
            ledger.close()
        lock.release()
        raise type(exc)(f"{exc}; not started") from None
    left: int | None = None  # invoices left after a stop request
    try:
        # Only this machine's runs: on a shared PostgreSQL other machines' runs may be alive.
        ledger.mark_abandoned_runs(
            cfg.name, run_id, host=machine if settings.ledger.shared else None
        )
        ledger.start_run(run_id, cfg.name, trigger, machine, os.getpid())
        private_dir(folder)
        env = os.environ | {
            ENV_HOME: str(cfg.home),
            ENV_RUN_ID: run_id,
            ENV_RUN_DIR: str(folder),
            ENV_ROBOT: cfg.name,
            ENV_WORKERS: str(workers),
            ENV_DRY_RUN: "1" if ns.dry_run else "0",
            ENV_TRIGGER: trigger,
            ENV_LOCK_HELD: "1",
        }
        ids = {"run_id": run_id, "robot": cfg.name}
        _out(f"{cfg.name}: run {run_id} against {settings.erp.url}", **ids)
        stop: list[int] = []  # the stop request forwarded to the child, if any
        returncode = _run_child(cfg, folder, env, lock.pass_fds, ids, stop)
        leftovers = end_processes(marker_prefix(settings.data_dir, cfg.name, run_id))
        outcome = Outcome.read(folder) or Outcome(
            EXIT_FAILED,
            Counts(),
            f"the run ended without an outcome (robocorp exit {returncode}: "
            f"{_how_it_ended(returncode, stop[0] if stop else None)})",
        )
        if leftovers:
            outcome.message = "; ".join(
                m for m in (outcome.message, f"ended {leftovers} browser process(es) it left") if m
            )
        ledger.finish_run(run_id, outcome.exit_code, outcome.counts, outcome.message or None)
        left = len(ledger.items(cfg.name, CLAIMABLE)) if stop else None
    finally:
        ledger.close()
        lock.release()
        tighten_tree(folder)  # robocorp's output, whatever umask its writers had
    ending = _ending(outcome, stop[0] if stop else None, left)
    _summary(cfg.name, folder, outcome, ns.dry_run, run_id, ending=ending)
    return outcome.exit_code


def _run_child(
    cfg: RobotConfig,
    folder: Path,
    env: dict[str, str],
    pass_fds: tuple[int, ...],
    ids: dict[str, str],
    stop: list[int],
) -> int:
    """Run the robot's task in a child process and return its exit code; a stop request
    (SIGTERM, SIGINT) is forwarded as SIGTERM and its signal appended to ``stop``."""
    cmd = [
        sys.executable,
        "-m",
        "robocorp.tasks",
        "run",
        str(cfg.home / cfg.manifest.task.module),
        "--task",
        cfg.manifest.task.name,
        "--output-dir",
        str(folder / "robocorp"),
        "--console-colors",
        "plain",
    ]
    with open_private(folder / "console.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cfg.home,
            env=env,
            pass_fds=pass_fds,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )

        # A stop request is forwarded: the run stops between two invoices, where it is safe.
        def forward(signum: int) -> None:
            stop.append(signum)
            proc.send_signal(signal.SIGTERM)

        with on_stop_signals(forward):
            _tee(proc.stdout, ConsoleCopy(log, ids))
            return proc.wait()


def _how_it_ended(returncode: int, stop_request: int | None = None) -> str:
    """Why a child that wrote no outcome ended; ``stop_request``: the signal ``robot run``
    got and forwarded (Ctrl-C is SIGINT), if any."""
    if stop_request is not None and returncode in (-signal.SIGTERM, -signal.SIGINT):
        name = signal.Signals(stop_request).name
        how = " (Ctrl-C)" if stop_request == signal.SIGINT else ""
        return f"stopped on request, {name}{how}, before the robot could stop between invoices"
    if returncode == -signal.SIGKILL:
        return "the robot's process was killed (SIGKILL; the kernel's OOM killer does this)"
    if returncode < 0:
        return f"the robot's process was ended by signal {-returncode}"
    return "the robot's process ended before it wrote one"


TRACEBACK_HEADER = "Full Traceback (running "
EXPECTED_END = "paybot.run.task.RunNotClean:"
"""The exception a robot's task raises so that robocorp marks an unclean run as failed; its
message was printed just before the traceback, and the summary follows."""


class ConsoleCopy:
    """The child's console: shown (a JSON line each in JSON mode) and kept in ``console.log``
    with a time on every line. robocorp's traceback block for an expected end
    (:data:`EXPECTED_END`) is held back and left out; any other traceback is shown whole."""

    def __init__(self, log: IO[str], ids: dict[str, str]) -> None:
        self.log = log
        self.ids = ids
        self.json = log_format() == JSON
        self._held: list[str] | None = None

    def feed(self, line: str) -> None:
        if self._held is not None:
            self._held.append(line)
            text = line.strip()
            if text and set(text) == {"="}:  # robocorp's closing rule
                held, self._held = self._held, None
                if not any(h.startswith(EXPECTED_END) for h in held):
                    for h in held:
                        self._emit(h)
            return
        if TRACEBACK_HEADER in line:
            self._held = [line]
            return
        self._emit(line)

    def close(self) -> None:
        held, self._held = self._held, None
        for h in held or ():
            self._emit(h)

    def _emit(self, line: str) -> None:
        text = line.rstrip("\n")
        if self.json:
            sys.stdout.write(json_line(text, source="console", **self.ids) + "\n")
        else:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()
        self.log.write(f"{stamp()} {text}\n")


def _tee(stream: IO[str] | None, copy: ConsoleCopy) -> None:
    if stream is None:
        return
    try:
        for line in stream:
            copy.feed(line)
    finally:
        copy.close()


def _ending(outcome: Outcome, stop_request: int | None, left: int | None) -> str:
    """The words after ``exit N`` in the summary: the exit code's meaning
    (:data:`~paybot.exit_codes.EXIT_MEANINGS`), except for a run stopped on request (SIGINT,
    SIGTERM) in which no invoice failed: ``stopped on request (SIGINT); 3 invoice(s) left for
    the next run; nothing failed`` (``left``: the ledger's claimable invoices of the robot, or
    ``None`` when unknown)."""
    meaning = EXIT_MEANINGS.get(outcome.exit_code, "")
    if (
        stop_request is None
        or outcome.counts.failed
        or outcome.exit_code
        not in (
            EXIT_OK,
            EXIT_FAILED,
        )
    ):
        return meaning
    name = signal.Signals(stop_request).name
    rest = "the rest is" if left is None else f"{left} invoice(s)"
    return f"stopped on request ({name}); {rest} left for the next run; nothing failed"


def _summary(
    robot: str,
    folder: Path,
    outcome: Outcome,
    dry_run: bool,
    run_id: str,
    *,
    ending: str | None = None,
) -> None:
    """Print the run's closing lines; ``ending`` (default: the exit code's meaning) is the
    sentence after ``exit N`` (:func:`_ending`)."""
    c = outcome.counts
    parts = [f"paid {c.paid}", f"manual {c.manual}", f"failed {c.failed}", f"skipped {c.skipped}"]
    if dry_run:
        parts += [f"would pay {c.would_pay}", f"would hand over {c.would_hand_over}"]
    meaning = EXIT_MEANINGS.get(outcome.exit_code, "") if ending is None else ending
    code = outcome.exit_code
    level = "info" if code == 0 else "error"
    ids: dict[str, object] = {"run_id": run_id, "robot": robot, "exit_code": code}
    _out(f"{robot}: {', '.join(parts)}; exit {code} ({meaning})", level, **ids)
    if outcome.message:
        _out(f"{robot}: {outcome.message}", level, **ids)
    # The first that exists: a run that ended without an outcome (killed, stopped before the
    # robot began) wrote no report, only its console.log.
    candidates = [folder / name for name in ("report.html", "report.md", "console.log")]
    report = next((f for f in candidates if f.is_file()), folder)
    if code == 0:
        _out(f"{robot}: report {report}", level, **ids)
        morning = _morning_report(folder)
        if morning is not None:
            _out(f"{robot}: morning report of all robots {morning}", level, **ids)
    else:
        _out(f"{robot}: {meaning[:1].upper()}{meaning[1:]}; the report is {report}.", level, **ids)


def _morning_report(folder: Path) -> Path | None:
    """The morning report the run wrote (``<output_dir>/reports/…``), from the start time in
    its ``report.json``; ``None`` when there is none."""
    try:
        started = json.loads((folder / "report.json").read_text("utf-8"))["started_at"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    moment = moment_of(started)
    if moment is None:
        return None
    path = morning_path(folder.parent.parent, night_of(moment))
    return path if path.is_file() else None


def cmd_list(ns: argparse.Namespace) -> int:
    manifests = load_manifests(find_home() / "robots")
    if getattr(ns, "json", False):
        robots = [
            {
                "robot": m.name,
                "category": m.category.value,
                "schedule": m.schedule.cron if m.schedule.enabled else None,
                "enabled": m.schedule.enabled,
                "title": m.title,
                "workers": m.workers,
            }
            for m in sorted(manifests.values(), key=lambda m: m.name)
        ]
        sys.stdout.write(json.dumps(robots, ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    rows = [("ROBOT", "CATEGORY", "SCHEDULE", "TITLE")]
    for m in sorted(manifests.values(), key=lambda m: m.name):
        when = m.schedule.cron if m.schedule.enabled else "disabled"
        rows.append((m.name, m.category.value, when, m.title))
    for line in table(rows):
        say(line)
    return EXIT_OK
