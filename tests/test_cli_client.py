"""`livewatch tail` and `livewatch publish`, run as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from livewatch_client import Client

from app.auth.tokens import issue_token
from app.settings import Settings
from tests.conftest import free_port, with_settings
from tests.servers import ROOT, InProcessServer, ServerProcess, subscribers

PUBLISH_KEY = "k" * 40
SECRET = "s" * 48


async def start_cli(*args: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_cli(*args: str, **env: str) -> tuple[int, str, str]:
    proc = await start_cli(*args, **env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def next_json(stream: asyncio.StreamReader | None, within: float = 30.0) -> dict[str, Any]:
    assert stream is not None
    line = await asyncio.wait_for(stream.readline(), within)
    assert line, "the stream ended"
    value = json.loads(line)
    assert isinstance(value, dict)
    return value


async def until_subscribed(
    base: str, channel: str, within: float = 30.0, token: str | None = None
) -> None:
    async with asyncio.timeout(within):
        while True:
            if await subscribers(base, channel, token) >= 1:
                return
            await asyncio.sleep(0.05)


async def publish(base: str, n: int) -> None:
    async with Client(base) as client:
        await client.publish("task.started", {"n": n}, business_id="acme")


async def test_tail_prints_events_across_a_server_restart_and_says_what_it_lost(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path)
    await server.start()
    tail: asyncio.subprocess.Process | None = None
    try:
        await publish(server.url, 0)
        await publish(server.url, 1)
        tail = await start_cli("tail", "business:acme", "--since", "0", "--url", server.url)
        # --since 0: the held events first, from the history endpoint
        first, second = await next_json(tail.stdout), await next_json(tail.stdout)
        assert set(first) == {"channel", "seq", "event", "data", "timestamp"}
        assert (first["channel"], first["seq"], first["event"], first["data"]) == (
            "business:acme",
            1,
            "task.started",
            {"n": 0},
        )
        assert second["seq"] == 2
        await until_subscribed(server.url, "business:acme")
        await publish(server.url, 2)
        assert (await next_json(tail.stdout))["seq"] == 3

        await server.kill()  # a crash: the history goes with the process
        await server.start()  # same port, new epoch
        while (notice := await next_json(tail.stderr)).get("notice") != "not_recovered":
            assert notice["notice"] == "log"
        assert notice["channel"] == "business:acme"
        assert notice["reason"] == "epoch_changed"
        assert notice["seq"] == 0
        assert "could not be recovered" in notice["message"]

        await publish(server.url, 3)
        event = await next_json(tail.stdout)
        assert (event["seq"], event["data"]) == (1, {"n": 3})

        tail.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(tail.wait(), 30) == 0
    finally:
        if tail is not None and tail.returncode is None:
            tail.kill()
            await tail.wait()
        await server.stop()


@pytest.fixture
async def token_server(settings: Settings) -> AsyncIterator[InProcessServer]:
    server = InProcessServer(with_settings(settings, secret=SECRET, publish_key=PUBLISH_KEY))
    await server.start()
    yield server
    await server.stop()


async def test_tail_takes_its_token_from_the_environment_and_exits_0_on_sigterm(
    token_server: InProcessServer,
) -> None:
    token = issue_token(SECRET, "u1", ["acme"], 3600)
    tail = await start_cli(
        "tail", "business:acme", "--url", token_server.url, LIVEWATCH_TOKEN=token
    )
    try:
        await until_subscribed(token_server.url, "business:acme", token=token)
        tail.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(tail.wait(), 30) == 0
    finally:
        if tail.returncode is None:
            tail.kill()
            await tail.wait()

    code, out, err = await run_cli(
        "tail", "business:acme", "--url", token_server.url, "--token", "forged"
    )
    assert code == 2 and out == ""
    assert "livewatch: HTTP 401: token is invalid" in err
    code, _, err = await run_cli(
        "tail", "business:other", "--url", token_server.url, LIVEWATCH_TOKEN=token
    )
    assert code == 2
    assert "business:other: forbidden" in err


async def test_publish_prints_the_answer_and_refuses_clearly(
    token_server: InProcessServer,
) -> None:
    url = token_server.url
    ok, wrong_key, bad_json, not_object, refused, nobody = await asyncio.gather(
        run_cli(
            "publish",
            "task.started",
            "--data",
            '{"task_id": "t1"}',
            "--business",
            "acme",
            "--url",
            url,
            LIVEWATCH_PUBLISH_KEY=PUBLISH_KEY,
        ),
        run_cli("publish", "task.started", "--channel", "jobs", "--url", url),
        run_cli("publish", "task.started", "--data", "{nope", "--url", url),
        run_cli("publish", "task.started", "--data", "[1]", "--url", url),
        run_cli(
            "publish", "deploy", "--user", "u1", "--url", url, LIVEWATCH_PUBLISH_KEY=PUBLISH_KEY
        ),
        run_cli(
            "publish",
            "task.started",
            "--channel",
            "jobs",
            "--url",
            f"http://127.0.0.1:{free_port()}",
        ),
    )
    code, out, err = ok
    assert code == 0, err
    assert json.loads(out) == {"channels": {"business:acme": 1}, "recipients": 0}

    code, out, err = wrong_key
    assert (code, out) == (2, "")
    assert "the server refused the event" in err and "LIVEWATCH_PUBLISH_KEY" in err

    code, _, err = bad_json
    assert code == 2 and "--data: not valid JSON" in err
    code, _, err = not_object
    assert code == 2 and "--data: must be a JSON object" in err

    code, _, err = refused
    assert code == 2
    assert "'event' must be a dotted lower-case name" in err and "(field 'event')" in err

    code, _, err = nobody
    assert code == 1 and "failed after 5 attempts" in err
