"""De-duplication of resent edits is per authenticated user and comes after
authorization (issue 9, item 2): over HTTP and over the live socket.

Client ids are chosen by clients. Someone who copies another user's
(client_id, client_seq) must get a refusal, not that user's remembered result
with the section's text; a co-author whose ids collide with another's must
have her edit applied; a resend by the same user is still applied once.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.api.live_client import of_type, receive, receive_until

pytestmark = pytest.mark.timeout(60)

SECRET = "Draft: credits are waived for the Q3 outage."


def edits(packet_id: str) -> str:
    return f"/v1/packets/{packet_id}/sections/sec-1/edits"


def live(api: Api, packet_id: str, user: str) -> str:
    return f"/v1/packets/{packet_id}/live?token={api.tokens[user]}"


def bens_draft(api: Api, packet_id: str) -> int:
    """Ben writes draft text with client ids anyone could copy; its version."""
    response = api.post(
        "ben",
        edits(packet_id),
        {
            "base_version": 2,
            "text": SECRET,
            "client_id": "tab-1",
            "client_seq": 1,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"] == SECRET
    version: int = response.json()["version"]
    return version


def test_an_outsider_replaying_a_co_authors_ids_is_refused_without_text(
    api: Api, packet_id: str
) -> None:
    bens_draft(api, packet_id)
    for user in ("olga", "rita", "aud"):
        response = api.post(
            user,
            edits(packet_id),
            {
                "base_version": 2,
                "text": "anything",
                "client_id": "tab-1",
                "client_seq": 1,
            },
        )
        assert response.status_code in (403, 404), (user, response.text)
        assert "Draft" not in response.text, user
        assert "version" not in response.json(), user
    packet = api.packet(packet_id)
    assert (packet["version"], packet["sections"][0]["text"]) == (3, SECRET)


def test_co_authors_whose_client_ids_collide_both_have_their_edits_applied(
    api: Api, packet_id: str
) -> None:
    same_ids = {"client_id": "tab-1", "client_seq": 5}
    first = api.post(
        "ben",
        edits(packet_id),
        {"base_version": 2, "ops": [{"at": 0, "delete": 0, "insert": "Ben: "}]}
        | same_ids,
    )
    second = api.post(
        "maya",
        edits(packet_id),
        {"base_version": 2, "ops": [{"at": 0, "delete": 0, "insert": "Maya: "}]}
        | same_ids,
    )
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    assert (first.json()["version"], second.json()["version"]) == (3, 4)
    text = api.packet(packet_id)["sections"][0]["text"]
    assert text.startswith("Ben: Maya: Credits accrue monthly.")


def test_a_resend_by_the_same_user_is_applied_once(api: Api, packet_id: str) -> None:
    body = {
        "base_version": 2,
        "ops": [{"at": 0, "delete": 0, "insert": "Note: "}],
        "client_id": "tab-1",
        "client_seq": 2,
    }
    first = api.post("ben", edits(packet_id), body)
    # Maya's edit with the same ids lands between Ben's send and his resend.
    maya = api.post("maya", edits(packet_id), body)
    again = api.post("ben", edits(packet_id), body)
    assert first.status_code == maya.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert maya.json()["version"] == 4
    packet = api.packet(packet_id)
    assert packet["version"] == 4
    assert packet["sections"][0]["text"].startswith("Note: Note: Credits")


def test_a_reviewer_replaying_a_co_authors_ids_on_the_socket_gets_no_ack(
    api: Api, packet_id: str
) -> None:
    bens_draft(api, packet_id)
    with api.client.websocket_connect(live(api, packet_id, "rita")) as ws:
        assert receive(ws)["type"] == "subscribed"
        ws.send_json(
            {
                "type": "op",
                "section_id": "sec-1",
                "base_version": 2,
                "text": "anything",
                "client_id": "tab-1",
                "client_seq": 1,
            }
        )
        answer = receive_until(ws, lambda m: m["type"] in ("ack", "error"))[-1]
    assert (answer["type"], answer["code"]) == ("error", "ROLE_NOT_ALLOWED")
    assert "version" not in answer


def test_colliding_and_resent_ops_on_the_socket(api: Api, packet_id: str) -> None:
    """Ben and Maya send ops with the same ids on their sockets: both are
    applied; Ben's resend is acked with its first version, applied once."""

    def op(insert: str) -> dict[str, object]:
        return {
            "type": "op",
            "section_id": "sec-1",
            "base_version": 2,
            "ops": [{"at": 0, "delete": 0, "insert": insert}],
            "client_id": "tab-1",
            "client_seq": 1,
        }

    def acked(ws: object) -> dict[str, object]:
        return of_type(receive_until(ws, lambda m: m["type"] == "ack"), "ack")[0]

    with (
        api.client.websocket_connect(live(api, packet_id, "ben")) as ben,
        api.client.websocket_connect(live(api, packet_id, "maya")) as maya,
    ):
        assert receive(ben)["type"] == receive(maya)["type"] == "subscribed"
        ben.send_json(op("Ben: "))
        first = acked(ben)
        maya.send_json(op("Maya: "))
        mayas = acked(maya)
        ben.send_json(op("Ben: "))
        resent = acked(ben)
    assert (first["version"], mayas["version"], resent["version"]) == (3, 4, 3)
    packet = api.packet(packet_id)
    assert packet["version"] == 4
    assert packet["sections"][0]["text"].startswith("Ben: Maya: Credits")
