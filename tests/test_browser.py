"""The live page in a real Chromium, against a real livewatch process.

Debian's Chromium is driven by Playwright for Python (never `playwright install`). Where the
browser or the package is missing the module skips with the reason, except under CI=true,
where it fails: .ci/run installs Chromium first.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
import pytest_asyncio

from app.timeutil import rfc3339
from tests.conftest import free_port
from tests.proxy import TcpProxy
from tests.test_cli import ROOT, wait_until_live

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page, Response, WebSocket

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
# Real samples often, so the charts fill up within a second or two.
COLLECTOR_INTERVAL = 0.25

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def missing_component() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (Debian package 'chromium')"
    if importlib.util.find_spec("playwright") is None:
        return "the Python package 'playwright' is not installed (pip install -e '.[dev]')"
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, so the browser tests must run: {reason}")
    pytest.skip(reason)


class LiveServer:
    """livewatch as a child process on a fixed loopback port, restartable: run as an
    embedding application runs it (tests/embedded_server.py), so a test can publish the
    system events that HTTP refuses."""

    def __init__(self, name: str, database: Path, interval: float) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database = database
        self.interval = interval
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.starts += 1
        log = ARTIFACTS / f"server-{self.name}-{self.starts}.log"
        with log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.embedded_server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--database-path",
                str(self.database),
                "--collector-interval",
                str(self.interval),
                cwd=ROOT,
                # Defaults only: open mode on loopback, the stock thresholds the tests expect.
                env={k: v for k, v in os.environ.items() if not k.startswith("LIVEWATCH_")},
                stdout=out,
                stderr=out,
            )
        async with aiohttp.ClientSession() as session:
            await wait_until_live(session, self.base)

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        assert proc.returncode == 0, f"server exited with {proc.returncode}"

    async def publish(self, event: str, data: dict[str, Any], **route: str) -> dict[str, Any]:
        """Over HTTP like any publisher; livewatch's own system.* events through the
        embedding application's Python API, the only way they can be published."""
        if event.startswith("system."):
            url, sent = f"{self.base}/_test/emit", {"event": event, "data": data, "route": route}
        else:
            url, sent = f"{self.base}/api/events", {"event": event, "data": data, **route}
        async with aiohttp.ClientSession() as session, session.post(url, json=sent) as response:
            assert response.status == 202, await response.text()
            answer: dict[str, Any] = await response.json()
            return answer

    async def get(self, path: str) -> Any:
        async with aiohttp.ClientSession() as session, session.get(self.base + path) as response:
            assert response.status == 200, path
            return await response.json()

    async def history(self) -> list[dict[str, Any]]:
        body = await self.get("/api/monitoring/metrics/history?seconds=900")
        samples: list[dict[str, Any]] = body["samples"]
        return samples


