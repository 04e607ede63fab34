"""The websocket messages of shared/API.md, as plain dicts.

Server to client: `subscribed`, `event`, `ack`, `conflict`, `presence`,
`presence_leave`, `pong`, `error`. An `event` carries the domain event's class
name in `event_type` (the message's own `type` is always "event"), its stable
`topic`, the packet `version` it produced, who did it and when, the client
id and sequence it came from, and the rest of its fields in `data`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from api.errors import DATABASE_UNAVAILABLE_MESSAGE, RETRY_AFTER_SECONDS

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

#: Fields every packet event carries, sent beside `data` rather than in it.
META_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "actor",
        "actor_kind",
        "reason",
        "client_id",
        "client_seq",
    }
)

#: WebSocket close codes (4000-4999 are the application's own).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_BAD_REQUEST = 4400
CLOSE_SLOW_CONSUMER = 4008
CLOSE_GOING_AWAY = 1001
#: RFC 6455 "Try Again Later": the database is unavailable (reconnect later).
CLOSE_TRY_AGAIN_LATER = 1013
#: RFC 6455 "Service Restart": the server is shutting down (reconnect now).
CLOSE_SERVICE_RESTART = 1012


def handshake_token(ws: HTTPConnection) -> str | None:
    """The token sent with the opening handshake, if any: the `token` query
    parameter, else a Bearer `Authorization` header. Without one, the client
    is to send `{type: "auth", token}` as its first message."""
    token = ws.query_params.get("token")
    if not token:
        scheme, _, value = ws.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value:
            token = value.strip()
    return token


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def event_message(event: Any) -> dict[str, Any]:
    """One stored packet event as an `event` message."""
    fields = vars(event)
    timestamp = fields.get("timestamp")
    return {
        "type": "event",
        "packet_id": str(event.originator_id),
        "version": event.originator_version,
        "event_type": type(event).__name__,
        "topic": getattr(type(event), "TOPIC", type(event).__qualname__),
        "actor": fields.get("actor"),
        "actor_kind": fields.get("actor_kind"),
        "reason": fields.get("reason"),
        "at": timestamp.isoformat() if isinstance(timestamp, datetime) else None,
        "client_id": fields.get("client_id"),
        "client_seq": fields.get("client_seq"),
        "data": jsonable({k: v for k, v in fields.items() if k not in META_FIELDS}),
    }


def error_message(
    code: str, message: str, client_seq: int | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_seq is not None:
        body["client_seq"] = client_seq
    body.update(extra)
    return body


def unavailable_message(client_seq: int | None = None) -> dict[str, Any]:
    """The database is unavailable: an op answered so may be resent with the
    same client_seq (applied at most once); retry, or reconnect with
    `since=`, after `retry_after` seconds (docs/API-additions.md)."""
    return error_message(
        "DATABASE_UNAVAILABLE",
        f"{DATABASE_UNAVAILABLE_MESSAGE} (resend edits with the same "
        "client_seq, or reconnect with since=)",
        client_seq=client_seq,
        reconnect=True,
        retry_after=RETRY_AFTER_SECONDS,
    )


def restart_message(client_seq: int | None = None) -> dict[str, Any]:
    """The server is shutting down: an op answered so was not applied; resend
    it (same client_seq) after reconnecting with `since=`."""
    return error_message(
        "SERVICE_RESTART",
        "the server is restarting: reconnect with since= (to this or another "
        "server) and resend unanswered edits with the same client_seq",
        client_seq=client_seq,
        reconnect=True,
    )


#: Where the hub keeps a message's JSON when it goes to several sockets.
ENCODED = "__encoded__"


def encode(message: dict[str, Any]) -> str:
    cached = message.get(ENCODED)
    if isinstance(cached, str):
        return cached
    return json.dumps(message, separators=(",", ":"))
