"""The robot against a bare Selenium script doing the same clicks: speed and memory.

    .venv/bin/python benchmarks/robot_vs_selenium.py [--invoices N] [--repeat R] [--seed S]
                                                      [--also-script-fill] [--keep] [--json F]

Seeds the mock finance system once (``robot erp seed``; N=120 gives ~60 small invoices). Each
measurement starts from a copy of that fresh database and its own mock server, then runs

- **robot**: ``python -m paybot run pay-small-invoices`` with a private data, output and vault
  folder (as ``tests/support/robots.py``), and
- **bare**: ``benchmarks/bare_selenium_payer.py``, plain ``selenium`` doing the robot's clicks
  and reads for the same outcome (typing with ``find_element`` + ``send_keys``; with
  ``--also-script-fill`` also a variant that sets the form in one ``execute_script`` as the
  robot does, reported for information),

alternating the two, R times each. After every run ``robot erp compare --category oevrige``
must find every small invoice as the ground truth says, else the benchmark stops (exit 1):
only equal work is compared.

Measured: the wall time of the whole command (process start to exit, browser start included)
and the per-invoice phase, from the first invoice page opened for work (the ``page_opened``
before the first ``field_read`` in the audit trail; in the bare script the same moment) to the
end of the last invoice (``run_finished``). Memory: VmRSS summed over the process tree (Python,
chromedriver, Chromium), sampled from /proc every 50 ms (shared pages of Chromium's processes
are counted once per process, as ``ps`` does). Prints medians and min-max, the robot's time per
step and per audit event type, and ``PASS``/``FAIL`` for the target: the robot's per-invoice
phase at most 1.30 times the bare script's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proc_rss import TreeSampler

from paybot.audit.signing import new_key_pair

ROOT = Path(__file__).resolve().parents[1]
BARE_SCRIPT = Path(__file__).resolve().parent / "bare_selenium_payer.py"
ROBOT = "pay-small-invoices"
CATEGORY = "oevrige"
TARGET = 1.30
RUN_TIMEOUT_SECONDS = 900


class BenchmarkFailed(Exception):
    """A run did not do the work it was measured for."""


# --- one measurement ---------------------------------------------------------------------------


@dataclass
class Measurement:
    kind: str  # "robot", "bare" or "bare-script"
    total: float  # seconds, process start to exit
    phase: float  # seconds, the per-invoice phase
    invoices: int
    peak_python_mb: float
    peak_largest_python_mb: float
    peak_tree_mb: float
    peak_kind_mb: dict[str, float]
    processes: int
    stages: dict[str, float]  # start-up / work / end, seconds
    steps: dict[str, float]  # seconds per step, summed over the invoices
    events: dict[str, float] = field(default_factory=dict)  # robot: seconds by audit event


@dataclass(frozen=True)
class Template:
    folder: Path
    db: Path
    users: Path
    truth: Path
    invoices: int  # new invoices of the category
    pay: int
    manual: int


def seed(folder: Path, invoices: int, seed_value: int) -> Template:
    folder.mkdir(parents=True)
    db = folder / "mockerp.sqlite"
    cmd = [sys.executable, "-m", "paybot", "erp", "seed", "--db", str(db)]
    cmd += ["--invoices", str(invoices), "--seed", str(seed_value)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchmarkFailed(f"seeding failed:\n{done.stdout}{done.stderr}")
    truth = folder / "mockerp.truth.json"
    docs = [
        d
        for d in json.loads(truth.read_text("utf-8"))["documents"]
        if d["category"] == CATEGORY and d["status"] == "ny"
    ]
    pay = sum(1 for d in docs if d["expected"]["decision"] == "pay")
    return Template(
        folder, db, folder / "mockerp-users.json", truth, len(docs), pay, len(docs) - pay
    )


@contextmanager
def world(root: Path, template: Template) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A fresh copy of the seeded database behind its own mock server: (url, vault, env)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.mockserver import running_mock

    root.mkdir(parents=True)
    db = root / "mockerp.sqlite"
    shutil.copyfile(template.db, db)
    data = root / "data"
    data.mkdir()
    password = json.loads(template.users.read_text("utf-8"))["robot"]["password"]
    vault = data / "vault.json"
    vault.write_text(
        json.dumps(
            {
                "erp": {"username": "robot", "password": password},
                "pseudonym_key": secrets.token_hex(32),
            }
        )
    )
    vault.chmod(0o600)
    with running_mock(db) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
        env |= {
            "PAYBOT_HOME": str(ROOT),
            "PAYBOT_ERP_URL": server.url,
            "PAYBOT_DATA_DIR": str(data),
            "PAYBOT_OUTPUT_DIR": str(root / "output"),
            "PAYBOT_VAULT_FILE": str(vault),
            "PAYBOT_AUDIT_SIGNING_KEY": new_key_pair()[0],  # signed, as in production
        }
        yield server.url, vault, env
    check_truth(db, template)


def check_truth(db: Path, template: Template) -> None:
    cmd = [sys.executable, "-m", "paybot", "erp", "compare", "--db", str(db)]
    cmd += ["--truth", str(template.truth), "--category", CATEGORY]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    expected = f"{CATEGORY}: {template.invoices} of {template.invoices} as expected"
    if done.returncode != 0 or done.stdout.strip() != expected:
        raise BenchmarkFailed(
            f"{db}: the finance system does not look as the ground truth says "
            f"(compare exit {done.returncode}):\n{done.stdout}{done.stderr}"
        )


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, TreeSampler, str]:
    """Run a command; its start and end (``time.time()``), its tree's memory, its output."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        start = time.time()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        try:
            proc.wait(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise BenchmarkFailed(f"{' '.join(cmd)}: not done in {RUN_TIMEOUT_SECONDS} s") from None
        finally:
            end = time.time()
            sampler.stop()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        raise BenchmarkFailed(f"{' '.join(cmd)} exited with {proc.returncode}:\n{output}")
    return start, end, sampler, output


def _mb(kb: float) -> float:
    return kb / 1024


def measure_robot(root: Path, template: Template) -> Measurement:
    with world(root, template) as (_, _, env):
        start, end, mem, _ = timed([sys.executable, "-m", "paybot", "run", ROBOT], env)
    records = [
        json.loads(line)
        for line in (root / "data" / "audit" / "audit.jsonl").read_text("utf-8").splitlines()
    ]
    ts = [dt.datetime.fromisoformat(r["ts"]).timestamp() for r in records]
    events = [r["event"] for r in records]
    first_read = next(i for i, r in enumerate(records) if r["event"] == "field_read")
    first = max(i for i in range(first_read) if events[i] == "page_opened")
    finished = events.index("run_finished")
    done = records[finished]
    if (done["exit_code"], done["paid"], done["manual"]) != (0, template.pay, template.manual):
        raise BenchmarkFailed(f"{root}: the robot's run ended with {done}")
    by_event: dict[str, float] = defaultdict(float)
    steps: dict[str, float] = defaultdict(float)
    for i in range(first + 1, finished + 1):
        by_event[events[i]] += ts[i] - ts[i - 1]
        steps[robot_step(records[i - 1], records[i])] += ts[i] - ts[i - 1]
    run_started = ts[events.index("run_started")]
    return Measurement(
        kind="robot",
        total=end - start,
        phase=ts[finished] - ts[first],
        invoices=template.invoices,
        peak_python_mb=_mb(mem.peak_python_kb),
        peak_largest_python_mb=_mb(mem.peak_largest_kb("python")),
        peak_tree_mb=_mb(mem.peak_total_kb),
        peak_kind_mb={k: _mb(v) for k, v in mem.peak_kind_kb.items()},
        processes=len(mem.processes_seen),
        stages={
            "process start until the browser starts": run_started - start,
            "browser start, open the login page": ts[events.index("page_opened")] - run_started,
            "login, preflight, collect, open 1st invoice": ts[first]
            - ts[events.index("page_opened")],
            "per-invoice phase": ts[finished] - ts[first],
            "after the last invoice (close, exit)": end - ts[finished],
        },
        steps=dict(steps),
        events=dict(by_event),
    )


# The robot's time between two audit records, named by the step it was spent on.
ROBOT_STEPS = {
    "page_opened": "open + read invoice",
    "field_read": "robot: read fields, audit field_read",
    "decision": "robot: decide (parse, rules, duplicates)",
    "value_typed": "type",
    "button_clicked": "robot: audit button_clicked",
    "voucher_read": "click + wait + read result",
    "run_finished": "robot: report",
}


def robot_step(prev: dict[str, Any], cur: dict[str, Any]) -> str:
    event = cur["event"]
    if event == "state_changed":
        if cur.get("to") in ("PAY_INTENT", "MANUAL_INTENT"):
            return "robot: ledger decision + intent"
        if prev["event"] == "button_clicked":  # hand-over: click, wait, read, ledger
            return "click + wait + read result"
        return "robot: ledger paid"
    if event == "value_typed" and prev["event"] == "value_typed":
        return "type"
    return ROBOT_STEPS.get(event, f"robot: {event}")


def measure_bare(root: Path, template: Template, typing: str) -> Measurement:
    out = root / "bare.json"
    with world(root, template) as (url, vault, env):
        cmd = [sys.executable, str(BARE_SCRIPT), "--url", url, "--vault", str(vault)]
        cmd += ["--truth", str(template.truth), "--out", str(out), "--typing", typing]
        start, end, mem, _ = timed(cmd, env)
    result = json.loads(out.read_text("utf-8"))
    m = result["marks"]
    if (result["invoices"], result["paid"]) != (template.invoices, template.pay):
        raise BenchmarkFailed(f"{root}: the bare script did {result}")
    return Measurement(
        kind="bare" if typing == "send_keys" else "bare-script",
        total=end - start,
        phase=m["phase_end"] - m["phase_start"],
        invoices=result["invoices"],
        peak_python_mb=_mb(mem.peak_python_kb),
        peak_largest_python_mb=_mb(mem.peak_largest_kb("python")),
        peak_tree_mb=_mb(mem.peak_total_kb),
        peak_kind_mb={k: _mb(v) for k, v in mem.peak_kind_kb.items()},
        processes=len(mem.processes_seen),
        stages={
            "process start until the browser starts": m["imports_done"] - start,
            "browser start, open the login page": m["login_page"] - m["imports_done"],
            "login, preflight, collect, open 1st invoice": m["phase_start"] - m["login_page"],
            "per-invoice phase": m["phase_end"] - m["phase_start"],
            "after the last invoice (close, exit)": end - m["phase_end"],
        },
        steps=result["steps"],
    )


# --- the report --------------------------------------------------------------------------------


def spread(values: list[float], fmt: str) -> str:
    med = statistics.median(values)
    return f"{med:{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def med(runs: list[Measurement], get: Callable[[Measurement], float]) -> float:
    return statistics.median(get(r) for r in runs)


def print_report(results: dict[str, list[Measurement]], template: Template, args: Any) -> float:
    robot, bare = results["robot"], results["bare"]
    kinds = [k for k in ("robot", "bare", "bare-script") if results.get(k)]
    names = {"robot": "robot", "bare": "bare Selenium", "bare-script": "bare, script fill"}
    print()
    print(
        f"robot vs bare Selenium: {template.invoices} small invoices ({template.pay} pay, "
        f"{template.manual} manual) of --invoices {args.invoices} --seed {args.seed}; "
        f"{args.repeat} runs each; median (min-max)"
    )
    rows: list[tuple[str, Callable[[Measurement], float], str]] = [
        ("total wall time [s]", lambda r: r.total, ".1f"),
        ("per-invoice phase [s]", lambda r: r.phase, ".1f"),
        ("time per invoice [ms]", lambda r: r.phase / r.invoices * 1000, ".0f"),
        ("start-up + end [s]", lambda r: r.total - r.phase, ".1f"),
        ("peak RSS, Python [MB]", lambda r: r.peak_python_mb, ".0f"),
        ("  largest Python process [MB]", lambda r: r.peak_largest_python_mb, ".0f"),
        ("peak RSS, whole tree [MB]", lambda r: r.peak_tree_mb, ".0f"),
        ("  of which Chromium [MB]", lambda r: r.peak_kind_mb.get("chromium", 0.0), ".0f"),
        ("  of which chromedriver [MB]", lambda r: r.peak_kind_mb.get("chromedriver", 0.0), ".0f"),
        ("processes in the tree", lambda r: r.processes, ".0f"),
    ]
    width = 30
    print(f"{'':{width}}" + "".join(f"{names[k]:>24}" for k in kinds) + f"{'robot/bare':>12}")
    for label, get, fmt in rows:
        cells = "".join(f"{spread([get(r) for r in results[k]], fmt):>24}" for k in kinds)
        ratio = med(robot, get) / med(bare, get) if med(bare, get) else float("nan")
        print(f"{label:{width}}{cells}{ratio:>11.2f}×")

    print("\nwhere the time goes, seconds (median)")
    stages = list(robot[0].stages)
    print(f"{'':{width + 16}}" + "".join(f"{names[k]:>20}" for k in kinds))
    for stage in stages:
        cells = "".join(f"{med(results[k], lambda r, s=stage: r.stages[s]):>20.2f}" for k in kinds)
        print(f"{stage:{width + 16}}{cells}")

    print("\nper-invoice phase by step, ms per invoice (median)")
    steps = sorted({s for k in kinds for r in results[k] for s in r.steps})
    for step in sorted(steps, key=lambda s: (s.startswith("robot:"), s)):
        cells = "".join(
            f"{med(results[k], lambda r, s=step: r.steps.get(s, 0.0) / r.invoices * 1000):>20.1f}"
            for k in kinds
        )
        print(f"{step:{width + 16}}{cells}")

    print("\nrobot, per-invoice phase by audit event (time since the previous record), ms/invoice")
    events = sorted(robot[0].events, key=lambda e: -med(robot, lambda r, e=e: r.events.get(e, 0.0)))
    for event in events:
        per = med(robot, lambda r, e=event: r.events.get(e, 0.0) / r.invoices * 1000)
        print(f"{event:{width + 16}}{per:>20.1f}")

    total_ratio = med(robot, lambda r: r.total) / med(bare, lambda r: r.total)
    ratio = med(robot, lambda r: r.phase) / med(bare, lambda r: r.phase)
    print(f"\nrobot/bare: per-invoice phase {ratio:.2f}×, total wall time {total_ratio:.2f}×")
    if results.get("bare-script"):
        script = med(results["bare-script"], lambda r: r.phase)
        print(
            f"for information: robot/bare with the form set by one execute_script, as the robot "
            f"does: per-invoice phase {med(robot, lambda r: r.phase) / script:.2f}×"
        )
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=120, help="seeded invoices (default 120)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="the seed's seed (default 1)")
    parser.add_argument(
        "--also-script-fill",
        action="store_true",
        help="also run the bare script filling the form by one execute_script (information)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="paybot-robot-vs-selenium-"))
    results: dict[str, list[Measurement]] = defaultdict(list)
    try:
        began = time.monotonic()
        template = seed(work / "template", args.invoices, args.seed)
        print(
            f"seeded {args.invoices} invoices (seed {args.seed}): {template.invoices} new small "
            f"invoices, {template.pay} to pay, {template.manual} to hand over "
            f"({time.monotonic() - began:.1f} s)",
            flush=True,
        )
        plan: list[tuple[str, Callable[[Path], Measurement]]] = [
            ("robot", lambda root: measure_robot(root, template)),
            ("bare", lambda root: measure_bare(root, template, "send_keys")),
        ]
        if args.also_script_fill:
            plan.append(("bare-script", lambda root: measure_bare(root, template, "script")))
        for n in range(1, args.repeat + 1):
            order = plan if n % 2 else plan[::-1]  # alternate who goes first
            for kind, run in order:
                m = run(work / f"{kind}-{n}")
                results[kind].append(m)
                print(
                    f"run {n}/{args.repeat} {kind:12} total {m.total:6.1f} s, per-invoice phase "
                    f"{m.phase:6.1f} s ({m.phase / m.invoices * 1000:4.0f} ms/invoice), peak RSS "
                    f"python {m.peak_python_mb:4.0f} MB, tree {m.peak_tree_mb:5.0f} MB",
                    flush=True,
                )
        ratio = print_report(results, template, args)
        if args.json:
            args.json.write_text(
                json.dumps({k: [vars(m) for m in v] for k, v in results.items()}, indent=1)
            )
        print(f"(benchmark took {(time.monotonic() - began) / 60:.1f} min)")
    except BenchmarkFailed as exc:
        print(f"FAIL: {exc}")
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(
        f"{verdict}: robot per-invoice phase is {ratio:.2f}× the bare Selenium script "
        f"(target ≤ {TARGET:.2f}×)"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
