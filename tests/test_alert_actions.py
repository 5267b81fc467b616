"""Acknowledging and silencing alerts over the API: who and when, live events, expiry, the
metrics, a restart, token mode, and every refusal."""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.auth.tokens import issue_token
from app.monitor.alert_store import AlertStore
from app.timeutil import rfc3339
from app.web import keys
from tests.conftest import AppFactory, LivewatchClient, connect, next_frame
from tests.samples import make_sample
from tests.test_alertmanager import TWO_FIRING, payload, received

SECRET = secrets.token_hex(32)


def later(**delta: float) -> str:
    return rfc3339(datetime.now(UTC) + timedelta(**delta))


async def fire_cpu(client: LivewatchClient, cpu: float = 80) -> dict[str, Any]:
    """Raise livewatch's own CPU alert with a sample; its view in the API."""
    await client.app[keys.COLLECTOR].process(make_sample(cpu=cpu))
    body = await (await client.get("/api/monitoring/alerts")).json()
    (alert,) = [a for a in body["active"] if a["rule"] == "cpu"]
    return alert  # type: ignore[no-any-return]


async def events(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The system.* events of `global` that came before the answer to a ping."""
    await ws.send_json({"type": "ping"})
    frames = []
    while (frame := await next_frame(ws))["type"] != "pong":
        if frame["type"] == "event" and frame["channel"] == "global":
            frames.append(frame)
    return frames


@pytest.fixture
async def watcher(client: LivewatchClient) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    ws = await connect(client)
    yield ws
    await ws.close()


def state_count(client: LivewatchClient, source: str, severity: str, state: str) -> float | None:
    labels = {"source": source, "severity": severity, "state": state}
    return client.app[keys.REGISTRY].get_sample_value("livewatch_alerts_active", labels)


# --- acknowledging ------------------------------------------------------------------------


async def test_an_acknowledgement_records_who_and_when_and_is_announced(
    client: LivewatchClient, watcher: aiohttp.ClientWebSocketResponse
) -> None:
    alert = await fire_cpu(client)
    await events(watcher)
    before = datetime.now(UTC)
    response = await client.post(
        f"/api/monitoring/alerts/{alert['alert_id']}/ack", json={"by": "alice", "comment": "mine"}
    )
    assert response.status == 200
    view = await response.json()
    ack = view["acknowledged"]
    assert (ack["by"], ack["comment"], ack["level"]) == ("alice", "mine", "warning")
    assert datetime.fromisoformat(ack["at"]) >= before - timedelta(seconds=1)

    (event,) = await events(watcher)
    assert event["event"] == "system.alert_acknowledged"
    assert event["data"]["alert_id"] == alert["alert_id"]
    assert event["data"]["acknowledged"] == ack
    assert event["data"]["message"].startswith("Acknowledged by alice: CPU usage high")

    body = await (await client.get("/api/monitoring/alerts")).json()
    assert body["active"][0]["acknowledged"] == ack
    assert state_count(client, "livewatch", "warning", "acknowledged") == 1
    assert state_count(client, "livewatch", "warning", "unacknowledged") == 0


async def test_acknowledging_an_unknown_or_resolved_alert_is_refused(
    client: LivewatchClient,
) -> None:
    unknown = await client.post("/api/monitoring/alerts/nope/ack", json={"by": "alice"})
    assert unknown.status == 404
    assert (await unknown.json())["error"] == "no alert has the id 'nope'"
    alert = await fire_cpu(client)
    await client.app[keys.COLLECTOR].process(make_sample(cpu=5))
    resolved = await client.post(
        f"/api/monitoring/alerts/{alert['alert_id']}/ack", json={"by": "alice"}
    )
    assert resolved.status == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "by"),
        ({"by": ""}, "by"),
        ({"by": "   "}, "by"),
        ({"by": "x" * 101}, "by"),
        ({"by": "bad\x07name"}, "by"),
        ({"by": 7}, "by"),
        ({"by": "alice", "comment": "c" * 1001}, "comment"),
        ({"by": "alice", "until": "later"}, "until"),
    ],
)
async def test_a_bad_acknowledgement_gets_400_naming_the_field(
    client: LivewatchClient, body: dict[str, Any], field: str
) -> None:
    alert = await fire_cpu(client)
    response = await client.post(f"/api/monitoring/alerts/{alert['alert_id']}/ack", json=body)
    assert response.status == 400
    assert (await response.json())["field"] == field


async def test_a_rise_above_the_acknowledged_level_needs_a_new_acknowledgement(
    client: LivewatchClient,
) -> None:
    alert = await fire_cpu(client, 80)
    await client.post(f"/api/monitoring/alerts/{alert['alert_id']}/ack", json={"by": "alice"})
    critical = await fire_cpu(client, 95)
    assert critical["alert_id"] == alert["alert_id"]
    assert critical["acknowledged"] is None
    assert state_count(client, "livewatch", "critical", "unacknowledged") == 1
    await client.post(f"/api/monitoring/alerts/{alert['alert_id']}/ack", json={"by": "bob"})
    back = await fire_cpu(client, 84)  # below 90 - 5: warning again, still acknowledged
    assert (back["level"], back["acknowledged"]["by"]) == ("warning", "bob")


async def test_the_history_keeps_who_acknowledged_a_resolved_alert(client: LivewatchClient) -> None:
    alert = await fire_cpu(client)
    await client.post(f"/api/monitoring/alerts/{alert['alert_id']}/ack", json={"by": "alice"})
    await client.app[keys.COLLECTOR].process(make_sample(cpu=5))
    body = await (await client.get("/api/monitoring/alerts?state=resolved")).json()
    (resolved,) = body["alerts"]
    assert (resolved["state"], resolved["acknowledged"]["by"]) == ("resolved", "alice")
    assert resolved["started_at"] == alert["started_at"]


# --- silences -----------------------------------------------------------------------------


async def silence(client: LivewatchClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/monitoring/silences", json={"by": "alice", **body})
    assert response.status == 201, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def test_a_silence_covers_matching_alerts_and_is_announced(
    client: LivewatchClient, watcher: aiohttp.ClientWebSocketResponse
) -> None:
    alert = await fire_cpu(client)
    await received(client, payload(TWO_FIRING))
    await events(watcher)
    until = later(hours=1)
    answer = await silence(
        client, matchers={"source": "alertmanager", "kind": "other"}, until=until, comment="known"
    )
    made = answer["silence"]
    assert answer["matches"] == 1
    assert len(answer["alert_ids"]) == 1
    assert (made["by"], made["comment"], made["ended_at"]) == ("alice", "known", None)
    assert datetime.fromisoformat(made["ends_at"]) == datetime.fromisoformat(until)

    (event,) = await events(watcher)
    assert event["event"] == "system.silence"
    assert event["data"]["silence_id"] == made["silence_id"]
    body = await (await client.get("/api/monitoring/alerts")).json()
    other = next(a for a in body["active"] if a["labels"].get("kind") == "other")
    assert event["data"]["alert_ids"] == answer["alert_ids"] == [other["alert_id"]]
    assert other["silenced_by"] == [made["silence_id"]]
    assert all(a["silenced_by"] == [] for a in body["active"] if a is not other)
    assert body["silences"] == [{**made, "matches": 1}]
    assert alert["silenced_by"] == []

    listed = await (await client.get("/api/monitoring/silences")).json()
    assert listed == {"silences": [{**made, "matches": 1}]}
    assert state_count(client, "alertmanager", "critical", "silenced") == 1
    assert state_count(client, "alertmanager", "critical", "unacknowledged") == 1


async def test_matchers_that_match_nothing_are_allowed_and_say_so(client: LivewatchClient) -> None:
    answer = await silence(
        client, matchers={"rule": "disk", "node": "elsewhere"}, until=later(hours=2)
    )
    assert (answer["matches"], answer["alert_ids"]) == (0, [])


async def test_a_silenced_alert_still_records_history_and_metrics(
    client: LivewatchClient, watcher: aiohttp.ClientWebSocketResponse
) -> None:
    made = (await silence(client, matchers={"rule": "memory"}, until=later(hours=1)))["silence"]
    await events(watcher)
    await client.app[keys.COLLECTOR].process(make_sample(memory=95))
    (fired,) = await events(watcher)
    assert fired["event"] == "system.alert"
    assert fired["data"]["silenced_by"] == [made["silence_id"]], "the page shows no banner"
    history = await (await client.get("/api/monitoring/alerts")).json()
    assert [(a["rule"], a["state"]) for a in history["alerts"]] == [("memory", "firing")]
    registry = client.app[keys.REGISTRY]
    labels = {"rule": "memory", "severity": "critical"}
    assert registry.get_sample_value("livewatch_alerts_firing", labels) == 1
    assert state_count(client, "livewatch", "critical", "silenced") == 1


@pytest.mark.parametrize(
    ("body", "field", "error"),
    [
        ({"until": "2030-01-01T00:00:00Z"}, "matchers", "'matchers' is required"),
        ({"matchers": {}}, "matchers", "at least one"),
        ({"matchers": ["rule=cpu"]}, "matchers", "an object"),
        ({"matchers": {"rule": 5}}, "matchers.rule", "a string"),
        ({"matchers": {"rule": ""}}, "matchers.rule", "a string"),
        ({"matchers": {"severity": "page"}}, "matchers.severity", "warning, critical"),
        ({"matchers": {"source": "grafana"}}, "matchers.source", "livewatch, alertmanager"),
        ({"matchers": {"bad-name": "x"}}, "matchers", "not a field or label name"),
        ({"matchers": {"rule": "cpu"}}, "until", "'until' is required"),
        ({"matchers": {"rule": "cpu"}, "until": "tomorrow"}, "until", "RFC 3339"),
        ({"matchers": {"rule": "cpu"}, "until": "2030-01-01T00:00:00"}, "until", "with a zone"),
        ({"matchers": {"rule": "cpu"}, "until": "PAST"}, "until", "'until' is in the past"),
        ({"matchers": {"rule": "cpu"}, "until": "FAR"}, "until", "more than 30 days ahead"),
        ({"matchers": {"rule": "cpu"}, "until": "SOON", "extra": 1}, "extra", "unknown field"),
    ],
)
async def test_a_bad_silence_gets_400_naming_the_field(
    client: LivewatchClient, body: dict[str, Any], field: str, error: str
) -> None:
    times = {"PAST": later(seconds=-1), "FAR": later(days=30, minutes=1), "SOON": later(hours=1)}
    if body.get("until") in times:
        body = {**body, "until": times[body["until"]]}
    response = await client.post("/api/monitoring/silences", json={"by": "alice", **body})
    assert response.status == 400
    answer = await response.json()
    assert answer["field"] == field
    assert error in answer["error"]
    assert (await (await client.get("/api/monitoring/silences")).json())["silences"] == []


async def test_thirty_days_is_the_longest_silence(client: LivewatchClient) -> None:
    await silence(client, matchers={"rule": "cpu"}, until=later(days=30, seconds=-5))


async def test_ending_a_silence_early_brings_the_alerts_back(
    client: LivewatchClient, watcher: aiohttp.ClientWebSocketResponse
) -> None:
    alert = await fire_cpu(client)
    made = (await silence(client, matchers={"rule": "cpu"}, until=later(hours=1)))["silence"]
    await events(watcher)
    response = await client.delete(f"/api/monitoring/silences/{made['silence_id']}?by=bob")
    assert response.status == 200
    ended = (await response.json())["silence"]
    assert ended["ended_by"] == "bob" and ended["ended_at"] is not None
    (event,) = await events(watcher)
    assert event["event"] == "system.silence_ended"
    assert event["data"]["alert_ids"] == [alert["alert_id"]]
    assert (await (await client.get("/api/monitoring/silences")).json())["silences"] == []
    assert (await fire_cpu(client))["silenced_by"] == []

    again = await client.delete(f"/api/monitoring/silences/{made['silence_id']}")
    assert again.status == 409
    unknown = await client.delete("/api/monitoring/silences/nope")
    assert unknown.status == 404


async def test_a_silence_expires_by_itself(
    client: LivewatchClient, watcher: aiohttp.ClientWebSocketResponse
) -> None:
    alert = await fire_cpu(client)
    made = (await silence(client, matchers={"rule": "cpu"}, until=later(seconds=1)))["silence"]
    assert [f["event"] for f in await events(watcher)] == ["system.alert", "system.silence"]
    frame = await next_frame(watcher, wait=3)
    assert (frame["event"], frame["data"]["silence_id"]) == (
        "system.silence_ended",
        made["silence_id"],
    )
    assert frame["data"]["alert_ids"] == [alert["alert_id"]]
    assert (await (await client.get("/api/monitoring/silences")).json())["silences"] == []
    assert (await fire_cpu(client))["silenced_by"] == []
    assert state_count(client, "livewatch", "warning", "unacknowledged") == 1


# --- a restart ----------------------------------------------------------------------------


async def test_acknowledgements_and_silences_survive_a_restart(make_client: AppFactory) -> None:
    first = await make_client()
    alert = await fire_cpu(first)
    await first.post(f"/api/monitoring/alerts/{alert['alert_id']}/ack", json={"by": "alice"})
    await received(first, payload(TWO_FIRING))
    made = (await silence(first, matchers={"team": "e2e"}, until=later(hours=1)))["silence"]
    gone = (await silence(first, matchers={"rule": "disk"}, until=later(hours=1)))["silence"]
    await first.delete(f"/api/monitoring/silences/{gone['silence_id']}")
    before = await (await first.get("/api/monitoring/alerts")).json()
    await first.close()

    second = await make_client()
    after = await (await second.get("/api/monitoring/alerts")).json()
    assert after["active"] == before["active"]
    cpu = next(a for a in after["active"] if a["rule"] == "cpu")
    assert cpu["acknowledged"]["by"] == "alice"
    assert sum(1 for a in after["active"] if a["silenced_by"] == [made["silence_id"]]) == 2
    assert [s["silence_id"] for s in after["silences"]] == [made["silence_id"]]
    assert state_count(second, "alertmanager", "critical", "silenced") == 2
    assert state_count(second, "livewatch", "warning", "acknowledged") == 1


# --- token mode ---------------------------------------------------------------------------


async def test_with_a_secret_the_token_says_who_acts(make_client: AppFactory) -> None:
    client = await make_client(secret=SECRET)
    alert = await fire_cpu_secure(client)
    path = f"/api/monitoring/alerts/{alert['alert_id']}/ack"
    anonymous = await client.post(path, json={"by": "mallory"})
    assert anonymous.status == 401
    carol = issue_token(SECRET, "carol", [], 600)
    named = await client.post(path, json={"by": "mallory"}, headers=bearer(carol))
    assert (named.status, (await named.json())["field"]) == (400, "by")
    acked = await client.post(f"{path}?token={carol}", json={"comment": "on it"})
    assert acked.status == 200
    assert (await acked.json())["acknowledged"]["by"] == "carol"
    empty = await client.post(path, headers=bearer(carol))
    assert empty.status == 200, "no body at all is an acknowledgement without a comment"

    silences = "/api/monitoring/silences"
    body = {"matchers": {"rule": "cpu"}, "until": later(hours=1)}
    assert (await client.post(silences, json=body)).status == 401
    made = await client.post(silences, json=body, headers=bearer(carol))
    assert made.status == 201
    silence_id = (await made.json())["silence"]["silence_id"]
    assert (await made.json())["silence"]["by"] == "carol"
    assert (await client.get(silences)).status == 401
    assert (await client.delete(f"{silences}/{silence_id}")).status == 401
    dave = issue_token(SECRET, "dave", [], 600)
    ended = await client.delete(f"{silences}/{silence_id}", headers=bearer(dave))
    assert (await ended.json())["silence"]["ended_by"] == "dave"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def fire_cpu_secure(client: LivewatchClient) -> dict[str, Any]:
    await client.app[keys.COLLECTOR].process(make_sample(cpu=80))
    return client.app[keys.ALERT_BOARD].active_views()[0]


# --- limits and the store -----------------------------------------------------------------


async def test_an_action_body_over_16_kib_gets_413(client: LivewatchClient) -> None:
    alert = await fire_cpu(client)
    response = await client.post(
        f"/api/monitoring/alerts/{alert['alert_id']}/ack",
        json={"by": "alice", "comment": "x" * 17_000},
    )
    assert response.status == 413
    big = {"by": "a", "matchers": {"rule": "cpu"}, "until": later(hours=1), "c": "x" * 17_000}
    assert (await client.post("/api/monitoring/silences", json=big)).status == 413


async def test_an_action_body_must_be_a_json_object(client: LivewatchClient) -> None:
    alert = await fire_cpu(client)
    path = f"/api/monitoring/alerts/{alert['alert_id']}/ack"
    array = await client.post(path, json=["alice"])
    assert array.status == 400
    text = await client.post(path, data="by=alice")
    assert text.status == 415


OLD_SCHEMA = """
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL, rule TEXT NOT NULL, metric TEXT NOT NULL, level TEXT NOT NULL,
    state TEXT NOT NULL, message TEXT NOT NULL, value REAL NOT NULL, threshold REAL NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE INDEX alerts_by_rule ON alerts (rule, id);
"""


async def test_a_database_of_the_previous_version_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    rows = [
        (
            "a1",
            "cpu",
            "cpu_percent",
            "warning",
            "firing",
            "CPU high",
            80.0,
            75.0,
            "2026-01-01T00:00:00.000Z",
        ),
        (
            "a1",
            "cpu",
            "cpu_percent",
            "warning",
            "resolved",
            "CPU ok",
            60.0,
            75.0,
            "2026-01-01T00:05:00.000Z",
        ),
        (
            "d1",
            "disk",
            "disk_percent",
            "critical",
            "firing",
            "Disk full",
            95.0,
            90.0,
            "2026-01-02T00:00:00.000Z",
        ),
    ]
    db.executemany(
        "INSERT INTO alerts (alert_id, rule, metric, level, state, message, value, threshold, "
        "timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.close()

    store = AlertStore(path, history_limit=100)
    await store.open()
    try:
        (active,) = await store.active()
        assert (active.alert_id, active.source, active.key) == ("d1", "livewatch", "disk")
        assert active.started_at == "2026-01-02T00:00:00.000Z"
        assert (active.labels, active.annotations, active.generator_url) == ({}, {}, "")
        assert [r.state for r in await store.recent(10)] == ["firing", "resolved", "firing"]
    finally:
        await store.close()
    # A second open finds nothing to change.
    again = AlertStore(path, history_limit=100)
    await again.open()
    assert await again.count() == 3
    await again.close()


async def test_the_history_limit_never_drops_an_alert_still_firing(make_client: AppFactory) -> None:
    client = await make_client(alert_history_limit=3)
    alert = await fire_cpu(client, 80)  # cpu fires first and keeps firing
    for _ in range(4):
        await client.app[keys.COLLECTOR].process(make_sample(cpu=80, memory=95))
        await client.app[keys.COLLECTOR].process(make_sample(cpu=80, memory=5))
    store = client.app[keys.STORE]
    assert [a.alert_id for a in await store.active()] == [alert["alert_id"]]
    assert await store.count() <= 4


async def test_the_alerts_api_filters_by_state(client: LivewatchClient) -> None:
    await fire_cpu(client)
    await client.app[keys.COLLECTOR].process(make_sample(cpu=5))
    firing = await (await client.get("/api/monitoring/alerts?state=firing")).json()
    assert [a["state"] for a in firing["alerts"]] == ["firing"]
    bad = await client.get("/api/monitoring/alerts?state=open")
    assert (bad.status, (await bad.json())["field"]) == (400, "state")


async def test_silence_expiry_wakes_for_the_soonest_end(client: LivewatchClient) -> None:
    """Silences added in any order end in order of their time, each on time."""
    board = client.app[keys.ALERT_BOARD]
    late = (await silence(client, matchers={"rule": "disk"}, until=later(seconds=30)))["silence"]
    soon = (await silence(client, matchers={"rule": "cpu"}, until=later(seconds=0.6)))["silence"]
    await asyncio.sleep(1.2)
    assert set(board.silences) == {late["silence_id"]}
    assert soon["silence_id"] not in json.dumps(
        await (await client.get("/api/monitoring/silences")).json()
    )
