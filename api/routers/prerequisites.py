"""Prerequisites: declare, satisfy (with evidence)."""

from __future__ import annotations

from fastapi import APIRouter

from api.outcomes import OnPacketDep
from api.schemas import (
    PrerequisiteCreate,
    PrerequisiteCreated,
    PrerequisiteSatisfy,
    VersionPublic,
)
from workspace.commands import DeclarePrerequisite, SatisfyPrerequisite

router = APIRouter(
    prefix="/v1/packets/{packet_id}/prerequisites", tags=["prerequisites"]
)


@router.post("", status_code=201)
def declare_prerequisite(
    body: PrerequisiteCreate, on: OnPacketDep
) -> PrerequisiteCreated:
    return on.created(DeclarePrerequisite.from_body(body), body, PrerequisiteCreated)


@router.post("/{prerequisite_id}/satisfy")
def satisfy_prerequisite(
    prerequisite_id: str, body: PrerequisiteSatisfy, on: OnPacketDep
) -> VersionPublic:
    command = SatisfyPrerequisite.from_body(body, prerequisite_id=prerequisite_id)
    return on.version_after(command, body)
