"""Authenticated connections, channel permissions, origin checks and limits."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import make_mocked_request

from app.auth.tokens import issue_token
from app.server import create_app
from app.settings import Settings, SettingsError
from app.web import keys
from app.web.publish import authorize_publisher
from tests.conftest import (
    AppFactory,
    ClientFactory,
    LivewatchClient,
    eventually,
    free_port,
    next_frame,
    next_of,
    with_settings,
)

SECRET = secrets.token_hex(32)
# A WebSocket handshake from a page on a domain re-pointed at this machine (DNS rebinding).
REBOUND_HANDSHAKE = {
    "Host": "evil.example",
    "Origin": "http://evil.example",
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}
PUBLISH_KEY = secrets.token_hex(32)


@pytest.fixture
async def secure(make_client: AppFactory) -> LivewatchClient:
    return await make_client(secret=SECRET, publish_key=PUBLISH_KEY)


def token(user: str = "u1", businesses: tuple[str, ...] = ("acme",), ttl: int = 3600) -> str:
    return issue_token(SECRET, user, list(businesses), ttl)


async def connect_with(
    client: LivewatchClient, query: str, **kwargs: Any
) -> aiohttp.ClientWebSocketResponse:
    ws: aiohttp.ClientWebSocketResponse = await client.ws_connect(
        "/api/monitoring/ws" + query, **kwargs
    )
    assert (await next_frame(ws))["type"] == "connected"
    return ws


async def publish_as_app(client: LivewatchClient, **body: Any) -> aiohttp.ClientResponse:
    return await client.post(
        "/api/events", json=body, headers={"Authorization": f"Bearer {PUBLISH_KEY}"}
    )


async def assert_nothing_more(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Frames keep their order: if the next frame after a ping is the pong, nothing leaked."""
    await ws.send_json({"type": "ping"})
    assert (await next_frame(ws))["type"] == "pong"


# --- identity ---------------------------------------------------------------------------


async def test_token_claims_give_the_auto_subscriptions(secure: LivewatchClient) -> None:
    ws = await secure.ws_connect(f"/api/monitoring/ws?token={token('u1', ('acme', 'beta'))}")
    welcome = await next_frame(ws)
    assert welcome["channels"] == ["user:u1", "business:acme", "business:beta", "global"]


async def test_missing_token_is_refused(secure: LivewatchClient) -> None:
    response = await secure.get("/api/monitoring/ws")
    assert response.status == 401
    assert (await response.json())["field"] == "token"


@pytest.mark.parametrize(
    "bad_token",
    [
        pytest.param(lambda: token(ttl=-10), id="expired"),
        pytest.param(lambda: token()[:-3] + "AAA", id="tampered-signature"),
        pytest.param(
            lambda: jwt.encode({"sub": "admin", "exp": 9999999999}, "x" * 40, "HS256"),
            id="other-secret",
        ),
        pytest.param(
            lambda: jwt.encode({"sub": "u1", "exp": 9999999999}, SECRET, "HS512"), id="alg"
        ),
        pytest.param(lambda: "not.a.token", id="garbage"),
    ],
)
async def test_bad_token_is_refused(secure: LivewatchClient, bad_token: Any) -> None:
    response = await secure.get(f"/api/monitoring/ws?token={bad_token()}")
    assert response.status == 401
    assert "token" in (await response.json())["error"]


@pytest.mark.parametrize("field", ["user_id", "business_id"])
async def test_query_identity_is_refused_when_a_secret_is_set(
    secure: LivewatchClient, field: str
) -> None:
    response = await secure.get(f"/api/monitoring/ws?token={token()}&{field}=other")
    assert response.status == 400
    body = await response.json()
    assert body["field"] == field
    assert "signed token" in body["error"]


async def test_connection_closes_with_1008_when_its_token_expires(secure: LivewatchClient) -> None:
    ws = await connect_with(secure, f"?token={token(ttl=1)}")
    async with asyncio.timeout(4):
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.CLOSE:
                break
    assert msg.data == 1008
    assert msg.extra == "token expired"


