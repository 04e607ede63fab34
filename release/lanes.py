"""Intake lanes: the restricted audiences a packet revision is released to.

A lane is its own aggregate (id derived from the lane id, so it is found by id
on every backend). Membership changes are events and bump the lane's audience
version; an approval's manifest binds the audience version it was signed for.
The lane also keeps the releases delivered to it (written in the same save as
the approval), so its inbox is answered from event-sourced state.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from workspace.domain import iso, require_text
from workspace.domain.base import assign, copied, stored_classes
from workspace.errors import InvalidInputError, NotFoundError

LANE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

#: The separation-of-duties policy a lane gets unless it names its own.
DEFAULT_POLICY: dict[str, Any] = {"signer_may_have_authored": False}
POLICY_KEYS = frozenset(DEFAULT_POLICY)


def lane_aggregate_id(lane_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"quire:lane:{lane_id}")


def validate_lane_id(lane_id: str) -> str:
    if not isinstance(lane_id, str) or not LANE_ID_PATTERN.match(lane_id):
        raise InvalidInputError(
            "LANE_ID_INVALID", "a lane id is 1-100 letters, digits, '.', '_' or '-'"
        )
    return lane_id


class Lane(Aggregate):
    TOPIC = "quire.lane"

    lane_id: str
    title: str
    members: list[str]
    accepts_kinds: list[str]
    policy: dict[str, Any]
    audience_version: int
    deliveries: list[dict[str, Any]]

    def __init__(self, **kwargs: Any) -> None:
        """State is set by Created.apply."""

    class Event(Aggregate.Event):
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "quire.lane.Created"
        lane_id: str
        title: str
        members: list[str]
        accepts_kinds: list[str]
        policy: dict[str, Any]

        def apply(self, lane: Any) -> None:
            assign(
                lane,
                self,
                "lane_id",
                "title",
                "members",
                "accepts_kinds",
                "policy",
                audience_version=1,
                deliveries=[],
            )

    class MembersChanged(Event):
        TOPIC = "quire.lane.MembersChanged"
        members: list[str]
        audience_version: int

        def apply(self, lane: Any) -> None:
            assign(lane, self, "members", "audience_version")

    class KindsChanged(Event):
        TOPIC = "quire.lane.KindsChanged"
        accepts_kinds: list[str]

        def apply(self, lane: Any) -> None:
            assign(lane, self, "accepts_kinds")

    class ReleaseDelivered(Event):
        """An approved release reached this lane (same save as the approval)."""

        TOPIC = "quire.lane.ReleaseDelivered"
        packet_id: str
        release_id: str
        revision: int
        label: str | None
        content_hash: str
        manifest_hash: str

        def apply(self, lane: Any) -> None:
            lane.deliveries.append(
                {
                    **copied(
                        self,
                        "packet_id",
                        "release_id",
                        "revision",
                        "label",
                        "content_hash",
                        "manifest_hash",
                    ),
                    "released_at": iso(self.timestamp),
                }
            )

    # ------------------------------------------------------------ commands
    @classmethod
    def create(
        cls,
        *,
        actor: str,
        at: datetime,
        lane_id: str,
        title: str,
        members: list[str],
        accepts_kinds: list[str],
        policy: dict[str, Any] | None = None,
    ) -> Lane:
        lane_id = validate_lane_id(lane_id)
        chosen = dict(DEFAULT_POLICY)
        if policy:
            unknown = set(policy) - POLICY_KEYS
            if unknown or not all(isinstance(v, bool) for v in policy.values()):
                raise InvalidInputError(
                    "LANE_POLICY_INVALID",
                    f"a lane policy sets only {sorted(POLICY_KEYS)} to true or false",
                )
            chosen.update(policy)
        return cls._create(
            cls.Created,
            id=lane_aggregate_id(lane_id),
            actor=actor,
            timestamp=at,
            lane_id=lane_id,
            title=require_text("TITLE_EMPTY", "title", title),
            members=_names("members", members),
            accepts_kinds=_names("accepts_kinds", accepts_kinds, allow_empty=False),
            policy=chosen,
        )

    def change_members(self, *, actor: str, at: datetime, members: list[str]) -> bool:
        """A new audience; False (and no event) when nothing changes."""
        members = _names("members", members)
        if members == self.members:
            return False
        self.trigger_event(
            self.MembersChanged,
            actor=actor,
            timestamp=at,
            members=members,
            audience_version=self.audience_version + 1,
        )
        return True

    def change_kinds(
        self, *, actor: str, at: datetime, accepts_kinds: list[str]
    ) -> None:
        self.trigger_event(
            self.KindsChanged,
            actor=actor,
            timestamp=at,
            accepts_kinds=_names("accepts_kinds", accepts_kinds, allow_empty=False),
        )

    def deliver(
        self,
        *,
        actor: str,
        at: datetime,
        packet_id: str,
        release_id: str,
        revision: int,
        label: str | None,
        content_hash: str,
        manifest_hash: str,
    ) -> None:
        self.trigger_event(
            self.ReleaseDelivered,
            actor=actor,
            timestamp=at,
            packet_id=packet_id,
            release_id=release_id,
            revision=revision,
            label=label,
            content_hash=content_hash,
            manifest_hash=manifest_hash,
        )

    # --------------------------------------------------------------- reads
    def is_member(self, user_id: str) -> bool:
        return user_id in self.members

    def delivery(
        self, release_ref: str, packet_id: str | None = None
    ) -> dict[str, Any]:
        """Finds a delivered release by 'rel-N' (with its packet id when two
        packets delivered the same number) or by '<packet_id>:rel-N'."""
        if packet_id is None and ":" in release_ref:
            packet_id, release_ref = release_ref.rsplit(":", 1)
        found = [
            d
            for d in self.deliveries
            if d["release_id"] == release_ref
            and (packet_id is None or d["packet_id"] == packet_id)
        ]
        if not found:
            raise NotFoundError(
                "RELEASE_NOT_FOUND",
                f"no release {release_ref!r} was delivered to lane {self.lane_id}",
                {"lane_id": self.lane_id, "release_id": release_ref},
            )
        if len(found) > 1:
            raise InvalidInputError(
                "RELEASE_AMBIGUOUS",
                f"several packets delivered {release_ref}; name the packet",
                {"refs": [delivery_ref(d) for d in found]},
            )
        return found[0]

    def view(self) -> dict[str, Any]:
        return {
            "id": self.lane_id,
            "title": self.title,
            "members": list(self.members),
            "accepts_kinds": list(self.accepts_kinds),
            "policy": dict(self.policy),
            "audience_version": self.audience_version,
        }


def delivery_ref(delivery: dict[str, Any]) -> str:
    """A lane-unique name for a delivered release: '<packet_id>:rel-N'."""
    return f"{delivery['packet_id']}:{delivery['release_id']}"


def _names(what: str, values: object, *, allow_empty: bool = True) -> list[str]:
    if not isinstance(values, list) or not all(
        isinstance(v, str) and v.strip() for v in values
    ):
        raise InvalidInputError(
            "LANE_INVALID", f"{what} must be a list of non-empty strings"
        )
    seen: list[str] = []
    for value in values:
        if value.strip() not in seen:
            seen.append(value.strip())
    if not seen and not allow_empty:
        raise InvalidInputError("LANE_INVALID", f"{what} may not be empty")
    return seen


def lane_event_classes() -> list[type[Any]]:
    return stored_classes(Lane)
