"""Loading and validating the configuration: settings, secrets, reasons, manifests, rules.

Every problem is a :class:`~paybot.errors.ConfigError` naming the file (or the environment
variable), the dotted key and the value. :func:`load_robot_config` validates everything a run
needs up front, so a broken file stops the run before anything is touched.

Nothing here reads the command line: secrets come from the environment or the vault file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import URL

from paybot.config_models import (
    BankCalendarFile,
    Credentials,
    ReasonTexts,
    RobotManifest,
    Settings,
)
from paybot.config_yaml import describe, dotted, read_yaml_mapping, validation_error
from paybot.database import database_url, shown
from paybot.domain.calendar import DEFAULT_CALENDAR, BankCalendar
from paybot.domain.reasons import ALL_REASONS
from paybot.domain.rules import RobotRules, rules_class
from paybot.domain.rules.config_types import ConfigIssue
from paybot.domain.rules.keys import PSEUDONYM_KEY, KeyedHash
from paybot.errors import ConfigError, DatabaseUnavailable, FolderError
from paybot.private import private_dir
from paybot.secrets import credential_name, read_secret
from paybot.secrets import env_name as secret_env_name

ENV_PREFIX = "PAYBOT_"
ENV_HOME = "PAYBOT_HOME"
ENV_PASSWORD = "PAYBOT_ERP_PASSWORD"  # noqa: S105 - the variable's name, not a password
ENV_USERNAME = "PAYBOT_ERP_USERNAME"
SETTINGS_FILE = Path("config/paybot.yaml")
REASONS_FILE = Path("config/reasons.yaml")
BANK_CALENDAR_FILE = Path("config/bank-calendar.yaml")
ROBOTS_DIR = Path("robots")
ENVIRONMENT = "environment"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def find_home(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The project folder: ``PAYBOT_HOME`` when set, else the current directory. It must hold
    ``config/``."""
    environ = _env(env)
    chosen = environ.get(ENV_HOME) or str(cwd if cwd is not None else Path.cwd())
    home = Path(chosen).expanduser().resolve()
    if not (home / "config").is_dir():
        source = ENV_HOME if environ.get(ENV_HOME) else "current directory"
        raise ConfigError(
            ENVIRONMENT, source, str(home), "no config/ folder here (set PAYBOT_HOME)"
        )
    return home


# --- settings ------------------------------------------------------------------------------


def settings_env_names() -> dict[str, tuple[str, ...]]:
    """Every environment variable that overrides a setting → the setting's path:
    ``PAYBOT_ERP_URL`` → ``("erp", "url")``, ``PAYBOT_DATA_DIR`` → ``("data_dir",)``."""
    names: dict[str, tuple[str, ...]] = {}

    def walk(model: type[BaseModel], path: tuple[str, ...]) -> None:
        for name, info in model.model_fields.items():
            if not path and name == "home":
                continue
            sub = info.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                walk(sub, (*path, name))
            else:
                names[ENV_PREFIX + "_".join((*path, name)).upper()] = (*path, name)

    walk(Settings, ())
    return names


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: str, file: str) -> None:
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(file, dotted(path[: i + 1]), child, "expected a mapping of keys")
        node = child
    node[path[-1]] = value


def settings_from_data(
    data: Mapping[str, Any],
    home: Path,
    env: Mapping[str, str] | None = None,
    file: str = str(SETTINGS_FILE),
) -> Settings:
    """Settings from a parsed ``paybot.yaml`` plus environment overrides, paths resolved."""
    if "home" in data:
        raise ConfigError(file, "home", data["home"], "unknown key (set PAYBOT_HOME instead)")
    merged: dict[str, Any] = _deep_copy(dict(data))
    from_env: dict[tuple[str, ...], str] = {}
    environ = _env(env)
    for name, path in settings_env_names().items():
        if name in environ:
            _set_path(merged, path, environ[name], file)
            from_env[path] = name
    try:
        settings = Settings.model_validate({**merged, "home": home})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = tuple(str(p) for p in first["loc"])
        variable = from_env.get(loc)
        if variable is not None:
            key, value, problem = describe(first)
            raise ConfigError(ENVIRONMENT, f"{variable} ({key})", value, problem) from None
        raise validation_error(file, exc) from None
    if ("ledger", "url") not in from_env:
        _refuse_password_in_file(settings.ledger.url, file)
    return _resolve(settings, home, file)


