"""One run of one robot: preflight → collect → work → report.

- **Preflight** (nothing is touched): the browser starts, the finance system answers, the login
  works, the screens and fields the robot relies on are there (a changed user interface stops
  the run here), the chart of accounts and the reference data can be read.
- **Collect**: every page of the robot's inbox category from the register's high-water mark on
  (all statuses, for duplicates); new invoices become work items in the ledger.
- **Work**: ``workers`` browser sessions claim items from the ledger (see
  :mod:`paybot.run.worker`).
- **Report**: ``report.json``, ``report.html`` and ``report.md`` in the run folder, the
  night's morning report for all robots, counts for the run history.

Browsers: each one is marked with a profile folder of its own under ``<data_dir>/tmp`` (see
:mod:`paybot.erp.processes`). At start-up the run ends whatever browser processes, profiles and
export files an earlier run of the robot left (a run killed with SIGKILL) and says so in the
report; a browser that dies during the run is replaced (see :mod:`paybot.run.worker`); at the
end every process of the run's browsers is ended, whatever state they are in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from paybot import __version__
from paybot.audit import AuditTrail
from paybot.audit.events import Event
from paybot.config import Credentials, RobotConfig
from paybot.domain.calendar import DANISH_TIME
from paybot.domain.models import ErpStatus, business_key
from paybot.domain.rules import keys
from paybot.domain.rules.config_types import tables_ending
from paybot.erp.browser import Browser, BrowserOptions, open_browser
from paybot.erp.port import (
    Connection,
    FinanceSystem,
    FinanceSystemFactory,
    ReferenceData,
)
from paybot.erp.processes import browser_marker, end_processes, marker_prefix
from paybot.erp.registry import factory_for
from paybot.errors import (
    ApplicationError,
    BrowserFailed,
    PaybotError,
    PreflightError,
    ScreenChanged,
    SessionExpired,
    what_failed,
)
from paybot.exit_codes import EXIT_FAILED, EXIT_OK
from paybot.ledger import CLAIMABLE, LedgerPort
from paybot.private import private_dir
from paybot.report.morning import HISTORY_ROWS
from paybot.run import robolog
from paybot.run.ordering import KeyOrder
from paybot.run.report import Report, write_report
from paybot.run.worker import (
    BrowserRestarts,
    CircuitBreaker,
    ItemOutcome,
    Result,
    RunContext,
    Worker,
)
from paybot.run_folder import BROWSER_RESTARTED, Counts, Outcome

T = TypeVar("T")
TABLE_WARNING_DAYS = 30
"""Preflight warns when a tariff or rate table ends within this many days."""


def today_in_denmark(now: dt.datetime | None = None) -> dt.date:
    """The date in Denmark, whatever the machine's time zone: the payment date and the finance
    system's "from today" are Danish dates (a run at 00:30 in Copenhagen is still the day
    before in UTC)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(DANISH_TIME).date()


@dataclass
class RunRequest:
    cfg: RobotConfig
    credentials: Credentials
    run_id: str
    run_dir: Path
    workers: int = 1
    dry_run: bool = False
    trigger: str = "manual"
    today: Callable[[], dt.date] = today_in_denmark
    """Asked per invoice, so a run that goes past midnight pays with the new date after it
    (the finance system refuses a payment date before its today)."""
    stop: threading.Event = field(default_factory=threading.Event)
    progress: Callable[[str], None] = lambda line: None


BrowserFactory = Callable[[str, BrowserOptions], Browser]


def private_tmp(data_dir: Path) -> Path:
    """``<data_dir>/tmp``, readable by the robot's user only (0700): the browsers' profiles
    and the export files live there."""
    return private_dir(data_dir / "tmp")


def export_folder(data_dir: Path, robot: str, run_id: str) -> Path:
    """A private folder (0700) for the export files this run downloads (they hold CPR numbers
    and are deleted as soon as they are read)."""
    parent = private_tmp(data_dir)
    folder = parent / f"exports-{robot}-{run_id}"
    folder.mkdir(mode=0o700)
    return folder


