"""Acknowledging and silencing alerts in a real Chromium, against real livewatch processes;
and the whole path from a real Prometheus through a real Alertmanager to a banner.

Alerts are raised the way Alertmanager raises them: its payloads (tests/fixtures/) posted
to the webhook. Skips like tests/test_browser.py where Chromium or Playwright is missing,
and the Prometheus test where prometheus or prometheus-alertmanager is (CI=true: fails).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
import pytest_asyncio

from app.auth.tokens import issue_token
from app.timeutil import rfc3339
from tests.alerting_stack import GROUP_INTERVAL, GROUP_WAIT, alerting_stack
from tests.servers import ServerProcess
from tests.test_alertmanager import TWO_FIRING, payload
from tests.test_alertmanager_live import watch_channels
from tests.test_browser import ARTIFACTS, LiveServer, Problems, chromium, open_dashboard

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# The host's own alerts stay out of these pages: no periodic samples (the first would come
# after an hour), and a calm sample in place of the first real one (see calm()).
QUIET_HOST_INTERVAL = 3600


async def calm(base: str) -> None:
    """Put a calm host sample through the collector: a real CPU alert raised by the first
    reading (it covers livewatch's own start-up) resolves, and no other comes."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}/_test/sample",
            json={"cpu_percent": 1.0, "memory_percent": 1.0, "disk_percent": 1.0},
        ) as answer,
    ):
        assert answer.status == 202, await answer.text()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def server(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    live = LiveServer(
        "alerts", tmp_path_factory.mktemp("alert-page") / "db.sqlite3", QUIET_HOST_INTERVAL
    )
    await live.start()
    await calm(live.base)
    yield live
    await live.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    fresh = await context.new_page()
    fresh.set_default_timeout(10_000)
    yield fresh
    await context.close()


async def raise_alert(base: str, name: str, severity: str = "critical") -> dict[str, Any]:
    """One alert posted to the webhook as Alertmanager posts it; its sent form."""
    body = payload(TWO_FIRING)
    alert: dict[str, Any] = body["alerts"][0]
    alert["labels"] = {**alert["labels"], "alertname": name, "severity": severity}
    alert["annotations"] = {"summary": f"{name} is firing", "description": "from a test"}
    alert["fingerprint"] = uuid.uuid4().hex[:16]
    body["alerts"] = [alert]
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/api/alerts/alertmanager", json=body) as answer,
    ):
        assert answer.status == 200, await answer.text()
        assert (await answer.json())["raised"] == 1
    return alert


async def alert_id_of(base: str, name: str, headers: dict[str, str] | None = None) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/api/monitoring/alerts", headers=headers or {}) as got,
    ):
        body = await got.json()
    (alert,) = [a for a in body["active"] if a["rule"] == name]
    alert_id: str = alert["alert_id"]
    return alert_id


def banner_of(page: Page, alert_id: str) -> Any:
    return page.locator(f"#alerts .alert[data-alert-id='{alert_id}']")


def name() -> str:
    return f"Test{uuid.uuid4().hex[:8]}"


async def test_an_acknowledgement_in_one_browser_shows_in_another_live(
    server: LiveServer, browser: Browser
) -> None:
    contexts = [await browser.new_context(viewport={"width": 1280, "height": 900}) for _ in "ab"]
    try:
        first, second = [await context.new_page() for context in contexts]
        problems = Problems(first)
        for each in (first, second):
            await open_dashboard(each, server.base)
        alertname = name()
        await raise_alert(server.base, alertname)
        alert_id = await alert_id_of(server.base, alertname)
        for each in (first, second):
            await banner_of(each, alert_id).wait_for()

        # By keyboard, with accessible names: to the banner, Tab past the link to the
        # source, to Acknowledge, Enter.
        banner = banner_of(first, alert_id)
        link = banner.get_by_role("link", name=f"Open {alertname} is firing in Prometheus")
        ack = first.get_by_role("button", name=f"Acknowledge critical alert: {alertname} is firing")
        await banner.focus()
        await first.keyboard.press("Tab")
        assert await link.evaluate("el => el === document.activeElement")
        await first.keyboard.press("Tab")
        assert await ack.evaluate("el => el === document.activeElement")
        await first.keyboard.press("Enter")
        dialog = first.get_by_role("dialog", name="Acknowledge alert")
        await dialog.wait_for()
        name_field = first.get_by_label("Your name")
        assert await name_field.evaluate("el => el === document.activeElement")
        await first.keyboard.type("alice")
        await first.keyboard.press("Tab")
        await first.keyboard.type("on it")
        await first.keyboard.press("Tab")  # to the Acknowledge button of the form
        started = time.monotonic()
        await first.keyboard.press("Enter")
        await dialog.wait_for(state="hidden")
        silence = first.get_by_role("button", name=f"Silence critical alert: {alertname} is firing")
        assert await silence.evaluate("el => el === document.activeElement"), (
            "focus goes on to Silence once Acknowledge is gone"
        )

        # The other browser shows it without reloading.
        note = banner_of(second, alert_id).locator(".alert-ack-note")
        await note.filter(has_text="acknowledged by alice").wait_for(timeout=2000)
        took = time.monotonic() - started
        print(f"\nacknowledged in one browser -> shown in the other: {took:.2f} s")
        assert await banner_of(second, alert_id).get_attribute("data-acknowledged") == "alice"
        panel_item = second.locator(f"#alerts-acknowledged [data-alert-id='{alert_id}']")
        await panel_item.filter(has_text="acknowledged by alice").wait_for()
        assert await second.locator(".alert-ack-note", has_text="alice").count() == 1
        assert problems.items == []
    finally:
        for context in contexts:
            await context.close()


