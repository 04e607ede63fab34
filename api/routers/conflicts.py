"""Edit conflicts: a co-author resolves one, saying how."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from api.outcomes import version_after
from api.schemas import ConflictResolve, VersionPublic
from workspace.commands import ResolveConflict

router = APIRouter(prefix="/v1/packets/{packet_id}/conflicts", tags=["conflicts"])


@router.post("/{conflict_id}/resolve")
def resolve_conflict(
    packet_id: str,
    conflict_id: str,
    body: ConflictResolve,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    command = ResolveConflict(conflict_id, body.resolution)
    return version_after(svc.app, packet_id, user, command)
