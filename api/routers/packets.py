"""Packets: list, open, read (now, at a version, or at a moment), members."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import CurrentUser, ServicesDep
from api.outcomes import OnPacketDep
from api.routers.history import ReadModelsDep
from api.schemas import (
    MembersChange,
    PacketCreate,
    PacketCreated,
    PacketList,
    PacketPublic,
    VersionPublic,
)
from projections import packets as packet_list
from projections.runner import bring_up_to_date
from release.signatures import signing_view
from workspace.commands import ChangeMembers
from workspace.domain import Packet
from workspace.errors import InvalidInputError

router = APIRouter(prefix="/v1/packets", tags=["packets"])


@router.get("", response_model=PacketList)
def list_packets(user: CurrentUser, store: ReadModelsDep) -> dict[str, Any]:
    """From the packet-list read model: members' packets; auditors see all."""
    bring_up_to_date(store, [packet_list.PacketList.name])
    return {"items": packet_list.visible_to(store, user)}


@router.post("", status_code=201)
def open_packet(
    body: PacketCreate, user: CurrentUser, svc: ServicesDep
) -> PacketCreated:
    packet = svc.app.open_packet(user, **body.model_dump())
    return PacketCreated(id=str(packet.id), version=packet.version)


@router.get("/{packet_id}")
def read_packet(
    on: OnPacketDep,
    version: Annotated[int | None, Query(ge=1)] = None,
    at: Annotated[datetime | None, Query()] = None,
) -> PacketPublic:
    """The packet as it stands; `?version=N` or `?at=ISO-8601` for the past."""
    if version is not None and at is not None:
        raise InvalidInputError(
            "QUERY_INVALID", "ask for a version or a moment, not both"
        )
    if at is not None:
        if at.tzinfo is None:
            raise InvalidInputError(
                "TIME_INVALID", "at needs a time zone, e.g. 2025-03-01T09:00:00Z"
            )
        packet = on.app.packet_at_time(on.user, on.packet_id, at)
    else:
        packet = on.app.read_packet(on.user, on.packet_id, version)
    on.record_read(packet, "packet", {"version": packet.version})
    return packet_public(packet)


@router.post("/{packet_id}/members")
def change_members(body: MembersChange, on: OnPacketDep) -> VersionPublic:
    return on.version_after(ChangeMembers.from_body(body), body)


def packet_public(packet: Packet) -> PacketPublic:
    """The shape of shared/API.md, from the folded packet."""
    return PacketPublic.model_validate(
        {
            "id": str(packet.id),
            "kind": packet.kind,
            "title": packet.title,
            "version": packet.version,
            "release_owner": packet.release_owner,
            "authors": list(packet.authors),
            "reviewers": list(packet.reviewers),
            "sections": [
                {
                    "id": sid,
                    "heading": packet.sections[sid]["heading"],
                    "text": packet.sections[sid]["text"],
                }
                for sid in packet.section_order
            ],
            "sources": [packet.sources[sid] for sid in packet.source_order],
            "prerequisites": list(packet.prerequisites.values()),
            "objections": list(packet.objections.values()),
            "revisions": [{"revision": r["number"], **r} for r in packet.revisions],
            # each with who must sign, who has signed and who has not yet
            "releases": [
                {"release_id": rid, **r, **signing_view(packet, r)}
                for rid, r in packet.releases.items()
            ],
            "conflicts": list(packet.conflicts.values()),
            "suggestions": [
                {"boundary_flags": [], **s} for s in packet.suggestions.values()
            ],
        }
    )
