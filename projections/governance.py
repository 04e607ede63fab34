"""Governance facts: the read model behind GET /v1/metrics/governance.

The projection keeps one small row per fact the seeds' evaluation measures
need, read from stored events by topic and JSON fields (like every
projection, it imports no event class):

* `governance_packets`: when each packet was opened;
* `governance_releases`: per release, its lane and the times it was
  requested, released (approved), superseded (with cause), cancelled and
  decided by its lane (decision and return category), and how many residual
  objections its signed manifest carries;
* `governance_holds`: each distinct (release, hold code) pair, with the time
  the gate first recorded it and how many gate evaluations recorded it;
* `governance_suggestions`: agents' suggestions, when proposed and when
  rejected, with the rejection's category;
* `governance_source_changes`: every source refresh, material or not;
* `governance_asks`, `governance_matrices`: the blocked-path register's asks
  and the latest delegated-authority matrix's blocked and escalation-only
  types of each recommendation packet;
* `governance_rankings`, `governance_cuts`: the owner's rankings (with the
  preferred option) and revision cuts, which end a review cycle.

The driver writes these rows in the transaction that moves the tracking
record, so each event is counted exactly once. The measures themselves are
computed on read (projections/governance_measures.py) so that any time
window can be asked for; their definitions are in docs/metrics.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from projections import events as ev
from projections.driver import Projection
from projections.events import EventRecord
from projections.store import ReadStore, Tx
from projections.tables import Row, Table

SUGGESTION_PROPOSED = "quire.packet.SuggestionProposed"
SUGGESTION_REJECTED = "quire.packet.SuggestionRejected"
SOURCE_REFRESHED = "quire.packet.SourceRefreshed"
RELEASE_CANCELLED = "quire.packet.ReleaseCancelled"
RELEASE_DECIDED = "quire.packet.ReleaseDecided"
# Recommendation packets (seeds 000, 001): the blocked-path register, the
# matrix that classifies its asks, the owner's rankings, and revision cuts
# (a review cycle ends with one).
ASK_RECORDED = "quire.packet.AskRecorded"
MATRIX_SET = "quire.packet.AuthorityMatrixSet"
OPTIONS_RANKED = "quire.packet.OptionsRanked"

TOPICS = (
    ev.OPENED,
    ev.RELEASE_REQUESTED,
    ev.RELEASE_HELD,
    ev.RELEASE_APPROVED,
    ev.RELEASE_SUPERSEDED,
    RELEASE_CANCELLED,
    RELEASE_DECIDED,
    SUGGESTION_PROPOSED,
    SUGGESTION_REJECTED,
    SOURCE_REFRESHED,
    ASK_RECORDED,
    MATRIX_SET,
    OPTIONS_RANKED,
    ev.REVISION_CUT,
)

PACKET_COLUMNS = ("packet_id", "opened_at")
RELEASE_COLUMNS = (
    "packet_id",
    "release_id",
    "seq",
    "lane_id",
    "requested_at",
    "released_at",
    "residuals",
    "superseded_at",
    "cause",
    "cancelled_at",
    "decision",
    "reason_category",
    "decided_at",
)
HOLD_COLUMNS = ("packet_id", "release_id", "code", "first_at", "occurrences")
SUGGESTION_COLUMNS = (
    "packet_id",
    "suggestion_id",
    "proposed_at",
    "rejected_at",
    "category",
)
CHANGE_COLUMNS = ("packet_id", "version", "at", "material")
ASK_COLUMNS = ("packet_id", "ask_id", "at", "type")
MATRIX_COLUMNS = ("packet_id", "blocked", "escalation_only")
RANKING_COLUMNS = ("packet_id", "version", "at", "preferred")
CUT_COLUMNS = ("packet_id", "version", "at")

TABLES = {
    table.name: table
    for table in (
        Table("governance_packets", PACKET_COLUMNS, 1),
        Table("governance_releases", RELEASE_COLUMNS, 2),
        Table("governance_holds", HOLD_COLUMNS, 3),
        Table("governance_suggestions", SUGGESTION_COLUMNS, 2),
        Table("governance_source_changes", CHANGE_COLUMNS, 2),
        Table("governance_asks", ASK_COLUMNS, 2),
        Table("governance_matrices", MATRIX_COLUMNS, 1),
        Table("governance_rankings", RANKING_COLUMNS, 2),
        Table("governance_cuts", CUT_COLUMNS, 2),
    )
}

Key = tuple[Any, ...]


class GovernanceFacts(Projection):
    name = "governance"
    topics = TOPICS
    tables = tuple(TABLES)
    ddl = (
        "CREATE TABLE IF NOT EXISTS governance_packets ("
        "packet_id TEXT PRIMARY KEY, opened_at TEXT)",
        "CREATE TABLE IF NOT EXISTS governance_releases ("
        "packet_id TEXT NOT NULL, release_id TEXT NOT NULL, seq BIGINT NOT NULL, "
        "lane_id TEXT, requested_at TEXT, released_at TEXT, "
        "residuals BIGINT NOT NULL, superseded_at TEXT, cause TEXT, "
        "cancelled_at TEXT, decision TEXT, reason_category TEXT, decided_at TEXT, "
        "PRIMARY KEY (packet_id, release_id))",
        "CREATE TABLE IF NOT EXISTS governance_holds ("
        "packet_id TEXT NOT NULL, release_id TEXT NOT NULL, code TEXT NOT NULL, "
        "first_at TEXT, occurrences BIGINT NOT NULL, "
        "PRIMARY KEY (packet_id, release_id, code))",
        "CREATE TABLE IF NOT EXISTS governance_suggestions ("
        "packet_id TEXT NOT NULL, suggestion_id TEXT NOT NULL, proposed_at TEXT, "
        "rejected_at TEXT, category TEXT, "
        "PRIMARY KEY (packet_id, suggestion_id))",
        "CREATE TABLE IF NOT EXISTS governance_source_changes ("
        "packet_id TEXT NOT NULL, version BIGINT NOT NULL, at TEXT, "
        "material BIGINT NOT NULL, PRIMARY KEY (packet_id, version))",
        "CREATE TABLE IF NOT EXISTS governance_asks ("
        "packet_id TEXT NOT NULL, ask_id TEXT NOT NULL, at TEXT, type TEXT, "
        "PRIMARY KEY (packet_id, ask_id))",
        "CREATE TABLE IF NOT EXISTS governance_matrices ("
        "packet_id TEXT PRIMARY KEY, blocked TEXT NOT NULL, "
        "escalation_only TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS governance_rankings ("
        "packet_id TEXT NOT NULL, version BIGINT NOT NULL, at TEXT, "
        "preferred TEXT, PRIMARY KEY (packet_id, version))",
        "CREATE TABLE IF NOT EXISTS governance_cuts ("
        "packet_id TEXT NOT NULL, version BIGINT NOT NULL, at TEXT, "
        "PRIMARY KEY (packet_id, version))",
    )

    def apply(self, tx: Tx, events: Sequence[EventRecord]) -> None:
        batch = _Batch(tx)
        for event in events:
            batch.apply(event)
        batch.save()


class _Batch:
    """The rows one batch touches: each loaded once, written once."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.rows: dict[str, dict[Key, Row | None]] = {t: {} for t in TABLES}

    def get(self, table: str, key: Key) -> Row | None:
        cache = self.rows[table]
        if key not in cache:
            cache[key] = TABLES[table].by_key(self.tx, key)
        return cache[key]

    def put(self, table: str, row: Row) -> None:
        self.rows[table][tuple(row[c] for c in TABLES[table].key_columns)] = row

    def ensure(self, table: str, new: Row) -> Row:
        """The row with `new`'s key: the one stored (or put by this batch),
        else `new`, put now."""
        found = self.get(table, tuple(new[c] for c in TABLES[table].key_columns))
        if found is None:
            self.put(table, new)
            return new
        return found

    def apply(self, event: EventRecord) -> None:
        data = event.data
        pid = event.originator_id
        at = event.timestamp
        topic = event.topic
        if topic == ev.OPENED:
            self.ensure("governance_packets", {"packet_id": pid, "opened_at": at})
            return
        if topic == SOURCE_REFRESHED:
            self.put(
                "governance_source_changes",
                {
                    "packet_id": pid,
                    "version": event.originator_version,
                    "at": at,
                    "material": 1 if data.get("material") else 0,
                },
            )
            return
        if topic in (SUGGESTION_PROPOSED, SUGGESTION_REJECTED):
            self._suggestion(event)
            return
        if topic in (ASK_RECORDED, MATRIX_SET, OPTIONS_RANKED, ev.REVISION_CUT):
            self._recommendation(event)
            return
        rid = str(data.get("release_id"))
        if topic == ev.RELEASE_REQUESTED:
            self.put(
                "governance_releases",
                {
                    "packet_id": pid,
                    "release_id": rid,
                    "seq": event.notification_id,
                    "lane_id": data.get("lane_id"),
                    "requested_at": at,
                    "released_at": None,
                    "residuals": 0,
                    "superseded_at": None,
                    "cause": None,
                    "cancelled_at": None,
                    "decision": None,
                    "reason_category": None,
                    "decided_at": None,
                },
            )
        if topic in (ev.RELEASE_REQUESTED, ev.RELEASE_HELD):
            self._holds(pid, rid, at, data.get("hold_reasons") or [])
            return
        release = self.get("governance_releases", (pid, rid))
        if release is None:  # a release requested before this read model
            return
        if topic == ev.RELEASE_APPROVED:
            manifest = data.get("manifest") or {}
            release["released_at"] = at
            release["residuals"] = len(manifest.get("residual_objections") or [])
        elif topic == ev.RELEASE_SUPERSEDED:
            release["superseded_at"] = at
            release["cause"] = data.get("cause")
        elif topic == RELEASE_CANCELLED:
            release["cancelled_at"] = at
        elif topic == RELEASE_DECIDED:
            release["decision"] = data.get("decision")
            release["reason_category"] = data.get("reason_category")
            release["decided_at"] = at

    def _holds(
        self, pid: str, rid: str, at: str | None, reasons: Sequence[Any]
    ) -> None:
        codes = sorted(
            {str(r.get("code")) for r in reasons if isinstance(r, dict) and "code" in r}
        )
        for code in codes:
            row = self.ensure(
                "governance_holds",
                {
                    "packet_id": pid,
                    "release_id": rid,
                    "code": code,
                    "first_at": at,
                    "occurrences": 0,
                },
            )
            row["occurrences"] += 1

    def _recommendation(self, event: EventRecord) -> None:
        pid, data, at = event.originator_id, event.data, event.timestamp
        version = event.originator_version
        if event.topic == ASK_RECORDED:
            row = {"packet_id": pid, "ask_id": str(data.get("ask_id")), "at": at}
            self.put("governance_asks", {**row, "type": data.get("type")})
        elif event.topic == MATRIX_SET:
            matrix = data.get("matrix") or {}
            self.put(
                "governance_matrices",
                {
                    "packet_id": pid,
                    "blocked": json.dumps(sorted(matrix.get("blocked_types") or [])),
                    "escalation_only": json.dumps(
                        sorted(matrix.get("escalation_only_types") or [])
                    ),
                },
            )
        elif event.topic == OPTIONS_RANKED:
            order = data.get("order") or []
            preferred = str(order[0]) if order else None
            self.put(
                "governance_rankings",
                {
                    "packet_id": pid,
                    "version": version,
                    "at": at,
                    "preferred": preferred,
                },
            )
        else:
            self.put(
                "governance_cuts", {"packet_id": pid, "version": version, "at": at}
            )

    def _suggestion(self, event: EventRecord) -> None:
        pid = event.originator_id
        sid = str(event.data.get("suggestion_id"))
        row = self.ensure(
            "governance_suggestions",
            {
                "packet_id": pid,
                "suggestion_id": sid,
                "proposed_at": None,
                "rejected_at": None,
                "category": None,
            },
        )
        if event.topic == SUGGESTION_PROPOSED:
            row["proposed_at"] = event.timestamp
        else:
            row["rejected_at"] = event.timestamp
            row["category"] = event.data.get("category")

    def save(self) -> None:
        for table, cache in self.rows.items():
            rows = [row for row in cache.values() if row is not None]
            if rows:
                TABLES[table].upsert(self.tx, rows)


def facts(store: ReadStore) -> dict[str, list[Row]]:
    """Every row of the read model, by table."""
    with store.read() as tx:
        return {
            name: table.rows(tx, f"ORDER BY {', '.join(table.key_columns)}")
            for name, table in TABLES.items()
        }
