"""Prerequisites: declare, satisfy (with evidence)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from api.outcomes import execute, version_after
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
    packet_id: str, body: PrerequisiteCreate, user: CurrentUser, svc: ServicesDep
) -> PrerequisiteCreated:
    command = DeclarePrerequisite(body.title, body.satisfied, body.valid_until)
    done = execute(svc.app, packet_id, user, command, body)
    return PrerequisiteCreated(prerequisite_id=done.result, version=done.version)


@router.post("/{prerequisite_id}/satisfy")
def satisfy_prerequisite(
    packet_id: str,
    prerequisite_id: str,
    body: PrerequisiteSatisfy,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    command = SatisfyPrerequisite(prerequisite_id, body.evidence, body.valid_until)
    return version_after(svc.app, packet_id, user, command, body)
