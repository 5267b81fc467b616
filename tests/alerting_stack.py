"""A real Prometheus and a real Alertmanager in front of a livewatch, for the end-to-end
alert tests: both on free loopback ports with temporary configs.

Prometheus scrapes livewatch every second and evaluates RULE, which fires once for each
kind of channel, business or other (not user: the page holds its user's channel), that
anyone is subscribed to: a test makes it fire by opening a WebSocket and resolves it by
unsubscribing or closing that socket. Alertmanager
posts to livewatch's webhook through a recording relay in the test process, which keeps
every payload (they are the fixtures of the webhook's unit tests) and when each arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from tests.conftest import free_port

ALERTNAME = "LivewatchChannelWatched"
RULE = {
    "groups": [
        {
            "name": "livewatch-e2e",
            "rules": [
                {
                    "alert": ALERTNAME,
                    "expr": 'livewatch_ws_subscriptions{job="livewatch", kind=~"business|other"}'
                    " > 0",
                    "labels": {"severity": "critical", "team": "e2e"},
                    "annotations": {
                        "summary": "Someone watches {{ $labels.kind }} channels on "
                        "{{ $labels.instance }}",
                        "description": "{{ $value }} {{ $labels.kind }} subscriptions are open.",
                    },
                }
            ],
        }
    ]
}
GROUP_WAIT = 2.0  # seconds Alertmanager waits before the first notification of a group
GROUP_INTERVAL = 2.0  # and between notifications of a group that changed
START_TIMEOUT = 30.0


def need_binaries() -> dict[str, str]:
    """prometheus and prometheus-alertmanager; skip without them (fail under CI=true)."""
    found: dict[str, str] = {}
    for tool, package in (
        ("prometheus", "prometheus"),
        ("prometheus-alertmanager", "prometheus-alertmanager"),
    ):
        path = shutil.which(tool)
        if path is None:
            reason = f"{tool} is not installed (Debian package {package})"
            if os.environ.get("CI") == "true":
                pytest.fail(f"{reason}; CI=true requires it")
            pytest.skip(reason)
        found[tool] = path
    return found


@dataclass
class Delivery:
    received: float  # time.time() when the relay got it
    body: dict[str, Any]
    status: int  # livewatch's answer
    answer: str


@dataclass
class WebhookRelay:
    """Alertmanager's webhook target: records each payload, hands it to livewatch with the
    same Authorization header, and answers what livewatch answered."""

    target: str  # livewatch's webhook URL
    port: int = field(default_factory=free_port)
    deliveries: list[Delivery] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    taken: int = 0  # deliveries next_delivery() has handed out or passed over
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/hook", self._relay)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _relay(self, request: web.Request) -> web.Response:
        received = time.time()
        raw = await request.read()
        assert self._session is not None
        headers = {
            name: value
            for name, value in request.headers.items()
            if name in ("Authorization", "Content-Type")
        }
        async with self._session.post(self.target, data=raw, headers=headers) as answer:
            text = await answer.text()
            status = answer.status
        self.deliveries.append(Delivery(received, json.loads(raw), status, text))
        self.arrived.set()
        return web.Response(status=status, text=text, content_type="application/json")

    async def next_delivery(self, status: str, within: float) -> Delivery:
        """The next delivery after those handed out already whose status is this."""
        deadline = time.monotonic() + within
        while True:
            for index in range(self.taken, len(self.deliveries)):
                if self.deliveries[index].body["status"] == status:
                    self.taken = index + 1
                    return self.deliveries[index]
            self.arrived.clear()
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {status} notification within {within}s"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for index, delivery in enumerate(self.deliveries, 1):
            name = f"{index:02d}-{delivery.body['status']}.json"
            (folder / name).write_text(json.dumps(delivery.body, indent=2) + "\n")


@dataclass
class Process:
    name: str
    process: asyncio.subprocess.Process
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start(name: str, args: list[str], workdir: Path, ready_url: str) -> Process:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(*args, stdout=out, stderr=out)
    started = Process(name, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while True:
            assert process.returncode is None, f"{name} exited:\n{started.output()}"
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(ready_url) as response:
                    if response.status == 200:
                        return started
            assert time.monotonic() < deadline, f"{name} never got ready:\n{started.output()}"
            await asyncio.sleep(0.1)


@dataclass
class Stack:
    prometheus: str  # base URL
    alertmanager: str
    relay: WebhookRelay

    async def alerts(self, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        """Prometheus's ALERTNAME alerts, pending or firing."""
        async with session.get(f"{self.prometheus}/api/v1/alerts") as response:
            alerts = (await response.json())["data"]["alerts"]
        return [alert for alert in alerts if alert["labels"]["alertname"] == ALERTNAME]

    async def firing(self, session: aiohttp.ClientSession, count: int, within: float) -> float:
        """Wait until Prometheus fires `count` ALERTNAME alerts; the Unix time the last of
        them became active."""
        deadline = time.monotonic() + within
        while True:
            firing = [a for a in await self.alerts(session) if a["state"] == "firing"]
            if len(firing) == count:
                return max(rfc3339_seconds(alert["activeAt"]) for alert in firing)
            assert time.monotonic() < deadline, f"{count} x {ALERTNAME} not firing in {within}s"
            await asyncio.sleep(0.05)

    async def down_to(self, session: aiohttp.ClientSession, count: int, within: float) -> float:
        """Wait until Prometheus has `count` ALERTNAME alerts left; the Unix time it had."""
        deadline = time.monotonic() + within
        while len(await self.alerts(session)) != count:
            assert time.monotonic() < deadline, f"{ALERTNAME} not down to {count} in {within}s"
            await asyncio.sleep(0.05)
        return time.time()


