"""A request id on every request, and on every log line written for it.

The id comes from the incoming `X-Request-Id` header when it is a sane token
(1 to 128 characters of `[A-Za-z0-9._-]`: nginx's `$request_id` is 32 hex
digits, see deploy/nginx/quire.conf), else a new one is made. It is echoed in
the response's `X-Request-Id` header (and on a websocket's handshake answer)
and bound to a context variable for the whole request: the tasks and threads
the request starts copy the context, so the live channel's log lines carry
the id of the upgrade request that opened their socket. `api.logging_config`
adds it to every record.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Any

HEADER = b"x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,128}")

#: The current request's id ("" outside a request).
current_request_id: ContextVar[str] = ContextVar("quire_request_id", default="")


def sane(value: str) -> bool:
    return _SANE.fullmatch(value) is not None


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_of(headers: list[tuple[bytes, bytes]] | Any) -> str:
    """The sane `X-Request-Id` among ASGI headers, or a new id."""
    for name, value in headers or ():
        if name.lower() == HEADER:
            text = value.decode("latin-1")
            if sane(text):
                return text
            break
    return new_request_id()


class RequestIdMiddleware:
    """ASGI middleware (outermost): binds the id, echoes it in the answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope.get("headers"))
        scope.setdefault("state", {})["request_id"] = request_id
        token = current_request_id.set(request_id)
        header = (HEADER, request_id.encode("ascii"))

        async def send_with_id(message: Any) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = [
                    (k, v)
                    for k, v in message.get("headers") or ()
                    if k.lower() != HEADER
                ]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
