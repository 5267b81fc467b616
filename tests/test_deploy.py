"""deploy/run-cluster, run as `make cluster` runs it: its own Redis, three nodes and HAProxy
from deploy/haproxy.cfg; events published through the balancer reach a subscriber connected
through it; Ctrl-C stops everything."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.cluster import ROOT, get_json, need, server_states, status_of
from tests.conftest import free_port
from tests.recovering_client import RecoveringClient

pytestmark = pytest.mark.redis

SCRIPT = ROOT / "deploy" / "run-cluster"


def exists(path: Path) -> bool:
    return path.exists()


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def test_run_cluster_serves_through_the_balancer_and_stops_on_ctrl_c() -> None:
    need("redis-server")
    need("haproxy")
    port, stats_port = free_port(), free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--port",
        str(port),
        "--stats-port",
        str(stats_port),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(90):
            while not lines or lines[-1] != "ready":
                line = await proc.stdout.readline()
                assert line, f"run-cluster ended before it was ready: {lines}"
                lines.append(line.decode().rstrip())
        printed = "\n".join(lines)
        base = f"http://127.0.0.1:{port}"
        assert f"balancer  {base}/" in printed
        node_ports = [int(p) for p in re.findall(r"node\d\s+http://127\.0\.0\.1:(\d+)/", printed)]
        assert len(node_ports) == 3, printed
        redis_port = int(re.findall(r"redis://127\.0\.0\.1:(\d+)/0", printed)[0])
        workdir = Path(re.findall(r"log (\S+)/node1\.log\)", printed)[0])
        assert exists(workdir / "node1.sqlite3")

        async with aiohttp.ClientSession() as session:
            client = RecoveringClient(session, base, ["business:acme"], reconnect=False)
            await client.start()
            seqs = []
            for n in range(10):
                async with session.post(
                    base + "/api/events",
                    json={"event": "task.started", "data": {"n": n}, "business_id": "acme"},
                ) as response:
                    assert response.status == 202, await response.text()
                    seqs.append((await response.json())["channels"]["business:acme"])
            assert seqs == list(range(1, 11))
            await client.wait_for("business:acme", 10, within=10)
            track = client.tracks["business:acme"]
            assert track.seqs == list(range(1, 11)) and track.numbers() == list(range(10))

            cluster = await get_json(session, base + "/api/monitoring/nodes")
            assert sorted((n["node"], n["state"]) for n in cluster["nodes"]) == [
                ("node1", "up"),
                ("node2", "up"),
                ("node3", "up"),
            ]
            assert await status_of(session, f"http://127.0.0.1:{stats_port}/") == 200
            for _ in range(100):  # HAProxy's first health check of each node passes
                checks = await server_states(session, stats_port)
                if set(checks.values()) == {"UP L7OK"}:
                    break
                await asyncio.sleep(0.1)
            assert checks == {"node1": "UP L7OK", "node2": "UP L7OK", "node3": "UP L7OK"}
            await client.stop()

        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            rest = (await proc.stdout.read()).decode()
            await proc.wait()
        assert proc.returncode == 0, rest
        assert rest.splitlines()[-1] == "stopped", rest
        for stopped in (port, stats_port, redis_port, *node_ports):
            assert await refused(stopped), f"port {stopped} still open after Ctrl-C"
        assert not exists(workdir), "the temporary directory is removed"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
