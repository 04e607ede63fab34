"""The live channel: `GET /v1/packets/{id}/live?since=N` (a websocket)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from api.live.hub import hub_of
from api.live.protocol import CLOSE_GOING_AWAY
from api.live.session import LiveSession
from api.services import Services

router = APIRouter(tags=["live"])


@router.websocket("/v1/packets/{packet_id}/live")
async def live(websocket: WebSocket, packet_id: str) -> None:
    """Every event after `since`, once, in order; edits, presence, ping."""
    services: Services = websocket.app.state.services
    hub = hub_of(services)
    if hub is None:
        await websocket.close(code=CLOSE_GOING_AWAY, reason="live channel not running")
        return
    await LiveSession(websocket, services, hub, packet_id).run()
