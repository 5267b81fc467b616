"""Settings from the environment and flags; a bad value names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings, SettingsError, load_settings


def test_defaults_are_the_plans() -> None:
    settings = load_settings(env={})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.collector_interval == 2.0
    assert (settings.cpu_warning, settings.cpu_critical) == (75, 90)
    assert (settings.memory_warning, settings.memory_critical) == (80, 90)
    assert (settings.disk_warning, settings.disk_critical) == (80, 90)
    assert settings.alert_hysteresis == 5
    assert settings.database_path == Path("var/livewatch.sqlite3")
    assert settings.redis_url is None and settings.llm_health_url is None


def test_environment_then_flags() -> None:
    env = {"LIVEWATCH_PORT": "9000", "LIVEWATCH_CPU_WARNING": "60", "LIVEWATCH_REDIS_URL": ""}
    settings = load_settings(env=env, overrides={"port": "9100", "host": None})
    assert settings.port == 9100
    assert settings.host == "127.0.0.1"
    assert settings.cpu_warning == 60
    assert settings.redis_url is None


@pytest.mark.parametrize(
    ("env", "named", "reason"),
    [
        ({"LIVEWATCH_PORT": "http"}, "LIVEWATCH_PORT='http'", "must be an integer"),
        ({"LIVEWATCH_PORT": "70000"}, "LIVEWATCH_PORT", "between 0 and 65535"),
        ({"LIVEWATCH_COLLECTOR_INTERVAL": "0"}, "LIVEWATCH_COLLECTOR_INTERVAL", "positive"),
        ({"LIVEWATCH_COLLECTOR_INTERVAL": "nan"}, "LIVEWATCH_COLLECTOR_INTERVAL", "positive"),
        ({"LIVEWATCH_CPU_WARNING": "abc"}, "LIVEWATCH_CPU_WARNING", "must be a number"),
        ({"LIVEWATCH_DISK_CRITICAL": "120"}, "LIVEWATCH_DISK_CRITICAL", "between 0 and 100"),
        ({"LIVEWATCH_REDIS_URL": "localhost:6379"}, "LIVEWATCH_REDIS_URL", "redis://"),
        ({"LIVEWATCH_LLM_HEALTH_URL": "ftp://x/"}, "LIVEWATCH_LLM_HEALTH_URL", "http://"),
        ({"LIVEWATCH_LOG_FORMAT": "xml"}, "LIVEWATCH_LOG_FORMAT", "text, json"),
        (
            {"LIVEWATCH_DISK_WARNING": "4"},
            "LIVEWATCH_DISK_WARNING=4.0 is not above LIVEWATCH_ALERT_HYSTERESIS=5.0",
            "never resolve",
        ),
        (
            {"LIVEWATCH_CPU_WARNING": "95"},
            "LIVEWATCH_CPU_WARNING=95.0 and LIVEWATCH_CPU_CRITICAL=90.0",
            "warning < critical",
        ),
    ],
)
def test_bad_value_names_the_variable(env: dict[str, str], named: str, reason: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env=env)
    assert named in str(caught.value)
    assert reason in str(caught.value)


def test_bad_flag_names_the_flag() -> None:
    with pytest.raises(SettingsError, match=r"--collector-interval='-1': must be a positive"):
        load_settings(env={}, overrides={"collector_interval": "-1"})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert Settings(host=host, insecure_open=True).is_loopback is loopback
