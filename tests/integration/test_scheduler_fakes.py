"""Fake robots for the scheduler's tests, and a check that they run like the real ones.

A fake robot is a manifest in a temporary project folder (a copy of ``config/`` plus
``robots/`` and ``tasks/``) whose task module is a tiny Python file run through
``robot run`` → robocorp-tasks, exactly as the real robots are: the task writes
``outcome.json`` into the run folder and ``robot run`` records the run in the ledger. What the
fake does is told by its task name:

- ``quick``: notes that it ran, "pays" 2 invoices, exits 0;
- ``graceful``: works on one "invoice" at a time (0.3 s each) until SIGTERM, finishes the one
  it is on, exits 0;
- ``stubborn``: ignores SIGTERM and never ends;
- ``garbage``: writes binary junk to stdout and stderr and dies at once (exit 3, no outcome);
- ``hang``: starts descendants (one in its process group, one in a session of its own, an
  orphan whose parent exits, and optionally a real headless Chromium and chromedriver),
  ignores SIGTERM and never ends.

The other ``test_scheduler_*`` modules import the helpers from here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from paybot.config import RobotManifest, Settings, load_manifests, load_settings
from paybot.ledger import Ledger, RunRecord
from paybot.scheduler.dispatch import Limits
from paybot.scheduler.service import SchedulerService, ServiceOptions
from support.robots import audit_key_env

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0

FAKE_TASKS = '''\
"""Fake robots for the scheduler tests (see tests/integration/test_scheduler_fakes.py)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from robocorp.tasks import task

from paybot.run_folder import ENV_RUN_DIR, Counts, Outcome

MARKERS = Path(os.environ["FAKE_MARKERS"])
WAIT_FOREVER = (
    "import signal, threading; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "threading.Event().wait()"
)


def mark(name: str, text: str = "") -> None:
    MARKERS.mkdir(parents=True, exist_ok=True)
    tmp = MARKERS / (name + ".tmp")
    tmp.write_text(text)
    tmp.replace(MARKERS / name)


def outcome(paid: int) -> None:
    Outcome(0, Counts(paid=paid)).write(Path(os.environ[ENV_RUN_DIR]))


@task
def quick() -> None:
    mark(os.environ["PAYBOT_ROBOT"] + ".ran", os.environ.get("PAYBOT_TRIGGER", ""))
    outcome(2)


@task
def graceful() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    mark("graceful.started")
    done = 0
    while not stop.is_set():
        time.sleep(0.3)  # one "invoice": not interrupted by SIGTERM
        done += 1
        mark(f"graceful.item{done}")
    mark("graceful.stopped", str(done))
    outcome(done)


@task
def stubborn() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    mark("stubborn.started", json.dumps({"pid": os.getpid(), "robot_run": os.getppid()}))
    threading.Event().wait()


@task
def garbage() -> None:
    sys.stdout.buffer.write(bytes(range(256)) * 64)
    sys.stdout.flush()
    sys.stderr.buffer.write(b"\\xff\\xfe\\x00 not a log line \\x1b[2J")
    sys.stderr.flush()
    os._exit(3)  # no outcome, no clean end


