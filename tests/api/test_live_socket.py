"""The live channel through TestClient: subscribe and resume, edits with ack
or conflict, presence, ping, bad messages, and refusals."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.api.conftest import Api
from tests.api.live_client import of_type, receive, receive_until, receive_until_all

pytestmark = pytest.mark.timeout(60)


def live(
    api: Api, packet_id: str, user: str | None = "ben", since: int | None = None
) -> str:
    query = []
    if user is not None:
        query.append(f"token={api.tokens[user]}")
    if since is not None:
        query.append(f"since={since}")
    return f"/v1/packets/{packet_id}/live?{'&'.join(query)}"


def subscribed(ws) -> int:  # type: ignore[no-untyped-def]
    first = receive(ws)
    assert first["type"] == "subscribed", first
    version: int = first["version"]
    return version


def test_subscribing_from_zero_replays_every_event_once_in_order(
    api: Api, packet_id: str
) -> None:
    with api.client.websocket_connect(live(api, packet_id, since=0)) as ws:
        assert subscribed(ws) == 2
        messages = receive_until(
            ws, lambda m: m["type"] == "event" and m["version"] == 2
        )
    events = of_type(messages, "event")
    assert [e["version"] for e in events] == [1, 2]
    assert [e["event_type"] for e in events] == ["Opened", "SectionAdded"]
    assert events[1]["actor"] == "ben"
    assert events[1]["data"]["section_id"] == "sec-1"


def test_resuming_after_a_version_sends_only_what_was_missed(
    api: Api, packet_id: str
) -> None:
    for n in range(3):
        api.post(
            "ben", f"/v1/packets/{packet_id}/sections", {"heading": f"S{n}", "text": ""}
        )
    with api.client.websocket_connect(live(api, packet_id, since=3)) as ws:
        assert subscribed(ws) == 5
        events = of_type(
            receive_until(ws, lambda m: m["type"] == "event" and m["version"] == 5),
            "event",
        )
    assert [e["version"] for e in events] == [4, 5]


def test_without_since_only_new_events_are_sent(api: Api, packet_id: str) -> None:
    with api.client.websocket_connect(live(api, packet_id)) as ws:
        assert subscribed(ws) == 2
        api.post(
            "ben", f"/v1/packets/{packet_id}/sections", {"heading": "New", "text": ""}
        )
        events = of_type(receive_until(ws, lambda m: m["type"] == "event"), "event")
    assert [e["version"] for e in events] == [3]


def test_an_edit_over_the_socket_is_acked_and_seen_by_every_co_author(
    api: Api, packet_id: str
) -> None:
    with (
        api.client.websocket_connect(live(api, packet_id, "ben")) as ben,
        api.client.websocket_connect(live(api, packet_id, "maya")) as maya,
    ):
        subscribed(ben)
        subscribed(maya)
        ben.send_json(
            {
                "type": "op",
                "section_id": "sec-1",
                "base_version": 2,
                "ops": [{"at": 15, "delete": 7, "insert": "weekly"}],
                "client_id": "ben-tab",
                "client_seq": 1,
            }
        )
        mine = receive_until(ben, lambda m: m["type"] == "ack")
        theirs = receive_until(maya, lambda m: m["type"] == "event")
    ack = of_type(mine, "ack")[0]
    assert (ack["client_seq"], ack["version"]) == (1, 3)
    event = of_type(theirs, "event")[0]
    assert event["version"] == 3
    assert event["event_type"] == "SectionTextEdited"
    assert (event["client_id"], event["client_seq"]) == ("ben-tab", 1)
    assert api.packet(packet_id)["sections"][0]["text"].startswith(
        "Credits accrue weekly."
    )


def test_a_whole_new_text_over_the_socket_is_diffed_and_rebased(
    api: Api, packet_id: str
) -> None:
    api.post(
        "maya",
        f"/v1/packets/{packet_id}/sections/sec-1/edits",
        {
            "base_version": 2,
            "text": "Credits accrue monthly.\n\nClaims close after 45 days.",
        },
    )
    with api.client.websocket_connect(live(api, packet_id)) as ws:
        subscribed(ws)
        ws.send_json(
            {
                "type": "op",
                "section_id": "sec-1",
                "base_version": 2,
                "text": "Credits accrue weekly.\n\nClaims close after 30 days.",
                "client_id": "ben-tab",
                "client_seq": 2,
            }
        )
        ack = of_type(receive_until(ws, lambda m: m["type"] == "ack"), "ack")[0]
    assert ack["version"] == 4
    assert api.packet(packet_id)["sections"][0]["text"] == (
        "Credits accrue weekly.\n\nClaims close after 45 days."
    )


def test_rewriting_the_same_words_over_the_socket_is_a_conflict(
    api: Api, packet_id: str
) -> None:
    api.post(
        "maya",
        f"/v1/packets/{packet_id}/sections/sec-1/edits",
        {"base_version": 2, "ops": [{"at": 15, "delete": 7, "insert": "daily"}]},
    )
    with api.client.websocket_connect(live(api, packet_id)) as ws:
        subscribed(ws)
        ws.send_json(
            {
                "type": "op",
                "section_id": "sec-1",
                "base_version": 2,
                "ops": [{"at": 15, "delete": 7, "insert": "weekly"}],
                "client_id": "ben-tab",
                "client_seq": 3,
            }
        )
        messages = receive_until_all(
            ws, [lambda m: m["type"] == "conflict", lambda m: m["type"] == "event"]
        )
    conflict = of_type(messages, "conflict")[0]
    events = of_type(messages, "event")
    assert conflict["client_seq"] == 3
    assert conflict["section_id"] == "sec-1"
    assert conflict["conflict_id"] == "conf-1"
    assert events[0]["event_type"] == "EditConflictRecorded"


def test_a_resent_op_is_acked_with_its_first_version(api: Api, packet_id: str) -> None:
    op = {
        "type": "op",
        "section_id": "sec-1",
        "base_version": 2,
        "ops": [{"at": 0, "delete": 0, "insert": "Note: "}],
        "client_id": "ben-tab",
        "client_seq": 9,
    }
    with api.client.websocket_connect(live(api, packet_id)) as ws:
        subscribed(ws)
        ws.send_json(op)
        first = of_type(receive_until(ws, lambda m: m["type"] == "ack"), "ack")[0]
        ws.send_json(op)
        second = of_type(receive_until(ws, lambda m: m["type"] == "ack"), "ack")[0]
    assert first["version"] == second["version"] == 3
    assert api.packet(packet_id)["version"] == 3


def test_an_agents_op_is_acked_as_a_suggestion(api: Api, packet_id: str) -> None:
    with api.client.websocket_connect(live(api, packet_id, "bot")) as ws:
        subscribed(ws)
        ws.send_json(
            {
                "type": "op",
                "section_id": "sec-1",
                "base_version": 2,
                "text": "x",
                "client_id": "bot-1",
                "client_seq": 1,
            }
        )
        ack = of_type(receive_until(ws, lambda m: m["type"] == "ack"), "ack")[0]
    assert ack["suggestion_id"] == "sug-1"


def test_a_reviewers_op_is_refused_and_recorded(api: Api, packet_id: str) -> None:
    before = len(api.refusals())
    with api.client.websocket_connect(live(api, packet_id, "rita")) as ws:
        subscribed(ws)
        ws.send_json(
            {
                "type": "op",
                "section_id": "sec-1",
                "base_version": 2,
                "text": "x",
                "client_id": "rita-1",
                "client_seq": 4,
            }
        )
        error = receive_until(ws, lambda m: m["type"] == "error")[-1]
    assert (error["code"], error["client_seq"]) == ("ROLE_NOT_ALLOWED", 4)
    refusals = api.refusals()[before:]
    assert [(r.actor, r.code, r.packet_id) for r in refusals] == [
        ("rita", "ROLE_NOT_ALLOWED", packet_id)
    ]


def test_ping_is_answered_and_bad_messages_get_errors(api: Api, packet_id: str) -> None:
    with api.client.websocket_connect(live(api, packet_id)) as ws:
        subscribed(ws)
        ws.send_json({"type": "ping"})
        assert receive_until(ws, lambda m: m["type"] == "pong")
        ws.send_text("{not json")
        assert (
            receive_until(ws, lambda m: m["type"] == "error")[-1]["code"]
            == "MALFORMED_JSON"
        )
        ws.send_json({"type": "dance"})
        assert (
            receive_until(ws, lambda m: m["type"] == "error")[-1]["code"]
            == "UNKNOWN_MESSAGE"
        )
        ws.send_json({"type": "op", "section_id": "sec-1", "client_seq": 5})
        error = receive_until(ws, lambda m: m["type"] == "error")[-1]
        assert (error["code"], error["client_seq"]) == ("INVALID_MESSAGE", 5)
        ws.send_json({"type": "presence", "state": "sleeping"})
        assert (
            receive_until(ws, lambda m: m["type"] == "error")[-1]["code"]
            == "INVALID_MESSAGE"
        )
        ws.send_json(
            {
                "type": "op",
                "section_id": "sec-1",
                "base_version": 2,
                "ops": [{"at": 99, "delete": 1, "insert": ""}],
                "client_id": "ben-tab",
                "client_seq": 6,
            }
        )
        error = receive_until(ws, lambda m: m["type"] == "error")[-1]
        assert (error["code"], error["client_seq"]) == ("OP_OUT_OF_RANGE", 6)


def test_the_token_may_come_in_the_first_message(api: Api, packet_id: str) -> None:
    with api.client.websocket_connect(f"/v1/packets/{packet_id}/live?since=2") as ws:
        ws.send_json({"type": "auth", "token": api.tokens["rita"]})
        assert subscribed(ws) == 2


def test_a_first_message_that_is_not_a_token_closes_the_socket(
    api: Api, packet_id: str
) -> None:
    with api.client.websocket_connect(f"/v1/packets/{packet_id}/live") as ws:
        ws.send_json({"type": "ping"})
        error = receive(ws)
        assert error["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws)
    assert closed.value.code == 4401


@pytest.mark.parametrize(
    ("user", "token", "packet", "since", "code", "error_code"),
    [
        (None, "qt_wrong", "ok", None, 4401, "TOKEN_INVALID"),
        ("olga", None, "ok", None, 4403, "ROLE_NOT_ALLOWED"),
        ("ben", None, "missing", None, 4404, "PACKET_NOT_FOUND"),
        ("ben", None, "ok", "99", 4400, "BAD_REQUEST"),
        ("ben", None, "ok", "-1", 4400, "BAD_REQUEST"),
        ("ben", None, "ok", "soon", 4400, "BAD_REQUEST"),
    ],
)
def test_a_refused_subscription_says_why_and_closes(
    api: Api,
    packet_id: str,
    user: str | None,
    token: str | None,
    packet: str,
    since: str | None,
    code: int,
    error_code: str,
) -> None:
    pid = packet_id if packet == "ok" else "00000000-0000-4000-8000-000000000000"
    query = [f"token={token or api.tokens[user or '']}"]
    if since is not None:
        query.append(f"since={since}")
    with api.client.websocket_connect(
        f"/v1/packets/{pid}/live?{'&'.join(query)}"
    ) as ws:
        error = receive(ws)
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws)
    assert (error["type"], error["code"]) == ("error", error_code)
    assert closed.value.code == code


def test_presence_is_shared_and_cleared_on_leaving(api: Api, packet_id: str) -> None:
    with api.client.websocket_connect(live(api, packet_id, "ben")) as ben:
        subscribed(ben)
        with api.client.websocket_connect(live(api, packet_id, "maya")) as maya:
            subscribed(maya)
            # maya learns that ben is viewing the packet as soon as she joins
            seen = receive_until(
                maya, lambda m: m["type"] == "presence" and m["user"] == "ben"
            )
            assert seen[-1]["state"] == "viewing"
            maya.send_json(
                {"type": "presence", "section_id": "sec-1", "state": "editing"}
            )
            update = receive_until(
                ben, lambda m: m["type"] == "presence" and m["state"] == "editing"
            )[-1]
            assert (update["user"], update["section_id"]) == ("maya", "sec-1")
        left = receive_until(ben, lambda m: m["type"] == "presence_leave")[-1]
        assert left["user"] == "maya"


def test_presence_lapses_without_a_heartbeat(api: Api, packet_id: str) -> None:
    hub = api.services.extras["live"]
    with api.client.websocket_connect(live(api, packet_id, "ben")) as ben:
        subscribed(ben)
        with api.client.websocket_connect(live(api, packet_id, "maya")) as maya:
            subscribed(maya)
            receive_until(
                ben, lambda m: m["type"] == "presence" and m["user"] == "maya"
            )
            entries = hub.presence[packet_id]
            latest = max(e.expires for e in entries.values())
            api.client.portal.call(hub.expire_presence, latest + 0.001)
            left = receive_until(ben, lambda m: m["type"] == "presence_leave")
            assert {m["user"] for m in of_type(left, "presence_leave")} <= {
                "ben",
                "maya",
            }
            assert packet_id not in hub.presence
            # any message is a heartbeat; an explicit presence brings it back
            maya.send_json({"type": "presence", "section_id": None, "state": "viewing"})
            back = receive_until(ben, lambda m: m["type"] == "presence")[-1]
            assert back["user"] == "maya"


def test_an_auditor_watching_live_is_recorded(api: Api, packet_id: str) -> None:
    app = api.services.app
    before = len(
        app.recorder.select_notifications(1, 100_000, topics=["quire.trail.Viewed"])
    )
    with api.client.websocket_connect(live(api, packet_id, "aud")) as ws:
        subscribed(ws)
    views = app.recorder.select_notifications(1, 100_000, topics=["quire.trail.Viewed"])
    assert len(views) == before + 1
    assert app.mapper.to_domain_event(views[-1]).what == "live"
