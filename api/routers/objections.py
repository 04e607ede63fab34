"""Objections: raise, answer, resolve, withdraw, reopen (never deleted).

The objection ledger (GET) is a read model, served by the history router.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from api.outcomes import superseded_between
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
    ReopenObjection,
    ResolveObjection,
    WithdrawObjection,
)

router = APIRouter(prefix="/v1/packets/{packet_id}/objections", tags=["objections"])


@router.post("", status_code=201)
def raise_objection(
    packet_id: str, body: ObjectionCreate, user: CurrentUser, svc: ServicesDep
) -> ObjectionCreated:
    objection_id, version = svc.app.raise_objection(
        packet_id,
        user,
        target=body.target,
        text=body.text,
        expected_version=body.expected_version,
    )
    return ObjectionCreated(objection_id=objection_id, version=version)


@router.post("/{objection_id}/answer")
def answer_objection(
    packet_id: str,
    objection_id: str,
    body: ObjectionAnswer,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    done = svc.app.execute(packet_id, user, AnswerObjection(objection_id, body.answer))
    return VersionPublic(version=done.version)


@router.post("/{objection_id}/resolve")
def resolve_objection(
    packet_id: str,
    objection_id: str,
    body: ObjectionResolve,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    done = svc.app.execute(
        packet_id, user, ResolveObjection(objection_id, body.resolution)
    )
    return VersionPublic(version=done.version)


@router.post("/{objection_id}/withdraw")
def withdraw_objection(
    packet_id: str,
    objection_id: str,
    body: ObjectionWithdraw,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    done = svc.app.execute(packet_id, user, WithdrawObjection(objection_id))
    return VersionPublic(version=done.version)


@router.post("/{objection_id}/reopen")
def reopen_objection(
    packet_id: str,
    objection_id: str,
    body: ObjectionReopen,
    user: CurrentUser,
    svc: ServicesDep,
) -> SupersedingResult:
    """Reopening an objection accepted as residual supersedes its release."""
    before = svc.app.get_packet(packet_id)
    after = svc.app.execute(
        packet_id, user, ReopenObjection(objection_id, body.reason)
    ).packet
    return SupersedingResult(
        version=after.version, superseded_releases=superseded_between(before, after)
    )
