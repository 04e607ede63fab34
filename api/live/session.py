"""One live socket: authenticate, join the stream, replay, then serve.

Resume without gaps or duplicates: the socket joins the hub first (live
events start to queue), then reads the packet's current version V, sends
`subscribed {version: V}`, replays every stored event after `since` up to V,
and only then drains the live queue, skipping any event it has already sent
(by version) and filling from the store any gap between the last event sent
and the next live one. So every event after `since` is sent exactly once, in
version order, whichever process wrote it.

A database outage is never an INTERNAL_ERROR here: an op it stops is answered
`DATABASE_UNAVAILABLE` with `reconnect: true` (the socket stays open and the
stream resumes when the database returns: the hub's feed reconnects and
catches up); a socket that cannot set up or fill a gap from the store is sent
that error and closed with 1013 (Try Again Later), to reconnect with `since=`.

On a graceful shutdown (LiveHub.drain) the socket refuses new edits with
`SERVICE_RESTART` (`reconnect: true`), answers the edits it already took,
then sends `SERVICE_RESTART` and closes with 1012: an acknowledged edit is
saved, and an edit that was not answered was not taken (resend it, same
client_seq, after reconnecting).

Three tasks per socket: the receiver (reads client messages, rate-limits
them, answers `ping`, records presence), the editor (applies `op` messages
one after another, in a thread, and queues `ack` or `conflict`), and the
sender (the only task that writes to the socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from api.errors import DATABASE_ERRORS, record_refusal
from api.limits import RateLimiter, check_json
from api.live import protocol
from api.live.hub import PRESENCE_STATES, LiveHub, Subscriber
from api.schemas import LiveOp, LivePresence
from api.services import Services
from workspace.accounts import Principal
from workspace.application import EditOutcome, EditRequest
from workspace.errors import (
    AuthenticationError,
    EditConflictError,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    QuireError,
)

log = logging.getLogger(__name__)

REPLAY_PAGE = 500

#: Put on a socket's queue by `restart`: the sender closes after what is before it.
_RESTART = {"type": "__restart__"}


class Closing(Exception):
    """Ends the socket: an `error` message, then a close frame with `code`."""

    def __init__(
        self,
        code: int,
        reason: str,
        error_code: str | None = None,
        message: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.error_code = error_code or CLOSE_NAMES.get(code, "CLOSING")
        self.message = message or protocol.error_message(self.error_code, reason)

    @classmethod
    def unavailable(cls, exc: BaseException) -> Closing:
        """The database is unavailable: the error (reconnect), then 1013."""
        log.warning(
            "live socket closed, database unavailable: %s: %s", type(exc).__name__, exc
        )
        message = protocol.unavailable_message()
        return cls(
            protocol.CLOSE_TRY_AGAIN_LATER,
            "the database is unavailable; reconnect later",
            "DATABASE_UNAVAILABLE",
            message,
        )

    @classmethod
    def restart(cls) -> Closing:
        """The server is shutting down: reconnect (to another process)."""
        reason = "the server is restarting; reconnect with since="
        return cls(
            protocol.CLOSE_SERVICE_RESTART,
            reason,
            "SERVICE_RESTART",
            protocol.restart_message(),
        )


CLOSE_NAMES = {
    protocol.CLOSE_UNAUTHENTICATED: "UNAUTHENTICATED",
    protocol.CLOSE_FORBIDDEN: "FORBIDDEN",
    protocol.CLOSE_NOT_FOUND: "NOT_FOUND",
    protocol.CLOSE_BAD_REQUEST: "BAD_REQUEST",
    protocol.CLOSE_SLOW_CONSUMER: "SLOW_CONSUMER",
}


class LiveSession:
    def __init__(
        self, websocket: WebSocket, services: Services, hub: LiveHub, packet_id: str
    ) -> None:
        self.ws = websocket
        self.services = services
        self.hub = hub
        self.packet_id = packet_id
        self.principal: Principal | None = None
        self.subscriber: Subscriber | None = None
        self.ops: asyncio.Queue[LiveOp] = asyncio.Queue(maxsize=100)
        self.last_sent = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.closing: Closing | None = None
        self.abort: asyncio.Task[None] | None = None
        settings = services.settings
        self.limiter = RateLimiter(
            settings.ws_max_messages_per_second,
            burst=max(1.0, settings.ws_max_messages_per_second),
        )
        self.max_bytes = settings.request_max_bytes
        #: Ops taken (queued for the editor) and not yet answered.
        self.unanswered = 0
        self.answered = asyncio.Event()
        self.answered.set()
        self.done = asyncio.Event()

    # ---------------------------------------------------------------- main
    async def run(self) -> None:
        self.hub.sessions.add(self)
        try:
            await self._run()
        finally:
            self.hub.sessions.discard(self)
            self.done.set()

    async def restart(self) -> None:
        """Graceful shutdown of this socket (see LiveHub.drain)."""
        await self.answered.wait()
        subscriber = self.subscriber
        if subscriber is not None and not self.done.is_set():
            try:  # behind every answer already queued
                subscriber.queue.put_nowait(_RESTART)
            except asyncio.QueueFull:
                self._end(Closing.restart())
        await self.done.wait()

    async def _run(self) -> None:
        if self.hub.shutting_down:
            await self.ws.close(code=protocol.CLOSE_SERVICE_RESTART)
            return
        await self.ws.accept()
        try:
            self.principal = await self._authenticate()
            since = self._since()
            packet_uuid = await self._check_access()
            self.subscriber = self.hub.subscribe(
                self.packet_id, self.principal, self._overflowed
            )
            current = await run_in_threadpool(self._current_version, packet_uuid)
            if since > current:
                raise Closing(
                    protocol.CLOSE_BAD_REQUEST,
                    f"since={since} is after the packet's version {current}",
                )
            self.hub.set_presence(self.subscriber, None, "viewing")
            log.info(
                "live socket opened: packet %s, user %s, since %s",
                self.packet_id,
                self.principal.user_id,
                since,
            )
            if self.hub.shutting_down:
                raise Closing.restart()
            self.tasks = [
                asyncio.create_task(self._send_loop(packet_uuid, since, current)),
                asyncio.create_task(self._edit_loop()),
            ]
            await self._receive_loop()
        except Closing as closing:
            await self._close(closing)
        except DATABASE_ERRORS as exc:  # setting up needs the database
            await self._close(Closing.unavailable(exc))
        except WebSocketDisconnect:
            pass
        finally:
            for task in self.tasks:
                task.cancel()
            for task in self.tasks:
                with contextlib.suppress(BaseException):
                    await task
            if self.subscriber is not None:
                self.hub.unsubscribe(self.subscriber)
            if self.closing is not None:
                await self._close(self.closing)
            if self.principal is not None:
                log.info("live socket closed: packet %s", self.packet_id)

    async def _close(self, closing: Closing) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.ws.send_text(protocol.encode(closing.message)),
                timeout=1.0,
            )
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.ws.close(code=closing.code, reason=closing.reason[:120]),
                timeout=1.0,
            )

    # ------------------------------------------------------- set-up steps
    async def _authenticate(self) -> Principal:
        token = protocol.handshake_token(self.ws)
        if not token:
            try:
                first = await asyncio.wait_for(
                    self._receive_text(),
                    timeout=self.hub.limits.ws_auth_timeout_seconds,
                )
            except TimeoutError:
                raise Closing(
                    protocol.CLOSE_UNAUTHENTICATED, "no token was sent in time"
                ) from None
            message = _parse(first)
            if message is None or message.get("type") not in ("auth", "token"):
                raise Closing(
                    protocol.CLOSE_UNAUTHENTICATED,
                    'send {"type": "auth", "token": "..."} first',
                )
            token = message.get("token")
            if not isinstance(token, str):
                raise Closing(protocol.CLOSE_UNAUTHENTICATED, "the token is missing")
        try:
            return await run_in_threadpool(self.services.app.authenticate, token)
        except AuthenticationError as e:
            raise Closing(protocol.CLOSE_UNAUTHENTICATED, e.message, e.code) from None

    def _since(self) -> int:
        raw = self.ws.query_params.get("since")
        if raw is None:
            return -1
        try:
            since = int(raw)
        except ValueError:
            raise Closing(
                protocol.CLOSE_BAD_REQUEST, "since must be a version number"
            ) from None
        if since < 0:
            raise Closing(protocol.CLOSE_BAD_REQUEST, "since must be 0 or more")
        return since

    async def _check_access(self) -> UUID:
        principal = self.principal
        if principal is None:
            raise Closing(protocol.CLOSE_UNAUTHENTICATED, "not authenticated")
        app = self.services.app
        try:
            packet = await run_in_threadpool(app.read_packet, principal, self.packet_id)
        except NotFoundError as e:
            raise Closing(protocol.CLOSE_NOT_FOUND, e.message, e.code) from None
        except NotAllowedError as e:
            raise Closing(protocol.CLOSE_FORBIDDEN, e.message, e.code) from None
        if principal.is_auditor:
            await run_in_threadpool(
                app.record_view, principal, "live", packet_id=self.packet_id
            )
        packet_uuid: UUID = packet.id
        # The hub keys packets by their canonical id.
        self.packet_id = str(packet_uuid)
        return packet_uuid

    def _current_version(self, packet_uuid: UUID) -> int:
        version: int = self.services.app.get_packet(packet_uuid).version
        return version

    # -------------------------------------------------------------- sender
    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(protocol.encode(message))

    async def _send_loop(self, packet_uuid: UUID, since: int, current: int) -> None:
        await self._send({"type": "subscribed", "version": current})
        if self.subscriber is not None:
            for entry in self.hub.presence_of(self.packet_id):
                if entry["conn"] != self.subscriber.conn_id:
                    await self._send(entry)
        self.last_sent = current if since < 0 else since
        try:
            await self._replay(packet_uuid, current)
            subscriber = self.subscriber
            if subscriber is None:
                return
            while True:
                message = await subscriber.queue.get()
                if message is _RESTART:
                    self._end(Closing.restart())
                    return
                if message["type"] == "event":
                    version = message["version"]
                    if version <= self.last_sent:
                        continue  # already sent by the replay
                    if version > self.last_sent + 1:
                        await self._replay(packet_uuid, version - 1)
                    self.last_sent = version
                await self._send(message)
        except DATABASE_ERRORS as exc:
            # A gap this socket cannot fill now: the client resumes it later
            # with since= (every event after it is sent exactly once).
            self._end(Closing.unavailable(exc))

    async def _replay(self, packet_uuid: UUID, upto: int) -> None:
        """Sends the stored events after `last_sent` up to `upto`, in pages."""
        while self.last_sent < upto:
            lte = min(upto, self.last_sent + REPLAY_PAGE)
            page = await run_in_threadpool(
                self._stored_events, packet_uuid, self.last_sent, lte
            )
            for message in page:
                await self._send(message)
                self.last_sent = message["version"]
            if not page:
                break

    def _stored_events(
        self, packet_uuid: UUID, gt: int, lte: int
    ) -> list[dict[str, Any]]:
        return [
            protocol.event_message(e)
            for e in self.services.app.events.get(packet_uuid, gt=gt, lte=lte)
        ]

    def _overflowed(self, subscriber: Subscriber) -> None:
        """The hub could not queue another message: disconnect this socket."""
        log.warning(
            "disconnecting slow live consumer %s on packet %s",
            subscriber.principal.user_id,
            subscriber.packet_id,
        )
        self._end(
            Closing(
                protocol.CLOSE_SLOW_CONSUMER,
                "slow consumer: too many undelivered messages; reconnect with since=",
            )
        )

    def _end(self, closing: Closing) -> None:
        """Closes the socket from one of its tasks (or a hub callback)."""
        self.closing = closing
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        self.abort = asyncio.get_running_loop().create_task(self._abort())

    async def _abort(self) -> None:
        closing = self.closing
        if closing is not None:
            self.closing = None
            await self._close(closing)

    # ------------------------------------------------------------ receiver
    async def _receive_text(self) -> str:
        """The next client message; binary frames are read as UTF-8 text."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        if message.get("text") is not None:
            text: str = message["text"]
            return text
        return bytes(message.get("bytes") or b"").decode("utf-8", errors="replace")

    async def _receive_loop(self) -> None:
        while True:
            raw = await self._receive_text()
            subscriber = self.subscriber
            if subscriber is None:
                return
            self.hub.touch(subscriber)
            if len(raw) > self.max_bytes or len(raw.encode()) > self.max_bytes:
                await self._queue(
                    protocol.error_message(
                        "TOO_LARGE",
                        f"the message is over {self.max_bytes} bytes",
                        limit=self.max_bytes,
                    )
                )
                continue
            message = _parse(raw)
            if message is None:
                await self._queue(
                    protocol.error_message(
                        "MALFORMED_JSON", "a message is one JSON object"
                    )
                )
                continue
            try:
                check_json(message, where="message")
            except InvalidInputError as e:
                if message.get("type") == "op":
                    await self._refused(e)
                await self._queue(
                    protocol.error_message(
                        e.code, e.message, client_seq=_seq(message), details=e.details
                    )
                )
                continue
            if not self.limiter.allow():
                await self._queue(
                    protocol.error_message(
                        "RATE_LIMITED",
                        "too many messages; this one was dropped (resend later)",
                        client_seq=_seq(message),
                    )
                )
                continue
            await self._handle(subscriber, message)

    async def _handle(self, subscriber: Subscriber, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ping":
            await self._queue({"type": "pong"})
        elif kind == "op" and self.hub.shutting_down:
            await self._queue(protocol.restart_message(_seq(message)))
        elif kind == "op":
            try:
                op = LiveOp.model_validate(message)
            except ValidationError as e:
                await self._queue(
                    protocol.error_message(
                        "INVALID_MESSAGE", _summary(e), client_seq=_seq(message)
                    )
                )
                return
            try:
                self.ops.put_nowait(op)
                self.unanswered += 1
                self.answered.clear()
            except asyncio.QueueFull:
                await self._queue(
                    protocol.error_message(
                        "RATE_LIMITED",
                        "too many edits waiting; this one was dropped",
                        client_seq=op.client_seq,
                    )
                )
        elif kind == "presence":
            try:
                presence = LivePresence.model_validate(message)
            except ValidationError as e:
                await self._queue(
                    protocol.error_message("INVALID_MESSAGE", _summary(e))
                )
                return
            if presence.state not in PRESENCE_STATES:
                await self._queue(
                    protocol.error_message(
                        "INVALID_MESSAGE",
                        f"state is one of {sorted(PRESENCE_STATES)}",
                    )
                )
                return
            self.hub.set_presence(subscriber, presence.section_id, presence.state)
        elif kind in ("auth", "token"):
            pass  # already authenticated
        else:
            await self._queue(
                protocol.error_message(
                    "UNKNOWN_MESSAGE", f"unknown message type {kind!r}"
                )
            )

    async def _refused(self, error: QuireError) -> None:
        if self.principal is not None:
            await run_in_threadpool(
                record_refusal,
                self.services,
                self.principal,
                f"WS /v1/packets/{self.packet_id}/live op",
                error.code,
                error.message,
                packet_id=self.packet_id,
            )

    async def _queue(self, message: dict[str, Any]) -> None:
        if self.subscriber is not None:
            self.subscriber.offer(message)

    # -------------------------------------------------------------- editor
    async def _edit_loop(self) -> None:
        """Submits this socket's ops in order; everything already queued goes
        to the packet's writer at once, so it can join the same save."""
        principal = self.principal
        if principal is None:
            return
        writer = self.hub.writer
        while True:
            batch = [await self.ops.get()]
            while not self.ops.empty():
                batch.append(self.ops.get_nowait())
            futures = [
                writer(self.packet_id).submit(_request(principal, op)) for op in batch
            ]
            for op, future in zip(batch, futures, strict=True):
                await self._queue(await self._answer(principal, op, await future))
                self.unanswered -= 1
                if not self.unanswered:
                    self.answered.set()

    async def _answer(
        self, principal: Principal, op: LiveOp, result: Any
    ) -> dict[str, Any]:
        if isinstance(result, EditOutcome):
            ack: dict[str, Any] = {
                "type": "ack",
                "client_seq": op.client_seq,
                "client_id": op.client_id,
                "version": result.version,
                "section_id": result.section_id,
            }
            if result.suggestion_id is not None:
                ack["suggestion_id"] = result.suggestion_id
            if result.boundary_flags:  # shown, never refused (boundary_edits)
                ack["boundary_flags"] = list(result.boundary_flags)
            return ack
        if isinstance(result, EditConflictError):
            return {
                "type": "conflict",
                "client_seq": op.client_seq,
                "client_id": op.client_id,
                "conflict_id": result.details.get("conflict_id"),
                "section_id": op.section_id,
                "version": result.details.get("version"),
            }
        if isinstance(result, DATABASE_ERRORS):
            # Not a refusal (and it could not be recorded now).
            return protocol.unavailable_message(op.client_seq)
        if isinstance(result, QuireError):
            await self._refused(result)
            return protocol.error_message(
                result.code,
                result.message,
                client_seq=op.client_seq,
                details=result.details,
            )
        # Not the client's fault (logged where it happened): the edit may be
        # resent with the same client_seq, which applies it at most once.
        return protocol.error_message(
            "INTERNAL_ERROR",
            "the edit could not be applied; resend it (same client_seq)",
            client_seq=op.client_seq,
        )


def _request(principal: Principal, op: LiveOp) -> EditRequest:
    return EditRequest(
        principal,
        op.section_id,
        op.base_version,
        ops=None if op.ops is None else [o.model_dump() for o in op.ops],
        text=op.text,
        client_id=op.client_id,
        client_seq=op.client_seq,
    )


def _parse(raw: str) -> dict[str, Any] | None:
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return message if isinstance(message, dict) else None


def _seq(message: dict[str, Any]) -> int | None:
    seq = message.get("client_seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:5]
    )
