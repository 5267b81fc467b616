"""The codes of livewatch wire protocol v1 (docs/protocol.md in the livewatch repository):
error frames, close codes, and why a recovery failed. The livewatch server takes its error
codes and recovery reasons from here too, so the two cannot drift apart."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ErrorCode(StrEnum):
    """The `code` of an `error` frame."""

    BAD_REQUEST = "bad_request"
    UNKNOWN_TYPE = "unknown_type"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    INTERNAL_ERROR = "internal_error"
    UNAVAILABLE = "unavailable"  # the server's broker cannot be reached; try again shortly


# HTTP headers of an idempotent publish (docs/protocol.md): the key the publisher sends,
# and the server's mark on the first answer given again.
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class CloseCode(IntEnum):
    """WebSocket close codes livewatch uses, plus 1000 and 1006 as aiohttp reports them."""

    NORMAL = 1000
    GOING_AWAY = 1001
    ABNORMAL = 1006
    INVALID_TEXT = 1007
    POLICY = 1008
    TOO_BIG = 1009
    TRY_AGAIN_LATER = 1013


CLOSE_MEANINGS: dict[int, str] = {
    CloseCode.NORMAL: "closed normally",
    CloseCode.GOING_AWAY: "the server is shutting down",
    CloseCode.ABNORMAL: "the connection dropped without a close frame",
    CloseCode.INVALID_TEXT: "a frame that was not valid UTF-8",
    CloseCode.POLICY: "policy: token expired, too many connections or rate limit",
    CloseCode.TOO_BIG: "a frame larger than the server's frame limit",
    CloseCode.TRY_AGAIN_LATER: "this client read too slowly",
}


def describe_close(code: int | None) -> str:
    if code is None:
        return "the connection dropped"
    meaning = CLOSE_MEANINGS.get(code)
    return f"close code {code} ({meaning})" if meaning else f"close code {code}"


class Reason(StrEnum):
    """Why missed events could not be recovered (NotRecovered.reason).

    The first three come from the server's `subscribed` frame or from the history
    endpoint; SEQ_GAP is the client's own finding: a channel's seq jumped."""

    EPOCH_CHANGED = "epoch_changed"
    TOO_OLD = "too_old"
    TOO_MANY = "too_many"
    SEQ_GAP = "seq_gap"


def reason_of(raw: object) -> Reason | str:
    """A reason the server sent: the Reason member, or the raw text of one this client
    does not know (a newer server), so it still reaches the user."""
    text = str(raw)
    try:
        return Reason(text)
    except ValueError:
        return text
