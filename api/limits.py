"""Request hygiene: the body size limit, and the websocket message rate.

The body limit is enforced before any route runs: a declared Content-Length
over `settings.request_max_bytes` is refused at once, and a body sent without
one is counted as it streams in and refused as soon as it passes the limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from api.errors import audit_log, error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class LiveSettings(BaseSettings):
    """Live-channel tuning, read from QUIRE_* like every other setting."""

    model_config = SettingsConfigDict(
        env_prefix="QUIRE_", env_file=".env", extra="ignore"
    )

    #: Messages waiting for one socket before it counts as a slow consumer.
    ws_queue_max: int = 2000
    #: A presence entry lapses unless refreshed (any message) within this time.
    presence_ttl_seconds: float = 30.0
    #: How long a connecting socket may take to send its token.
    ws_auth_timeout_seconds: float = 10.0
    #: Safety poll of the event log when no notification arrives (PostgreSQL).
    feed_idle_poll_seconds: float = 1.0
    #: Poll interval of the event log on SQLite and memory (no LISTEN there).
    feed_poll_seconds: float = 0.05


async def send_json(send: Send, status: int, body: Any) -> None:
    payload = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, or BodyTooLarge once it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields an already-read body, then defers to the client."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


class BodyLimitMiddleware:
    """Refuses request bodies over `limit` bytes with 413 TOO_LARGE."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        try:
            if declared is not None and int(declared) > self.limit:
                raise BodyTooLarge
            body = await read_body(receive, self.limit)
        except BodyTooLarge:
            await self._refuse(scope, send)
            return
        except ValueError:
            await send_json(
                send,
                400,
                error_body("CONTENT_LENGTH_INVALID", "Content-Length is not a number"),
            )
            return
        await self.app(scope, replay(body, receive), send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        client = scope.get("client")
        audit_log.warning(
            "refused oversized write %s %s from %s: TOO_LARGE",
            scope["method"],
            scope["path"],
            client[0] if client else "?",
        )
        await send_json(
            send,
            413,
            error_body(
                "TOO_LARGE",
                f"the request body is over {self.limit} bytes",
                {"limit": self.limit},
            ),
        )


class RateLimiter:
    """A token bucket: `rate` messages a second on average, bursts of `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.clock = clock
        self.tokens = self.burst
        self.last = clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
