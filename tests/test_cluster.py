"""Several nodes on one Redis: one seq per channel whichever node publishes, delivery to
every node in order, recovery on any node, and the cluster view. Real processes
(tests/cluster.py), on the shared Redis under a key prefix of each test's own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.cluster import Lab, Node, Publisher, get_json
from tests.recovering_client import RecoveringClient

pytestmark = pytest.mark.redis

CHANNEL = "business:acme"


async def three_nodes(lab: Lab, **flags: str) -> list[Node]:
    url, prefix = await lab.shared_redis()
    return await lab.nodes(3, url, prefix, **flags)


async def publish(
    session: aiohttp.ClientSession, node: Node, n: int, **route: str
) -> dict[str, int]:
    async with session.post(
        node.base + "/api/events", json={"event": "task.started", "data": {"n": n}, **route}
    ) as response:
        assert response.status == 202, await response.text()
        channels: dict[str, int] = (await response.json())["channels"]
        return channels


async def subscribers(lab: Lab, nodes: list[Node], channels: list[str]) -> list[RecoveringClient]:
    started = [
        RecoveringClient(lab.session, node.base, channels, reconnect=False) for node in nodes
    ]
    for client in started:
        await client.start()
    return started


async def test_an_event_published_on_one_node_reaches_the_others_in_order_with_one_seq(
    lab: Lab,
) -> None:
    nodes = await three_nodes(lab)
    watching = await subscribers(lab, nodes, [CHANNEL])
    seqs = []
    for n in range(30):  # each event from the next node in turn
        seqs.append((await publish(lab.session, nodes[n % 3], n, business_id="acme"))[CHANNEL])
    assert seqs == list(range(1, 31)), "one counter per channel, whichever node publishes"
    for node, client in zip(nodes, watching, strict=True):
        await client.wait_for(CHANNEL, 30)
        track = client.tracks[CHANNEL]
        assert track.seqs == list(range(1, 31)), f"on {node.name}: {track.problems}"
        assert track.numbers() == list(range(30))
        assert client.nodes == [node.name]
    epochs = {client.tracks[CHANNEL].epoch for client in watching}
    assert len(epochs) == 1, "every node reports the channel's one epoch"
    pages = [
        await get_json(lab.session, f"{node.base}/api/channels/{CHANNEL}/history?limit=100")
        for node in nodes
    ]
    assert pages[0] == pages[1] == pages[2], "every node reads the same history"
    assert [e["seq"] for e in pages[0]["events"]] == list(range(1, 31))
    for client in watching:
        await client.stop()


async def test_concurrent_publishers_on_every_node_make_one_gap_free_sequence_per_channel(
    lab: Lab,
) -> None:
    nodes = await three_nodes(lab)
    channels = [CHANNEL, "user:u1"]
    watching = await subscribers(lab, nodes, channels)
    per_publisher = 60

    def numbered_from(first: int) -> Callable[[int], dict[str, Any]]:
        return lambda n: {
            "event": "task.started",
            "data": {"n": first + n},
            "business_id": "acme",
            "user_id": "u1",
        }

    publishers = [
        Publisher(lab.session, node.base, numbered_from(1000 * index), pause=0)
        for index, node in enumerate(nodes)
    ]

    async def publish_all(publisher: Publisher) -> None:
        for n in range(per_publisher):
            await publisher.publish_one(n)

    await asyncio.gather(*(publish_all(p) for p in publishers))
    total = 3 * per_publisher
    for channel in channels:
        assigned = sorted(seq for p in publishers for seq in p.seqs(channel))
        assert assigned == list(range(1, total + 1)), f"{channel}: seqs with gaps or twice"
    for publisher in publishers:
        for answer in publisher.acked.values():
            assert answer[CHANNEL] == answer["user:u1"], "both channels take the event at once"
    published = sorted(1000 * i + n for i in range(3) for n in range(per_publisher))
    for node, client in zip(nodes, watching, strict=True):
        for channel in channels:
            await client.wait_for(channel, total)
            track = client.tracks[channel]
            assert track.seqs == list(range(1, total + 1)), f"{node.name}: {track.problems[:5]}"
            assert sorted(track.numbers()) == published
    for client in watching:
        await client.stop()


async def frames_until_subscribed(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] != "subscribed":
        frames.append(await ws.receive_json(timeout=5))
    return frames


async def test_a_client_recovers_on_another_node_exactly_once(lab: Lab) -> None:
    a, b, c = await three_nodes(lab)
    ws = await lab.session.ws_connect(a.base + "/api/monitoring/ws?auto_subscribe=false")
    assert (await ws.receive_json())["node"] == "a"
    await ws.send_json({"type": "subscribe", "channel": CHANNEL})
    (first,) = await frames_until_subscribed(ws)
    for n in range(5):
        await publish(lab.session, c, n, business_id="acme")
    seen = [(await ws.receive_json(timeout=5))["seq"] for _ in range(5)]
    assert seen == [1, 2, 3, 4, 5]
    await ws.close()

    for n in range(5, 12):  # missed while away: seqs 6 to 12, published on c
        await publish(lab.session, c, n, business_id="acme")
    ws = await lab.session.ws_connect(b.base + "/api/monitoring/ws?auto_subscribe=false")
    assert (await ws.receive_json())["node"] == "b"
    since = {"seq": 5, "epoch": first["epoch"]}
    await ws.send_json({"type": "subscribe", "channel": CHANNEL, "since": since})
    frames = await frames_until_subscribed(ws)
    assert [f["seq"] for f in frames[:-1]] == list(range(6, 13))
    assert [f["data"]["n"] for f in frames[:-1]] == list(range(5, 12))
    assert frames[-1] == {
        "type": "subscribed",
        "channel": CHANNEL,
        "seq": 12,
        "epoch": first["epoch"],
        "recovered": True,
    }
    for n in range(12, 15):  # live again, published on a
        await publish(lab.session, a, n, business_id="acme")
    live = [await ws.receive_json(timeout=5) for _ in range(3)]
    assert [f["seq"] for f in live] == [13, 14, 15]
    await ws.send_json({"type": "ping"})
    assert (await ws.receive_json(timeout=5))["type"] == "pong", "and nothing more came"
    await ws.close()


async def test_recovering_on_another_node_while_events_keep_coming_is_exactly_once(
    lab: Lab,
) -> None:
    """The replay is read from Redis, the live events come through the node's pub/sub
    connection: a node that has not yet delivered what the replay already sent must not send
    it again, nor skip anything."""
    url, prefix = await lab.shared_redis()
    a, b = await lab.nodes(2, url, prefix)
    publishers = [
        Publisher(
            lab.session,
            a.base,
            lambda n: {"event": "task.started", "data": {"n": n}, "business_id": "flow"},
            pause=0,
        )
        for _ in range(2)
    ]
    for publisher in publishers:
        publisher.start()
    problems: list[str] = []
    subscribes = 0

    async def recover_once() -> None:
        nonlocal subscribes
        page = await get_json(lab.session, f"{a.base}/api/channels/business:flow/history?limit=1")
        since = max(0, page["seq"] - 3)
        async with lab.session.ws_connect(b.base + "/api/monitoring/ws?auto_subscribe=false") as ws:
            await ws.receive_json(timeout=5)
            await ws.send_json(
                {
                    "type": "subscribe",
                    "channel": "business:flow",
                    "since": {"seq": since, "epoch": page["epoch"]},
                }
            )
            last, events = since, 0
            while events < 20:
                frame = await ws.receive_json(timeout=5)
                if frame["type"] == "subscribed":
                    assert frame["recovered"] is True, frame
                    if frame["seq"] != last:
                        problems.append(f"replayed up to {last}, subscribed says {frame['seq']}")
                elif frame["type"] == "event" and frame["channel"] == "business:flow":
                    if frame["seq"] != last + 1:
                        problems.append(f"seq {frame['seq']} after {last}")
                    last, events = frame["seq"], events + 1
            subscribes += 1

    try:
        await asyncio.sleep(0.3)
        for _ in range(5):
            await asyncio.gather(*(recover_once() for _ in range(20)))
    finally:
        for publisher in publishers:
            await publisher.stop()
    assert subscribes == 100
    assert not problems, f"{len(problems)} of {subscribes} recoveries went wrong: {problems[:5]}"


async def test_the_cluster_view_lists_every_node_and_shows_a_dead_one_lapsed(lab: Lab) -> None:
    beat = 0.5
    a, b, c = await three_nodes(lab, cluster_heartbeat=str(beat), collector_interval="0.5")
    sockets = [
        await lab.session.ws_connect(f"{node.base}/api/monitoring/ws?user_id=u1")
        for node in (a, a, b)
    ]
    for ws in sockets:
        assert (await ws.receive_json(timeout=5))["type"] == "connected"

    async def view(node: Node) -> dict[str, dict[str, Any]]:
        body = await get_json(lab.session, node.base + "/api/monitoring/nodes")
        return {entry["node"]: entry for entry in body["nodes"]}

    deadline = time.monotonic() + 15
    while True:
        seen = await view(c)
        complete = all(entry.get("sample") for entry in seen.values())
        counted = {name: entry["connections"] for name, entry in seen.items()}
        if len(seen) == 3 and complete and counted == {"a": 2, "b": 1, "c": 0}:
            break
        assert time.monotonic() < deadline, f"the cluster view never filled in: {seen}"
        await asyncio.sleep(0.1)
    for name, entry in seen.items():
        assert entry["state"] == "up"
        assert entry["sample"]["node"] == name, "each node's own sample"
        assert entry["address"] == f"127.0.0.1:{ {'a': a, 'b': b, 'c': c}[name].port }"
    totals = await get_json(lab.session, c.base + "/api/monitoring/connections")
    assert totals["total_connections"] == 3
    assert totals["nodes"] == {"a": 2, "b": 1, "c": 0}
    assert totals["channels"] == {"user:u1": 3, "global": 3}

    await b.kill()
    killed = time.monotonic()
    while (await view(a))["b"]["state"] == "up":
        assert time.monotonic() - killed < 3 * beat + 3, "b never lapsed"
        await asyncio.sleep(0.05)
    lapsed_after = time.monotonic() - killed
    # Its last heartbeat was at most one interval before the kill.
    assert lapsed_after >= 2 * beat - 0.2, f"lapsed after {lapsed_after:.2f} s, too soon"
    print(f"\nb lapsed {lapsed_after:.2f} s after SIGKILL (heartbeat {beat:g} s)")
    totals = await get_json(lab.session, a.base + "/api/monitoring/connections")
    assert totals["nodes"] == {"a": 2, "c": 0}, "only nodes that are up are counted"
    assert totals["total_connections"] == 2
    assert totals["channels"] == {"user:u1": 2, "global": 2}
    assert set(await view(a)) == {"a", "b", "c"}, "a lapsed node is still listed, as lapsed"
    for ws in sockets:
        await ws.close()
