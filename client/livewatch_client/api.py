"""The HTTP side: publishing events and reading channel history, with retries.

A request is retried, after a backoff delay, on a connection error, a timeout or a 5xx
answer, and never on a 4xx, which raises RequestError with the server's reason. A publish
carries one Idempotency-Key over all its attempts, so a retry whose first attempt did
reach the server (only its answer was lost) gets the first answer instead of publishing
the event a second time.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from livewatch_client.backoff import Backoff
from livewatch_client.codes import IDEMPOTENCY_HEADER, REPLAYED_HEADER
from livewatch_client.events import History, Published
from livewatch_client.exceptions import RequestError, Unavailable

T = TypeVar("T")


class _Retry(Exception):
    """This attempt failed in a way another attempt may not."""


def endpoint(base: str, *segments: str) -> str:
    """base (scheme://host[:port][/prefix]) joined with path segments, each quoted."""
    return "/".join([base.rstrip("/"), *(quote(segment, safe=":@") for segment in segments)])


async def json_answer(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The JSON object of an answer, or {} if its body is not one."""
    text = await response.text()
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def refusal(
    status: int,
    body: Mapping[str, Any],
    reason: str | None,
    kind: type[RequestError] = RequestError,
) -> RequestError:
    """The error a refusal's JSON body ({"error", "field"}) describes, else `reason`."""
    error = body.get("error")
    field = body.get("field")
    return kind(
        status,
        error if isinstance(error, str) else (reason or "refused"),
        field if isinstance(field, str) else None,
    )


class Api:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base: str,
        backoff: Backoff,
        *,
        token: str | None,
        publish_key: str | None,
        attempts: int,
        timeout: float,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._session = session
        self._base = base
        self.backoff = backoff
        self._token = token
        self._publish_key = publish_key
        self._attempts = attempts
        self._timeout = timeout

    async def publish(
        self,
        event: str,
        data: Mapping[str, Any],
        *,
        channel: str | None = None,
        business_id: str | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Published:
        body: dict[str, Any] = {"event": event, "data": dict(data)}
        for name, value in (
            ("business_id", business_id),
            ("user_id", user_id),
            ("channel", channel),
        ):
            if value is not None:
                body[name] = value
        # Encoded once: every attempt sends the very same bytes under the same key.
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: idempotency_key or uuid.uuid4().hex,
        }
        if self._publish_key is not None:
            headers["Authorization"] = f"Bearer {self._publish_key}"
        url = endpoint(self._base, "api", "events")

        async def attempt() -> Published:
            async with self._session.post(url, data=payload, headers=headers) as response:
                answer = await self._check(response, 202)
                replayed = response.headers.get(REPLAYED_HEADER) == "true"
            return Published.from_wire(answer, replayed)

        return await self._retrying(f"publishing {event}", attempt)

    async def history(self, channel: str, since: int | None, limit: int | None) -> History:
        params: dict[str, str] = {}
        if since is not None:
            params["since"] = str(since)
        if limit is not None:
            params["limit"] = str(limit)
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        url = endpoint(self._base, "api", "channels", channel, "history")

        async def attempt() -> History:
            async with self._session.get(url, params=params, headers=headers) as response:
                return History.from_wire(await self._check(response, 200))

        return await self._retrying(f"reading the history of {channel}", attempt)

    async def _check(self, response: aiohttp.ClientResponse, expected: int) -> dict[str, Any]:
        body = await json_answer(response)
        if response.status >= 500:
            raise _Retry(f"HTTP {response.status}")
        if response.status != expected:
            raise refusal(response.status, body, response.reason)
        return body

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        last = ""
        cause: BaseException | None = None
        for number in range(self._attempts):
            if number:
                await asyncio.sleep(self.backoff.delay(number - 1))
            try:
                async with asyncio.timeout(self._timeout):
                    return await attempt()
            except _Retry as exc:
                last, cause = str(exc), exc
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                last, cause = f"{type(exc).__name__}: {exc}", exc
            except TimeoutError as exc:
                last, cause = f"no answer within {self._timeout:g} s", exc
        raise Unavailable(what, self._attempts, last) from cause
