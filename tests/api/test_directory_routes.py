"""The reads the web UI shows controls from, and adding users over HTTP.

`/v1/packets/{id}/permissions` answers from `workspace.policy` itself: every
action of RULES, for every part a user can play, agrees with what the server
then does; the page hides what is refused, the server still refuses it.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import Api
from workspace import policy

ROLES = {
    "maya": "owner",
    "ben": "co-author",
    "bot": "agent",
    "rita": "reviewer",
    "aud": "auditor",
}


def test_me_says_who_the_caller_is_and_which_lanes_they_sit_in(api: Api) -> None:
    lane = {"id": "me-lane", "title": "Me lane", "members": ["rita"]}
    created = api.post("root", "/v1/lanes", {**lane, "accepts_kinds": ["x"]})
    assert created.status_code == 201, created.text
    rita = api.get("rita", "/v1/me").json()
    assert rita == {
        "user_id": "rita",
        "name": "Rita Reviewer",
        "roles": [],
        "kind": "human",
        "is_admin": False,
        "is_auditor": False,
        "is_agent": False,
        "lanes": ["me-lane"],
    }
    aud = api.get("aud", "/v1/me").json()
    assert (aud["is_auditor"], aud["is_admin"], aud["lanes"]) == (True, False, [])
    assert api.get("bot", "/v1/me").json()["is_agent"] is True
    assert api.get(None, "/v1/me").status_code == 401


def test_permissions_name_the_role_and_every_action_as_the_server_decides(
    api: Api, packet_id: str
) -> None:
    for user, role in ROLES.items():
        answer = api.get(user, f"/v1/packets/{packet_id}/permissions")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["role"] == role
        assert set(body["actions"]) == set(policy.RULES)
    owner = api.get("maya", f"/v1/packets/{packet_id}/permissions").json()["actions"]
    assert owner["release_owner"] and owner["edit"]
    reviewer = api.get("rita", f"/v1/packets/{packet_id}/permissions").json()
    assert reviewer["actions"]["raise_objection"] is True
    assert reviewer["actions"]["edit"] is False
    auditor = api.get("aud", f"/v1/packets/{packet_id}/permissions").json()
    assert [a for a, ok in auditor["actions"].items() if ok] == ["read"]

    # What the page is told is refused, the server refuses.
    edit = api.post(
        "rita", f"/v1/packets/{packet_id}/sections", {"heading": "h", "text": ""}
    )
    assert edit.status_code == 403
    # An outsider learns nothing about the packet.
    outsider = api.get("olga", f"/v1/packets/{packet_id}/permissions")
    assert outsider.status_code == 403


def test_users_lists_everyone_for_the_pickers_roles_only_for_admins(api: Api) -> None:
    items = api.get("ben", "/v1/users").json()["items"]
    by_id = {u["user_id"]: u for u in items}
    assert {"maya", "ben", "rita", "bot", "aud", "olga", "root"} <= set(by_id)
    assert by_id["bot"]["kind"] == "agent"
    assert by_id["maya"] == {"user_id": "maya", "name": "Maya Chen", "kind": "human"}
    admin_view = {u["user_id"]: u for u in api.get("root", "/v1/users").json()["items"]}
    assert admin_view["aud"]["roles"] == ["auditor"]


def test_the_lane_directory_shows_members_only_to_admins(api: Api) -> None:
    lane = {"id": "dir-lane", "title": "Dir lane", "members": ["olga"]}
    assert api.post("root", "/v1/lanes", {**lane, "accepts_kinds": ["k"]}).is_success
    seen = {x["id"]: x for x in api.get("ben", "/v1/directory/lanes").json()["items"]}
    assert seen["dir-lane"] == {
        "id": "dir-lane",
        "title": "Dir lane",
        "accepts_kinds": ["k"],
        "member": False,
    }
    admin = {x["id"]: x for x in api.get("root", "/v1/directory/lanes").json()["items"]}
    assert admin["dir-lane"]["members"] == ["olga"]


def test_only_an_admin_adds_a_user_and_the_token_works_once_shown(api: Api) -> None:
    body = {"user_id": "new.person", "name": "New Person", "roles": ["auditor"]}
    refused = api.post("ben", "/v1/users", body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ROLE_NOT_ALLOWED"
    assert not api.services.app.user_exists("new.person")

    created = api.post("root", "/v1/users", body)
    assert created.status_code == 201, created.text
    answer = created.json()
    assert (answer["user_id"], answer["roles"]) == ("new.person", ["auditor"])
    me = api.client.get(
        "/v1/me", headers={"Authorization": f"Bearer {answer['token']}"}
    ).json()
    assert (me["user_id"], me["is_auditor"]) == ("new.person", True)

    again = api.post("root", "/v1/users", body)
    assert again.status_code == 409
    bad = api.post("root", "/v1/users", {**body, "user_id": "x", "roles": ["king"]})
    assert bad.status_code == 400
    agent_admin = {"user_id": "bot.admin", "name": "B", "roles": ["agent", "admin"]}
    assert api.post("root", "/v1/users", agent_admin).status_code == 400


def test_demo_sign_in_answers_only_on_a_loopback_demo_server(api: Api) -> None:
    app = api.services.app
    if not app.user_exists("ada.auditor"):
        app.add_user("ada.auditor", "Ada Auditor", roles=["auditor"])
    off = api.get(None, "/v1/ui-config").json()
    assert off == {"demo": False, "people": []}
    assert (
        api.post(None, "/v1/demo/sign-in", {"user_id": "ada.auditor"}).status_code
        == 404
    )

    web = create_app(api.services.settings, api.services)
    web.state.demo_sign_in = True
    # A demo server still refuses a caller that is not on this machine.
    with TestClient(web, client=("203.0.113.9", 5000)) as remote:
        assert remote.get("/v1/ui-config").json()["demo"] is False
        refused = remote.post("/v1/demo/sign-in", json={"user_id": "ada.auditor"})
        assert refused.status_code == 404
    with TestClient(web, client=("127.0.0.1", 5000)) as local:
        config = local.get("/v1/ui-config").json()
        assert config["demo"] is True
        ada = next(p for p in config["people"] if p["user_id"] == "ada.auditor")
        assert "auditor" in ada["parts"]
        token = local.post("/v1/demo/sign-in", json={"user_id": "ada.auditor"})
        assert token.status_code == 200
        # Only the demo's people: nobody else gets a token this way.
        other = local.post("/v1/demo/sign-in", json={"user_id": "root"})
        assert other.status_code == 404
    me = api.client.get(
        "/v1/me", headers={"Authorization": f"Bearer {token.json()['token']}"}
    )
    assert me.json()["user_id"] == "ada.auditor"
