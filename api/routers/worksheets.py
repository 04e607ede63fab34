"""Calculation worksheets (issue 11, seed 002): facts cited from sources,
several named interpretations, every result side by side.

Facts and rules are read from the body as exact JSON (decimals kept as
Decimal, never float, as the calculator route does) and checked by the
calculator's parser: bad input is 422 with its codes and writes nothing.
Views are written by `workspace.credit.to_json`, so figures keep exactly
their 6-dp and cent digits. Quire computes under each interpretation; it
never decides a credit.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from api.deps import ExactBody
from api.outcomes import OnPacketDep
from api.schemas import Output, VersionPublic, Write
from workspace.commands import AddInterpretation, CreateWorksheet, SetWorksheetFacts
from workspace.content.worksheets import view
from workspace.credit import to_json
from workspace.domain import worksheets as ws

router = APIRouter(prefix="/v1/packets/{packet_id}/worksheets", tags=["worksheets"])


class WorksheetCreate(Write):
    """`facts` as for POST /v1/calculations/service-credit; `cites` maps a
    fact (`outages`, `maintenance`, `fee_amount`, ...) to a source id."""

    title: str
    facts: dict[str, Any]
    cites: dict[str, str] = Field(default_factory=dict)


class WorksheetCreated(Output):
    worksheet_id: str
    version: int


class WorksheetFactsSet(Write):
    facts: dict[str, Any]


class InterpretationCreate(Write):
    """`rules` as for POST /v1/calculations/service-credit."""

    name: str
    rules: dict[str, Any]
    objection_id: str | None = None


class InterpretationCreated(Output):
    interpretation_id: str
    version: int


def _json(value: Any, status_code: int = 200) -> Response:
    return Response(
        content=to_json(value), media_type="application/json", status_code=status_code
    )


@router.post("", status_code=201)
def create_worksheet(
    body: WorksheetCreate, raw: ExactBody, on: OnPacketDep
) -> WorksheetCreated:
    command = CreateWorksheet.from_body(body, facts=raw["facts"])
    return on.created(command, body, WorksheetCreated)


@router.get("")
def list_worksheets(on: OnPacketDep) -> dict[str, Any]:
    """The packet's worksheets (id, title, interpretations, stale cites)."""
    packet = on.read()
    return {
        "worksheets": [
            {
                "worksheet_id": w["id"],
                "title": w["title"],
                "interpretations": len(w["interpretations"]),
                "stale": bool(
                    [
                        c
                        for c in w["cites"].values()
                        if packet.sources[c["source_id"]]["digest"] != c["digest"]
                    ]
                ),
            }
            for w in ws.worksheets(packet).values()
        ],
        "version": packet.version,
    }


@router.get(
    "/{worksheet_id}",
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
def read_worksheet(worksheet_id: str, on: OnPacketDep) -> Response:
    """Facts, cited digests, every interpretation with its result, and the
    differences between them."""
    packet = on.read()
    found = ws.worksheet(packet, worksheet_id)
    return _json({**view(packet, found), "version": packet.version})


@router.post("/{worksheet_id}/facts")
def set_facts(
    worksheet_id: str, body: WorksheetFactsSet, raw: ExactBody, on: OnPacketDep
) -> VersionPublic:
    return on.version_after(SetWorksheetFacts(worksheet_id, raw["facts"]), body)


@router.post("/{worksheet_id}/interpretations", status_code=201)
def add_interpretation(
    worksheet_id: str, body: InterpretationCreate, raw: ExactBody, on: OnPacketDep
) -> InterpretationCreated:
    command = AddInterpretation.from_body(
        body, worksheet_id=worksheet_id, rules=raw["rules"]
    )
    return on.created(command, body, InterpretationCreated)
