"""Configuration: settings, secrets, reason texts, robot manifests and rules files.

The public face of :mod:`paybot.config_models` (the shapes) and :mod:`paybot.config_load`
(loading, environment overrides, errors that name file, key and value). Typical use::

    home = find_home()                                  # PAYBOT_HOME or the current directory
    cfg = load_robot_config(home, "pay-small-invoices")  # everything validated up front
    creds = load_credentials(cfg.settings)               # environment or vault file
"""

from __future__ import annotations

from paybot.config_load import (
    BANK_CALENDAR_FILE,
    ENV_HOME,
    ENV_PASSWORD,
    ENV_USERNAME,
    LEDGER_PASSWORD,
    REASONS_FILE,
    ROBOTS_DIR,
    SETTINGS_FILE,
    RobotConfig,
    find_home,
    ledger_url,
    load_all_robot_configs,
    load_bank_calendar,
    load_credentials,
    load_manifest,
    load_manifests,
    load_pseudonym_key,
    load_reasons,
    load_robot_config,
    load_rules,
    load_settings,
    make_folders,
    rule_version,
    settings_env_names,
    settings_from_data,
)
from paybot.config_models import (
    AuditSettings,
    BrowserSettings,
    Credentials,
    ErpSettings,
    LedgerSettings,
    MunicipalitySettings,
    Notify,
    ReasonTexts,
    RobotManifest,
    RunnerSettings,
    Schedule,
    Settings,
    TaskRef,
)

__all__ = [
    "BANK_CALENDAR_FILE",
    "ENV_HOME",
    "ENV_PASSWORD",
    "ENV_USERNAME",
    "LEDGER_PASSWORD",
    "REASONS_FILE",
    "ROBOTS_DIR",
    "SETTINGS_FILE",
    "AuditSettings",
    "BrowserSettings",
    "Credentials",
    "ErpSettings",
    "LedgerSettings",
    "MunicipalitySettings",
    "Notify",
    "ReasonTexts",
    "RobotConfig",
    "RobotManifest",
    "RunnerSettings",
    "Schedule",
    "Settings",
    "TaskRef",
    "find_home",
    "ledger_url",
    "load_all_robot_configs",
    "load_bank_calendar",
    "load_credentials",
    "load_manifest",
    "load_manifests",
    "load_pseudonym_key",
    "load_reasons",
    "load_robot_config",
    "load_rules",
    "load_settings",
    "make_folders",
    "rule_version",
    "settings_env_names",
    "settings_from_data",
]
