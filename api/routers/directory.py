"""Small reads the web UI needs to show only what a role may do.

`GET /v1/me` (who the caller is and which lanes they sit in),
`GET /v1/packets/{id}/permissions` (the caller's role on a packet and every
action of `workspace.policy.RULES`, decided by the same `policy.allowed` the
server enforces with), `GET /v1/users` and `GET /v1/directory/lanes` (what
the pickers offer) and `POST /v1/users` (admins add people over HTTP).
The server still refuses whatever the page shows by mistake.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from api.deps import CurrentUser, ServicesDep
from api.schemas import Input
from release.application import ReleaseApp
from release.lanes import Lane
from workspace import policy
from workspace.accounts import Principal, User
from workspace.errors import InvalidInputError, NotAllowedError

router = APIRouter(prefix="/v1", tags=["directory"])


class UserCreate(Input):
    user_id: str
    name: str
    roles: list[str] = Field(default_factory=list)


def _lanes(svc: ServicesDep) -> list[Lane]:
    app = svc.app
    if not isinstance(app, ReleaseApp):  # wiring error, not a caller's mistake
        raise TypeError("the services must be built with the release layer")
    return app.lanes()


def packet_role(user: Principal, packet: Any) -> str:
    """The caller's part in a packet, as the page names it."""
    if policy.is_owner(user, packet):
        return "owner"
    if policy.is_author(user, packet):
        return "agent" if user.is_agent else "co-author"
    if policy.is_reviewer(user, packet):
        return "reviewer"
    if user.is_auditor:
        return "auditor"
    return "none"


@router.get("/me")
def me(user: CurrentUser, svc: ServicesDep) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "name": user.name,
        "roles": sorted(user.roles),
        "kind": user.kind,
        "is_admin": user.is_admin,
        "is_auditor": user.is_auditor,
        "is_agent": user.is_agent,
        "lanes": [lane.lane_id for lane in _lanes(svc) if lane.is_member(user.user_id)],
    }


@router.get("/packets/{packet_id}/permissions")
def permissions(packet_id: str, user: CurrentUser, svc: ServicesDep) -> dict[str, Any]:
    """Only those who may read the packet learn anything about it."""
    packet = svc.app.read_packet(user, packet_id)
    return {
        "packet_id": str(packet.id),
        "role": packet_role(user, packet),
        "actions": {
            action: policy.allowed(user, action, packet) for action in policy.RULES
        },
    }


@router.get("/users")
def users(user: CurrentUser, svc: ServicesDep) -> dict[str, Any]:
    """Everyone who can be named as an author, reviewer, owner or lane member."""
    app = svc.app
    items: list[dict[str, Any]] = []
    for uid in app.originator_ids(User.Registered.TOPIC):
        found: Any = app.repository.get(uid)
        if isinstance(found, User):
            items.append(
                {
                    "user_id": found.user_id,
                    "name": found.name,
                    "kind": found.principal().kind,
                    **({"roles": sorted(found.roles)} if user.is_admin else {}),
                }
            )
    items.sort(key=lambda u: str(u["user_id"]))
    return {"items": items}


@router.post("/users", status_code=201)
def add_user(body: UserCreate, user: CurrentUser, svc: ServicesDep) -> dict[str, Any]:
    """Admins only; the token is in this answer and nowhere else, ever."""
    if not user.is_admin:
        raise NotAllowedError(
            "ROLE_NOT_ALLOWED",
            "only admins add users",
            {"action": "add_user", "user": user.user_id},
        )
    if "agent" in body.roles and "admin" in body.roles:
        raise InvalidInputError(
            "AGENT_NOT_ALLOWED", "agents never sign or administer", {}
        )
    token = svc.app.add_user(
        body.user_id, body.name, roles=body.roles, actor=user.user_id
    )
    created = svc.app.get_user(body.user_id)
    return {
        "user_id": created.user_id,
        "name": created.name,
        "roles": sorted(created.roles),
        "token": token,
    }


@router.get("/directory/lanes")
def lane_directory(user: CurrentUser, svc: ServicesDep) -> dict[str, Any]:
    """Every lane, for the release picker; members only for admins (a lane's
    audience is not everyone's business)."""
    items = []
    for lane in _lanes(svc):
        item: dict[str, Any] = {
            "id": lane.lane_id,
            "title": lane.title,
            "accepts_kinds": list(lane.accepts_kinds),
            "member": lane.is_member(user.user_id),
        }
        if user.is_admin:
            item["members"] = list(lane.members)
        items.append(item)
    return {"items": items}
