"""Fault injection: the misbehaviour a real finance system shows now and then, on purpose.

Off by default. Settings come from ``robot erp serve`` flags, their environment variables, or
the admin page at run time. All randomness comes from one seeded generator (``--fault-seed``),
so a failing run can be replayed.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class FaultSettingError(ValueError):
    """A fault setting has a value it cannot have; the message names the setting and value."""

    def __init__(self, name: str, value: object, problem: str) -> None:
        self.name = name
        self.value = value
        super().__init__(f"{name} = {value!r}: {problem}")


@dataclass(frozen=True)
class FaultField:
    name: str  # attribute of FaultSettings
    flag: str  # command line flag
    env: str  # environment variable
    kind: type  # int or float
    label: str  # Danish label on the admin page


FIELDS: tuple[FaultField, ...] = (
    FaultField("latency_ms", "--latency-ms", "MOCKERP_LATENCY_MS", int, "Forsinkelse (ms)"),
    FaultField("error_rate", "--error-rate", "MOCKERP_ERROR_RATE", float, "Andel HTTP 500"),
    FaultField(
        "session_expiry_requests",
        "--session-expiry-requests",
        "MOCKERP_SESSION_EXPIRY_REQUESTS",
        int,
        "Session udløber efter antal forespørgsler (0 = aldrig)",
    ),
    FaultField(
        "system_message_rate",
        "--system-message-rate",
        "MOCKERP_SYSTEM_MESSAGE_RATE",
        float,
        "Andel sider med systembesked",
    ),
    FaultField("slow_rate", "--slow-rate", "MOCKERP_SLOW_RATE", float, "Andel langsomme svar"),
    FaultField("slow_ms", "--slow-ms", "MOCKERP_SLOW_MS", int, "Langsomt svar (ms)"),
    FaultField(
        "lost_answer_rate",
        "--lost-answer-rate",
        "MOCKERP_LOST_ANSWER_RATE",
        float,
        "Andel godkendelser, hvis svar går tabt (betalingen er sket)",
    ),
    FaultField("seed", "--fault-seed", "MOCKERP_FAULT_SEED", int, "Startværdi for terningerne"),
)

RATES = frozenset({"error_rate", "system_message_rate", "slow_rate", "lost_answer_rate"})


@dataclass(frozen=True)
class FaultSettings:
    latency_ms: int = 0
    error_rate: float = 0.0
    session_expiry_requests: int = 0  # 0 = sessions never expire by count
    system_message_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: int = 0
    lost_answer_rate: float = 0.0  # approval or manual handling done, but the answer is a 500
    seed: int | None = None  # None: a random seed, chosen when the server starts

    def __post_init__(self) -> None:
        for f in FIELDS:
            value = getattr(self, f.name)
            if value is None and f.name == "seed":
                continue
            if f.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise FaultSettingError(f.name, value, "must be a whole number")
            if f.kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise FaultSettingError(f.name, value, "must be a number")
            if f.name in RATES and not 0.0 <= float(value) <= 1.0:
                raise FaultSettingError(f.name, value, "must be a share between 0 and 1")
            if f.name not in RATES and value < 0:
                raise FaultSettingError(f.name, value, "must not be negative")

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in FIELDS if f.name != "seed")

    def replace(self, **changes: Any) -> FaultSettings:
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """One line for the console, e.g. ``error-rate=0.1 latency-ms=50 fault-seed=7``."""
        parts = [
            f"{f.flag.lstrip('-')}={getattr(self, f.name)}"
            for f in FIELDS
            if getattr(self, f.name) not in (0, 0.0, None)
        ]
        return " ".join(parts) if parts else "no faults"


def parse_value(f: FaultField, text: str, source: str) -> int | float:
    """``text`` read as the field's type; errors name ``source`` (a flag or env variable)."""
    try:
        return int(text.strip()) if f.kind is int else float(text.strip())
    except ValueError as exc:
        kind = "a whole number" if f.kind is int else "a number"
        raise FaultSettingError(source, text, f"must be {kind}") from exc


def settings_from(
    environ: Mapping[str, str], overrides: Mapping[str, int | float | None] | None = None
) -> FaultSettings:
    """Settings from the environment variables, overridden by explicit values (flags).

    A bad value raises :class:`FaultSettingError` naming the flag or variable it came from.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for f in FIELDS:
        raw = environ.get(f.env)
        if raw is not None and raw.strip() != "":
            values[f.name] = parse_value(f, raw, f.env)
            sources[f.name] = f.env
        override = (overrides or {}).get(f.name)
        if override is not None:
            values[f.name] = override
            sources[f.name] = f.flag
        if f.kind is float and f.name in values:
            values[f.name] = float(values[f.name])
    try:
        return FaultSettings(**values)
    except FaultSettingError as exc:
        problem = str(exc).split(": ", 1)[1]
        raise FaultSettingError(sources.get(exc.name, exc.name), exc.value, problem) from exc


class Faults:
    """The running fault settings and their dice; safe to use from many request threads."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self._rng = random.Random()  # noqa: S311 - fault dice, not cryptography
        self.update(settings or FaultSettings())

    @property
    def settings(self) -> FaultSettings:
        with self._lock:
            return self._settings

    def update(self, settings: FaultSettings) -> FaultSettings:
        """Use new settings; the dice start again from the seed (a random one when None)."""
        if settings.seed is None:
            settings = settings.replace(seed=secrets.randbelow(2**31))
        with self._lock:
            self._settings = settings
            self._rng = random.Random(settings.seed)  # noqa: S311 - replayable fault dice
        return settings

    def _roll(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def delay_seconds(self) -> float:
        """Latency plus, on an unlucky roll, the slow-page delay."""
        s = self.settings
        delay = s.latency_ms
        if s.slow_ms and self._roll(s.slow_rate):
            delay += s.slow_ms
        return delay / 1000.0

    def server_error(self) -> bool:
        return self._roll(self.settings.error_rate)

    def lost_answer(self) -> bool:
        """The work is committed, but the user's browser gets an error page instead of the
        answer (a proxy timeout, a dropped connection): the robot must find out what happened."""
        return self._roll(self.settings.lost_answer_rate)

    def system_message(self) -> bool:
        return self._roll(self.settings.system_message_rate)

    def pick(self, choices: tuple[str, ...]) -> str:
        with self._lock:
            return choices[self._rng.randrange(len(choices))]