class SocketLog:
    """Every JSON frame of the page's WebSockets, per socket in the order they opened."""

    def __init__(self, page: Page) -> None:
        self.sockets: list[dict[str, list[dict[str, Any]]]] = []
        page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        frames: dict[str, list[dict[str, Any]]] = {"sent": [], "received": []}
        self.sockets.append(frames)
        ws.on("framesent", lambda payload: frames["sent"].append(json.loads(payload)))
        ws.on("framereceived", lambda payload: frames["received"].append(json.loads(payload)))

    def sent(self, index: int, type_: str, channel: str) -> list[dict[str, Any]]:
        frames = self.sockets[index]["sent"]
        return [f for f in frames if f.get("type") == type_ and f.get("channel") == channel]

    def received(self, index: int, type_: str, channel: str) -> list[dict[str, Any]]:
        frames = self.sockets[index]["received"]
        return [f for f in frames if f.get("type") == type_ and f.get("channel") == channel]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    reason = missing_component()
    if reason:
        skip_or_fail(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def server(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    """One livewatch for the module (the restart test starts its own)."""
    live = LiveServer(
        "shared", tmp_path_factory.mktemp("browser") / "db.sqlite3", COLLECTOR_INTERVAL
    )
    await live.start()
    yield live
    await live.stop()


class Problems:
    """Everything the page complained about: console errors, uncaught errors, failed requests."""

    def __init__(self, page: Page) -> None:
        self.items: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.items.append(f"uncaught: {error}"))
        page.on("requestfailed", lambda r: self.items.append(f"failed: {r.url} {r.failure}"))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.items.append(f"console: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.items.append(f"HTTP {response.status}: {response.url}")


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    fresh = await context.new_page()
    fresh.set_default_timeout(10_000)
    yield fresh
    await context.close()


async def open_dashboard(page: Page, base: str, query: str = "") -> None:
    """Load the page and wait until it is live and has its first data."""
    await page.goto(base + "/" + query)
    await page.wait_for_selector("#connection-state[data-state=live]")
    await page.wait_for_selector("#overall-status:not([data-status=unknown])")
    await page.wait_for_selector("[data-gauge=cpu][data-value]")


def tag() -> str:
    return uuid.uuid4().hex[:10]


def alert_data(
    alert_id: str, level: str, state: str = "firing", value: float = 81.0
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "rule": "cpu",
        "metric": "cpu_percent",
        "level": level,
        "state": state,
        "message": f"CPU usage high: {value}% ({level} at {75 if level == 'warning' else 90}%)",
        "value": value,
        "threshold": 75.0 if level == "warning" else 90.0,
        "details": {},
    }


async def test_page_loads_without_errors_or_failed_requests(server: LiveServer, page: Page) -> None:
    problems = Problems(page)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await open_dashboard(page, server.base)
    await page.wait_for_selector("#chart-cpu:not([data-points='0'])")
    await page.wait_for_selector("#health-checks li[data-check]")
    assert await page.text_content("#connection-state") == "Live"
    assert await page.evaluate("typeof window.livewatch.socket") == "object"
    await page.wait_for_timeout(500)  # let late requests and errors surface
    assert problems.items == []
    assert sockets == [f"ws://127.0.0.1:{server.port}/api/monitoring/ws?auto_subscribe=false"], (
        "one shared socket, which subscribes its channels itself"
    )


async def feed_keys(page: Page, *channels: str) -> list[str]:
    """The data-key of every feed item of these channels, top to bottom."""
    keys: list[str] = await page.eval_on_selector_all(
        "#live-feed li[data-key]",
        """(items, channels) => items
            .filter((li) => channels.includes(li.dataset.channel) && !li.dataset.marker)
            .map((li) => li.dataset.key)""",
        list(channels),
    )
    return keys


async def test_the_feed_opens_on_the_latest_events_of_its_channels(
    server: LiveServer, page: Page
) -> None:
    name = tag()
    business, user = f"business:{name}", f"user:{name}"
    for i in range(1, 6):
        await server.publish("task.completed", {"title": f"past b{i} {name}"}, business_id=name)
    for i in range(1, 4):
        await server.publish("task.started", {"title": f"past u{i} {name}"}, user_id=name)
    log = SocketLog(page)
    problems = Problems(page)

    await open_dashboard(page, server.base, f"?business_id={name}&user_id={name}")
    past = [f"{user}:{i}" for i in (3, 2, 1)] + [f"{business}:{i}" for i in (5, 4, 3, 2, 1)]
    await page.wait_for_function(
        "n => document.querySelectorAll('#live-feed li[data-channel$=\"' + n + '\"]').length === 8",
        arg=f":{name}",
    )
    assert await feed_keys(page, business, user) == past, "newest first, each once"
    assert await page.locator("#live-feed li").count() <= 50
    assert "past b1" in await page.inner_text(f"#live-feed li[data-key='{business}:1']")

    # Each channel was subscribed from where its history ended: nothing between, nothing twice.
    history = await server.get(f"/api/channels/{business}/history?limit=1")
    assert log.sent(0, "subscribe", business) == [
        {"type": "subscribe", "channel": business, "since": {"seq": 5, "epoch": history["epoch"]}}
    ]
    assert [f["since"]["seq"] for f in log.sent(0, "subscribe", user)] == [3]
    assert log.received(0, "subscribed", business)[0]["recovered"] is True

    result = await server.publish("task.failed", {"title": f"live {name}"}, business_id=name)
    assert result["channels"][business] == 6
    await page.locator(f"#live-feed li[data-key='{business}:6']").wait_for()
    await page.wait_for_timeout(300)
    assert await feed_keys(page, business, user) == [f"{business}:6", *past]
    assert problems.items == []


async def test_a_dropped_connection_recovers_every_event_exactly_once(
    server: LiveServer, page: Page
) -> None:
    relay = TcpProxy(server.port)
    await relay.start()
    try:
        name = tag()
        business = f"business:{name}"
        log = SocketLog(page)
        await open_dashboard(page, relay.url, f"?business_id={name}")
        for i in range(1, 4):
            await server.publish("task.started", {"title": f"before {i} {name}"}, business_id=name)
        await page.locator(f"#live-feed li[data-key='{business}:3']").wait_for()

        # The network fails under the page, and its next handshake hangs until released.
        relay.hold()
        relay.cut()
        await page.wait_for_selector("#connection-state:not([data-state=live])")
        missed = [f"while away {i} {name}" for i in range(1, 11)]
        for title in missed:
            await server.publish("task.completed", {"title": title}, business_id=name)
        away = f"global while away {name}"
        await server.publish("task.completed", {"title": away}, channel="global")
        relay.release()
        await page.wait_for_selector("#connection-state[data-state=live]", timeout=20_000)
        await page.locator(f"#live-feed li[data-key='{business}:13']").wait_for()
        await page.locator("#live-feed li", has_text=away).wait_for()
        after = f"after {name}"
        await server.publish("task.failed", {"title": after}, business_id=name)
        await page.locator(f"#live-feed li[data-key='{business}:14']").wait_for()
        await page.wait_for_timeout(300)  # let any duplicate or marker surface

        assert await feed_keys(page, business) == [f"{business}:{i}" for i in range(14, 0, -1)]
        for title in [*missed, away, after]:
            assert await page.locator("#live-feed li", has_text=title).count() == 1, title
        assert await page.locator("#live-feed li[data-marker]").count() == 0, "nothing was lost"

        # The second socket recovered: since from the last event, replay, then recovered.
        assert len(log.sockets) == 2
        (resubscribe,) = log.sent(1, "subscribe", business)
        assert resubscribe["since"]["seq"] == 3
        (answer,) = log.received(1, "subscribed", business)
        assert (answer["recovered"], answer["seq"]) == (True, 13)
        frames = [
            (f["type"], f["seq"])
            for f in log.sockets[1]["received"]
            if f.get("channel") == business
        ]
        missed_frames = [("event", seq) for seq in range(4, 14)]
        assert frames == [*missed_frames, ("subscribed", 13), ("event", 14)], (
            "the missed ten replayed in order before subscribed, then live"
        )
    finally:
        await relay.close()


async def test_a_pushed_metric_moves_the_gauges(server: LiveServer, page: Page) -> None:
    await open_dashboard(page, server.base)
    # The collector pushes real samples every 0.25 s, so record every value each gauge takes.
    await page.evaluate(
        """() => {
            window.seenGauges = {cpu: [], memory: [], disk: []};
            for (const el of document.querySelectorAll('[data-gauge]')) {
                new MutationObserver(() => {
                    window.seenGauges[el.dataset.gauge].push([el.dataset.value, el.dataset.level]);
                }).observe(el, {attributes: true, attributeFilter: ['data-value', 'data-level']});
            }
        }"""
    )
    # The gauges ignore samples older than the one they show. Stamp this one a second ahead,
    # so a real sample taken while it is in flight cannot make it look stale.
    sample = {
        **(await server.get("/api/monitoring/metrics")),
        "cpu_percent": 92.5,
        "memory_percent": 81.25,
        "disk_percent": 12.5,
        "timestamp": rfc3339(datetime.now(UTC) + timedelta(seconds=1)),
    }
    await server.publish("system.metric", sample)
    await page.wait_for_function(
        """() => ['92.5', '81.25', '12.5'].every((v, i) =>
            window.seenGauges[['cpu', 'memory', 'disk'][i]].some(([value]) => value === v))"""
    )
    seen = await page.evaluate("window.seenGauges")
    assert ["92.5", "critical"] in seen["cpu"]
    assert ["81.25", "warning"] in seen["memory"]
    assert ["12.5", "ok"] in seen["disk"]


async def test_a_published_event_appears_in_the_feed_within_a_second(
    server: LiveServer, page: Page
) -> None:
    # Open mode takes the identity from the page's query; the socket forwards it.
    await open_dashboard(page, server.base, "?business_id=acme")
    title = f"feed check {tag()}"
    item = page.locator("#live-feed li[data-event='task.started']", has_text=title)
    started = time.monotonic()
    result = await server.publish("task.started", {"title": title}, business_id="acme")
    await item.wait_for(timeout=1000)
    assert time.monotonic() - started < 1.0
    assert result["recipients"] >= 1
    assert await item.get_attribute("data-channel") == "business:acme"
    assert (
        await item.get_attribute("data-key")
        == f"business:acme:{result['channels']['business:acme']}"
    )


async def test_alert_banner_appears_escalates_in_place_and_goes_on_resolve(
    server: LiveServer, page: Page
) -> None:
    await open_dashboard(page, server.base)
    assert await page.get_attribute("#alerts", "aria-live") == "polite"
    alert_id = f"cpu-{tag()}"
    banner = page.locator(f"#alerts .alert[data-alert-id='{alert_id}']")

    await server.publish("system.alert", alert_data(alert_id, "warning"))
    await page.wait_for_selector(f"#alerts .alert[data-alert-id='{alert_id}'][data-level=warning]")
    assert await banner.count() == 1
    assert "WARNING" in await banner.inner_text(), "the level is written, not only coloured"
    await banner.evaluate("el => { el.dataset.original = 'yes'; }")

    await server.publish("system.alert", alert_data(alert_id, "critical", value=95.0))
    await page.wait_for_selector(f"#alerts .alert[data-alert-id='{alert_id}'][data-level=critical]")
    assert await banner.count() == 1
    assert await banner.get_attribute("data-original") == "yes", "the same banner was updated"
    assert "CRITICAL" in await banner.inner_text()

    await server.publish("system.alert_resolved", alert_data(alert_id, "critical", "resolved"))
    await banner.wait_for(state="detached")


async def test_alert_banners_are_dismissed_by_keyboard(server: LiveServer, page: Page) -> None:
    await open_dashboard(page, server.base)
    first, second = f"disk-{tag()}", f"memory-{tag()}"
    await server.publish("system.alert", alert_data(first, "warning"))
    await server.publish("system.alert", alert_data(second, "warning"))
    one = page.locator(f"#alerts .alert[data-alert-id='{first}']")
    two = page.locator(f"#alerts .alert[data-alert-id='{second}']")
    await one.wait_for()
    await two.wait_for()

    await one.focus()
    await page.keyboard.press("Escape")
    await one.wait_for(state="detached")
    # Focus stays near where it was (the next banner's button), not lost to <body>.
    assert await page.evaluate("document.activeElement.className") == "alert-dismiss"

    # Tab goes through the banner's buttons in order: acknowledge, silence, dismiss.
    await two.focus()
    tabbed = []
    for _ in range(3):
        await page.keyboard.press("Tab")
        tabbed.append(await page.evaluate("document.activeElement.className"))
    assert tabbed == ["btn alert-ack", "btn alert-silence", "alert-dismiss"]
    await page.keyboard.press("Enter")
    await two.wait_for(state="detached")


async def test_charts_hold_the_seeded_history(server: LiveServer, page: Page) -> None:
    deadline = time.monotonic() + 10
    while len(await server.history()) < 4:
        assert time.monotonic() < deadline, "the collector produced no history"
        await asyncio.sleep(COLLECTOR_INTERVAL)

    async with page.expect_response(lambda r: "api/monitoring/metrics/history" in r.url) as got:
        await open_dashboard(page, server.base)
    seeded = (await (await got.value).json())["samples"]
    assert len(seeded) >= 4
    seeded_times = [s["timestamp"] for s in seeded]

    for key, field in (
        ("cpu", "cpu_percent"),
        ("memory", "memory_percent"),
        ("disk", "disk_percent"),
    ):
        # Every seeded sample is in the chart, with its value; live samples come on top.
        held = await page.evaluate(
            """([key, times]) => {
                const chart = window.livewatch.widgets.find((w) => w.charts).charts.get(key);
                const byTime = new Map(chart.points.map((p) => [p.t, p.v]));
                const svg = document.getElementById('chart-' + key);
                const drawn = svg.querySelector('.series-line').getAttribute('points');
                return {
                    values: times.map((t) => byTime.get(Date.parse(t)) ?? null),
                    count: Number(svg.dataset.points),
                    held: chart.points.length,
                    drawn: drawn.trim() ? drawn.trim().split(/\\s+/).length : 0,
                };
            }""",
            [key, seeded_times],
        )
        assert held["values"] == [s[field] for s in seeded], key
        assert held["count"] == held["held"] == held["drawn"] >= len(seeded), key
        # Everything the page holds came from the server, which still has it all.
        assert held["count"] <= len(await server.history()), key

    # And the charts go on growing live.
    await page.wait_for_function(
        "n => Number(document.getElementById('chart-cpu').dataset.points) > n", arg=len(seeded)
    )


async def test_page_recovers_when_the_server_restarts(page: Page, tmp_path: Path) -> None:
    live = LiveServer("restart", tmp_path / "db.sqlite3", 60)
    await live.start()
    try:
        await open_dashboard(page, live.base)
        before = f"before restart {tag()}"
        await live.publish("task.completed", {"title": before}, channel="global")
        old_item = page.locator("#live-feed li", has_text=before)
        await old_item.wait_for()
        await page.evaluate(
            """() => {
                const el = document.getElementById('connection-state');
                window.seenStates = [];
                new MutationObserver(() => {
                    window.seenStates.push([el.dataset.state, el.textContent]);
                }).observe(el, {
                    attributes: true, childList: true, characterData: true, subtree: true,
                });
            }"""
        )

        await live.stop()
        await page.wait_for_selector("#connection-state[data-state=reconnecting]")
        assert await page.get_attribute("#feed-live", "data-live") == "false"
        await live.start()
        await page.wait_for_selector("#connection-state[data-state=live]", timeout=20_000)

        states = await page.evaluate("window.seenStates")
        texts = [text for state, text in states if state == "reconnecting"]
        assert texts, states
        assert all(text.startswith("Reconnecting in ") and text.endswith("s") for text in texts)
        assert states[-1] == ["live", "Live"]

        # The new process has new streams: what was missed cannot be replayed, and the feed says so.
        marker = page.locator("#live-feed li[data-marker=missed]")
        await marker.wait_for(timeout=5000)
        assert await marker.count() == 1, "one marker, for global; system carries no feed events"
        assert await marker.get_attribute("data-channel") == "global"
        assert await marker.get_attribute("data-reason") == "epoch_changed"
        assert "Missed events, refreshed" in await marker.inner_text()
        assert "epoch_changed" in (await marker.get_attribute("title") or "")

        after = f"after restart {tag()}"
        await live.publish("task.completed", {"title": after}, channel="global")
        new_item = page.locator("#live-feed li", has_text=after)
        await new_item.wait_for(timeout=2000)
        # The restarted server counts seqs from 1 again; the old item must survive the clash.
        assert await old_item.count() == 1
        assert await new_item.get_attribute("data-key") != await old_item.get_attribute("data-key")
        assert await page.get_attribute("#feed-live", "data-live") == "true"
        # Newest first: the live event, the marker, then what came before the restart (the
        # host's real alerts may come in between).
        texts = await page.eval_on_selector_all(
            "#live-feed li", "items => items.map((li) => li.dataset.marker || li.textContent)"
        )
        where = [
            next(i for i, text in enumerate(texts) if wanted in text)
            for wanted in (after, "missed", before)
        ]
        assert where == sorted(where), texts
    finally:
        await live.stop()


@pytest.mark.parametrize("width", [1280, 390])
async def test_no_horizontal_scroll(server: LiveServer, browser: Browser, width: int) -> None:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = await context.new_page()
        # Long unbroken text is what usually breaks a narrow layout.
        long = "x" * 200
        business = "b" * 150
        await open_dashboard(page, server.base, f"?business_id={business}")
        await server.publish(
            "system.alert", {**alert_data(f"layout-{tag()}", "warning"), "message": long}
        )
        await server.publish(
            "business.stage_changed", {"from_stage": long, "to_stage": long}, business_id=business
        )
        await page.wait_for_selector("#alerts .alert")
        await page.wait_for_selector("#live-feed li[data-event='business.stage_changed']")
        sizes = await page.evaluate(
            """() => ({
                scroll: document.documentElement.scrollWidth,
                inner: window.innerWidth,
                wide: [...document.querySelectorAll('body *')]
                    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
                    .map((el) => el.id || el.className.baseVal || el.className || el.tagName),
            })"""
        )
        assert sizes["scroll"] <= sizes["inner"], sizes
        assert sizes["wide"] == [], f"these stick out of a {width} px window: {sizes['wide']}"
    finally:
        await context.close()


async def test_full_page_screenshot(server: LiveServer, page: Page) -> None:
    await open_dashboard(page, server.base, "?business_id=acme")
    for event, data, route in [
        ("business.created", {"name": "Acme Corp"}, {"business_id": "acme"}),
        ("task.started", {"task_id": "t-1042", "title": "Nightly import"}, {"business_id": "acme"}),
        (
            "approval.required",
            {"title": "Raise ad budget", "risk_level": "high"},
            {"business_id": "acme"},
        ),
        (
            "task.completed",
            {"task_id": "t-1042", "title": "Nightly import"},
            {"business_id": "acme"},
        ),
    ]:
        await server.publish(event, data, **route)
    await server.publish("system.alert", alert_data(f"cpu-{tag()}", "warning", value=78.4))
    await page.wait_for_selector("#live-feed li[data-event='task.completed']")
    await page.wait_for_selector("#alerts .alert")
    await page.wait_for_selector("#chart-cpu:not([data-points='0'])")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "dashboard-1280.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    await page.set_viewport_size({"width": 390, "height": 844})
    narrow = ARTIFACTS / "dashboard-390.png"
    await page.screenshot(path=str(narrow), full_page=True)
    assert narrow.stat().st_size > 10_000
