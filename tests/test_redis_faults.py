"""Redis faults with a publisher running: the nodes' connections killed, Redis paused, Redis
restarted empty, and a node's Redis connection wedged. Each test runs a redis-server of its
own and two nodes (a and b) pointed at it, a publisher on one of them that repeats a failed
publish with the same Idempotency-Key, and a subscriber on each node that must stay
connected throughout.

Afterwards every subscriber has either every event exactly once and in order, or, where
Redis lost the history (a restart), an explicit `recovered: false` with `epoch_changed`
before the events carry on: never a silent jump. The health of each node is polled every
0.1 s; where the outage lasts long enough to be seen, /readyz must answer 503 and the redis
check read unhealthy during it, and both recover by themselves. The time they took is
printed (run with -s to see it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from tests.cluster import (
    HealthLog,
    Lab,
    Node,
    Publisher,
    RedisServer,
    command,
    get_json,
    new_prefix,
)
from tests.proxy import TcpProxy
from tests.recovering_client import RecoveringClient

pytestmark = pytest.mark.redis

CHANNEL = "business:faults"
PROBE = 1.0  # --broker-probe-interval of the nodes (tests/cluster.py FAST)
TIMEOUT = 1.0  # --health-timeout


@dataclass
class Rig:
    lab: Lab
    redis: RedisServer
    nodes: list[Node]
    watchers: list[RecoveringClient]
    publisher: Publisher
    health: list[HealthLog]
    proxy: TcpProxy | None = None

    async def close(self) -> None:
        """Whatever is still running, however the test ended."""
        if self.publisher.task is not None and not self.publisher.task.done():
            self.publisher.task.cancel()
            with contextlib.suppress(BaseException):
                await self.publisher.task
        for watcher in self.watchers:
            with contextlib.suppress(Exception):
                await watcher.stop()
        for log in self.health:
            await log.stop()
        if self.proxy is not None:
            await self.proxy.close()

    async def finish(self) -> None:
        """Stop publishing; wait until every subscriber is where the channel is."""
        await self.publisher.stop()
        deadline = time.monotonic() + 30
        while True:
            page = await get_json(
                self.lab.session, f"{self.nodes[0].base}/api/channels/{CHANNEL}/history?limit=1"
            )
            behind = [
                w
                for w in self.watchers
                if (w.tracks[CHANNEL].seq, w.tracks[CHANNEL].epoch) != (page["seq"], page["epoch"])
            ]
            if not behind:
                break
            assert time.monotonic() < deadline, (
                f"subscribers never caught up with {page['seq']} in {page['epoch']}: "
                + "; ".join(
                    f"{w.nodes}: at {w.tracks[CHANNEL].seq} in {w.tracks[CHANNEL].epoch}, "
                    f"problems {w.tracks[CHANNEL].problems[:3]}"
                    for w in behind
                )
                + "\n"
                + self.lab.logs()
            )
            await asyncio.sleep(0.05)
        for log in self.health:
            await log.stop()

    def assert_stayed_connected(self) -> None:
        for watcher in self.watchers:
            assert watcher.connected and len(watcher.nodes) == 1, (
                f"a subscriber on {watcher.nodes[0]} lost its connection: {watcher.closes}"
            )

    def assert_nothing_lost(self) -> None:
        """Every seq exactly once and in order, no notice, every acknowledged event seen."""
        last = max(seq for seq in self.publisher.seqs(CHANNEL))
        for watcher in self.watchers:
            track = watcher.tracks[CHANNEL]
            where = f"on {watcher.nodes[0]}"
            assert not track.problems, f"{where}: {track.problems[:5]}"
            assert not track.notices, f"{where}: told events were lost: {track.notices}"
            assert track.seqs == list(range(1, last + 1)), where
            assert set(track.numbers()) >= set(self.publisher.acked), f"{where}: events missing"

    def assert_outage_answers(self, start: float, end: float) -> None:
        """Publishing answered 503 JSON whenever it failed, and never 202 during the outage."""
        for answer in self.publisher.answers:
            if answer.status == 202:
                assert not (start <= answer.sent and answer.answered <= end), (
                    f"202 during the outage: sent +{answer.sent - start:.2f}s, "
                    f"answered +{answer.answered - start:.2f}s"
                )
            else:
                assert answer.status == 503, f"a failed publish answered {answer.status}"
                assert answer.content_type == "application/json" and "error" in answer.body

    def duplicates(self) -> int:
        """Events (by the publisher's number) delivered more than once, under distinct seqs."""
        counts = Counter(self.watchers[0].tracks[CHANNEL].numbers())
        return sum(1 for count in counts.values() if count > 1)

    def report(self, fault: str, start: float, end: float) -> None:
        lines = [f"\n{fault}: publishes {self.publisher.statuses()}"]
        for log in self.health:
            down = log.first(start, healthy=False)
            up = log.first(end, healthy=True)
            seen = f"unhealthy +{down - start:.2f}s" if down is not None else "never unhealthy"
            back = f"healthy again {up - end:.2f}s after the fault ended" if up else "not back"
            lines.append(f"  {log.node.name}: {seen}; {back}; {log.summary(start)}")
        for watcher in self.watchers:
            arrived = watcher.tracks[CHANNEL].first_after(end)
            lines.append(
                f"  subscriber on {watcher.nodes[0]}: first event after the fault ended "
                + (f"+{arrived - end:.2f}s" if arrived is not None else "never")
            )
        lines.append(f"  events delivered twice under new seqs: {self.duplicates()}")
        print("\n".join(lines))


async def rig(lab: Lab, proxy_a: bool = False) -> Rig:
    """Redis, nodes a and b (a through a TcpProxy if asked), a subscriber on each,
    health polling, and a publisher, already flowing: on a, or on b when a is proxied."""
    redis = await lab.redis_server()
    prefix = new_prefix()
    proxy = None
    nodes = []
    if proxy_a:
        proxy = TcpProxy(redis.port)
        await proxy.start()
        nodes += await lab.nodes(1, f"redis://127.0.0.1:{proxy.port}/0", prefix)
    nodes += await lab.nodes(2 - len(nodes), redis.url, prefix)
    watchers = [RecoveringClient(lab.session, n.base, [CHANNEL], reconnect=False) for n in nodes]
    for watcher in watchers:
        await watcher.start()
    health = [HealthLog(lab.session, node) for node in nodes]
    for log in health:
        log.start()
    publisher = Publisher(
        lab.session,
        nodes[1 if proxy_a else 0].base,
        lambda n: {"event": "task.started", "data": {"n": n}, "business_id": "faults"},
    )
    publisher.start()
    setup = Rig(lab, redis, nodes, watchers, publisher, health, proxy)
    lab.cleanups.append(setup.close)
    for watcher in watchers:
        await watcher.wait_for(CHANNEL, 20)
    return setup


@pytest.mark.parametrize("kind", ["pubsub", "normal"])
async def test_killing_the_nodes_redis_connections_loses_nothing(lab: Lab, kind: str) -> None:
    setup = await rig(lab)
    admin = setup.redis.client()
    start = time.monotonic()
    killed = 0
    for _ in range(5):
        killed += await command(admin, "CLIENT", "KILL", "TYPE", kind)
        await asyncio.sleep(0.4)
    end = time.monotonic()
    await admin.aclose()
    await asyncio.sleep(1)
    await setup.finish()
    setup.report(f"CLIENT KILL TYPE {kind} x5 ({killed} connections)", start, end)
    assert killed >= 5
    setup.assert_stayed_connected()
    setup.assert_nothing_lost()
    setup.assert_outage_answers(start, start)
    for log in setup.health:  # too short to be sure to be seen, but over by itself
        await log.wait(end, healthy=True, within=10)


@pytest.mark.parametrize("how", ["CLIENT PAUSE ALL", "DEBUG SLEEP"])
async def test_redis_paused_loses_nothing_and_is_seen_by_the_health_checks(
    lab: Lab, how: str
) -> None:
    setup = await rig(lab)
    admin = setup.redis.client(timeout=10)
    pause = 3.0
    start = time.monotonic()
    if how == "CLIENT PAUSE ALL":
        await command(admin, "CLIENT", "PAUSE", str(int(pause * 1000)), "ALL")
        paused = time.monotonic()
        await asyncio.sleep(pause - (paused - start))
    else:
        await command(admin, "DEBUG", "SLEEP", str(pause))  # answers when it wakes
        paused = start + 0.1
    end = time.monotonic()
    await admin.aclose()
    for log in setup.health:
        await log.wait(end, healthy=True, within=15)
    await asyncio.sleep(1)
    await setup.finish()
    setup.report(f"{how} {pause:g} s", start, end)
    for log in setup.health:
        assert log.first(start, healthy=False) is not None, (
            f"{log.node.name} never read unhealthy: {log.summary(start)}"
        )
    setup.assert_stayed_connected()
    setup.assert_nothing_lost()
    setup.assert_outage_answers(paused, start + pause - 0.1)


async def test_a_catch_up_that_fails_while_pub_sub_stays_up_is_tried_again(lab: Lab) -> None:
    """Writes paused (reads and SUBSCRIBE still work) just as the nodes' pub/sub connections
    are dropped: they reconnect at once, but reading the missed events times out. They
    must read them again, not wait for another reconnect that does not come."""
    setup = await rig(lab)
    admin = setup.redis.client()
    start = time.monotonic()
    await command(admin, "CLIENT", "PAUSE", "2500", "WRITE")
    paused = time.monotonic()
    await command(admin, "CLIENT", "KILL", "TYPE", "pubsub")
    await asyncio.sleep(2.5 - (time.monotonic() - start))
    end = time.monotonic()
    await admin.aclose()
    await asyncio.sleep(1)
    await setup.finish()
    setup.report("CLIENT PAUSE WRITE 2.5 s with pub/sub killed", start, end)
    setup.assert_stayed_connected()
    setup.assert_nothing_lost()
    setup.assert_outage_answers(paused, start + 2.4)


async def test_a_redis_restart_tells_subscribers_their_channel_was_not_recovered(
    lab: Lab,
) -> None:
    setup = await rig(lab)
    start = time.monotonic()
    await setup.redis.kill()
    await asyncio.sleep(1.5)  # down long enough to be seen
    end = await setup.redis.restart()
    for log in setup.health:
        await log.wait(end, healthy=True, within=15)
    await asyncio.sleep(1)
    await setup.finish()
    setup.report("redis-server kill -9, 1.5 s down, started again empty", start, end)
    for log in setup.health:
        assert log.first(start, healthy=False) is not None, (
            f"{log.node.name} never read unhealthy: {log.summary(start)}"
        )
    setup.assert_stayed_connected()
    setup.assert_outage_answers(start, end)
    page = await get_json(
        lab.session, f"{setup.nodes[0].base}/api/channels/{CHANNEL}/history?limit=1"
    )
    for watcher in setup.watchers:
        track = watcher.tracks[CHANNEL]
        where = f"on {watcher.nodes[0]}"
        assert not track.problems, f"{where}: a silent jump: {track.problems[:5]}"
        assert [(n["recovered"], n["reason"]) for n in track.notices] == [
            (False, "epoch_changed")
        ], f"{where}: {track.notices}"
        notice = track.notices[0]
        assert notice["epoch"] == page["epoch"] != track.events[0][0], "a new epoch"
        after = [(seq, data["n"]) for epoch, seq, data in track.events if epoch == page["epoch"]]
        assert [seq for seq, _ in after] == list(range(notice["seq"] + 1, page["seq"] + 1))
        # Everything published once Redis was back and after the notice's position arrived.
        owed = {
            n
            for n, channels in setup.publisher.acked.items()
            if setup.publisher.acked_at[n] >= end and channels[CHANNEL] > notice["seq"]
        }
        assert owed <= {n for _, n in after}, (
            f"{where}: missing {sorted(owed - {n for _, n in after})}"
        )


@pytest.mark.parametrize("then", ["resume", "cut"])
async def test_a_wedged_redis_connection_is_noticed_and_recovered_from(lab: Lab, then: str) -> None:
    """Node a reaches Redis through a proxy that stops carrying bytes, as a blackholed route
    does; node b, connected directly, keeps publishing. a must notice within the probe
    interval and timeout, say so, and catch up after the route comes back (resumed, or
    its connections reset first)."""
    setup = await rig(lab, proxy_a=True)
    assert setup.proxy is not None
    a, b = setup.health
    setup.proxy.stall()
    start = time.monotonic()
    noticed = await a.wait(start, healthy=False, within=PROBE + 2 * TIMEOUT + 3)
    await asyncio.sleep(1)
    assert b.first(start, healthy=False) is None, f"b was hurt: {b.summary(start)}"
    if then == "cut":
        setup.proxy.cut()
    setup.proxy.resume()
    end = time.monotonic()
    await a.wait(end, healthy=True, within=15)
    await asyncio.sleep(1)
    await setup.finish()
    setup.report(f"a's Redis connection stalled, then {then}", start, end)
    print(f"  a noticed the stall after {noticed - start:.2f} s")
    assert noticed - start <= PROBE + TIMEOUT + 1.0, "noticed within probe + timeout"
    setup.assert_stayed_connected()
    setup.assert_nothing_lost()