def rfc3339_seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@contextlib.asynccontextmanager
async def alerting_stack(
    workdir: Path, livewatch: str, publish_key: str | None
) -> AsyncIterator[Stack]:
    """Prometheus scraping `livewatch` (host:port) with RULE, and Alertmanager posting to
    its webhook through a recording relay, with the publish key as Bearer token if given."""
    binaries = need_binaries()
    relay = WebhookRelay(f"http://{livewatch}/api/alerts/alertmanager")
    await relay.start()
    am_port, prom_port = free_port(), free_port()
    webhook: dict[str, Any] = {"url": relay.url, "send_resolved": True}
    if publish_key is not None:
        webhook["http_config"] = {"authorization": {"type": "Bearer", "credentials": publish_key}}
    (workdir / "alertmanager.yml").write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "livewatch",
                    "group_by": ["alertname"],
                    "group_wait": f"{GROUP_WAIT:g}s",
                    "group_interval": f"{GROUP_INTERVAL:g}s",
                    "repeat_interval": "1h",
                },
                "receivers": [{"name": "livewatch", "webhook_configs": [webhook]}],
            }
        )
    )
    (workdir / "rules.yml").write_text(yaml.safe_dump(RULE))
    prometheus_url = f"http://127.0.0.1:{prom_port}"
    (workdir / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(workdir / "rules.yml")],
                "scrape_configs": [
                    {"job_name": "livewatch", "static_configs": [{"targets": [livewatch]}]}
                ],
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
                },
            }
        )
    )
    processes: list[Process] = []
    try:
        processes.append(
            await start(
                "alertmanager",
                [
                    binaries["prometheus-alertmanager"],
                    f"--config.file={workdir / 'alertmanager.yml'}",
                    f"--storage.path={workdir / 'alertmanager-data'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
                workdir,
                f"http://127.0.0.1:{am_port}/-/ready",
            )
        )
        processes.append(
            await start(
                "prometheus",
                [
                    binaries["prometheus"],
                    f"--config.file={workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={workdir / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    f"--web.external-url={prometheus_url}/",
                    # Send firing alerts again every second: the first may go out before
                    # Prometheus has found the Alertmanager (then it is dropped).
                    "--rules.alert.resend-delay=1s",
                ],
                workdir,
                f"{prometheus_url}/-/ready",
            )
        )
        yield Stack(prometheus_url, f"http://127.0.0.1:{am_port}", relay)
    finally:
        for process in reversed(processes):
            await process.stop()
        await relay.stop()
