"""Request hygiene: the body size limit, clean input, and the websocket rate.

The body limit is enforced before any route runs: a declared Content-Length
over `settings.request_max_bytes` is refused, and a body sent without one is
counted as it streams in and refused as soon as it passes the limit. Either
way the rest of the body is read and discarded (up to `DRAIN_MAX_BYTES`)
before the 413 is sent, as nginx's lingering close does: a server that
answers and closes while the client is still sending makes the client's
kernel see a reset instead of the answer.

Clean input (`clean_input`, an app-wide dependency, and `check_json` for the
live channel): every string in every JSON body and live message, keys too,
and every query and path parameter, is refused when it holds a NUL
(`TEXT_HAS_NUL`) or a lone UTF-16 surrogate (`TEXT_HAS_SURROGATE`; JSON's
`"\\ud800"` escape decodes to one), and a body nested deeper than
`MAX_DEPTH` is refused with `BODY_TOO_DEEP`. All 400, nothing written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import HTTPConnection

from api.errors import JSON_MAX_DEPTH, audit_log, error_body
from workspace.domain import text_fault
from workspace.errors import InvalidInputError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

#: How deep a JSON body or live message may nest (objects and lists).
MAX_DEPTH = JSON_MAX_DEPTH
#: How much of an oversized body is read and thrown away before the 413.
DRAIN_MAX_BYTES = 64 * 1024 * 1024
#: ...and for how long at most.
DRAIN_SECONDS = 10.0


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


def check_json(value: Any, where: str = "body") -> None:
    """Refuses (InvalidInputError) bad characters anywhere in parsed JSON, and
    nesting deeper than MAX_DEPTH. Iterative: no recursion on hostile input."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, path or where)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise InvalidInputError(
                    "BODY_TOO_DEEP",
                    f"the {where} nests deeper than {MAX_DEPTH} levels",
                    {"limit": MAX_DEPTH},
                )
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str):
                    _check_text(key, path or where, part="key")
                stack.append((child, f"{path}.{key}" if path else str(key), depth + 1))


def _check_text(text: str, at: str, part: str = "value") -> None:
    fault = text_fault(text)
    if fault is None:
        return
    what = "a NUL" if fault == "TEXT_HAS_NUL" else "a lone UTF-16 surrogate"
    # `at` names where; a key's own bad characters are not echoed back.
    if text_fault(at) is not None:
        at = "?"
    raise InvalidInputError(
        fault, f"{at} holds {what}, which no store keeps", {"at": at, "part": part}
    )


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI reads a body without a content type as JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def clean_input(connection: HTTPConnection) -> None:
    """App-wide dependency: query and path parameters and the JSON body hold
    no NUL and no lone surrogate, and the body nests at most MAX_DEPTH.

    FastAPI parses a route's JSON body before its dependencies run, and
    `Request.json()` keeps what it parsed, so the body is parsed once. A body
    that is not JSON is left to FastAPI (MALFORMED_JSON, see api.errors).
    """
    if connection.scope["type"] != "http":
        return
    for name, raw in connection.path_params.items():
        if isinstance(raw, str):
            _check_text(raw, f"path.{name}")
    for name, raw in connection.query_params.multi_items():
        _check_text(name, "query", part="key")
        _check_text(raw, f"query.{name}")
    if not isinstance(connection, Request) or connection.method not in BODY_METHODS:
        return
    if not await connection.body() or not _is_json(
        connection.headers.get("content-type")
    ):
        return
    try:
        parsed = await connection.json()
    except (ValueError, RecursionError):
        return  # not JSON: the route refuses it, or never reads it
    check_json(parsed)


class BodyTooLarge(Exception):
    """The body passed the limit; `finished` when the client sent all of it."""

    def __init__(self, finished: bool = False) -> None:
        super().__init__("request body too large")
        self.finished = finished


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
            raise BodyTooLarge(finished=not message.get("more_body", False))
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def drain(receive: Receive) -> None:
    """Reads and discards the rest of a request body, up to DRAIN_MAX_BYTES
    or DRAIN_SECONDS, so the client has sent it all before it is answered."""
    read = 0

    async def discard() -> None:
        nonlocal read
        while read <= DRAIN_MAX_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(discard(), DRAIN_SECONDS)


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
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        try:
            if declared is not None and int(declared) > self.limit:
                raise BodyTooLarge
            body = await read_body(receive, self.limit)
        except BodyTooLarge as too_large:
            # A client waiting on `Expect: 100-continue` has sent no body yet
            # and sends none once it sees the 413: nothing to drain.
            expecting = headers.get(b"expect", b"").lower() == b"100-continue"
            hopeless = declared is not None and int(declared) > DRAIN_MAX_BYTES
            if not (too_large.finished or expecting or hopeless):
                await drain(receive)
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
