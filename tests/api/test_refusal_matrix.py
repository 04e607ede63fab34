"""Who may call which write: every route against every role, and every refused
write recorded in the audit log (the role table of shared/DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.conftest import Api
from workspace.commands import (
    AddSection,
    CiteSource,
    DeclarePrerequisite,
    RaiseObjection,
    ResolveObjection,
)
from workspace.errors import EditConflictError

ROLES = ["owner", "co-author", "reviewer", "agent", "auditor", "outsider", "no token"]
USER = {
    "owner": "maya",
    "co-author": "ben",
    "reviewer": "rita",
    "agent": "bot",
    "auditor": "aud",
    "outsider": "olga",
    "admin": "root",
    "no token": None,
}

OK = "ok"


@dataclass(frozen=True)
class Route:
    name: str
    path: str  # with {pid} and the ids of the furnished packet
    body: dict[str, Any]
    allowed: frozenset[str]  # roles that may call it; the rest are refused
    ok_status: int = 200


HUMAN_AUTHORS = frozenset({"owner", "co-author"})
AUTHORS = HUMAN_AUTHORS | {"agent"}
MEMBERS = AUTHORS | {"reviewer"}

ROUTES = [
    Route(
        "open a packet",
        "/v1/packets",
        {"kind": "k", "title": "t", "release_owner": "maya"},
        frozenset({"owner", "co-author", "reviewer", "outsider"}),
        201,
    ),
    Route(
        "change members",
        "/v1/packets/{pid}/members",
        {"release_owner": "maya", "authors": ["ben", "bot"], "reviewers": ["rita"]},
        frozenset({"owner"}),
    ),
    Route(
        "add a section",
        "/v1/packets/{pid}/sections",
        {"heading": "Scope", "text": ""},
        HUMAN_AUTHORS,
        201,
    ),
    Route(
        "edit a section",
        "/v1/packets/{pid}/sections/sec-1/edits",
        {"base_version": 2, "ops": [{"at": 0, "delete": 0, "insert": "Note: "}]},
        AUTHORS,  # an agent's edit becomes a suggestion
    ),
    Route(
        "retitle a section",
        "/v1/packets/{pid}/sections/sec-1/retitle",
        {"heading": "Entitlements"},
        HUMAN_AUTHORS,
    ),
    Route(
        "move a section",
        "/v1/packets/{pid}/sections/sec-1/move",
        {"position": 0},
        HUMAN_AUTHORS,
    ),
    Route(
        "remove a section",
        "/v1/packets/{pid}/sections/sec-1/remove",
        {},
        HUMAN_AUTHORS,
    ),
    Route(
        "cite a source",
        "/v1/packets/{pid}/sources",
        {
            "kind": "crm-note",
            "title": "t",
            "reference": "r",
            "digest": "d",
            "precedence": 4,
        },
        HUMAN_AUTHORS,
        201,
    ),
    Route(
        "refresh a source",
        "/v1/packets/{pid}/sources/src-1/refresh",
        {"digest": "sha256:new", "material": True, "reason": "addendum"},
        AUTHORS,
    ),
    Route(
        "withdraw a source",
        "/v1/packets/{pid}/sources/src-1/withdraw",
        {"reason": "superseded"},
        HUMAN_AUTHORS,
    ),
    Route(
        "declare a prerequisite",
        "/v1/packets/{pid}/prerequisites",
        {"title": "Severity classification closed", "satisfied": False},
        HUMAN_AUTHORS,
        201,
    ),
    Route(
        "satisfy a prerequisite",
        "/v1/packets/{pid}/prerequisites/pre-1/satisfy",
        {"evidence": "ticket closed"},
        HUMAN_AUTHORS,
    ),
    Route(
        "raise an objection",
        "/v1/packets/{pid}/objections",
        {"target": {}, "text": "unclear"},
        MEMBERS,
        201,
    ),
    Route(
        "answer an objection",
        "/v1/packets/{pid}/objections/obj-1/answer",
        {"answer": "see addendum"},
        MEMBERS,
    ),
    Route(
        "resolve an objection",
        "/v1/packets/{pid}/objections/obj-1/resolve",
        {"resolution": "agreed"},
        frozenset({"owner", "reviewer"}),  # its raiser, or the release owner
    ),
    Route(
        "withdraw an objection",
        "/v1/packets/{pid}/objections/obj-1/withdraw",
        {},
        frozenset({"reviewer"}),  # its raiser only
    ),
    Route(
        "reopen an objection",
        "/v1/packets/{pid}/objections/obj-2/reopen",
        {"reason": "addendum signed"},
        MEMBERS,
    ),
    Route("cut a revision", "/v1/packets/{pid}/revisions", {}, HUMAN_AUTHORS, 201),
    Route(
        "accept a suggestion",
        "/v1/packets/{pid}/suggestions/sug-1/accept",
        {},
        HUMAN_AUTHORS,
    ),
    Route(
        "reject a suggestion",
        "/v1/packets/{pid}/suggestions/sug-1/reject",
        {},
        HUMAN_AUTHORS,
    ),
    Route(
        "resolve a conflict",
        "/v1/packets/{pid}/conflicts/conf-1/resolve",
        {"resolution": "weekly stands"},
        HUMAN_AUTHORS,
    ),
]


def furnish(api: Api) -> str:
    """A packet with one of everything a write route can name."""
    app = api.services.app

    def who(user: str) -> Any:
        return app.get_user(user).principal()

    packet = app.open_packet(
        who("ben"),
        kind="service-credit-clarification",
        title="Service-credit clarification",
        release_owner="maya",
        authors=["ben", "bot"],
        reviewers=["rita"],
    )
    pid = packet.id
    app.execute(
        pid,
        who("ben"),
        AddSection(heading="Entitlement", text="Credits accrue monthly."),
    )
    app.execute(
        pid,
        who("ben"),
        CiteSource(
            kind="order-form",
            title="OF-1",
            reference="crm://of-1",
            digest="sha256:old",
            precedence=1,
        ),
    )
    app.execute(
        pid, who("ben"), DeclarePrerequisite(title="Register current", satisfied=False)
    )
    app.execute(pid, who("rita"), RaiseObjection(target={}, text="open objection"))
    app.execute(pid, who("rita"), RaiseObjection(target={}, text="settled objection"))
    app.execute(
        pid, who("rita"), ResolveObjection(objection_id="obj-2", resolution="settled")
    )
    app.edit_section(
        pid,
        who("bot"),
        "sec-1",
        base_version=2,
        ops=[{"at": 0, "delete": 0, "insert": "Per addendum: "}],
    )
    version = app.get_packet(pid).version
    app.edit_section(
        pid, who("ben"), "sec-1", base_version=version, text="Credits accrue weekly."
    )
    with pytest.raises(EditConflictError):
        app.edit_section(
            pid,
            who("maya"),
            "sec-1",
            base_version=version,
            text="Credits accrue daily.",
        )
    assert "conf-1" in app.get_packet(pid).conflicts
    return str(pid)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_role_may_or_may_not_call_route_and_refusals_are_recorded(
    api: Api, route: Route, role: str
) -> None:
    pid = furnish(api)
    path = route.path.format(pid=pid)
    user = USER[role]
    refusals_before = len(api.refusals())

    response = api.post(user, path, route.body)

    refusals = api.refusals()[refusals_before:]
    if role in route.allowed:
        assert response.status_code == route.ok_status, response.text
        assert refusals == []
    elif user is None:
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "TOKEN_MISSING"
        assert response.headers["www-authenticate"] == "Bearer"
        # An unauthenticated refusal names no user: it goes to the process
        # log, never to the event-sourced audit log.
        assert refusals == []
    else:
        assert response.status_code == 403, response.text
        code = response.json()["error"]["code"]
        assert code in {"AGENT_NOT_ALLOWED", "ROLE_NOT_ALLOWED"}
        assert len(refusals) == 1
        refusal = refusals[0]
        assert refusal.actor == user
        assert refusal.code == code
        assert refusal.request == f"POST {path}"
        assert refusal.packet_id == (None if route.path == "/v1/packets" else pid)


def test_a_bad_token_is_refused(api: Api, packet_id: str) -> None:
    response = api.client.post(
        f"/v1/packets/{packet_id}/revisions",
        json={},
        headers={"Authorization": "Bearer qt_not-a-token"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"


def test_the_admin_changes_members_but_does_not_edit(api: Api) -> None:
    pid = furnish(api)
    members = api.post(
        "root",
        f"/v1/packets/{pid}/members",
        {"release_owner": "maya", "authors": ["ben"], "reviewers": []},
    )
    assert members.status_code == 200
    edit = api.post("root", f"/v1/packets/{pid}/sections", {"heading": "x", "text": ""})
    assert edit.status_code == 403


def test_refused_reads_are_forbidden_not_recorded_as_writes(api: Api) -> None:
    pid = furnish(api)
    before = len(api.refusals())
    assert api.get("olga", f"/v1/packets/{pid}").status_code == 403
    assert api.get(None, f"/v1/packets/{pid}").status_code == 401
    assert len(api.refusals()) == before


def test_a_refused_write_with_a_malformed_body_still_names_the_caller(
    api: Api, packet_id: str
) -> None:
    before = len(api.refusals())
    response = api.client.post(
        f"/v1/packets/{packet_id}/sections",
        content=b'{"heading": ',
        headers={**api.headers("rita"), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MALFORMED_JSON"
    refusals = api.refusals()[before:]
    assert [(r.actor, r.code) for r in refusals] == [("rita", "MALFORMED_JSON")]


READERS = frozenset({"owner", "co-author", "reviewer", "agent", "auditor"})


@pytest.mark.parametrize("role", ROLES)
def test_role_may_or_may_not_read_a_packet(api: Api, packet_id: str, role: str) -> None:
    response = api.get(USER[role], f"/v1/packets/{packet_id}")
    if role in READERS:
        assert response.status_code == 200
    elif USER[role] is None:
        assert response.status_code == 401
    else:
        assert response.status_code == 403
