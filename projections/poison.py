"""Poison events: events a projection failed to apply, recorded for operators.

The driver (projections/driver.py) retries an event that makes a projection
fail, with a growing pause. After `poison_attempts` failed attempts on one
event it records the event here, logs at ERROR, and (for projections that may
skip) moves the tracking position past it in the same transaction: the other
events keep being projected, and the skipped event's rows are absent until an
operator re-applies it. Nothing is skipped silently: every skipped event has a
row, `quire projections poisoned` lists them, /readyz counts them, and
`quire projections retry` re-applies them (through a running driver, or the
command's own when none runs).

A projection whose rows must follow the log without gaps (the audit log's
Merkle tree) declares `skips_poison = False`: its poison event is recorded and
alerted, and it keeps retrying instead of skipping.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from projections.store import ReadStore, Tx

POISON_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_poison ("
    "projection TEXT NOT NULL, notification_id BIGINT NOT NULL, "
    "topic TEXT NOT NULL, originator_id TEXT, originator_version BIGINT, "
    "error TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, "
    "attempts INTEGER NOT NULL, skipped INTEGER NOT NULL DEFAULT 0, "
    "retry INTEGER NOT NULL DEFAULT 0, "
    "PRIMARY KEY (projection, notification_id))"
)

COLUMNS = (
    "projection",
    "notification_id",
    "topic",
    "originator_id",
    "originator_version",
    "error",
    "first_seen",
    "last_seen",
    "attempts",
    "skipped",
    "retry",
)

#: How much of an error message a row keeps.
ERROR_MAX_CHARS = 2000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:ERROR_MAX_CHARS]


def record(
    tx: Tx,
    projection: str,
    event: Any,
    error: str,
    attempts: int,
    *,
    skipped: bool,
) -> None:
    """Inserts or updates the poison row of one event (inside the caller's
    transaction, beside the tracking move when the event is skipped)."""
    now = _now()
    updated = tx.execute(
        "UPDATE projection_poison SET error = %s, last_seen = %s, "
        "attempts = attempts + %s, skipped = %s, retry = 0 "
        "WHERE projection = %s AND notification_id = %s",
        (error, now, attempts, int(skipped), projection, event.notification_id),
    )
    if updated:
        return
    tx.execute(
        f"INSERT INTO projection_poison ({', '.join(COLUMNS)}) "
        f"VALUES ({tx.marks(len(COLUMNS))})",
        (
            projection,
            event.notification_id,
            event.topic,
            event.originator_id,
            event.originator_version,
            error,
            now,
            now,
            attempts,
            int(skipped),
            0,
        ),
    )


def resolved(tx: Tx, projection: str, notification_id: int) -> None:
    tx.execute(
        "DELETE FROM projection_poison WHERE projection = %s AND notification_id = %s",
        (projection, notification_id),
    )


def listed(store: ReadStore, projection: str | None = None) -> list[dict[str, Any]]:
    """Every poison row (oldest event first), optionally of one projection."""
    where, params = ("WHERE projection = %s", (projection,)) if projection else ("", ())
    with store.read() as tx:
        rows = tx.all(
            f"SELECT {', '.join(COLUMNS)} FROM projection_poison {where} "
            "ORDER BY notification_id, projection",
            params,
        )
    return [
        {
            **dict(zip(COLUMNS, row, strict=True)),
            "skipped": bool(row[9]),
            "retry": bool(row[10]),
        }
        for row in rows
    ]


def count(store: ReadStore) -> int:
    with store.read() as tx:
        row = tx.one("SELECT COUNT(*) FROM projection_poison")
    return int(row[0]) if row else 0


def request_retry(
    store: ReadStore, projections: Sequence[str] | None = None
) -> list[tuple[str, int]]:
    """Marks poison rows for re-application; returns (projection, id) marked."""
    with store.transaction() as tx:
        rows = tx.all("SELECT projection, notification_id FROM projection_poison")
        chosen = [
            (str(p), int(n)) for p, n in rows if not projections or p in projections
        ]
        for name, nid in chosen:
            tx.execute(
                "UPDATE projection_poison SET retry = 1 "
                "WHERE projection = %s AND notification_id = %s",
                (name, nid),
            )
    return chosen


def retry_requested(tx: Tx, names: Sequence[str]) -> list[tuple[str, int, bool]]:
    """(projection, notification id, skipped) of rows marked for retry."""
    if not names:
        return []
    rows = tx.all(
        "SELECT projection, notification_id, skipped FROM projection_poison "
        f"WHERE retry = 1 AND projection IN ({tx.marks(len(names))}) "
        "ORDER BY notification_id",
        tuple(names),
    )
    return [(str(p), int(n), bool(s)) for p, n, s in rows]