# --- channel permissions ----------------------------------------------------------------


@pytest.mark.parametrize("channel", ["business:other", "user:u2", "playbooks", "business:acme2"])
async def test_cross_tenant_subscribe_is_denied_and_leaks_nothing(
    secure: LivewatchClient, channel: str
) -> None:
    ws = await connect_with(secure, f"?token={token('u1', ('acme',))}")
    await ws.send_json({"type": "subscribe", "channel": channel})
    error = await next_frame(ws)
    assert (error["type"], error["code"], error["ref"]) == ("error", "forbidden", "subscribe")
    response = await publish_as_app(
        secure, event="task.started", data={"secret": 1}, channel=channel
    )
    assert (await response.json())["recipients"] == 0
    await assert_nothing_more(ws)
    assert channel not in secure.app[keys.HUB].channels


@pytest.mark.parametrize("channel", ["global", "system", "user:u1", "business:acme"])
async def test_own_and_public_channels_are_allowed(secure: LivewatchClient, channel: str) -> None:
    ws = await connect_with(secure, f"?token={token('u1', ('acme',))}")
    await ws.send_json({"type": "subscribe", "channel": channel})
    assert (await next_of(ws, "subscribed"))["channel"] == channel


async def test_other_tenants_events_never_arrive(secure: LivewatchClient) -> None:
    mine = await connect_with(secure, f"?token={token('u1', ('acme',))}")
    theirs = await connect_with(secure, f"?token={token('u2', ('globex',))}")
    await publish_as_app(secure, event="task.started", data={"for": "globex"}, business_id="globex")
    assert (await next_of(theirs, "event"))["data"] == {"for": "globex"}
    await assert_nothing_more(mine)


async def test_clients_cannot_publish_over_the_socket(secure: LivewatchClient) -> None:
    sender = await connect_with(secure, f"?token={token('u1', ('acme',))}")
    listener = await connect_with(secure, f"?token={token('u2', ('acme',))}")
    await sender.send_json({"type": "publish", "channel": "business:acme", "data": {}})
    assert (await next_frame(sender))["code"] == "unknown_type"
    await assert_nothing_more(listener)


# --- origin -----------------------------------------------------------------------------


async def test_foreign_origin_is_rejected(secure: LivewatchClient) -> None:
    response = await secure.get(
        f"/api/monitoring/ws?token={token()}",
        headers={"Origin": "https://evil.example", "Connection": "Upgrade", "Upgrade": "websocket"},
    )
    assert response.status == 403


async def test_the_page_served_at_the_configured_address_may_connect(
    make_client: AppFactory,
) -> None:
    port = free_port()
    secure = await make_client(secret=SECRET, publish_key=PUBLISH_KEY, port=port)
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        ws = await connect_with(secure, f"?token={token()}", origin=origin)
        await ws.close()


async def test_with_a_secret_the_origin_never_comes_from_the_request(
    secure: LivewatchClient,
) -> None:
    """A page on any host name that reaches the port (a re-pointed domain, a proxy) sends
    its own Host and Origin, which match each other but not the settings."""
    response = await secure.get(
        f"/api/monitoring/ws?token={token()}",
        headers=REBOUND_HANDSHAKE,
    )
    assert response.status == 403


async def test_origin_allowlist_replaces_the_default(make_client: AppFactory) -> None:
    client = await make_client(allowed_origins=("https://dash.example.com",))
    ws = await connect_with(client, "", origin="https://dash.example.com")
    await assert_nothing_more(ws)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/api/monitoring/ws", origin=f"http://127.0.0.1:{client.port}")
    assert refused.value.status == 403


# --- limits -----------------------------------------------------------------------------


async def test_oversize_frame_closes_with_1009(make_client: AppFactory) -> None:
    client = await make_client(max_frame_bytes=1024)
    ws = await connect_with(client, "")
    await ws.send_str('{"type": "ping", "pad": "' + "x" * 2000 + '"}')
    msg = await ws.receive(timeout=2)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert msg.data == 1009