async def test_a_silence_made_through_the_api_hides_the_banner_until_it_expires(
    server: LiveServer, page: Page
) -> None:
    await open_dashboard(page, server.base)
    alertname = name()
    await raise_alert(server.base, alertname, severity="warning")
    alert_id = await alert_id_of(server.base, alertname)
    banner = banner_of(page, alert_id)
    await banner.wait_for()

    until = datetime.now(UTC) + timedelta(seconds=4)
    silence = {"matchers": {"rule": alertname}, "until": rfc3339(until), "by": "ops"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base}/api/monitoring/silences", json=silence) as answer,
    ):
        assert answer.status == 201
        made = await answer.json()
    assert made["matches"] == 1
    silence_id = made["silence"]["silence_id"]
    await banner.wait_for(state="detached", timeout=2000)
    await page.locator(f"#alerts-silenced [data-alert-id='{alert_id}']").wait_for()
    listed = page.locator(f"#alerts-silences [data-silence-id='{silence_id}']")
    await listed.filter(has_text=f"rule={alertname}").wait_for()

    # Nobody ends it: it expires at its time, and the banner comes back by itself.
    await banner.wait_for(timeout=10_000)
    late = (datetime.now(UTC) - until).total_seconds()
    print(f"\nsilence expired -> banner back after {late:.2f} s")
    assert late < 1.5
    await listed.wait_for(state="detached")
    assert await page.locator(f"#alerts-silenced [data-alert-id='{alert_id}']").count() == 0


async def test_silence_from_the_banner_and_end_it_from_the_panel_by_keyboard(
    server: LiveServer, page: Page
) -> None:
    await open_dashboard(page, server.base, "?user_id=pat")
    alertname = name()
    await raise_alert(server.base, alertname)
    alert_id = await alert_id_of(server.base, alertname)
    banner = banner_of(page, alert_id)
    await banner.wait_for()
    await page.get_by_role("button", name=f"Silence critical alert: {alertname} is firing").focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Silence alert")
    await dialog.wait_for()
    assert await page.get_by_label("Your name").input_value() == "pat", "from ?user_id"
    duration = page.get_by_label("Silence for")
    assert await duration.evaluate("el => el === document.activeElement")
    await duration.select_option(label="30 minutes")
    await page.get_by_role("button", name="Silence", exact=True).click()
    await banner.wait_for(state="detached")

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.base}/api/monitoring/silences") as got,
    ):
        silences = (await got.json())["silences"]
    (mine,) = [s for s in silences if s["matchers"].get("alertname") == alertname]
    assert mine["by"] == "pat"
    assert mine["matchers"]["source"] == "alertmanager"
    ends = datetime.fromisoformat(mine["ends_at"]) - datetime.fromisoformat(mine["starts_at"])
    assert abs(ends.total_seconds() - 1800) < 30

    end = page.get_by_role(
        "button",
        name=f"End the silence of {' '.join(f'{k}={v}' for k, v in mine['matchers'].items())}",
    )
    await end.focus()
    await page.keyboard.press("Enter")
    await banner.wait_for()
    focused = await page.evaluate("document.activeElement.id || document.activeElement.className")
    assert focused in ("alerts-silences-title", "btn alerts-end"), "focus stays in the panel"


