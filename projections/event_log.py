"""Reading the event log beside the read models: a range of notifications
(what a projection driver folds) and one aggregate's events (what an audit
export checks), as `EventRecord`s, from the store's database or, for
`memory://`, from the application's in-memory recorder."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from projections.events import EventRecord
from projections.store import ReadStore, Session, Tx


def read_events(
    store: ReadStore,
    session: Session,
    after: int,
    upto: int,
    topics: Sequence[str] | None = None,
) -> list[EventRecord]:
    """Events with after < notification id <= upto, in notification order.

    Every id up to the head read before this call is committed (see
    projections/driver.py), so the range is complete once read.
    """
    if upto <= after:
        return []
    if store.backend == "memory":
        notifications = store.app.recorder.select_notifications(
            start=after + 1, limit=upto - after, stop=upto, topics=topics or ()
        )
        return [_recorded(n.id, n) for n in notifications]
    id_column = "notification_id" if store.backend == "postgres" else "rowid"
    statement = (
        f"SELECT {id_column}, originator_id, originator_version, topic, state "
        f"FROM {store.events_table} WHERE {id_column} > %s AND {id_column} <= %s"
    )
    params: list[Any] = [after, upto]
    if topics:
        statement += f" AND topic IN ({Tx.marks(len(topics))})"
        params.extend(topics)
    statement += f" ORDER BY {id_column}"
    with session.read() as tx:
        rows = tx.all(statement, params)
    return [_event_record(row) for row in rows]


def originator_events(
    store: ReadStore, session: Session, originator_id: str, ids: dict[int, Any]
) -> list[EventRecord]:
    """One aggregate's stored events in version order. `ids` maps version
    to a tuple whose second item is the notification id, used where the
    store does not expose ids (memory)."""
    if store.backend == "memory":
        return [
            _recorded(
                int(ids[s.originator_version][1]) if s.originator_version in ids else 0,
                s,
            )
            for s in store.app.recorder.select_events(uuid.UUID(originator_id))
        ]
    if store.backend == "postgres":
        key: Any = uuid.UUID(originator_id)
        id_column = "notification_id"
    else:
        key = uuid.UUID(originator_id).hex
        id_column = "rowid"
    with session.read() as tx:
        rows = tx.all(
            f"SELECT {id_column}, originator_id, originator_version, topic, "
            f"state FROM {store.events_table} WHERE originator_id = %s "
            "ORDER BY originator_version",
            (key,),
        )
    return [_event_record(row) for row in rows]


def _recorded(notification_id: int, stored: Any) -> EventRecord:
    """A stored event or notification of the in-memory recorder."""
    return EventRecord(
        notification_id,
        str(stored.originator_id),
        stored.originator_version,
        stored.topic,
        bytes(stored.state),
    )


def _state_bytes(value: Any) -> bytes:
    # A state rewritten by hand in SQLite may come back as TEXT.
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _event_record(row: Sequence[Any]) -> EventRecord:
    """(id, originator_id, originator_version, topic, state) as stored."""
    return EventRecord(
        int(row[0]), _uuid_text(row[1]), int(row[2]), str(row[3]), _state_bytes(row[4])
    )


def _uuid_text(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    text = str(value)
    return str(uuid.UUID(text)) if len(text) == 32 else text
