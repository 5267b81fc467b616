"""GET / renders the live page; its ES modules and CSS are served as static files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.hub.events import EventType
from app.settings import Settings
from app.web.page import page_config
from tests.conftest import AppFactory, LivewatchClient

ROOT = Path(__file__).resolve().parent.parent


async def test_page_renders_with_its_config(client: LivewatchClient) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    html = await response.text()
    match = re.search(
        r'<script type="application/json" id="livewatch-config">(.*?)</script>', html, re.S
    )
    assert match is not None
    config = json.loads(match.group(1))
    assert config["thresholds"]["cpu"] == {"warning": 75, "critical": 90}
    assert config["history_seconds"] == 900
    assert config["auth"] == "open"
    assert set(config["events"]) == {member.value for member in EventType}
    assert config["events"]["task.failed"] == {
        "label": "Task failed",
        "tone": "danger",
        "glyph": "\u2717",
    }


async def test_page_config_follows_the_settings(make_client: AppFactory) -> None:
    client = await make_client(cpu_warning=60.0, secret="s" * 32)
    html = await (await client.get("/")).text()
    match = re.search(r'id="livewatch-config">(.*?)</script>', html, re.S)
    assert match is not None
    config = json.loads(match.group(1))
    assert config["thresholds"]["cpu"]["warning"] == 60
    assert config["auth"] == "token"


def test_the_javascript_tests_use_the_config_the_server_renders() -> None:
    """node --test reads tests/js/page-config.json in place of the server: it must not drift.
    Regenerate it from page_config(Settings()) with "version" set to "test"."""
    fixture = json.loads((ROOT / "tests" / "js" / "page-config.json").read_text())
    assert fixture == {**page_config(Settings()), "version": "test"}


async def test_page_assets_are_served_with_relative_urls(client: LivewatchClient) -> None:
    html = await (await client.get("/")).text()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert assets, "the page links its modules and styles"
    for asset in assets:
        assert not asset.startswith("/"), f"{asset} must be relative to work under a prefix"
        response = await client.get("/" + asset)
        assert response.status == 200, asset


def test_page_scripts_never_use_inner_html() -> None:
    static = Path(__file__).resolve().parent.parent / "static" / "js"
    for module in static.rglob("*.js"):
        text = module.read_text()
        assert "innerHTML" not in text and "outerHTML" not in text, module
        assert "insertAdjacentHTML" not in text, module
