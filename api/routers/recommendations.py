"""Recommendations (seeds 000, 001): the authority matrix, options and their
classification, the owner's ranking and its history, the blocked-path
register, precedents, the case's dimensions, and the escalation packet.
Every write is one command through `Workspace.execute`; reads need the
packet's `read` role (members, auditors)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
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
def set_authority(
    packet_id: str, body: AuthoritySet, user: CurrentUser, svc: ServicesDep
) -> Reclassified:
    done = svc.app.execute(
        packet_id,
        user,
        SetAuthority(source_id=body.source_id, matrix=body.matrix),
        expected_version=body.expected_version,
    )
    return Reclassified(version=done.version, reclassified=done.result)


@router.post("/case")
def set_case(
    packet_id: str, body: CaseSet, user: CurrentUser, svc: ServicesDep
) -> Reclassified:
    done = svc.app.execute(
        packet_id,
        user,
        SetCaseDimensions(dimensions=body.dimensions),
        expected_version=body.expected_version,
    )
    return Reclassified(version=done.version, reclassified=done.result)


@router.post("/options", status_code=201)
def add_option(
    packet_id: str, body: OptionCreate, user: CurrentUser, svc: ServicesDep
) -> OptionCreated:
    command = AddOption(
        title=body.title,
        components=body.components,
        rationale=body.rationale,
        evidence=body.evidence,
        precedent_ids=body.precedent_ids,
    )
    done = svc.app.execute(
        packet_id, user, command, expected_version=body.expected_version
    )
    return OptionCreated(**done.result, version=done.version)


@router.post("/options/{option_id}/accept")
def accept_option(
    packet_id: str, option_id: str, user: CurrentUser, svc: ServicesDep
) -> VersionPublic:
    done = svc.app.execute(packet_id, user, AcceptOption(option_id))
    return VersionPublic(version=done.version)


@router.get("/options")
def list_options(packet_id: str, user: CurrentUser, svc: ServicesDep) -> Any:
    packet = svc.app.read_packet(user, packet_id)
    view = rec.view(packet)
    return {"items": view["options"], "authority": view["authority"]}


@router.get("/recommendation")
def recommendation(packet_id: str, user: CurrentUser, svc: ServicesDep) -> Any:
    """The whole recommendation: matrix, case, options with reasons and
    precedent fit, ranking, register, precedents, escalation link."""
    return rec.view(svc.app.read_packet(user, packet_id))


@router.post("/ranking")
def rank(
    packet_id: str, body: RankingSet, user: CurrentUser, svc: ServicesDep
) -> RankingResult:
    command = RankOptions(
        order=body.order,
        objection_id=body.because.objection_id,
        comment=body.because.comment,
    )
    done = svc.app.execute(
        packet_id, user, command, expected_version=body.expected_version
    )
    return RankingResult(order=done.result, version=done.version)


@router.get("/ranking/history")
def ranking_history(packet_id: str, user: CurrentUser, svc: ServicesDep) -> Any:
    """Which comment or objection changed the preferred option, and why an
    option was downgraded, removed or reclassified."""
    packet = svc.app.read_packet(user, packet_id)
    return {"items": rec.ranking_history(packet)}


@router.post("/asks", status_code=201)
def record_ask(
    packet_id: str, body: AskCreate, user: CurrentUser, svc: ServicesDep
) -> AskCreated:
    command = RecordAsk(type=body.type, requested_by=body.requested_by, text=body.text)
    done = svc.app.execute(
        packet_id, user, command, expected_version=body.expected_version
    )
    return AskCreated(**done.result, version=done.version)


@router.post("/asks/{ask_id}/accept")
def accept_ask(
    packet_id: str, ask_id: str, user: CurrentUser, svc: ServicesDep
) -> VersionPublic:
    done = svc.app.execute(packet_id, user, AcceptAsk(ask_id))
    return VersionPublic(version=done.version)


@router.get("/asks")
def list_asks(packet_id: str, user: CurrentUser, svc: ServicesDep) -> Any:
    return rec.asks_view(svc.app.read_packet(user, packet_id))


@router.post("/precedents", status_code=201)
def record_precedent(
    packet_id: str, body: PrecedentCreate, user: CurrentUser, svc: ServicesDep
) -> PrecedentCreated:
    command = RecordPrecedent(
        case_ref=body.case_ref, dimensions=body.dimensions, granted=body.granted
    )
    done = svc.app.execute(
        packet_id, user, command, expected_version=body.expected_version
    )
    return PrecedentCreated(precedent_id=done.result, version=done.version)


@router.post("/escalation", status_code=201)
def escalate(
    packet_id: str, body: EscalationCreate, user: CurrentUser, svc: ServicesDep
) -> EscalationCreated:
    done = svc.app.execute(
        packet_id, user, PrepareEscalation(lane_id=body.lane, reason=body.reason)
    )
    return EscalationCreated(packet_id=str(done.result.id), version=done.version)
