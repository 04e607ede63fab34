"""Revisions: cut an exact, immutable revision of the packet.

The revision history and diffs (GET) are read models, served by the history
router.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.outcomes import OnPacketDep
from api.schemas import RevisionCreate, RevisionCreated
from workspace.commands import CutRevision

router = APIRouter(prefix="/v1/packets/{packet_id}/revisions", tags=["revisions"])


@router.post("", status_code=201)
def cut_revision(body: RevisionCreate, on: OnPacketDep) -> RevisionCreated:
    done = on.execute(CutRevision.from_body(body), body)
    revision = done.result
    return RevisionCreated(
        revision=revision["number"],
        label=revision["label"],
        content_hash=revision["content_hash"],
        version=done.version,
    )
