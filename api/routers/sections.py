"""Sections: add, edit (range ops or a whole new text), retitle, move, remove."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from api.live.hub import hub_of
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

router = APIRouter(prefix="/v1/packets/{packet_id}/sections", tags=["sections"])


@router.post("", status_code=201)
def add_section(
    packet_id: str, body: SectionCreate, user: CurrentUser, svc: ServicesDep
) -> SectionCreated:
    section_id, version = svc.app.add_section(
        packet_id,
        user,
        heading=body.heading,
        text=body.text,
        position=body.position,
        expected_version=body.expected_version,
    )
    return SectionCreated(section_id=section_id, version=version)


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
    version = svc.app.retitle_section(
        packet_id, user, section_id, body.heading, body.expected_version
    )
    return VersionPublic(version=version)


@router.post("/{section_id}/move")
def move_section(
    packet_id: str,
    section_id: str,
    body: SectionMove,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    version = svc.app.move_section(
        packet_id, user, section_id, body.position, body.expected_version
    )
    return VersionPublic(version=version)


@router.post("/{section_id}/remove")
def remove_section(
    packet_id: str,
    section_id: str,
    body: SectionRemove,
    user: CurrentUser,
    svc: ServicesDep,
) -> VersionPublic:
    version = svc.app.remove_section(packet_id, user, section_id, body.expected_version)
    return VersionPublic(version=version)
