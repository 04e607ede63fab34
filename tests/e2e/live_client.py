"""A small live-channel client over real websockets (the `websockets` library),
for end-to-end tests and the benchmark."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

Message = dict[str, Any]


class LiveClient:
    """One socket: every message it received is kept, in arrival order
    (unless `keep` is false: the benchmark's clients only read `inbox`)."""

    def __init__(self, ws: ClientConnection, keep: bool = True) -> None:
        self.ws = ws
        self.keep = keep
        self.history: list[Message] = []
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.closed: asyncio.Future[tuple[int | None, str]] = (
            asyncio.get_running_loop().create_future()
        )
        self.reader = asyncio.create_task(self._read())
        self.subscribed_version = -1

    @classmethod
    async def open(
        cls,
        ws_base: str,
        packet_id: str,
        token: str,
        since: int | None = None,
        timeout: float = 10.0,
        keep: bool = True,
    ) -> LiveClient:
        query = f"token={token}" + (f"&since={since}" if since is not None else "")
        ws = await connect(
            f"{ws_base}/v1/packets/{packet_id}/live?{query}",
            open_timeout=timeout,
            max_queue=None,
            compression=None,
        )
        client = cls(ws, keep)
        first = await client.next(timeout)
        if first["type"] != "subscribed":
            raise AssertionError(f"expected 'subscribed', got {first}")
        client.subscribed_version = first["version"]
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if self.keep:
                    self.history.append(message)
                self.inbox.put_nowait(message)
        except Exception:  # a dropped connection ends the reader
            pass
        finally:
            if not self.closed.done():
                self.closed.set_result((self.ws.close_code, self.ws.close_reason or ""))

    async def send(self, message: Message) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self, timeout: float = 10.0) -> Message:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def until(
        self, done: Callable[[Message], bool], timeout: float = 15.0
    ) -> list[Message]:
        """Consumes messages up to the first for which `done` holds."""
        seen: list[Message] = []
        deadline = time.monotonic() + timeout
        while True:
            message = await self.next(max(0.01, deadline - time.monotonic()))
            seen.append(message)
            if done(message):
                return seen

    def events(self) -> list[Message]:
        return [m for m in self.history if m["type"] == "event"]

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


def op(
    section_id: str,
    base_version: int,
    ops: list[dict[str, Any]] | None = None,
    *,
    text: str | None = None,
    client_id: str,
    client_seq: int,
) -> Message:
    message: Message = {
        "type": "op",
        "section_id": section_id,
        "base_version": base_version,
        "client_id": client_id,
        "client_seq": client_seq,
    }
    if text is not None:
        message["text"] = text
    else:
        message["ops"] = ops or []
    return message


def answer_to(client_seq: int) -> Callable[[Message], bool]:
    return lambda m: (
        m["type"] in ("ack", "conflict", "error") and m.get("client_seq") == client_seq
    )


async def presence_handover(a: LiveClient, b: LiveClient) -> list[Message]:
    """`a` says it is editing sec-1 then leaves; what `b` saw of both (the
    presence, then the leave): presence crosses processes, however reached."""
    await a.send({"type": "presence", "section_id": "sec-1", "state": "editing"})
    seen = await b.until(
        lambda m: (
            m["type"] == "presence" and m["user"] == "ben" and m["state"] == "editing"
        )
    )
    await a.close()
    left = await b.until(lambda m: m["type"] == "presence_leave" and m["user"] == "ben")
    await b.close()
    return [seen[-1], left[-1]]
