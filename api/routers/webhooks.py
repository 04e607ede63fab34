"""Lane webhooks: `POST /v1/lanes/{lane}/webhooks {url, secret}` (admins).

Release and supersession notices go to the URL from a durable outbox
(release/outbox.py, release/webhook_sender.py). The secret is stored
encrypted and never returned (release/webhooks.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CurrentUser, ReleaseAppDep
from api.schemas import Input
from release.webhooks import register_webhook, webhook_view
from workspace.errors import NotAllowedError

router = APIRouter(prefix="/v1/lanes", tags=["lanes"])


class WebhookCreate(Input):
    url: str
    secret: str


@router.post("/{lane_id}/webhooks", status_code=201)
def register(
    lane_id: str, body: WebhookCreate, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    """Registers (or replaces) the lane's webhook; the answer omits the secret."""
    return register_webhook(app, user, lane_id, url=body.url, secret=body.secret)


@router.get("/{lane_id}/webhooks")
def show(lane_id: str, user: CurrentUser, app: ReleaseAppDep) -> dict[str, Any]:
    """The lane's webhook (URL and who registered it; never the secret)."""
    if not user.is_admin:
        raise NotAllowedError("ROLE_NOT_ALLOWED", "only admins manage intake lanes")
    return {"lane": lane_id, "webhook": webhook_view(app.get_lane(lane_id))}
