"""Lanes decide: a member accepts a released revision, or returns it with a
reason category; the decision is an event on the release that the owner and
co-authors see, and a returned release can be followed by a new revision."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.api.test_release_routes import lanes, released

__all__ = ["lanes"]


def decision_path(lane: str, packet_id: str, rid: str) -> str:
    return f"/v1/lanes/{lane}/releases/{packet_id}:{rid}/decision"


def test_a_lane_returns_a_release_and_the_owner_sees_why(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    rid, _ = released(api, packet_id, lanes["lars"])
    body = {
        "decision": "returned",
        "reason_category": "fresher_support",
        "reason": "the telemetry extract predates the correction",
    }
    decided = api.post("lars", decision_path(lanes["lars"], packet_id, rid), body)
    assert decided.status_code == 200, decided.text
    decision = decided.json()["decision"]
    assert decision["decision"] == "returned"
    assert decision["reason_category"] == "fresher_support"
    assert decision["reason"] == body["reason"]
    assert decision["by"] == "lars"

    shown = api.get("maya", f"/v1/packets/{packet_id}/releases/{rid}")
    assert shown.json()["decision"]["reason_category"] == "fresher_support"
    lane_view = api.get("lars", f"/v1/lanes/{lanes['lars']}/releases/{packet_id}:{rid}")
    assert lane_view.json()["decision"]["decision"] == "returned"
    inbox = api.get("lars", f"/v1/lanes/{lanes['lars']}/inbox").json()["items"]
    assert next(i for i in inbox if i["release_id"] == rid)["decision"]["by"] == "lars"

    # Decided once: a second decision is refused, and changes nothing.
    again = api.post(
        "lars",
        decision_path(lanes["lars"], packet_id, rid),
        {"decision": "accepted"},
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "RELEASE_ALREADY_DECIDED"

    # A returned release is followed by a new revision, which the lane accepts.
    api.post(
        "ben", f"/v1/packets/{packet_id}/sections", {"heading": "Fresh", "text": "375"}
    )
    newer, _ = released(api, packet_id, lanes["lars"])
    accepted = api.post(
        "lars",
        decision_path(lanes["lars"], packet_id, newer),
        {"decision": "accepted"},
    )
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"decision": "maybe"}, "DECISION_INVALID"),
        ({"decision": "returned"}, "REASON_CATEGORY_INVALID"),
        (
            {"decision": "returned", "reason_category": "vibes"},
            "REASON_CATEGORY_INVALID",
        ),
        (
            {"decision": "accepted", "reason_category": "hidden_drift"},
            "REASON_CATEGORY_INVALID",
        ),
    ],
)
def test_bad_decisions_are_refused_and_write_nothing(
    api: Api, lanes: dict[str, str], packet_id: str, body: dict[str, str], code: str
) -> None:
    rid, _ = released(api, packet_id, lanes["lars"])
    before = api.get("maya", f"/v1/packets/{packet_id}").json()["version"]
    refused = api.post("lars", decision_path(lanes["lars"], packet_id, rid), body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == code
    assert api.get("maya", f"/v1/packets/{packet_id}").json()["version"] == before


@pytest.mark.parametrize("user", ["lina", "maya", "ben", "olga"])
def test_only_members_of_the_lane_decide(
    api: Api, lanes: dict[str, str], packet_id: str, user: str
) -> None:
    rid, _ = released(api, packet_id, lanes["lars"])
    refused = api.post(
        user,
        decision_path(lanes["lars"], packet_id, rid),
        {"decision": "accepted"},
    )
    assert refused.status_code == 403, refused.text
    shown = api.get("maya", f"/v1/packets/{packet_id}/releases/{rid}")
    assert shown.json()["decision"] is None


def test_a_superseded_release_is_not_decided(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    rid, _ = released(api, packet_id, lanes["lars"])
    released(api, packet_id, lanes["lars"])  # a newer revision replaces it
    refused = api.post(
        "lars",
        decision_path(lanes["lars"], packet_id, rid),
        {"decision": "accepted"},
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "RELEASE_NOT_ACTIVE"
