"""Helpers for live-socket tests through TestClient: receives with deadlines."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
from starlette.testclient import WebSocketTestSession

Message = dict[str, Any]


def receive(ws: WebSocketTestSession, timeout: float = 5.0) -> Message:
    """The next message, or a failure after `timeout` seconds (never a hang)."""

    async def get() -> Any:
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    raw = ws.portal.call(get)
    ws._raise_on_close(raw)
    message: Message = json.loads(raw["text"])
    return message


def receive_until(
    ws: WebSocketTestSession,
    done: Callable[[Message], bool],
    timeout: float = 5.0,
) -> list[Message]:
    """Every message up to and including the first for which `done` holds."""
    seen: list[Message] = []
    while True:
        message = receive(ws, timeout)
        seen.append(message)
        if done(message):
            return seen


def of_type(messages: list[Message], kind: str) -> list[Message]:
    return [m for m in messages if m["type"] == kind]


def receive_until_all(
    ws: WebSocketTestSession,
    wanted: list[Callable[[Message], bool]],
    timeout: float = 5.0,
) -> list[Message]:
    """Every message until each of `wanted` has matched one (in any order)."""
    seen: list[Message] = []
    pending = list(wanted)
    while pending:
        message = receive(ws, timeout)
        seen.append(message)
        pending = [w for w in pending if not w(message)]
    return seen
