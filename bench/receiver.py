"""Receiver worker: holds many WebSocket clients in one process and times every frame.

It avoids asyncio on purpose: one epoll loop over plain non-blocking sockets costs a few
microseconds per read, so one process can watch thousands of sockets without becoming the
bottleneck it is meant to measure. Each event payload is parsed once per process (payloads
are byte-identical for every subscriber) and then looked up by its bytes.

The worker talks to the orchestrator over a multiprocessing pipe:

- it sends ``("ready", Ready)`` once all its clients are subscribed;
- ``("start", t0)``: latencies count for events published at or after t0;
- ``("max_seq",)``: answers ``("max_seq", n)``, the highest seq seen on the channel;
- ``("drop_and_recover", at, within, spread)``: at wall time ``at``, resets every client's
  socket (SO_LINGER 0 and close: a TCP RST, no close frame), then reconnects each one with a
  non-blocking connect, all at once or, with ``spread`` > 0, each after a random delay of up
  to ``spread`` seconds, and subscribes it with ``since`` = its last seq and the channel's
  epoch; answers ``("recovered", Recovery)`` once every client has its ``subscribed`` answer,
  or ``within`` seconds after the drop;
- ``("finish", last_seq, timeout)``: waits until every client has every seq up to last_seq
  (or the timeout passes), then answers ``("done", Tally)``;
- ``("close",)``: closes the clients and exits.

A client checks its seqs across a reconnect as one stream: a seq missing on either side of
the drop is a hole, one that arrives twice is a duplicate.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import random
import resource
import select
import socket
import struct
import time
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection as Pipe
from typing import Any

from bench import wsproto

# The kernel stamps each received segment (SO_TIMESTAMPNS, asm-generic value; Python 3.11 has
# no constant for it), so the time a frame reached the socket is known apart from the time
# this process got round to reading it.
SO_TIMESTAMPNS = 35
TIMESPEC = struct.Struct("@qq")
BATCH = 50  # clients handshaking at once per worker; stays under the server's listen backlog
RECV_SIZE = 256 * 1024
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a RST

# Client.stage: where a client stands in a reconnect (LIVE: not reconnecting)
LIVE, CONNECTING, UPGRADING, SUBSCRIBING = range(4)
RECOVERED = "recovered"


@dataclass(frozen=True)
class ReceiverConfig:
    host: str
    port: int
    path: str
    channel: str
    clients: int
    nice: int = 0  # added to this worker's niceness, so the server under test gets the CPU first
    handshake_timeout: float = 30.0
    query: str = ""  # the WebSocket URL's query string, e.g. "auto_subscribe=false"
    # Several servers (the nodes of one cluster): client i connects to ports[i % len(ports)].
    # A reconnect (drop_and_recover) goes to `port`.
    ports: tuple[int, ...] = ()

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass
class Ready:
    clients: int
    failed: int
    seconds: float
    errors: list[str] = field(default_factory=list)


@dataclass
class Tally:
    clients: int
    # event frames of the channel, counted from each client's subscription, or from the
    # last ("start", t0) if one came later
    received: int = 0
    missing: int = 0
    reordered: int = 0
    duplicates: int = 0
    closed: int = 0  # clients the server closed or reset
    close_codes: dict[int, int] = field(default_factory=dict)
    last_arrival: float = 0.0  # wall time of the last event frame read
    cpu_seconds: float = 0.0  # this worker's CPU between start and done
    system_seconds: float = 0.0  # the kernel's share of it
    wall_seconds: float = 0.0
    # array('d') of seconds, one per timed delivery, from publish until the frame was in our
    # socket (the kernel's receive timestamp) and until this process read it
    latencies: bytes = b""
    read_latencies: bytes = b""
    # seqs missing at clients whose reconnect did not end in `recovered: true` (included in
    # `missing`): the consequence of a failed recovery, not a loss by a recovered client
    missing_not_recovered: int = 0


@dataclass
class Recovery:
    """One worker's account of a drop_and_recover."""

    clients: int
    recovered: int = 0  # `subscribed` with recovered: true
    replayed: int = 0  # event frames received between the reconnect and `subscribed`
    dropped_first: float = 0.0  # wall time of the first and the last socket reset
    dropped_last: float = 0.0
    # clients whose reconnect ended otherwise, by reason ("too_old", "connect: ...", ...)
    failures: dict[str, int] = field(default_factory=dict)
    # array('d') per recovered client: seconds from its reset until its `subscribed` frame
    # was in the socket (kernel timestamp) and until this process read it
    seconds: bytes = b""
    read_seconds: bytes = b""
    last_live: float = 0.0  # wall time the last `subscribed` arrived, and was read
    last_live_read: float = 0.0


