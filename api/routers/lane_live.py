"""A lane's live channel: `GET /v1/lanes/{lane}/live` (a websocket, lane members)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from api.live.hub import hub_of
from api.live.lanes import LaneSession
from api.live.protocol import CLOSE_GOING_AWAY
from api.services import Services

router = APIRouter(tags=["lanes"])


@router.websocket("/v1/lanes/{lane_id}/live")
async def lane_live(websocket: WebSocket, lane_id: str) -> None:
    """Release, supersession and decision notices of one lane, as they happen."""
    services: Services = websocket.app.state.services
    hub = hub_of(services)
    if hub is None:
        await websocket.close(code=CLOSE_GOING_AWAY, reason="live channel not running")
        return
    await LaneSession(websocket, services, hub, lane_id).run()
