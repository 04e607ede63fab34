"""Bodies of the recommendation routes (shared/API.md v2, "Recommendations").

Structured content (a matrix, components, dimensions) is typed loosely here
and checked by `workspace/authority.py`, whose stable 422 codes name what is
wrong (`MATRIX_INVALID`, `COMPONENT_TYPE_UNKNOWN`, `AMOUNT_NEGATIVE`...).
Percentages and amounts are integers or decimal strings, never floats.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from api.schemas import Input, Output, Write


class AuthoritySet(Write):
    source_id: str
    matrix: dict[str, Any]


class CaseSet(Write):
    dimensions: dict[str, Any]


class Reclassified(Output):
    version: int
    reclassified: list[str]


class OptionCreate(Write):
    title: str
    components: list[Any]
    rationale: str
    evidence: list[str]
    precedent_ids: list[str] = Field(default_factory=list)


class OptionCreated(Output):
    option_id: str
    classification: str
    proposed: bool
    version: int


class Because(Input):
    objection_id: str | None = None
    comment: str | None = None


class RankingSet(Write):
    order: list[str]
    because: Because


class RankingResult(Output):
    order: list[str]
    version: int


class AskCreate(Write):
    type: str
    requested_by: str
    text: str


class AskCreated(Output):
    ask_id: str
    classification: str
    proposed: bool
    version: int


class PrecedentCreate(Write):
    case_ref: str
    dimensions: dict[str, Any]
    granted: str


class PrecedentCreated(Output):
    precedent_id: str
    version: int


class EscalationCreate(Input):
    lane: str
    reason: str | None = None


class EscalationCreated(Output):
    packet_id: str
    version: int
