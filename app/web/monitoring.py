"""The monitoring JSON API under /api/monitoring/."""

from __future__ import annotations

from collections import Counter

from aiohttp import web

from app.auth.permissions import may_read
from app.hub.broker import BrokerUnavailable
from app.monitor.alert_record import AlertState
from app.web import keys
from app.web.errors import json_error
from app.web.identity import require_reader
from app.web.query import int_query

MAX_ALERTS_LIMIT = 1000
STATES = tuple(state.value for state in AlertState)


async def health(request: web.Request) -> web.Response:
    require_reader(request)
    report = await request.app[keys.HEALTH_WATCH].check()
    status = 503 if report.status == "unhealthy" else 200
    return web.json_response(report.as_dict(), status=status)


async def metrics(request: web.Request) -> web.Response:
    require_reader(request)
    sample = await request.app[keys.COLLECTOR].latest()
    return web.json_response(sample.as_dict())


async def metrics_history(request: web.Request) -> web.Response:
    require_reader(request)
    settings = request.app[keys.SETTINGS]
    seconds = int_query(request, "seconds", settings.history_seconds, 1, settings.history_seconds)
    collector = request.app[keys.COLLECTOR]
    return web.json_response(
        {
            "interval_seconds": collector.interval,
            "samples": [sample.as_history_dict() for sample in collector.history_since(seconds)],
        }
    )


async def alerts(request: web.Request) -> web.Response:
    """The history newest first (`alerts`, of one `state` if asked), the alerts firing now
    (`active`) and the active silences; acknowledgements and silences come with each."""
    require_reader(request)
    limit = int_query(request, "limit", 20, 1, MAX_ALERTS_LIMIT)
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise json_error(400, f"'state' must be one of {', '.join(STATES)}", "state")
    board = request.app[keys.ALERT_BOARD]
    recent = await request.app[keys.STORE].recent(limit, state)
    return web.json_response(
        {
            "alerts": await board.history_views(recent),
            "active": board.active_views(),
            "silences": board.silence_views(),
        }
    )


async def connections(request: web.Request) -> web.Response:
    """Connections and subscribers per channel over every node that is up: this node's
    live figures plus the others' from their last heartbeat."""
    identity = require_reader(request)
    open_mode = request.app[keys.SETTINGS].open_mode
    hub = request.app[keys.HUB]
    cluster = request.app[keys.CLUSTER]
    try:
        others = [n for n in await cluster.nodes() if n["node"] != hub.node and n["state"] == "up"]
        presence = await cluster.presence(exclude=hub.node)
    except BrokerUnavailable as exc:
        raise json_error(503, f"the cluster view cannot be read now: {exc}") from None
    channels = Counter(presence)
    channels.update(hub.presence())
    per_node = {hub.node: len(hub.connections), **{n["node"]: n["connections"] for n in others}}
    # Channel names carry user and business ids: each reader sees the ones it may read.
    visible = {ch: n for ch, n in channels.items() if may_read(identity, ch, open_mode)}
    return web.json_response(
        {"total_connections": sum(per_node.values()), "channels": visible, "nodes": per_node}
    )


async def nodes(request: web.Request) -> web.Response:
    """Every node seen lately, this one first; `state` is up or lapsed."""
    require_reader(request)
    hub = request.app[keys.HUB]
    try:
        seen = await request.app[keys.CLUSTER].nodes()
    except BrokerUnavailable as exc:
        raise json_error(503, f"the cluster view cannot be read now: {exc}") from None
    live = request.app[keys.HEARTBEAT].record()
    others = sorted((n for n in seen if n["node"] != hub.node), key=lambda n: str(n["node"]))
    return web.json_response({"nodes": [{**live, "age_seconds": 0.0, "state": "up"}, *others]})
