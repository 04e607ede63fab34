"""Input hygiene at the edge (issue 9, items 4 and 17): characters no store
keeps (NUL, lone UTF-16 surrogates), bodies that are not JSON or nest too
deep, fields over their limit, negative versions, huge path numbers and
times that are not ISO-8601 with a timezone. Each is refused with a stable
code and nothing is written."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.api.live_client import receive, receive_until
from workspace.domain import TEXT_FIELD_MAX, TITLE_MAX

pytestmark = pytest.mark.timeout(60)

OPEN = {"kind": "k", "title": "Entitlement packet", "release_owner": "maya"}


def written_since(api: Api, before: int) -> list[str]:
    """Topics stored after notification `before`, but for the audit trail
    (a refused write is recorded there, by design)."""
    notes = api.services.app.recorder.select_notifications(start=before + 1, limit=1000)
    return [n.topic for n in notes if not n.topic.startswith("quire.trail")]


def raw_post(api: Api, user: str, path: str, body: bytes) -> object:
    return api.client.post(
        path,
        content=body,
        headers={**api.headers(user), "content-type": "application/json"},
    )


# ------------------------------------------------------ NUL and surrogates
@pytest.mark.parametrize(
    "body",
    [
        {**OPEN, "title": "Entitlement\u0000packet"},
        {**OPEN, "authors": ["ben", "b\u0000n"]},
        {**OPEN, "kind": "\u0000"},
    ],
    ids=["title", "nested-list", "kind"],
)
def test_a_nul_anywhere_in_a_body_is_refused_and_nothing_written(
    api: Api, body: dict[str, object]
) -> None:
    before = api.stored_count()
    response = api.post("ben", "/v1/packets", body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "TEXT_HAS_NUL"
    assert error["details"]["at"]
    assert written_since(api, before) == []


def test_a_nul_in_an_object_key_is_refused(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/objections",
        {"target": {"sec\u0000tion_id": "sec-1"}, "text": "Why?"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "TEXT_HAS_NUL"


def test_a_nul_in_an_objection_text_is_refused(api: Api, packet_id: str) -> None:
    before = api.stored_count()
    response = api.post(
        "rita",
        f"/v1/packets/{packet_id}/objections",
        {"text": "stalls the read models\u0000"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "TEXT_HAS_NUL"
    assert response.json()["error"]["details"]["at"] == "text"
    assert written_since(api, before) == []


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "x\\udc00y"])
def test_a_lone_surrogate_is_a_400_not_a_500(api: Api, escape: str) -> None:
    before = api.stored_count()
    body = (
        '{"kind": "k", "release_owner": "maya", "title": "' + escape + '"}'
    ).encode()
    response = raw_post(api, "ben", "/v1/packets", body)
    assert response.status_code == 400, response.text  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "TEXT_HAS_SURROGATE"
    assert error["details"]["at"] == "title"
    assert written_since(api, before) == []


def test_a_surrogate_pair_is_one_character_and_is_kept(api: Api) -> None:
    body = b'{"kind": "k", "release_owner": "maya", "title": "Credits \\ud83d\\ude00"}'
    response = raw_post(api, "ben", "/v1/packets", body)
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    packet = api.packet(response.json()["id"])  # type: ignore[attr-defined]
    assert packet["title"] == "Credits \U0001f600"


def test_a_nul_in_a_query_string_is_refused(api: Api) -> None:
    response = api.get("ben", "/v1/packets?x=%00")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "TEXT_HAS_NUL"


def test_the_refusal_is_recorded_with_the_caller(api: Api) -> None:
    before = len(api.refusals())
    api.post("ben", "/v1/packets", {**OPEN, "title": "\u0000"})
    refusals = api.refusals()[before:]
    assert [(r.actor, r.code) for r in refusals] == [("ben", "TEXT_HAS_NUL")]


def _live(api: Api, packet_id: str) -> str:
    return f"/v1/packets/{packet_id}/live?token={api.tokens['ben']}"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('"Credits\\u0000accrue"', "TEXT_HAS_NUL"),
        ('"Credits\\ud800accrue"', "TEXT_HAS_SURROGATE"),
    ],
)
def test_a_live_op_with_a_bad_character_is_refused_once_not_retried_forever(
    api: Api, packet_id: str, text: str, code: str
) -> None:
    before = api.stored_count()
    with api.client.websocket_connect(_live(api, packet_id)) as ws:
        assert receive(ws)["type"] == "subscribed"
        ws.send_text(
            '{"type": "op", "section_id": "sec-1", "base_version": 2, '
            f'"client_id": "c1", "client_seq": 7, "text": {text}}}'
        )
        error = receive_until(ws, lambda m: m["type"] == "error")[-1]
        assert error["code"] == code
        assert error["client_seq"] == 7
        ws.send_text('{"type": "ping"}')
        assert receive_until(ws, lambda m: m["type"] == "pong")
    assert written_since(api, before) == []


def test_a_live_presence_with_a_nul_is_refused(api: Api, packet_id: str) -> None:
    with api.client.websocket_connect(_live(api, packet_id)) as ws:
        assert receive(ws)["type"] == "subscribed"
        ws.send_text('{"type": "presence", "section_id": "sec\\u0000", "state": "x"}')
        error = receive_until(ws, lambda m: m["type"] == "error")[-1]
        assert error["code"] == "TEXT_HAS_NUL"


# ------------------------------------------------------ stable error codes
def test_a_heading_over_the_limit_is_too_long_not_empty(
    api: Api, packet_id: str
) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sections",
        {"heading": "H" * (TITLE_MAX + 1), "text": ""},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "HEADING_TOO_LONG"
    assert error["details"] == {"limit": TITLE_MAX, "length": TITLE_MAX + 1}


def test_an_objection_over_the_limit_is_too_long_not_empty(
    api: Api, packet_id: str
) -> None:
    response = api.post(
        "rita",
        f"/v1/packets/{packet_id}/objections",
        {"text": "x" * (TEXT_FIELD_MAX + 1)},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "OBJECTION_TOO_LONG"


def test_an_empty_heading_is_still_empty(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben", f"/v1/packets/{packet_id}/sections", {"heading": "  ", "text": ""}
    )
    assert response.json()["error"]["code"] == "HEADING_EMPTY"


def test_invalid_utf8_is_malformed_json(api: Api) -> None:
    response = raw_post(api, "ben", "/v1/packets", b'{"kind": "\xff\xfe"}')
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "MALFORMED_JSON"  # type: ignore[attr-defined]


@pytest.mark.parametrize("depth", [40, 1000, 20_000])
def test_a_deeply_nested_body_is_refused(api: Api, depth: int) -> None:
    before = api.stored_count()
    nested = "[" * depth + "]" * depth
    body = (
        '{"kind": "k", "title": "t", "release_owner": "maya", "authors": '
        + nested
        + "}"
    ).encode()
    response = raw_post(api, "ben", "/v1/packets", body)
    assert response.status_code == 400  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "BODY_TOO_DEEP"
    assert error["details"]["limit"] == 32
    assert written_since(api, before) == []


def test_a_body_nested_within_the_bound_passes_the_check(api: Api) -> None:
    nested = "[" * 30 + "]" * 30
    body = (
        '{"kind": "k", "title": "t", "release_owner": "maya", "authors": '
        + nested
        + "}"
    ).encode()
    response = raw_post(api, "ben", "/v1/packets", body)
    # Past the hygiene check, the schema refuses a list of lists.
    assert response.json()["error"]["code"] == "INVALID_BODY"  # type: ignore[attr-defined]


def test_a_negative_expected_version_is_an_invalid_body_not_a_clash(
    api: Api, packet_id: str
) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sections",
        {"heading": "H", "expected_version": -1},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_BODY"
    assert "expected_version" in error["message"]


def test_a_negative_base_version_is_an_invalid_body(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sections/sec-1/edits",
        {"base_version": -1, "text": "x"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "number", ["9223372036854775808", "9007199254740992", "-1", "99999999999999999999"]
)
def test_a_revision_number_out_of_range_is_a_422_not_a_500(
    api: Api, packet_id: str, number: str
) -> None:
    response = api.get("ben", f"/v1/packets/{packet_id}/revisions/1/diff/{number}")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "INVALID_BODY"


@pytest.mark.parametrize(
    "valid_until",
    [9.2e-11, 1700000000, "1700000000", "2030-01-01T00:00:00", "2030-01-01", True],
)
def test_valid_until_must_be_an_iso_time_with_a_timezone(
    api: Api, packet_id: str, valid_until: object
) -> None:
    before = api.stored_count()
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/prerequisites",
        {"title": "Contacts current", "valid_until": valid_until},
    )
    assert response.status_code == 422, response.text
    assert "valid_until" in response.json()["error"]["message"]
    assert written_since(api, before) == []


@pytest.mark.parametrize(
    "valid_until", ["2030-01-01T00:00:00Z", "2030-01-01T09:00:00+09:00"]
)
def test_valid_until_with_a_timezone_is_accepted(
    api: Api, packet_id: str, valid_until: str
) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/prerequisites",
        {"title": "Contacts current", "valid_until": valid_until},
    )
    assert response.status_code == 201, response.text


def test_a_time_that_overflows_in_utc_is_refused(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/prerequisites",
        {"title": "Contacts current", "valid_until": "9999-12-31T23:59:59-14:00"},
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("revision", [2**63, 2**70, 0, -5])
def test_a_release_of_a_revision_no_column_holds_is_refused(
    api: Api, packet_id: str, revision: int
) -> None:
    # Stored, it would stop every read model with a BIGINT revision column.
    before = api.stored_count()
    response = api.post(
        "ben", f"/v1/packets/{packet_id}/releases", {"revision": revision, "lane": "x"}
    )
    assert response.status_code == 422, response.text
    assert written_since(api, before) == []


@pytest.mark.parametrize("precedence", [-6666632066398560256, 2**53])
def test_an_integer_the_content_hash_cannot_hold_is_refused(
    api: Api, packet_id: str, precedence: int
) -> None:
    # Accepted, it made every later revision cut of the packet a 500 (RFC 8785
    # canonical JSON holds integers within +-(2^53 - 1) only).
    source = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sources",
        {
            "kind": "order-form",
            "title": "Order form",
            "reference": "crm://1",
            "digest": "sha256:1",
            "precedence": precedence,
        },
    )
    assert source.status_code == 422, source.text
    cut = api.post("ben", f"/v1/packets/{packet_id}/revisions", {"label": "v1"})
    assert cut.status_code == 201, cut.text
