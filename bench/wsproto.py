"""The client side of the WebSocket wire, kept small and cheap for thousands of sockets."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from typing import Any

OP_TEXT = 0x1
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


def upgrade_request(host: str, port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A final client frame; clients must mask what they send."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    key = os.urandom(4)
    keystream = (key * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(
        size, "big"
    )
    return header + key + masked


def masked_json(payload: dict[str, Any]) -> bytes:
    return masked_frame(OP_TEXT, json.dumps(payload, separators=(",", ":")).encode())


def split_frames(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Whole server frames at the start of buf, and the bytes left over."""
    frames: list[tuple[int, bytes]] = []
    pos = 0
    end = len(buf)
    while end - pos >= 2:
        size = buf[pos + 1] & 0x7F
        head = 2
        if size == 126:
            if end - pos < 4:
                break
            size = int.from_bytes(buf[pos + 2 : pos + 4], "big")
            head = 4
        elif size == 127:
            if end - pos < 10:
                break
            size = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            head = 10
        stop = pos + head + size
        if stop > end:
            break
        frames.append((buf[pos] & 0x0F, buf[pos + head : stop]))
        pos = stop
    return frames, buf[pos:]


class HandshakeError(Exception):
    pass


def read_upgrade(sock: socket.socket, pending: bytes = b"") -> bytes:
    """Read the 101 answer on a blocking socket; returns the bytes that followed it."""
    buf = pending
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise HandshakeError("server closed during the upgrade")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise HandshakeError(f"upgrade refused: {status.decode(errors='replace')}")
    return rest
