"""The webhook outbox: a delivery written in the same save as its cause.

A lane with a registered webhook (release/webhooks.py) is told of every
release delivered to it and every supersession of one. Each such notice is a
`WebhookDelivery` aggregate created in the SAME atomic save as the
`ReleaseDelivered` / `ReleaseSuperseded` event it reports: a crash either
loses both or keeps both, so no delivery is lost. Its id is derived from
(lane, packet, release, type), so the same notice can never be queued twice
(a second creation would clash with the first and roll its save back); that
id is the `X-Quire-Delivery` header the receiver de-duplicates by.

`OutboxSaves.save` is the one place: every save of the application passes
through it, whichever command (approval, refresh, lapse, lane audience
change, owner change...) put the release events in it. The body is fixed
when queued (canonical JSON), so every retry sends the same bytes.

The sender (release/webhook_sender.py) records each attempt
(`DeliveryAttempted`, with the time of the next one) and the success
(`Delivered`) on the delivery itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

import release.webhooks  # noqa: F401  (registers WebhookRegistered's topic)
from release.lanes import Lane
from workspace.domain import Packet, iso
from workspace.domain.base import assign

RELEASE = "release"
SUPERSESSION = "supersession"


def delivery_id(lane_id: str, packet_id: str, release_id: str, kind: str) -> UUID:
    return uuid5(
        NAMESPACE_URL, f"quire:webhook:{lane_id}:{packet_id}:{release_id}:{kind}"
    )


def canonical_body(body: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) on every attempt."""
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


class WebhookDelivery(Aggregate):
    """One notice to one lane's webhook, from queued to delivered."""

    TOPIC = "quire.webhook.Delivery"

    lane_id: str
    kind: str
    body: dict[str, Any]
    attempts: int
    next_at: str | None
    last_error: str | None
    delivered_at: str | None

    def __init__(self, **kwargs: Any) -> None:
        """State is set by Queued.apply."""

    class Event(Aggregate.Event):
        actor: str

    class Created(Event, Aggregate.Created):
        """Queued: the delivery exists (in its cause's save)."""

        TOPIC = "quire.webhook.DeliveryQueued"
        lane_id: str
        kind: str
        body: dict[str, Any]

        def apply(self, delivery: Any) -> None:
            assign(
                delivery,
                self,
                "lane_id",
                "kind",
                "body",
                attempts=0,
                next_at=None,
                last_error=None,
                delivered_at=None,
            )

    Queued = Created

    class DeliveryAttempted(Event):
        """A failed attempt (no 2xx): what went wrong and when to try again."""

        TOPIC = "quire.webhook.DeliveryAttempted"
        attempt: int
        status: int | None
        error: str
        next_at: str

        def apply(self, delivery: Any) -> None:
            assign(
                delivery,
                self,
                attempts=self.attempt,
                last_error=self.error,
                next_at=self.next_at,
            )

    class Delivered(Event):
        TOPIC = "quire.webhook.Delivered"
        attempt: int
        status: int

        def apply(self, delivery: Any) -> None:
            assign(
                delivery,
                self,
                attempts=self.attempt,
                delivered_at=iso(self.timestamp),
                next_at=None,
            )

    @classmethod
    def queue(
        cls, *, at: datetime, actor: str, lane_id: str, kind: str, body: dict[str, Any]
    ) -> WebhookDelivery:
        ident = delivery_id(lane_id, body["packet_id"], body["release_id"], kind)
        return cls._create(
            cls.Created,
            id=ident,
            timestamp=at,
            actor=actor,
            lane_id=lane_id,
            kind=kind,
            body={**body, "delivery_id": str(ident)},
        )

    @property
    def delivered(self) -> bool:
        return self.delivered_at is not None

    def attempted(
        self, *, at: datetime, status: int | None, error: str, next_at: datetime
    ) -> None:
        self._attempt(
            self.DeliveryAttempted,
            at,
            status=status,
            error=error[:500],
            next_at=iso(next_at) or "",
        )

    def mark_delivered(self, *, at: datetime, status: int) -> None:
        self._attempt(self.Delivered, at, status=status)

    def _attempt(self, event: type[Event], at: datetime, **fields: Any) -> None:
        """Records the sender's next attempt (`attempts + 1`) and its outcome."""
        self.trigger_event(
            event,
            timestamp=at,
            actor="quire.webhooks",
            attempt=self.attempts + 1,
            **fields,
        )


def _webhook_of(lane: Lane | None) -> dict[str, Any] | None:
    return getattr(lane, "webhook", None) if lane is not None else None


def outbox_entries(app: Any, objs: tuple[Any, ...]) -> list[WebhookDelivery]:
    """The deliveries the release events pending in `objs` call for: one
    per lane with a webhook, per delivered or superseded release."""
    lanes: dict[str, Lane] = {o.lane_id: o for o in objs if isinstance(o, Lane)}

    def lane(lane_id: str) -> Lane | None:
        if lane_id not in lanes:
            found = app.find_lane(lane_id)
            if found is None:
                return None
            lanes[lane_id] = found
        return lanes[lane_id]

    entries: list[WebhookDelivery] = []
    for obj in objs:
        pending = list(getattr(obj, "pending_events", ()))
        if isinstance(obj, Packet):
            for event in pending:
                if not isinstance(event, Packet.ReleaseSuperseded):
                    continue
                release = obj.releases.get(event.release_id) or {}
                lane_id = str(release.get("lane_id") or "")
                if not lane_id or _webhook_of(lane(lane_id)) is None:
                    continue
                body = {
                    "type": SUPERSESSION,
                    "lane": lane_id,
                    "packet_id": str(obj.id),
                    "release_id": event.release_id,
                    "revision": release.get("revision"),
                    "content_hash": release.get("content_hash"),
                    "manifest_hash": release.get("manifest_hash"),
                    "cause": event.cause,
                    "successor_release_id": event.successor_release_id,
                    "at": iso(event.timestamp),
                }
                entries.append(_queue(event, lane_id, SUPERSESSION, body))
        elif isinstance(obj, Lane) and _webhook_of(obj) is not None:
            for event in pending:
                if not isinstance(event, Lane.ReleaseDelivered):
                    continue
                body = {
                    "type": RELEASE,
                    "lane": obj.lane_id,
                    "packet_id": event.packet_id,
                    "release_id": event.release_id,
                    "revision": event.revision,
                    "label": event.label,
                    "content_hash": event.content_hash,
                    "manifest_hash": event.manifest_hash,
                    "at": iso(event.timestamp),
                }
                entries.append(_queue(event, obj.lane_id, RELEASE, body))
    return entries


def _queue(
    event: Any, lane_id: str, kind: str, body: dict[str, Any]
) -> WebhookDelivery:
    return WebhookDelivery.queue(
        at=event.timestamp,
        actor=str(getattr(event, "actor", "system")),
        lane_id=lane_id,
        kind=kind,
        body=body,
    )


class OutboxSaves:
    """Mixed into the application before `Workspace`: every save also
    writes the outbox entries its release events call for."""

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        extra = outbox_entries(self, tuple(o for o in objs if o is not None))
        return super().save(*objs, *extra, **kwargs)  # type: ignore[misc]
