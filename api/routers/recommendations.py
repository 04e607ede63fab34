"""Recommendations (seeds 000, 001): the authority matrix, options and their
classification, the owner's ranking and its history, the blocked-path
register, precedents, the case's dimensions, and the escalation packet.
Every write is one command through `Workspace.execute`; reads need the
packet's `read` role (members, auditors)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.outcomes import OnPacketDep
from api.recommendation_schemas import (
    AskCreate,
    AskCreated,
    AuthoritySet,
    CaseSet,
    EscalationCreate,
    EscalationCreated,
    OptionCreate,
    OptionCreated,
    PrecedentCreate,
    PrecedentCreated,
    RankingResult,
    RankingSet,
    Reclassified,
)
from api.schemas import VersionPublic
from release.escalation import PrepareEscalation
from workspace.commands.recommendations import (
    AcceptAsk,
    AcceptOption,
    AddOption,
    RankOptions,
    RecordAsk,
    RecordPrecedent,
    SetAuthority,
    SetCaseDimensions,
)
from workspace.domain import recommendations as rec

router = APIRouter(prefix="/v1/packets/{packet_id}", tags=["recommendations"])


@router.post("/authority")
def set_authority(body: AuthoritySet, on: OnPacketDep) -> Reclassified:
    done = on.execute(SetAuthority.from_body(body), body)
    return Reclassified(version=done.version, reclassified=done.result)


@router.post("/case")
def set_case(body: CaseSet, on: OnPacketDep) -> Reclassified:
    done = on.execute(SetCaseDimensions.from_body(body), body)
    return Reclassified(version=done.version, reclassified=done.result)


@router.post("/options", status_code=201)
def add_option(body: OptionCreate, on: OnPacketDep) -> OptionCreated:
    done = on.execute(AddOption.from_body(body), body)
    return OptionCreated(**done.result, version=done.version)


@router.post("/options/{option_id}/accept")
def accept_option(option_id: str, on: OnPacketDep) -> VersionPublic:
    return on.version_after(AcceptOption(option_id))


@router.get("/options")
def list_options(on: OnPacketDep) -> Any:
    view = rec.view(on.read())
    return {"items": view["options"], "authority": view["authority"]}


@router.get("/recommendation")
def recommendation(on: OnPacketDep) -> Any:
    """The whole recommendation: matrix, case, options with reasons and
    precedent fit, ranking, register, precedents, escalation link."""
    return rec.view(on.read())


@router.post("/ranking")
def rank(body: RankingSet, on: OnPacketDep) -> RankingResult:
    because = body.because
    command = RankOptions.from_body(
        body, objection_id=because.objection_id, comment=because.comment
    )
    done = on.execute(command, body)
    return RankingResult(order=done.result, version=done.version)


@router.get("/ranking/history")
def ranking_history(on: OnPacketDep) -> Any:
    """Which comment or objection changed the preferred option, and why an
    option was downgraded, removed or reclassified."""
    return {"items": rec.ranking_history(on.read())}


@router.post("/asks", status_code=201)
def record_ask(body: AskCreate, on: OnPacketDep) -> AskCreated:
    done = on.execute(RecordAsk.from_body(body), body)
    return AskCreated(**done.result, version=done.version)


@router.post("/asks/{ask_id}/accept")
def accept_ask(ask_id: str, on: OnPacketDep) -> VersionPublic:
    return on.version_after(AcceptAsk(ask_id))


@router.get("/asks")
def list_asks(on: OnPacketDep) -> Any:
    return rec.asks_view(on.read())


@router.post("/precedents", status_code=201)
def record_precedent(body: PrecedentCreate, on: OnPacketDep) -> PrecedentCreated:
    return on.created(RecordPrecedent.from_body(body), body, PrecedentCreated)


@router.post("/escalation", status_code=201)
def escalate(body: EscalationCreate, on: OnPacketDep) -> EscalationCreated:
    done = on.execute(PrepareEscalation(lane_id=body.lane, reason=body.reason))
    return EscalationCreated(packet_id=str(done.result.id), version=done.version)