def _refuse_password_in_file(url: str, file: str) -> None:
    try:
        password = database_url(url).password
    except DatabaseUnavailable:
        return  # not a URL: the ledger says so when it opens it
    if password:
        raise ConfigError(
            file,
            "ledger.url",
            shown(url),
            "holds a password: a settings file is no place for one; give it in "
            f"{secret_env_name(LEDGER_PASSWORD)}, the systemd credential "
            f"{credential_name(LEDGER_PASSWORD)} or the vault file's {LEDGER_PASSWORD}",
        )


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _resolve(settings: Settings, home: Path, file: str) -> Settings:
    def absolute(path: Path) -> Path:
        path = path.expanduser()
        return path if path.is_absolute() else home / path

    data_dir = absolute(settings.data_dir)
    output_dir = absolute(settings.output_dir)
    places = {"data_dir": str(data_dir), "output_dir": str(output_dir), "home": str(home)}

    def fill(text: str, key: str) -> str:
        try:
            return text.format_map(places)
        except (KeyError, ValueError, IndexError):
            raise ConfigError(
                file, key, text, "unknown placeholder; use {data_dir}, {output_dir} or {home}"
            ) from None

    ledger_url = fill(settings.ledger.url, "ledger.url")
    sqlite = "sqlite:///"
    if ledger_url.startswith(sqlite):
        db = ledger_url[len(sqlite) :]
        if db and not db.startswith(("/", ":memory:")):
            ledger_url = sqlite + str(home / db)
    return settings.model_copy(
        update={
            "home": home,
            "data_dir": data_dir,
            "output_dir": output_dir,
            "ledger": settings.ledger.model_copy(update={"url": ledger_url}),
            "audit": settings.audit.model_copy(
                update={
                    "file": absolute(Path(fill(str(settings.audit.file), "audit.file"))),
                    "public_key_file": absolute(
                        Path(fill(str(settings.audit.public_key_file), "audit.public_key_file"))
                    ),
                    "signing_key_file": None
                    if str(settings.audit.signing_key_file or "") in ("", ".")
                    else absolute(
                        Path(fill(str(settings.audit.signing_key_file), "audit.signing_key_file"))
                    ),
                }
            ),
            "vault_file": absolute(Path(fill(str(settings.vault_file), "vault_file"))),
            "browser": settings.browser.model_copy(
                update={
                    "chromium": absolute(settings.browser.chromium),
                    "chromedriver": absolute(settings.browser.chromedriver),
                }
            ),
            "notify": settings.notify.model_copy(
                update={
                    "smtp_ca_file": absolute(settings.notify.smtp_ca_file)
                    if settings.notify.smtp_ca_file
                    else None
                }
            ),
        }
    )


def load_settings(home: Path, env: Mapping[str, str] | None = None) -> Settings:
    """``<home>/config/paybot.yaml`` with ``PAYBOT_*`` environment overrides."""
    home = home.resolve()
    path = home / SETTINGS_FILE
    data, _ = read_yaml_mapping(path)
    return settings_from_data(data, home, env, str(path))


# --- secrets -------------------------------------------------------------------------------


WRITTEN_FOLDERS = ("data_dir", "output_dir")
"""The settings that name a folder paybot writes to (made by :func:`make_folders`)."""


def make_folders(
    settings: Settings,
    keys: tuple[str, ...] = WRITTEN_FOLDERS,
    env: Mapping[str, str] | None = None,
) -> None:
    """Make each folder setting in ``keys`` (owner-only, ``mkdir -p``; an existing one is
    tightened to ``0700``) before a command writes anything.

    Raises :class:`ConfigError` (exit 2) naming the key, its environment variable and the
    value when a folder cannot be made (``PAYBOT_DATA_DIR=/proc/x``, a read-only mount);
    nothing else was touched. Safe to repeat."""
    environ = _env(env)
    for key in keys:
        folder = getattr(settings, key)
        variable = ENV_PREFIX + key.upper()
        try:
            private_dir(folder)
        except FolderError as exc:
            if variable in environ:
                file, named = ENVIRONMENT, f"{variable} ({key})"
            else:
                file, named = str(SETTINGS_FILE), f"{key} (or {variable})"
            raise ConfigError(
                file, named, str(folder), f"{exc}; give a folder paybot may write to"
            ) from None


