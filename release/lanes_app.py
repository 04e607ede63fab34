"""Intake lanes for `ReleaseApp`: creating lanes and changing their audience
(a new audience supersedes what was delivered to the lane, in one save),
and what lane members do with a delivered release: acknowledge and decide."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from release.commands import AcknowledgeRelease, DecideRelease
from release.lanes import Lane, lane_aggregate_id
from workspace.accounts import Principal
from workspace.application import MAX_ATTEMPTS
from workspace.domain import Packet
from workspace.errors import (
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    QuireError,
    StateError,
    VersionClashError,
)

if TYPE_CHECKING:
    from workspace.application import Workspace as _App
else:
    _App = object


@dataclass(frozen=True)
class LaneChange:
    audience_version: int
    superseded: list[dict[str, str]]


class LaneCommands(_App):
    """A mixin of `ReleaseApp` (the workspace when type-checked): lanes and
    lane members' answers."""

    def find_lane(self, lane_id: str) -> Lane | None:
        try:
            lane: Any = self.repository.get(lane_aggregate_id(lane_id))
        except AggregateNotFoundError:
            return None
        return lane if isinstance(lane, Lane) else None

    def get_lane(self, lane_id: str) -> Lane:
        lane = self.find_lane(lane_id)
        if lane is None:
            raise NotFoundError(
                "LANE_NOT_FOUND", f"no intake lane {lane_id!r}", {"lane_id": lane_id}
            )
        return lane

    def lanes(self) -> list[Lane]:
        """Every lane, in order of creation."""
        return [
            self.repository.get(lane_id)
            for lane_id in self.originator_ids(Lane.Created.TOPIC)
        ]

    def create_lane(
        self,
        admin: Principal,
        *,
        lane_id: str,
        title: str,
        members: list[str],
        accepts_kinds: list[str],
        policy: dict[str, Any] | None = None,
    ) -> Lane:
        self._require_admin(admin)
        lane = Lane.create(
            actor=admin.user_id,
            at=self.clock(),
            lane_id=lane_id,
            title=title,
            members=members,
            accepts_kinds=accepts_kinds,
            policy=policy,
        )
        self._require_users(lane.members)
        try:
            self.save(lane)
        except IntegrityError:
            raise StateError(
                "LANE_EXISTS", f"lane {lane_id!r} already exists", {"lane_id": lane_id}
            ) from None
        return lane

    def change_lane_members(
        self, admin: Principal, lane_id: str, members: list[str]
    ) -> LaneChange:
        """A new audience supersedes every active release delivered to the
        lane, in one save of the lane and those packets."""
        self._require_admin(admin)
        for _ in range(MAX_ATTEMPTS):
            lane = self.get_lane(lane_id)
            at = self.clock()
            if not lane.change_members(actor=admin.user_id, at=at, members=members):
                return LaneChange(lane.audience_version, [])
            self._require_users(lane.members)
            trigger = {
                "event": Lane.MembersChanged.TOPIC,
                "lane_id": lane.lane_id,
                "audience_version": lane.audience_version,
                "version": lane.version,
            }
            meta = self.meta(admin, reason="lane audience changed")
            packets: dict[str, Packet] = {}
            superseded: list[dict[str, str]] = []
            for delivery in lane.deliveries:
                pid = delivery["packet_id"]
                packet = packets.get(pid) or self.get_packet(pid)
                if packet.releases[delivery["release_id"]]["status"] != "released":
                    continue
                packet.supersede_release(
                    meta,
                    delivery["release_id"],
                    cause="LANE_AUDIENCE_CHANGED",
                    trigger=trigger,
                )
                packets[pid] = packet
                superseded.append(
                    {"packet_id": pid, "release_id": delivery["release_id"]}
                )
            try:
                self.save(lane, *packets.values())
            except IntegrityError:
                continue
            return LaneChange(lane.audience_version, superseded)
        raise VersionClashError("VERSION_CLASH", "too many concurrent writers")

    def change_lane_kinds(
        self, admin: Principal, lane_id: str, accepts_kinds: list[str]
    ) -> None:
        self._require_admin(admin)
        lane = self.get_lane(lane_id)
        lane.change_kinds(
            actor=admin.user_id, at=self.clock(), accepts_kinds=accepts_kinds
        )
        try:
            self.save(lane)
        except IntegrityError:
            raise VersionClashError(
                "VERSION_CLASH", "the lane changed meanwhile; try again"
            ) from None

    def acknowledge_release(
        self,
        principal: Principal,
        lane_id: str,
        release_ref: str,
        packet_id: str | None = None,
    ) -> dict[str, Any]:
        """A lane member acknowledges receipt (recorded once per member)."""
        lane = self._lane_for_member(principal, lane_id, None)
        delivery = lane.delivery(release_ref, packet_id)
        rid = delivery["release_id"]
        packet = self.execute(
            delivery["packet_id"], principal, AcknowledgeRelease(rid)
        ).packet
        release = packet.release(rid)
        return {
            "release_id": rid,
            "packet_id": delivery["packet_id"],
            "status": release["status"],
            "acknowledgements": list(release["acknowledgements"]),
            "version": packet.version,
        }

    def decide_release(
        self,
        principal: Principal,
        lane_id: str,
        release_ref: str,
        *,
        decision: str,
        reason_category: str | None = None,
        reason: str | None = None,
        packet_id: str | None = None,
    ) -> dict[str, Any]:
        """A lane member accepts a release, or returns it with a reason
        category; an event on the release, seen by its owner and co-authors."""
        lane = self._lane_for_member(principal, lane_id, None)
        delivery = lane.delivery(release_ref, packet_id)
        rid = delivery["release_id"]
        command = DecideRelease(rid, decision, reason_category, reason)
        packet = self.execute(delivery["packet_id"], principal, command).packet
        release = packet.release(rid)
        return {
            "release_id": rid,
            "packet_id": delivery["packet_id"],
            "status": release["status"],
            "decision": release["decision"],
            "version": packet.version,
        }

    def acknowledge_packet_release(
        self, principal: Principal, packet_id: UUID | str, release_id: str
    ) -> dict[str, Any]:
        lane_id = self.get_packet(packet_id).release(release_id)["lane_id"]
        return self.acknowledge_release(principal, lane_id, release_id, str(packet_id))

    # ------------------------------------------------------------ helpers
    def _lane_for_member(
        self, principal: Principal, lane_id: str, read: str | None
    ) -> Lane:
        """The lane, if the principal is a member; a refused read is recorded
        (refused writes are recorded by the API for every route)."""
        lane = self.get_lane(lane_id)
        if not lane.is_member(principal.user_id):
            error = NotAllowedError(
                "LANE_MEMBERS_ONLY",
                f"only members of lane {lane_id} see what is released to it",
                {"lane_id": lane_id},
            )
            if read is not None:
                self._refused_read(principal, read, error)
            raise error
        return lane

    def _refused_read(
        self,
        principal: Principal,
        what: str,
        error: QuireError,
        packet_id: str | None = None,
    ) -> None:
        self.record_refusal(
            principal, what, error.code, error.message, packet_id=packet_id
        )

    def _require_admin(self, principal: Principal) -> None:
        if not principal.is_admin:
            raise NotAllowedError("ROLE_NOT_ALLOWED", "only admins manage intake lanes")

    def _require_users(self, user_ids: list[str]) -> None:
        for user_id in user_ids:
            if not self.user_exists(user_id):
                raise InvalidInputError(
                    "USER_UNKNOWN", f"no user {user_id!r}", {"user_id": user_id}
                )
