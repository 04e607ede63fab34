"""Revisions: cut an exact, immutable revision of the packet.

The revision history and diffs (GET) are read models, served by the history
router.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from api.outcomes import execute
from api.schemas import RevisionCreate, RevisionCreated
from workspace.commands import CutRevision

router = APIRouter(prefix="/v1/packets/{packet_id}/revisions", tags=["revisions"])


@router.post("", status_code=201)
def cut_revision(
    packet_id: str, body: RevisionCreate, user: CurrentUser, svc: ServicesDep
) -> RevisionCreated:
    done = execute(svc.app, packet_id, user, CutRevision(body.label), body)
    revision = done.result
    return RevisionCreated(
        revision=revision["number"],
        label=revision["label"],
        content_hash=revision["content_hash"],
        version=done.version,
    )
