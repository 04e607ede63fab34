"""A lane's live channel: `GET /v1/lanes/{lane}/live` (a websocket).

Lane members' inboxes and release pages update without a reload. The socket
is fed by the process's one event-log subscription (api/live/hub.py): it
taps the lane aggregate (new deliveries, audience changes) and every packet
that has delivered to the lane, and turns the few events a lane may see into
messages of its own:

- `release {lane, packet_id, release_id, revision, label, content_hash,
  manifest_hash, at}`: a release was delivered to the lane;
- `supersession {lane, packet_id, release_id, cause, successor_release_id,
  at}`: a release delivered to the lane was superseded;
- `decision {lane, packet_id, release_id, decision, reason_category, by, at}`.

Nothing else of a packet crosses (drafts, other lanes' releases, section
text). A member removed from the lane is sent `error LANE_MEMBERS_ONLY` and
the socket closes (4403). The token comes as for the packet channel: the
`token` query parameter, a Bearer header, or a first message `{type: "auth",
token}`. The client answers nothing but `ping` (-> `pong`). After
`subscribed` the client reads the inbox (GET .../inbox): whatever happened
before is there, whatever happens after comes as a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from api.live import protocol
from api.live.hub import LiveHub, Subscriber
from api.services import Services
from release.lanes import lane_aggregate_id
from workspace.accounts import Principal
from workspace.errors import AuthenticationError, NotAllowedError, NotFoundError

log = logging.getLogger(__name__)

#: A lane socket only pings; anything longer is ignored.
CLIENT_MESSAGE_MAX = 4096


@dataclass(eq=False)
class LaneTap(Subscriber):
    """One originator (the lane, or a packet) a lane socket listens to."""

    translate: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None

    def offer(self, message: dict[str, Any]) -> None:
        if self.translate is None:
            return
        for out in self.translate(message):
            super().offer(out)


class LaneSession:
    def __init__(
        self, websocket: WebSocket, services: Services, hub: LiveHub, lane_id: str
    ) -> None:
        self.ws = websocket
        self.services = services
        self.hub = hub
        self.lane_id = lane_id
        self.lane_key = str(lane_aggregate_id(lane_id))
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(
            maxsize=hub.limits.ws_queue_max
        )
        self.taps: dict[str, LaneTap] = {}
        #: (packet id, release id) of every release delivered to the lane.
        self.delivered: set[tuple[str, str]] = set()
        self.principal: Principal | None = None
        self.ending: tuple[int, str, str] | None = None

    async def run(self) -> None:
        await self.ws.accept()
        try:
            self.principal = await self._authenticate()
            self._tap(self.lane_key)  # first: nothing delivered from now is missed
            lane = await run_in_threadpool(self._lane, self.principal)
            for delivery in lane.deliveries:
                self._known(delivery["packet_id"], delivery["release_id"])
            await self._send({"type": "subscribed", "lane": lane.lane_id})
            tasks = {
                asyncio.create_task(self._send_loop()),
                asyncio.create_task(self._receive_loop()),
            }
            _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
        except _Closing as closing:
            await self._close(closing.code, closing.error_code, str(closing))
        except WebSocketDisconnect:
            pass
        finally:
            for tap in self.taps.values():
                self.hub.unsubscribe(tap)
            if self.ending is not None:
                await self._close(*self.ending)

    # ------------------------------------------------------------ set-up
    async def _authenticate(self) -> Principal:
        token = protocol.handshake_token(self.ws)
        if not token:
            try:
                first = await asyncio.wait_for(
                    self.ws.receive_text(),
                    timeout=self.hub.limits.ws_auth_timeout_seconds,
                )
            except TimeoutError:
                raise _Closing(
                    protocol.CLOSE_UNAUTHENTICATED,
                    "UNAUTHENTICATED",
                    "no token in time",
                ) from None
            message = _parse(first)
            token = message.get("token") if message else None
            if not isinstance(token, str):
                raise _Closing(
                    protocol.CLOSE_UNAUTHENTICATED,
                    "UNAUTHENTICATED",
                    'send {"type": "auth", "token": "..."} first',
                )
        try:
            return await run_in_threadpool(self.services.app.authenticate, token)
        except AuthenticationError as e:
            raise _Closing(protocol.CLOSE_UNAUTHENTICATED, e.code, e.message) from None

    def _lane(self, principal: Principal) -> Any:
        app: Any = self.services.app
        try:
            lane = app.get_lane(self.lane_id)
        except NotFoundError as e:
            raise _Closing(protocol.CLOSE_NOT_FOUND, e.code, e.message) from None
        if not lane.is_member(principal.user_id):
            error = NotAllowedError(
                "LANE_MEMBERS_ONLY",
                f"only members of lane {self.lane_id} see what is released to it",
            )
            app.record_refusal(principal, "lane_live", error.code, error.message)
            raise _Closing(protocol.CLOSE_FORBIDDEN, error.code, error.message)
        app.record_view(principal, "lane_live", detail={"lane_id": self.lane_id})
        return lane

    def _tap(self, key: str) -> None:
        if key in self.taps or self.principal is None:
            return
        tap = LaneTap(
            packet_id=key,
            principal=self.principal,
            queue=self.queue,
            on_overflow=self._overflowed,
            translate=self._translate,
        )
        self.taps[key] = tap
        self.hub.attach(tap)

    def _known(self, packet_id: str, release_id: str) -> None:
        self.delivered.add((packet_id, release_id))
        self._tap(packet_id)

    # ------------------------------------------------------ translation
    def _translate(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """On the event loop: the lane's view of one hub message."""
        if message.get("type") == "error":  # the database went away, say so
            return [message]
        if message.get("type") != "event":
            return []
        data = message.get("data") or {}
        kind = message.get("event_type")
        base = {"lane": self.lane_id, "at": message.get("at")}
        if message["packet_id"] == self.lane_key:
            if kind == "ReleaseDelivered":
                self._known(str(data["packet_id"]), str(data["release_id"]))
                fields = ("packet_id", "release_id", "revision", "label")
                more = ("content_hash", "manifest_hash")
                return [
                    {
                        "type": "release",
                        **base,
                        **{k: data.get(k) for k in fields + more},
                    }
                ]
            if kind == "MembersChanged" and self.principal is not None:
                if self.principal.user_id not in (data.get("members") or []):
                    self._end(
                        protocol.CLOSE_FORBIDDEN,
                        "LANE_MEMBERS_ONLY",
                        "you are no longer a member of this lane",
                    )
                return [{"type": "audience", **base}]
            return []
        ref = (message["packet_id"], str(data.get("release_id")))
        if ref not in self.delivered:
            return []
        common = {**base, "packet_id": ref[0], "release_id": ref[1]}
        if kind == "ReleaseSuperseded":
            return [
                {
                    "type": "supersession",
                    **common,
                    "cause": data.get("cause"),
                    "successor_release_id": data.get("successor_release_id"),
                }
            ]
        if kind == "ReleaseDecided" and data.get("lane_id") == self.lane_id:
            return [
                {
                    "type": "decision",
                    **common,
                    "decision": data.get("decision"),
                    "reason_category": data.get("reason_category"),
                    "by": message.get("actor"),
                }
            ]
        return []

    def _overflowed(self, subscriber: Subscriber) -> None:
        self._end(protocol.CLOSE_SLOW_CONSUMER, "SLOW_CONSUMER", "too far behind")

    def _end(self, code: int, error_code: str, reason: str) -> None:
        if self.ending is None:
            self.ending = (code, error_code, reason)
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait({"type": "__end__"})

    # -------------------------------------------------------------- loops
    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(protocol.encode(message))

    async def _send_loop(self) -> None:
        while True:
            message = await self.queue.get()
            if message.get("type") == "__end__" and self.ending is not None:
                ending, self.ending = self.ending, None
                await self._close(*ending)
                return
            await self._send(message)

    async def _receive_loop(self) -> None:
        while True:
            text = await self.ws.receive_text()
            if len(text) > CLIENT_MESSAGE_MAX:
                continue
            message = _parse(text)
            if message is not None and message.get("type") == "ping":
                await self._send({"type": "pong"})

    async def _close(self, code: int, error_code: str, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._send(protocol.error_message(error_code, reason))
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, reason=reason[:120])


class _Closing(Exception):
    def __init__(self, code: int, error_code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.error_code = error_code


def _parse(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
