"""Edit conflicts: a co-author resolves one, saying how."""

from __future__ import annotations

from fastapi import APIRouter

from api.outcomes import OnPacketDep
from api.schemas import ConflictResolve, VersionPublic
from workspace.commands import ResolveConflict

router = APIRouter(prefix="/v1/packets/{packet_id}/conflicts", tags=["conflicts"])


@router.post("/{conflict_id}/resolve")
def resolve_conflict(
    conflict_id: str, body: ConflictResolve, on: OnPacketDep
) -> VersionPublic:
    return on.version_after(ResolveConflict(conflict_id, body.resolution))
