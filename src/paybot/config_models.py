"""The shapes of ``config/paybot.yaml``, ``config/reasons.yaml``, ``config/bank-calendar.yaml``
and ``robots/*.yaml``.

Pydantic v2 models; unknown keys are errors. The rules files' shapes live next to their rules
in :mod:`paybot.domain.rules`. Loading, environment overrides and error messages that name the
file are in :mod:`paybot.config_load`.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
from pathlib import Path, PurePosixPath
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from paybot.cron import cron_trigger
from paybot.domain.models import Category
from paybot.domain.rules import rules_class
from paybot.domain.rules.config_types import ConfigIssue
from paybot.erp.registry import DEFAULT_KIND, kinds


class ConfigModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


# --- config/paybot.yaml --------------------------------------------------------------------


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise ValueError("not an http:// or https:// address")
    return value.rstrip("/")


def _finance_system_kind(value: str) -> str:
    known = kinds()
    if value not in known:
        raise ValueError(f"not a known finance system (known: {', '.join(sorted(known))})")
    return value


class ErpSettings(ConfigModel):
    kind: Annotated[str, AfterValidator(_finance_system_kind)] = DEFAULT_KIND
    """Which finance system, by its adapter's name (:mod:`paybot.erp.registry`): ``mockerp``
    (the mock finance system), or a kind an installed package adds."""
    url: Annotated[str, AfterValidator(_http_url)] = "http://127.0.0.1:8765"
    username: Annotated[str, Field(min_length=1)] = "robot"
    page_timeout_seconds: PositiveSeconds = 30.0
    """How long to wait for a page to load."""
    element_timeout_seconds: PositiveSeconds = 10.0
    """How long to wait for an element to appear on a page."""


class BrowserSettings(ConfigModel):
    chromium: Path = Path("/usr/bin/chromium")
    chromedriver: Path = Path("/usr/bin/chromedriver")
    headless: bool = True


class LedgerSettings(ConfigModel):
    url: Annotated[str, Field(min_length=1)] = "sqlite:///{data_dir}/ledger.sqlite"
    """An SQLAlchemy database URL; ``{data_dir}`` is replaced by the data folder."""
    retry_seconds: Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)] = 120.0
    """PostgreSQL only: how long a ledger operation waits for a database that went away (a
    restart, a fail-over) before it gives up, trying again with a doubling pause (0.5 s up to
    10 s). 0: no retry."""

    @property
    def shared(self) -> bool:
        """True for PostgreSQL: a store several robot machines may share (one queue, locks in
        the database); SQLite is one machine's."""
        return self.url.startswith(("postgresql:", "postgresql+", "postgres:"))


class AuditSettings(ConfigModel):
    """The audit trail and its signing (docs/audit.md)."""

    file: Path = Path("{data_dir}/audit/audit.jsonl")
    """The trail, one JSON record a line."""
    signed: bool = True
    """Sign the trail's head with the robot's key (Ed25519 checkpoints). A run without a key
    refuses to start; ``false`` knowingly writes an unsigned trail."""
    signing_key_file: Path | None = None
    """A file (mode 0600, outside the data folder) holding the private key, used when no
    ``audit_signing_key`` secret is set (``PAYBOT_AUDIT_SIGNING_KEY``, systemd credential
    ``audit-signing-key``, vault file); ``robot audit keygen`` writes one."""
    public_key_file: Path = Path("config/audit-public-key.pem")
    """The public key ``robot audit verify`` checks signatures with (it cannot sign)."""
    checkpoint_every: Annotated[int, Field(ge=1)] = 1000
    """Sign the head again after this many records (besides at each run's start and end)."""


class RunnerSettings(ConfigModel):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    """Attempts per invoice when the finance system misbehaves (application errors)."""
    backoff_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    """Wait before the second attempt; doubled for each further attempt."""
    max_consecutive_failures: Annotated[int, Field(ge=1)] = 5
    """Stop the run after this many invoices in a row failed with application errors."""
    lease_seconds: Annotated[int, Field(ge=1)] = 600
    """How long a claimed invoice stays reserved to one worker."""
    max_nights: Annotated[int, Field(ge=1, le=100)] = 3
    """After this many runs (nights) in which an invoice failed with application errors, it is
    handed to a person (reason ``MANUAL_REPEATED_FAILURES``) instead of being tried again."""
    max_browser_restarts: Annotated[int, Field(ge=0, le=100)] = 3
    """How many times a run replaces a dead or hung browser (Chromium crashed, "invalid
    session id", a renderer that stopped answering) before it stops, naming the browser. Apart
    from ``max_consecutive_failures``, which counts the finance system's failures."""
    browser_restart_every: Annotated[int, Field(ge=0)] = 200
    """Start a fresh browser (and log in again) after this many invoices per worker, to keep a
    long run's memory flat; 0: never. One browser's process tree grew by about 94 MB per 1,000
    invoices (benchmarks/long_run.py, 2026-11-30); with a fresh one every 200 its highest level
    over 1,000 invoices was +43 MB, however long the run, for one new login per 200 invoices.
    A collect counts inbox pages the same way (a fresh browser after that many pages)."""


