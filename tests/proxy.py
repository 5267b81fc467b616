"""A TCP proxy on loopback whose connections a test can cut or stall, for real network faults.

`cut()` resets every connection it carries, both ways, with a TCP RST (SO_LINGER 0): the
peers see a reset, never a close frame. `stall()` keeps the connections open but stops
carrying bytes, as a blackholed route does; `resume()` carries them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

LINGER_RESET = struct.pack("ii", 1, 0)


def reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    writer.transport.abort()


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._carrying = asyncio.Event()  # set while at least one connection is open

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            reset(writer)
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        self._carrying.set()
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink, pair))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if pair in self._pairs:
                self._pairs.discard(pair)
                for side in pair:
                    side.close()
            if not self._pairs:
                self._carrying.clear()

    def cut(self) -> int:
        """Reset every open connection with an RST; how many were cut."""
        pairs = list(self._pairs)
        self._pairs.clear()
        self._carrying.clear()
        for client_side, server_side in pairs:
            reset(client_side)
            reset(server_side)
        self.cuts += len(pairs)
        return len(pairs)

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def carrying(self) -> None:
        """Return once a connection is open through the proxy."""
        await self._carrying.wait()

    @property
    def open_connections(self) -> int:
        return len(self._pairs)

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
