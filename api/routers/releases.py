"""Releases of a packet: request, accept residuals, approve, hold, read the
manifest, acknowledge receipt; the impact query; refusals of out-of-scope actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import StrictBool

from api.deps import CurrentUser
from api.outcomes import release_after
from api.routers.lanes import ReleaseAppDep
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
def request_release(
    packet_id: str, body: ReleaseCreate, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    """Records the request with every hold reason the gate finds; an unknown
    lane or revision is 404 (LANE_NOT_FOUND, REVISION_NOT_FOUND)."""
    command = RequestRelease(
        revision=body.revision,
        lane_id=body.lane,
        content_hash=body.content_hash,
        require_known=True,
    )
    return release_after(app, packet_id, user, command)


@router.get("/releases")
def list_releases(
    packet_id: str, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    packet = app.read_packet(user, packet_id)
    return {"items": [app.release_view(packet, rid) for rid in packet.releases]}


@router.get("/releases/{release_id}")
def read_release(
    packet_id: str, release_id: str, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    packet = app.read_packet(user, packet_id)
    return app.release_view(packet, release_id)


@router.post("/releases/{release_id}/residuals")
def accept_residual(
    packet_id: str,
    release_id: str,
    body: ResidualAccept,
    user: CurrentUser,
    app: ReleaseAppDep,
) -> dict[str, Any]:
    command = AcceptResidual(release_id, body.objection_id, body.rationale)
    return release_after(app, packet_id, user, command)


@router.post("/releases/{release_id}/approve")
def approve_release(
    packet_id: str,
    release_id: str,
    body: ReleaseApprove,
    user: CurrentUser,
    app: ReleaseAppDep,
) -> dict[str, Any]:
    """409 RELEASE_HELD with `details.hold_reasons` when the gate holds it."""
    command = ApproveRelease(
        release_id,
        content_hash=body.content_hash,
        meaning=body.meaning,
        passphrase=body.passphrase,
        scope=body.scope,
        rollback=body.rollback,
    )
    return release_after(app, packet_id, user, command)


@router.post("/releases/{release_id}/cancel")
def cancel_release(
    packet_id: str,
    release_id: str,
    body: ReleaseCancel,
    user: CurrentUser,
    app: ReleaseAppDep,
) -> dict[str, Any]:
    """The release owner or the requester withdraws a pending or held
    request for good (status `cancelled`)."""
    command = CancelRelease(release_id, body.reason)
    return release_after(app, packet_id, user, command)


@router.post("/releases/{release_id}/hold")
def hold_release(
    packet_id: str,
    release_id: str,
    body: ReleaseHold,
    user: CurrentUser,
    app: ReleaseAppDep,
) -> dict[str, Any]:
    """The release owner holds an open release (it cannot be approved until
    lifted) or withdraws a released one (superseded, `HELD_BY_RELEASE_OWNER`)."""
    command = HoldRelease(release_id, body.reason)
    return release_after(app, packet_id, user, command)


@router.post("/releases/{release_id}/hold/lift")
def lift_release_hold(
    packet_id: str, release_id: str, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    """The release owner lifts their hold; the gate decides the status again."""
    return release_after(app, packet_id, user, LiftReleaseHold(release_id))


@router.get("/releases/{release_id}/manifest")
def read_manifest(
    packet_id: str, release_id: str, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    return app.release_manifest(packet_id, user, release_id)


@router.post("/releases/{release_id}/acknowledge")
def acknowledge(
    packet_id: str, release_id: str, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    """A member of the lane it was released to acknowledges receipt."""
    return app.acknowledge_packet_release(user, packet_id, release_id)


@router.get("/impact")
def impact(
    packet_id: str,
    user: CurrentUser,
    app: ReleaseAppDep,
    source_id: Annotated[str | None, Query()] = None,
    prerequisite_id: Annotated[str | None, Query()] = None,
    objection_id: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """Which active releases a material refresh of the source, a lapse of the
    prerequisite or a reopening of the objection would supersede."""
    return {
        "would_supersede": app.impact(
            packet_id,
            user,
            source_id=source_id,
            prerequisite_id=prerequisite_id,
            objection_id=objection_id,
        )
    }


@router.post("/actions")
def request_action(
    packet_id: str, body: ActionRequest, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    """Credits, customer contact, billing, entitlement rulings and staffing
    are out of Quire's scope: always refused (403 OUT_OF_SCOPE) and recorded."""
    app.refuse_out_of_scope(packet_id, user, body.action, body.detail)
