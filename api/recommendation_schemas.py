"""Bodies of the recommendation routes (shared/API.md v2, "Recommendations").

Structured content (a matrix, components, dimensions) is typed loosely here
and checked by `workspace/authority.py`, whose stable 422 codes name what is
wrong (`MATRIX_INVALID`, `COMPONENT_TYPE_UNKNOWN`, `AMOUNT_NEGATIVE`...).
Percentages and amounts are integers or decimal strings, never floats.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from api.schemas import Input, Output, Version


class AuthoritySet(Input):
    source_id: str
    matrix: dict[str, Any]
    expected_version: Version | None = None


class CaseSet(Input):
    dimensions: dict[str, Any]
    expected_version: Version | None = None


class Reclassified(Output):
    version: int
    reclassified: list[str]


class OptionCreate(Input):
    title: str
    components: list[Any]
    rationale: str
    evidence: list[str]
    precedent_ids: list[str] = Field(default_factory=list)
    expected_version: Version | None = None


class OptionCreated(Output):
    option_id: str
    classification: str
    proposed: bool
    version: int


class Because(Input):
    objection_id: str | None = None
    comment: str | None = None


class RankingSet(Input):
    order: list[str]
    because: Because
    expected_version: Version | None = None


class RankingResult(Output):
    order: list[str]
    version: int


class AskCreate(Input):
    type: str
    requested_by: str
    text: str
    expected_version: Version | None = None


class AskCreated(Output):
    ask_id: str
    classification: str
    proposed: bool
    version: int


class PrecedentCreate(Input):
    case_ref: str
    dimensions: dict[str, Any]
    granted: str
    expected_version: Version | None = None


class PrecedentCreated(Output):
    precedent_id: str
    version: int


class EscalationCreate(Input):
    lane: str
    reason: str | None = None


class EscalationCreated(Output):
    packet_id: str
    version: int
