"""Robots two and three end to end: every decision equals the seed's ground truth, a second run
changes nothing, every decision explains itself in the audit trail, no personal data leaks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support.robots import ROOT, Template, leaks, personal_values, robot_world, seed_template

pytestmark = pytest.mark.e2e

ROBOTS = {"pay-medical-certificates": "laegeerklaering", "pay-interpreter-invoices": "tolk"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """60 new invoices: every reason of both robots at least once (the seed guarantees it)."""
    return seed_template(tmp_path_factory.mktemp("seed-60"), invoices=60, seed=21)


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return seed_template(tmp_path_factory.mktemp("seed-12"), invoices=12, seed=4)


def decisions(audit: Path) -> list[dict[str, object]]:
    records = [json.loads(line) for line in audit.read_text("utf-8").splitlines()]
    return [r for r in records if r["event"] == "decision"]


def test_both_robots_match_the_ground_truth_and_explain_themselves(
    template: Template, tmp_path: Path
) -> None:
    with robot_world(tmp_path, template) as world:
        for robot, category in ROBOTS.items():
            run = world.robot("run", robot)
            assert run.returncode == 0, run.stdout + run.stderr
            assert world.compare_with_truth(category) == [], robot
            expected = world.expected(category)
            reasons = {
                d["expected"]["reason"] for d in expected if d["expected"]["decision"] == "manual"
            }
            assert len(reasons) >= 6, f"{robot}: the seed should cover its reasons, got {reasons}"
        assert all(n == 1 for n in world.payments_per_invoice().values())

        before = world.outcomes()
        for robot in ROBOTS:
            again = world.robot("run", robot)
            assert again.returncode == 0 and "paid 0, manual 0, failed 0" in again.stdout
        assert world.outcomes() == before

        # Every decision names its rule, the rules file's version and, when manual, the reason
        # and a Danish note; the note in the finance system names no CPR number.
        made = decisions(world.audit_file)
        assert len(made) == sum(len(world.expected(c)) for c in ROBOTS.values())
        for d in made:
            assert d["rule"] and "+" in str(d["rule_version"])
            if d["decision"] == "manual":
                assert str(d["reason"]).startswith("MANUAL_") and d["note"]
        with world.erp() as erp:
            notes = [
                r[0]
                for r in erp.execute(
                    "SELECT manual_note FROM invoices WHERE manual_note IS NOT NULL"
                )
            ]
        values = personal_values(world.db)
        assert notes and not [n for n in notes if any(v in n for v in values)]
        assert any("tarif" in n.lower() or "takst" in n.lower() for n in notes)
        assert world.robot("audit", "verify").returncode == 0
        assert leaks([world.data_dir, world.output_dir], values) == []


def test_a_changed_tariff_table_shows_as_the_deciding_rule_version(
    small_template: Template, tmp_path: Path
) -> None:
    """A municipality loads a new table without touching code: the decisions name it."""
    home = tmp_path / "home"
    for part in ("config", "robots", "tasks"):
        shutil.copytree(ROOT / part, home / part)
    rules = home / "config" / "rules" / "medical_certificates.yaml"
    text = rules.read_text("utf-8")
    old_version = next(line for line in text.splitlines() if line.startswith("version:"))
    rules.write_text(text.replace(old_version, 'version: "2027.1-test"'), "utf-8")
    with robot_world(tmp_path / "world", small_template) as world:
        run = world.robot(
            "run", "pay-medical-certificates", "--dry-run", env={"PAYBOT_HOME": str(home)}
        )
        assert run.returncode == 0, run.stdout + run.stderr
        versions = {str(d["rule_version"]) for d in decisions(world.audit_file)}
        assert len(versions) == 1 and versions.pop().startswith("2027.1-test+")
