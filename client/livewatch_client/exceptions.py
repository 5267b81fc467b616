"""Every error this package raises derives from LivewatchError."""

from __future__ import annotations

from livewatch_client.codes import Reason
from livewatch_client.events import Position


class LivewatchError(Exception):
    """Base of the errors of livewatch_client."""


class NotRecovered(LivewatchError):
    """Events of a channel were missed and could not be replayed.

    Raised by a subscription's iterator at the point of the gap. The subscription goes
    on: iterate it again and it yields the events after `position`. What the channel's
    events built up before the gap is stale; fetch it again (from the history endpoint or
    the application). `reason` is a `Reason` (or the text of one this client does not know).
    """

    def __init__(self, channel: str, reason: Reason | str, position: Position) -> None:
        super().__init__(
            f"{channel}: missed events could not be recovered ({reason}); "
            f"continuing after seq {position.seq} of epoch {position.epoch}"
        )
        self.channel = channel
        self.reason = reason
        self.position = position


class RequestError(LivewatchError):
    """The server refused a request with a 4xx status; `error` and `field` are its JSON
    answer's (`field` names the offending input, when the server says)."""

    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        where = f" [field {field}]" if field else ""
        super().__init__(f"HTTP {status}: {error}{where}")
        self.status = status
        self.error = error
        self.field = field


class HandshakeError(RequestError):
    """The server refused the WebSocket (a bad token, a bad id, an Origin it does not
    allow). Retrying cannot help, so every subscription of the client raises it."""


class SubscriptionError(LivewatchError):
    """The server answered a subscribe with an `error` frame (forbidden, too_large, ...)."""

    def __init__(self, channel: str, code: str, message: str) -> None:
        super().__init__(f"{channel}: {code}: {message}")
        self.channel = channel
        self.code = code
        self.message = message


class Unavailable(LivewatchError):
    """A request failed on every attempt: connection errors, timeouts or 5xx answers.
    The last failure is the exception's __cause__."""

    def __init__(self, what: str, attempts: int, last: str) -> None:
        super().__init__(f"{what} failed after {attempts} attempts; last: {last}")
        self.attempts = attempts


class ClientClosed(LivewatchError):
    """The client was closed while this was waiting on it."""
