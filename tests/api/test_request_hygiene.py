"""Limits and hygiene: body size, malformed JSON, schema errors, and retried
POSTs carrying an Idempotency-Key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.idempotency import STALE_AFTER, IdempotencyStore
from tests.api.conftest import Api

OPEN = {"kind": "k", "title": "Entitlement packet", "release_owner": "maya"}


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    api: Api, packet_id: str
) -> None:
    limit = api.services.settings.request_max_bytes
    before = api.stored_count()
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sections",
        {"heading": "Huge", "text": "x" * (limit + 1)},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "TOO_LARGE"
    assert api.stored_count() == before


def test_a_streamed_body_over_the_limit_is_refused(api: Api, packet_id: str) -> None:
    limit = api.services.settings.request_max_bytes

    def chunks():  # no Content-Length: sent chunked
        yield b'{"heading": "Huge", "text": "'
        for _ in range(limit // 1000 + 1):
            yield b"x" * 1000
        yield b'"}'

    response = api.client.post(
        f"/v1/packets/{packet_id}/sections",
        content=chunks(),
        headers={**api.headers("ben"), "content-type": "application/json"},
    )
    assert response.status_code == 413


def test_malformed_json_is_a_clear_400(api: Api) -> None:
    response = api.client.post(
        "/v1/packets",
        content=b"{'kind': 'single quotes'}",
        headers={**api.headers("ben"), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MALFORMED_JSON"


def test_a_body_of_the_wrong_shape_is_a_422_naming_the_field(api: Api) -> None:
    response = api.post("ben", "/v1/packets", {"kind": "k", "title": "t"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_BODY"
    assert "release_owner" in error["message"]
    typo = api.post("ben", "/v1/packets", {**OPEN, "reviewer": ["rita"]})
    assert typo.status_code == 422
    assert "reviewer" in typo.json()["error"]["message"]


def test_a_retried_post_returns_the_first_result_and_writes_nothing(api: Api) -> None:
    first = api.post("ben", "/v1/packets", OPEN, **{"Idempotency-Key": "open-1"})
    stored = api.stored_count()
    again = api.post("ben", "/v1/packets", OPEN, **{"Idempotency-Key": "open-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotency-replayed"] == "true"
    assert api.stored_count() == stored


def test_a_retried_refusal_is_answered_the_same_way(api: Api, packet_id: str) -> None:
    path = f"/v1/packets/{packet_id}/revisions"
    first = api.post("rita", path, {}, **{"Idempotency-Key": "cut-1"})
    refusals = len(api.refusals())
    again = api.post("rita", path, {}, **{"Idempotency-Key": "cut-1"})
    assert first.status_code == again.status_code == 403
    assert again.json() == first.json()
    assert len(api.refusals()) == refusals


def test_keys_belong_to_their_user(api: Api) -> None:
    mine = api.post("ben", "/v1/packets", OPEN, **{"Idempotency-Key": "shared-key"})
    theirs = api.post("maya", "/v1/packets", OPEN, **{"Idempotency-Key": "shared-key"})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_key_reused_for_another_request_is_refused(api: Api) -> None:
    api.post("ben", "/v1/packets", OPEN, **{"Idempotency-Key": "open-2"})
    stored = api.stored_count()
    other = api.post(
        "ben",
        "/v1/packets",
        {**OPEN, "title": "Another"},
        **{"Idempotency-Key": "open-2"},
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert api.stored_count() == stored


def test_an_empty_or_huge_key_is_bad_input(api: Api) -> None:
    response = api.post("ben", "/v1/packets", OPEN, **{"Idempotency-Key": "k" * 201})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_INVALID"


def test_a_key_without_a_token_is_simply_unauthenticated(api: Api) -> None:
    response = api.post(None, "/v1/packets", OPEN, **{"Idempotency-Key": "anon"})
    assert response.status_code == 401


def test_a_concurrent_duplicate_waits_for_the_first_and_never_runs(api: Api) -> None:
    store = IdempotencyStore(api.services)
    ben = api.services.app.get_user("ben").principal()
    first = store.begin(ben, "race-1", "fp", "POST /v1/packets")
    assert first.outcome == "claimed"
    assert store.begin(ben, "race-1", "fp", "POST /v1/packets").outcome == "in_flight"
    store.complete("ben", "race-1", 201, {"id": "p-1", "version": 1})
    replay = store.begin(ben, "race-1", "fp", "POST /v1/packets")
    assert (replay.outcome, replay.status, replay.body) == (
        "completed",
        201,
        {"id": "p-1", "version": 1},
    )


def test_a_claim_released_after_a_server_error_may_run_again(api: Api) -> None:
    store = IdempotencyStore(api.services)
    ben = api.services.app.get_user("ben").principal()
    assert store.begin(ben, "crash-1", "fp", "POST /x").outcome == "claimed"
    store.release("ben", "crash-1", 500)
    assert store.begin(ben, "crash-1", "fp", "POST /x").outcome == "claimed"


def test_a_claim_never_completed_is_reported_as_unknown_outcome(api: Api) -> None:
    ben = api.services.app.get_user("ben").principal()
    IdempotencyStore(api.services).begin(ben, "died-1", "fp", "POST /x")
    record = IdempotencyStore(api.services).get("ben", "died-1")
    assert record is not None
    later = IdempotencyStore(
        api.services,
        clock=lambda: record.claimed_at + timedelta(seconds=STALE_AFTER + 1),
    )
    assert later.begin(ben, "died-1", "fp", "POST /x").outcome == "stale"


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_route_is_a_404_in_the_error_shape(api: Api, method: str) -> None:
    response = getattr(api.client, method)("/v1/nowhere", headers=api.headers("ben"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