async def test_flooding_gets_rate_limited_then_closed_with_1008(client: LivewatchClient) -> None:
    ws = await connect_with(client, "")
    for _ in range(200):
        await ws.send_json({"type": "ping"})
    codes: list[str] = []
    async with asyncio.timeout(5):
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.CLOSE:
                break
            frame = msg.json()
            codes.append(frame.get("code") or frame["type"])
    assert 40 <= codes.count("pong") <= 50, "the burst of 40 is served, then 20 per second"
    assert "rate_limited" in codes
    assert msg.data == 1008


async def test_subscription_cap(make_client: AppFactory) -> None:
    client = await make_client(max_subscriptions=3)
    ws = await connect_with(client, "")  # global is one
    for channel in ("a:1", "a:2"):
        await ws.send_json({"type": "subscribe", "channel": channel})
        assert (await next_frame(ws))["type"] == "subscribed"
    await ws.send_json({"type": "subscribe", "channel": "a:3"})
    error = await next_frame(ws)
    assert (error["code"], error["ref"]) == ("too_large", "subscribe")


async def test_channel_name_length_and_grammar(client: LivewatchClient) -> None:
    ws = await connect_with(client, "")
    for channel in ("a:" + "x" * 255, "UPPER", "a::b", "white space", ""):
        await ws.send_json({"type": "subscribe", "channel": channel})
        assert (await next_frame(ws))["code"] == "bad_request", channel


async def test_per_user_connection_cap(make_client: AppFactory) -> None:
    client = await make_client(max_connections_per_user=2)
    first = await connect_with(client, "?user_id=u1")
    await connect_with(client, "?user_id=u1")
    third = await client.ws_connect("/api/monitoring/ws?user_id=u1")
    msg = await third.receive(timeout=2)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1008)
    other = await connect_with(client, "?user_id=u2")
    await assert_nothing_more(other)
    await first.close()
    await eventually(lambda: client.app[keys.HUB].per_user["u1"] == 1)
    await connect_with(client, "?user_id=u1")


async def test_extra_fields_in_builtin_messages_are_refused(client: LivewatchClient) -> None:
    ws = await connect_with(client, "")
    await ws.send_json({"type": "subscribe", "channel": "global", "as_user": "admin"})
    error = await next_frame(ws)
    assert (error["code"], error["ref"]) == ("bad_request", "subscribe")
    assert "as_user" in error["message"]


# --- publish API ------------------------------------------------------------------------


async def test_publish_key_is_enforced(secure: LivewatchClient) -> None:
    body = {"event": "task.started", "data": {}, "business_id": "acme"}
    missing = await secure.post("/api/events", json=body)
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization" in (await missing.json())["error"]
    wrong = await secure.post(
        "/api/events", json=body, headers={"Authorization": "Bearer " + "0" * 64}
    )
    assert wrong.status == 401
    assert (await wrong.json())["error"] == "the publish key is wrong"
    right = await publish_as_app(secure, **body)
    assert right.status == 202


async def test_publishing_is_off_with_a_secret_but_no_publish_key(make_client: AppFactory) -> None:
    client = await make_client(secret=SECRET)
    response = await client.post("/api/events", json={"event": "a.b", "data": {}, "channel": "x"})
    assert response.status == 401
    assert "LIVEWATCH_PUBLISH_KEY" in (await response.json())["error"]


def test_open_mode_publishing_is_for_loopback_only(settings: Settings) -> None:
    for remote, allowed in (("127.0.0.1", True), ("::1", True), ("192.0.2.7", False)):
        request = make_mocked_request("POST", "/api/events")
        request = request.clone(remote=remote)
        if allowed:
            authorize_publisher(request, settings)
        else:
            with pytest.raises(aiohttp.web.HTTPException) as refused:
                authorize_publisher(request, settings)
            assert refused.value.status == 401


async def test_oversize_publish_body_gets_413(client: LivewatchClient) -> None:
    body = {"event": "task.started", "data": {"pad": "x" * (300 * 1024)}, "channel": "global"}
    response = await client.post("/api/events", json=body)
    assert response.status == 413
    assert "larger than 262144 bytes" in (await response.json())["error"]


