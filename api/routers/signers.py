"""Several named signers (issue 13 item 4): the release owner names who must
sign besides themselves, and each signer finds what awaits their signature.

`POST /v1/packets/{id}/signers {signers, plan_approvers?}` (release owner):
422 `SIGNER_DUPLICATE`, `SIGNER_IS_AGENT`, `SIGNER_UNKNOWN`,
`SIGNER_NOT_MEMBER`, nothing written. Signing itself is the approve route
(`POST .../releases/{rid}/approve`), called by each signer.
`GET /v1/me/signatures`: open releases where the caller must sign and has
not signed yet, from the event-sourced packets (the packet list read model
only says which packets the caller belongs to).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, StrictBool

from api.deps import CurrentUser, ServicesDep
from api.outcomes import OnPacketDep
from api.routers.history import ReadModelsDep
from api.schemas import Write
from projections import packets as packet_list
from projections.runner import bring_up_to_date
from release.signatures import SIGNERS_MAX, NameSigners, awaiting
from release.signers import named

router = APIRouter(prefix="/v1", tags=["signers"])


class SignersSet(Write):
    signers: list[str] = Field(max_length=SIGNERS_MAX)
    plan_approvers: StrictBool = False


@router.post("/packets/{packet_id}/signers")
def name_signers(body: SignersSet, on: OnPacketDep) -> dict[str, Any]:
    """Answers with everyone who must now sign (the release owner first)."""
    done = on.execute(NameSigners(list(body.signers), body.plan_approvers), body)
    state = named(done.packet)
    return {
        "packet_id": str(done.packet.id),
        "signers": list(state.get("named", [])),
        "plan_approvers": bool(state.get("plan_approvers")),
        "signers_required": done.result,
        "version": done.version,
    }


@router.get("/me/signatures")
def awaiting_my_signature(
    user: CurrentUser, svc: ServicesDep, store: ReadModelsDep
) -> dict[str, Any]:
    """Open releases awaiting the caller's signature, oldest request first."""
    if user.is_agent or user.is_auditor:
        return {"items": []}  # neither ever signs
    bring_up_to_date(store, [packet_list.PacketList.name])
    ids = [item["id"] for item in packet_list.visible_to(store, user)]
    return {"items": awaiting((svc.app.get_packet(pid) for pid in ids), user)}
