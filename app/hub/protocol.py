"""Wire protocol v1 (docs/protocol.md): frame encoding and parsing of client messages.

The hub owns the wire frame. Brokers only carry an event's encoded payload, the JSON object
`{"event", "data", "timestamp"}`, and its seq; `event_frame` splices the two into the frame
a subscriber gets, so an event is JSON-encoded once however many nodes and sockets it reaches.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring  # a JSON string, as ENCODER writes one
from typing import Any

from livewatch_client.codes import ErrorCode

from app.channels import CHANNEL_RULE, is_valid_channel
from app.hub.broker import Position

EPOCH_MAX_LENGTH = 64


class ProtocolError(Exception):
    def __init__(self, code: ErrorCode, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


MAX_DEPTH = 64  # nesting of objects and arrays in published data and client frames


class Unencodable(ValueError):
    """A value that parsed but cannot be sent on as JSON; the message says where and why."""


def check_encodable(value: Any, where: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse what the wire cannot carry: lone surrogates (no UTF-8 for them), NaN and
    infinities (not JSON), and nesting deeper than max_depth (a recursion bomb for every
    client that parses it). Iterative, so a deep value cannot exhaust the stack here."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, bool) or item is None or isinstance(item, int):
            continue
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise Unencodable(f"{path} is {item}, which JSON cannot carry")
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise Unencodable(f"{where} is nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise Unencodable(f"{path} has a key that is not a string")
                    _check_text(key, f"{path} (a key)")
                    stack.append((child, f"{path}.{key}", depth + 1))
            else:
                stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
        else:
            raise Unencodable(f"{path} is a {type(item).__name__}, which is not JSON")


def _check_text(text: str, path: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:
        raise Unencodable(f"{path} contains a lone surrogate, which UTF-8 cannot carry") from None


def refuse_constant(name: str) -> Any:
    """json.loads takes NaN and Infinity by default; livewatch refuses them."""
    raise ValueError(f"{name} is not JSON")


# One encoder: json.dumps with anything but its default arguments builds a new one per call.
ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(payload: Mapping[str, Any]) -> str:
    return ENCODER.encode(payload)


def websocket_header(size: int) -> bytes:
    """The header of an unmasked, uncompressed, final text frame (server to client)."""
    if size < 126:
        return struct.pack("!BB", 0x81, size)
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size)
    return struct.pack("!BBQ", 0x81, 127, size)


def text_frame(text: str) -> bytes:
    payload = text.encode()
    return websocket_header(len(payload)) + payload


def frame(payload: Mapping[str, Any]) -> bytes:
    return text_frame(dumps(payload))


def error_frame(error: ProtocolError) -> bytes:
    return frame({"type": "error", "code": error.code, "message": error.message, "ref": error.ref})


def event_payload(event: str, data: Mapping[str, Any], timestamp: str) -> bytes:
    """What a broker carries for one event: encoded once, before it is published, so data
    that cannot be sent never gets a seq (Unencodable says why)."""
    check_encodable(data, "data")
    return dumps({"event": event, "data": data, "timestamp": timestamp}).encode()


def event_frame(channel: str, seq: int, payload: bytes) -> bytes:
    """The `event` frame for one payload at one seq: the payload's fields follow
    `type`, `channel` and `seq`, so only the short head is encoded per channel."""
    head = f'{{"type":"event","channel":{encode_basestring(channel)},"seq":{seq},'.encode()
    body = head + payload[1:]
    return websocket_header(len(body)) + body


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
                ErrorCode.BAD_REQUEST, f"'channel' must be {CHANNEL_RULE}", self.type
            )
        assert isinstance(channel, str)
        return channel

    def since(self) -> Position | None:
        """The recovery position of a subscribe: `{"seq": n >= 0, "epoch": "..."}`."""
        since = self.body.get("since")
        if since is None:
            return None
        if not isinstance(since, dict) or set(since) != {"seq", "epoch"}:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                '\'since\' must be an object {"seq": <last seq seen>, "epoch": <its epoch>}',
                self.type,
            )
        seq, epoch = since["seq"], since["epoch"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, "'since.seq' must be an integer >= 0", self.type
            )
        if not isinstance(epoch, str) or not 0 < len(epoch) <= EPOCH_MAX_LENGTH:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                f"'since.epoch' must be the epoch string from 'subscribed' "
                f"(1-{EPOCH_MAX_LENGTH} characters)",
                self.type,
            )
        return Position(seq, epoch)


def parse_client_message(raw: str) -> ClientMessage:
    try:
        body = json.loads(raw, parse_constant=refuse_constant)
    except (ValueError, RecursionError) as exc:
        reason = f": {exc}" if "is not JSON" in str(exc) else ""
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"frame is not valid JSON{reason}") from None
    if not isinstance(body, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame must be a JSON object")
    try:
        check_encodable(body, "frame")
    except Unencodable as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, str(exc)) from None
    kind = body.get("type")
    if kind is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame has no 'type'")
    if not isinstance(kind, str) or not kind:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'type' must be a non-empty string")
    return ClientMessage(type=kind, body=body)