def sweep_leftovers(data_dir: Path, robot: str) -> list[str]:
    """End what a killed run of ``robot`` left behind: its browsers' processes (by their
    marker), their profile folders, and its export folders with any export file still in them
    (spreadsheets with CPR numbers). Returns one sentence per kind of thing swept, for the
    report (no personal data). The caller holds the robot's lock, so no other run of the robot
    can be using them. Safe to repeat."""
    notes = []
    processes = end_processes(marker_prefix(data_dir, robot))
    if processes:
        notes.append(
            f"ended {processes} Chromium/chromedriver process(es) that an earlier run of "
            "the robot left running"
        )
    parent = data_dir / "tmp"
    for stale in parent.glob(f"browser.{robot}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    files = 0
    for stale in parent.glob(f"exports-{robot}-*"):
        files += sum(1 for f in stale.rglob("*") if f.is_file())
        shutil.rmtree(stale, ignore_errors=True)
    if files:
        notes.append(
            f"deleted {files} export file(s) with personal data that an earlier run of the "
            "robot left (it was stopped before it could delete them)"
        )
    return notes


class Runner:
    def __init__(
        self,
        req: RunRequest,
        ledger: LedgerPort,
        trail: AuditTrail,
        *,
        browser_factory: BrowserFactory = open_browser,
        finance_system: FinanceSystemFactory | None = None,
    ) -> None:
        self.req = req
        self.cfg = req.cfg
        self.ledger = ledger
        self.trail = trail
        # Every record of a dry run says so: its decisions were never carried out.
        marks: dict[str, bool] = {"dry_run": True} if req.dry_run else {}
        self.audit = trail.logger(run_id=req.run_id, robot=req.cfg.name, **marks)
        self.browser_factory = browser_factory
        # The adapter of erp.kind (paybot.erp.registry), imported only now.
        self.connect = finance_system or factory_for(req.cfg.settings.erp.kind)
        self.sessions: list[FinanceSystem] = []
        self.browsers: list[Browser | None] = []
        self._browsers_lock = threading.Lock()
        data_dir = req.cfg.settings.data_dir
        self.swept = sweep_leftovers(data_dir, req.cfg.name)
        self.downloads = export_folder(data_dir, req.cfg.name, req.run_id)
        self.restarts = BrowserRestarts(req.cfg.settings.runner.max_browser_restarts)
        self.report = Report(
            robot=req.cfg.name,
            title=req.cfg.manifest.title,
            run_id=req.run_id,
            dry_run=req.dry_run,
            rule_version=req.cfg.rule_version,
            trigger=req.trigger,
            reason_texts=dict(req.cfg.reasons.reasons),
            swept=list(self.swept),
            municipality=req.cfg.settings.municipality.name,
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            paybot_version=__version__,
            config_checksum=req.cfg.config_checksum,
        )

    # --- sessions ----------------------------------------------------------------------------

    def _browser(self) -> Browser:
        """A new browser, marked with a profile folder of its own."""
        s = self.cfg.settings
        with self._browsers_lock:
            n = len(self.browsers) + 1
            self.browsers.append(None)  # its place, filled below
        opts = BrowserOptions(
            chromium=s.browser.chromium,
            chromedriver=s.browser.chromedriver,
            headless=s.browser.headless,
            download_dir=self.downloads,
            page_load_timeout=s.erp.page_timeout_seconds,
            profile_dir=browser_marker(s.data_dir, self.cfg.name, self.req.run_id, n),
        )
        browser = self.browser_factory("about:blank", opts)  # login() opens the login page
        self.browsers[n - 1] = browser
        return browser

    def _session(self, worker: str) -> FinanceSystem:
        """A new session with the finance system (not logged in) for ``worker``."""
        session = self.connect(
            Connection(
                settings=self.cfg.settings,
                credentials=self.req.credentials,
                audit=self.audit.bind(worker=worker),
                open_browser=self._browser,
                downloads=self.downloads,
            )
        )
        with self._browsers_lock:
            self.sessions.append(session)
        return session

    # --- the phases --------------------------------------------------------------------------

    def _retry(self, what: str, step: Callable[[], T], session: FinanceSystem) -> T:
        """One preflight or collect step, retried like any work when the finance system
        misbehaves (HTTP 500, an expired session); a changed screen, or an error that is not
        ``retryable`` (a refused login), is not retried."""
        runner = self.cfg.settings.runner
        attempt = 0
        while True:
            attempt += 1
            try:
                return step()
            except ScreenChanged:
                raise  # in preflight a changed screen stops the run at once
            except BrowserFailed as exc:
                self.audit.event(Event.APP_ERROR, phase=what, error=str(exc), attempt=attempt)
                if self.req.stop.is_set() or not self.restarts.allow(str(exc)):
                    raise
                attempt -= 1  # the browser's failure, not the finance system's
                with contextlib.suppress(BrowserFailed):
                    session.restart_browser()
                    self.audit.event(
                        Event.BROWSER_RESTARTED,
                        phase=what,
                        error=str(exc),
                        restarts=self.restarts.count,
                    )
                with contextlib.suppress(ApplicationError):
                    session.login()
            except ApplicationError as exc:
                self.audit.event(Event.APP_ERROR, phase=what, error=str(exc), attempt=attempt)
                if not exc.retryable or attempt >= runner.max_attempts or self.req.stop.is_set():
                    raise
                self.req.stop.wait(runner.backoff_seconds * 2 ** (attempt - 1))
                if isinstance(exc, SessionExpired):
                    with contextlib.suppress(ApplicationError):
                        session.login()

    def prepare(self) -> tuple[FinanceSystem, frozenset[str], ReferenceData]:
        """Preflight (nothing is touched), collect, and the invoice screen check."""
        with robolog.step("Kontrol før start: browser, login, skærmbilleder, referencedata"):
            session = self._session("w1")
            rules = self.cfg.rules
            category = self.cfg.manifest.category
            self._retry("login", session.login, session)
            self._retry("inbox", lambda: session.check_inbox_screen(category), session)
            accounts = self._retry("chart of accounts", session.active_accounts, session)
            reference = self._retry(
                "reference data",
                lambda: session.reference_data(
                    requisitions=rules.needs_requisitions, bookings=rules.needs_bookings
                ),
                session,
            )
        with robolog.step("Indsaml fakturaerne fra indbakken"):
            self.collect(session)
        with robolog.step("Kontrol af fakturaskærmbilledet"):
            self._retry("invoice screen", lambda: self.check_invoice_screen(session), session)
        return session, accounts, reference

    def table_warnings(self) -> list[str]:
        """Preflight's warning for every tariff or rate table of the robot's rules that ends
        within :data:`TABLE_WARNING_DAYS` days (nothing stops: after the end date, invoices
        dated later go to a person with ``MANUAL_TARIFF_PERIOD``)."""
        periods = getattr(self.cfg.rules, "table_periods", None)
        if periods is None:
            return []
        today = self.req.today()
        return [
            f"the table '{name}' in {self.cfg.rules_file.name} ends {end:%d-%m-%Y} "
            f"(in {(end - today).days} days): add the next period's figures (docs/rules.md)"
            for name, end in tables_ending(periods(), today, TABLE_WARNING_DAYS)
        ]

    def collect(self, session: FinanceSystem) -> int:
        """Sync the register from the inbox, page by page after the collect mark (the highest
        Løbenr of the last page committed); returns how many new invoices became work. Each
        page is committed to the ledger with its work items and the new mark in one
        transaction as it is read, and only one page is held in memory: a first sync of a
        large inbox that fails at page N (or a run killed there) goes on at page N next time,
        and memory does not grow with the inbox."""
        robot, rules = self.cfg.name, self.cfg.rules
        category = self.cfg.manifest.category
        start = after = self.ledger.collect_mark(robot, category.value)
        rows = new = pages = 0
        while True:
            listing = self._retry(
                f"inbox page after Løbenr {after}",
                partial(session.inbox_page, category, after),
                session,
            )
            entries = listing.entries
            work = [
                (e.erp_id, business_key(e.supplier_cvr, e.invoice_number))
                for e in entries
                if e.status == ErpStatus.NEW
            ]
            after = self.ledger.record_inbox_page(
                robot,
                category.value,
                [(e, rules.register_keys(e)) for e in entries],
                work,
                self.req.run_id,
            )
            rows, new, pages = rows + len(entries), new + len(work), pages + 1
            if not listing.has_next or not entries:
                break
            self._fresh_browser_for_collect(session, pages)
        self.audit.event(
            Event.COLLECTED,
            from_loebenr=start + 1,
            to_loebenr=after,
            pages=pages,
            rows=rows,
            new=new,
        )
        return new

    def _fresh_browser_for_collect(self, session: FinanceSystem, pages: int) -> None:
        """``runner.browser_restart_every`` counts inbox pages too: a first sync of 80,000
        invoices read 3,200 pages through one browser, and its time per page rose from 255 ms
        to 690 ms (benchmarks/collect_scale.py, 2026-11-30) while the finance system's page
        and the ledger's commit stayed flat. A fresh browser (and login) after that many pages
        keeps it flat. Planned, so not counted as a failure; a failure here is met by the next
        page's retry like any other."""
        every = self.cfg.settings.runner.browser_restart_every
        if not every or pages % every:
            return
        try:
            session.restart_browser()
            session.login()
        except ApplicationError as exc:
            self.audit.event(Event.APP_ERROR, error=str(exc), kind=type(exc).__name__)
            return
        self.audit.event(Event.BROWSER_RESTARTED, planned=True, every=every, during="collect")

    def check_invoice_screen(self, session: FinanceSystem) -> None:
        """The invoice screen still has what the robot needs: checked on the first invoice to
        work on, before anything is touched."""
        pending = self.ledger.items(self.cfg.name, CLAIMABLE)
        first = next((i for i in sorted(pending, key=lambda i: i.erp_id)), None)
        if first is not None:
            session.check_invoice_screen(first.erp_id)

    def work(
        self, first: FinanceSystem, accounts: frozenset[str], reference: ReferenceData
    ) -> list[ItemOutcome]:
        s = self.cfg.settings.runner
        ctx = RunContext(
            cfg=self.cfg,
            run_id=self.req.run_id,
            run_dir=self.req.run_dir,
            today=self.req.today,
            dry_run=self.req.dry_run,
            ledger=self.ledger,
            active_accounts=accounts,
            reference=reference,
            order=KeyOrder(),
            breaker=CircuitBreaker(s.max_consecutive_failures),
            stop=self.req.stop,
            progress=self.req.progress,
            restarts=self.restarts,
            shared_queue=self.cfg.settings.ledger.shared,
        )
        self.ctx = ctx
        workers = [Worker("w1", ctx, first, self.audit.bind(worker="w1"))]
        threads: list[threading.Thread] = []

        def start_more(name: str) -> None:
            try:
                session = self._session(name)
            except PaybotError as exc:
                self.audit.event(
                    Event.APP_ERROR, worker=name, error=f"worker could not start: {exc}"
                )
                return
            worker = Worker(name, ctx, session, self.audit.bind(worker=name))
            workers.append(worker)
            worker.run()

        for n in range(2, self.req.workers + 1):
            t = threading.Thread(target=start_more, args=(f"w{n}",), name=f"paybot-w{n}")
            t.start()
            threads.append(t)
        workers[0].run()
        for t in threads:
            t.join()
        return [o for w in workers for o in w.outcomes]

    # --- the whole run -----------------------------------------------------------------------

    def run(self) -> Outcome:
        req = self.req
        self.audit.event(
            Event.RUN_STARTED,
            trigger=req.trigger,
            dry_run=req.dry_run,
            workers=req.workers,
            rule_version=self.cfg.rule_version,
            erp_kind=self.cfg.settings.erp.kind,
            erp_url=self.cfg.settings.erp.url,
            paybot_version=__version__,
            config_checksum=self.cfg.config_checksum,
        )
        for note in self.swept:
            self.audit.event(Event.LEFTOVERS_SWEPT, what=note)
        # The run holds the robot's lock, so any other run's leases belong to a dead run:
        # free them now, and its open intents are reconciled in this run. On a ledger several
        # machines share, only this machine's: other machines' runs may be alive, and the
        # leases of a machine that died expire (runner.lease_seconds).
        settings = self.cfg.settings
        host = settings.machine_name if settings.ledger.shared else None
        freed = self.ledger.release_leases_of_other_runs(self.cfg.name, req.run_id, host=host)
        if freed:
            self.audit.event(Event.LEASES_RELEASED, erp_ids=freed)
        self.upgrade_stored_keys()
        try:
            try:
                session, accounts, reference = self.prepare()
            except ApplicationError as exc:
                self.audit.event(Event.PREFLIGHT_FAILED, error=str(exc), failed=what_failed(exc))
                outcome = Outcome.of(
                    PreflightError(f"preflight failed ({what_failed(exc)}): {exc}")
                )
                self.report.message = outcome.message
                return self._finish(outcome)
            warnings = self.table_warnings()
            self.report.warnings = warnings
            for warning in warnings:
                req.progress(f"warning: {warning}")
            self.audit.event(Event.PREFLIGHT_PASSED, accounts=len(accounts), warnings=warnings)
            outcomes = self.work(session, accounts, reference)
            return self._finish(self._outcome(outcomes))
        finally:
            for session in self.sessions:
                with contextlib.suppress(Exception):  # the browsers are ended below anyway
                    session.close()
            for browser in self.browsers:
                if browser is not None:
                    browser.close()
            # Whatever of the run's browsers is left (a worker that could not close its own).
            end_processes(marker_prefix(self.cfg.settings.data_dir, self.cfg.name, req.run_id))
            shutil.rmtree(self.downloads, ignore_errors=True)

    def upgrade_stored_keys(self) -> int:
        """Replace duplicate keys an older paybot stored unsalted (reversible personal data)
        by their keyed form, when the rules know how (``upgrade_stored_key``); returns how
        many. Runs before anything is touched in the finance system; safe to repeat."""
        upgrade = getattr(self.cfg.rules, "upgrade_stored_key", None)
        if upgrade is None:
            return 0
        replaced = self.ledger.upgrade_keys(
            self.cfg.name, keys.LEGACY_CERTIFICATE_KEY_PREFIX, upgrade
        )
        if replaced:
            self.audit.event(Event.DUPLICATE_KEYS_UPGRADED, count=replaced, to="hmac-sha256")
        return replaced

    def _outcome(self, outcomes: list[ItemOutcome]) -> Outcome:
        counts = Counts()
        for o in outcomes:
            match o.result:
                case Result.PAID:
                    counts.paid += 1
                case Result.MANUAL:
                    counts.manual += 1
                case Result.SKIPPED:
                    counts.skipped += 1
                case Result.FAILED | Result.LOST:
                    counts.failed += 1
                case Result.WOULD_PAY:
                    counts.would_pay += 1
                case Result.WOULD_HAND_OVER:
                    counts.would_hand_over += 1
        self.report.items = sorted(outcomes, key=lambda o: o.erp_id)
        left = self.ledger.items(self.cfg.name, CLAIMABLE)
        self.report.left_for_next_run = len(left)
        notes = []
        if self.ctx.breaker.tripped.is_set():
            notes.append(self.ctx.breaker.stop_message())
        if self.restarts.tripped.is_set():
            notes.append(self.restarts.stop_message())
        elif self.restarts.count:
            notes.append(f"{BROWSER_RESTARTED} {self.restarts.count} time(s)")
        if self.req.stop.is_set():
            notes.append("stopped on request (SIGTERM) between two invoices")
        if self.ctx.ledger_lost.is_set():
            notes.append(
                "stopped between two invoices: the ledger's database could not be reached "
                "(ledger.retry_seconds); the rest is left for the next run"
            )
        failed = (
            counts.failed > 0
            or self.ctx.breaker.tripped.is_set()
            or self.restarts.tripped.is_set()
            or self.ctx.ledger_lost.is_set()
        )
        self.report.message = "; ".join(notes)
        return Outcome(EXIT_FAILED if failed else EXIT_OK, counts, self.report.message)

    def _finish(self, outcome: Outcome) -> Outcome:
        self.report.browser_restarts = self.restarts.count
        self.report.exit_code = outcome.exit_code
        self.report.counts = outcome.counts
        write_report(
            self.req.run_dir,
            self.report,
            self.cfg.settings.output_dir,
            history=lambda: self.ledger.list_runs(limit=HISTORY_ROWS),
        )
        self.audit.event(
            Event.RUN_FINISHED,
            exit_code=outcome.exit_code,
            paid=outcome.counts.paid,
            manual=outcome.counts.manual,
            failed=outcome.counts.failed,
            skipped=outcome.counts.skipped,
            browser_restarts=self.restarts.count,
            message=outcome.message,
        )
        return outcome
