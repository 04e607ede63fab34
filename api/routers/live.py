"""The live channels (websockets): a packet's, `GET /v1/packets/{id}/live?since=N`,
and a lane's, `GET /v1/lanes/{lane}/live` (lane members)."""

from __future__ import annotations

from typing import Protocol

from fastapi import APIRouter, WebSocket

from api.live.hub import LiveHub, hub_of
from api.live.lanes import LaneSession
from api.live.protocol import CLOSE_GOING_AWAY
from api.live.session import LiveSession
from api.services import Services

router = APIRouter(tags=["live"])


class Session(Protocol):
    """A live session over one packet or one lane (`api/live/`)."""

    def __init__(
        self, websocket: WebSocket, services: Services, hub: LiveHub, key: str, /
    ) -> None: ...

    async def run(self) -> None: ...


async def _serve(websocket: WebSocket, session: type[Session], key: str) -> None:
    """Runs the session while the live hub runs; closes at once otherwise."""
    services: Services = websocket.app.state.services
    hub = hub_of(services)
    if hub is None:
        await websocket.close(code=CLOSE_GOING_AWAY, reason="live channel not running")
        return
    await session(websocket, services, hub, key).run()


@router.websocket("/v1/packets/{packet_id}/live")
async def live(websocket: WebSocket, packet_id: str) -> None:
    """Every event after `since`, once, in order; edits, presence, ping."""
    await _serve(websocket, LiveSession, packet_id)


@router.websocket("/v1/lanes/{lane_id}/live")
async def lane_live(websocket: WebSocket, lane_id: str) -> None:
    """Release, supersession and decision notices of one lane, as they happen."""
    await _serve(websocket, LaneSession, lane_id)