class Client:
    __slots__ = (
        "buf",
        "closed",
        "dropped",
        "epoch",
        "expected",
        "fd",
        "holes",
        "live",
        "live_read",
        "outcome",
        "received",
        "sock",
        "stage",
        "sub_seq",
    )

    def __init__(self, sock: socket.socket, sub_seq: int, leftover: bytes, epoch: str = "") -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.buf = leftover
        self.sub_seq = sub_seq
        self.expected = sub_seq + 1
        self.holes: set[int] = set()
        self.received = 0
        self.closed = False
        self.epoch = epoch  # the channel's epoch, from the `subscribed` answer
        self.stage = LIVE
        self.outcome = ""  # how the last reconnect ended: RECOVERED or why not
        self.dropped = 0.0  # wall time of the last reset, and of being live again
        self.live = 0.0
        self.live_read = 0.0


def raise_nofile(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(wanted, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def event_info(payload: bytes, channel: str) -> tuple[int, float] | None:
    """(seq, publish time) of an event frame on channel; None for anything else."""
    try:
        frame: dict[str, Any] = json.loads(payload)
    except ValueError:
        return None
    if frame.get("type") != "event" or frame.get("channel") != channel:
        return None
    data = frame.get("data")
    published = data.get("t") if isinstance(data, dict) else None
    if not isinstance(published, int | float):
        # Collector samples carry no publish time: use the frame's RFC 3339 timestamp (ms).
        stamp = str(frame.get("timestamp", "")).replace("Z", "+00:00")
        published = datetime.fromisoformat(stamp).timestamp()
    return int(frame["seq"]), float(published)


def open_clients(config: ReceiverConfig, errors: list[str]) -> list[Client]:
    """Connect and subscribe config.clients sockets, BATCH at a time, with blocking sockets."""
    clients: list[Client] = []
    subscribe = wsproto.masked_json({"type": "subscribe", "channel": config.channel})
    ports = config.ports or (config.port,)
    for start in range(0, config.clients, BATCH):
        socks: list[socket.socket] = []
        for index in range(start, min(start + BATCH, config.clients)):
            port = ports[index % len(ports)]
            try:
                sock = socket.create_connection(
                    (config.host, port), timeout=config.handshake_timeout
                )
            except OSError as exc:
                errors.append(f"connect: {exc}")
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(wsproto.upgrade_request(config.host, port, config.target))
            socks.append(sock)
        for sock in socks:
            try:
                rest = wsproto.read_upgrade(sock)
                sock.sendall(subscribe)
                clients.append(_await_subscribed(sock, rest, config.channel))
            except (OSError, wsproto.HandshakeError) as exc:
                errors.append(f"handshake: {exc}")
                sock.close()
    return clients


def _await_subscribed(sock: socket.socket, buf: bytes, channel: str) -> Client:
    while True:
        frames, buf = wsproto.split_frames(buf)
        for index, (opcode, payload) in enumerate(frames):
            if opcode != wsproto.OP_TEXT:
                continue
            frame = json.loads(payload)
            if frame.get("type") == "subscribed" and frame.get("channel") == channel:
                # Frames after the answer (events already) stay in the client's buffer.
                later = b"".join(_reframe(op, body) for op, body in frames[index + 1 :])
                return Client(sock, int(frame["seq"]), later + buf, str(frame.get("epoch", "")))
        chunk = sock.recv(65536)
        if not chunk:
            raise wsproto.HandshakeError("server closed before answering the subscribe")
        buf += chunk


def _reframe(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, size])
    elif size < 65536:
        head = bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big")
    return head + payload


def main(pipe: Pipe, config: ReceiverConfig) -> None:
    raise_nofile(config.clients + 64)
    if config.nice:
        os.nice(config.nice)
    began = time.monotonic()
    errors: list[str] = []
    clients = open_clients(config, errors)
    for client in clients:
        client.sock.setblocking(False)
        client.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    gc.collect()
    gc.freeze()  # nothing allocated so far needs collecting; keeps pauses out of the timings
    pipe.send(
        (
            "ready",
            Ready(len(clients), config.clients - len(clients), time.monotonic() - began, errors),
        )
    )
    try:
        Loop(pipe, config, clients).run()
    finally:
        for client in clients:
            client.sock.close()


class Loop:
    def __init__(self, pipe: Pipe, config: ReceiverConfig, clients: list[Client]) -> None:
        self.pipe = pipe
        self.config = config
        self.channel = config.channel
        self.clients = clients
        self.by_fd = {client.fd: client for client in clients}
        self.poller = select.epoll(len(clients) + 1)
        self.cache: dict[bytes, tuple[int, float] | None] = {}
        self.latencies = array("d")
        self.read_latencies = array("d")
        self.t0 = float("inf")
        self.cpu0 = 0.0
        self.sys0 = 0.0
        self.wall0 = 0.0
        self.target: int | None = None
        self.deadline = 0.0
        self.incomplete: set[Client] = set()
        self.last_arrival = 0.0
        self.close_codes: dict[int, int] = {}
        self.max_seq = max((client.sub_seq for client in clients), default=0)
        self.reordered = 0
        self.duplicates = 0
        # drop_and_recover: when to drop, then the clients not live again yet, until when
        self.drop_at: float | None = None
        self.recover_within = 0.0
        self.spread = 0.0
        self.later: list[tuple[float, Client]] = []  # reconnects to start, latest first
        self.recovering: set[Client] | None = None
        self.recover_deadline = 0.0
        self.handshaking: dict[int, Client] = {}  # fd -> client connecting or upgrading
        self.replayed = 0

    def run(self) -> None:
        poller = self.poller
        pipe_fd = self.pipe.fileno()
        poller.register(pipe_fd, select.EPOLLIN)
        for client in self.clients:
            poller.register(client.fd, select.EPOLLIN)
        for client in self.clients:  # frames that arrived with the subscribe answer
            if client.buf:
                self.consume(client, b"", time.time(), time.time())
        by_fd = self.by_fd
        handshaking = self.handshaking
        read_now = time.time
        unpack = TIMESPEC.unpack
        while True:
            timeout = self.due()
            for fd, mask in poller.poll(timeout, 4096):
                if fd == pipe_fd:
                    if not self.command(self.pipe.recv()):
                        return
                    continue
                if handshaking and fd in handshaking:
                    self.handshake(handshaking[fd], mask)
                    continue
                client = by_fd[fd]
                try:
                    data, ancillary, _, _ = client.sock.recvmsg(RECV_SIZE, 64)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    poller.unregister(fd)
                    self.lose(client)
                    continue
                now = read_now()
                arrived = now
                for level, kind, stamp in ancillary:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        seconds, nanos = unpack(stamp)
                        arrived = seconds + nanos * 1e-9
                self.consume(client, data, now, arrived)

    def due(self) -> float:
        """Act on whatever is due (a drop, an answer), then how long poll may wait (-1: no
        limit). Runs between poll batches only, so no fd is closed under a batch."""
        timeout = -1.0
        if self.drop_at is not None:
            wait = self.drop_at - time.time()
            if wait > 0:
                timeout = wait
            else:
                self.drop_at = None
                self.drop_and_reconnect()
        if self.later:
            now = time.time()
            while self.later and self.later[-1][0] <= now:
                self.reconnect(self.later.pop()[1])
            if self.later:
                wait = self.later[-1][0] - now
                timeout = wait if timeout < 0 else min(timeout, wait)
        if self.recovering is not None:
            left = self.recover_deadline - time.monotonic()
            if not self.recovering or left <= 0:
                self.give_up()
                self.pipe.send(("recovered", self.recovery()))
                self.recovering = None
            else:
                timeout = left if timeout < 0 else min(timeout, left)
        if self.target is not None:
            if not self.incomplete or time.monotonic() >= self.deadline:
                self.pipe.send(("done", self.tally()))
                self.target = None
            else:
                left = max(0.0, self.deadline - time.monotonic())
                timeout = left if timeout < 0 else min(timeout, left)
        return timeout

    def command(self, message: tuple[Any, ...]) -> bool:
        kind = message[0]
        if kind == "start":
            self.t0 = float(message[1])
            for client in self.clients:
                client.received = 0
            self.cpu0 = time.process_time()
            self.sys0 = os.times().system
            self.wall0 = time.monotonic()
            del self.latencies[:]
            del self.read_latencies[:]
        elif kind == "max_seq":
            self.pipe.send(("max_seq", self.max_seq))
        elif kind == "drop_and_recover":
            self.drop_at = float(message[1])
            self.recover_within = float(message[2])
            self.spread = float(message[3]) if len(message) > 3 else 0.0
        elif kind == "finish":
            self.target = int(message[1])
            self.deadline = time.monotonic() + float(message[2])
            self.incomplete = {client for client in self.clients if not self.complete(client)}
        elif kind == "close":
            return False
        return True

    # --- drop_and_recover -------------------------------------------------------------

    def drop_and_reconnect(self) -> None:
        """Reset every open client's socket, then start every reconnect at once (or spread
        them at random over the next ``spread`` seconds)."""
        dropping = [client for client in self.clients if not client.closed]
        for client in dropping:
            self.poller.unregister(client.fd)
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            client.sock.close()
            client.dropped = time.time()
            client.buf = b""  # a frame cut in half by the reset is gone with the socket
            client.outcome = ""
        self.by_fd.clear()
        self.recovering = set(dropping)
        self.recover_deadline = time.monotonic() + self.recover_within
        if self.spread > 0:
            now = time.time()
            starts = [(now + random.uniform(0, self.spread), client) for client in dropping]
            self.later = sorted(starts, key=lambda start: start[0], reverse=True)
            return
        for client in dropping:
            self.reconnect(client)

    def reconnect(self, client: Client) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.sock = sock
        client.fd = sock.fileno()
        client.stage = CONNECTING
        self.handshaking[client.fd] = client
        code = sock.connect_ex((self.config.host, self.config.port))
        if code == 0:
            self.poller.register(client.fd, select.EPOLLIN)
            self.send_upgrade(client)
        elif code == errno.EINPROGRESS:
            self.poller.register(client.fd, select.EPOLLOUT)
        else:
            self.fail(client, f"connect: {os.strerror(code)}", registered=False)

    def send_upgrade(self, client: Client) -> None:
        config = self.config
        request = wsproto.upgrade_request(config.host, config.port, config.target)
        client.buf = b""  # the upgrade answer gathers here
        client.stage = UPGRADING
        try:
            sent = client.sock.send(request)
        except OSError as exc:
            self.fail(client, f"upgrade: {exc.strerror or exc}")
            return
        if sent != len(request):
            self.fail(client, "upgrade: the request did not fit in the socket")

    def handshake(self, client: Client, mask: int) -> None:
        """One step of a reconnect: the connect completed, or upgrade answer bytes came."""
        sock = client.sock
        if client.stage == CONNECTING:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self.fail(client, f"connect: {os.strerror(code)}")
                return
            self.poller.modify(client.fd, select.EPOLLIN)
            self.send_upgrade(client)
            return
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail(client, f"upgrade: {exc.strerror or exc}")
            return
        if not chunk:
            self.fail(client, "upgrade: the server closed the connection")
            return
        client.buf += chunk
        if b"\r\n\r\n" not in client.buf:
            return
        head, rest = client.buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            self.fail(client, f"upgrade refused: {status.decode(errors='replace')}")
            return
        since = {"seq": client.expected - 1, "epoch": client.epoch}
        subscribe = {"type": "subscribe", "channel": self.channel, "since": since}
        try:
            sock.sendall(wsproto.masked_json(subscribe))
        except OSError as exc:
            self.fail(client, f"subscribe: {exc.strerror or exc}")
            return
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        del self.handshaking[client.fd]
        self.by_fd[client.fd] = client
        client.stage = SUBSCRIBING
        client.buf = b""
        if rest:
            now = time.time()
            self.consume(client, rest, now, now)

    def answer(self, client: Client, payload: bytes, now: float, arrived: float) -> None:
        """A frame other than an event while the client waits for its `subscribed`."""
        try:
            frame: dict[str, Any] = json.loads(payload)
        except ValueError:
            return
        kind = frame.get("type")
        if kind == "subscribed" and frame.get("channel") == self.channel:
            client.stage = LIVE
            client.live = arrived
            client.live_read = now
            client.epoch = str(frame.get("epoch", client.epoch))
            if frame.get("recovered") is True:
                client.outcome = RECOVERED
            else:
                client.outcome = str(frame.get("reason") or "no recovered flag")
        elif kind == "error":
            client.stage = LIVE
            client.outcome = f"error {frame.get('code')}: {frame.get('message')}"
        else:
            return
        if self.recovering is not None:
            self.recovering.discard(client)

    def fail(self, client: Client, reason: str, registered: bool = True) -> None:
        """A reconnect that could not complete: the client is out for the rest of the run."""
        self.handshaking.pop(client.fd, None)
        if registered:
            self.poller.unregister(client.fd)
        client.sock.close()
        client.outcome = reason
        client.stage = LIVE
        self.lose(client)
        if self.recovering is not None:
            self.recovering.discard(client)

    def give_up(self) -> None:
        """The wait is over: a client not live again by now is out for the rest of the run,
        and its missing seqs count against its failed recovery, not as losses."""
        waiting = ("not reconnected", "not connected", "no upgrade answer", "no subscribed")
        assert self.recovering is not None
        for client in list(self.recovering):
            reason = f"{waiting[client.stage]} within {self.recover_within:g} s"
            # a client whose reconnect never started still holds its reset socket, which
            # is not registered any more
            self.fail(client, reason, registered=client.stage != LIVE)
        self.later = []

    def recovery(self) -> Recovery:
        dropped = [client for client in self.clients if client.dropped]
        report = Recovery(clients=len(dropped), replayed=self.replayed)
        seconds = array("d")
        read_seconds = array("d")
        for client in dropped:
            if client.outcome == RECOVERED:
                report.recovered += 1
                seconds.append(client.live - client.dropped)
                read_seconds.append(client.live_read - client.dropped)
                report.last_live = max(report.last_live, client.live)
                report.last_live_read = max(report.last_live_read, client.live_read)
            else:
                reason = client.outcome or "no outcome"
                report.failures[reason] = report.failures.get(reason, 0) + 1
        report.dropped_first = min((c.dropped for c in dropped), default=0.0)
        report.dropped_last = max((c.dropped for c in dropped), default=0.0)
        report.seconds = seconds.tobytes()
        report.read_seconds = read_seconds.tobytes()
        return report

    # --- accounting -------------------------------------------------------------------

    def complete(self, client: Client) -> bool:
        return client.closed or (
            self.target is not None and client.expected > self.target and not client.holes
        )

    def lose(self, client: Client) -> None:
        client.closed = True
        self.incomplete.discard(client)

    def consume(self, client: Client, data: bytes, now: float, arrived: float) -> None:
        """Account for the frames in data: read by us at now, in our socket since arrived.

        The frame walk of wsproto.split_frames is inlined here: this loop runs once per
        delivered frame and the receiver, not the server, is the busier side in the cost case.
        """
        buf = client.buf + data if client.buf else data
        end = len(buf)
        pos = 0
        cache = self.cache
        latencies = self.latencies
        read_latencies = self.read_latencies
        t0 = self.t0
        while end - pos >= 2:
            size = buf[pos + 1] & 0x7F
            head = 2
            if size == 126:
                if end - pos < 4:
                    break
                size = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif size == 127:
                if end - pos < 10:
                    break
                size = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            stop = pos + head + size
            if stop > end:
                break
            opcode = buf[pos] & 0x0F
            payload = buf[pos + head : stop]
            pos = stop
            if opcode == wsproto.OP_TEXT:
                if payload in cache:
                    info = cache[payload]
                else:
                    info = cache[payload] = event_info(payload, self.channel)
                if info is None:
                    if client.stage:
                        self.answer(client, payload, now, arrived)
                    continue
                seq, published = info
                if client.stage:
                    self.replayed += 1
                if seq == client.expected:
                    client.expected = seq + 1
                elif seq > client.expected:
                    client.holes.update(range(client.expected, seq))
                    client.expected = seq + 1
                elif seq in client.holes:
                    client.holes.discard(seq)
                    self.reordered += 1
                else:
                    self.duplicates += 1
                    continue
                client.received += 1
                if seq > self.max_seq:
                    self.max_seq = seq
                if published >= t0:
                    latencies.append(arrived - published)
                    read_latencies.append(now - published)
                self.last_arrival = now
            elif opcode == wsproto.OP_PING:
                client.sock.send(wsproto.masked_frame(wsproto.OP_PONG, payload))
            elif opcode == wsproto.OP_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.close_codes[code] = self.close_codes.get(code, 0) + 1
                self.lose(client)
        client.buf = buf[pos:] if pos < end else b""
        if client in self.incomplete and self.complete(client):
            self.incomplete.discard(client)

    def tally(self) -> Tally:
        target = self.target or 0
        tally = Tally(clients=len(self.clients))
        for client in self.clients:
            missing = len(client.holes) + max(0, target - (client.expected - 1))
            tally.received += client.received
            tally.missing += missing
            tally.closed += client.closed
            if client.outcome not in ("", RECOVERED):
                tally.missing_not_recovered += missing
        tally.reordered = self.reordered
        tally.duplicates = self.duplicates
        tally.close_codes = dict(self.close_codes)
        tally.last_arrival = self.last_arrival
        tally.cpu_seconds = time.process_time() - self.cpu0
        tally.system_seconds = os.times().system - self.sys0
        tally.wall_seconds = time.monotonic() - self.wall0
        tally.latencies = self.latencies.tobytes()
        tally.read_latencies = self.read_latencies.tobytes()
        return tally
