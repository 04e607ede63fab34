"""Revision history: every cut revision with who cut it, who contributed since
the previous one, and its exact content; and per-section diffs between any two.

Contributors are the actors of "work" events of the packet since the previous
cut, in order of first contribution, exactly as the Packet aggregate folds
them (`counts_as_work` per event class). The running list lives in
`revision_work` so a batch boundary between two cuts changes nothing.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

from projections import events as ev
from projections.driver import Projection
from projections.events import EventRecord
from projections.store import ReadStore, Tx, chunks


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
        mine = [e for e in events if e.is_packet_event]
        if not mine:
            return
        ids = sorted({e.originator_id for e in mine})
        work: dict[str, list[str]] = {}
        for part in chunks(ids):
            for pid, contributors in tx.all(
                "SELECT packet_id, contributors FROM revision_work "
                f"WHERE packet_id IN ({Tx.marks(len(part))})",
                part,
            ):
                work[pid] = json.loads(contributors)
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
        tx.executemany(
            "INSERT INTO revision_work (packet_id, contributors) VALUES (%s, %s) "
            "ON CONFLICT (packet_id) DO UPDATE SET contributors = "
            "excluded.contributors",
            [(pid, json.dumps(work[pid])) for pid in sorted(work)],
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
    with store.read() as tx:
        row = tx.one(
            "SELECT content FROM revision_history "
            "WHERE packet_id = %s AND revision = %s",
            (packet_id, revision),
        )
    if row is None:
        return None
    result: dict[str, Any] = json.loads(row[0])
    return result


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def _unified(a: str, b: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(_lines(a), _lines(b), old, new))


def diff(old: dict[str, Any], new: dict[str, Any], a: int, b: int) -> dict[str, Any]:
    """Per-section unified diffs from revision `a` to revision `b`.

    Sections are matched by id, listed in `b`'s order then those only in `a`;
    each has `change`: added, removed, changed, moved or unchanged. Title,
    sources and prerequisites changes are listed beside them.
    """
    old_sections = {s["id"]: (i, s) for i, s in enumerate(old.get("sections", []))}
    new_sections = {s["id"]: (i, s) for i, s in enumerate(new.get("sections", []))}
    order = [s["id"] for s in new.get("sections", [])] + [
        s["id"] for s in old.get("sections", []) if s["id"] not in new_sections
    ]
    sections = []
    for sid in order:
        before = old_sections.get(sid)
        after = new_sections.get(sid)
        old_text = before[1]["text"] if before else ""
        new_text = after[1]["text"] if after else ""
        old_heading = before[1]["heading"] if before else None
        new_heading = after[1]["heading"] if after else None
        if before is None:
            change = "added"
        elif after is None:
            change = "removed"
        elif old_text != new_text or old_heading != new_heading:
            change = "changed"
        elif before[0] != after[0]:
            change = "moved"
        else:
            change = "unchanged"
        sections.append(
            {
                "section_id": sid,
                "change": change,
                "heading": {"from": old_heading, "to": new_heading},
                "position": {
                    "from": before[0] if before else None,
                    "to": after[0] if after else None,
                },
                "diff": _unified(old_text, new_text, f"r{a}/{sid}", f"r{b}/{sid}"),
            }
        )
    return {
        "from": a,
        "to": b,
        "title": {"from": old.get("title"), "to": new.get("title")},
        "sections": sections,
        "sources": _by_id(old.get("sources", []), new.get("sources", [])),
        "prerequisites": _by_id(
            old.get("prerequisites", []), new.get("prerequisites", [])
        ),
    }


def _by_id(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    before = {x["id"]: x for x in old}
    after = {x["id"]: x for x in new}
    return {
        "added": [after[k] for k in after if k not in before],
        "removed": [before[k] for k in before if k not in after],
        "changed": [
            {"id": k, "from": before[k], "to": after[k]}
            for k in after
            if k in before and before[k] != after[k]
        ],
    }