async def test_alerts_move_nothing_on_the_page(page: Page, tmp_path: Path) -> None:
    """Layout shifts while an alert comes, is acknowledged, silenced and comes back: the
    banner strip holds one banner's height and the panel its own, so nothing moves."""
    live = LiveServer("layout", tmp_path / "db.sqlite3", QUIET_HOST_INTERVAL)
    await live.start()
    await calm(live.base)
    try:
        await open_dashboard(page, live.base, "?user_id=cls")
        await page.wait_for_selector("#alerts-panel .alerts-groups")
        assert await page.locator("#alerts .alert").count() == 0
        await page.evaluate(
            """() => {
                window.shifts = [];
                new PerformanceObserver((list) => {
                    for (const entry of list.getEntries()) {
                        if (!entry.hadRecentInput) window.shifts.push(entry.value);
                    }
                }).observe({type: 'layout-shift', buffered: false});
            }"""
        )
        alertname = name()
        await raise_alert(live.base, alertname)
        alert_id = await alert_id_of(live.base, alertname)
        banner = banner_of(page, alert_id)
        await banner.wait_for()
        async with aiohttp.ClientSession() as session:
            await session.post(
                f"{live.base}/api/monitoring/alerts/{alert_id}/ack", json={"by": "cls"}
            )
            await banner.locator(".alert-ack-note", has_text="cls").wait_for()
            until = rfc3339(datetime.now(UTC) + timedelta(hours=1))
            silence = {"matchers": {"rule": alertname}, "until": until, "by": "cls"}
            async with session.post(f"{live.base}/api/monitoring/silences", json=silence) as made:
                silence_id = (await made.json())["silence"]["silence_id"]
            await banner.wait_for(state="detached")
            await session.delete(f"{live.base}/api/monitoring/silences/{silence_id}")
        await banner.wait_for()
        await page.wait_for_timeout(500)
        shifts = await page.evaluate("window.shifts")
        print(f"\nlayout shift: {sum(shifts):.4f} over {len(shifts)} shifts")
        assert sum(shifts) < 0.01, shifts
    finally:
        await live.stop()


@pytest.mark.prometheus
async def test_a_prometheus_alert_reaches_the_page_within_group_wait(
    browser: Browser, tmp_path: Path
) -> None:
    """Prometheus fires, Alertmanager waits group_wait and posts, the banner shows; it
    resolves, and the banner goes. With a secret: the page's token names who acknowledges."""
    secret, key = secrets.token_hex(32), secrets.token_hex(32)
    livewatch = ServerProcess(tmp_path, LIVEWATCH_SECRET=secret, LIVEWATCH_PUBLISH_KEY=key)
    await livewatch.start()
    instance = f"127.0.0.1:{livewatch.port}"
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        async with (
            alerting_stack(tmp_path, instance, key) as stack,
            aiohttp.ClientSession() as session,
        ):
            page = await context.new_page()
            page.set_default_timeout(10_000)
            problems = Problems(page)
            reader = issue_token(secret, "alice", [], 600)
            await open_dashboard(page, livewatch.url, f"?token={reader}")
            await page.evaluate(
                """() => {
                    window.bannerAt = null;
                    const root = document.getElementById('alerts');
                    new MutationObserver(() => {
                        if (window.bannerAt === null
                            && root.querySelector('.alert[data-source=alertmanager]')) {
                            window.bannerAt = performance.timeOrigin + performance.now();
                        }
                    }).observe(root, {childList: true, subtree: true});
                }"""
            )
            subscriber = await watch_channels(session, livewatch.url, secret)
            active_at = await stack.firing(session, count=2, within=30)
            banners = page.locator("#alerts .alert[data-source=alertmanager]")
            await page.wait_for_function(
                "() => document.querySelectorAll("
                "'#alerts .alert[data-source=alertmanager]').length === 2",
                timeout=(GROUP_WAIT + 10) * 1000,
            )
            latency = await page.evaluate("window.bannerAt") / 1000 - active_at
            print(f"\nfiring in Prometheus -> banner in Chromium: {latency:.2f} s")
            assert latency <= GROUP_WAIT + 2

            business = banners.filter(has_text="business channels")
            assert await business.get_attribute("data-level") == "critical"
            link = business.locator(".alert-link")
            assert (await link.get_attribute("href") or "").startswith(stack.prometheus + "/graph?")
            assert await business.locator(".alert-source").inner_text() == "Prometheus"

            # Acknowledged through the page: the token's user is recorded.
            await business.get_by_role(
                "button",
                name="Acknowledge critical alert: Someone watches business channels",
                exact=False,
            ).click()
            await page.get_by_role("dialog", name="Acknowledge alert").wait_for()
            assert await page.get_by_label("Your name").is_hidden(), "the token says who"
            await page.get_by_role("button", name="Acknowledge", exact=True).click()
            await business.locator(".alert-ack-note", has_text="acknowledged by alice").wait_for()

            # Nobody watches: Prometheus resolves both, and the banners go.
            await subscriber.close()
            await stack.down_to(session, 0, within=30)
            await page.wait_for_function(
                "() => !document.querySelector('#alerts .alert[data-source=alertmanager]')",
                timeout=(GROUP_INTERVAL + 10) * 1000,
            )
            gone = time.time()
            ended = [
                datetime.fromisoformat(alert["endsAt"]).timestamp()
                for delivery in stack.relay.deliveries
                for alert in delivery.body["alerts"]
                if alert["status"] == "resolved"
            ]
            print(f"resolved in Prometheus -> banners gone: {gone - max(ended):.2f} s")
            assert gone - max(ended) <= GROUP_INTERVAL + 2, "group_interval, and little more"
            resolved = page.locator("#alerts-resolved [data-source=alertmanager]")
            await resolved.filter(has_text="acknowledged by alice").wait_for()
            assert await resolved.count() == 2
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "alerts-after-resolve.png"), full_page=True)
            assert problems.items == []
    finally:
        await context.close()
        await livewatch.stop()
