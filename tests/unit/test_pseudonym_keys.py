"""The certificate duplicate key is a keyed hash (issue 8 item 3): the pseudonym key, its
forms and its errors, and the conversion of the unsalted keys an older paybot stored."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from paybot.config import load_pseudonym_key, load_robot_config
from paybot.domain.rules import MedicalCertificateRules, SmallInvoiceRules
from paybot.domain.rules.keys import (
    CERTIFICATE_KEY_PREFIX,
    LEGACY_CERTIFICATE_KEY_PREFIX,
    KeyedHash,
    certificate_key,
    upgrade_certificate_key,
)
from paybot.errors import ConfigError
from support.domain_builders import ROOT

CVR, CPR, FORM = "86483505", "070761-1234", "LÆ 265"  # a generated CPR number
HEX_KEY = "0f" * 32


def legacy_key(cvr: str, cpr: str, form: str) -> str:
    """The unsalted formula paybot used before: SHA-256 of ``cvr|cpr digits|form``."""
    digits = "".join(ch for ch in cpr if ch.isdigit())
    material = f"{cvr}|{digits}|{form}".encode()
    return LEGACY_CERTIFICATE_KEY_PREFIX + hashlib.sha256(material).hexdigest()


def test_the_key_is_hex_or_base64_of_at_least_32_bytes() -> None:
    raw = bytes(range(32))
    forms = [
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]
    digests = {KeyedHash.from_text(f).hexdigest(b"x") for f in forms}
    assert len(digests) == 1
    assert KeyedHash.from_text(secrets.token_urlsafe(32)).hexdigest(b"x")
    for short in ("ab" * 31, base64.b64encode(b"k" * 31).decode()):
        with pytest.raises(ValueError, match="at least 32"):
            KeyedHash.from_text(short)
    with pytest.raises(ValueError, match="neither hex digits nor base64"):
        KeyedHash.from_text("correct horse battery staple!")


def test_the_key_is_never_shown() -> None:
    keyed = KeyedHash.from_text(HEX_KEY)
    assert HEX_KEY not in repr(keyed) and HEX_KEY not in str(keyed)
    assert "hidden" in repr(keyed)


def test_certificate_key_is_keyed_and_holds_no_cpr() -> None:
    one, two = KeyedHash(b"\x01" * 32), KeyedHash(b"\x02" * 32)
    key = certificate_key(CVR, CPR, FORM, one)
    assert key.startswith(CERTIFICATE_KEY_PREFIX) and len(key) == len(CERTIFICATE_KEY_PREFIX) + 64
    assert "0707611234" not in key and "070761" not in key
    assert certificate_key(CVR, "0707611234", FORM, one) == key  # dash or not
    assert certificate_key(CVR, CPR, FORM, two) != key
    # not the old unsalted digest, nor a plain SHA-256 of it
    old = legacy_key(CVR, CPR, FORM).removeprefix(LEGACY_CERTIFICATE_KEY_PREFIX)
    assert old not in key
    assert hashlib.sha256(bytes.fromhex(old)).hexdigest() not in key


def test_an_old_unsalted_key_upgrades_to_the_same_keyed_key() -> None:
    keyed = KeyedHash(b"\x03" * 32)
    old = legacy_key(CVR, CPR, FORM)
    assert upgrade_certificate_key(old, keyed) == certificate_key(CVR, CPR, FORM, keyed)
    assert upgrade_certificate_key("cvr+nr:86483505:L-1", keyed) is None
    assert upgrade_certificate_key(LEGACY_CERTIFICATE_KEY_PREFIX + "zz", keyed) is None


def write_vault(path: Path, content: dict[str, object], mode: int = 0o600) -> Path:
    path.write_text(json.dumps(content), encoding="utf-8")
    path.chmod(mode)
    return path


def test_a_robot_whose_rules_hash_refuses_to_load_without_the_key(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "vault.json", {"erp": {"password": "x"}})
    env = {"PAYBOT_VAULT_FILE": str(vault)}
    with pytest.raises(ConfigError) as caught:
        load_robot_config(ROOT, "pay-medical-certificates", env=env)
    message = str(caught.value)
    assert str(vault) in message and "pseudonym_key" in message
    assert "PAYBOT_PSEUDONYM_KEY" in message and "pseudonym-key" in message
    # the robots whose rules hash nothing do not need it
    small = load_robot_config(ROOT, "pay-small-invoices", env=env)
    assert isinstance(small.rules, SmallInvoiceRules)


def test_the_key_comes_from_the_vault_the_environment_or_a_credential(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "vault.json", {"pseudonym_key": HEX_KEY})
    cfg = load_robot_config(ROOT, "pay-medical-certificates", env={"PAYBOT_VAULT_FILE": str(vault)})
    assert isinstance(cfg.rules, MedicalCertificateRules)
    expected = certificate_key(CVR, CPR, FORM, KeyedHash.from_text(HEX_KEY))
    assert cfg.rules.upgrade_stored_key(legacy_key(CVR, CPR, FORM)) == expected
    creds = tmp_path / "creds"
    creds.mkdir()
    credential = creds / "pseudonym-key"  # a systemd credential holds the bare key
    credential.write_text(HEX_KEY + "\n")
    credential.chmod(0o600)
    settings = cfg.settings
    from_cred = load_pseudonym_key(settings, env={"CREDENTIALS_DIRECTORY": str(creds)})
    from_env = load_pseudonym_key(settings, env={"PAYBOT_PSEUDONYM_KEY": HEX_KEY})
    want = KeyedHash.from_text(HEX_KEY).hexdigest(b"m")
    assert from_cred.hexdigest(b"m") == from_env.hexdigest(b"m") == want


@pytest.mark.parametrize(
    ("content", "mode", "problem"),
    [
        ({"pseudonym_key": "ab" * 16}, 0o600, "at least 32"),
        ({"pseudonym_key": "not a key at all!"}, 0o600, "neither hex"),
        ({"pseudonym_key": HEX_KEY}, 0o644, "chmod 600"),
    ],
)
def test_a_bad_key_is_a_config_error_that_hides_it(
    tmp_path: Path, content: dict[str, object], mode: int, problem: str
) -> None:
    vault = write_vault(tmp_path / "vault.json", content, mode)
    with pytest.raises(ConfigError) as caught:
        load_robot_config(ROOT, "pay-medical-certificates", env={"PAYBOT_VAULT_FILE": str(vault)})
    message = str(caught.value)
    assert problem in message and str(vault) in message
    assert str(content["pseudonym_key"]) not in message


def test_robot_run_without_the_key_stops_before_anything_is_touched(tmp_path: Path) -> None:
    """``robot run pay-medical-certificates`` without a pseudonym key: exit 2, the message
    says where to put it, and no ledger, lock, trail or run folder is made."""
    vault = write_vault(tmp_path / "vault.json", {"erp": {"password": "not-shown-1"}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
    env |= {
        "PAYBOT_HOME": str(ROOT),
        "PAYBOT_DATA_DIR": str(tmp_path / "data"),
        "PAYBOT_OUTPUT_DIR": str(tmp_path / "output"),
        "PAYBOT_VAULT_FILE": str(vault),
        "PAYBOT_ERP_URL": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-m", "paybot", "run", "pay-medical-certificates"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pseudonym_key" in done.stderr and str(vault) in done.stderr
    assert "not-shown-1" not in done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vault.json"]
