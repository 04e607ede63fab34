"""Lanes and releases over HTTP (shared/API.md), with the cast of conftest.py:
maya owns the packet, ben co-authors, rita reviews, bot is an agent author,
aud audits, olga is an outsider, root administers; lars and lina are members
of two different intake lanes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import Api
from workspace import accounts
from workspace.hashing import content_hash

KIND = "service-credit-clarification"


@pytest.fixture(scope="module")
def lanes(api: Api) -> dict[str, str]:
    """Two lanes (created over HTTP by the admin); returns lane id by member."""
    for user in ("lars", "lina"):
        api.tokens[user] = api.services.app.add_user(user, user.title(), roles=[])
    found = {}
    for member in ("lars", "lina"):
        lane_id = f"review-{member}"
        created = api.post(
            "root",
            "/v1/lanes",
            {
                "id": lane_id,
                "title": f"Restricted review ({member})",
                "members": [member],
                "accepts_kinds": [KIND],
            },
        )
        assert created.status_code == 201, created.text
        assert created.json() == {"id": lane_id}
        found[member] = lane_id
    return found


def cut(api: Api, packet_id: str) -> dict[str, Any]:
    response = api.post("ben", f"/v1/packets/{packet_id}/revisions", {})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def released(api: Api, packet_id: str, lane: str) -> tuple[str, dict[str, Any]]:
    """Cuts, requests and approves over HTTP; (release id, revision)."""
    revision = cut(api, packet_id)
    requested = api.post(
        "ben",
        f"/v1/packets/{packet_id}/releases",
        {"revision": revision["revision"], "lane": lane},
    )
    assert requested.status_code == 201, requested.text
    rid = requested.json()["release_id"]
    approved = api.post(
        "maya",
        f"/v1/packets/{packet_id}/releases/{rid}/approve",
        {
            "content_hash": revision["content_hash"],
            "meaning": "approved for restricted review intake",
            "passphrase": "correct horse",
        },
    )
    assert approved.status_code == 200, approved.text
    return rid, revision


def test_only_admins_create_lanes(api: Api, lanes: dict[str, str]) -> None:
    body = {"id": f"x-{uuid.uuid4().hex[:6]}", "title": "X", "accepts_kinds": [KIND]}
    refused = api.post("ben", "/v1/lanes", body)
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        403,
        "ROLE_NOT_ALLOWED",
    )
    again = api.post("root", "/v1/lanes", {**body, "id": lanes["lars"], "members": []})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "LANE_EXISTS")


def test_a_release_is_held_then_released_and_the_lane_reads_exactly_it(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    base = f"/v1/packets/{packet_id}"
    objection = api.post("rita", f"{base}/objections", {"target": {}, "text": "Cap?"})
    oid = objection.json()["objection_id"]
    revision = cut(api, packet_id)
    held = api.post(
        "ben",
        f"{base}/releases",
        {"revision": revision["revision"], "lane": lanes["lars"]},
    )
    assert held.status_code == 201
    assert held.json()["status"] == "held"
    assert [h["code"] for h in held.json()["hold_reasons"]] == ["OBJECTION_OPEN"]
    rid = held.json()["release_id"]

    residual = {"objection_id": oid, "rationale": "reviewers weigh the cap"}
    assert (
        api.post("ben", f"{base}/releases/{rid}/residuals", residual).status_code == 403
    )
    accepted = api.post("maya", f"{base}/releases/{rid}/residuals", residual)
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["hold_reasons"]) == (
        "pending",
        [],
    )

    approve = f"{base}/releases/{rid}/approve"
    body = {"content_hash": revision["content_hash"], "meaning": "approved"}
    wrong = api.post(
        "maya", approve, {**body, "content_hash": "sha256:0", "passphrase": "x"}
    )
    assert wrong.status_code == 409
    assert wrong.json()["error"]["code"] == "RELEASE_HELD"
    assert [h["code"] for h in wrong.json()["error"]["details"]["hold_reasons"]] == [
        "CONTENT_HASH_MISMATCH",
        "REAUTHENTICATION_FAILED",
    ]
    signed = api.post("maya", approve, {**body, "passphrase": "correct horse"})
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "released"

    manifest = api.get("maya", f"{base}/releases/{rid}/manifest").json()
    assert manifest["manifest_hash"] == signed.json()["manifest_hash"]
    assert manifest["manifest_hash"] == content_hash(manifest["manifest"])
    assert manifest["manifest"]["residual_objections"][0]["objection_id"] == oid

    inbox = api.get("lars", f"/v1/lanes/{lanes['lars']}/inbox")
    assert inbox.status_code == 200
    [item] = [i for i in inbox.json()["items"] if i["packet_id"] == packet_id]
    assert (item["release_id"], item["status"], item["revision"]) == (
        rid,
        "released",
        1,
    )
    shown = api.get("lars", f"/v1/lanes/{lanes['lars']}/releases/{item['ref']}")
    assert shown.status_code == 200
    assert content_hash(shown.json()["content"]) == revision["content_hash"]
    assert shown.json()["manifest_hash"] == manifest["manifest_hash"]

    ack = api.post("lars", f"{base}/releases/{rid}/acknowledge")
    assert ack.status_code == 200
    assert [a["by"] for a in ack.json()["acknowledgements"]] == ["lars"]


@pytest.mark.parametrize("user", ["ben", "rita", "bot", "aud", "lina", "olga"])
def test_nobody_but_the_owner_signs_and_nobody_outside_the_lane_reads_it(
    api: Api, lanes: dict[str, str], packet_id: str, user: str
) -> None:
    base = f"/v1/packets/{packet_id}"
    rid, _ = released(api, packet_id, lanes["lars"])
    revision = cut(api, packet_id)
    pending = api.post(
        "ben",
        f"{base}/releases",
        {"revision": revision["revision"], "lane": lanes["lars"]},
    ).json()["release_id"]

    tried = api.post(
        user,
        f"{base}/releases/{pending}/approve",
        {
            "content_hash": revision["content_hash"],
            "meaning": "m",
            "passphrase": "correct horse",
        },
    )
    assert tried.status_code in (403, 409)
    assert tried.json()["error"]["code"] in ("ROLE_NOT_ALLOWED", "RELEASE_HELD")
    objection = api.post("rita", f"{base}/objections", {"target": {}, "text": "?"})
    residual = api.post(
        user,
        f"{base}/releases/{pending}/residuals",
        {"objection_id": objection.json()["objection_id"], "rationale": "fine"},
    )
    assert residual.status_code == 403
    read = api.get(user, f"/v1/lanes/{lanes['lars']}/releases/{packet_id}:{rid}")
    assert (read.status_code, read.json()["error"]["code"]) == (
        403,
        "LANE_MEMBERS_ONLY",
    )
    assert api.get(user, f"/v1/lanes/{lanes['lars']}/inbox").status_code == 403


def test_impact_then_a_material_refresh_supersedes_and_the_lane_sees_why(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    base = f"/v1/packets/{packet_id}"
    source = api.post(
        "ben",
        f"{base}/sources",
        {
            "kind": "telemetry",
            "title": "Uptime extract",
            "reference": "ref",
            "digest": "sha256:a",
            "precedence": 3,
        },
    ).json()["source_id"]
    rid, _ = released(api, packet_id, lanes["lars"])

    impact = api.get("ben", f"{base}/impact?source_id={source}")
    assert impact.status_code == 200
    assert [
        (i["release_id"], i["cause"]) for i in impact.json()["would_supersede"]
    ] == [(rid, "SOURCE_DRIFT")]
    refreshed = api.post(
        "bot",
        f"{base}/sources/{source}/refresh",
        {"digest": "sha256:b", "material": True, "reason": "telemetry correction"},
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["superseded_releases"] == [rid]
    shown = api.get("lars", f"/v1/lanes/{lanes['lars']}/releases/{packet_id}:{rid}")
    assert shown.json()["status"] == "superseded"
    assert shown.json()["supersession"]["cause"] == "SOURCE_DRIFT"


def test_a_lane_audience_change_supersedes_its_active_releases(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    rid, _ = released(api, packet_id, lanes["lina"])
    changed = api.post(
        "root", f"/v1/lanes/{lanes['lina']}/members", {"members": ["lina", "lars"]}
    )
    assert changed.status_code == 200
    assert {"packet_id": packet_id, "release_id": rid} in changed.json()[
        "superseded_releases"
    ]
    assert (
        api.post(
            "ben", f"/v1/lanes/{lanes['lina']}/members", {"members": []}
        ).status_code
        == 403
    )
    release = api.get("maya", f"/v1/packets/{packet_id}/releases/{rid}").json()
    assert release["supersession"]["cause"] == "LANE_AUDIENCE_CHANGED"


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_the_owner_holds_an_open_release_until_lifting_the_hold(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    base = f"/v1/packets/{packet_id}"
    revision = cut(api, packet_id)
    requested = api.post(
        "ben", f"{base}/releases", {"revision": revision["revision"], "lane": "x"}
    )
    rid = api.post(
        "ben",
        f"{base}/releases",
        {"revision": revision["revision"], "lane": lanes["lars"]},
    ).json()["release_id"]
    assert error(requested) == (404, "LANE_NOT_FOUND")  # wave 2: not a held request
    hold = f"{base}/releases/{rid}/hold"
    reason = {"reason": "telemetry correction under review"}
    refusals = len(api.refusals())
    for user in ("ben", "rita", "bot", "aud", "olga"):
        assert error(api.post(user, hold, reason))[0] == 403
    assert len(api.refusals()) == refusals + 5

    held = api.post("maya", hold, reason)
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "held"
    [why] = held.json()["hold_reasons"]
    assert (why["code"], why["held_by"]) == ("HELD_BY_RELEASE_OWNER", "maya")
    assert "telemetry correction under review" in why["detail"]
    assert error(api.post("maya", hold, reason)) == (
        409,
        "RELEASE_ALREADY_HELD_BY_OWNER",
    )
    approve = f"{base}/releases/{rid}/approve"
    body = {
        "content_hash": revision["content_hash"],
        "meaning": "approved",
        "passphrase": "correct horse",
    }
    refused = api.post("maya", approve, body)
    assert error(refused) == (409, "RELEASE_HELD")
    assert [h["code"] for h in refused.json()["error"]["details"]["hold_reasons"]] == [
        "HELD_BY_RELEASE_OWNER"
    ]

    assert error(api.post("ben", f"{hold}/lift"))[0] == 403
    lifted = api.post("maya", f"{hold}/lift")
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["status"], lifted.json()["hold_reasons"]) == ("pending", [])
    assert error(api.post("maya", f"{hold}/lift")) == (409, "RELEASE_NOT_HELD_BY_OWNER")
    assert api.post("maya", approve, body).json()["status"] == "released"


def test_holding_a_released_release_withdraws_it_from_its_lane(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    base = f"/v1/packets/{packet_id}"
    rid, _ = released(api, packet_id, lanes["lars"])
    hold = f"{base}/releases/{rid}/hold"
    before = api.packet(packet_id)["version"]
    assert error(api.post("maya", hold, {"reason": "  "})) == (400, "REASON_EMPTY")
    assert error(api.post("maya", hold, {}))[0] == 422
    assert api.packet(packet_id)["version"] == before  # nothing written

    held = api.post("maya", hold, {"reason": "contract amendment pending"})
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "superseded"
    supersession = held.json()["supersession"]
    assert supersession["cause"] == "HELD_BY_RELEASE_OWNER"
    assert supersession["trigger"] == {"reason": "contract amendment pending"}
    shown = api.get("lars", f"/v1/lanes/{lanes['lars']}/releases/{packet_id}:{rid}")
    assert shown.json()["status"] == "superseded"
    assert shown.json()["supersession"]["cause"] == "HELD_BY_RELEASE_OWNER"
    assert error(api.post("maya", hold, {"reason": "again"})) == (
        409,
        "RELEASE_NOT_OPEN",
    )


@pytest.mark.parametrize(
    "action",
    ["approve_credit", "contact_customer", "change_billing", "assign_engineer"],
)
def test_out_of_scope_actions_are_refused_and_recorded(
    api: Api, packet_id: str, action: str
) -> None:
    refused = api.post("maya", f"/v1/packets/{packet_id}/actions", {"action": action})
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        403,
        "OUT_OF_SCOPE",
    )
    packet = api.services.app.get_packet(packet_id)
    assert [r["request"] for r in packet.refusals] == [action]


def test_five_wrong_passphrases_lock_signing_until_an_admin_unlocks(
    api: Api, lanes: dict[str, str], packet_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**8)
    api.tokens["owen"] = api.services.app.add_user(
        "owen", "Owen Owner", roles=[], passphrase="right"
    )
    opened = api.post(
        "ben",
        "/v1/packets",
        {"kind": KIND, "title": "T", "release_owner": "owen", "authors": ["ben"]},
    ).json()["id"]
    revision = cut(api, opened)
    rid = api.post(
        "ben", f"/v1/packets/{opened}/releases", {"revision": 1, "lane": lanes["lars"]}
    ).json()["release_id"]
    body = {"content_hash": revision["content_hash"], "meaning": "m"}
    approve = f"/v1/packets/{opened}/releases/{rid}/approve"
    for _ in range(5):
        assert (
            api.post("owen", approve, {**body, "passphrase": "wrong"}).status_code
            == 409
        )
    locked = api.post("owen", approve, {**body, "passphrase": "right"})
    assert "locked" in locked.json()["error"]["details"]["hold_reasons"][0]["detail"]
    api.services.app.unlock_signing(
        api.services.app.get_user("root").principal(), "owen"
    )
    assert api.post("owen", approve, {**body, "passphrase": "right"}).status_code == 200
