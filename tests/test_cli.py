"""The livewatch command, run as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from app.auth.tokens import verify_token
from app.cli import main
from app.settings import env_name, flag_name, specs
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


async def run_cli(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_bad_flag_stops_startup_naming_it() -> None:
    proc = await run_cli("serve", "--port", "eighty")
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "--port='eighty': must be an integer" in stderr.decode()


async def test_bad_environment_stops_startup_naming_it() -> None:
    proc = await run_cli("serve", env={"LIVEWATCH_MEMORY_CRITICAL": "lots"})
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "LIVEWATCH_MEMORY_CRITICAL='lots': must be a number" in stderr.decode()


async def test_serve_logs_json_and_shuts_down_closing_sockets_with_1001(tmp_path: Path) -> None:
    port = free_port()
    proc = await run_cli(
        "serve",
        "--port",
        str(port),
        "--log-format",
        "json",
        "--database-path",
        str(tmp_path / "db.sqlite3"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until_live(session, base)
            ws = await session.ws_connect(base + "/api/monitoring/ws")
            assert (await ws.receive_json())["type"] == "connected"
            proc.send_signal(signal.SIGTERM)
            msg = await ws.receive(timeout=10)
            assert msg.type is aiohttp.WSMsgType.CLOSE
            assert msg.data == 1001
        await asyncio.wait_for(proc.wait(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert proc.stderr is not None
    lines = (await proc.stderr.read()).decode().splitlines()
    entries = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["level"] == "warning" and "OPEN MODE" in e["message"] for e in entries)
    assert any(
        entry["message"] == "closing 1 connections with code 1001 (server shutdown)"
        for entry in entries
    )


async def test_token_command_prints_a_token_the_server_accepts(tmp_path: Path) -> None:
    secret = "k" * 48
    made = await run_cli(
        "token",
        "--user",
        "u1",
        "--business",
        "acme",
        "--ttl",
        "1h",
        env={"LIVEWATCH_SECRET": secret},
    )
    stdout, _ = await asyncio.wait_for(made.communicate(), 30)
    assert made.returncode == 0
    token = stdout.decode().strip()

    port = free_port()
    proc = await run_cli(
        "serve",
        "--port",
        str(port),
        "--database-path",
        str(tmp_path / "db.sqlite3"),
        env={"LIVEWATCH_SECRET": secret},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until_live(session, base)
            ws = await session.ws_connect(f"{base}/api/monitoring/ws?token={token}")
            welcome = await ws.receive_json()
            assert welcome["channels"] == ["user:u1", "business:acme", "global"]
            await ws.close()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    logs = (await proc.stderr.read()).decode()
    assert "token=REDACTED" in logs
    assert token not in logs, "tokens never appear in logs"
    assert token.split(".")[2] not in logs
    assert "OPEN MODE" not in logs


async def test_token_command_needs_the_secret() -> None:
    proc = await run_cli("token", "--user", "u1", env={"LIVEWATCH_SECRET": ""})
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "LIVEWATCH_SECRET is not set" in stderr.decode()


async def test_open_mode_says_so_loudly_and_refuses_a_public_bind(tmp_path: Path) -> None:
    proc = await run_cli("serve", "--host", "0.0.0.0", env={"LIVEWATCH_SECRET": ""})
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "0.0.0.0, which is not a loopback address" in stderr.decode()
    assert "--insecure-open" in stderr.decode()


async def wait_until_live(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(200):
        try:
            async with session.get(base + "/livez") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.05)
    raise AssertionError("the server never came up")


def test_serve_help_describes_every_flag_and_names_the_secret_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--max-connections-per-user N " in text
    assert "--allowed-origins ORIGINS comma-separated" in text
    assert "()" not in text
    assert "--node NAME this node's name" in text
    for item, spec in specs():
        if spec.env_only:
            assert env_name(item.name) in text and flag_name(item.name) not in text
        else:
            assert f"env {env_name(item.name)}" in text


def livewatch(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The livewatch command as a real process, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_token_refuses_a_short_secret_as_serve_does() -> None:
    token = livewatch("token", "--user", "u1", LIVEWATCH_SECRET="short")
    serve = livewatch("serve", "--port", "0", LIVEWATCH_SECRET="short")
    assert token.returncode == serve.returncode == 2
    assert token.stderr == serve.stderr
    assert "LIVEWATCH_SECRET is 5 characters; use at least 32" in token.stderr


def test_token_grants_channels_and_admin() -> None:
    secret = "s" * 32
    made = livewatch(
        *("token", "--user", "ops", "--channel", "deploys:*", "--channel", "builds:web"),
        "--admin",
        LIVEWATCH_SECRET=secret,
    )
    assert made.returncode == 0, made.stderr
    claims = verify_token(secret, made.stdout.strip())
    assert claims.channels == ("deploys:*", "builds:web") and claims.admin is True
    refused = livewatch(
        "token", "--user", "ops", "--channel", "deploys:x*", LIVEWATCH_SECRET=secret
    )
    assert refused.returncode == 2
    assert "--channel 'deploys:x*'" in refused.stderr
