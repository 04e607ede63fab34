"""Edit conflicts: a co-author resolves one, saying how."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from api.schemas import ConflictResolve, VersionPublic

router = APIRouter(prefix="/v1/packets/{packet_id}/conflicts", tags=["conflicts"])


@router.post("/{conflict_id}/resolve")
def resolve_conflict(
    packet_id: str,
    conflict_id: str,
    body: ConflictResolve,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    version = svc.app.resolve_conflict(packet_id, user, conflict_id, body.resolution)
    return VersionPublic(version=version)
