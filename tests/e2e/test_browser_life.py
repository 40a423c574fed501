"""The browser's life, end to end (`robot run pay-small-invoices`, real headless Chromium, the
seeded mock): a Chromium that dies in the middle of a run is replaced and the run finishes; no
Chromium or chromedriver outlives its run, whichever process is killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from paybot import locks
from support.robots import Template, process_names, robot_world, seed_template
from support.waiting import wait_for

pytestmark = pytest.mark.e2e

ROBOT = "pay-small-invoices"
CATEGORY = "oevrige"
DEADLINE = 180.0


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return seed_template(tmp_path_factory.mktemp("seed-16"), invoices=16, seed=5)


def test_a_chromium_crash_mid_run_is_replaced_and_the_run_finishes(
    template: Template, tmp_path: Path
) -> None:
    with robot_world(tmp_path, template, latency_ms=100) as world:
        proc = world.popen("run", ROBOT)
        try:
            wait_for(lambda: world.item_states().count("PAID") >= 2, "two payments")
            chromium = [p for p in world.browser_processes() if "chromedriver" not in p.name()]
            assert chromium, "the run's Chromium should be marked"
            for p in chromium:  # Chromium crashes: every process of it, chromedriver stays
                p.kill()
            output, _ = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, output
        assert world.compare_with_truth(CATEGORY) == []
        assert all(n == 1 for n in world.payments_per_invoice().values())
        assert set(world.item_states()) <= {"PAID", "MANUAL", "SKIPPED"}
        report = world.last_report()
        assert report["browser_restarts"] == 1, report
        assert "restarted 1 time" in output
        trail = world.audit_file.read_text("utf-8")
        assert '"event":"browser_restarted"' in trail
        wait_for(lambda: not world.browser_processes(), "the run's browsers to be gone", 10)


def test_a_killed_worker_leaves_no_browser_and_the_next_run_pays_nothing_twice(
    template: Template, tmp_path: Path
) -> None:
    """SIGKILL the robot's worker process (the robocorp child of `robot run`, as the OOM
    killer would): `robot run` ends the browser it left; no marked process remains."""
    with robot_world(tmp_path, template, latency_ms=100) as world:
        proc = world.popen("run", ROBOT)
        try:
            wait_for(lambda: "PAID" in world.item_states(), "a first payment")
            worker = next(
                c for c in psutil.Process(proc.pid).children() if "python" in c.name().lower()
            )
            assert {"chromium", "chromedriver"} <= process_names(world.browser_processes())
            worker.send_signal(signal.SIGKILL)
            output, _ = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 1, output
        assert "SIGKILL" in output
        wait_for(
            lambda: not world.browser_processes(), "no Chromium or chromedriver of the run", 15
        )

        rerun = world.robot("run", ROBOT)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert world.compare_with_truth(CATEGORY) == []
        assert all(n == 1 for n in world.payments_per_invoice().values())


def test_browsers_a_killed_run_left_are_swept_at_start_and_reported(
    template: Template, tmp_path: Path
) -> None:
    """SIGKILL the whole run (`robot run` and its worker): chromedriver dies with its parent
    (PR_SET_PDEATHSIG); the Chromium left is ended by the next run, which says so."""
    with robot_world(tmp_path, template, latency_ms=100) as world:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paybot", "run", ROBOT],
            env=world.env,
            cwd=world.root,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: "PAID" in world.item_states(), "a first payment")
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        wait_for(
            lambda: "chromedriver" not in process_names(world.browser_processes()),
            "chromedriver to die",
            15,
        )
        left = world.browser_processes()
        assert left, "Chromium outlives chromedriver: the next run must sweep it"
        wait_for(lambda: not locks.is_locked(world.data_dir, ROBOT), "the lock to be freed", 10)

        rerun = world.robot("run", ROBOT)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert not world.browser_processes()
        report = (sorted((world.output_dir / "runs").glob("*/report.md"))[-1]).read_text("utf-8")
        assert "Cleaned up at start: ended" in report
        assert world.compare_with_truth(CATEGORY) == []
        assert all(n == 1 for n in world.payments_per_invoice().values())


def test_an_unreachable_finance_system_is_named_a_network_failure(
    template: Template, tmp_path: Path
) -> None:
    with socket.socket() as s:  # a free port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with robot_world(tmp_path, template) as world:
        down = world.robot("run", ROBOT, env={"PAYBOT_ERP_URL": f"http://127.0.0.1:{port}"})
        assert down.returncode == 3, down.stdout + down.stderr
        assert "preflight failed (network)" in down.stdout
        assert "ERR_CONNECTION_REFUSED" in down.stdout
        assert not world.browser_processes()


def test_a_renderer_that_stops_answering_is_replaced(template: Template, tmp_path: Path) -> None:
    """SIGSTOP every renderer of the run's Chromium: the page load times out, the browser does
    not answer a script either, so it is the browser (not the finance system) that failed."""
    with robot_world(tmp_path, template, latency_ms=100) as world:
        quick = {"PAYBOT_ERP_PAGE_TIMEOUT_SECONDS": "4", "PAYBOT_ERP_ELEMENT_TIMEOUT_SECONDS": "4"}
        proc = world.popen("run", ROBOT, env=quick)
        try:
            wait_for(lambda: "PAID" in world.item_states(), "a first payment")
            renderers = [
                p for p in world.browser_processes() if "--type=renderer" in " ".join(p.cmdline())
            ]
            assert renderers
            for p in renderers:
                p.suspend()
            output, _ = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, output
        assert world.compare_with_truth(CATEGORY) == []
        assert all(n == 1 for n in world.payments_per_invoice().values())
        report = world.last_report()
        assert report["browser_restarts"] == 1, report
        trail = world.audit_file.read_text("utf-8")
        assert "stopped answering" in trail or "the browser is gone" in trail
        wait_for(lambda: not world.browser_processes(), "the run's browsers to be gone", 10)
