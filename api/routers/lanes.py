"""Intake lanes: admins manage them; members read what was released to them.

Lane reads are answered from event-sourced state (the lane keeps its
deliveries), each content hash checked on read and each read recorded.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from api.deps import CurrentUser, ReleaseAppDep
from api.schemas import Input, Output

router = APIRouter(prefix="/v1/lanes", tags=["lanes"])


class LaneCreate(Input):
    id: str
    title: str
    members: list[str] = Field(default_factory=list)
    accepts_kinds: list[str]
    policy: dict[str, bool] | None = None


class LaneCreated(Output):
    id: str


class LaneMembersChange(Input):
    members: list[str]


class LaneKindsChange(Input):
    accepts_kinds: list[str]


class LaneDecision(Input):
    decision: str
    reason_category: str | None = None
    reason: str | None = None


class LaneMembersChanged(Output):
    audience_version: int
    superseded_releases: list[dict[str, str]]


@router.post("", status_code=201)
def create_lane(body: LaneCreate, user: CurrentUser, app: ReleaseAppDep) -> LaneCreated:
    lane = app.create_lane(user, lane_id=body.id, **body.model_dump(exclude={"id"}))
    return LaneCreated(id=lane.lane_id)


@router.get("")
def list_lanes(user: CurrentUser, app: ReleaseAppDep) -> dict[str, Any]:
    """Admins see every lane; anyone else sees the lanes they belong to."""
    return {
        "items": [
            lane.view()
            for lane in app.lanes()
            if user.is_admin or lane.is_member(user.user_id)
        ]
    }


@router.post("/{lane_id}/members")
def change_members(
    lane_id: str, body: LaneMembersChange, user: CurrentUser, app: ReleaseAppDep
) -> LaneMembersChanged:
    """A new audience supersedes every active release in the lane."""
    change = app.change_lane_members(user, lane_id, body.members)
    return LaneMembersChanged(
        audience_version=change.audience_version,
        superseded_releases=change.superseded,
    )


@router.post("/{lane_id}/kinds")
def change_kinds(
    lane_id: str, body: LaneKindsChange, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    app.change_lane_kinds(user, lane_id, body.accepts_kinds)
    return app.get_lane(lane_id).view()


@router.get("/{lane_id}/inbox")
def inbox(lane_id: str, user: CurrentUser, app: ReleaseAppDep) -> dict[str, Any]:
    return {"items": app.lane_inbox(user, lane_id)}


class InLane(NamedTuple):
    """A release as a lane member names it (its path and `?packet_id=`)."""

    lane_id: str
    release_id: str
    packet_id: str | None


def in_lane(
    lane_id: str,
    release_id: str,
    packet_id: Annotated[str | None, Query()] = None,
) -> InLane:
    return InLane(lane_id, release_id, packet_id)


InLaneDep = Annotated[InLane, Depends(in_lane)]


@router.get("/{lane_id}/releases/{release_id}")
def read_release(
    release: InLaneDep, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    """`release_id` is 'rel-N' (add `?packet_id=` if two packets delivered
    the same number) or the inbox's `ref`, '<packet_id>:rel-N'."""
    return app.lane_release(user, *release)


@router.post("/{lane_id}/releases/{release_id}/acknowledge")
def acknowledge(
    release: InLaneDep, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    return app.acknowledge_release(user, *release)


@router.post("/{lane_id}/releases/{release_id}/decision")
def decide(
    release: InLaneDep, body: LaneDecision, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    """A lane member accepts the release, or returns it with a reason category
    (narrower_scope, fresher_support, audience_mistake, hidden_drift, other)."""
    return app.decide_release(
        user,
        release.lane_id,
        release.release_id,
        decision=body.decision,
        reason_category=body.reason_category,
        reason=body.reason,
        packet_id=release.packet_id,
    )