def load_credentials(settings: Settings, env: Mapping[str, str] | None = None) -> Credentials:
    """The finance system login: ``PAYBOT_ERP_PASSWORD`` (and optionally
    ``PAYBOT_ERP_USERNAME``) from the environment, else the vault file
    ``{"erp": {"username": "...", "password": "..."}}`` which must not be readable or writable
    by group or others. Never from the command line; the password is never shown."""
    environ = _env(env)
    password = environ.get(ENV_PASSWORD, "")
    if password:
        username = environ.get(ENV_USERNAME) or settings.erp.username
        return Credentials(username=username, password=SecretStr(password), source=ENVIRONMENT)
    vault = settings.vault_file
    file = str(vault)
    try:
        mode = vault.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            file,
            "erp.password",
            "(not set)",
            f"no password: set {ENV_PASSWORD} or create this vault file (mode 0600)",
        ) from None
    except OSError as exc:
        raise ConfigError(file, "(file)", "(hidden)", f"cannot read: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            file,
            "(file mode)",
            oct(stat.S_IMODE(mode)),
            "the vault file is open to group or others; run: chmod 600 " + file,
        )
    try:
        data = json.loads(vault.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            file, f"line {exc.lineno}", "(hidden)", f"not valid JSON: {exc.msg}"
        ) from None
    except OSError as exc:
        raise ConfigError(file, "(file)", "(hidden)", f"cannot read: {exc.strerror}") from None
    erp = data.get("erp") if isinstance(data, dict) else None
    if not isinstance(erp, dict):
        raise ConfigError(file, "erp", "(hidden)", 'expected {"erp": {"password": "..."}}')
    secret = erp.get("password")
    if not isinstance(secret, str) or not secret:
        raise ConfigError(file, "erp.password", "(hidden)", "missing or not text")
    username = erp.get("username", settings.erp.username)
    if not isinstance(username, str) or not username:
        raise ConfigError(file, "erp.username", "(hidden)", "not text")
    return Credentials(username=username, password=SecretStr(secret), source=file)


LEDGER_PASSWORD = "ledger_password"  # noqa: S105 - the secret's name, not a password


def ledger_url(settings: Settings, env: Mapping[str, str] | None = None) -> URL:
    """The ledger database's URL to connect with: ``settings.ledger.url`` (``PAYBOT_LEDGER_URL``
    overrides the file), PostgreSQL with the psycopg 3 driver. A PostgreSQL URL without a
    password gets the secret ``ledger_password`` (``PAYBOT_LEDGER_PASSWORD``, the systemd
    credential ``ledger-password``, or the vault file's ``ledger_password``) when one is set;
    without either, libpq's own ``PGPASSWORD``/``~/.pgpass`` still apply. The result prints
    with ``***`` for the password. Raises :class:`~paybot.errors.DatabaseUnavailable` for a
    URL that is not one, :class:`ConfigError` for an unreadable secret file."""
    url = database_url(settings.ledger.url)
    if url.get_backend_name() != "postgresql" or url.password:
        return url
    secret = read_secret(LEDGER_PASSWORD, settings.vault_file, env)
    return url if secret is None else url.set(password=secret.value)


# --- reasons -------------------------------------------------------------------------------


def load_reasons(path: Path, required: frozenset[str] = ALL_REASONS) -> ReasonTexts:
    """``config/reasons.yaml``; every code in ``required`` must have a text."""
    data, _ = read_yaml_mapping(path)
    try:
        reasons = ReasonTexts.model_validate(data)
    except ValidationError as exc:
        raise validation_error(str(path), exc) from None
    check_reasons_cover(reasons, required, str(path))
    return reasons


