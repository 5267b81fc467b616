"""A small recovering WebSocket client, for the cluster tests: what an application's client
should do, and a record of everything the server sent it.

It connects with `auto_subscribe=false`, subscribes to its channels and, after any
disconnect, connects again (through a balancer that is whichever node is up) and subscribes
with `since`: the seq of the last event it handled and the channel's epoch. On
`subscribed {recovered: false}` (an answer or an unsolicited notice) it takes the position
given as its new starting point, as a client that refetches its state would.

It never drops a duplicate or puts events in order: every event frame is recorded as it
came, and `Track.problems` lists each frame whose seq was not the one expected, so a test
sees exactly what the server sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

RECONNECT_PAUSE = 0.1


@dataclass
class Track:
    """One channel as the client saw it."""

    channel: str
    epoch: str | None = None
    seq: int = 0  # the last event handled, or the position a `subscribed` frame gave
    events: list[tuple[str | None, int, dict[str, Any]]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # monotonic, one per event
    notices: list[dict[str, Any]] = field(default_factory=list)  # recovered: false
    recoveries: list[dict[str, Any]] = field(default_factory=list)  # recovered: true
    problems: list[str] = field(default_factory=list)

    def since(self) -> dict[str, Any] | None:
        return None if self.epoch is None else {"seq": self.seq, "epoch": self.epoch}

    def on_event(self, frame: dict[str, Any]) -> None:
        seq = frame["seq"]
        if seq != self.seq + 1:
            what = "a duplicate or out of order" if seq <= self.seq else "a gap"
            self.problems.append(f"{self.channel}: seq {seq} after {self.seq} ({what})")
        self.seq = seq
        self.events.append((self.epoch, seq, frame["data"]))
        self.arrivals.append(time.monotonic())

    def on_subscribed(self, frame: dict[str, Any]) -> None:
        recovered = frame.get("recovered")
        if recovered is True:
            self.recoveries.append(frame)
            if (frame["seq"], frame["epoch"]) != (self.seq, self.epoch):
                self.problems.append(
                    f"{self.channel}: recovered up to {self.seq} in {self.epoch}, but the "
                    f"channel is at {frame['seq']} in {frame['epoch']}"
                )
            return
        if recovered is False:
            self.notices.append(frame)
        self.seq, self.epoch = frame["seq"], frame["epoch"]

    @property
    def seqs(self) -> list[int]:
        return [seq for _, seq, _ in self.events]

    def first_after(self, moment: float) -> float | None:
        """When the first event after `moment` arrived."""
        return next((at for at in self.arrivals if at >= moment), None)

    def numbers(self) -> list[int]:
        """The `n` each event carried in its data, in arrival order."""
        return [data["n"] for _, _, data in self.events]


@dataclass
class RecoveringClient:
    session: aiohttp.ClientSession
    base: str
    channels: list[str]
    reconnect: bool = True
    tracks: dict[str, Track] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)  # the node of each connection, in order
    closes: list[str] = field(default_factory=list)  # why each connection ended
    errors: list[dict[str, Any]] = field(default_factory=list)
    live: asyncio.Event = field(default_factory=asyncio.Event)
    ws: aiohttp.ClientWebSocketResponse | None = None
    task: asyncio.Task[None] | None = None
    stopping: bool = False

    def __post_init__(self) -> None:
        self.tracks = {channel: Track(channel) for channel in self.channels}

    async def start(self, within: float = 10.0) -> None:
        """Connect and return once every channel is subscribed."""
        self.task = asyncio.create_task(self._run())
        await self.wait_live(within)

    async def wait_live(self, within: float = 10.0) -> None:
        try:
            async with asyncio.timeout(within):
                await self.live.wait()
        except TimeoutError:
            raise AssertionError(
                f"not subscribed within {within:g} s: closes {self.closes}, errors {self.errors}"
            ) from None

    async def stop(self) -> None:
        self.stopping = True
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            async with asyncio.timeout(10):
                await self.task

    async def drop(self) -> None:
        """Close the connection as a client that goes away would; it comes back on its own."""
        if self.ws is not None:
            await self.ws.close()

    async def _run(self) -> None:
        while not self.stopping:
            try:
                await self._connection()
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                self.closes.append(f"{type(exc).__name__}: {exc}")
            self.live.clear()
            if not self.reconnect:
                return
            await asyncio.sleep(RECONNECT_PAUSE)

    async def _connection(self) -> None:
        url = self.base + "/api/monitoring/ws?auto_subscribe=false"
        async with self.session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
            self.ws = ws
            hello = await ws.receive_json(timeout=10)
            assert hello["type"] == "connected", hello
            self.nodes.append(hello["node"])
            waiting = set(self.channels)
            for channel, held in self.tracks.items():
                message: dict[str, Any] = {"type": "subscribe", "channel": channel}
                since = held.since()
                if since is not None:
                    message["since"] = since
                await ws.send_json(message)
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                frame = json.loads(msg.data)
                kind = frame["type"]
                track = self.tracks.get(frame.get("channel", ""))
                if kind == "event" and track is not None:
                    track.on_event(frame)
                elif kind == "subscribed" and track is not None:
                    track.on_subscribed(frame)
                    waiting.discard(track.channel)
                    if not waiting:
                        self.live.set()
                elif kind == "error":
                    self.errors.append(frame)
                    if frame["code"] == "unavailable":
                        break  # the node cannot subscribe now: start again, elsewhere perhaps
            self.closes.append(f"closed {ws.close_code}")

    async def wait_for(self, channel: str, seq: int, within: float = 15.0) -> None:
        """Wait until the channel's last event handled is at least `seq`."""
        track = self.tracks[channel]
        deadline = time.monotonic() + within
        while track.seq < seq:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{channel} reached {track.seq}, not {seq}, within {within:g} s; "
                    f"problems {track.problems[:5]}, notices {track.notices}, "
                    f"closes {self.closes}"
                )
            await asyncio.sleep(0.02)

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed
