"""What the console reads from a run folder's report.json, and how it shows times and amounts:
a broken or strange file never breaks a page."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from paybot.console.reads import figures
from paybot.console.state import danish, kroner, plain

RUN = "20261130T003000Z-ab12"


def state_for(output: Path) -> Any:
    return SimpleNamespace(settings=SimpleNamespace(output_dir=output))


def write(output: Path, data: object) -> None:
    folder = output / "runs" / RUN
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(
        data if isinstance(data, str) else json.dumps(data), "utf-8"
    )


def test_amounts_are_summed_by_outcome_and_personal_data_is_masked(tmp_path: Path) -> None:
    write(tmp_path, {
        "counts": {"paid": 2, "manual": 1, "odd": "x"},
        "items": [
            {"erp_id": 1, "result": "paid", "amount": "100.50"},
            {"erp_id": 2, "result": "paid", "amount": "0.25"},
            {"erp_id": 3, "result": "manual", "amount": "NaN", "note": "CPR 070761-4285"},
            {"erp_id": 4, "result": "failed", "amount": "abc"},
            "not an item",
        ],
    })  # fmt: skip
    found = figures(state_for(tmp_path), RUN)
    assert found is not None
    assert found.counts == {"paid": 2, "manual": 1}
    assert found.amounts == {"paid": Decimal("100.75")}
    assert len(found.items) == 4
    assert "4285" not in str(found.items[2]["note"])


@pytest.mark.parametrize("text", ["", "[1, 2]", "{not json", "null"])
def test_a_missing_or_broken_report_is_no_report(tmp_path: Path, text: str) -> None:
    assert figures(state_for(tmp_path), "20261130T003000Z-ffff") is None
    write(tmp_path, text)
    assert figures(state_for(tmp_path), RUN) is None


def test_times_and_amounts_as_a_danish_reader_reads_them() -> None:
    winter = dt.datetime(2026, 11, 30, 6, 15, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 6, 30, 6, 15, tzinfo=dt.UTC)
    assert danish(winter) == "30.11.2026 07:15" and danish(summer) == "30.06.2026 08:15"
    assert danish(None) == "-" and danish("not a time") == "not a time"
    assert kroner("1019.48") == "1.019,48 kr." and kroner(Decimal("7.5")) == "7,50 kr."
    assert kroner(None) == "-" and kroner("abc") == "-" and kroner("Infinity") == "-"
    assert plain({"a": "<b>"}) == '{"a": "<b>"}'  # escaped by the template, not here
