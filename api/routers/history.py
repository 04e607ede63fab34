"""History reads: revisions and their diffs, the objection ledger, every event.

Served from the read models (projections/), after they have caught up with
the log as it stood when the request arrived (bounded wait: see
`projections.runner.bring_up_to_date`). Who may read is decided on the
event-sourced packet, never on a read model, which lags: packet members and
auditors (`workspace.policy.can_read`); anyone else gets 403, an unknown
packet 404. Reads by auditors who are not members are recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import ServicesDep
from api.outcomes import OnPacket, OnPacketDep
from api.schemas import RevisionNumber
from projections import audit, objections, revisions
from projections.audit import AuditLog
from projections.objections import ObjectionLedger
from projections.revisions import RevisionHistory
from projections.runner import bring_up_to_date
from projections.store import ReadStore, read_models_for
from workspace.domain import Packet
from workspace.errors import NotFoundError

router = APIRouter(prefix="/v1/packets/{packet_id}", tags=["history"])


def read_models(svc: ServicesDep) -> ReadStore:
    return read_models_for(svc)


ReadModelsDep = Annotated[ReadStore, Depends(read_models)]


def _readable(
    on: OnPacket,
    store: ReadStore,
    what: str,
    projection: str,
    detail: dict[str, Any] | None = None,
) -> Packet:
    """Checks the caller may read the packet, then waits for the projection."""
    packet = on.read()
    bring_up_to_date(store, [projection])
    on.record_read(packet, what, detail)
    return packet


def _listing(
    on: OnPacket,
    store: ReadStore,
    what: str,
    projection: str,
    items: Callable[[ReadStore, str], list[dict[str, Any]]],
) -> dict[str, Any]:
    """`{items}`: what the projection lists for the packet (`items(store,
    packet_id)`), once the caller may read it and the projection caught up."""
    packet = _readable(on, store, what, projection)
    return {"items": items(store, str(packet.id))}


@router.get("/revisions")
def revision_history(on: OnPacketDep, store: ReadModelsDep) -> dict[str, Any]:
    """`{items: [{revision, label, content_hash, cut_by, cut_at, contributors}]}`."""
    return _listing(on, store, "revisions", RevisionHistory.name, revisions.history)


@router.get("/revisions/{a}/diff/{b}")
def revision_diff(
    a: RevisionNumber, b: RevisionNumber, on: OnPacketDep, store: ReadModelsDep
) -> dict[str, Any]:
    """Per-section unified diffs from revision `a` to revision `b`."""
    detail = {"from": a, "to": b}
    packet = _readable(on, store, "revision_diff", RevisionHistory.name, detail)
    pid = str(packet.id)
    old = _content(on, store, packet, a)
    new = _content(on, store, packet, b)
    return {"packet_id": pid, **revisions.diff(old, new, a, b)}


def _content(
    on: OnPacket, store: ReadStore, packet: Packet, number: int
) -> dict[str, Any]:
    found = revisions.content(store, str(packet.id), number)
    if found is not None:
        return found
    # Not projected yet (the read model lags): the stored cut is authoritative.
    packet.revision(number)  # 404 REVISION_NOT_FOUND when there is none
    _, content = on.app.revision_content(packet, number)
    return content


@router.get("/objections")
def objection_ledger(on: OnPacketDep, store: ReadModelsDep) -> dict[str, Any]:
    """Every objection of the packet with its full history."""
    return _listing(on, store, "objections", ObjectionLedger.name, objections.ledger)


@router.get("/events")
def packet_events(on: OnPacketDep, store: ReadModelsDep) -> dict[str, Any]:
    """Every event of the packet with actor, time, type, data and leaf hash."""
    listing = _listing(on, store, "events", AuditLog.name, audit.packet_events)
    if not listing["items"]:
        raise NotFoundError("PACKET_NOT_FOUND", f"no packet {on.packet_id}")
    return listing
