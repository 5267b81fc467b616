"""The kernel's floor for one fan-out: plain ``socket.send`` to N loopback TCP sockets.

No server, no asyncio: the parent writes one small frame to each of N connected sockets
while a child process reads them with epoll, as the load generator does. The time one
round takes is the least any Python server on this machine can spend delivering one event
to N loopback clients, one send per client.
"""

from __future__ import annotations

import os
import select
import socket
import time
from dataclasses import dataclass

from bench.scenarios import percentile

FRAME = b"\x81\x7e\x00\xaa" + b"x" * 170


@dataclass
class Floor:
    sockets: int
    rounds: int
    p50_ms: float
    p99_ms: float
    us_per_send: float


def measure_floor(sockets: int, rounds: int = 40, gap: float = 0.05) -> Floor:
    """Time ``rounds`` fan-outs of one small frame to ``sockets`` loopback connections."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        address = listener.getsockname()
        child = os.fork()
        if child == 0:  # pragma: no cover - the reading child
            try:
                _read(address, sockets, sockets * rounds * len(FRAME))
            finally:
                os._exit(0)
        writers: list[socket.socket] = []
        durations: list[float] = []
        try:
            for _ in range(sockets):
                sock = listener.accept()[0]
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                writers.append(sock)
            time.sleep(0.3)
            for _ in range(rounds):
                began = time.perf_counter()
                for sock in writers:
                    sock.send(FRAME)
                durations.append(time.perf_counter() - began)
                time.sleep(gap)
        finally:
            for sock in writers:
                sock.close()
            os.waitpid(child, 0)
    durations.sort()
    return Floor(
        sockets,
        rounds,
        percentile(durations, 0.5) * 1000,
        percentile(durations, 0.99) * 1000,
        sum(durations) / len(durations) / sockets * 1e6,
    )


def _read(address: tuple[str, int], sockets: int, expected: int) -> None:
    readers = [socket.create_connection(address) for _ in range(sockets)]
    poller = select.epoll()
    by_fd = {}
    for sock in readers:
        sock.setblocking(False)
        poller.register(sock.fileno(), select.EPOLLIN)
        by_fd[sock.fileno()] = sock
    got = 0
    deadline = time.monotonic() + 60
    while got < expected and time.monotonic() < deadline:
        for fd, _ in poller.poll(1.0):
            data = by_fd[fd].recv(65536)
            if not data:
                poller.unregister(fd)
            got += len(data)
