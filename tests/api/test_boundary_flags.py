"""The boundary check on suggestions and edits (issue 16, item 3): an agent's
suggestion that makes a commitment Quire must never make is flagged with the
phrase and category before a human sees it, and cannot be accepted without
an override reason; a human's own edit is flagged, never refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.live_client import of_type, receive, receive_until

pytestmark = pytest.mark.timeout(60)

CHRONOLOGY = "Outage 10:00-11:30 UTC. Maintenance 02:00-03:00 UTC excluded."


def packet_with_section(api: Api) -> str:
    pid = api.open_packet()
    r = api.post(
        "ben",
        f"/v1/packets/{pid}/sections",
        {"heading": "Chronology", "text": CHRONOLOGY},
    )
    assert r.status_code == 201, r.text
    return pid


def append(api: Api, user: str, pid: str, text: str) -> Any:
    packet = api.packet(pid)
    section = packet["sections"][0]
    return api.post(
        user,
        f"/v1/packets/{pid}/sections/sec-1/edits",
        {
            "base_version": packet["version"],
            "ops": [{"at": len(section["text"]), "delete": 0, "insert": text}],
        },
    )


def suggestion(api: Api, pid: str, sid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        s for s in api.packet(pid)["suggestions"] if s["id"] == sid
    )
    return found


def test_a_flagged_agent_suggestion_needs_an_override_reason_to_be_accepted(
    api: Api,
) -> None:
    pid = packet_with_section(api)
    r = append(api, "bot", pid, " We will approve a service credit of 10%.")
    assert r.status_code == 200, r.text
    sid = r.json()["suggestion_id"]
    flags = suggestion(api, pid, sid)["boundary_flags"]
    assert [f["category"] for f in flags] == ["concession_recommendation"]
    assert "approve a service credit" in flags[0]["phrase"]
    assert r.json()["boundary_flags"] == flags

    version = api.packet(pid)["version"]
    for body in (None, {}, {"override_reason": "   "}):
        refused = api.client.post(
            f"/v1/packets/{pid}/suggestions/{sid}/accept",
            json=body,
            headers=api.headers("ben"),
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "BOUNDARY_FLAGGED"
        assert refused.json()["error"]["details"]["boundary_flags"] == flags
    assert api.packet(pid)["version"] == version  # nothing written

    accepted = api.post(
        "maya",
        f"/v1/packets/{pid}/suggestions/{sid}/accept",
        {"override_reason": "quoted from the customer's letter; rewording next"},
    )
    assert accepted.status_code == 200, accepted.text
    taken = api.packet(pid)["suggestions"]
    done = next(s for s in taken if s["id"] == sid)
    assert done["state"] == "accepted"
    assert done["override"] == {
        "by": "maya",
        "reason": "quoted from the customer's letter; rewording next",
    }


def test_an_unflagged_suggestion_is_accepted_as_before(api: Api) -> None:
    pid = packet_with_section(api)
    r = append(
        api, "bot", pid, " Maintenance 04:00-04:20 UTC per the corrected calendar."
    )
    sid = r.json()["suggestion_id"]
    assert suggestion(api, pid, sid)["boundary_flags"] == []
    accepted = api.post("ben", f"/v1/packets/{pid}/suggestions/{sid}/accept")
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (" Please email the customer the corrected figures.", "customer_communication"),
        (" We will assign a dedicated engineer to this case.", "staffing_commitment"),
        (" This incident is classified as S1.", "incident_classification"),
        (
            " The customer is entitled to premium diagnostics.",
            "entitlement_adjudication",
        ),
        (" Apply a credit of 5% to the March invoice.", "billing_execution"),
    ],
)
def test_every_category_is_flagged_on_suggestions(
    api: Api, text: str, category: str
) -> None:
    pid = packet_with_section(api)
    sid = append(api, "bot", pid, text).json()["suggestion_id"]
    assert category in [
        f["category"] for f in suggestion(api, pid, sid)["boundary_flags"]
    ]


def test_a_human_edit_is_flagged_never_refused_and_the_flags_are_on_its_event(
    api: Api,
) -> None:
    pid = packet_with_section(api)
    r = append(api, "ben", pid, " We will approve a service credit of 10%.")
    assert r.status_code == 200, r.text
    assert "approve a service credit" in r.json()["text"]
    flags = r.json()["boundary_flags"]
    assert [f["category"] for f in flags] == ["concession_recommendation"]
    events = api.get("ben", f"/v1/packets/{pid}/events").json()["items"]
    edited = [e for e in events if e["type"] == "quire.packet.SectionTextEdited"]
    assert edited[-1]["data"]["boundary_flags"] == flags


def test_near_misses_and_phrases_already_there_are_not_flagged(api: Api) -> None:
    pid = packet_with_section(api)
    r = append(api, "ben", pid, " The customer asked us to approve a credit.")
    assert r.json()["boundary_flags"] == []
    r = append(api, "ben", pid, " Whether a credit is owed is for the lane.")
    assert r.json()["boundary_flags"] == []
    # A flagged phrase already in the section is not blamed on a later edit
    # of the same sentence.
    r = append(api, "ben", pid, " We will approve a service credit")
    assert r.json()["boundary_flags"]
    r = append(api, "bot", pid, " of 10%.")
    assert suggestion(api, pid, r.json()["suggestion_id"])["boundary_flags"] == []


def test_the_live_ack_shows_a_human_edit_s_flags(api: Api) -> None:
    pid = packet_with_section(api)
    version = api.packet(pid)["version"]
    with api.client.websocket_connect(
        f"/v1/packets/{pid}/live?token={api.tokens['ben']}"
    ) as ws:
        assert receive(ws)["type"] == "subscribed"
        ws.send_json(
            {
                "type": "op",
                "section_id": "sec-1",
                "base_version": version,
                "ops": [
                    {
                        "at": len(CHRONOLOGY),
                        "delete": 0,
                        "insert": " Email the customer today.",
                    }
                ],
                "client_id": "ben-tab",
                "client_seq": 1,
            }
        )
        ack = of_type(receive_until(ws, lambda m: m["type"] == "ack"), "ack")[0]
    assert [f["category"] for f in ack["boundary_flags"]] == ["customer_communication"]
