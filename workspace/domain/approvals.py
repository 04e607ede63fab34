"""Approval, supersession, succession, acknowledgement and lane decisions
of releases: events and commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.domain.base import (
    LANE_DECISIONS,
    RETURN_CATEGORIES,
    SUPERSESSION_CAUSES,
    Meta,
    PacketBase,
    check_reason,
    copied,
    iso,
    require_text,
)
from workspace.domain.releases import ReleaseEvent
from workspace.errors import (
    InvalidInputError,
    NotFoundError,
    StateError,
    UnprocessableError,
)
from workspace.hashing import content_hash

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


class ReleaseApproved(ReleaseEvent):
    TOPIC = "quire.packet.ReleaseApproved"
    revision: int
    content_hash: str
    lane_id: str
    meaning: str
    manifest: dict[str, Any]
    manifest_hash: str

    def fold(self, packet: Packet) -> None:
        self.entry(packet).update(
            status="released",
            hold_reasons=[],
            **copied(self, "meaning", "manifest", "manifest_hash"),
            approved_by=self.actor,
            approved_at=iso(self.timestamp),
            approved_version=self.originator_version,
        )


class ReleaseSuperseded(ReleaseEvent):
    TOPIC = "quire.packet.ReleaseSuperseded"
    cause: str
    trigger: dict[str, Any]
    successor_release_id: str | None

    def fold(self, packet: Packet) -> None:
        self.entry(packet).update(
            status="superseded",
            supersession=self.record(
                "cause", "trigger", version=self.originator_version
            ),
        )
        if self.successor_release_id is not None:
            packet.link_releases(self.release_id, self.successor_release_id)


class ReleaseSucceeded(ReleaseEvent):
    TOPIC = "quire.packet.ReleaseSucceeded"
    successor_release_id: str

    def fold(self, packet: Packet) -> None:
        packet.link_releases(self.release_id, self.successor_release_id)


class ReleaseAcknowledged(ReleaseEvent):
    TOPIC = "quire.packet.ReleaseAcknowledged"
    lane_id: str

    def fold(self, packet: Packet) -> None:
        self.entry(packet)["acknowledgements"].append(self.record("lane_id"))


class ReleaseDecided(ReleaseEvent):
    """The lane decides on a release delivered to it: accepted, or returned
    with a reason category (the reason text is the event's own)."""

    TOPIC = "quire.packet.ReleaseDecided"
    lane_id: str
    decision: str
    reason_category: str | None

    def fold(self, packet: Packet) -> None:
        # Releases folded before lanes decided have no such key.
        self.entry(packet)["decision"] = self.record(
            "decision",
            "reason_category",
            "reason",
            "lane_id",
            version=self.originator_version,
        )


class ApprovalCommands(PacketBase):
    """The packet's approvals commands (a mixin of `Packet`)."""

    def approve_release(
        self,
        meta: Meta,
        release_id: str,
        *,
        meaning: str,
        manifest: dict[str, Any],
        manifest_hash: str,
    ) -> None:
        release = self._open_release(release_id)
        revision = self.revision(release["revision"])
        bound = manifest.get("revision", {}).get("content_hash")
        if not (bound == release["content_hash"] == revision["content_hash"]):
            raise StateError(
                "CONTENT_HASH_MISMATCH",
                "an approval binds exactly its revision's content hash",
                {"release_id": release_id, "revision": release["revision"]},
            )
        if manifest_hash != content_hash(manifest):
            raise StateError("MANIFEST_HASH_MISMATCH", "the manifest hash is wrong")
        self._trigger(
            ReleaseApproved,
            meta,
            release_id=release_id,
            revision=release["revision"],
            content_hash=release["content_hash"],
            lane_id=release["lane_id"],
            meaning=require_text("MEANING_EMPTY", "meaning", meaning, 2000),
            manifest=manifest,
            manifest_hash=manifest_hash,
        )

    def supersede_release(
        self,
        meta: Meta,
        release_id: str,
        *,
        cause: str,
        trigger: dict[str, Any],
        successor_release_id: str | None = None,
    ) -> None:
        if cause not in SUPERSESSION_CAUSES:
            raise InvalidInputError("CAUSE_UNKNOWN", f"no supersession cause {cause}")
        release = self.release(release_id)
        if release["status"] != "released":
            raise StateError(
                "RELEASE_NOT_ACTIVE", f"{release_id} is {release['status']}"
            )
        self._trigger(
            ReleaseSuperseded,
            meta,
            release_id=release_id,
            cause=cause,
            trigger=trigger,
            successor_release_id=successor_release_id,
        )

    def link_successor(
        self, meta: Meta, release_id: str, successor_release_id: str
    ) -> None:
        release = self.release(release_id)
        if release["status"] != "superseded" or release["successor_release_id"]:
            raise StateError(
                "RELEASE_NOT_SUPERSEDED",
                f"{release_id} is {release['status']} and cannot take a successor",
            )
        self._trigger(
            ReleaseSucceeded,
            meta,
            release_id=release_id,
            successor_release_id=successor_release_id,
        )

    def acknowledge_release(self, meta: Meta, release_id: str) -> bool:
        """A lane member acknowledges receipt; once per member."""
        release = self._delivered_release(release_id)
        if any(a["by"] == meta.actor for a in release["acknowledgements"]):
            return False
        self._trigger(
            ReleaseAcknowledged,
            meta,
            release_id=release_id,
            lane_id=release["lane_id"],
        )
        return True

    def decide_release(
        self, meta: Meta, release_id: str, decision: str, reason_category: str | None
    ) -> None:
        """A lane member decides on a released revision, once per release."""
        release = self._delivered_release(release_id)
        if decision not in LANE_DECISIONS:
            raise UnprocessableError(
                "DECISION_INVALID",
                f"decision is one of {', '.join(LANE_DECISIONS)}",
                {"decision": decision},
            )
        if decision == "returned" and reason_category not in RETURN_CATEGORIES:
            raise UnprocessableError(
                "REASON_CATEGORY_INVALID",
                f"a return names its reason_category: {', '.join(RETURN_CATEGORIES)}",
                {"reason_category": reason_category},
            )
        if decision == "accepted" and reason_category is not None:
            raise UnprocessableError(
                "REASON_CATEGORY_INVALID", "an acceptance has no reason_category"
            )
        if release["status"] != "released":
            raise StateError(
                "RELEASE_NOT_ACTIVE",
                f"{release_id} was superseded; decide on the release that replaced it",
                {"release_id": release_id, "status": release["status"]},
            )
        if release.get("decision"):
            raise StateError(
                "RELEASE_ALREADY_DECIDED",
                f"{release_id} was already {release['decision']['decision']} "
                f"by {release['decision']['by']}",
                {"release_id": release_id, "decision": release["decision"]},
            )
        check_reason(meta)
        self._trigger(
            ReleaseDecided,
            meta,
            release_id=release_id,
            lane_id=release["lane_id"],
            decision=decision,
            reason_category=reason_category,
        )

    def _delivered_release(self, release_id: str) -> dict[str, Any]:
        """A release its lane has (released, or superseded since): lane
        members see no other (404)."""
        release = self.release(release_id)
        if release["status"] not in ("released", "superseded"):
            raise NotFoundError(
                "RELEASE_NOT_FOUND", f"no release {release_id!r} in this lane"
            )
        return release

    def link_releases(self, release_id: str, successor_release_id: str) -> None:
        """Folds lineage both ways (used by the release events' folds)."""
        self.releases[release_id]["successor_release_id"] = successor_release_id
        successor = self.releases.get(successor_release_id)
        if successor is not None:
            successor["predecessor_release_id"] = release_id

    def active_releases(self) -> list[dict[str, Any]]:
        return [r for r in self.releases.values() if r["status"] == "released"]
