"""A TCP proxy on loopback in front of a server, whose connections a test can break the way
networks break them.

- `cut()` resets every connection it carries, both ways, with a TCP RST (SO_LINGER 0):
  the peers see a reset, never a close frame.
- `stall()` keeps the connections open but stops carrying bytes, as a blackholed route
  does; `resume()` carries them again.
- `hold()` accepts new connections but does not connect them on until `release()`, so a
  reconnecting client waits in its handshake.
- `refuse()` stops accepting at all.
- `lose_answers = n`: the next n connections are reset the moment the server answers,
  after the request has reached it (a lost answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

LINGER_RESET = struct.pack("ii", 1, 0)
Pair = tuple[asyncio.StreamWriter, asyncio.StreamWriter]


def reset(writer: asyncio.StreamWriter) -> None:
    """Drop a TCP connection with a RST, as a dead NAT entry or a crashed peer does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    writer.transport.abort()


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cuts = 0  # connections reset by cut()
        self.accepted = 0
        self.opened = 0  # connections carried on to the server
        self.lose_answers = 0
        self.answers_lost = 0
        self._server: asyncio.Server | None = None
        self._pairs: set[Pair] = set()
        self._waiting: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._admitting = asyncio.Event()
        self._admitting.set()
        self._carrying = asyncio.Event()  # set while at least one connection is open

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        self._waiting.add(writer)
        try:
            await self._admitting.wait()
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                reset(writer)
                return
            self.opened += 1
            pair = (writer, up_writer)
            self._pairs.add(pair)
            self._carrying.set()
            lose = self.lose_answers > 0
            if lose:
                self.lose_answers -= 1
            await asyncio.gather(
                self._pipe(reader, up_writer, None),
                self._pipe(up_reader, writer, pair if lose else None),
            )
        except asyncio.CancelledError:
            pass
        finally:
            self._waiting.discard(writer)
            self._tasks.discard(task)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, lose: Pair | None
    ) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                if lose is not None:
                    self.answers_lost += 1
                    self._drop(lose)
                    return
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for pair in [p for p in self._pairs if sink in p]:
                self._drop(pair, resetting=False)

    def _drop(self, pair: Pair, resetting: bool = True) -> None:
        if pair in self._pairs:
            self._pairs.discard(pair)
            for side in pair:
                if resetting:
                    reset(side)
                else:
                    side.transport.abort()
        if not self._pairs:
            self._carrying.clear()

    def cut(self) -> int:
        """Reset every open connection with an RST; how many were cut."""
        pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair)
        for writer in list(self._waiting):
            if not any(writer in pair for pair in pairs):
                reset(writer)
        self.cuts += len(pairs)
        return len(pairs)

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def hold(self) -> None:
        self._admitting.clear()

    def release(self) -> None:
        self._admitting.set()

    async def refuse(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def carrying(self) -> None:
        """Return once a connection is open through the proxy."""
        await self._carrying.wait()

    @property
    def open_connections(self) -> int:
        return len(self._pairs)

    async def close(self) -> None:
        self.resume()
        self.release()
        await self.refuse()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
