"""Recovery plans (seed 004): set the plan, read it (JSON or Markdown, now or
as a revision cut it), and classify an incident's facts against it.

Setting the plan is a command (`SetRecoveryPlan`); bad content is 422 with
the parser's codes and nothing is written. Classifying writes nothing (the
route says `x-writes-nothing`, so a refusal there is not recorded) and
declares nothing: its answer is a recommendation for people to weigh.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field

from api.outcomes import OnPacket, OnPacketDep
from api.schemas import INT_MAX, Input, Output, Write
from workspace.commands import SetRecoveryPlan
from workspace.content.plan import current_plan, plan_checks, plan_state
from workspace.errors import NotFoundError
from workspace.hashing import content_hash
from workspace.recovery_plan import classify, parse_facts, render_markdown

router = APIRouter(prefix="/v1/packets/{packet_id}", tags=["plans"])

#: Said with every classification: Quire recommends, people declare.
CLASSIFY_NOTE = (
    "A recommendation computed from the plan's severity criteria, for people "
    "to weigh; Quire never declares an incident or its severity."
)

Row = dict[str, Any]
RevisionQuery = Annotated[int | None, Query(ge=1, le=INT_MAX)]


class PlanSet(Write):
    """The whole plan (it replaces the packet's plan); see docs/API-additions.md."""

    severities: list[Row] = Field(default_factory=list)
    communications: list[Row] = Field(default_factory=list)
    remediation: list[Row] = Field(default_factory=list)
    escalation: list[Row] = Field(default_factory=list)
    review: list[Row] = Field(default_factory=list)


class PlanPublic(Output):
    version: int
    revision: int | None = None
    content_hash: str
    plan: dict[str, Any]
    checks: list[dict[str, Any]]


class ClassifyBody(Input):
    facts: dict[str, Any]


class Classification(Output):
    severity: str | None
    criteria_met: list[str]
    note: str
    plan_content_hash: str


def _plan(on: OnPacket, revision: int | None) -> tuple[str, dict[str, Any], PlanPublic]:
    """The packet's title and plan (or revision N's), for a reader."""
    packet = on.read()
    on.record_read(
        packet, "plan" if revision is None else f"plan of revision {revision}"
    )
    if revision is None:
        title, plan = packet.title, current_plan(packet)
    else:
        packet.revision(revision)  # 404 REVISION_NOT_FOUND when there is none
        _, content = on.app.revision_content(packet, revision)
        title, plan = content["title"], content.get("plan")
    if plan is None:
        where = "this packet" if revision is None else f"revision {revision}"
        raise NotFoundError("PLAN_NOT_FOUND", f"{where} has no recovery plan")
    public = PlanPublic(
        version=packet.version,
        revision=revision,
        content_hash=content_hash(plan),
        plan=plan,
        checks=[c.as_dict() for c in plan_checks(packet, plan)],
    )
    return title, plan, public


@router.post("/plan")
def set_plan(body: PlanSet, on: OnPacketDep) -> PlanPublic:
    """Replaces the plan (co-authors and the release owner); answers with the
    plan as stored and the checks the gate will make, each naming its row."""
    raw = body.model_dump(exclude={"expected_version"})
    done = on.execute(SetRecoveryPlan(raw), body)
    plan = done.result
    return PlanPublic(
        version=done.version,
        content_hash=content_hash(plan),
        plan=plan,
        checks=[c.as_dict() for c in plan_checks(done.packet)],
    )


@router.get("/plan")
def get_plan(on: OnPacketDep, revision: RevisionQuery = None) -> PlanPublic:
    """The plan now (or as revision N cut it) with its checks."""
    return _plan(on, revision)[2]


@router.get(
    "/plan.md",
    response_model=None,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
def plan_markdown(on: OnPacketDep, revision: RevisionQuery = None) -> Response:
    """The plan as Markdown tables (for print), now or as revision N cut it."""
    title, plan, _ = _plan(on, revision)
    return Response(
        render_markdown(title, plan), media_type="text/markdown; charset=utf-8"
    )


@router.post("/plan/classify", openapi_extra={"x-writes-nothing": True})
def classify_incident(body: ClassifyBody, on: OnPacketDep) -> Classification:
    """The most severe level of the plan whose criteria the facts meet: a
    recommendation shown to people, never an incident declaration. Writes
    nothing."""
    packet = on.read()
    facts = parse_facts(body.facts)
    state = plan_state(packet)
    if state is None:
        raise NotFoundError("PLAN_NOT_FOUND", "this packet has no recovery plan")
    result = classify(state["plan"], facts)
    return Classification(
        severity=result["severity"],
        criteria_met=result["criteria_met"],
        note=CLASSIFY_NOTE,
        plan_content_hash=content_hash(state["plan"]),
    )
