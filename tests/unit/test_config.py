"""Configuration: the shipped files load; broken files name file, key and value; secrets."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from paybot.config import (
    RobotManifest,
    Schedule,
    find_home,
    load_all_robot_configs,
    load_bank_calendar,
    load_credentials,
    load_manifest,
    load_manifests,
    load_reasons,
    load_robot_config,
    load_rules,
    load_settings,
    settings_env_names,
)
from paybot.domain.calendar import DEFAULT_CALENDAR
from paybot.domain.reasons import ALL_REASONS
from paybot.domain.rules import (
    RULES_BY_KIND,
    InterpreterRules,
    MedicalCertificateRules,
    SmallInvoiceRules,
)
from paybot.errors import ConfigError
from support.domain_builders import ROOT

ROBOTS = ("pay-small-invoices", "pay-medical-certificates", "pay-interpreter-invoices")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A copy of the shipped config/ and robots/ to break."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "robots", tmp_path / "robots")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the shipped configuration --------------------------------------------------------------


def test_shipped_configuration_loads() -> None:
    configs = load_all_robot_configs(ROOT, env={"PAYBOT_PSEUDONYM_KEY": "0f" * 32})
    assert set(configs) == set(ROBOTS)
    assert isinstance(configs["pay-small-invoices"].rules, SmallInvoiceRules)
    assert isinstance(configs["pay-medical-certificates"].rules, MedicalCertificateRules)
    assert isinstance(configs["pay-interpreter-invoices"].rules, InterpreterRules)
    for cfg in configs.values():
        assert cfg.manifest.kind in RULES_BY_KIND
        assert cfg.manifest.category is cfg.rules.category
        assert cfg.rules.reason_codes <= set(cfg.reasons.reasons)
        assert cfg.settings.municipality.name == "Demo Kommune"


def test_schedules_are_staggered_on_weekdays() -> None:
    manifests = load_manifests(ROOT / "robots")
    crons = {name: m.schedule.cron for name, m in manifests.items()}
    assert crons == {
        "pay-small-invoices": "30 1 * * 1-5",
        "pay-medical-certificates": "0 2 * * 1-5",
        "pay-interpreter-invoices": "30 2 * * 1-5",
    }
    for m in manifests.values():
        assert m.schedule.timezone == "Europe/Copenhagen" and m.schedule.bank_days_only
        assert m.task.module == f"tasks/{m.name.replace('-', '_')}.py"
        assert m.task.name == m.name.replace("-", "_")
        assert m.schedule.trigger() is not None


def test_rule_version_is_version_plus_file_checksum() -> None:
    path = ROOT / "config/rules/small_invoices.yaml"
    rules = load_rules(path, "small_invoices")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert rules.rule_version == f"2026.1+{digest}"


def test_a_changed_table_changes_the_rule_version(home: Path) -> None:
    path = home / "config/rules/small_invoices.yaml"
    before = load_rules(path, "small_invoices").rule_version
    edit(path, "max_amount: 3000.00", "max_amount: 2000.00")
    after = load_rules(path, "small_invoices")
    assert after.rule_version != before and after.rule_version.startswith("2026.1+")
    assert isinstance(after, SmallInvoiceRules)
    assert str(after.config.max_amount) == "2000.00"


def test_shipped_rules_use_the_world_figures() -> None:
    small = load_rules(ROOT / "config/rules/small_invoices.yaml", "small_invoices")
    certs = load_rules(ROOT / "config/rules/medical_certificates.yaml", "medical_certificates")
    interp = load_rules(ROOT / "config/rules/interpreter_contract.yaml", "interpreter")
    assert isinstance(small, SmallInvoiceRules)
    assert isinstance(certs, MedicalCertificateRules)
    assert isinstance(interp, InterpreterRules)
    world = yaml.safe_load((ROOT / "src/mockerp/fixtures/world.yaml").read_text("utf-8"))
    assert small.config.buyer_glns == [world["municipality"]["buyer_gln"]]
    assert {(s.cvr, s.account_string) for s in small.config.suppliers} == {
        (s["cvr"], s["account_string"]) for s in world["small_suppliers"]
    }
    assert {(p.cvr, p.ydernummer) for p in certs.config.practices} == {
        (p["cvr"], p["ydernummer"]) for p in world["practices"]
    }
    assert {s.cvr for s in interp.config.suppliers} == {
        s["cvr"] for s in world["interpreter_suppliers"]
    }
    assert interp.config.account_string == "5.46.60-014-4.0"


# --- broken files name file, key and value --------------------------------------------------


def assert_names(err: ConfigError, file: Path, key: str, value: object) -> None:
    assert err.file == str(file)
    assert err.key == key
    assert err.value == value
    assert str(file) in str(err) and key in str(err)


def test_yaml_syntax_error_names_file_and_line(home: Path) -> None:
    path = home / "config/rules/small_invoices.yaml"
    edit(path, "vat_percent: 25", "vat_percent: [25")
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "small_invoices")
    assert caught.value.file == str(path)
    assert caught.value.key.startswith("line ")
    assert "YAML syntax error" in caught.value.problem


def test_duplicate_key_is_an_error(home: Path) -> None:
    path = home / "config/rules/small_invoices.yaml"
    edit(path, "vat_percent: 25", "vat_percent: 25\nvat_percent: 20")
    with pytest.raises(ConfigError, match="appears twice"):
        load_rules(path, "small_invoices")


def test_wrong_type(home: Path) -> None:
    path = home / "config/rules/small_invoices.yaml"
    edit(path, "max_payment_terms_days: 30", "max_payment_terms_days: thirty")
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "small_invoices")
    assert_names(caught.value, path, "max_payment_terms_days", "thirty")


def test_bad_cvr(home: Path) -> None:
    path = home / "config/rules/small_invoices.yaml"
    edit(path, '{cvr: "96379404"', '{cvr: "1234"')
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "small_invoices")
    assert_names(caught.value, path, "suppliers[2].cvr", "1234")
    assert "modulus 11" in caught.value.problem


def test_unquoted_cvr_asks_for_quotes(home: Path) -> None:
    path = home / "config/rules/small_invoices.yaml"
    edit(path, '{cvr: "96379404"', "{cvr: 96379404")
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "small_invoices")
    assert_names(caught.value, path, "suppliers[2].cvr", 96379404)
    assert "quotes" in caught.value.problem


def test_bad_gln_and_account_string(home: Path) -> None:
    path = home / "config/rules/small_invoices.yaml"
    edit(path, '"5798528809575"', '"5798528809576"')
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "small_invoices")
    assert_names(caught.value, path, "buyer_glns[0]", "5798528809576")
    path = home / "config/rules/interpreter_contract.yaml"
    edit(path, 'account_string: "5.46.60-014-4.0"', 'account_string: "5.46.60-14-4.0"')
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "interpreter")
    assert_names(caught.value, path, "account_string", "5.46.60-14-4.0")


def test_negative_amount(home: Path) -> None:
    path = home / "config/rules/medical_certificates.yaml"
    edit(path, "fee: 397.00", "fee: -397.00")
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "medical_certificates")
    assert caught.value.key == "tariffs[2].fee"
    assert str(caught.value.value) == "-397.00"


def test_overlapping_tariff_periods(home: Path) -> None:
    path = home / "config/rules/medical_certificates.yaml"
    edit(
        path,
        "tariffs:\n",
        'tariffs:\n  - {form: "LÆ 135", valid_from: 2026-04-01, valid_to: null, fee: 820.00}\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "medical_certificates")
    err = caught.value
    assert err.file == str(path)
    assert err.key == "tariffs[15].valid_from"  # the shipped 2026-27 LÆ 135 period
    assert err.value == "2026-01-01"
    assert "overlaps tariffs[0]" in err.problem and "LÆ 135" in err.problem


def test_ended_period_followed_by_a_new_one_is_fine(home: Path) -> None:
    path = home / "config/rules/medical_certificates.yaml"
    edit(
        path,
        '{form: "LÆ 135", valid_from: 2026-01-01, valid_to: 2027-12-31',
        '{form: "LÆ 135", valid_from: 2026-01-01, valid_to: 2026-03-31',
    )
    edit(
        path,
        "tariffs:\n",
        'tariffs:\n  - {form: "LÆ 135", valid_from: 2026-04-01, valid_to: null, fee: 820.00}\n',
    )
    rules = load_rules(path, "medical_certificates")
    assert isinstance(rules, MedicalCertificateRules)
    assert len(rules.config.tariffs) == 23  # 22 shipped rows and the new one


def test_overlapping_interpreter_rates(home: Path) -> None:
    path = home / "config/rules/interpreter_contract.yaml"
    edit(
        path,
        "valid_from: 2023-07-01, valid_to: 2024-06-30",
        "valid_from: 2023-07-01, valid_to: 2024-07-01",
    )
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "interpreter")
    assert caught.value.key == "rates[3].valid_from"
    assert "category oevrig" in caught.value.problem


def test_period_ending_before_it_starts(home: Path) -> None:
    path = home / "config/rules/interpreter_contract.yaml"
    edit(path, "valid_to: 2024-06-30", "valid_to: 2023-03-31")
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "interpreter")
    assert caught.value.key == "rates[0]"
    assert "before valid_from" in caught.value.problem


def test_invalid_date(home: Path) -> None:
    path = home / "config/rules/interpreter_contract.yaml"
    edit(path, "valid_from: 2024-01-01", 'valid_from: "2024-02-30"')
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "interpreter")
    assert_names(caught.value, path, "rates[1].valid_from", "2024-02-30")


def test_unknown_key(home: Path) -> None:
    path = home / "config/rules/interpreter_contract.yaml"
    edit(path, "late_arrival_minutes: 15", "late_arival_minutes: 15")
    with pytest.raises(ConfigError) as caught:
        load_rules(path, "interpreter")
    assert_names(caught.value, path, "late_arival_minutes", 15)
    assert "unknown key" in caught.value.problem


def test_unknown_key_in_settings(home: Path) -> None:
    path = home / "config/paybot.yaml"
    edit(path, "  headless: true", "  headles: true")
    with pytest.raises(ConfigError) as caught:
        load_settings(home, env={})
    assert_names(caught.value, path, "browser.headles", True)


def test_bad_cron(home: Path) -> None:
    path = home / "robots/pay-small-invoices.yaml"
    edit(path, '"30 1 * * 1-5"', '"30 25 * * 1-5"')
    with pytest.raises(ConfigError) as caught:
        load_manifest(home / "robots", "pay-small-invoices")
    assert_names(caught.value, path, "schedule.cron", "30 25 * * 1-5")


def test_bad_timezone(home: Path) -> None:
    path = home / "robots/pay-small-invoices.yaml"
    edit(path, "timezone: Europe/Copenhagen", "timezone: Europe/Kobenhavn")
    with pytest.raises(ConfigError) as caught:
        load_manifest(home / "robots", "pay-small-invoices")
    assert_names(caught.value, path, "schedule.timezone", "Europe/Kobenhavn")


def test_manifest_kind_and_category_must_fit(home: Path) -> None:
    path = home / "robots/pay-small-invoices.yaml"
    edit(path, "category: oevrige", "category: tolk")
    with pytest.raises(ConfigError) as caught:
        load_manifest(home / "robots", "pay-small-invoices")
    assert_names(caught.value, path, "category", "tolk")
    edit(path, "category: tolk", "category: oevrige")
    edit(path, "kind: small_invoices", "kind: smaa_fakturaer")
    with pytest.raises(ConfigError) as caught:
        load_manifest(home / "robots", "pay-small-invoices")
    assert caught.value.key == "kind" and "small_invoices" in caught.value.problem


def test_manifest_name_must_match_its_file(home: Path) -> None:
    path = home / "robots/pay-small-invoices.yaml"
    edit(path, "name: pay-small-invoices", "name: pay-small")
    with pytest.raises(ConfigError) as caught:
        load_manifests(home / "robots")
    assert_names(caught.value, path, "name", "pay-small")


def test_unknown_robot_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_manifest(ROOT / "robots", "pay-everything")
    assert caught.value.value == "pay-everything"
    for name in ROBOTS:
        assert name in caught.value.problem


def test_reasons_must_cover_every_code(home: Path) -> None:
    path = home / "config/reasons.yaml"
    edit(path, "  MANUAL_LATE:", "  # MANUAL_LATE:")
    with pytest.raises(ConfigError) as caught:
        load_reasons(path)
    assert_names(caught.value, path, "reasons.MANUAL_LATE", None)
    # the small-invoice robot does not use MANUAL_LATE, so the check of its own codes passes
    reasons = load_reasons(path, required=SmallInvoiceRules.reason_codes)
    assert "MANUAL_LATE" not in reasons.reasons
    assert load_reasons(ROOT / "config/reasons.yaml").reasons.keys() >= ALL_REASONS


def test_load_robot_config_stops_on_any_broken_file(home: Path) -> None:
    assert load_robot_config(home, "pay-interpreter-invoices", env={}).name == (
        "pay-interpreter-invoices"
    )
    edit(home / "config/rules/interpreter_contract.yaml", "factor: 2", "factor: 0")
    with pytest.raises(ConfigError) as caught:
        load_robot_config(home, "pay-interpreter-invoices", env={})
    assert caught.value.key == "double_rate.factor"
    # the other robots do not read that file
    assert load_robot_config(home, "pay-small-invoices", env={}).name == "pay-small-invoices"


def test_missing_rules_file(home: Path) -> None:
    (home / "config/rules/small_invoices.yaml").unlink()
    with pytest.raises(ConfigError) as caught:
        load_robot_config(home, "pay-small-invoices", env={})
    assert caught.value.key == "rules"
    assert caught.value.file.endswith("robots/pay-small-invoices.yaml")


# --- settings ------------------------------------------------------------------------------


def test_settings_defaults_and_relative_paths(home: Path) -> None:
    (home / "config/paybot.yaml").write_text("municipality: {name: Testby}\n", encoding="utf-8")
    s = load_settings(home, env={})
    assert s.erp.url == "http://127.0.0.1:8765"
    assert s.erp.username == "robot"
    assert s.browser.chromium == Path("/usr/bin/chromium") and s.browser.headless
    assert s.data_dir == home / "data"
    assert s.output_dir == home / "output"
    assert s.ledger.url == f"sqlite:///{home}/data/ledger.sqlite"
    assert s.audit.file == home / "data/audit/audit.jsonl"
    assert s.vault_file == home / "data/vault.json"
    assert (s.runner.max_attempts, s.runner.backoff_seconds) == (3, 1.0)
    assert (s.runner.max_consecutive_failures, s.runner.lease_seconds) == (5, 600)


def test_env_overrides(home: Path) -> None:
    env = {
        "PAYBOT_ERP_URL": "http://127.0.0.1:9999/",
        "PAYBOT_DATA_DIR": "/srv/paybot",
        "PAYBOT_RUNNER_MAX_ATTEMPTS": "5",
        "PAYBOT_BROWSER_HEADLESS": "false",
        "PAYBOT_RUN_ID": "not a setting, ignored",
    }
    s = load_settings(home, env=env)
    assert s.erp.url == "http://127.0.0.1:9999"
    assert s.data_dir == Path("/srv/paybot")
    assert s.ledger.url == "sqlite:////srv/paybot/ledger.sqlite"
    assert s.runner.max_attempts == 5
    assert s.browser.headless is False


def test_bad_env_value_names_the_variable(home: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(home, env={"PAYBOT_RUNNER_MAX_ATTEMPTS": "many"})
    err = caught.value
    assert err.file == "environment"
    assert "PAYBOT_RUNNER_MAX_ATTEMPTS" in err.key and "runner.max_attempts" in err.key
    assert err.value == "many"
    with pytest.raises(ConfigError, match="PAYBOT_ERP_URL"):
        load_settings(home, env={"PAYBOT_ERP_URL": "ftp://x"})


def test_env_names_cover_the_settings() -> None:
    names = settings_env_names()
    assert names["PAYBOT_ERP_URL"] == ("erp", "url")
    assert names["PAYBOT_DATA_DIR"] == ("data_dir",)
    assert names["PAYBOT_VAULT_FILE"] == ("vault_file",)
    assert names["PAYBOT_LEDGER_URL"] == ("ledger", "url")
    assert "PAYBOT_HOME" not in names


def test_find_home(home: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    assert find_home(env={"PAYBOT_HOME": str(home)}) == home.resolve()
    assert find_home(env={}, cwd=home) == home.resolve()
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(ConfigError, match="no config/ folder"):
        find_home(env={"PAYBOT_HOME": str(empty)})


# --- secrets -------------------------------------------------------------------------------

SECRET = "s3cret-Kodeord!"


def test_password_from_environment_is_never_shown(home: Path) -> None:
    s = load_settings(home, env={})
    creds = load_credentials(s, env={"PAYBOT_ERP_PASSWORD": SECRET})
    assert creds.username == "robot" and creds.source == "environment"
    assert creds.password.get_secret_value() == SECRET
    for shown in (repr(creds), str(creds), creds.model_dump_json(), repr(creds.password)):
        assert SECRET not in shown
    other = load_credentials(s, env={"PAYBOT_ERP_PASSWORD": SECRET, "PAYBOT_ERP_USERNAME": "r2"})
    assert other.username == "r2"


def write_vault(home: Path, content: str, mode: int) -> Path:
    path = home / "data" / "vault.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    path.chmod(mode)
    return path


def test_password_from_vault(home: Path) -> None:
    path = write_vault(home, json.dumps({"erp": {"username": "bot", "password": SECRET}}), 0o600)
    creds = load_credentials(load_settings(home, env={}), env={})
    assert (creds.username, creds.source) == ("bot", str(path))
    assert creds.password.get_secret_value() == SECRET
    assert SECRET not in repr(creds)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o622])
def test_vault_open_to_others_is_refused(home: Path, mode: int) -> None:
    path = write_vault(home, json.dumps({"erp": {"password": SECRET}}), mode)
    with pytest.raises(ConfigError) as caught:
        load_credentials(load_settings(home, env={}), env={})
    assert caught.value.file == str(path)
    assert "chmod 600" in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [
        '{"erp": {"password": "' + SECRET + '"',  # broken JSON
        '{"erp": {"passwort": "' + SECRET + '"}}',
        '{"erp": "' + SECRET + '"}',
        '["' + SECRET + '"]',
    ],
)
def test_broken_vault_never_shows_the_secret(home: Path, content: str) -> None:
    path = write_vault(home, content, 0o600)
    with pytest.raises(ConfigError) as caught:
        load_credentials(load_settings(home, env={}), env={})
    assert caught.value.file == str(path)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.value)


def test_no_password_anywhere(home: Path) -> None:
    with pytest.raises(ConfigError, match="PAYBOT_ERP_PASSWORD"):
        load_credentials(load_settings(home, env={}), env={})


def test_vault_file_from_environment(home: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("secrets") / "v.json"
    elsewhere.write_text(json.dumps({"erp": {"password": SECRET}}), encoding="utf-8")
    elsewhere.chmod(0o600)
    s = load_settings(home, env={"PAYBOT_VAULT_FILE": str(elsewhere)})
    assert load_credentials(s, env={}).password.get_secret_value() == SECRET


def test_every_setting_and_manifest_key_is_documented() -> None:
    doc = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    for variable, path in settings_env_names().items():
        assert f"`{'.'.join(path)}`" in doc, f"{'.'.join(path)} is not in docs/configuration.md"
        assert f"`{variable}`" in doc, f"{variable} is not in docs/configuration.md"
    for field in RobotManifest.model_fields:
        assert f"`{field}" in doc, f"manifest key {field} is not in docs/configuration.md"
    for field in Schedule.model_fields:
        assert f"`schedule.{field}`" in doc


def test_a_manifests_weekdays_are_read_as_crontab_reads_them() -> None:
    """APScheduler's own crontab reading counts weekdays from Monday = 0 (1-5 would be Tuesday
    to Saturday); the shipped robots must run Monday to Friday."""
    manifests = load_manifests(ROOT / "robots")
    start = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)  # a Saturday
    for m in manifests.values():
        trigger = m.schedule.trigger()
        moment, days = start, []
        for _ in range(5):
            moment = trigger.get_next_fire_time(None, moment)
            days.append(moment.strftime("%a"))
            moment += dt.timedelta(minutes=1)
        assert days == ["Mon", "Tue", "Wed", "Thu", "Fri"], (m.name, days)


# --- the bank calendar ----------------------------------------------------------------------


def test_the_shipped_bank_calendar_loads_and_a_robot_gets_it() -> None:
    calendar = load_bank_calendar(ROOT / "config/bank-calendar.yaml")
    assert calendar == DEFAULT_CALENDAR
    assert load_robot_config(ROOT, "pay-small-invoices", env={}).calendar == calendar


def test_a_municipality_adds_a_closing_day(home: Path) -> None:
    path = home / "config/bank-calendar.yaml"
    edit(
        path,
        "extra_closing_days: []",
        'extra_closing_days:\n  - {date: 2027-06-04, name: "Ekstra lukkedag"}',
    )
    cfg = load_robot_config(home, "pay-small-invoices", env={})
    assert not cfg.calendar.is_bank_day(dt.date(2027, 6, 4))
    assert cfg.calendar.payment_date(dt.date(2027, 6, 1), dt.date(2027, 6, 4)) == dt.date(
        2027, 6, 3
    )


def test_no_bank_calendar_file_means_the_built_in_rules(home: Path) -> None:
    (home / "config/bank-calendar.yaml").unlink()
    assert load_robot_config(home, "pay-small-invoices", env={}).calendar == DEFAULT_CALENDAR


@pytest.mark.parametrize(
    ("entries", "key", "value"),
    [
        ('  - {date: 2027-13-01, name: "x"}', "extra_closing_days[0].date", "2027-13-01"),
        ('  - {date: 2027-06-04, name: ""}', "extra_closing_days[0].name", ""),
        (
            '  - {date: 2027-06-04, name: "a"}\n  - {date: 2027-06-04, name: "b"}',
            "extra_closing_days[1].date",
            "2027-06-04",
        ),
    ],
)
def test_a_bad_closing_day_names_file_key_and_value(
    home: Path, entries: str, key: str, value: str
) -> None:
    path = home / "config/bank-calendar.yaml"
    edit(path, "extra_closing_days: []", "extra_closing_days:\n" + entries)
    with pytest.raises(ConfigError) as caught:
        load_robot_config(home, "pay-small-invoices", env={})
    assert_names(caught.value, path, key, value)
