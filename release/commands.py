"""Release commands as data (see `workspace/commands/base.py`): requesting a
release, the release owner's residual acceptances, holds and lifts,
cancelling a request, approving it (re-authentication in `prepare`, once,
outside the retry loop), and the lane's acknowledgement and decision. Each
re-gates what it changes in the same save; each returns the release id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from release import gate
from release.approval import approve, require_member, require_signer, signer
from release.errors import ReleaseHeldError
from release.lanes import Lane, validate_lane_id
from release.manifest import build_manifest
from release.regate import open_holds
from release.signatures import sign
from release.signers import is_multi
from workspace.accounts import Principal
from workspace.commands.base import Command, Context, Executed, PacketCall
from workspace.domain import TEXT_FIELD_MAX, Meta, Packet, require_text
from workspace.errors import NotAllowedError, StateError

if TYPE_CHECKING:
    from release.application import ReleaseApp


def release_app(ctx: Context) -> ReleaseApp:
    return cast("ReleaseApp", ctx.app)


def regate(ctx: Context, packet: Packet, meta: Meta, release_id: str) -> None:
    """Re-evaluates an open release and records what holds it, if anything."""
    app = release_app(ctx)
    holds = open_holds(
        packet,
        release_id,
        lane_of=app.find_lane,
        content_of=app.content_of,
        now=ctx.now(),
    )
    packet.record_gate(meta, release_id, holds)


@dataclass(frozen=True)
class RequestRelease(Command, action="request_release"):
    """Records a release request with every hold reason the gate finds.

    With `require_known` (the API), an unknown lane or revision is refused
    (404 LANE_NOT_FOUND / REVISION_NOT_FOUND) instead of recorded as held.
    The result is the new release's id.
    """

    revision: int
    lane_id: str
    content_hash: str | None = None
    require_known: bool = False

    def prepare(self, ctx: Context) -> None:
        validate_lane_id(self.lane_id)
        if self.require_known:
            release_app(ctx).get_lane(self.lane_id)

    def lane(self, ctx: Context) -> Lane | None:
        app = release_app(ctx)
        if self.require_known:
            return app.get_lane(self.lane_id)
        return app.find_lane(self.lane_id)

    def decide(self, packet: Packet, ctx: Context) -> str:
        if self.require_known:
            packet.revision(self.revision)
        known = gate.revision_record(packet, self.revision)
        holds = gate.evaluate(
            packet,
            revision=self.revision,
            lane=self.lane(ctx),
            lane_id=self.lane_id,
            now=ctx.now(),
            content_hash=self.content_hash,
            content=release_app(ctx).content_of(packet, self.revision)
            if known
            else None,
        )
        return packet.request_release(
            ctx.meta(),
            revision=self.revision,
            content_hash=known["content_hash"] if known else self.content_hash or "",
            lane_id=self.lane_id,
            hold_reasons=[h.as_dict() for h in holds],
        )


@dataclass(frozen=True)
class _ReleaseCall(PacketCall):
    """A packet method on one release, called with the command's fields; the
    result is the release id."""

    release_id: str

    def decide(self, packet: Packet, ctx: Context) -> str:
        super().decide(packet, ctx)
        return self.release_id


@dataclass(frozen=True)
class _OwnerCall(_ReleaseCall, action="release_owner"):
    """The named release owner's packet method on one release, which the
    gate then re-evaluates."""

    def decide(self, packet: Packet, ctx: Context) -> str:
        meta = ctx.meta()
        getattr(packet, self.method)(meta, **self.arguments(ctx))
        regate(ctx, packet, meta, self.release_id)
        return self.release_id


@dataclass(frozen=True)
class AcceptResidual(_OwnerCall, method="accept_residual"):
    """The release owner accepts an open objection as residual for one
    release."""

    objection_id: str
    rationale: str


@dataclass(frozen=True)
class _Reasoned(Command):
    """A command on one release that says why: the reason is checked before
    the packet is loaded, and goes on the event meta."""

    release_id: str
    reason: str

    def prepare(self, ctx: Context) -> None:
        self.why()

    def why(self) -> str:
        return require_text("REASON_EMPTY", "reason", self.reason, TEXT_FIELD_MAX)


@dataclass(frozen=True)
class HoldRelease(_Reasoned, action="release_owner"):
    """The named release owner holds a release, with a reason.

    An open release (pending or held) stays open but cannot be approved
    until the owner lifts the hold; a released one is superseded (cause
    `HELD_BY_RELEASE_OWNER`) in the same save, so its lane sees it
    withdrawn. A superseded release is refused (`RELEASE_NOT_OPEN`).
    """

    def decide(self, packet: Packet, ctx: Context) -> str:
        why = self.why()
        meta = ctx.meta(reason=why)
        if packet.release(self.release_id)["status"] == "released":
            packet.supersede_release(
                meta,
                self.release_id,
                cause="HELD_BY_RELEASE_OWNER",
                trigger={"reason": why},
            )
            return self.release_id
        packet.place_owner_hold(meta, self.release_id)
        regate(ctx, packet, meta, self.release_id)
        return self.release_id


@dataclass(frozen=True)
class LiftReleaseHold(_OwnerCall, method="lift_owner_hold"):
    """The release owner lifts their hold; the gate decides again."""


@dataclass(frozen=True)
class CancelRelease(_Reasoned, action="read"):
    """The release owner or the requester withdraws an open request for good
    (status `cancelled`; approving it is then RELEASE_NOT_OPEN)."""

    def authorize(self, principal: Principal, packet: Packet) -> None:
        super().authorize(principal, packet)
        release = packet.release(self.release_id)
        if principal.is_agent or principal.user_id not in (
            packet.release_owner,
            release["requested_by"],
        ):
            raise NotAllowedError(
                "ROLE_NOT_ALLOWED",
                "only the release owner or the requester cancels a request",
                {"release_id": self.release_id, "user": principal.user_id},
            )

    def decide(self, packet: Packet, ctx: Context) -> str:
        packet.cancel_release(ctx.meta(reason=self.why()), self.release_id)
        return self.release_id


@dataclass(frozen=True)
class ApproveRelease(Command):
    """Signs one exact revision for one lane, or records why it is held.

    `prepare` refuses anyone but the named release owner (or, with several
    named signers, anyone not among them: release/signatures.py) before anything is
    written (403; the API records the refusal in the audit log), so a refused
    attempt never changes the release, and re-authenticates the signer once
    (failures are recorded on the user; five in a row lock signing). The
    approval, its manifest, the lane's delivery and any replaced release's
    supersession land in one save. Held: the holds are recorded, then
    `after_save` raises ReleaseHeldError (409 RELEASE_HELD).
    """

    release_id: str
    content_hash: str
    meaning: str
    passphrase: str = field(repr=False)
    scope: str | dict[str, Any] | None = None
    rollback: bool = False

    def prepare(self, ctx: Context) -> None:
        packet = ctx.app.get_packet(ctx.packet_id)
        require_member(ctx.principal, packet, "approve a release")
        packet.release(self.release_id)
        require_signer(ctx.principal, packet)
        ctx.scratch["signer"] = signer(
            release_app(ctx), ctx.principal, packet, self.release_id, self.passphrase
        )

    def decide(self, packet: Packet, ctx: Context) -> str:
        app = release_app(ctx)
        ctx.scratch.update(holds=[], lane=None)
        release = packet.release(self.release_id)
        if release["status"] not in ("pending", "held"):
            raise StateError(
                "RELEASE_NOT_OPEN",
                f"{self.release_id} is {release['status']}; request a new release",
                {"release_id": self.release_id, "status": release["status"]},
            )
        lane = app.find_lane(release["lane_id"])
        meta = ctx.meta()
        holds = [
            h.as_dict()
            for h in gate.evaluate(
                packet,
                revision=release["revision"],
                lane=lane,
                lane_id=release["lane_id"],
                now=meta.at,
                release_id=self.release_id,
                content_hash=self.content_hash,
                signer=ctx.scratch["signer"],
                content=app.content_of(packet, release["revision"])
                if gate.revision_record(packet, release["revision"])
                else None,
                rollback=self.rollback,
            )
        ]
        if is_multi(packet):  # several named signers: release/signatures.py
            holds, others = sign(
                app,
                packet,
                lane,
                ctx.principal,
                self.release_id,
                holds,
                meaning=self.meaning,
                scope=self.scope,
                rollback=self.rollback,
                meta=meta,
            )
            ctx.scratch.update(holds=holds, lane=others[0] if others else None)
            return self.release_id
        if holds or lane is None:
            packet.record_gate(meta, self.release_id, holds)
            ctx.scratch["holds"] = holds
            return self.release_id
        manifest = build_manifest(
            packet,
            release_id=self.release_id,
            content=app.content_of(packet, release["revision"]),
            lane=lane,
            signer_id=ctx.principal.user_id,
            signer_name=ctx.principal.name,
            meaning=self.meaning,
            signed_at=meta.at,
            scope=self.scope,
            rollback=self.rollback,
        )
        approve(
            app, packet, lane, ctx.principal, self.release_id, self.meaning, manifest
        )
        ctx.scratch["lane"] = lane
        return self.release_id

    def others(self, result: Any, ctx: Context) -> list[Any]:
        return [ctx.scratch["lane"]] if ctx.scratch["lane"] is not None else []

    def after_save(self, done: Executed[Any], ctx: Context) -> None:
        if ctx.scratch["holds"]:
            raise ReleaseHeldError(self.release_id, ctx.scratch["holds"])


@dataclass(frozen=True)
class AcknowledgeRelease(_ReleaseCall, method="acknowledge_release"):
    """A lane member acknowledges receipt (the lane's membership is checked
    by `ReleaseApp.acknowledge_release`, which finds the delivery)."""


@dataclass(frozen=True)
class DecideRelease(_ReleaseCall, method="decide_release"):
    """A lane member accepts a release or returns it with a reason category
    (membership checked by `ReleaseApp.decide_release`, as above)."""

    decision: str
    reason_category: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RecordRefusal(PacketCall, method="record_refusal"):
    """Records on the packet a request Quire refused (invariant 9: out of
    scope), with its code and explanation; the caller then raises."""

    request: str
    code: str
    detail: str
    reason: str | None = None
