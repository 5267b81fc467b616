"""A bare WebSocket client over a plain socket, for a peer that stops reading.

aiohttp's client reads on its own, so it cannot play a stalled peer; this one reads
only when told to, and its receive buffer can be made tiny.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

from bench import wsproto


class RawWebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls, host: str, port: int, path: str, recv_buffer: int = 4096
    ) -> RawWebSocket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
        writer.write(wsproto.upgrade_request(host, port, path))
        status = await reader.readline()
        assert b" 101 " in status, status
        while (await reader.readline()) != b"\r\n":
            pass
        return cls(reader, writer)

    async def read_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame from the server (servers never mask)."""
        first, second = await self.reader.readexactly(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(size)

    async def send_frame(self, opcode: int, payload: bytes) -> None:
        """One final, masked frame (clients must mask), whatever its payload."""
        self.writer.write(wsproto.masked_frame(opcode, payload))
        await self.writer.drain()

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send_frame(0x1, json.dumps(payload).encode())

    def close(self) -> None:
        self.writer.close()
