"""Release requests, the gate's holds, owner holds, cancellation and
residual objections: events and commands (the gate and the manifest live
in release/).

The release events' schema is shared with the projections: add fields, never
rename. None of them count as authoring, so accepting a residual or signing
never makes the release owner an author of the next revision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.domain.base import (
    TEXT_FIELD_MAX,
    EntryEvent,
    Meta,
    PacketBase,
    check_reason,
    copied,
    iso,
    require_text,
    text_hash,
)
from workspace.errors import (
    StateError,
)

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


#: A release's fields that later events set (approval, supersession,
#: lineage, the owner's hold): None when it is requested. (`owner_hold` is
#: absent from releases requested before it.)
SET_LATER = (
    "meaning",
    "manifest",
    "manifest_hash",
    "approved_by",
    "approved_at",
    "approved_version",
    "supersession",
    "successor_release_id",
    "predecessor_release_id",
    "owner_hold",
)


class ReleaseEvent(EntryEvent, entries="releases", key="release_id", id_prefix="rel"):
    """An event about one release (no TOPIC: the base of every release event,
    here, in approvals and in signatures). Written by the release layer;
    shared with the projections (notes/release_events.md); never authoring
    (see above)."""

    counts_as_work = False
    release_id: str


class ReleaseRequested(ReleaseEvent):
    TOPIC = "quire.packet.ReleaseRequested"
    revision: int
    content_hash: str
    lane_id: str
    status: str
    hold_reasons: list[dict[str, Any]]

    def fold(self, packet: Packet) -> None:
        self.add_entry(
            packet,
            "revision",
            "content_hash",
            "lane_id",
            "status",
            hold_reasons=[dict(h) for h in self.hold_reasons],
            requested_by=self.actor,
            requested_at=iso(self.timestamp),
            residuals={},
            acknowledgements=[],
            **dict.fromkeys(SET_LATER),
        )


class ReleaseHeld(ReleaseEvent):
    """The gate re-evaluated a release (e.g. at an approval attempt) and held it."""

    TOPIC = "quire.packet.ReleaseHeld"
    hold_reasons: list[dict[str, Any]]

    def fold(self, packet: Packet) -> None:
        self.entry(packet).update(
            status="held", hold_reasons=[dict(h) for h in self.hold_reasons]
        )


class ReleaseCleared(ReleaseEvent):
    """The gate re-evaluated a held release and nothing holds it any more."""

    TOPIC = "quire.packet.ReleaseCleared"
    sets = {"status": "pending", "hold_reasons": []}


class ReleaseHoldPlaced(ReleaseEvent):
    """The release owner holds an open release, with a reason (the event's
    own, Meta.reason); the gate then holds it (`HELD_BY_RELEASE_OWNER`)
    until the owner lifts it."""

    TOPIC = "quire.packet.ReleaseHoldPlaced"

    def fold(self, packet: Packet) -> None:
        self.entry(packet)["owner_hold"] = self.record("reason")


class ReleaseHoldLifted(ReleaseEvent):
    TOPIC = "quire.packet.ReleaseHoldLifted"
    sets = {"owner_hold": None}


class ReleaseCancelled(ReleaseEvent):
    """A pending or held request withdrawn for good (reason: Meta.reason)."""

    TOPIC = "quire.packet.ReleaseCancelled"

    def fold(self, packet: Packet) -> None:
        self.entry(packet).update(
            status="cancelled", cancellation=self.record("reason")
        )


class ResidualAccepted(ReleaseEvent):
    TOPIC = "quire.packet.ResidualAccepted"
    objection_id: str
    rationale: str
    text_hash: str

    def fold(self, packet: Packet) -> None:
        self.entry(packet)["residuals"][self.objection_id] = {
            **copied(self, "objection_id", "rationale", "text_hash"),
            "accepted_by": self.actor,
            "accepted_at": iso(self.timestamp),
        }
        objection = packet.objections[self.objection_id]
        if objection["state"] == "residual":
            objection["residual_for"].append(self.release_id)
        else:  # open: acceptances from before a reopening no longer count
            objection["residual_for"] = [self.release_id]
        objection["state"] = "residual"


class ReleaseCommands(PacketBase):
    """The packet's releases commands (a mixin of `Packet`)."""

    def request_release(
        self,
        meta: Meta,
        *,
        revision: int,
        content_hash: str,
        lane_id: str,
        hold_reasons: list[dict[str, Any]],
    ) -> str:
        return self._add_entry(
            ReleaseRequested,
            meta,
            revision=revision,
            content_hash=content_hash,
            lane_id=lane_id,
            status="held" if hold_reasons else "pending",
            hold_reasons=hold_reasons,
        )

    def record_gate(
        self, meta: Meta, release_id: str, hold_reasons: list[dict[str, Any]]
    ) -> None:
        """Records a re-evaluation of an open release by the gate."""
        release = self._open_release(release_id)
        if hold_reasons:
            self._trigger(
                ReleaseHeld,
                meta,
                release_id=release_id,
                hold_reasons=hold_reasons,
            )
        elif release["status"] == "held":
            self._trigger(ReleaseCleared, meta, release_id=release_id)

    def place_owner_hold(self, meta: Meta, release_id: str) -> None:
        """Holds an open release; `meta.reason` says why (required)."""
        check_reason(meta, required=True)
        self._set_owner_hold(meta, release_id, held=True)

    def lift_owner_hold(self, meta: Meta, release_id: str) -> None:
        self._set_owner_hold(meta, release_id, held=False)

    def _set_owner_hold(self, meta: Meta, release_id: str, *, held: bool) -> None:
        """Places (`held`) or lifts the release owner's hold on an open
        release; 409 `RELEASE_ALREADY_HELD_BY_OWNER` or
        `RELEASE_NOT_HELD_BY_OWNER` when there is nothing to change."""
        release = self._open_release(release_id)
        if bool(release.get("owner_hold")) == held:
            code, state = (
                ("RELEASE_ALREADY_HELD_BY_OWNER", "already")
                if held
                else ("RELEASE_NOT_HELD_BY_OWNER", "not")
            )
            raise StateError(
                code,
                f"{release_id} is {state} held by its release owner",
                {"release_id": release_id},
            )
        event = ReleaseHoldPlaced if held else ReleaseHoldLifted
        self._trigger(event, meta, release_id=release_id)

    def cancel_release(self, meta: Meta, release_id: str) -> None:
        """Withdraws an open request for good; `meta.reason` says why."""
        check_reason(meta, required=True)
        self._open_release(release_id)
        self._trigger(ReleaseCancelled, meta, release_id=release_id)

    def accept_residual(
        self, meta: Meta, release_id: str, objection_id: str, rationale: str
    ) -> None:
        release = self._open_release(release_id)
        objection = self.objection(objection_id)
        standing = release["residuals"].get(objection_id)
        if objection["state"] not in ("open", "residual") or (
            objection["state"] == "residual"
            and release_id in objection.get("residual_for", [])
            # a former release owner's acceptance does not stand for the new one
            and standing is not None
            and standing["accepted_by"] == meta.actor
        ):
            raise StateError(
                "OBJECTION_NOT_OPEN",
                f"{objection_id} is {objection['state']}, not open for {release_id}",
                {"objection_id": objection_id},
            )
        self._trigger(
            ResidualAccepted,
            meta,
            release_id=release_id,
            objection_id=objection_id,
            rationale=require_text(
                "RATIONALE_EMPTY", "rationale", rationale, TEXT_FIELD_MAX
            ),
            text_hash=text_hash(objection["text"]),
        )