def check_reasons_cover(reasons: ReasonTexts, codes: frozenset[str], file: str) -> None:
    missing = sorted(codes - set(reasons.reasons))
    if missing:
        raise ConfigError(
            file,
            f"reasons.{missing[0]}",
            None,
            "missing: the rules use this code"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""),
        )


# --- bank calendar -------------------------------------------------------------------------


def load_bank_calendar(path: Path) -> BankCalendar:
    """``config/bank-calendar.yaml``: the built-in bank days plus the file's extra closing
    days. No file: the built-in rules alone (:data:`~paybot.domain.calendar.DEFAULT_CALENDAR`).
    A bad date, an empty name or a date listed twice raises :class:`ConfigError` naming the
    file, the key and the value."""
    if not path.is_file():
        return DEFAULT_CALENDAR
    data, _ = read_yaml_mapping(path)
    try:
        parsed = BankCalendarFile.model_validate(data)
    except ValidationError as exc:
        raise validation_error(str(path), exc) from None
    except ConfigIssue as issue:
        raise ConfigError(str(path), issue.key, issue.value, issue.problem) from None
    return BankCalendar({d.date: d.name for d in parsed.extra_closing_days})


# --- manifests -----------------------------------------------------------------------------


def _manifest_from(path: Path) -> RobotManifest:
    file = str(path)
    data, _ = read_yaml_mapping(path)
    try:
        manifest = RobotManifest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(file, exc) from None
    except ConfigIssue as issue:
        raise ConfigError(file, issue.key, issue.value, issue.problem) from None
    if manifest.name != path.stem:
        raise ConfigError(
            file, "name", manifest.name, f"must be the file's name without .yaml ({path.stem})"
        )
    return manifest


def _manifest_files(robots_dir: Path) -> list[Path]:
    if not robots_dir.is_dir():
        raise ConfigError(str(robots_dir), "(folder)", str(robots_dir), "folder not found")
    return sorted(p for p in robots_dir.glob("*.yaml") if p.is_file())


def load_manifests(robots_dir: Path) -> dict[str, RobotManifest]:
    """Every ``robots/*.yaml``, by robot name."""
    return {p.stem: _manifest_from(p) for p in _manifest_files(robots_dir)}


def load_manifest(robots_dir: Path, name: str) -> RobotManifest:
    """``robots/<name>.yaml``; an unknown robot is an error listing the known ones."""
    files = {p.stem: p for p in _manifest_files(robots_dir)}
    if name not in files:
        known = ", ".join(sorted(files)) or "none"
        raise ConfigError(str(robots_dir), "robot", name, f"no such robot; known: {known}")
    return _manifest_from(files[name])


def load_pseudonym_key(settings: Settings, env: Mapping[str, str] | None = None) -> KeyedHash:
    """The pseudonym key (the secret ``pseudonym_key``, see :mod:`paybot.secrets`) that keys
    the hashes of personal data in the ledger. Raises :class:`ConfigError` naming where to
    put it when it is missing, shorter than 32 bytes, or not hex/base64; never shows it."""
    found = read_secret(PSEUDONYM_KEY, settings.vault_file, env)
    if found is None:
        raise ConfigError(
            str(settings.vault_file),
            PSEUDONYM_KEY,
            "(not set)",
            f"no pseudonym key: the rules hash personal data with it; set "
            f"{secret_env_name(PSEUDONYM_KEY)}, the systemd credential "
            f"{credential_name(PSEUDONYM_KEY)}, or the key {PSEUDONYM_KEY} in this vault file "
            "(mode 0600); create one with: "
            "python -c 'import secrets;print(secrets.token_hex(32))' (see docs/operations.md)",
        )
    try:
        return KeyedHash.from_text(found.value)
    except ValueError as exc:
        raise ConfigError(found.source, PSEUDONYM_KEY, "(hidden)", str(exc)) from None


def needs_pseudonym_key(rules: type[RobotRules] | RobotRules) -> bool:
    """Whether the rules hash personal data (their class sets ``needs_pseudonym_key``)."""
    return bool(getattr(rules, "needs_pseudonym_key", False))


# --- rules ---------------------------------------------------------------------------------


