"""The work behind the `livewatch tail` and `livewatch publish` commands.

Events go to stdout as JSON lines; notices (a gap that could not be recovered, the
connection's ups and downs) go to stderr, also as JSON lines, so both streams stay
machine-readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from livewatch_client.client import Client
from livewatch_client.exceptions import (
    LivewatchError,
    NotRecovered,
    RequestError,
    SubscriptionError,
    Unavailable,
)

EXIT_OK = 0
EXIT_FAILED = 1  # the server could not be reached
EXIT_REFUSED = 2  # the server refused the request (or the input was bad)


def write_line(stream: TextIO, payload: Mapping[str, Any]) -> None:
    stream.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")
    stream.flush()


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {"notice": "log", "level": record.levelname.lower(), "message": record.getMessage()},
            ensure_ascii=False,
            separators=(",", ":"),
        )


@contextlib.contextmanager
def client_log_to(stream: TextIO) -> Iterator[None]:
    """Send the client's log (connects, drops, retries) to stream as JSON lines."""
    logger = logging.getLogger("livewatch_client")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def not_recovered_notice(gap: NotRecovered) -> dict[str, Any]:
    return {
        "notice": "not_recovered",
        "channel": gap.channel,
        "reason": str(gap.reason),
        "seq": gap.position.seq,
        "epoch": gap.position.epoch,
        "message": f"events of {gap.channel} were missed and could not be recovered "
        f"({gap.reason}); continuing after seq {gap.position.seq}",
    }


async def follow(
    client: Client,
    channel: str,
    since: int | None,
    last: int | None,
    out: TextIO,
    err: TextIO,
) -> None:
    async with client.subscribe(channel, since=since, last=last) as sub:
        while True:
            try:
                async for event in sub:
                    write_line(out, event.as_dict())
                return
            except NotRecovered as gap:
                write_line(err, not_recovered_notice(gap))


async def tail(
    url: str,
    channels: list[str],
    *,
    token: str | None,
    since: int | None,
    last: int | None,
    out: TextIO,
    err: TextIO,
    **options: Any,
) -> int:
    """Print the channels' events until SIGINT or SIGTERM (exit 0), reconnecting and
    recovering as long as it takes. `options` go to Client (delays, timeouts)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, stop.set)
    try:
        with client_log_to(err):
            async with Client(url, token, **options) as client:
                followers = [
                    asyncio.create_task(follow(client, channel, since, last, out, err))
                    for channel in channels
                ]
                stopped = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait(
                    [*followers, stopped], return_when=asyncio.FIRST_COMPLETED
                )
                for task in [*followers, stopped]:
                    task.cancel()
                await asyncio.gather(*followers, stopped, return_exceptions=True)
                for task in done:
                    if task is not stopped and not task.cancelled():
                        error = task.exception()
                        if error is not None:
                            return failure(error, err)
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
    return EXIT_OK


def failure(error: BaseException, err: TextIO) -> int:
    if isinstance(error, BrokenPipeError):
        return EXIT_OK  # the reader went away (`livewatch tail ... | head`)
    if not isinstance(error, LivewatchError):
        raise error
    err.write(f"livewatch: {error}\n")
    err.flush()
    if isinstance(error, RequestError | SubscriptionError):
        return EXIT_REFUSED
    return EXIT_FAILED


async def publish(
    url: str,
    event: str,
    data: Mapping[str, Any],
    *,
    publish_key: str | None,
    business_id: str | None,
    user_id: str | None,
    channel: str | None,
    out: TextIO,
    err: TextIO,
    **options: Any,
) -> int:
    """Publish one event; print the server's answer as JSON."""
    async with Client(url, publish_key=publish_key, **options) as client:
        try:
            answer = await client.publish(
                event, data, business_id=business_id, user_id=user_id, channel=channel
            )
        except RequestError as exc:
            field = f" (field '{exc.field}')" if exc.field else ""
            err.write(
                f"livewatch: the server refused the event: {exc.error}{field} [HTTP {exc.status}]\n"
            )
            return EXIT_REFUSED
        except Unavailable as exc:
            err.write(f"livewatch: {exc}\n")
            return EXIT_FAILED
    write_line(out, answer.as_dict())
    return EXIT_OK
