"""Settings: one frozen dataclass, filled from LIVEWATCH_* variables and CLI flags."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "LIVEWATCH_"
MIN_SECRET_LENGTH = 32


class SettingsError(ValueError):
    """A setting has a value livewatch cannot use; the message names the setting."""


@dataclass(frozen=True)
class Threshold:
    warning: float
    critical: float


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    node: str = field(default_factory=lambda: os.uname().nodename)
    log_format: str = "text"
    log_level: str = "INFO"
    collector_interval: float = 2.0
    health_interval: float = 10.0
    health_timeout: float = 3.0
    history_seconds: int = 900
    disk_path: str = "/"
    cpu_warning: float = 75.0
    cpu_critical: float = 90.0
    memory_warning: float = 80.0
    memory_critical: float = 90.0
    disk_warning: float = 80.0
    disk_critical: float = 90.0
    alert_hysteresis: float = 5.0
    alert_history_limit: int = 1000
    database_path: Path = Path("var/livewatch.sqlite3")
    redis_url: str | None = None
    llm_health_url: str | None = None
    heartbeat: float = 30.0
    max_outbox_bytes: int = 1024 * 1024
    shutdown_timeout: float = 5.0
    secret: str | None = field(default=None, repr=False)
    publish_key: str | None = field(default=None, repr=False)
    insecure_open: bool = False
    allowed_origins: tuple[str, ...] = ()
    max_frame_bytes: int = 64 * 1024
    rate_limit: float = 20.0
    rate_burst: int = 40
    max_subscriptions: int = 128
    max_connections_per_user: int = 32
    max_publish_bytes: int = 256 * 1024

    def __post_init__(self) -> None:
        if self.secret is not None and len(self.secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"{env_name('secret')} is {len(self.secret)} characters; use at least "
                f"{MIN_SECRET_LENGTH} random characters (e.g. `openssl rand -hex 32`)"
            )
        if self.publish_key is not None and len(self.publish_key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"{env_name('publish_key')} is {len(self.publish_key)} characters; use at least "
                f"{MIN_SECRET_LENGTH} random characters"
            )
        if self.secret is None and not self.is_loopback and not self.insecure_open:
            raise SettingsError(
                f"refusing to serve without authentication on {self.host}, which is not a "
                f"loopback address: set {env_name('secret')} (and {env_name('publish_key')}), "
                "bind to 127.0.0.1, or pass --insecure-open if you really mean it"
            )
        for rule in ("cpu", "memory", "disk"):
            limits = self.threshold(rule)
            if not 0 < limits.warning < limits.critical <= 100:
                raise SettingsError(
                    f"{env_name(rule + '_warning')}={limits.warning} and "
                    f"{env_name(rule + '_critical')}={limits.critical}: "
                    "need 0 < warning < critical <= 100"
                )
            if limits.warning <= self.alert_hysteresis:
                raise SettingsError(
                    f"{env_name(rule + '_warning')}={limits.warning} is not above "
                    f"{env_name('alert_hysteresis')}={self.alert_hysteresis}: "
                    "such an alert could never resolve"
                )

    def threshold(self, rule: str) -> Threshold:
        return Threshold(
            warning=getattr(self, f"{rule}_warning"),
            critical=getattr(self, f"{rule}_critical"),
        )

    @property
    def open_mode(self) -> bool:
        """No secret: identity comes unchecked from the query string, as in the original plan."""
        return self.secret is None

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def env_name(setting: str) -> str:
    return ENV_PREFIX + setting.upper()


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("must be a positive number")
    return value


def _percent(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 100:
        raise ValueError("must be a percentage between 0 and 100")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("must be a TCP port between 0 and 65535")
    return value


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return raw

    return parse


def _url(*schemes: str) -> Callable[[str], str | None]:
    def parse(raw: str) -> str | None:
        if raw == "":
            return None
        parts = urlsplit(raw)
        if parts.scheme not in schemes or not parts.netloc:
            raise ValueError(
                f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return raw

    return parse


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _optional_secret(raw: str) -> str | None:
    return raw or None


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ValueError(
                f"{origin!r} is not an origin; give scheme://host[:port] entries, comma-separated"
            )
    return origins


def _non_empty(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw


PARSERS: dict[str, Callable[[str], Any]] = {
    "host": _non_empty,
    "port": _port,
    "node": _non_empty,
    "log_format": _choice("text", "json"),
    "log_level": _choice("DEBUG", "INFO", "WARNING", "ERROR"),
    "collector_interval": _positive_float,
    "health_interval": _positive_float,
    "health_timeout": _positive_float,
    "history_seconds": _positive_int,
    "disk_path": _non_empty,
    "cpu_warning": _percent,
    "cpu_critical": _percent,
    "memory_warning": _percent,
    "memory_critical": _percent,
    "disk_warning": _percent,
    "disk_critical": _percent,
    "alert_hysteresis": _percent,
    "alert_history_limit": _positive_int,
    "database_path": lambda raw: Path(_non_empty(raw)),
    "redis_url": _url("redis", "rediss", "unix"),
    "llm_health_url": _url("http", "https"),
    "heartbeat": _positive_float,
    "max_outbox_bytes": _positive_int,
    "shutdown_timeout": _positive_float,
    "secret": _optional_secret,
    "publish_key": _optional_secret,
    "insecure_open": _bool,
    "allowed_origins": _origins,
    "max_frame_bytes": _positive_int,
    "rate_limit": _positive_float,
    "rate_burst": _positive_int,
    "max_subscriptions": _positive_int,
    "max_connections_per_user": _positive_int,
    "max_publish_bytes": _positive_int,
}

# Secrets are read from the environment only: a flag would show them in `ps`.
ENV_ONLY = frozenset({"secret", "publish_key"})
BOOLEAN_FLAGS = frozenset({"insecure_open"})


def _parse(name: str, raw: str, source: str) -> Any:
    try:
        return PARSERS[name](raw.strip())
    except ValueError as exc:
        reason = str(exc)
        if reason.startswith("invalid literal for int"):
            reason = "must be an integer"
        elif reason.startswith("could not convert"):
            reason = "must be a number"
        raise SettingsError(f"{source}={raw!r}: {reason}") from None


def load_settings(
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> Settings:
    """Build Settings from the environment, then CLI overrides (raw strings) on top.

    Overrides are keyed by setting name; a None value means "flag not given".
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for name in PARSERS:
        var = env_name(name)
        if var in env:
            values[name] = _parse(name, env[var], var)
    for name, raw in (overrides or {}).items():
        if raw is not None:
            if name in ENV_ONLY:
                raise SettingsError(f"{name} can only be set with {env_name(name)}")
            flag = "--" + name.replace("_", "-")
            values[name] = _parse(name, raw, flag)
    return Settings(**values)


def setting_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Settings) if f.name in PARSERS]
