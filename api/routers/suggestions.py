"""Agents' suggestions: a co-author accepts (rebased like any edit) or rejects."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from api.schemas import EditResult, SuggestionReject, VersionPublic

router = APIRouter(prefix="/v1/packets/{packet_id}/suggestions", tags=["suggestions"])


@router.post(
    "/{suggestion_id}/accept",
    responses={409: {"description": "EDIT_CONFLICT, with details.conflict_id"}},
)
def accept_suggestion(
    packet_id: str, suggestion_id: str, user: CurrentUser, svc: ServicesDep
) -> EditResult:
    outcome = svc.app.accept_suggestion(packet_id, user, suggestion_id)
    return EditResult(version=outcome.version, text=outcome.text)


@router.post("/{suggestion_id}/reject")
def reject_suggestion(
    packet_id: str,
    suggestion_id: str,
    user: CurrentUser,
    svc: ServicesDep,
    body: SuggestionReject | None = None,
) -> VersionPublic:
    """Keeps `{reason, category}` on the stored rejection."""
    given = body or SuggestionReject()
    version = svc.app.reject_suggestion(
        packet_id, user, suggestion_id, reason=given.reason, category=given.category
    )
    return VersionPublic(version=version)
