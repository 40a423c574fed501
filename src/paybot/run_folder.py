"""A run's identity and its folder of artifacts.

Each run gets an id (``20261127T014500Z-3f9a``: UTC start time and four random hex digits) and a
folder ``<output_dir>/runs/<run-id>/`` that keeps everything it produced: robocorp's
``log.html``, the console output, screenshots of failures, the report and ``outcome.json``,
through which the robocorp-tasks child process tells ``robot run`` how it ended.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from paybot.errors import PaybotError
from paybot.private import private_dir, write_private_text

OUTCOME_FILE = "outcome.json"

# What the parent `robot run` passes to the task in the child process.
ENV_RUN_ID = "PAYBOT_RUN_ID"
ENV_RUN_DIR = "PAYBOT_RUN_DIR"
ENV_ROBOT = "PAYBOT_ROBOT"
ENV_WORKERS = "PAYBOT_WORKERS"
ENV_DRY_RUN = "PAYBOT_DRY_RUN"
ENV_TRIGGER = "PAYBOT_TRIGGER"
ENV_LOCK_HELD = "PAYBOT_LOCK_HELD"

BROWSER_RESTARTED = "the browser failed and was restarted"
"""The words of a run's note (its outcome's message) that say a dead or hung browser was
replaced during the run, followed by `` N time(s)``; the alerts and ``robot status`` read them
(:func:`paybot.notify.facts.classify`)."""


def new_run_id(now: dt.datetime | None = None) -> str:
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    # Not CPR-shaped (six digits, dash, four digits): the masking would blank part of it.
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def run_dir(output_dir: Path, run_id: str) -> Path:
    return output_dir / "runs" / run_id


@dataclass
class Counts:
    paid: int = 0
    manual: int = 0
    failed: int = 0
    skipped: int = 0
    would_pay: int = 0  # --dry-run
    would_hand_over: int = 0  # --dry-run

    def total(self) -> int:
        return (
            self.paid
            + self.manual
            + self.failed
            + self.skipped
            + self.would_pay
            + self.would_hand_over
        )


@dataclass
class Outcome:
    exit_code: int
    counts: Counts = field(default_factory=Counts)
    message: str = ""

    def write(self, folder: Path) -> Path:
        private_dir(folder)
        target = folder / OUTCOME_FILE
        tmp = target.with_suffix(".tmp")
        write_private_text(tmp, json.dumps(asdict(self), indent=2))
        tmp.replace(target)
        return target

    @classmethod
    def of(cls, error: PaybotError) -> Outcome:
        """The outcome of a run that ``error`` ended before any invoice: its exit code and
        its sentence (``configuration error: …``, ``preflight failed …``)."""
        return cls(error.exit_code, Counts(), error.sentence())

    @classmethod
    def read(cls, folder: Path) -> Outcome | None:
        try:
            data = json.loads((folder / OUTCOME_FILE).read_text(encoding="utf-8"))
            return cls(
                exit_code=int(data["exit_code"]),
                counts=Counts(**data.get("counts", {})),
                message=str(data.get("message", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
