"""Wire protocol v1: frame encoding and parsing of client messages."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

CHANNEL_MAX_LENGTH = 256
CHANNEL_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}(:[A-Za-z0-9._@-]{1,200})?")
ID_PATTERN = re.compile(r"[A-Za-z0-9._@-]{1,200}")


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    UNKNOWN_TYPE = "unknown_type"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    INTERNAL_ERROR = "internal_error"


class ProtocolError(Exception):
    def __init__(self, code: ErrorCode, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def dumps(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def text_frame(text: str) -> bytes:
    """An unmasked, uncompressed, final WebSocket text frame (server to client)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def frame(payload: Mapping[str, Any]) -> bytes:
    return text_frame(dumps(payload))


def error_frame(error: ProtocolError) -> bytes:
    return frame({"type": "error", "code": error.code, "message": error.message, "ref": error.ref})


def event_frame(
    channel: str, seq: int, event: str, data: Mapping[str, Any], timestamp: str
) -> bytes:
    return frame(
        {
            "type": "event",
            "channel": channel,
            "seq": seq,
            "event": event,
            "data": data,
            "timestamp": timestamp,
        }
    )


def is_valid_channel(channel: object) -> bool:
    return (
        isinstance(channel, str)
        and len(channel) <= CHANNEL_MAX_LENGTH
        and CHANNEL_PATTERN.fullmatch(channel) is not None
    )


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True)
class ClientMessage:
    type: str
    body: dict[str, Any]

    def channel(self) -> str:
        channel = self.body.get("channel")
        if channel is None:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f"'{self.type}' needs a 'channel'", self.type
            )
        if not is_valid_channel(channel):
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                "'channel' must be a string like 'global', 'system', 'user:42' or "
                f"'business:acme', at most {CHANNEL_MAX_LENGTH} characters",
                self.type,
            )
        assert isinstance(channel, str)
        return channel


def parse_client_message(raw: str) -> ClientMessage:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame is not valid JSON") from None
    if not isinstance(body, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame must be a JSON object")
    kind = body.get("type")
    if kind is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame has no 'type'")
    if not isinstance(kind, str) or not kind:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'type' must be a non-empty string")
    return ClientMessage(type=kind, body=body)
