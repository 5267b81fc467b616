"""A node killed with SIGKILL while clients and publishers use it: behind HAProxy
(deploy/haproxy.cfg), its clients reconnect to another node and recover with `since`, and
publishers that repeat a failed publish with the same Idempotency-Key get every event
published, so that every subscriber ends with every seq exactly once."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import aiohttp
import pytest

from tests.cluster import Lab, Publisher, server_states
from tests.recovering_client import RecoveringClient

pytestmark = pytest.mark.redis

CHANNEL = "business:failover"


def numbered(n: int) -> dict[str, Any]:
    return {"event": "task.started", "data": {"n": n}, "business_id": "failover"}


async def test_a_client_behind_the_balancer_survives_its_node_being_killed(lab: Lab) -> None:
    url, prefix = await lab.shared_redis()
    nodes = await lab.nodes(3, url, prefix)
    balancer = await lab.balancer(nodes)
    client = RecoveringClient(lab.session, balancer.base, [CHANNEL])
    await client.start()
    (victim,) = [node for node in nodes if node.name == client.nodes[0]]
    publisher = Publisher(lab.session, balancer.base, numbered)
    publisher.start()
    await client.wait_for(CHANNEL, 50)

    await victim.kill()
    killed = time.monotonic()
    while (await server_states(lab.session, balancer.stats_port))[victim.name].startswith("UP"):
        assert time.monotonic() - killed < 5, "HAProxy's checks never took the node out"
        await asyncio.sleep(0.1)
    marked_down = time.monotonic() - killed
    await asyncio.sleep(max(0.0, 3 - marked_down))  # publishing on through the balancer
    await publisher.stop()
    last = max(publisher.seqs(CHANNEL))
    await client.wait_for(CHANNEL, last, within=30)
    track = client.tracks[CHANNEL]
    back = track.first_after(killed)
    print(
        f"\nclient on {victim.name}, killed: reconnected to {client.nodes[1:]}, events again "
        f"{(back or killed) - killed:.2f} s after the kill; HAProxy took {victim.name} out "
        f"after {marked_down:.2f} s; {last} events, publishes {publisher.statuses()}"
    )
    assert client.nodes[0] == victim.name and victim.name not in client.nodes[1:]
    assert not track.problems, track.problems[:5]
    assert not track.notices, f"recovery failed: {track.notices}"
    assert track.seqs == list(range(1, last + 1)), "every seq exactly once, in order"
    assert [r["recovered"] for r in track.recoveries][:1] == [True]
    assert set(track.numbers()) >= set(publisher.acked), "every acknowledged event arrived"
    await client.stop()


async def test_publishes_cut_short_by_a_node_death_are_answered_when_repeated(
    lab: Lab,
) -> None:
    """Many publishes in flight on a node when it dies: some had claimed their idempotency
    key and not yet stored the answer. Repeating each unanswered one with its key on another
    node must publish it (or answer it), within the claim's lease, not refuse it for the
    rest of the idempotency window."""
    url, prefix = await lab.shared_redis()
    a, b = await lab.nodes(2, url, prefix)
    run = secrets.token_hex(4)
    answered: set[int] = set()
    stop = asyncio.Event()

    async def post(base: str, n: int) -> int:
        async with lab.session.post(
            base + "/api/events",
            json=numbered(n),
            headers={"Idempotency-Key": f"{run}-{n}"},
            timeout=aiohttp.ClientTimeout(total=20),
        ) as response:
            await response.read()
            return response.status

    async def hammer(worker: int) -> None:
        n = worker
        while not stop.is_set():
            try:
                if await post(a.base, n) == 202:
                    answered.add(n)
            except (aiohttp.ClientError, TimeoutError):
                return  # a is gone
            n += 40

    workers = [asyncio.create_task(hammer(w)) for w in range(40)]
    await asyncio.sleep(1.5)
    await a.kill()
    stop.set()
    await asyncio.gather(*workers)
    sent = max(answered) + 40
    unanswered = [n for n in range(sent) if n not in answered]
    started = time.monotonic()
    statuses = await asyncio.gather(*(post(b.base, n) for n in unanswered))
    took = time.monotonic() - started
    print(
        f"\n{len(answered)} answered before the kill; "
        f"{len(unanswered)} repeated on b, answered in {took:.2f} s"
    )
    assert set(statuses) == {202}, dict(zip(unanswered, statuses, strict=True))
    assert took < 8 + 3, "within the claim's lease (8 health timeouts) and some"