class MunicipalitySettings(ConfigModel):
    name: str = ""


class SchedulerSettings(ConfigModel):
    stop_deadline_seconds: PositiveSeconds = 120.0
    """When ``robot scheduler`` stops, how long a running robot may take to finish the invoice
    it is on before it is ended."""


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value


def _address_list(value: object) -> object:
    """A list in YAML, or ``a@x.dk, b@x.dk`` from an environment variable."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


EmailAddress = Annotated[str, AfterValidator(_email)]
EmailList = Annotated[list[EmailAddress], BeforeValidator(_address_list)]


def _optional_url(value: str) -> str:
    return _http_url(value) if value else value


def _clock_time(value: str) -> str:
    if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
        raise ValueError('not a time of day like "07:00"')
    return value


class NotifySettings(ConfigModel):
    """Alerts after scheduled runs (see docs/operations.md, "Alerts"). The SMTP password is a
    secret (``smtp_password``: ``PAYBOT_SMTP_PASSWORD``, a systemd credential or the vault)."""

    email: EmailList = Field(default_factory=list)
    """Who gets every robot's alerts (a robot's manifest can add more in ``notify.email``)."""
    sender: EmailAddress = "paybot@localhost.localdomain"
    smtp_host: str = ""
    """The mail server; empty: no mail is sent."""
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_starttls: bool = True
    """Encrypt with STARTTLS before anything else (required when a username is set)."""
    smtp_username: str = ""
    smtp_ca_file: Path | None = None
    """A CA certificate to trust for the mail server (default: the system's store)."""
    smtp_timeout_seconds: PositiveSeconds = 20.0
    webhook_url: Annotated[str, AfterValidator(_optional_url)] = ""
    """A chat channel's incoming webhook (JSON POST ``{"text": …}``); empty: none."""
    retry_minutes: Annotated[int, Field(ge=1)] = 5
    """How often the scheduler tries again to deliver an alert that could not be sent."""
    summary_time: Annotated[str, AfterValidator(lambda v: _clock_time(v) if v else v)] = ""
    """A morning summary of every robot at this Danish time (``"07:00"``); empty: none."""


class Settings(ConfigModel):
    """``config/paybot.yaml`` with environment overrides (``PAYBOT_ERP_URL`` → ``erp.url``).

    After loading, every path is absolute (relative ones resolve against :attr:`home`) and
    ``{data_dir}`` / ``{output_dir}`` in ``ledger.url``, ``audit.file`` and ``vault_file`` are
    replaced."""

    home: Path = Path()
    """The project folder (holds ``config/`` and ``robots/``); set by the loader."""
    erp: ErpSettings = Field(default_factory=ErpSettings)
    browser: BrowserSettings = Field(default_factory=BrowserSettings)
    data_dir: Path = Path("data")
    output_dir: Path = Path("output")
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    runner: RunnerSettings = Field(default_factory=RunnerSettings)
    municipality: MunicipalitySettings = Field(default_factory=MunicipalitySettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    vault_file: Path = Path("{data_dir}/vault.json")
    """The secrets file (JSON, mode 0600) used when ``PAYBOT_ERP_PASSWORD`` is not set."""
    machine: Annotated[str, Field(pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]{0,62})?$")] = ""
    """This robot machine's name in the shared store (run history, locks, audit checkpoints,
    scheduled-run claims); empty: the host name. Must differ between machines that share one
    PostgreSQL (``PAYBOT_MACHINE``)."""

    @property
    def machine_name(self) -> str:
        """:attr:`machine`, or the host name when it is empty."""
        return self.machine or socket.gethostname()


class Credentials(ConfigModel):
    """The robot's login to the finance system. The password never shows in a repr, a
    string or an error; use ``password.get_secret_value()`` only to type it in."""

    username: str
    password: SecretStr
    source: str
    """Where the password came from: ``environment`` or the vault file's path."""


# --- config/reasons.yaml -------------------------------------------------------------------

ReasonCode = Annotated[str, Field(pattern=r"^[A-Z0-9_]{3,40}$")]


class ReasonTexts(ConfigModel):
    """Every reason code with the Danish text a caseworker sees."""

    version: Annotated[str, Field(min_length=1)] = "1"
    reasons: dict[ReasonCode, Annotated[str, Field(min_length=1, max_length=500)]]

    def text(self, code: str) -> str:
        return self.reasons[code]


# --- config/bank-calendar.yaml -------------------------------------------------------------


class ClosingDay(ConfigModel):
    """A day the banks are closed that the built-in rules do not know."""

    date: dt.date
    name: Annotated[str, Field(min_length=1, max_length=100)]


class BankCalendarFile(ConfigModel):
    """Extra bank closing days on top of the built-in ones (public holidays, 5 June, the Friday
    after Ascension Day, 24 and 31 December: :mod:`paybot.domain.calendar`)."""

    version: Annotated[str, Field(min_length=1)] = "1"
    source: Annotated[str, Field(min_length=1)]
    extra_closing_days: list[ClosingDay] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: dict[dt.date, int] = {}
        for j, day in enumerate(self.extra_closing_days):
            if day.date in seen:
                raise ConfigIssue(
                    f"extra_closing_days[{j}].date",
                    day.date.isoformat(),
                    f"already listed as extra_closing_days[{seen[day.date]}]",
                )
            seen[day.date] = j
        return self


# --- robots/*.yaml -------------------------------------------------------------------------


def _relative_posix(value: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or not value:
        raise ValueError("must be a path inside the project, like tasks/pay_small_invoices.py")
    return value


class TaskRef(ConfigModel):
    module: Annotated[str, AfterValidator(_relative_posix)]
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]

    @field_validator("module")
    @classmethod
    def _python_file(cls, value: str) -> str:
        if not value.endswith(".py"):
            raise ValueError("must be a Python file (ending in .py)")
        return value


class Schedule(ConfigModel):
    cron: Annotated[str, Field(min_length=1)]
    """Five fields: minute hour day-of-month month day-of-week (``30 1 * * 1-5``)."""
    timezone: str = "Europe/Copenhagen"
    bank_days_only: bool = True
    misfire_grace_minutes: Annotated[int, Field(ge=0)] = 120
    timeout_minutes: Annotated[int, Field(ge=1)] = 90
    enabled: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a known time zone (e.g. Europe/Copenhagen)") from None
        return value

    @model_validator(mode="after")
    def _cron(self) -> Self:
        try:
            cron_trigger(self.cron, self.timezone)
        except ValueError as exc:
            raise ConfigIssue("schedule.cron", self.cron, f"not a valid cron line: {exc}") from None
        return self

    def trigger(self) -> CronTrigger:
        """The APScheduler trigger of this schedule, weekdays read as crontab does
        (``1-5`` is Monday to Friday; see :mod:`paybot.cron`)."""
        return cron_trigger(self.cron, self.timezone)


class Notify(ConfigModel):
    email: EmailList = Field(default_factory=list)
    """Who gets this robot's alerts, besides ``notify.email`` in ``config/paybot.yaml``."""


class RobotManifest(ConfigModel):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    title: Annotated[str, Field(min_length=1)]
    description: str = ""
    task: TaskRef
    category: Category
    """The inbox category the robot works on (``laegeerklaering``, ``tolk``, ``oevrige``)."""
    rules: Annotated[str, AfterValidator(_relative_posix)]
    """The rules file, relative to the project folder."""
    kind: str
    """Which rules apply: a key of ``paybot.domain.rules.RULES_BY_KIND`` (``small_invoices``,
    ``medical_certificates``, ``interpreter``) or an import path ``package.module:Class``."""
    schedule: Schedule
    workers: Annotated[int, Field(ge=1, le=16)] = 1
    notify: Notify = Field(default_factory=Notify)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        rules_class(value)  # raises ValueError naming the problem
        return value

    @model_validator(mode="after")
    def _category_fits_kind(self) -> Self:
        expected = rules_class(self.kind).category
        if self.category is not expected:
            raise ConfigIssue(
                "category",
                self.category.value,
                f"the {self.kind} rules are for the inbox category {expected.value}",
            )
        return self
