"""Sections: add, edit (range ops or a whole new text), retitle, move, remove."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter

from api.deps import ServicesDep
from api.live.hub import hub_of
from api.outcomes import OnPacketDep
from api.schemas import (
    BoundaryFlag,
    EditCreate,
    EditResult,
    SectionCreate,
    SectionCreated,
    SectionMove,
    SectionRemove,
    SectionRetitle,
    VersionPublic,
)
from workspace.commands import AddSection, MoveSection, RemoveSection, RetitleSection

router = APIRouter(prefix="/v1/packets/{packet_id}/sections", tags=["sections"])


@router.post("", status_code=201)
def add_section(body: SectionCreate, on: OnPacketDep) -> SectionCreated:
    return on.created(AddSection.from_body(body), body, SectionCreated)


@router.post(
    "/{section_id}/edits",
    responses={409: {"description": "EDIT_CONFLICT, with details.conflict_id"}},
)
def edit_section(
    section_id: str, body: EditCreate, on: OnPacketDep, svc: ServicesDep
) -> EditResult:
    """Rebased over later edits; a true overlap is kept as a conflict (409)."""
    hub = hub_of(svc)
    with hub.packet_lock(on.packet_id) if hub else contextlib.nullcontext():
        outcome = on.app.edit_section(
            on.packet_id,
            on.user,
            section_id,
            base_version=body.base_version,
            ops=None if body.ops is None else [o.model_dump() for o in body.ops],
            text=body.text,
            client_id=body.client_id,
            client_seq=body.client_seq,
        )
    return EditResult(
        version=outcome.version,
        text=outcome.text,
        suggestion_id=outcome.suggestion_id,
        boundary_flags=[BoundaryFlag(**f) for f in outcome.boundary_flags],
    )


@router.post("/{section_id}/retitle")
def retitle_section(
    section_id: str, body: SectionRetitle, on: OnPacketDep
) -> VersionPublic:
    return on.version_after(RetitleSection(section_id, body.heading), body)


@router.post("/{section_id}/move")
def move_section(section_id: str, body: SectionMove, on: OnPacketDep) -> VersionPublic:
    return on.version_after(MoveSection(section_id, body.position), body)


@router.post("/{section_id}/remove")
def remove_section(
    section_id: str, body: SectionRemove, on: OnPacketDep
) -> VersionPublic:
    return on.version_after(RemoveSection(section_id), body)