async def test_oversize_chunked_body_gets_413_under_a_parent_app(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    """Mounted as a sub-app, the parent's client_max_size (1 MiB here) is the one aiohttp
    applies; livewatch's own limit must still hold for a body without a Content-Length."""
    parent = aiohttp.web.Application()
    parent.add_subapp("/livewatch/", create_app(settings))
    client = await aiohttp_client(parent)
    head = b'{"event": "task.started", "data": {}, "channel": "global"}'

    async def body(padding: int) -> AsyncIterator[bytes]:
        yield head
        for _ in range(padding // 1024):
            yield b" " * 1024

    small = await client.post(
        "/livewatch/api/events", data=body(100 * 1024), headers={"Content-Type": "application/json"}
    )
    assert small.status == 202, await small.text()
    large = await client.post(
        "/livewatch/api/events", data=body(400 * 1024), headers={"Content-Type": "application/json"}
    )
    assert large.status == 413
    assert "larger than 262144 bytes" in (await large.json())["error"]


# --- start-up ---------------------------------------------------------------------------


def test_open_mode_refuses_a_non_loopback_bind(settings: Settings) -> None:
    with pytest.raises(SettingsError, match=r"not a loopback address: set LIVEWATCH_SECRET"):
        with_settings(settings, host="0.0.0.0")
    assert with_settings(settings, host="0.0.0.0", insecure_open=True).insecure_open
    assert with_settings(settings, host="0.0.0.0", secret=SECRET).secret == SECRET


def test_short_secret_is_refused(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="LIVEWATCH_SECRET is 6 characters"):
        with_settings(settings, secret="hunter")


# --- DNS rebinding and JSON errors -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/monitoring/health", "/api/monitoring/ws", "/"])
async def test_open_mode_refuses_a_host_that_is_not_this_machine(
    client: LivewatchClient, path: str
) -> None:
    response = await client.get(
        path,
        headers=REBOUND_HANDSHAKE,
    )
    assert response.status == 403
    assert "not a name of this machine" in (await response.json())["error"]
    published = await client.post(
        "/api/events",
        json={"event": "task.started", "data": {}, "channel": "global"},
        headers={"Host": "evil.example:8080", "Origin": "http://evil.example:8080"},
    )
    assert published.status == 403


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:9", "[::1]:8080"])
async def test_open_mode_answers_local_names(client: LivewatchClient, host: str) -> None:
    response = await client.get("/api/monitoring/health", headers={"Host": host})
    assert response.status == 200


async def test_allowed_hosts_adds_names(make_client: AppFactory) -> None:
    client = await make_client(allowed_hosts=("dev.internal",))
    ok = await client.get("/livez", headers={"Host": "dev.internal:8080"})
    assert ok.status == 200
    refused = await client.get("/livez", headers={"Host": "other.internal"})
    assert refused.status == 403


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/page", 404),
        ("DELETE", "/api/events", 405),
        ("GET", "/static/nope.js", 404),
        ("GET", "/api/monitoring/ws", 400),
        ("POST", "/api/monitoring/ws", 405),
    ],
)
async def test_every_http_error_is_json(
    client: LivewatchClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status == status
    assert response.content_type == "application/json"
    assert isinstance((await response.json())["error"], str)
    if status == 405:  # and says which methods the path takes
        allowed = response.headers["Allow"].split(",")
        assert allowed and method not in allowed


async def test_a_frame_of_exactly_the_limit_is_taken_and_one_byte_more_is_not(
    make_client: AppFactory,
) -> None:
    client = await make_client(max_frame_bytes=1024)
    ws = await client.ws_connect("/api/monitoring/ws")
    await next_frame(ws)
    exact = '{"type": "hello", "pad": "' + "x" * (1024 - 28) + '"}'
    assert len(exact.encode()) == 1024
    await ws.send_str(exact)
    assert (await next_of(ws, "error"))["code"] == "unknown_type", "read, not refused"
    await ws.send_str(exact[:-2] + 'x"}')
    msg = await ws.receive(timeout=2)
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1009


@pytest.mark.parametrize("path", ["/static/../app/settings.py", "/static/%2e%2e/README.md"])
async def test_static_files_stay_inside_the_static_folder(
    client: LivewatchClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status == 404
    assert response.content_type == "application/json"


# --- auth on every API ----------------------------------------------------------------------


def json_read_routes(client: LivewatchClient) -> list[str]:
    """Every GET route of the JSON API, as a path to request."""
    paths = []
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter", "")
        if route.method == "GET" and path.startswith("/api/") and path != "/api/monitoring/ws":
            paths.append(path.replace("{channel}", "business:acme"))
    return sorted(set(paths))


async def test_with_a_secret_every_json_read_api_needs_a_token(secure: LivewatchClient) -> None:
    paths = json_read_routes(secure)
    assert "/api/monitoring/connections" in paths and "/api/channels/business:acme/history" in paths
    for path in paths:
        anonymous = await secure.get(path)
        assert anonymous.status == 401, path
        assert anonymous.content_type == "application/json", path
        allowed = await secure.get(path, headers={"Authorization": f"Bearer {token()}"})
        assert allowed.status in (200, 503), path
    for probe in ("/livez", "/readyz", "/metrics"):
        assert (await secure.get(probe)).status == 200, f"{probe} stays open for orchestrators"


async def test_connections_shows_each_reader_only_the_channels_it_may_read(
    secure: LivewatchClient,
) -> None:
    ws = await connect_with(secure, f"?token={token('u9', ('acme', 'globex'))}")
    other = await connect_with(secure, f"?token={token('u8', ('initech',))}")
    bearer = {"Authorization": f"Bearer {token('u9', ('acme',))}"}
    seen = await (await secure.get("/api/monitoring/connections", headers=bearer)).json()
    assert set(seen["channels"]) == {"user:u9", "business:acme", "global"}
    assert seen["total_connections"] == 2
    admin = {"Authorization": f"Bearer {issue_token(SECRET, 'ops', [], 3600, admin=True)}"}
    everything = await (await secure.get("/api/monitoring/connections", headers=admin)).json()
    assert {"business:globex", "business:initech", "user:u8"} <= set(everything["channels"])
    await ws.close()
    await other.close()


async def test_tokens_can_grant_custom_channels_by_name_and_by_kind(
    secure: LivewatchClient,
) -> None:
    granted = issue_token(SECRET, "u1", [], 3600, channels=["deploys:prod", "builds:*"])
    ws = await connect_with(secure, f"?token={granted}")
    for channel in ("deploys:prod", "builds:web", "builds:api"):
        await ws.send_json({"type": "subscribe", "channel": channel})
        assert (await next_of(ws, "subscribed"))["channel"] == channel
    for channel in ("deploys:staging", "builds", "buildsx:web"):
        await ws.send_json({"type": "subscribe", "channel": channel})
        assert (await next_of(ws, "error"))["code"] == "forbidden", channel


@pytest.mark.parametrize("grant", ["deploys:", "*", "deploys:pro*", "Deploys:*", "a b"])
def test_a_token_cannot_grant_a_malformed_channel(grant: str) -> None:
    with pytest.raises(ValueError, match="kind:\\*"):
        issue_token(SECRET, "u1", [], 60, channels=[grant])


async def test_an_identity_with_more_own_channels_than_a_connection_holds_is_told(
    secure: LivewatchClient,
) -> None:
    many = issue_token(SECRET, "u1", [f"b{n}" for n in range(150)], 3600)
    response = await secure.get(f"/api/monitoring/ws?token={many}")
    assert response.status == 400
    body = await response.json()
    assert "152 channels" in body["error"] and body["field"] == "auto_subscribe"
    ws = await connect_with(secure, f"?token={many}&auto_subscribe=false")
    await ws.send_json({"type": "subscribe", "channel": "business:b149"})
    assert (await next_of(ws, "subscribed"))["channel"] == "business:b149"
