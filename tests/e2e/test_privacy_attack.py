"""An attacker's test (issue 8 item 3): nothing the three robots write lets anyone rebuild a
CPR number, and everything they write is owner-only even under umask 022.

The attacker gets every file a seeded run of all three robots wrote (data folder, output
folder: audit trail, ledger file and its rows, reports, console logs, robocorp's output), but
not the vault (kept outside the data folder, as docs/operations.md says). The attack:

1. any full CPR number (or bank account number) in any text;
2. for every invoice in the trail, its masked birth dates (``DDMMYY-****``), CVR numbers and
   forms, and all 10,000 serials: plain SHA-256 of the key formats paybot used and obvious
   variants, tested against every 64-hex digest found anywhere.

It finds nothing. The control shows the attack works: over the same data plus the keys an
older paybot stored (unsalted SHA-256, planted in the ledger before the certificate run and
converted by it), the same brute force rebuilds the citizens' CPR numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.robots import Template, leaks, personal_values, robot_world, seed_template

pytestmark = pytest.mark.e2e

ROBOTS = {
    "pay-small-invoices": "smaa",
    "pay-medical-certificates": "laegeerklaering",
    "pay-interpreter-invoices": "tolk",
}
CERT_ROBOT = "pay-medical-certificates"
LEGACY_PREFIX = "cvr+cpr+blanket:sha256:"

MASKED_BIRTH_DATE = re.compile(r"(?<!\d)(\d{6})-\*{4}")
CVR = re.compile(r"(?<!\d)(\d{8})(?!\d)")
DIGEST = re.compile(r"(?<![0-9a-fA-F])([0-9a-fA-F]{64})(?![0-9a-fA-F])")
FORM_KEYS = ("form", "blanket")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """60 new invoices of every category (the seed of the robots' own end-to-end test)."""
    return seed_template(tmp_path_factory.mktemp("seed-attack"), invoices=60, seed=21)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The robots are started under the usual umask, which makes files readable by all."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# --- what the attacker has -------------------------------------------------------------------


@dataclass
class Loot:
    texts: dict[str, str] = field(default_factory=dict)
    """Every file as text (bytes decoded leniently), and the ledger's rows as text."""
    trail: list[dict[str, object]] = field(default_factory=list)


def ledger_rows(path: Path) -> str:
    """Every row of every table of a SQLite file, as text."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        lines = []
        for table in tables:
            lines += [f"{table}: {row!r}" for row in conn.execute(f'SELECT * FROM "{table}"')]
    finally:
        conn.close()
    return "\n".join(lines)


def take_everything(folders: Iterable[Path]) -> Loot:
    loot = Loot()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            loot.texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
            if path.suffix == ".sqlite":
                loot.texts[f"{path} (rows)"] = ledger_rows(path)
            if path.name.endswith(".jsonl"):
                loot.trail += [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    return loot


def strings_in(value: object) -> Iterator[tuple[str, str]]:
    """``(key, text)`` for every string leaf of a JSON value (key: the nearest dict key)."""
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, dict):
            stack += [(str(k), v) for k, v in item.items()]
        elif isinstance(item, list):
            stack += [(key, v) for v in item]
        elif item is not None:
            yield key, str(item)


# --- the attack ------------------------------------------------------------------------------


def templates(cvr: str, form: str) -> list[tuple[bytes, bytes, bytes]]:
    """``(before, between, after)`` around the CPR number's birth date and serial: the key
    format paybot used (``cvr|cpr digits|form``) and obvious variants (dash, separators,
    fewer parts, no space in the form)."""
    bare = form.replace(" ", "")
    texts = [
        (f"{cvr}|", "", f"|{form}"),
        (f"{cvr}|", "-", f"|{form}"),
        (f"{cvr}:", "", f":{form}"),
        (f"{cvr}", "", f"{form}"),
        (f"{cvr}|", "", ""),
        ("", "", f"|{form}"),
        (f"{cvr}|", "", f"|{bare}"),
        ("", "", ""),
        ("", "-", ""),
    ]
    return sorted({(a.encode(), b.encode(), c.encode()) for a, b, c in texts})


def brute_force(loot: Loot) -> dict[str, str]:
    """Rebuilt CPR numbers: ``{cpr: the digest it matched}``."""
    digests = {bytes.fromhex(m) for text in loot.texts.values() for m in DIGEST.findall(text)}
    forms_everywhere: set[str] = set()
    per_invoice: dict[object, dict[str, set[str]]] = defaultdict(
        lambda: {"dates": set(), "cvrs": set(), "numbers": set(), "forms": set()}
    )
    for record in loot.trail:
        invoice = record.get("erp_id", record.get("loebenr"))
        seen = per_invoice[invoice]
        for key, text in strings_in(record):
            seen["dates"].update(MASKED_BIRTH_DATE.findall(text))
            seen["numbers"].update(CVR.findall(text))
            if "cvr" in key.lower():
                seen["cvrs"].update(CVR.findall(text))
            if any(k in key.lower() for k in FORM_KEYS):
                seen["forms"].add(text)
                forms_everywhere.add(text)
    found: dict[str, str] = {}
    for seen in per_invoice.values():
        if not seen["dates"]:
            continue
        forms = seen["forms"] or forms_everywhere or {""}
        cvrs = seen["cvrs"] or seen["numbers"] or {""}
        shapes = sorted({t for cvr in cvrs for form in forms for t in templates(cvr, form)})
        for date in seen["dates"]:
            born = date.encode()
            for serial in range(10_000):
                tail = b"%04d" % serial
                for before, between, after in shapes:
                    digest = hashlib.sha256(before + born + between + tail + after).digest()
                    if digest in digests:
                        found[f"{date}-{serial:04d}"] = digest.hex()
    return found


# --- the test --------------------------------------------------------------------------------


def legacy_keys(db: Path) -> list[tuple[int, str, str]]:
    """``(Løbenr, CPR, key)`` an older paybot stored for each new certificate in the mock:
    unsalted SHA-256 of ``CVR|CPR digits|form``."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT id, supplier_cvr, cert_cpr, cert_form FROM invoices "
            "WHERE category = 'laegeerklaering' AND status = 'ny' AND cert_cpr != ''"
        ).fetchall()
    finally:
        conn.close()
    out = []
    for erp_id, cvr, cpr, form in rows:
        digits = "".join(ch for ch in cpr if ch.isdigit())
        material = f"{' '.join(cvr.split())}|{digits}|{' '.join(form.split())}".encode()
        out.append((erp_id, cpr, LEGACY_PREFIX + hashlib.sha256(material).hexdigest()))
    return out


