"""No event lost, end to end: 10,000 events published at a steady rate while the
subscribers' TCP connections (and the publisher's) are reset at random moments, with no
close frame. Each subscriber, the Python client, must yield every seq exactly once, in
order; the publisher, retrying under one idempotency key, must publish each event once.

A real `livewatch serve` process; the faults are real TCP resets, made by a proxy between
the clients and the server.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from livewatch_client import Client

from tests.proxy import TcpProxy
from tests.servers import ServerProcess

CHANNEL = "business:chaos"
EVENTS = 10_000
RATE = 700.0  # events per second: about 14 s for the run
CUTS = 50


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(tmp_path, LIVEWATCH_HISTORY_SIZE="5000")
    await process.start()
    yield process
    await process.stop()


def fast_client(url: str) -> Client:
    return Client(url, min_delay=0.02, max_delay=0.3, ping_interval=2.0, ping_timeout=2.0)


async def subscriber(url: str, received: list[int], ready: asyncio.Event) -> None:
    async with fast_client(url) as client, client.subscribe(CHANNEL) as sub:
        ready.set()
        async for event in sub:
            received.append(event.seq)
            if event.seq == EVENTS:
                return


async def publish_steadily(client: Client, published: list[int]) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    for n in range(EVENTS):
        answer = await client.publish("task.started", {"n": n}, channel=CHANNEL)
        published.append(answer.channels[CHANNEL])
        delay = began + (n + 1) / RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


async def cut_at_random(proxies: list[TcpProxy], done: asyncio.Event) -> int:
    """Reset every connection through the proxies at random moments until done; how many
    times. A moment when the subscribers are still reconnecting from the last reset waits
    for their connection, so every round cuts a live one."""
    rounds = 0
    rng = random.Random(7)
    while not done.is_set():
        await asyncio.sleep(rng.uniform(0.05, 0.35))
        waiting = asyncio.ensure_future(proxies[0].carrying())
        stopping = asyncio.ensure_future(done.wait())
        await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        stopping.cancel()
        for proxy in proxies:
            proxy.cut()
        rounds += 1
    return rounds


async def run_chaos(server: ServerProcess, subscribers: int, cut_publisher: bool) -> None:
    to_subscribers = TcpProxy(server.port)
    to_publisher = TcpProxy(server.port)
    await to_subscribers.start()
    await to_publisher.start()
    received: list[list[int]] = [[] for _ in range(subscribers)]
    readies = [asyncio.Event() for _ in range(subscribers)]
    reading = [
        asyncio.create_task(subscriber(f"http://127.0.0.1:{to_subscribers.port}", seqs, ready))
        for seqs, ready in zip(received, readies, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 30)
    published: list[int] = []
    done = asyncio.Event()
    publisher_url = f"http://127.0.0.1:{to_publisher.port if cut_publisher else server.port}"
    targets = [to_subscribers, to_publisher] if cut_publisher else [to_subscribers]
    cutting = asyncio.create_task(cut_at_random(targets, done))
    try:
        async with Client(publisher_url, min_delay=0.01, max_delay=0.2, attempts=20) as client:
            await publish_steadily(client, published)
        await asyncio.wait_for(asyncio.gather(*reading), 60)
    finally:
        done.set()
        rounds = await cutting
        for task in reading:
            task.cancel()
        await asyncio.gather(*reading, return_exceptions=True)
        await to_subscribers.close()
        await to_publisher.close()
    assert published == list(range(1, EVENTS + 1)), "each event published once, in order"
    assert rounds >= CUTS, f"only {rounds} rounds of resets"
    assert to_subscribers.cuts >= CUTS
    for seqs in received:
        assert seqs == list(range(1, EVENTS + 1)), "every seq exactly once, in order"


async def test_a_subscriber_cut_off_50_times_gets_every_event_once_in_order(
    server: ServerProcess,
) -> None:
    await run_chaos(server, subscribers=1, cut_publisher=False)


async def test_20_subscribers_and_a_retrying_publisher_all_cut_get_every_event_once(
    server: ServerProcess,
) -> None:
    await run_chaos(server, subscribers=20, cut_publisher=True)
