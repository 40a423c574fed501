"""Where the ledger database's URL and password come from (paybot.config.ledger_url): the URL
from the settings or PAYBOT_LEDGER_URL, the psycopg 3 driver for postgresql://, the password
from the secret ledger_password when the URL has none; never printed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from paybot.config import ledger_url, load_settings
from paybot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
URL = "postgresql://paybot@db.example:5432/paybot"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


def env(**more: str) -> dict[str, str]:
    return {"PAYBOT_LEDGER_URL": URL, **more}


def test_sqlite_stays_as_it_is(home: Path) -> None:
    url = ledger_url(load_settings(home, {}))
    assert url.drivername == "sqlite" and url.database == str(home / "data" / "ledger.sqlite")


def test_postgresql_gets_psycopg_and_the_password_from_the_environment(home: Path) -> None:
    settings = load_settings(home, env(PAYBOT_LEDGER_PASSWORD="s3cret-from-env"))
    url = ledger_url(settings, env(PAYBOT_LEDGER_PASSWORD="s3cret-from-env"))
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.host, url.port, url.database) == (
        "paybot",
        "db.example",
        5432,
        "paybot",
    )
    assert url.password == "s3cret-from-env"
    assert "s3cret-from-env" not in str(url) and "s3cret-from-env" not in repr(url)


def test_the_password_from_a_systemd_credential_or_the_vault(home: Path) -> None:
    creds = home / "creds"
    creds.mkdir()
    (creds / "ledger-password").write_text("from-credential\n")
    (creds / "ledger-password").chmod(0o600)
    settings = load_settings(home, env())
    assert ledger_url(settings, env(CREDENTIALS_DIRECTORY=str(creds))).password == (
        "from-credential"
    )
    vault = settings.vault_file
    vault.parent.mkdir(parents=True, exist_ok=True)
    vault.write_text(json.dumps({"ledger_password": "from-vault"}))
    vault.chmod(0o600)
    assert ledger_url(settings, env()).password == "from-vault"
    vault.chmod(0o644)  # open to others: refused, naming the file, not the secret
    with pytest.raises(ConfigError, match="open to group or others") as refused:
        ledger_url(settings, env())
    assert "from-vault" not in str(refused.value)


def test_a_password_in_the_url_wins_and_none_anywhere_leaves_it_to_libpq(home: Path) -> None:
    with_password = {"PAYBOT_LEDGER_URL": "postgresql://paybot:in-url@db.example/paybot"}
    settings = load_settings(home, with_password)
    assert ledger_url(settings, {**with_password, "PAYBOT_LEDGER_PASSWORD": "x"}).password == (
        "in-url"
    )
    assert ledger_url(load_settings(home, env()), env()).password is None


def test_a_password_in_the_settings_file_is_refused(home: Path) -> None:
    path = home / "config" / "paybot.yaml"
    text = path.read_text("utf-8")
    old = 'url: "sqlite:///{data_dir}/ledger.sqlite"'
    assert old in text
    path.write_text(text.replace(old, 'url: "postgresql://paybot:pw-in-file@db/paybot"'))
    with pytest.raises(ConfigError, match="holds a password") as refused:
        load_settings(home, {})
    assert "pw-in-file" not in str(refused.value)
    assert "postgresql://paybot:***@db/paybot" in str(refused.value)
