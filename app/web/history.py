"""GET /api/channels/{channel}/history: a channel's recent events, for a client starting cold.

Read under the same permissions as subscribing. With `since`, the events after that seq;
without, the latest `limit`. `complete` says whether the answer holds every event from there
up to the channel's position (`seq`, `epoch`), which is then what to subscribe from to go on
without a gap; otherwise events left the history, or `limit` cut the answer short.
"""

from __future__ import annotations

import json

from aiohttp import web

from app.auth.permissions import may_read
from app.channels import CHANNEL_RULE, is_valid_channel
from app.hub.broker import BrokerUnavailable
from app.web import keys
from app.web.errors import json_error
from app.web.identity import authenticate
from app.web.query import int_query

DEFAULT_LIMIT = 50
MAX_LIMIT = 100_000


async def channel_history(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    channel = request.match_info["channel"]
    if not is_valid_channel(channel):
        raise json_error(400, f"the channel must be {CHANNEL_RULE}", "channel")
    identity = authenticate(request, settings)
    if not may_read(identity, channel, settings.open_mode):
        raise json_error(403, f"not allowed to read '{channel}'", "channel")
    since = int_query(request, "since", None, 0, 2**62)
    # More than the history holds cannot be answered; asking for it is not an error.
    wanted = int_query(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    limit = min(wanted, settings.history_size)
    try:
        page = await request.app[keys.HUB].read(channel, since, limit)
    except BrokerUnavailable as exc:
        raise json_error(503, f"the history cannot be read now: {exc}") from None
    top = page.position.seq
    start = since if since is not None else max(0, top - limit)
    wanted = max(0, top - start)
    first = page.events[0][0] if page.events else None
    complete = len(page.events) == wanted and (wanted == 0 or first == start + 1)
    events = [
        {"channel": channel, "seq": seq, **json.loads(payload)} for seq, payload in page.events
    ]
    return web.json_response(
        {
            "channel": channel,
            "seq": top,
            "epoch": page.position.epoch,
            "events": events,
            "complete": complete,
        }
    )
