"""Sources, prerequisites, objections and revisions over HTTP."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

ORDER_FORM = {
    "kind": "order-form",
    "title": "Order form OF-2291",
    "reference": "crm://orders/OF-2291",
    "digest": "sha256:aaaa",
    "precedence": 1,
}


def cite(api: Api, packet_id: str, **overrides: Any) -> str:
    response = api.post(
        "ben", f"/v1/packets/{packet_id}/sources", {**ORDER_FORM, **overrides}
    )
    assert response.status_code == 201, response.text
    source_id: str = response.json()["source_id"]
    return source_id


def test_citing_a_source_returns_its_id(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sources",
        {**ORDER_FORM, "valid_until": "2031-01-01T00:00:00+00:00"},
    )
    assert response.status_code == 201
    assert response.json() == {"source_id": "src-1", "version": 3}
    source = api.packet(packet_id)["sources"][0]
    assert source["digest"] == "sha256:aaaa"
    assert source["valid_until"].startswith("2031-01-01")


def test_a_refresh_reports_the_new_version_and_superseded_releases(
    api: Api, packet_id: str
) -> None:
    source_id = cite(api, packet_id)
    response = api.post(
        "bot",
        f"/v1/packets/{packet_id}/sources/{source_id}/refresh",
        {"digest": "sha256:bbbb", "material": True, "reason": "addendum signed"},
    )
    assert response.status_code == 200
    assert response.json() == {"version": 4, "superseded_releases": []}
    assert api.packet(packet_id)["sources"][0]["digest"] == "sha256:bbbb"


def test_a_refresh_of_an_unknown_source_is_not_found(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sources/src-9/refresh",
        {"digest": "x", "material": False, "reason": None},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SOURCE_NOT_FOUND"


def test_a_withdrawn_source_cannot_be_refreshed(api: Api, packet_id: str) -> None:
    source_id = cite(api, packet_id)
    base = f"/v1/packets/{packet_id}/sources/{source_id}"
    assert (
        api.post("ben", f"{base}/withdraw", {"reason": "wrong order"}).status_code
        == 200
    )
    response = api.post("ben", f"{base}/refresh", {"digest": "y", "material": True})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "SOURCE_WITHDRAWN"


def test_precedence_must_be_a_number(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben", f"/v1/packets/{packet_id}/sources", {**ORDER_FORM, "precedence": "high"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_BODY"


def test_a_prerequisite_is_declared_then_satisfied(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/prerequisites",
        {"title": "Named-contact register current", "satisfied": False},
    )
    assert response.status_code == 201
    prerequisite_id = response.json()["prerequisite_id"]
    satisfied = api.post(
        "ben",
        f"/v1/packets/{packet_id}/prerequisites/{prerequisite_id}/satisfy",
        {
            "evidence": "register export 2025-03-01",
            "valid_until": "2031-01-01T00:00:00Z",
        },
    )
    assert satisfied.status_code == 200
    assert satisfied.json() == {"version": 4}
    assert api.packet(packet_id)["prerequisites"][0]["state"] == "satisfied"


def test_an_unknown_prerequisite_is_not_found(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben", f"/v1/packets/{packet_id}/prerequisites/pre-9/satisfy", {"evidence": "x"}
    )
    assert response.status_code == 404


def test_an_objection_is_raised_answered_resolved_and_reopened(
    api: Api, packet_id: str
) -> None:
    raised = api.post(
        "rita",
        f"/v1/packets/{packet_id}/objections",
        {"target": {"section_id": "sec-1"}, "text": "30 days contradicts the addendum"},
    )
    assert raised.status_code == 201
    objection_id = raised.json()["objection_id"]
    base = f"/v1/packets/{packet_id}/objections/{objection_id}"
    assert (
        api.post("ben", f"{base}/answer", {"answer": "addendum is draft"}).status_code
        == 200
    )
    assert (
        api.post("rita", f"{base}/resolve", {"resolution": "agreed"}).status_code == 200
    )
    reopened = api.post("ben", f"{base}/reopen", {"reason": "addendum now signed"})
    assert reopened.status_code == 200
    assert reopened.json()["superseded_releases"] == []
    objection = api.packet(packet_id)["objections"][0]
    assert objection["state"] == "open"
    assert objection["answers"] == [{"by": "ben", "text": "addendum is draft"}]


def test_an_objection_is_withdrawn_by_whoever_raised_it(
    api: Api, packet_id: str
) -> None:
    raised = api.post(
        "rita", f"/v1/packets/{packet_id}/objections", {"text": "scope unclear"}
    )
    objection_id = raised.json()["objection_id"]
    base = f"/v1/packets/{packet_id}/objections/{objection_id}"
    assert api.post("ben", f"{base}/withdraw", {}).status_code == 403
    assert api.post("rita", f"{base}/withdraw", {}).status_code == 200
    again = api.post("rita", f"{base}/resolve", {"resolution": "x"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "OBJECTION_NOT_OPEN"


def test_an_objection_must_name_one_known_target(api: Api, packet_id: str) -> None:
    unknown = api.post(
        "rita",
        f"/v1/packets/{packet_id}/objections",
        {"target": {"section_id": "sec-9"}, "text": "?"},
    )
    assert unknown.status_code == 404
    odd = api.post(
        "rita",
        f"/v1/packets/{packet_id}/objections",
        {"target": {"page": "3"}, "text": "?"},
    )
    assert odd.status_code == 400
    assert odd.json()["error"]["code"] == "TARGET_INVALID"


def test_cutting_a_revision_returns_its_number_label_and_hash(
    api: Api, packet_id: str
) -> None:
    response = api.post(
        "ben", f"/v1/packets/{packet_id}/revisions", {"label": "PSE-Clarification-v1"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["revision"] == 1
    assert body["label"] == "PSE-Clarification-v1"
    assert body["version"] == 3
    assert len(body["content_hash"]) >= 64
    second = api.post("ben", f"/v1/packets/{packet_id}/revisions", {})
    assert second.json()["revision"] == 2
    assert second.json()["content_hash"] == body["content_hash"]
    taken = api.post(
        "ben", f"/v1/packets/{packet_id}/revisions", {"label": "PSE-Clarification-v1"}
    )
    assert taken.status_code == 400
    assert taken.json()["error"]["code"] == "LABEL_TAKEN"
