"""HTTP middleware: idempotent POSTs (see api.idempotency for the protocol)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from api.errors import error_body
from api.idempotency import IdempotencyStore, Outcome
from api.limits import ASGIApp, Message, Receive, Scope, Send, read_body, replay
from workspace.accounts import Principal
from workspace.errors import QuireError

if TYPE_CHECKING:
    from api.services import Services

HEADER = b"idempotency-key"
KEY_MAX = 200
#: How long a loser waits for the winner's result before answering 409.
WAIT_SECONDS = 10.0


def fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"")):
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


async def send_stored(send: Send, status: int, body: Any, replayed: bool) -> None:
    # The same serialization as Starlette's JSONResponse, so a replay is
    # byte-for-byte the first answer.
    payload = json.dumps(
        body, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if replayed:
        headers.append((b"idempotency-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class IdempotencyMiddleware:
    """Makes every POST carrying an Idempotency-Key header idempotent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        services: Services | None = getattr(scope["app"].state, "services", None)
        if raw_key is None or services is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not 1 <= len(key) <= KEY_MAX or not key.isprintable():
            await send_stored(
                send,
                400,
                error_body(
                    "IDEMPOTENCY_KEY_INVALID",
                    f"Idempotency-Key is 1-{KEY_MAX} printable characters",
                ),
                replayed=False,
            )
            return
        body = await read_body(receive, 1 << 62)  # size already limited outside
        receive = replay(body, receive)
        principal = await run_in_threadpool(_principal, services, headers)
        if principal is None:  # the route answers 401 (and logs it)
            await self.app(scope, receive, send)
            return
        store = IdempotencyStore(services)
        request = f"{scope['method']} {scope['path']}"
        begun = await run_in_threadpool(
            store.begin, principal, key, fingerprint(scope, body), request
        )
        deadline = time.monotonic() + WAIT_SECONDS
        while begun.outcome == "in_flight" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            begun = await run_in_threadpool(
                store.begin, principal, key, fingerprint(scope, body), request
            )
        if begun.outcome == "claimed":
            await self._run(scope, receive, send, store, principal.user_id, key)
        elif begun.outcome == "completed":
            await send_stored(send, begun.status or 200, begun.body, replayed=True)
        else:
            await send_stored(send, *_refusal(begun.outcome), replayed=False)

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        store: IdempotencyStore,
        user_id: str,
        key: str,
    ) -> None:
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await run_in_threadpool(store.release, user_id, key, 500)
            raise
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = int(start["status"]) if start else 500
        payload = b"".join(
            m.get("body", b"") for m in messages if m["type"] == "http.response.body"
        )
        stored = _json(payload)
        if status < 500 and stored is not _NOT_JSON:
            await run_in_threadpool(store.complete, user_id, key, status, stored)
        else:
            await run_in_threadpool(store.release, user_id, key, status)
        for message in messages:
            await send(message)


_NOT_JSON = object()


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return _NOT_JSON


def _principal(services: Services, headers: dict[bytes, bytes]) -> Principal | None:
    scheme, _, token = headers.get(b"authorization", b"").decode().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return services.app.authenticate(token.strip())
    except QuireError:
        return None


def _refusal(outcome: Outcome) -> tuple[int, Any]:
    if outcome == "mismatch":
        return 422, error_body(
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for a different request",
        )
    if outcome == "stale":
        return 409, error_body(
            "IDEMPOTENCY_OUTCOME_UNKNOWN",
            "the first request with this key never finished; read the packet "
            "and retry with a new key",
        )
    return 409, error_body(
        "IDEMPOTENCY_IN_FLIGHT",
        "the first request with this key is still running; retry shortly",
    )
