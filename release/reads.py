"""What `ReleaseApp` answers about releases: the release view, the signed
manifest, the impact of a change, and lane members' inbox and release
(content and manifest, hash checked on read). Reads of someone else's
packet, and refused reads, are recorded in the audit trail."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from release import gate
from release.errors import ReleaseIntegrityError
from release.impact import impact
from release.lanes_app import LaneCommands
from release.manifest import manifest_hash, non_material_refreshes
from release.signatures import signing_view
from release.signers import signed_view
from release.sweeper import sweep_packet
from workspace import policy
from workspace.accounts import Principal
from workspace.content.diff import revision_diff
from workspace.domain import Packet
from workspace.errors import (
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
)
from workspace.hashing import content_hash

log = logging.getLogger(__name__)


class ReleaseReads(LaneCommands):
    """A mixin of `ReleaseApp`: release and lane reads."""

    def release_view(self, packet: Packet, release_id: str) -> dict[str, Any]:
        release = packet.release(release_id)
        revision = gate.revision_record(packet, release["revision"])
        return {
            "release_id": release_id,
            "packet_id": str(packet.id),
            "revision": release["revision"],
            "label": revision["label"] if revision else None,
            "content_hash": release["content_hash"],
            "lane_id": release["lane_id"],
            "status": release["status"],
            "hold_reasons": list(release["hold_reasons"]),
            "owner_hold": release.get("owner_hold"),
            "cancellation": release.get("cancellation"),
            "decision": release.get("decision"),
            "residuals": list(release["residuals"].values()),
            "manifest_hash": release["manifest_hash"],
            "approved_by": release["approved_by"],
            "approved_at": release["approved_at"],
            "supersession": _supersession(release),
            "predecessor_release_id": release["predecessor_release_id"],
            "version": packet.version,
            **signing_view(packet, release),
        }

    def release_manifest(
        self, packet_id: UUID | str, principal: Principal, release_id: str
    ) -> dict[str, Any]:
        """A release's signed manifest, for packet readers and for members
        of the lane it was delivered to (reads by both kinds are recorded)."""
        packet = self._current(packet_id)
        release = packet.release(release_id)
        if not policy.can_read(principal, packet):
            lane = self.find_lane(release["lane_id"])
            if (
                lane is None
                or not lane.is_member(principal.user_id)
                or release["manifest"] is None
            ):
                error = NotAllowedError(
                    "ROLE_NOT_ALLOWED",
                    "only packet members, auditors and the lane it was "
                    "released to may read this manifest",
                )
                self._refused_read(
                    principal, "release_manifest", error, packet_id=str(packet.id)
                )
                raise error
        if release["manifest"] is None:
            raise NotFoundError(
                "MANIFEST_NOT_FOUND",
                f"{release_id} is {release['status']}; it has no signed manifest",
                {"release_id": release_id, "status": release["status"]},
            )
        self._check_integrity(packet, release)
        if principal.is_auditor or not policy.is_member(principal, packet):
            self.record_view(
                principal,
                "release_manifest",
                packet_id=str(packet.id),
                detail={"release_id": release_id},
            )
        return {
            "release_id": release_id,
            "manifest": release["manifest"],
            "manifest_hash": release["manifest_hash"],
            "status": release["status"],
            "supersession": _supersession(release),
            "predecessor_release_id": release["predecessor_release_id"],
            "signatures": signed_view(release),
        }

    def impact(
        self,
        packet_id: UUID | str,
        principal: Principal,
        *,
        source_id: str | None = None,
        prerequisite_id: str | None = None,
        objection_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Which active releases the change would supersede, before making it."""
        if source_id is None and prerequisite_id is None and objection_id is None:
            raise InvalidInputError(
                "IMPACT_QUESTION_EMPTY",
                "name a source_id, a prerequisite_id or an objection_id",
            )
        packet = self.read_packet(principal, packet_id)
        return impact(
            packet,
            source_id=source_id,
            prerequisite_id=prerequisite_id,
            objection_id=objection_id,
        )

    # ---------------------------------------------------------- lane reads
    def lane_inbox(self, principal: Principal, lane_id: str) -> list[dict[str, Any]]:
        lane = self._lane_for_member(principal, lane_id, "lane_inbox")
        items: list[dict[str, Any]] = []
        packets: dict[str, Packet] = {}
        for delivery in lane.deliveries:
            pid = delivery["packet_id"]
            if pid not in packets:
                packets[pid] = self._current(pid)
            release = packets[pid].releases[delivery["release_id"]]
            items.append(
                {
                    "release_id": delivery["release_id"],
                    "packet_id": pid,
                    "ref": f"{pid}:{delivery['release_id']}",
                    "title": packets[pid].title,
                    "kind": packets[pid].kind,
                    "revision": delivery["revision"],
                    "label": delivery["label"],
                    "content_hash": delivery["content_hash"],
                    "manifest_hash": delivery["manifest_hash"],
                    "status": release["status"],
                    "released_at": delivery["released_at"],
                    "supersession": _supersession(release),
                    "acknowledged": any(
                        a["by"] == principal.user_id
                        for a in release["acknowledgements"]
                    ),
                    "decision": release.get("decision"),
                }
            )
        self.record_view(
            principal, "lane_inbox", detail={"lane_id": lane_id, "items": len(items)}
        )
        return items

    def lane_release(
        self,
        principal: Principal,
        lane_id: str,
        release_ref: str,
        packet_id: str | None = None,
    ) -> dict[str, Any]:
        """Exactly the released content and its manifest, hash checked on read."""
        lane = self._lane_for_member(principal, lane_id, "lane_release")
        delivery = lane.delivery(release_ref, packet_id)
        packet = self._current(delivery["packet_id"])
        release = packet.release(delivery["release_id"])
        content = self._check_integrity(packet, release)
        self.record_view(
            principal,
            "lane_release",
            packet_id=delivery["packet_id"],
            detail={
                "lane_id": lane_id,
                "release_id": release["id"],
                "revision": release["revision"],
                "content_hash": release["content_hash"],
                "manifest_hash": release["manifest_hash"],
            },
        )
        return {
            "release_id": release["id"],
            "packet_id": delivery["packet_id"],
            "lane_id": lane_id,
            "revision": release["revision"],
            "label": delivery["label"],
            "content_hash": release["content_hash"],
            "content": content,
            "manifest": release["manifest"],
            "manifest_hash": release["manifest_hash"],
            "status": release["status"],
            "supersession": _supersession(release),
            "predecessor_release_id": release["predecessor_release_id"],
            "acknowledgements": list(release["acknowledgements"]),
            "decision": release.get("decision"),
            "signatures": signed_view(release),
            **self._what_was_signed(packet, release, content),
            # the owner's judgements on the bound sources, made before or
            # after the approval: the lane sees them all
            "non_material_refreshes": non_material_refreshes(
                packet, {s["source_id"] for s in release["manifest"]["sources"]}
            ),
        }

    def _what_was_signed(
        self, packet: Packet, release: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        """What the lane sees of the signature besides the content: the scope,
        the residual objections with their text and the owner's rationale,
        the bound sources and prerequisites, and the diff from the release it
        replaced. Nothing else of the packet."""
        manifest = release["manifest"]
        residuals = [
            {
                **r,
                "text": packet.objections[r["objection_id"]]["text"],
            }
            for r in manifest.get("residual_objections", [])
        ]
        previous = release["predecessor_release_id"]
        diff = None
        if previous is not None:
            before = packet.release(previous)
            _, old = self.revision_content(packet, before["revision"])
            diff = revision_diff(old, content, before["revision"], release["revision"])
        return {
            "scope": manifest.get("scope"),
            "residuals": residuals,
            "sources": manifest.get("sources", []),
            "prerequisites": manifest.get("prerequisites", []),
            "diff_from_previous": diff,
        }

    # ------------------------------------------------------------ helpers
    def _current(self, packet_id: UUID | str) -> Packet:
        """The packet with any due lapse recorded first, so nobody reads a
        release as active after what it depended on has expired."""
        packet, _ = sweep_packet(self, packet_id)
        return packet

    def _check_integrity(
        self, packet: Packet, release: dict[str, Any]
    ) -> dict[str, Any]:
        _, content = self.revision_content(packet, release["revision"])
        manifest = release["manifest"]
        if manifest is None:
            raise NotFoundError("RELEASE_NOT_FOUND", f"{release['id']} not released")
        computed = content_hash(content)
        if not (
            computed == release["content_hash"] == manifest["revision"]["content_hash"]
            and manifest_hash(manifest) == release["manifest_hash"]
        ):
            log.error("release %s of %s fails its hash check", release["id"], packet.id)
            raise ReleaseIntegrityError(
                "RELEASE_CONTENT_CORRUPT",
                "the stored content does not match the approved hash",
                {"release_id": release["id"], "computed": computed},
            )
        return content


def _supersession(release: dict[str, Any]) -> dict[str, Any] | None:
    if release["supersession"] is None:
        return None
    return {
        "cause": release["supersession"]["cause"],
        "trigger": release["supersession"]["trigger"],
        "at": release["supersession"]["at"],
        "successor_release_id": release["successor_release_id"],
    }
