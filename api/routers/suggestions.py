"""Agents' suggestions: a co-author accepts (rebased like any edit) or rejects."""

from __future__ import annotations

from fastapi import APIRouter

from api.outcomes import OnPacketDep
from api.schemas import (
    BoundaryFlag,
    EditResult,
    SuggestionAccept,
    SuggestionReject,
    VersionPublic,
)
from workspace.commands import RejectSuggestion

router = APIRouter(prefix="/v1/packets/{packet_id}/suggestions", tags=["suggestions"])


@router.post(
    "/{suggestion_id}/accept",
    responses={
        409: {
            "description": "EDIT_CONFLICT (details.conflict_id); BOUNDARY_FLAGGED "
            "(details.boundary_flags) without an override_reason"
        }
    },
)
def accept_suggestion(
    suggestion_id: str, on: OnPacketDep, body: SuggestionAccept | None = None
) -> EditResult:
    """A boundary-flagged suggestion is accepted only with `{override_reason}`,
    recorded with the acceptance (the suggestion's `override`)."""
    given = body or SuggestionAccept()
    outcome = on.app.accept_suggestion(
        on.packet_id, on.user, suggestion_id, override_reason=given.override_reason
    )
    return EditResult(
        version=outcome.version,
        text=outcome.text,
        boundary_flags=[BoundaryFlag(**f) for f in outcome.boundary_flags],
    )


@router.post("/{suggestion_id}/reject")
def reject_suggestion(
    suggestion_id: str, on: OnPacketDep, body: SuggestionReject | None = None
) -> VersionPublic:
    """Keeps `{reason, category}` on the stored rejection."""
    given = body or SuggestionReject()
    command = RejectSuggestion(suggestion_id, given.reason, given.category)
    return on.version_after(command)