def rule_version(version: str, content: bytes) -> str:
    """``<version>+<first 12 hex digits of the file's SHA-256>``."""
    return f"{version}+{hashlib.sha256(content).hexdigest()[:12]}"


def load_rules(path: Path, kind: str, keyed_hash: KeyedHash | None = None) -> RobotRules:
    """The rules object of ``kind`` built from the rules file at ``path``. Rules that need the
    pseudonym key (:func:`needs_pseudonym_key`) get ``keyed_hash``; without it they can be
    checked but not run."""
    file = str(path)
    try:
        cls = rules_class(kind)
    except ValueError as exc:
        raise ConfigError(file, "kind", kind, str(exc)) from None
    data, content = read_yaml_mapping(path)
    version = data.get("version")
    extra: dict[str, Any] = {}
    if keyed_hash is not None and needs_pseudonym_key(cls):
        extra["keyed_hash"] = keyed_hash
    try:
        return cls.from_config(data, rule_version(str(version), content), **extra)
    except ValidationError as exc:
        raise validation_error(file, exc) from None
    except ConfigIssue as issue:
        raise ConfigError(file, issue.key, issue.value, issue.problem) from None


# --- one robot, everything -----------------------------------------------------------------


@dataclass(frozen=True)
class RobotConfig:
    """Everything one robot's run needs, validated."""

    home: Path
    settings: Settings
    manifest: RobotManifest
    reasons: ReasonTexts
    rules: RobotRules
    rules_file: Path
    calendar: BankCalendar = DEFAULT_CALENDAR
    """Bank days for payment dates (``config/bank-calendar.yaml``)."""

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def rule_version(self) -> str:
        return self.rules.rule_version

    @functools.cached_property
    def config_checksum(self) -> str:
        """``sha256:`` + 16 hex digits over everything that decides in this run: the settings
        (after environment overrides), the manifest, the reason texts and the rules file's
        version and digest. Two runs with the same checksum decided under the same
        configuration. Secrets are not part of the settings and so not of the checksum."""
        material = {
            "settings": self.settings.model_dump(mode="json", exclude={"home"}),
            "manifest": self.manifest.model_dump(mode="json"),
            "reasons": self.reasons.model_dump(mode="json"),
            "rule_version": self.rule_version,
        }
        text = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_robot_config(
    home: Path, robot_name: str, env: Mapping[str, str] | None = None
) -> RobotConfig:
    """Settings, the robot's manifest, the reasons and the robot's rules, all validated;
    the first problem raises :class:`~paybot.errors.ConfigError`. Rules that hash personal
    data are built with the pseudonym key (:func:`load_pseudonym_key`); without it, this
    raises."""
    home = home.resolve()
    settings = load_settings(home, env)
    manifest = load_manifest(home / ROBOTS_DIR, robot_name)
    reasons_path = home / REASONS_FILE
    reasons = load_reasons(reasons_path)
    rules_file = home / manifest.rules
    if not rules_file.is_file():
        raise ConfigError(
            str(home / ROBOTS_DIR / f"{robot_name}.yaml"), "rules", manifest.rules, "file not found"
        )
    keyed_hash = None
    try:
        needs_key = needs_pseudonym_key(rules_class(manifest.kind))
    except ValueError:
        needs_key = False  # load_rules names the problem
    if needs_key:
        keyed_hash = load_pseudonym_key(settings, env)
    rules = load_rules(rules_file, manifest.kind, keyed_hash)
    check_reasons_cover(reasons, rules.reason_codes, str(reasons_path))
    calendar = load_bank_calendar(home / BANK_CALENDAR_FILE)
    return RobotConfig(
        home=home,
        settings=settings,
        manifest=manifest,
        reasons=reasons,
        rules=rules,
        rules_file=rules_file,
        calendar=calendar,
    )


def load_all_robot_configs(
    home: Path, env: Mapping[str, str] | None = None
) -> dict[str, RobotConfig]:
    """:func:`load_robot_config` for every robot in ``robots/`` (``robot config check``)."""
    return {name: load_robot_config(home, name, env) for name in load_manifests(home / ROBOTS_DIR)}
