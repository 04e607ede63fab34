"""Idempotent POSTs: a retry with the same `Idempotency-Key` returns the first
result and writes nothing new, whichever server process receives it.

Keys are kept in the event store itself, as an `IdempotencyRecord` aggregate
per (user, key) whose id is derived from both, so every process finds it by
id on every backend and the store's uniqueness on (id, version) arbitrates
races:

1. **Claim** before running the command: creating the record (version 1) can
   succeed for one request only. A concurrent duplicate that loses the claim
   waits for the winner's result and returns it; it never runs the command.
2. **Complete** after the command, with the response's status and JSON body
   (any status below 500, so a refused write is answered the same way again).
3. **Release** when the command failed with a server error, so a retry may
   claim the key again and run.

A claim whose process died between the command and the completion is not
completed; after `STALE_AFTER` seconds a retry is answered with 409
`IDEMPOTENCY_OUTCOME_UNKNOWN` (read the packet, then retry with a new key),
since re-running could apply the write twice.

The same key with a different method, path or body is refused with 422
`IDEMPOTENCY_KEY_REUSED`. The HTTP side is `api.middleware`; this module has
no web imports, so every process (CLI, worker) can resolve the record's topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from workspace.accounts import Principal
from workspace.domain.base import assign

if TYPE_CHECKING:
    from api.services import Services

#: A claim this old without a result belongs to a process that died.
STALE_AFTER = 60.0


def record_id(user_id: str, key: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"quire:idempotency:{user_id}:{key}")


class IdempotencyRecord(Aggregate):
    """One user's use of one Idempotency-Key, and the response it got."""

    TOPIC = "quire.idempotency"

    user_id: str
    key: str
    fingerprint: str
    request: str
    state: str
    claimed_at: datetime
    status: int | None
    body: Any

    def __init__(self, **kwargs: Any) -> None:
        """State is set by Claimed.apply."""

    class Event(Aggregate.Event):
        pass

    class Created(Event, Aggregate.Created):
        TOPIC = "quire.idempotency.Created"

    class Claimed(Created):
        TOPIC = "quire.idempotency.Claimed"
        user_id: str
        key: str
        fingerprint: str
        request: str

        def apply(self, record: Any) -> None:
            assign(
                record,
                self,
                "user_id",
                "key",
                "fingerprint",
                "request",
                state="claimed",
                claimed_at=self.timestamp,
                status=None,
                body=None,
            )

    class Completed(Event):
        TOPIC = "quire.idempotency.Completed"
        status: int
        body: Any

        def apply(self, record: Any) -> None:
            assign(record, self, "status", "body", state="completed")

    class Released(Event):
        TOPIC = "quire.idempotency.Released"
        status: int

        def apply(self, record: Any) -> None:
            record.state = "released"

    class Reclaimed(Event):
        TOPIC = "quire.idempotency.Reclaimed"

        def apply(self, record: Any) -> None:
            assign(record, self, state="claimed", claimed_at=self.timestamp)

    @classmethod
    def claim(
        cls, principal: Principal, key: str, fingerprint: str, request: str
    ) -> IdempotencyRecord:
        return cls._create(
            cls.Claimed,
            id=record_id(principal.user_id, key),
            user_id=principal.user_id,
            key=key,
            fingerprint=fingerprint,
            request=request,
        )


Outcome = Literal["claimed", "completed", "in_flight", "stale", "mismatch"]


@dataclass(frozen=True)
class Begun:
    outcome: Outcome
    status: int | None = None
    body: Any = None


class IdempotencyStore:
    """The synchronous side: claim, complete, release (call from a thread)."""

    def __init__(self, services: Services, clock: Any = None) -> None:
        self.app = services.app
        self.clock = clock or (lambda: datetime.now(UTC))

    def get(self, user_id: str, key: str) -> IdempotencyRecord | None:
        try:
            record: Any = self.app.repository.get(record_id(user_id, key))
        except AggregateNotFoundError:
            return None
        return record if isinstance(record, IdempotencyRecord) else None

    def begin(
        self, principal: Principal, key: str, fingerprint: str, request: str
    ) -> Begun:
        for _ in range(10):
            record = self.get(principal.user_id, key)
            try:
                if record is None:
                    self.app.save(
                        IdempotencyRecord.claim(principal, key, fingerprint, request)
                    )
                    return Begun("claimed")
                if record.fingerprint != fingerprint:
                    return Begun("mismatch")
                if record.state == "completed":
                    return Begun("completed", record.status, record.body)
                if record.state == "released":
                    record.trigger_event(IdempotencyRecord.Reclaimed)
                    self.app.save(record)
                    return Begun("claimed")
            except IntegrityError:
                continue  # another request claimed it first: look again
            age = (self.clock() - record.claimed_at).total_seconds()
            return Begun("stale" if age > STALE_AFTER else "in_flight")
        return Begun("in_flight")

    def complete(self, user_id: str, key: str, status: int, body: Any) -> None:
        record = self.get(user_id, key)
        if record is None or record.state != "claimed":
            return
        record.trigger_event(IdempotencyRecord.Completed, status=status, body=body)
        self.app.save(record)

    def release(self, user_id: str, key: str, status: int) -> None:
        record = self.get(user_id, key)
        if record is None or record.state != "claimed":
            return
        record.trigger_event(IdempotencyRecord.Released, status=status)
        self.app.save(record)
