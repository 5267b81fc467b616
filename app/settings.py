"""Settings: one frozen dataclass, filled from LIVEWATCH_* variables and `serve` flags.

Each field carries its own parser and help text as metadata, so the environment reader,
the flag table and `serve --help` are all derived from this one class.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "LIVEWATCH_"
MIN_SECRET_LENGTH = 32
THRESHOLD_RULES = ("cpu", "memory", "disk")


class SettingsError(ValueError):
    """A setting has a value livewatch cannot use; the message names the setting."""


@dataclass(frozen=True)
class Parser:
    """Turns the raw text of a variable or flag into a value; ValueError says why not."""

    parse: Callable[[str], Any]
    metavar: str

    def __call__(self, raw: str) -> Any:
        return self.parse(raw)


@dataclass(frozen=True)
class Spec:
    parser: Parser
    help: str
    env_only: bool = False  # secrets: a flag would show them in `ps`
    switch: bool = False  # a flag that takes no value
    shown_default: str | None = None  # for a default computed at start-up


def setting(
    default: Any = dataclasses.MISSING,
    *,
    parser: Parser,
    help: str,
    env_only: bool = False,
    switch: bool = False,
    default_factory: Callable[[], Any] | None = None,
    shown_default: str | None = None,
) -> Any:
    metadata = {"spec": Spec(parser, help, env_only, switch, shown_default)}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata, repr=not env_only)


def _number(raw: str, kind: Callable[[str], Any]) -> Any:
    # int() and float() take "5_0" and other scripts' digits; a setting should not.
    if not raw.isascii() or "_" in raw:
        raise ValueError("must be a number" if kind is float else "must be an integer")
    try:
        return kind(raw)
    except ValueError:
        raise ValueError("must be a number" if kind is float else "must be an integer") from None


def _positive_float(raw: str) -> float:
    value: float = _number(raw, float)
    if not value > 0 or not math.isfinite(value):
        raise ValueError("must be a positive number")
    return value


def _percent(raw: str) -> float:
    value: float = _number(raw, float)
    if not 0 <= value <= 100:
        raise ValueError("must be a percentage between 0 and 100")
    return value


def _positive_int(raw: str) -> int:
    value: int = _number(raw, int)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _port(raw: str) -> int:
    value: int = _number(raw, int)
    if not 0 <= value <= 65535:
        raise ValueError("must be a TCP port between 0 and 65535")
    return value


def _hosts(raw: str) -> tuple[str, ...]:
    hosts = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for host in hosts:
        if not re.fullmatch(r"[a-z0-9.-]{1,253}", host):
            raise ValueError(f"{host!r} is not a host name; give names, comma-separated")
    return hosts


def _non_empty(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw


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


def _broker(raw: str) -> str:
    if raw == "memory":
        return raw
    try:
        url = _url("redis", "rediss", "unix")(raw)
    except ValueError:
        raise ValueError("must be memory or a redis:// URL") from None
    if url is None:
        raise ValueError("must be memory or a redis:// URL")
    return url


def _prefix(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", raw):
        raise ValueError("must be 1-64 characters of A-Z a-z 0-9 . _ : -")
    return raw


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _optional(raw: str) -> str | None:
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


SECONDS = Parser(_positive_float, "SECONDS")
PERCENT = Parser(_percent, "PERCENT")
COUNT = Parser(_positive_int, "N")
BYTES = Parser(_positive_int, "BYTES")
TEXT = Parser(_non_empty, "TEXT")
SECRET = Parser(_optional, "SECRET")
SWITCH = Parser(_bool, "BOOL")


@dataclass(frozen=True)
class Threshold:
    warning: float
    critical: float


@dataclass(frozen=True)
class Settings:
    host: str = setting("127.0.0.1", parser=Parser(_non_empty, "ADDRESS"), help="address to bind")
    port: int = setting(8080, parser=Parser(_port, "PORT"), help="TCP port")
    node: str = setting(
        parser=Parser(_non_empty, "NAME"),
        help="this node's name in the connected frame and logs",
        default_factory=lambda: os.uname().nodename,
        shown_default="the host name",
    )
    log_format: str = setting(
        "text", parser=Parser(_choice("text", "json"), "FORMAT"), help="text or json"
    )
    log_level: str = setting(
        "INFO",
        parser=Parser(_choice("DEBUG", "INFO", "WARNING", "ERROR"), "LEVEL"),
        help="DEBUG, INFO, WARNING or ERROR",
    )
    collector_interval: float = setting(2.0, parser=SECONDS, help="seconds between host samples")
    health_interval: float = setting(
        10.0, parser=SECONDS, help="seconds between background health rounds"
    )
    health_timeout: float = setting(3.0, parser=SECONDS, help="time limit of one health check")
    history_seconds: int = setting(
        900,
        parser=Parser(_positive_int, "SECONDS"),
        help="how far back the sample history goes (the page's charts start from it)",
    )
    disk_path: str = setting(
        "/", parser=Parser(_non_empty, "PATH"), help="filesystem the disk gauge and rule watch"
    )
    cpu_warning: float = setting(75.0, parser=PERCENT, help="CPU alert warning level")
    cpu_critical: float = setting(90.0, parser=PERCENT, help="CPU alert critical level")
    memory_warning: float = setting(80.0, parser=PERCENT, help="memory alert warning level")
    memory_critical: float = setting(90.0, parser=PERCENT, help="memory alert critical level")
    disk_warning: float = setting(80.0, parser=PERCENT, help="disk alert warning level")
    disk_critical: float = setting(90.0, parser=PERCENT, help="disk alert critical level")
    alert_hysteresis: float = setting(
        5.0, parser=PERCENT, help="points below its level an alert must fall to resolve"
    )
    alert_history_limit: int = setting(
        1000, parser=COUNT, help="alert records kept in the database"
    )
    database_path: Path = setting(
        Path("var/livewatch.sqlite3"),
        parser=Parser(lambda raw: Path(_non_empty(raw)), "PATH"),
        help="SQLite file for the alert history",
    )
    redis_url: str | None = setting(
        None,
        parser=Parser(_url("redis", "rediss", "unix"), "URL"),
        help="redis:// URL; registers the redis health check",
    )
    llm_health_url: str | None = setting(
        None,
        parser=Parser(_url("http", "https"), "URL"),
        help="http(s) URL probed by the llm health check, e.g. Ollama's /api/tags",
    )
    broker: str = setting(
        "memory",
        parser=Parser(_broker, "BROKER"),
        help="memory (one node) or a redis:// URL shared by several nodes",
    )
    redis_prefix: str = setting(
        "livewatch",
        parser=Parser(_prefix, "PREFIX"),
        help="prefix of every Redis key and pub/sub channel the broker uses",
    )
    broker_probe_interval: float = setting(
        5.0,
        parser=SECONDS,
        help="a quiet Redis pub/sub connection is probed after this long, and dropped if "
        "the probe is not answered within the health timeout",
    )
    cluster_heartbeat: float = setting(
        5.0,
        parser=SECONDS,
        help="seconds between this node's heartbeats in the cluster view; a node silent for "
        "three of them is shown as lapsed",
    )
    history_size: int = setting(
        1000, parser=COUNT, help="events each channel keeps for recovery and the history API"
    )
    history_ttl: float = setting(
        600.0, parser=SECONDS, help="how long a channel keeps an event; idle channels go too"
    )
    recovery_limit: int = setting(
        1000, parser=COUNT, help="most missed events one subscribe may replay (else too_many)"
    )
    idempotency_window: float = setting(
        300.0, parser=SECONDS, help="how long a publish's Idempotency-Key is remembered"
    )
    heartbeat: float = setting(30.0, parser=SECONDS, help="WebSocket ping interval")
    max_outbox_bytes: int = setting(
        1024 * 1024, parser=BYTES, help="bytes a connection may be owed before it is cut off (1013)"
    )
    shutdown_timeout: float = setting(
        5.0, parser=SECONDS, help="time to wait for close handshakes at shutdown"
    )
    secret: str | None = setting(
        None, parser=SECRET, help="signs connection tokens; enables token mode", env_only=True
    )
    publish_key: str | None = setting(
        None, parser=SECRET, help="bearer key for POST /api/events", env_only=True
    )
    insecure_open: bool = setting(
        False,
        parser=SWITCH,
        help="allow open mode (no secret) on a non-loopback bind",
        switch=True,
    )
    allowed_origins: tuple[str, ...] = setting(
        (),
        parser=Parser(_origins, "ORIGINS"),
        help="comma-separated scheme://host[:port] origins allowed to open a WebSocket",
        shown_default="open mode: the host the request names; with a secret: "
        "http://HOST:PORT of these settings",
    )
    allowed_hosts: tuple[str, ...] = setting(
        (),
        parser=Parser(_hosts, "HOSTS"),
        help="open mode answers only requests for localhost and loopback addresses; "
        "comma-separated host names to answer as well",
    )
    max_connections: int = setting(
        10_000,
        parser=COUNT,
        help="open connections accepted (HTTP and WebSocket); past it: 503; at most the "
        "open-file limit less 128",
    )
    listen_backlog: int = setting(
        1024,
        parser=COUNT,
        help="connections the kernel queues before livewatch accepts them (a reconnect "
        "storm arrives at once); the kernel caps it at net.core.somaxconn",
    )
    header_timeout: float = setting(
        10.0,
        parser=SECONDS,
        help="time a client has to send a whole request head; also how long an idle "
        "keep-alive connection stays",
    )
    body_timeout: float = setting(
        30.0, parser=SECONDS, help="time a client has to send a whole request body (408)"
    )
    max_frame_bytes: int = setting(
        64 * 1024, parser=BYTES, help="largest client frame accepted (larger: close 1009)"
    )
    rate_limit: float = setting(
        20.0, parser=Parser(_positive_float, "PER_SECOND"), help="client messages per second"
    )
    rate_burst: int = setting(40, parser=COUNT, help="client messages allowed in a burst")
    max_subscriptions: int = setting(128, parser=COUNT, help="subscriptions per connection")
    max_connections_per_user: int = setting(32, parser=COUNT, help="open connections per user id")
    max_publish_bytes: int = setting(
        256 * 1024,
        parser=BYTES,
        help="largest POST /api/events or Alertmanager webhook body (larger: 413)",
    )

    def __post_init__(self) -> None:
        # Embedding code passes plain strings for paths; the rest of livewatch wants a Path.
        if not isinstance(self.database_path, Path):
            object.__setattr__(self, "database_path", Path(self.database_path))
        check_secret("secret", self.secret)
        check_secret("publish_key", self.publish_key)
        if self.secret is None and not self.is_loopback and not self.insecure_open:
            raise SettingsError(
                f"refusing to serve without authentication on {self.host}, which is not a "
                f"loopback address: set {env_name('secret')} (and {env_name('publish_key')}), "
                "bind to 127.0.0.1, or pass --insecure-open if you really mean it"
            )
        for rule in THRESHOLD_RULES:
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
        """No secret: identity comes unchecked from the query string."""
        return self.secret is None

    @property
    def redis_broker(self) -> str | None:
        return None if self.broker == "memory" else self.broker

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def env_name(setting_name: str) -> str:
    return ENV_PREFIX + setting_name.upper()


def flag_name(setting_name: str) -> str:
    return "--" + setting_name.replace("_", "-")


def check_secret(setting_name: str, value: str | None) -> None:
    """The one rule for secrets and keys, for `serve` and `token` alike."""
    if value is not None and len(value) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"{env_name(setting_name)} is {len(value)} characters; use at least "
            f"{MIN_SECRET_LENGTH} random characters (e.g. `openssl rand -hex 32`)"
        )


def specs() -> Iterator[tuple[dataclasses.Field[Any], Spec]]:
    for item in dataclasses.fields(Settings):
        yield item, item.metadata["spec"]


def default_text(item: dataclasses.Field[Any]) -> str:
    """A field's default as a person would write it in a variable."""
    shown: str | None = item.metadata["spec"].shown_default
    if shown is not None:
        return shown
    value = item.default
    if value is None or value == ():
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse(name: str, spec: Spec, raw: str, source: str) -> Any:
    try:
        return spec.parser(raw.strip())
    except ValueError as exc:
        raise SettingsError(f"{source}={raw!r}: {exc}") from None


def load_settings(
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> Settings:
    """Build Settings from the environment, then flag values (raw strings) on top.

    Overrides are keyed by setting name; a None value means "flag not given".
    """
    env = os.environ if env is None else env
    overrides = overrides or {}
    values: dict[str, Any] = {}
    for item, spec in specs():
        var = env_name(item.name)
        if var in env:
            values[item.name] = _parse(item.name, spec, env[var], var)
        raw = overrides.get(item.name)
        if raw is not None:
            if spec.env_only:
                raise SettingsError(f"{item.name} can only be set with {var}")
            values[item.name] = _parse(item.name, spec, raw, flag_name(item.name))
    return Settings(**values)
