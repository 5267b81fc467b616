"""The live page in a real Chromium, against a real livewatch process.

Debian's Chromium is driven by Playwright for Python (never `playwright install`). Where the
browser or the package is missing the module skips with the reason, except under CI=true,
where it fails: .ci/run installs Chromium first.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
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


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium through Playwright; a skip, or a failure under CI=true, that names
    what is missing."""
    reason = missing_component()
    if reason:
        skip_or_fail(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


class LiveServer:
    """livewatch as a child process on a fixed loopback port, restartable: run as an
    embedding application runs it (tests/embedded_server.py), so a test can publish the
    system events that HTTP refuses."""

    def __init__(
        self, name: str, database: Path, interval: float, extra: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.extra = extra  # more `livewatch serve` flags
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
                *self.extra,
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

    async def kill(self) -> None:
        """SIGKILL: the node stops with no goodbye, its heartbeat with it."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()

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
    async with chromium() as launched:
        yield launched


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


async def wait_for_history(server: LiveServer, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(await server.history()) < count:
        assert time.monotonic() < deadline, "the collector produced no history"
        await asyncio.sleep(COLLECTOR_INTERVAL)


async def test_load_network_and_disk_io_charts_hold_the_history_and_grow_live(
    server: LiveServer, page: Page
) -> None:
    await wait_for_history(server, 4)
    async with page.expect_response(lambda r: "api/monitoring/metrics/history" in r.url) as got:
        await open_dashboard(page, server.base)
    seeded = (await (await got.value).json())["samples"]
    times = [s["timestamp"] for s in seeded]
    for key, fields in (
        ("load", ("load_1", "load_5", "load_15")),
        ("network", ("net_recv_bytes_per_second", "net_sent_bytes_per_second")),
        ("disk-io", ("disk_read_bytes_per_second", "disk_write_bytes_per_second")),
    ):
        held = await page.evaluate(
            """([key, times]) => {
                const chart = window.livewatch.widgets.find((w) => w.charts).charts.get(key);
                const svg = document.getElementById('chart-' + key);
                return chart.series.map((s) => {
                    const byTime = new Map(s.points.map((p) => [p.t, p.v]));
                    const line = svg.querySelector(`[data-series="${s.field}"]`);
                    const drawn = line.getAttribute('points').trim();
                    return {
                        field: s.field,
                        values: times.map((t) => byTime.get(Date.parse(t)) ?? null),
                        held: s.points.length,
                        drawn: drawn ? drawn.split(/\\s+/).length : 0,
                    };
                });
            }""",
            [key, times],
        )
        assert [s["field"] for s in held] == list(fields), key
        for series in held:
            field = series["field"]
            assert series["values"] == [s[field] for s in seeded], field
            assert series["held"] == series["drawn"] >= len(seeded), field
        ticks = await page.locator(
            f"[data-chart='{key}'] .chart-tick:not([hidden])"
        ).all_text_contents()
        assert ticks and all(len(t) == 5 and t[2] == ":" for t in ticks), (key, ticks)
    await page.wait_for_function(
        "n => Number(document.getElementById('chart-network').dataset.points) > n",
        arg=len(seeded),
    )


async def test_chart_readout_follows_the_pointer_and_the_arrow_keys(
    server: LiveServer, page: Page
) -> None:
    await wait_for_history(server, 4)
    await open_dashboard(page, server.base)
    await page.wait_for_function("Number(document.getElementById('chart-cpu').dataset.points) >= 4")
    plot = page.locator("[data-chart=cpu] .chart-plot")
    readout = page.locator("#chart-cpu-readout")
    assert re.fullmatch(r"Latest \d\d:\d\d:\d\d", await readout.inner_text())

    # Hover: the nearest sample's time and value, a cursor line and a dot.
    box = await plot.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    await page.wait_for_selector("[data-chart=cpu] .chart-plot[data-cursor]")
    assert re.fullmatch(r"\d\d:\d\d:\d\d · \d+\.\d%", await readout.inner_text())
    assert await page.locator("[data-chart=cpu] .chart-cursor").is_visible()
    assert await page.locator("[data-chart=cpu] .chart-dot").is_visible()
    await page.mouse.move(0, 0)
    await page.wait_for_selector("[data-chart=cpu] .chart-plot:not([data-cursor])")

    # Keyboard: the charts are in the tab order, named, and the arrows move the readout.
    network = page.get_by_role("group", name="Network history; the arrow keys read the samples")
    await network.focus()
    await page.keyboard.press("ArrowLeft")
    await page.keyboard.press("ArrowLeft")
    cursor = await network.get_attribute("data-cursor")
    count = await page.get_attribute("#chart-network", "data-points")
    assert cursor is not None and count is not None
    assert int(cursor) <= int(count) - 2
    text = await page.inner_text("#chart-network-readout")
    rate = r"[\d.]+ [KMG]?i?B/s"
    assert re.fullmatch(rf"\d\d:\d\d:\d\d · rx {rate}, tx {rate}", text), text
    assert await page.get_attribute("#chart-network-readout", "aria-live") == "polite"
    await page.keyboard.press("Home")
    assert await network.get_attribute("data-cursor") == "0"
    await page.keyboard.press("Tab")
    focused = await page.evaluate(
        "document.activeElement.closest('[data-chart]')?.dataset.chart ?? null"
    )
    assert focused == "disk-io", "Tab goes on to the next chart"
    await page.keyboard.press("Escape")
    assert await network.get_attribute("data-cursor") is None, "leaving a chart clears it"


async def test_per_core_strip_and_top_processes_follow_the_samples(
    server: LiveServer, page: Page
) -> None:
    await open_dashboard(page, server.base)
    cores = len((await server.get("/api/monitoring/metrics"))["cpu_percent_per_core"])
    assert cores >= 1
    await page.wait_for_selector(f"#cpu-core-list[data-cores='{cores}']")
    assert await page.locator("#cpu-core-list li.core").count() == cores
    # Ten rows from the start; the real processes fill them, busiest first.
    await page.wait_for_selector("#top-processes-table tbody tr[data-pid]")
    assert await page.locator("#top-processes-table tbody tr").count() == 10

    async def column(index: int) -> list[float]:
        texts: list[str] = await page.eval_on_selector_all(
            "#top-processes-table tbody tr[data-pid]",
            "(rows, i) => rows.map((r) => r.querySelectorAll('td')[i].textContent)",
            index,
        )
        return [float(t.rstrip("%")) for t in texts]

    cpu = await column(2)
    assert cpu == sorted(cpu, reverse=True), cpu
    await page.get_by_role("button", name="Memory").click()
    await page.wait_for_selector("#top-processes-table[data-order=by_memory]")
    assert await page.get_attribute("[data-order=by_memory]", "aria-pressed") == "true"
    memory = await column(3)
    assert memory == sorted(memory, reverse=True), memory

    # A sample of this node, a little ahead of the collector's: its processes, its cores.
    own = (await server.get("/api/monitoring/metrics"))["node"]
    strange = "<img src=x>"
    sample = {
        **(await server.get("/api/monitoring/metrics")),
        "node": own,
        "cpu_percent_per_core": [5.0, 80.0, 95.0],
        "top_processes": {
            "by_cpu": [
                {
                    "pid": 4242,
                    "name": strange,
                    "cpu_percent": 250.0,
                    "memory_percent": 1.0,
                    "rss_bytes": 1024,
                },
            ],
            "by_memory": [
                {
                    "pid": 4343,
                    "name": "hog",
                    "cpu_percent": 0.0,
                    "memory_percent": 61.5,
                    "rss_bytes": 3 * 1024**3,
                },
            ],
        },
        "timestamp": rfc3339(datetime.now(UTC) + timedelta(seconds=30)),
    }
    await server.publish("system.metric", sample)
    await page.wait_for_selector("#top-processes-table tbody tr[data-pid='4343']")
    row = page.locator("#top-processes-table tbody tr").first
    assert await row.inner_text() == "4343\thog\t0.0%\t61.5%\t3.0 GiB"
    assert await page.locator("#top-processes-table tbody tr[data-pid]").count() == 1
    await page.get_by_role("button", name="CPU", exact=True).click()
    assert (
        await page.inner_text("#top-processes-table tbody tr[data-pid='4242'] td >> nth=1")
        == strange
    )
    assert await page.locator("#top-processes-table img").count() == 0, "text, never markup"
    await page.wait_for_selector("#cpu-core-list[data-cores='3']")
    levels = await page.eval_on_selector_all(
        "#cpu-core-list li.core", "cells => cells.map((c) => c.dataset.level)"
    )
    assert levels == ["ok", "warning", "critical"]


async def test_node_list_shows_this_node_and_other_nodes_samples_move_only_their_row(
    server: LiveServer, page: Page
) -> None:
    own = (await server.get("/api/monitoring/metrics"))["node"]
    await open_dashboard(page, server.base)
    row = page.locator(f"#cluster-nodes-table tbody tr[data-node='{own}']")
    await row.wait_for()
    assert await page.locator("#cluster-nodes-table tbody tr").count() == 1, "one node, one row"
    assert await row.get_attribute("data-own") == "true"
    assert await row.get_attribute("data-state") == "up"
    assert "(this page)" in await row.inner_text()
    assert await page.evaluate("window.livewatch.ownNode.name") == own

    other = f"other-{tag()}"
    sample = {
        **(await server.get("/api/monitoring/metrics")),
        "node": other,
        "cpu_percent": 99.5,
        "memory_percent": 12.25,
        "active_connections": 41,
        "timestamp": rfc3339(datetime.now(UTC) + timedelta(seconds=1)),
    }
    await server.publish("system.metric", sample)
    other_row = page.locator(f"#cluster-nodes-table tbody tr[data-node='{other}']")
    await other_row.wait_for()
    cells = await other_row.locator("td").all_inner_texts()
    assert cells[:4] == ["Up", "99.5%", "12.3%", "41"], cells
    assert await other_row.get_attribute("data-own") is None
    await page.wait_for_timeout(4 * COLLECTOR_INTERVAL * 1000)
    # Another node's sample moved neither the gauges nor the charts.
    assert await page.get_attribute("[data-gauge=cpu]", "data-value") != "99.5"
    stamp = await page.evaluate("(t) => Date.parse(t)", sample["timestamp"])
    in_chart = await page.evaluate(
        """(t) => window.livewatch.widgets.find((w) => w.charts).charts.get('cpu')
            .points.some((p) => p.t === t)""",
        stamp,
    )
    assert in_chart is False


async def test_a_node_whose_heartbeat_lapsed_is_marked(
    browser: Browser, page: Page, tmp_path: Path
) -> None:
    """Two real livewatch processes on one Redis; one is killed, and the page marks it."""
    import redis.asyncio as aioredis

    from tests.cluster import SHARED_REDIS, delete_keys, new_prefix

    client = aioredis.Redis.from_url(SHARED_REDIS, socket_timeout=2)
    try:
        await client.ping()
    except OSError as exc:
        skip_or_fail(f"no Redis on 127.0.0.1:6379 ({exc})")
    finally:
        await client.aclose()
    prefix = new_prefix()
    name = tag()
    nodes = [
        LiveServer(
            f"node-{which}",
            tmp_path / f"{which}.sqlite3",
            0.5,
            extra=(
                "--node",
                f"lw-{which}-{name}",
                "--broker",
                SHARED_REDIS,
                "--redis-prefix",
                prefix,
                "--cluster-heartbeat",
                "0.5",
            ),
        )
        for which in ("a", "b")
    ]
    try:
        for node in nodes:
            await node.start()
        await open_dashboard(page, nodes[0].base)
        for which in ("a", "b"):
            await page.wait_for_selector(
                f"#cluster-nodes-table tr[data-node='lw-{which}-{name}'][data-state=up]"
            )
        assert await page.get_attribute(f"tr[data-node='lw-a-{name}']", "data-own") == "true"
        await nodes[1].kill()
        lapsed = page.locator(
            f"#cluster-nodes-table tr[data-node='lw-b-{name}'][data-state=lapsed]"
        )
        await lapsed.wait_for(timeout=10_000)
        assert "Lapsed" in await lapsed.inner_text(), "said in words, not only colour"
        assert "1 lapsed" in await page.inner_text("#cluster-summary")
        alive = page.locator(f"#cluster-nodes-table tr[data-node='lw-a-{name}']")
        assert await alive.get_attribute("data-state") == "up"
    finally:
        await nodes[1].kill()
        await nodes[0].stop()
        await delete_keys(SHARED_REDIS, prefix)


LAYOUT_SHIFTS = """
window.seenShifts = [];
new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
        window.seenShifts.push({
            value: entry.value,
            input: entry.hadRecentInput,
            at: Math.round(entry.startTime),
            moved: entry.sources.map((s) => [
                (s.node && (s.node.id || s.node.className)) || '?',
                Math.round(s.previousRect.y),
                Math.round(s.currentRect.y),
            ]),
            alerts: [...document.querySelectorAll('#alerts .alert')].map((a) => a.textContent),
        });
    }
}).observe({type: 'layout-shift', buffered: true});
"""


# Alert levels a sample seldom reaches.
QUIET_RULES = tuple(
    arg
    for rule in ("cpu", "memory", "disk")
    for arg in (f"--{rule}-warning", "99.99", f"--{rule}-critical", "100")
)


async def test_nothing_moves_as_data_arrives(browser: Browser, tmp_path: Path) -> None:
    """Samples, health, the cluster, the first alert banner and the first event land in room
    laid out for them: the page's layout shifts add up to (nearly) nothing."""
    # The collector samples once at start and not again during the test, and against levels
    # it seldom reaches, so the alert on the page is the test's own; a real one that got
    # there all the same is dismissed first (a shift right after input does not count).
    live = LiveServer("shifts", tmp_path / "db.sqlite3", 60, extra=QUIET_RULES)
    await live.start()
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        name = tag()
        page = await context.new_page()
        await page.add_init_script(LAYOUT_SHIFTS)
        await open_dashboard(page, live.base, f"?business_id={name}")
        await page.wait_for_selector("#cluster-nodes-table tbody tr")
        for button in await page.locator("#alerts .alert-dismiss").all():
            await button.click()
        latest = await live.get("/api/monitoring/metrics")
        for i in range(1, 4):
            when = rfc3339(datetime.now(UTC) + timedelta(seconds=i))
            await live.publish("system.metric", {**latest, "timestamp": when})
        await page.wait_for_selector("#top-processes-table tbody tr[data-pid]")
        await page.wait_for_function("document.getElementById('chart-network').dataset.points >= 3")
        await live.publish("system.alert", alert_data(f"cpu-{name}", "warning"))
        await page.wait_for_selector(f"#alerts .alert[data-alert-id='cpu-{name}']")
        await live.publish("task.started", {"title": f"first {name}"}, business_id=name)
        await page.wait_for_selector(f"#live-feed li[data-channel='business:{name}']")
        await live.publish("system.metric", {**latest, "node": f"other-{name}"})
        await page.wait_for_selector(f"#cluster-nodes-table tr[data-node='other-{name}']")
        await page.wait_for_timeout(500)
        banners = await page.locator("#alerts .alert").all_inner_texts()
        assert len(banners) == 1, banners
        shifts = await page.evaluate("window.seenShifts")
        assert sum(s["value"] for s in shifts if not s["input"]) < 0.01, json.dumps(shifts)
    finally:
        await context.close()
        await live.stop()


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
        # A node with a long name in the cluster view, and one with many cores.
        sample = await server.get("/api/monitoring/metrics")
        await server.publish("system.metric", {**sample, "node": "n" * 120})
        await page.wait_for_selector("#alerts .alert")
        await page.wait_for_selector("#live-feed li[data-event='business.stage_changed']")
        await page.wait_for_selector(f"#cluster-nodes-table tr[data-node='{'n' * 120}']")
        await page.evaluate(
            "window.livewatch.widgets.find((w) => w.cells).apply({cpu_percent_per_core: "
            "Array(64).fill(50)})"
        )
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
