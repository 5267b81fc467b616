"""livewatch_client: subscribe to livewatch channels and publish events.

Events come in seq order, each exactly once, across reconnects; what cannot be recovered
is raised as NotRecovered, never skipped silently. See README.md.
"""

from livewatch_client.backoff import Backoff
from livewatch_client.client import Client
from livewatch_client.codes import CloseCode, ErrorCode, Reason
from livewatch_client.events import Event, History, Position, Published
from livewatch_client.exceptions import (
    ClientClosed,
    HandshakeError,
    LivewatchError,
    NotRecovered,
    RequestError,
    SubscriptionError,
    Unavailable,
)
from livewatch_client.subscription import Subscription

__version__ = "0.1.0"

__all__ = [
    "Backoff",
    "Client",
    "ClientClosed",
    "CloseCode",
    "ErrorCode",
    "Event",
    "HandshakeError",
    "History",
    "LivewatchError",
    "NotRecovered",
    "Position",
    "Published",
    "Reason",
    "RequestError",
    "Subscription",
    "SubscriptionError",
    "Unavailable",
    "__version__",
]
