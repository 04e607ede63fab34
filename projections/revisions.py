"""Revision history: every cut revision with who cut it, who contributed since
the previous one, and its exact content; and per-section diffs between any two.

Contributors are the actors of "work" events of the packet since the previous
cut, in order of first contribution, exactly as the Packet aggregate folds
them (`counts_as_work` per event class). The running list lives in
`revision_work` so a batch boundary between two cuts changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from projections import events as ev
from projections.driver import Projection
from projections.events import EventRecord
from projections.store import ReadStore, Tx
from projections.tables import Table
from workspace.content.diff import revision_diff
from workspace.revision_texts import expand

#: Who has worked on each packet since its last revision cut.
WORK = Table(
    "revision_work",
    ("packet_id", "contributors"),
    json_columns=frozenset({"contributors"}),
)


class RevisionHistory(Projection):
    name = "revision_history"
    tables = ("revision_history", "revision_work")
    ddl = (
        "CREATE TABLE IF NOT EXISTS revision_history ("
        "packet_id TEXT NOT NULL, revision BIGINT NOT NULL, label TEXT, "
        "content_hash TEXT NOT NULL, cut_by TEXT, cut_at TEXT, "
        "version BIGINT NOT NULL, contributors TEXT NOT NULL, "
        "content TEXT NOT NULL, PRIMARY KEY (packet_id, revision))",
        "CREATE TABLE IF NOT EXISTS revision_work ("
        "packet_id TEXT PRIMARY KEY, contributors TEXT NOT NULL)",
    )

    def apply(self, tx: Tx, events: Sequence[EventRecord]) -> None:
        mine, ids = ev.packet_batch(events)
        if not mine:
            return
        work: dict[str, list[str]] = {
            row["packet_id"]: row["contributors"]
            for row in WORK.where_in(tx, "packet_id", ids)
        }
        cuts: list[tuple[Any, ...]] = []
        for event in mine:
            pid = event.originator_id
            current = work.setdefault(pid, [])
            if event.topic == ev.REVISION_CUT:
                data = event.data
                cuts.append(
                    (
                        pid,
                        int(data["number"]),
                        data.get("label"),
                        data["content_hash"],
                        event.actor,
                        event.timestamp,
                        event.originator_version,
                        json.dumps(current),
                        json.dumps(data.get("content", {}), sort_keys=True),
                    )
                )
                work[pid] = []
            elif ev.counts_as_work(event.topic):
                actor = event.actor
                if actor is not None and actor not in current:
                    current.append(actor)
        tx.executemany(
            "INSERT INTO revision_history (packet_id, revision, label, "
            "content_hash, cut_by, cut_at, version, contributors, content) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            cuts,
        )
        WORK.upsert(
            tx,
            [{"packet_id": pid, "contributors": work[pid]} for pid in sorted(work)],
        )


# ------------------------------------------------------------------ queries
def history(store: ReadStore, packet_id: str) -> list[dict[str, Any]]:
    with store.read() as tx:
        rows = tx.all(
            "SELECT revision, label, content_hash, cut_by, cut_at, version, "
            "contributors FROM revision_history WHERE packet_id = %s "
            "ORDER BY revision",
            (packet_id,),
        )
    return [
        {
            "revision": int(r[0]),
            "label": r[1],
            "content_hash": r[2],
            "cut_by": r[3],
            "cut_at": r[4],
            "version": int(r[5]),
            "contributors": json.loads(r[6]),
        }
        for r in rows
    ]


def content(store: ReadStore, packet_id: str, revision: int) -> dict[str, Any] | None:
    """A revision's full content. Rows keep the content as its cut stored it
    (unchanged section texts refer to the revision holding them, large ones
    are compressed: `workspace/revision_texts.py`), expanded here."""
    with store.read() as tx:

        def stored(number: int) -> dict[str, Any] | None:
            row = tx.one(
                "SELECT content FROM revision_history "
                "WHERE packet_id = %s AND revision = %s",
                (packet_id, number),
            )
            return None if row is None else dict(json.loads(row[0]))

        found = stored(revision)
        if found is None:
            return None
        return expand(found, lambda n: stored(n) or {})


def diff(old: dict[str, Any], new: dict[str, Any], a: int, b: int) -> dict[str, Any]:
    """The changes from revision `a` to revision `b` (workspace/content/diff.py)."""
    return revision_diff(old, new, a, b)
