"""A data or output folder that cannot be made (``/proc`` refuses ``mkdir``, also for root)
stops ``robot run``, ``status``, ``schedule``, ``scheduler`` and ``report morning`` with one
sentence naming the setting, its environment variable and the value: exit 2, no traceback,
nothing written (the real ``robot`` command in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROBOT = Path(sys.executable).parent / "robot"


def robot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
    return subprocess.run(
        [str(ROBOT), *args],
        cwd=ROOT,
        env=clean | {"PAYBOT_HOME": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [("run", "pay-small-invoices"), ("status",), ("schedule",), ("scheduler",)],
    ids=lambda a: " ".join(a),
)
def test_a_data_folder_that_cannot_be_made_names_the_setting(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    output = tmp_path / "output"
    done = robot(*args, PAYBOT_DATA_DIR="/proc/nope", PAYBOT_OUTPUT_DIR=str(output))
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "Traceback" not in said
    assert "PAYBOT_DATA_DIR (data_dir) = '/proc/nope'" in done.stderr, said
    assert "cannot create the folder /proc/nope" in done.stderr
    assert not output.exists()  # stopped before anything was written


def test_an_output_folder_that_cannot_be_made_stops_the_morning_report(tmp_path: Path) -> None:
    done = robot(
        "report", "morning", PAYBOT_DATA_DIR=str(tmp_path / "data"), PAYBOT_OUTPUT_DIR="/proc/n2"
    )
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "Traceback" not in said
    assert "PAYBOT_OUTPUT_DIR (output_dir) = '/proc/n2'" in done.stderr, said
