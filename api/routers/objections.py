"""Objections: raise, answer, resolve, withdraw, reopen (never deleted).

The objection ledger (GET) is a read model, served by the history router.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.outcomes import OnPacketDep
from api.schemas import (
    ObjectionAnswer,
    ObjectionCreate,
    ObjectionCreated,
    ObjectionReopen,
    ObjectionResolve,
    ObjectionWithdraw,
    SupersedingResult,
    VersionPublic,
)
from workspace.commands import (
    AnswerObjection,
    RaiseObjection,
    ReopenObjection,
    ResolveObjection,
    WithdrawObjection,
)

router = APIRouter(prefix="/v1/packets/{packet_id}/objections", tags=["objections"])


@router.post("", status_code=201)
def raise_objection(body: ObjectionCreate, on: OnPacketDep) -> ObjectionCreated:
    return on.created(RaiseObjection.from_body(body), body, ObjectionCreated)


@router.post("/{objection_id}/answer")
def answer_objection(
    objection_id: str, body: ObjectionAnswer, on: OnPacketDep
) -> VersionPublic:
    return on.version_after(AnswerObjection(objection_id, body.answer))


@router.post("/{objection_id}/resolve")
def resolve_objection(
    objection_id: str, body: ObjectionResolve, on: OnPacketDep
) -> VersionPublic:
    return on.version_after(ResolveObjection(objection_id, body.resolution))


@router.post("/{objection_id}/withdraw")
def withdraw_objection(
    objection_id: str, body: ObjectionWithdraw, on: OnPacketDep
) -> VersionPublic:
    return on.version_after(WithdrawObjection(objection_id))


@router.post("/{objection_id}/reopen")
def reopen_objection(
    objection_id: str, body: ObjectionReopen, on: OnPacketDep
) -> SupersedingResult:
    """Reopening an objection accepted as residual supersedes its release."""
    return on.superseding(ReopenObjection(objection_id, body.reason))
