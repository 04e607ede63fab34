"""Packets: list, open, read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep
from workspace import policy

router = APIRouter(prefix="/v1/packets", tags=["packets"])


@router.get("")
def list_packets(user: CurrentUser, svc: ServicesDep) -> dict[str, Any]:
    items = []
    for packet_id in svc.app.packet_ids():
        packet = svc.app.get_packet(packet_id)
        if policy.can_read(user, packet):
            items.append(
                {
                    "id": str(packet.id),
                    "kind": packet.kind,
                    "title": packet.title,
                    "release_owner": packet.release_owner,
                    "version": packet.version,
                }
            )
    return {"items": items}
