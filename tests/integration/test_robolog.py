"""robocorp's log as a tree: a real robocorp-tasks run writes ``log.html`` with the project's
``[tool.robocorp.log]`` settings, and robocorp's public decoder reads it back: one element per
step, nested, errors at level ERROR, a screenshot embedded, personal data masked."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from robocorp.log import iter_decoded_log_format_from_log_html

from support.db import generated_cpr

ROOT = Path(__file__).resolve().parents[2]

TASK = """
from pathlib import Path

from robocorp.tasks import task

from paybot.run import robolog


@task
def steps() -> None:
    with robolog.step("Løbenr. 17 · 20433213:F-1"):
        with robolog.step("Læs fakturaen"):
            robolog.info("felt cpr CPR")
        robolog.warn("afvist")
    try:
        with robolog.step("Løbenr. 18 · 20433213:F-2"):
            robolog.error("timeout ved borger CPR")
            robolog.screenshot(Path(__file__).with_name("shot.png"), "Forsøg 1: Timeout")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with robolog.step("Løbenr. 19 · 20433213:F-3") as step:
        step.status = robolog.FAIL
"""


def test_log_html_is_a_tree_of_steps_with_errors_and_a_masked_screenshot(tmp_path: Path) -> None:
    cpr = generated_cpr(random.Random(3))
    (tmp_path / "steps_task.py").write_text(TASK.replace("CPR", cpr), "utf-8")
    # The project's own robocorp log settings (our packages excluded from auto-logging).
    settings = (ROOT / "pyproject.toml").read_text("utf-8")
    settings = settings.replace(
        '{ name = "tasks", kind = "exclude" },',
        '{ name = "tasks", kind = "exclude" },\n  { name = "steps_task", kind = "exclude" },',
    )
    (tmp_path / "pyproject.toml").write_text(settings, "utf-8")
    (tmp_path / "shot.png").write_bytes((ROOT / "docs" / "img" / "inbox.png").read_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "robocorp.tasks", "run", "steps_task.py", "--output-dir", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "did not have a corresponding pop" not in done.stdout + done.stderr
    log = tmp_path / "out" / "log.html"
    messages = []
    inside = False  # the task's own part of the log (not robocorp's set-up and tear-down)
    for m in iter_decoded_log_format_from_log_html(log):
        if m["message_type"] == "ST":
            inside = m["name"] == "steps"
        elif m["message_type"] == "ET":
            inside = False
        elif inside and m["message_type"] in ("SE", "EE", "L", "LH"):
            messages.append(m)
    tree: list[str] = []
    depth = 0
    for m in messages:
        kind = m["message_type"]
        if kind == "SE":
            tree.append("  " * depth + m["name"])
            depth += 1
        elif kind == "EE":
            depth -= 1
            tree.append("  " * depth + f"/{m['status']}")
        elif kind == "L":
            tree.append("  " * depth + f"{m['level']} {m['message']}")
        else:
            tree.append("  " * depth + f"{m['level']} html")
    masked = cpr[:6] + "-****"
    assert tree == [
        "Løbenr. 17 · 20433213:F-1",
        "  Læs fakturaen",
        f"    I felt cpr {masked}",
        "  /PASS",
        "  W afvist",
        "/PASS",
        "Løbenr. 18 · 20433213:F-2",
        f"  E timeout ved borger {masked}",
        "  E html",
        "/FAIL",
        "Løbenr. 19 · 20433213:F-3",
        "/FAIL",
    ]
    image = next(m["message"] for m in messages if m["message_type"] == "LH")
    assert image.startswith("<p>Forsøg 1: Timeout (shot.png)</p><img")
    assert "data:image/png;base64," in image
    text = log.read_text("utf-8", errors="replace")
    assert cpr not in text and cpr.replace("-", "") not in text
