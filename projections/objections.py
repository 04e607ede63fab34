"""The objection ledger: every objection, never deleted, with its full history.

History entries, in order: raised, answered, resolved, withdrawn, reopened and
accepted_residual (from `quire.packet.ResidualAccepted`: which release accepted
it, by whom and why). The current `state` follows the aggregate's: open,
resolved, withdrawn or residual (accepted as residual for a release; the
`residuals` list says which releases and why).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections import events as ev
from projections.driver import Projection
from projections.events import EventRecord
from projections.store import ReadStore, Tx
from projections.tables import Table

COLUMNS = (
    "packet_id",
    "objection_id",
    "seq",
    "target",
    "text",
    "raised_by",
    "raised_at",
    "state",
    "resolution",
    "history",
    "residuals",
    "updated_at",
    "version",
)
LEDGER = Table(
    "objection_ledger",
    COLUMNS,
    key=2,
    json_columns=frozenset({"target", "history", "residuals"}),
)

ACTIONS = {
    ev.OBJECTION_RAISED: ("raised", "open"),
    ev.OBJECTION_ANSWERED: ("answered", None),
    ev.OBJECTION_RESOLVED: ("resolved", "resolved"),
    ev.OBJECTION_WITHDRAWN: ("withdrawn", "withdrawn"),
    ev.OBJECTION_REOPENED: ("reopened", "open"),
    ev.RESIDUAL_ACCEPTED: ("accepted_residual", "residual"),
}
DETAILS = ("text", "answer", "resolution", "release_id", "rationale", "text_hash")


class ObjectionLedger(Projection):
    name = "objection_ledger"
    topics = ev.OBJECTION_TOPICS
    tables = ("objection_ledger",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS objection_ledger ("
        "packet_id TEXT NOT NULL, objection_id TEXT NOT NULL, seq BIGINT NOT NULL, "
        "target TEXT NOT NULL, text TEXT NOT NULL, raised_by TEXT, raised_at TEXT, "
        "state TEXT NOT NULL, resolution TEXT, history TEXT NOT NULL, "
        "residuals TEXT NOT NULL, updated_at TEXT, version BIGINT NOT NULL, "
        "PRIMARY KEY (packet_id, objection_id))",
    )

    def apply(self, tx: Tx, events: Sequence[EventRecord]) -> None:
        keys = sorted(
            {(e.originator_id, str(e.data.get("objection_id"))) for e in events}
        )
        rows = _load(tx, keys)
        for event in events:
            data = event.data
            key = (event.originator_id, str(data.get("objection_id")))
            if event.topic == ev.OBJECTION_RAISED:
                rows[key] = {
                    "packet_id": key[0],
                    "objection_id": key[1],
                    "seq": event.notification_id,
                    "target": dict(data.get("target") or {}),
                    "text": data.get("text", ""),
                    "raised_by": event.actor,
                    "raised_at": event.timestamp,
                    "state": "open",
                    "resolution": None,
                    "history": [],
                    "residuals": [],
                    "updated_at": event.timestamp,
                    "version": event.originator_version,
                }
            row = rows.get(key)
            if row is None:
                continue
            action, state = ACTIONS[event.topic]
            entry: dict[str, Any] = {
                "action": action,
                "by": event.actor,
                "actor_kind": data.get("actor_kind"),
                "at": event.timestamp,
                "version": event.originator_version,
            }
            if data.get("reason"):
                entry["reason"] = data["reason"]
            for name in DETAILS:
                if name in data:
                    entry[name] = data[name]
            row["history"].append(entry)
            if state is not None:
                row["state"] = state
            if event.topic == ev.OBJECTION_RESOLVED:
                row["resolution"] = data.get("resolution")
            elif event.topic == ev.OBJECTION_REOPENED:
                row["resolution"] = None
            elif event.topic == ev.RESIDUAL_ACCEPTED:
                row["residuals"].append(
                    {
                        "release_id": data.get("release_id"),
                        "rationale": data.get("rationale"),
                        "text_hash": data.get("text_hash"),
                        "accepted_by": event.actor,
                        "accepted_at": event.timestamp,
                    }
                )
            row["updated_at"] = event.timestamp
            row["version"] = event.originator_version
        LEDGER.upsert(tx, [row for _, row in sorted(rows.items())])


def _load(
    tx: Tx, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    by_packet: dict[str, list[str]] = {}
    for pid, oid in keys:
        by_packet.setdefault(pid, []).append(oid)
    return {
        (row["packet_id"], row["objection_id"]): row
        for pid, oids in by_packet.items()
        for row in LEDGER.where_in(
            tx, "objection_id", oids, also="packet_id = %s", params=(pid,)
        )
    }


def ledger(store: ReadStore, packet_id: str) -> list[dict[str, Any]]:
    with store.read() as tx:
        rows = LEDGER.rows(tx, "WHERE packet_id = %s ORDER BY seq", (packet_id,))
    items = []
    for row in rows:
        items.append(
            {
                "id": row["objection_id"],
                "target": row["target"],
                "text": row["text"],
                "raised_by": row["raised_by"],
                "raised_at": row["raised_at"],
                "state": row["state"],
                "resolution": row["resolution"],
                "residuals": row["residuals"],
                "history": row["history"],
                "updated_at": row["updated_at"],
                "version": row["version"],
            }
        )
    return items
