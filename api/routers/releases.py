"""Releases of a packet: request, accept residuals, approve, hold, read the
manifest, acknowledge receipt; the impact query; refusals of out-of-scope actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import StrictBool

from api.deps import ReleaseAppDep
from api.outcomes import OnPacketDep
from api.schemas import Input, RevisionRef
from release.commands import (
    AcceptResidual,
    ApproveRelease,
    CancelRelease,
    HoldRelease,
    LiftReleaseHold,
    RequestRelease,
)

router = APIRouter(prefix="/v1/packets/{packet_id}", tags=["releases"])


class ReleaseCreate(Input):
    revision: RevisionRef
    lane: str
    content_hash: str | None = None


class ResidualAccept(Input):
    objection_id: str
    rationale: str


class ReleaseApprove(Input):
    content_hash: str
    meaning: str
    passphrase: str
    scope: str | dict[str, Any] | None = None
    rollback: StrictBool = False


class ReleaseCancel(Input):
    reason: str


class ReleaseHold(Input):
    reason: str


class ActionRequest(Input):
    action: str
    detail: str | None = None


@router.post("/releases", status_code=201)
def request_release(body: ReleaseCreate, on: OnPacketDep) -> dict[str, Any]:
    """Records the request with every hold reason the gate finds; an unknown
    lane or revision is 404 (LANE_NOT_FOUND, REVISION_NOT_FOUND)."""
    command = RequestRelease.from_body(body, lane_id=body.lane, require_known=True)
    return on.release_after(command)


@router.get("/releases")
def list_releases(on: OnPacketDep, app: ReleaseAppDep) -> dict[str, Any]:
    packet = on.read()
    return {"items": [app.release_view(packet, rid) for rid in packet.releases]}


@router.get("/releases/{release_id}")
def read_release(
    release_id: str, on: OnPacketDep, app: ReleaseAppDep
) -> dict[str, Any]:
    return app.release_view(on.read(), release_id)


@router.post("/releases/{release_id}/residuals")
def accept_residual(
    release_id: str, body: ResidualAccept, on: OnPacketDep
) -> dict[str, Any]:
    return on.release_after(AcceptResidual.from_body(body, release_id=release_id))


@router.post("/releases/{release_id}/approve")
def approve_release(
    release_id: str, body: ReleaseApprove, on: OnPacketDep
) -> dict[str, Any]:
    """409 RELEASE_HELD with `details.hold_reasons` when the gate holds it."""
    return on.release_after(ApproveRelease.from_body(body, release_id=release_id))


@router.post("/releases/{release_id}/cancel")
def cancel_release(
    release_id: str, body: ReleaseCancel, on: OnPacketDep
) -> dict[str, Any]:
    """The release owner or the requester withdraws a pending or held
    request for good (status `cancelled`)."""
    return on.release_after(CancelRelease(release_id, body.reason))


@router.post("/releases/{release_id}/hold")
def hold_release(release_id: str, body: ReleaseHold, on: OnPacketDep) -> dict[str, Any]:
    """The release owner holds an open release (it cannot be approved until
    lifted) or withdraws a released one (superseded, `HELD_BY_RELEASE_OWNER`)."""
    return on.release_after(HoldRelease(release_id, body.reason))


@router.post("/releases/{release_id}/hold/lift")
def lift_release_hold(release_id: str, on: OnPacketDep) -> dict[str, Any]:
    """The release owner lifts their hold; the gate decides the status again."""
    return on.release_after(LiftReleaseHold(release_id))


@router.get("/releases/{release_id}/manifest")
def read_manifest(
    release_id: str, on: OnPacketDep, app: ReleaseAppDep
) -> dict[str, Any]:
    return app.release_manifest(on.packet_id, on.user, release_id)


@router.post("/releases/{release_id}/acknowledge")
def acknowledge(release_id: str, on: OnPacketDep, app: ReleaseAppDep) -> dict[str, Any]:
    """A member of the lane it was released to acknowledges receipt."""
    return app.acknowledge_packet_release(on.user, on.packet_id, release_id)


@router.get("/impact")
def impact(
    on: OnPacketDep,
    app: ReleaseAppDep,
    source_id: Annotated[str | None, Query()] = None,
    prerequisite_id: Annotated[str | None, Query()] = None,
    objection_id: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """Which active releases a material refresh of the source, a lapse of the
    prerequisite or a reopening of the objection would supersede."""
    return {
        "would_supersede": app.impact(
            on.packet_id,
            on.user,
            source_id=source_id,
            prerequisite_id=prerequisite_id,
            objection_id=objection_id,
        )
    }


@router.post("/actions")
def request_action(
    body: ActionRequest, on: OnPacketDep, app: ReleaseAppDep
) -> dict[str, Any]:
    """Credits, customer contact, billing, entitlement rulings and staffing
    are out of Quire's scope: always refused (403 OUT_OF_SCOPE) and recorded."""
    app.refuse_out_of_scope(on.packet_id, on.user, body.action, body.detail)
