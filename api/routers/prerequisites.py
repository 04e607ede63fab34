"""Prerequisites: declare, satisfy (with evidence)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from api.schemas import (
    PrerequisiteCreate,
    PrerequisiteCreated,
    PrerequisiteSatisfy,
    VersionPublic,
)

router = APIRouter(
    prefix="/v1/packets/{packet_id}/prerequisites", tags=["prerequisites"]
)


@router.post("", status_code=201)
def declare_prerequisite(
    packet_id: str, body: PrerequisiteCreate, user: CurrentUser, svc: ServicesDep
) -> PrerequisiteCreated:
    prerequisite_id, version = svc.app.declare_prerequisite(
        packet_id,
        user,
        title=body.title,
        satisfied=body.satisfied,
        valid_until=body.valid_until,
        expected_version=body.expected_version,
    )
    return PrerequisiteCreated(prerequisite_id=prerequisite_id, version=version)


@router.post("/{prerequisite_id}/satisfy")
def satisfy_prerequisite(
    packet_id: str,
    prerequisite_id: str,
    body: PrerequisiteSatisfy,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    version = svc.app.satisfy_prerequisite(
        packet_id,
        user,
        prerequisite_id,
        evidence=body.evidence,
        valid_until=body.valid_until,
        expected_version=body.expected_version,
    )
    return VersionPublic(version=version)
