"""Sections: add, edit (range ops or a whole new text), retitle, move, remove."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from api.live.hub import hub_of
from api.outcomes import execute, version_after
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
def add_section(
    packet_id: str, body: SectionCreate, user: CurrentUser, svc: ServicesDep
) -> SectionCreated:
    command = AddSection(heading=body.heading, text=body.text, position=body.position)
    done = execute(svc.app, packet_id, user, command, body)
    return SectionCreated(section_id=done.result, version=done.version)


@router.post(
    "/{section_id}/edits",
    responses={409: {"description": "EDIT_CONFLICT, with details.conflict_id"}},
)
def edit_section(
    packet_id: str,
    section_id: str,
    body: EditCreate,
    user: CurrentUser,
    svc: ServicesDep,
) -> EditResult:
    """Rebased over later edits; a true overlap is kept as a conflict (409)."""
    hub = hub_of(svc)
    with hub.packet_lock(packet_id) if hub else contextlib.nullcontext():
        outcome = svc.app.edit_section(
            packet_id,
            user,
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
    packet_id: str,
    section_id: str,
    body: SectionRetitle,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    command = RetitleSection(section_id, body.heading)
    return version_after(svc.app, packet_id, user, command, body)


@router.post("/{section_id}/move")
def move_section(
    packet_id: str,
    section_id: str,
    body: SectionMove,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    command = MoveSection(section_id, body.position)
    return version_after(svc.app, packet_id, user, command, body)


@router.post("/{section_id}/remove")
def remove_section(
    packet_id: str,
    section_id: str,
    body: SectionRemove,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    command = RemoveSection(section_id)
    return version_after(svc.app, packet_id, user, command, body)
