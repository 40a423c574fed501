"""docs/adding-a-robot.md works: the example robot in tests/example_robot (manifest, task
module, rules module, rules file) is copied into a fresh project home and run against the mock."""

from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from support.robots import ROOT, Template, robot_world, seed_template

pytestmark = pytest.mark.e2e

EXAMPLE = ROOT / "tests" / "example_robot"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return seed_template(tmp_path_factory.mktemp("seed-20"), invoices=20, seed=8)


def test_the_example_fourth_robot_runs(template: Template, tmp_path: Path) -> None:
    home = tmp_path / "home"
    for part in ("config", "robots", "tasks"):
        shutil.copytree(ROOT / part, home / part)
    for part in ("robots", "tasks", "config"):
        shutil.copytree(EXAMPLE / part, home / part, dirs_exist_ok=True)
    shutil.copytree(EXAMPLE / "cleaning", home / "lib" / "cleaning")
    rules = yaml.safe_load((EXAMPLE / "config/rules/cleaning.yaml").read_text("utf-8"))

    with robot_world(tmp_path / "world", template) as world:
        # the robot's package first, then whatever paybot the caller put on the path
        path = os.pathsep.join(p for p in (str(home / "lib"), os.environ.get("PYTHONPATH")) if p)
        env = {"PAYBOT_HOME": str(home), "PYTHONPATH": path}
        listed = world.robot("list", env=env)
        assert "pay-cleaning-invoices" in listed.stdout
        run = world.robot("run", "pay-cleaning-invoices", env=env)
        assert run.returncode == 0, run.stdout + run.stderr

        new = {d["loebenr"] for d in world.expected("oevrige")}
        with world.erp() as erp:
            rows = [
                r
                for r in erp.execute(
                    "SELECT i.id, i.supplier_cvr, i.status, i.manual_reason, i.payable_amount, "
                    "p.account_string FROM invoices i "
                    "LEFT JOIN payments p ON p.invoice_id = i.id WHERE i.category = 'oevrige'"
                )
                if r["id"] in new
            ]
        assert rows and all(r["status"] in ("betalt", "manuel") for r in rows)
        paid = [r for r in rows if r["status"] == "betalt"]
        assert paid, "the contractor's ordinary invoices should be paid"
        for r in paid:
            assert r["supplier_cvr"] == rules["contractor_cvr"]
            assert Decimal(r["payable_amount"]) <= Decimal(str(rules["max_amount"]))
            assert r["account_string"] == rules["account_string"]
        # Everybody else goes to a person as an unknown supplier, unless a check that comes
        # earlier in the order (format, credit note) already stopped the invoice.
        earlier = {"MANUAL_FORMAT", "MANUAL_CREDIT_NOTE"}
        truth = {d["loebenr"]: d["expected"].get("reason") for d in world.expected("oevrige")}
        others = [r for r in rows if r["supplier_cvr"] != rules["contractor_cvr"]]
        assert others
        for r in others:
            want = truth[r["id"]] if truth[r["id"]] in earlier else "MANUAL_SUPPLIER"
            assert (r["status"], r["manual_reason"]) == ("manuel", want), dict(r)
        trail = world.audit_file.read_text("utf-8")
        assert '"rule_version":"2026.1+' in trail
        # every decision records the checks it made: all seven for a payment, the failed one last
        decisions = [r for r in map(json.loads, trail.splitlines()) if r["event"] == "decision"]
        assert {d["decision"] for d in decisions} == {"pay", "manual"}
        for d in decisions:
            *passed, last = d["checks"]
            assert all(c["passed"] for c in passed)
            if d["decision"] == "pay":
                assert last["passed"] and len(d["checks"]) == 7
            else:
                assert not last["passed"] and last["reason"] == d["reason"]
