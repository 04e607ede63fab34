"""What the sign-in page needs before anyone has a token.

`GET /v1/ui-config` (no auth) says whether this server runs the demo; only
then does it list the demo's people with the part each plays, and
`POST /v1/demo/sign-in {user_id}` issues a token for one of them. Both demo
answers exist only when `quire serve --demo` binds to a loopback address (the
command line sets `app.state.demo_sign_in`), and only to a loopback caller:
anywhere else a demo person is a person, and tokens come from
`quire users add` / `quire users token`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import ServicesDep
from api.schemas import Input
from release.application import ReleaseApp
from release.demo import demo_people
from workspace.errors import NotFoundError

router = APIRouter(prefix="/v1", tags=["ui"])

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class DemoSignIn(Input):
    user_id: str


def demo_sign_in_on(request: Request) -> bool:
    enabled = bool(getattr(request.app.state, "demo_sign_in", False))
    client = request.client.host if request.client else ""
    return enabled and client in LOOPBACK


def demo_parts(app: Any) -> dict[str, list[str]]:
    """user id -> what they do in the demo ("release owner of ...")."""
    parts: dict[str, list[str]] = {
        uid: list(roles) for uid, (_, roles) in demo_people().items()
    }
    for pid in app.packet_ids():
        packet = app.get_packet(pid)
        title = packet.title
        for uid in parts:
            if uid == packet.release_owner:
                parts[uid].append(f"release owner: {title}")
            elif uid in packet.authors:
                parts[uid].append(f"co-author: {title}")
            elif uid in packet.reviewers:
                parts[uid].append(f"reviewer: {title}")
    if isinstance(app, ReleaseApp):
        for lane in app.lanes():
            for uid in lane.members:
                if uid in parts:
                    parts[uid].append(f"lane member: {lane.title}")
    return parts


@router.get("/ui-config")
def ui_config(request: Request, svc: ServicesDep) -> dict[str, Any]:
    if not demo_sign_in_on(request):
        return {"demo": False, "people": []}
    parts = demo_parts(svc.app)
    return {
        "demo": True,
        "people": [
            {
                "user_id": uid,
                "name": name,
                "roles": roles,
                "parts": parts.get(uid, []),
            }
            for uid, (name, roles) in demo_people().items()
            if svc.app.user_exists(uid)
        ],
    }


@router.post("/demo/sign-in")
def demo_sign_in(
    body: DemoSignIn, request: Request, svc: ServicesDep
) -> dict[str, str]:
    if not demo_sign_in_on(request) or body.user_id not in demo_people():
        raise NotFoundError("DEMO_NOT_RUNNING", "this server does not run the demo")
    return {"token": svc.app.issue_token(body.user_id, actor="demo")}