@task
def hang() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    in_group = subprocess.Popen([sys.executable, "-c", WAIT_FOREVER])
    escaper = subprocess.Popen([sys.executable, "-c", WAIT_FOREVER], start_new_session=True)
    orphan_file = MARKERS / "orphan.pid"
    # A parent that starts a grandchild in a session of its own, then exits: the grandchild
    # is handed to init, and only what the scheduler noted earlier links it to the run.
    subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time, pathlib; "
        f"p = subprocess.Popen([sys.executable, '-c', {WAIT_FOREVER!r}], start_new_session=True); "
        f"pathlib.Path({str(orphan_file)!r}).write_text(str(p.pid)); "
        "time.sleep(2)"
    )])
    browsers = {}
    if os.environ.get("FAKE_CHROMIUM") == "1":
        profile = MARKERS / "chromium-profile"
        chromium = subprocess.Popen(
            ["/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        driver = subprocess.Popen(
            ["/usr/bin/chromedriver", "--port=0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        browsers = {"chromium": chromium.pid, "chromedriver": driver.pid}
    mark("hang.started", json.dumps({
        "pid": os.getpid(), "sid": os.getsid(0), "in_group": in_group.pid,
        "escaper": escaper.pid, **browsers,
    }))
    threading.Event().wait()
'''


def manifest_data(name: str, task: str, **schedule: Any) -> dict[str, Any]:
    return {
        "name": name,
        "title": f"Fake robot {name}",
        "task": {"module": "tasks/fakes.py", "name": task},
        "category": "oevrige",
        "rules": "config/rules/small_invoices.yaml",
        "kind": "small_invoices",
        "schedule": {
            "cron": "30 1 * * 1-5",
            "timezone": "Europe/Copenhagen",
            "bank_days_only": False,
            "misfire_grace_minutes": 5,
            "timeout_minutes": 1,
            "enabled": True,
            **schedule,
        },
        "workers": 1,
    }


@dataclass
class FakeHome:
    """A project folder of fake robots, with its own data and output folders."""

    home: Path
    env: dict[str, str]

    @property
    def markers(self) -> Path:
        return Path(self.env["FAKE_MARKERS"])

    @property
    def robots(self) -> Path:
        return self.home / "robots"

    def write_robot(self, name: str, task: str, **schedule: Any) -> Path:
        path = self.robots / f"{name}.yaml"
        path.write_text(yaml.safe_dump(manifest_data(name, task, **schedule)), "utf-8")
        return path

    def settings(self) -> Settings:
        return load_settings(self.home, self.env)

    def manifests(self) -> dict[str, RobotManifest]:
        return load_manifests(self.robots)

    def runs(self, robot: str | None = None) -> list[RunRecord]:
        ledger = Ledger(self.settings().ledger.url)
        try:
            ledger.create_schema()
            return ledger.list_runs(robot, limit=100)
        finally:
            ledger.close()

    def audit(self, event: str | None = None) -> list[dict[str, Any]]:
        path = self.settings().audit.file
        if not path.exists():
            return []
        records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
        return [r for r in records if event is None or r["event"] == event]

    def marker(self, name: str) -> str | None:
        path = self.markers / name
        return path.read_text("utf-8") if path.exists() else None

    def robot(self, *args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "paybot", *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def use_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make this process's environment the fake home's (for ``paybot.cli.main``)."""
        for name in [n for n in os.environ if n.startswith(("PAYBOT_", "FAKE_"))]:
            monkeypatch.delenv(name)
        for name, value in self.env.items():
            if name.startswith(("PAYBOT_", "FAKE_")):
                monkeypatch.setenv(name, value)

    def service(self, **options: Any) -> SchedulerService:
        limits = options.pop("limits", Limits(kill_grace_seconds=2.0, poll_seconds=0.1))
        return SchedulerService(
            self.home,
            self.settings(),
            self.manifests(),
            ServiceOptions(limits=limits, env=self.env, wakeup_seconds=0.2, **options),
        )


def make_home(tmp_path: Path, robots: Mapping[str, str] | None = None) -> FakeHome:
    """A project folder with the repository's ``config/`` and fake robots ``{name: task}``."""
    home = tmp_path / "home"
    shutil.copytree(ROOT / "config", home / "config")
    (home / "robots").mkdir()
    (home / "tasks").mkdir()
    (home / "tasks" / "fakes.py").write_text(FAKE_TASKS, "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
    env |= {
        "PAYBOT_HOME": str(home),
        "PAYBOT_ERP_PASSWORD": "not-used-by-fake-robots",
        "FAKE_MARKERS": str(tmp_path / "markers"),
        **audit_key_env(tmp_path),
    }
    fake = FakeHome(home, env)
    for name, task in (robots or {}).items():
        fake.write_robot(name, task)
    return fake


def wait_for(condition: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Poll ``condition`` until it returns something true; fail naming ``what`` at the
    deadline."""
    pause = threading.Event()
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:g} s waiting for {what}")
        pause.wait(0.05)


@pytest.fixture
def fake_home(tmp_path: Path) -> Iterator[FakeHome]:
    yield make_home(tmp_path, {"fake-quick": "quick"})


def test_a_fake_robot_runs_through_robot_run_like_a_real_one(fake_home: FakeHome) -> None:
    done = fake_home.robot("run", "fake-quick")
    assert done.returncode == 0, done.stdout + done.stderr
    assert fake_home.marker("fake-quick.ran") == "manual"
    [row] = fake_home.runs("fake-quick")
    assert (row.trigger, row.exit_code, row.paid) == ("manual", 0, 2)
