"""A bare WebSocket client over a plain socket, for a peer that stops reading.

aiohttp's client reads on its own, so it cannot play a stalled peer; this one reads
only when told to, and its receive buffer can be made tiny.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any


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
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
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

    async def send_json(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        assert len(data) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.writer.write(bytes([0x81, 0x80 | len(data)]) + mask + masked)
        await self.writer.drain()

    def close(self) -> None:
        self.writer.close()
