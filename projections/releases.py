"""Release manifests, lane inboxes and lanes, from the release layer's events.

The event schema is fixed in notes/release_events.md; events are read by
topic and JSON fields, so this projection does not import the release layer.

* `release_manifests`: one row per release of a packet: request, holds,
  residuals accepted, the approval (manifest, hash, signer, meaning),
  supersession (cause, trigger, successor) and acknowledgements.
* `lane_inbox`: one row per release delivered to a lane (on approval), with
  its status (`released`, later `superseded`) and who acknowledged it.
* `lanes`: a lane's title, members, accepted kinds and audience version.
* `release_labels`: revision labels, so inbox rows carry them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections import events as ev
from projections.driver import Projection
from projections.events import EventRecord
from projections.store import ReadStore, Tx
from projections.tables import Table

RELEASE_COLUMNS = (
    "packet_id",
    "release_id",
    "seq",
    "lane_id",
    "revision",
    "label",
    "content_hash",
    "status",
    "hold_reasons",
    "requested_by",
    "requested_at",
    "approved_by",
    "approved_at",
    "meaning",
    "manifest",
    "manifest_hash",
    "residuals",
    "supersession",
    "successor_release_id",
    "predecessor_release_id",
    "acknowledgements",
    "updated_at",
    "version",
)
INBOX_COLUMNS = (
    "lane_id",
    "packet_id",
    "release_id",
    "seq",
    "revision",
    "label",
    "content_hash",
    "status",
    "released_at",
    "superseded_at",
    "supersession",
    "successor_release_id",
    "acknowledged_by",
)
LANE_COLUMNS = (
    "lane_id",
    "aggregate_id",
    "title",
    "members",
    "accepts_kinds",
    "policy",
    "audience_version",
    "updated_at",
)
JSON_COLUMNS = frozenset(
    {
        "hold_reasons",
        "manifest",
        "residuals",
        "supersession",
        "acknowledgements",
        "acknowledged_by",
        "members",
        "accepts_kinds",
        "policy",
    }
)


RELEASES = Table("release_manifests", RELEASE_COLUMNS, 2, JSON_COLUMNS)
INBOX = Table("lane_inbox", INBOX_COLUMNS, 3, JSON_COLUMNS)
LANES = Table("lanes", LANE_COLUMNS, 1, JSON_COLUMNS)
LABELS = Table("release_labels", ("packet_id", "revision", "label"), 2)


class Releases(Projection):
    name = "releases"
    topics = (*ev.RELEASE_TOPICS, ev.REVISION_CUT, *ev.LANE_TOPICS)
    tables = ("release_manifests", "lane_inbox", "lanes", "release_labels")
    ddl = (
        "CREATE TABLE IF NOT EXISTS release_manifests ("
        "packet_id TEXT NOT NULL, release_id TEXT NOT NULL, seq BIGINT NOT NULL, "
        "lane_id TEXT, revision BIGINT, label TEXT, content_hash TEXT, "
        "status TEXT NOT NULL, hold_reasons TEXT NOT NULL, requested_by TEXT, "
        "requested_at TEXT, approved_by TEXT, approved_at TEXT, meaning TEXT, "
        "manifest TEXT, manifest_hash TEXT, residuals TEXT NOT NULL, "
        "supersession TEXT, successor_release_id TEXT, "
        "predecessor_release_id TEXT, acknowledgements TEXT NOT NULL, "
        "updated_at TEXT, version BIGINT NOT NULL, "
        "PRIMARY KEY (packet_id, release_id))",
        "CREATE TABLE IF NOT EXISTS lane_inbox ("
        "lane_id TEXT NOT NULL, packet_id TEXT NOT NULL, release_id TEXT NOT NULL, "
        "seq BIGINT NOT NULL, revision BIGINT, label TEXT, content_hash TEXT, "
        "status TEXT NOT NULL, released_at TEXT, superseded_at TEXT, "
        "supersession TEXT, successor_release_id TEXT, "
        "acknowledged_by TEXT NOT NULL, "
        "PRIMARY KEY (lane_id, packet_id, release_id))",
        "CREATE TABLE IF NOT EXISTS lanes ("
        "lane_id TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL, title TEXT, "
        "members TEXT NOT NULL, accepts_kinds TEXT NOT NULL, policy TEXT, "
        "audience_version BIGINT NOT NULL, updated_at TEXT)",
        "CREATE TABLE IF NOT EXISTS release_labels ("
        "packet_id TEXT NOT NULL, revision BIGINT NOT NULL, label TEXT, "
        "PRIMARY KEY (packet_id, revision))",
        "CREATE INDEX IF NOT EXISTS lane_inbox_seq ON lane_inbox (lane_id, seq)",
        "CREATE INDEX IF NOT EXISTS lanes_aggregate ON lanes (aggregate_id)",
    )

    def apply(self, tx: Tx, events: Sequence[EventRecord]) -> None:
        batch = _Batch(tx)
        for event in events:
            if event.topic in ev.LANE_TOPICS:
                batch.lane_event(event)
            elif event.topic == ev.REVISION_CUT:
                batch.labels[(event.originator_id, int(event.data["number"]))] = (
                    event.data.get("label")
                )
            else:
                batch.release_event(event)
        batch.save()


class _Batch:
    """Rows touched by one batch, loaded once and written once."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.releases: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.inbox: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.lanes: dict[str, dict[str, Any]] = {}
        self.lane_ids: dict[str, str] = {}
        self.labels: dict[tuple[str, int], str | None] = {}

    # loading ---------------------------------------------------------------
    def release(self, packet_id: str, release_id: str) -> dict[str, Any] | None:
        key = (packet_id, release_id)
        if key not in self.releases:
            self.releases[key] = RELEASES.by_key(self.tx, key)
        return self.releases[key]

    def inbox_row(self, release: dict[str, Any]) -> dict[str, Any] | None:
        if not release.get("lane_id") or release.get("approved_at") is None:
            return None
        key = (release["lane_id"], release["packet_id"], release["release_id"])
        if key not in self.inbox:
            found = INBOX.by_key(self.tx, key)
            if found is None:
                return None
            self.inbox[key] = found
        return self.inbox[key]

    def label(self, packet_id: str, revision: int | None) -> str | None:
        if revision is None:
            return None
        key = (packet_id, revision)
        if key not in self.labels:
            row = LABELS.by_key(self.tx, key)
            return None if row is None else row["label"]
        return self.labels[key]

    def lane_by_aggregate(self, aggregate_id: str) -> dict[str, Any] | None:
        lane_id = self.lane_ids.get(aggregate_id)
        if lane_id is not None:
            return self.lanes[lane_id]
        lane = LANES.row(self.tx, "WHERE aggregate_id = %s", (aggregate_id,))
        if lane is None:
            return None
        self.lanes[lane["lane_id"]] = lane
        self.lane_ids[aggregate_id] = lane["lane_id"]
        return lane

    # folding ---------------------------------------------------------------
    def lane_event(self, event: EventRecord) -> None:
        data = event.data
        if event.topic == ev.LANE_CREATED:
            lane_id = str(data.get("lane_id"))
            lane: dict[str, Any] = {
                "lane_id": lane_id,
                "aggregate_id": event.originator_id,
                "title": data.get("title"),
                "members": list(data.get("members", [])),
                "accepts_kinds": list(data.get("accepts_kinds", [])),
                "policy": data.get("policy") or {},
                "audience_version": 1,
                "updated_at": event.timestamp,
            }
            self.lanes[lane_id] = lane
            self.lane_ids[event.originator_id] = lane_id
            return
        found = self.lane_by_aggregate(event.originator_id)
        if found is None:
            return
        if event.topic == ev.LANE_MEMBERS_CHANGED:
            found["members"] = list(data.get("members", []))
            found["audience_version"] = int(
                data.get("audience_version", found["audience_version"] + 1)
            )
        elif event.topic == ev.LANE_KINDS_CHANGED:
            found["accepts_kinds"] = list(data.get("accepts_kinds", []))
        found["updated_at"] = event.timestamp

    def release_event(self, event: EventRecord) -> None:
        data = event.data
        pid = event.originator_id
        rid = str(data.get("release_id"))
        topic = event.topic
        if topic == ev.RELEASE_REQUESTED:
            revision = data.get("revision")
            self.releases[(pid, rid)] = {
                "packet_id": pid,
                "release_id": rid,
                "seq": event.notification_id,
                "lane_id": data.get("lane_id"),
                "revision": revision,
                "label": self.label(pid, revision),
                "content_hash": data.get("content_hash"),
                "status": data.get("status") or "pending",
                "hold_reasons": list(data.get("hold_reasons") or []),
                "requested_by": event.actor,
                "requested_at": event.timestamp,
                "approved_by": None,
                "approved_at": None,
                "meaning": None,
                "manifest": None,
                "manifest_hash": None,
                "residuals": [],
                "supersession": None,
                "successor_release_id": None,
                "predecessor_release_id": None,
                "acknowledgements": [],
                "updated_at": event.timestamp,
                "version": event.originator_version,
            }
            return
        release = self.release(pid, rid)
        if release is None:
            return
        release["updated_at"] = event.timestamp
        release["version"] = event.originator_version
        inbox = self.inbox_row(release)
        if topic == ev.RELEASE_HELD:
            release["status"] = "held"
            release["hold_reasons"] = list(data.get("hold_reasons") or [])
        elif topic == ev.RELEASE_CLEARED:
            release["status"] = "pending"
            release["hold_reasons"] = []
        elif topic == ev.RESIDUAL_ACCEPTED:
            release["residuals"].append(
                {
                    "objection_id": data.get("objection_id"),
                    "rationale": data.get("rationale"),
                    "text_hash": data.get("text_hash"),
                    "accepted_by": event.actor,
                    "accepted_at": event.timestamp,
                }
            )
        elif topic == ev.RELEASE_APPROVED:
            revision = data.get("revision", release["revision"])
            release.update(
                status="released",
                hold_reasons=[],
                lane_id=data.get("lane_id", release["lane_id"]),
                revision=revision,
                label=self.label(pid, revision) or release["label"],
                content_hash=data.get("content_hash", release["content_hash"]),
                approved_by=event.actor,
                approved_at=event.timestamp,
                meaning=data.get("meaning"),
                manifest=data.get("manifest"),
                manifest_hash=data.get("manifest_hash"),
            )
            key = (release["lane_id"], pid, rid)
            self.inbox[key] = {
                "lane_id": release["lane_id"],
                "packet_id": pid,
                "release_id": rid,
                "seq": event.notification_id,
                "revision": release["revision"],
                "label": release["label"],
                "content_hash": release["content_hash"],
                "status": "released",
                "released_at": event.timestamp,
                "superseded_at": None,
                "supersession": None,
                "successor_release_id": None,
                "acknowledged_by": [],
            }
        elif topic == ev.RELEASE_SUPERSEDED:
            supersession = {
                "cause": data.get("cause"),
                "trigger": data.get("trigger"),
                "successor_release_id": data.get("successor_release_id"),
                "at": event.timestamp,
                "by": event.actor,
                "reason": data.get("reason"),
            }
            release["status"] = "superseded"
            release["supersession"] = supersession
            if data.get("successor_release_id"):
                self.link(release, str(data["successor_release_id"]))
            if inbox is not None:
                inbox["status"] = "superseded"
                inbox["superseded_at"] = event.timestamp
                inbox["supersession"] = supersession
                inbox["successor_release_id"] = release["successor_release_id"]
        elif topic == ev.RELEASE_SUCCEEDED:
            if data.get("successor_release_id"):
                self.link(release, str(data["successor_release_id"]))
            if inbox is not None:
                inbox["successor_release_id"] = release["successor_release_id"]
        elif topic == ev.RELEASE_ACKNOWLEDGED:
            release["acknowledgements"].append(
                {
                    "by": event.actor,
                    "at": event.timestamp,
                    "lane_id": data.get("lane_id"),
                }
            )
            if inbox is not None and event.actor not in inbox["acknowledged_by"]:
                inbox["acknowledged_by"].append(event.actor)

    def link(self, release: dict[str, Any], successor: str) -> None:
        """Lineage both ways, as the packet folds it."""
        release["successor_release_id"] = successor
        following = self.release(release["packet_id"], successor)
        if following is not None:
            following["predecessor_release_id"] = release["release_id"]

    def save(self) -> None:
        RELEASES.upsert(
            self.tx, [r for _, r in sorted(self.releases.items()) if r is not None]
        )
        INBOX.upsert(self.tx, [r for _, r in sorted(self.inbox.items())])
        LANES.upsert(self.tx, [r for _, r in sorted(self.lanes.items())])
        LABELS.upsert(
            self.tx,
            [
                {"packet_id": p, "revision": r, "label": label}
                for (p, r), label in sorted(self.labels.items())
            ],
        )


# ------------------------------------------------------------------ queries
def lane_inbox(store: ReadStore, lane_id: str) -> list[dict[str, Any]]:
    """A lane's releases, oldest first (shared/API.md `GET /v1/lanes/{lane}/inbox`)."""
    with store.read() as tx:
        return INBOX.rows(tx, "WHERE lane_id = %s ORDER BY seq", (lane_id,))


def release_manifest(
    store: ReadStore, packet_id: str, release_id: str
) -> dict[str, Any] | None:
    with store.read() as tx:
        return RELEASES.by_key(tx, (packet_id, release_id))


def packet_releases(store: ReadStore, packet_id: str) -> list[dict[str, Any]]:
    with store.read() as tx:
        return RELEASES.rows(tx, "WHERE packet_id = %s ORDER BY seq", (packet_id,))


def lane(store: ReadStore, lane_id: str) -> dict[str, Any] | None:
    with store.read() as tx:
        return LANES.by_key(tx, (lane_id,))
