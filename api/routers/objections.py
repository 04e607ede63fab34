"""Objections: raise, answer, resolve, withdraw, reopen (never deleted).

The objection ledger (GET) is a read model, served by the history router.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from api.outcomes import execute, superseding, version_after
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
def raise_objection(
    packet_id: str, body: ObjectionCreate, user: CurrentUser, svc: ServicesDep
) -> ObjectionCreated:
    command = RaiseObjection(target=body.target, text=body.text)
    done = execute(svc.app, packet_id, user, command, body)
    return ObjectionCreated(objection_id=done.result, version=done.version)


@router.post("/{objection_id}/answer")
def answer_objection(
    packet_id: str,
    objection_id: str,
    body: ObjectionAnswer,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    command = AnswerObjection(objection_id, body.answer)
    return version_after(svc.app, packet_id, user, command)


@router.post("/{objection_id}/resolve")
def resolve_objection(
    packet_id: str,
    objection_id: str,
    body: ObjectionResolve,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    command = ResolveObjection(objection_id, body.resolution)
    return version_after(svc.app, packet_id, user, command)


@router.post("/{objection_id}/withdraw")
def withdraw_objection(
    packet_id: str,
    objection_id: str,
    body: ObjectionWithdraw,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    command = WithdrawObjection(objection_id)
    return version_after(svc.app, packet_id, user, command)


@router.post("/{objection_id}/reopen")
def reopen_objection(
    packet_id: str,
    objection_id: str,
    body: ObjectionReopen,
    user: CurrentUser,
    svc: ServicesDep,
) -> SupersedingResult:
    """Reopening an objection accepted as residual supersedes its release."""
    command = ReopenObjection(objection_id, body.reason)
    return superseding(svc.app, packet_id, user, command)
