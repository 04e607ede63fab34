"""The packet list: one row per packet, for `GET /v1/packets`.

Status, from the packet's releases and revisions:

* `released`: some release of the packet is approved and not superseded;
* otherwise by its most recent release: `held`, `in review` (pending) or
  `superseded`;
* with no release: `in review` once a revision has been cut, else `draft`.

`packet_members` lists who may see a packet (release owner, authors,
reviewers) so a caller's list is one indexed query; the exact rule
(`workspace.policy.can_read`) is applied to the rows it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from projections import events as ev
from projections.driver import Projection
from projections.events import EventRecord
from projections.store import ReadStore, Tx, chunks
from projections.tables import Table
from workspace import policy
from workspace.accounts import Principal

COLUMNS = (
    "packet_id",
    "seq",
    "kind",
    "title",
    "release_owner",
    "authors",
    "reviewers",
    "status",
    "open_objections",
    "revisions",
    "version",
    "opened_by",
    "opened_at",
    "last_activity",
    "last_actor",
    "state",
)
PACKET_LIST = Table(
    "packet_list", COLUMNS, json_columns=frozenset({"authors", "reviewers", "state"})
)


class PacketList(Projection):
    name = "packet_list"
    tables = ("packet_members", "packet_list")
    ddl = (
        "CREATE TABLE IF NOT EXISTS packet_list ("
        "packet_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, kind TEXT NOT NULL, "
        "title TEXT NOT NULL, release_owner TEXT NOT NULL, authors TEXT NOT NULL, "
        "reviewers TEXT NOT NULL, status TEXT NOT NULL, "
        "open_objections BIGINT NOT NULL, revisions BIGINT NOT NULL, "
        "version BIGINT NOT NULL, opened_by TEXT, opened_at TEXT, "
        "last_activity TEXT, last_actor TEXT, state TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS packet_members ("
        "user_id TEXT NOT NULL, packet_id TEXT NOT NULL, "
        "PRIMARY KEY (user_id, packet_id))",
        "CREATE INDEX IF NOT EXISTS packet_list_seq ON packet_list (seq)",
    )

    def apply(self, tx: Tx, events: Sequence[EventRecord]) -> None:
        mine, ids = ev.packet_batch(events)
        if not mine:
            return
        rows = {r["packet_id"]: r for r in PACKET_LIST.where_in(tx, "packet_id", ids)}
        regrouped: set[str] = set()
        for event in mine:
            pid = event.originator_id
            if event.topic == ev.OPENED:
                rows[pid] = opened_row(event)
                regrouped.add(pid)
            row = rows.get(pid)
            if row is None:
                continue
            fold(row, event)
            if event.topic == ev.MEMBERS_CHANGED:
                regrouped.add(pid)
        for row in rows.values():
            row["status"] = packet_status(row)
            row["open_objections"] = sum(
                1 for s in row["state"]["objections"].values() if s == "open"
            )
        PACKET_LIST.upsert(tx, rows.values())
        if regrouped:
            save_members(tx, [rows[p] for p in sorted(regrouped)])


def opened_row(event: EventRecord) -> dict[str, Any]:
    data = event.data
    return {
        "packet_id": event.originator_id,
        "seq": event.notification_id,
        "kind": data.get("kind", ""),
        "title": data.get("title", ""),
        "release_owner": data.get("release_owner", ""),
        "authors": list(data.get("authors", [])),
        "reviewers": list(data.get("reviewers", [])),
        "status": "draft",
        "open_objections": 0,
        "revisions": 0,
        "version": event.originator_version,
        "opened_by": event.actor,
        "opened_at": event.timestamp,
        "last_activity": event.timestamp,
        "last_actor": event.actor,
        "state": {"objections": {}, "releases": {}, "release_seq": 0},
    }


def fold(row: dict[str, Any], event: EventRecord) -> None:
    data = event.data
    topic = event.topic
    state = row["state"]
    if topic == ev.MEMBERS_CHANGED:
        row["release_owner"] = data.get("release_owner", row["release_owner"])
        row["authors"] = list(data.get("authors", []))
        row["reviewers"] = list(data.get("reviewers", []))
    elif topic == ev.RETITLED:
        row["title"] = data.get("title", row["title"])
    elif topic in (ev.OBJECTION_RAISED, ev.OBJECTION_REOPENED):
        state["objections"][data["objection_id"]] = "open"
    elif topic == ev.OBJECTION_RESOLVED:
        state["objections"][data["objection_id"]] = "resolved"
    elif topic == ev.OBJECTION_WITHDRAWN:
        state["objections"][data["objection_id"]] = "withdrawn"
    elif topic == ev.RESIDUAL_ACCEPTED:
        state["objections"][data["objection_id"]] = "residual"
    elif topic == ev.REVISION_CUT:
        row["revisions"] = max(row["revisions"], int(data.get("number", 0)))
    elif topic in (
        ev.RELEASE_REQUESTED,
        ev.RELEASE_HELD,
        ev.RELEASE_CLEARED,
        ev.RELEASE_APPROVED,
    ):
        status = {
            ev.RELEASE_HELD: "held",
            ev.RELEASE_CLEARED: "pending",
            ev.RELEASE_APPROVED: "released",
        }.get(topic, data.get("status") or "pending")
        note_release(state, str(data.get("release_id")), status)
    elif topic == ev.RELEASE_SUPERSEDED:
        note_release(state, str(data.get("release_id")), "superseded")
    row["version"] = event.originator_version
    row["last_activity"] = event.timestamp
    row["last_actor"] = event.actor


def note_release(state: dict[str, Any], release_id: str, status: str) -> None:
    state["release_seq"] += 1
    state["releases"][release_id] = {"status": status, "seq": state["release_seq"]}


def packet_status(row: dict[str, Any]) -> str:
    releases = row["state"]["releases"]
    if any(r["status"] == "released" for r in releases.values()):
        return "released"
    if releases:
        latest = max(releases.values(), key=lambda r: r["seq"])
        return {"held": "held", "superseded": "superseded"}.get(
            latest["status"], "in review"
        )
    return "in review" if row["revisions"] else "draft"


def save_members(tx: Tx, rows: Sequence[dict[str, Any]]) -> None:
    ids = [row["packet_id"] for row in rows]
    for part in chunks(ids):
        tx.execute(
            f"DELETE FROM packet_members WHERE packet_id IN ({Tx.marks(len(part))})",
            part,
        )
    tx.executemany(
        "INSERT INTO packet_members (user_id, packet_id) VALUES (%s, %s)",
        [
            (user, row["packet_id"])
            for row in rows
            for user in sorted(
                {row["release_owner"], *row["authors"], *row["reviewers"]}
            )
        ],
    )


# ------------------------------------------------------------------ queries
PUBLIC = tuple(c for c in COLUMNS if c not in ("seq", "state"))


def _public(row: dict[str, Any]) -> dict[str, Any]:
    item = {k: row[k] for k in PUBLIC if k != "packet_id"}
    return {"id": row["packet_id"], **item}


def visible_to(store: ReadStore, principal: Principal) -> list[dict[str, Any]]:
    """Packets the caller may read (members and auditors), in opening order."""
    columns = ", ".join(f"p.{c}" for c in PUBLIC)
    with store.read() as tx:
        if principal.is_auditor:
            raws = tx.all(f"SELECT {columns} FROM packet_list p ORDER BY p.seq")
        else:
            raws = tx.all(
                f"SELECT {columns} FROM packet_list p "
                "JOIN packet_members m ON m.packet_id = p.packet_id "
                "WHERE m.user_id = %s ORDER BY p.seq",
                (principal.user_id,),
            )
    items = []
    for raw in raws:
        row = PACKET_LIST.decode(raw, PUBLIC)
        if policy.can_read(principal, SimpleNamespace(**row)):
            items.append(_public(row))
    return items


def packet_row(store: ReadStore, packet_id: str) -> dict[str, Any] | None:
    with store.read() as tx:
        row = PACKET_LIST.row(tx, "WHERE packet_id = %s", (packet_id,), PUBLIC)
    return None if row is None else _public(row)