def open_to_others(folders: Iterable[Path]) -> list[str]:
    found = []
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            if not path.is_symlink() and mode & 0o077:
                found.append(f"{path} {oct(mode)}")
    return found


def test_nothing_the_robots_write_rebuilds_a_cpr_number(
    template: Template, tmp_path: Path, umask_022: None
) -> None:
    with robot_world(tmp_path, template) as world:
        world.data_dir.chmod(0o755)  # as an older paybot or a hand-made folder would be
        first = world.robot("run", "pay-small-invoices")
        assert first.returncode == 0, first.stdout + first.stderr
        # What an older paybot left in the ledger: unsalted certificate keys.
        planted = legacy_keys(world.db)
        assert len(planted) >= 10
        with world.ledger() as conn:
            conn.executemany(
                "INSERT INTO dup_keys (robot, key, erp_id) VALUES (?, ?, ?)",
                [(CERT_ROBOT, key, erp_id) for erp_id, _, key in planted],
            )
        for robot in ("pay-medical-certificates", "pay-interpreter-invoices"):
            run = world.robot("run", robot)
            assert run.returncode == 0, run.stdout + run.stderr
        for robot, category in ROBOTS.items():
            assert world.compare_with_truth(category) == [], robot

        with world.ledger() as conn:
            left = conn.execute(
                "SELECT COUNT(*) FROM dup_keys WHERE key LIKE 'cvr+cpr+blanket:sha256:%'"
            ).fetchone()[0]
            keyed = conn.execute(
                "SELECT COUNT(*) FROM dup_keys WHERE key LIKE 'cvr+cpr+blanket:hmac-sha256:%'"
            ).fetchone()[0]
        assert left == 0 and keyed >= len(planted)
        folders = [world.data_dir, world.output_dir]
        loot = take_everything(folders)
        upgraded = [r for r in loot.trail if r.get("event") == "duplicate_keys_upgraded"]
        assert [r["count"] for r in upgraded] == [len(planted)]

        # 1. no full CPR number (or bank account) in any file
        assert leaks(folders, personal_values(world.db)) == []
        # 2. birth dates + brute force against every digest found
        assert len(loot.trail) > 100 and any(
            MASKED_BIRTH_DATE.search(text) for text in loot.texts.values()
        )
        digests = {m.lower() for t in loot.texts.values() for m in DIGEST.findall(t)}
        assert len(digests) >= keyed  # the keyed digests are there to attack
        began = time.monotonic()
        assert brute_force(loot) == {}
        attack_s = time.monotonic() - began

        # The control: the same attack, had the ledger kept the old unsalted keys.
        cprs = {cpr for _, cpr, _ in planted}
        old = Loot(
            texts=loot.texts | {"old ledger": "\n".join(key for _, _, key in planted)},
            trail=loot.trail,
        )
        rebuilt = brute_force(old)
        assert set(rebuilt) <= cprs  # only true CPR numbers
        assert len(rebuilt) >= 0.9 * len(cprs), (len(rebuilt), len(cprs))
        print(  # shown with -s: the figures of the attack
            f"\nattack: {len(loot.texts)} texts, {len(loot.trail)} trail records, "
            f"{len(digests)} digests, {len(planted)} certificates; keyed: 0 rebuilt in "
            f"{attack_s:.1f} s; unsalted control: {len(rebuilt)} of {len(cprs)} rebuilt"
        )

        # Owner-only, whatever the umask the robots were started under.
        assert open_to_others(folders) == []
