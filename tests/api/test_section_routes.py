"""Sections and edits over HTTP: range ops, whole texts, rebase, conflicts,
resends, agents' suggestions."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api


def edit(api: Api, packet_id: str, body: dict[str, Any], user: str = "ben") -> Any:
    return api.post(user, f"/v1/packets/{packet_id}/sections/sec-1/edits", body)


def test_adding_a_section_returns_its_id_and_the_new_version(
    api: Api, packet_id: str
) -> None:
    response = api.post(
        "ben", f"/v1/packets/{packet_id}/sections", {"heading": "Scope", "text": "x"}
    )
    assert response.status_code == 201
    assert response.json() == {"section_id": "sec-2", "version": 3}


def test_a_range_edit_returns_the_new_text(api: Api, packet_id: str) -> None:
    response = edit(
        api,
        packet_id,
        {"base_version": 2, "ops": [{"at": 15, "delete": 7, "insert": "weekly"}]},
    )
    assert response.status_code == 200
    assert response.json()["version"] == 3
    assert response.json()["text"].startswith("Credits accrue weekly.")


def test_edits_to_different_paragraphs_from_one_base_both_land(
    api: Api, packet_id: str
) -> None:
    first = edit(
        api,
        packet_id,
        {
            "base_version": 2,
            "text": "Credits accrue weekly.\n\nClaims close after 30 days.",
        },
    )
    second = edit(
        api,
        packet_id,
        {
            "base_version": 2,
            "text": "Credits accrue monthly.\n\nClaims close after 45 days.",
        },
        user="maya",
    )
    assert first.status_code == 200
    assert second.status_code == 200
    assert (
        second.json()["text"] == "Credits accrue weekly.\n\nClaims close after 45 days."
    )


def test_rewriting_the_same_words_from_one_base_is_a_kept_conflict(
    api: Api, packet_id: str
) -> None:
    edit(
        api,
        packet_id,
        {"base_version": 2, "ops": [{"at": 15, "delete": 7, "insert": "weekly"}]},
    )
    response = edit(
        api,
        packet_id,
        {"base_version": 2, "ops": [{"at": 15, "delete": 7, "insert": "daily"}]},
        user="maya",
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "EDIT_CONFLICT"
    conflict_id = error["details"]["conflict_id"]
    packet = api.packet(packet_id)
    assert [c["id"] for c in packet["conflicts"]] == [conflict_id]
    assert packet["sections"][0]["text"].startswith("Credits accrue weekly.")

    resolved = api.post(
        "ben",
        f"/v1/packets/{packet_id}/conflicts/{conflict_id}/resolve",
        {"resolution": "weekly stands, per the addendum"},
    )
    assert resolved.status_code == 200
    assert api.packet(packet_id)["conflicts"][0]["state"] == "resolved"
    again = api.post(
        "ben",
        f"/v1/packets/{packet_id}/conflicts/{conflict_id}/resolve",
        {"resolution": "twice"},
    )
    assert again.status_code == 409


def test_a_resent_edit_is_applied_once(api: Api, packet_id: str) -> None:
    body = {
        "base_version": 2,
        "ops": [{"at": 0, "delete": 0, "insert": "Note: "}],
        "client_id": "tab-1",
        "client_seq": 7,
    }
    first = edit(api, packet_id, body)
    second = edit(api, packet_id, body)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert api.packet(packet_id)["sections"][0]["text"].count("Note: ") == 1


def test_ops_and_text_together_or_neither_is_bad_input(
    api: Api, packet_id: str
) -> None:
    both = edit(api, packet_id, {"base_version": 2, "text": "a", "ops": []})
    neither = edit(api, packet_id, {"base_version": 2})
    assert both.status_code == neither.status_code == 400
    assert both.json()["error"]["code"] == "EDIT_MALFORMED"


def test_ops_beyond_the_text_are_bad_input(api: Api, packet_id: str) -> None:
    response = edit(
        api,
        packet_id,
        {"base_version": 2, "ops": [{"at": 500, "delete": 1, "insert": ""}]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "OP_OUT_OF_RANGE"


def test_too_many_ops_in_one_edit_are_refused(api: Api, packet_id: str) -> None:
    ops = [{"at": i, "delete": 0, "insert": "x"} for i in range(51)]
    response = edit(api, packet_id, {"base_version": 2, "ops": ops})
    assert response.status_code == 400
    assert "too many ops" in response.json()["error"]["message"]


def test_a_base_version_the_packet_never_had_is_bad_input(
    api: Api, packet_id: str
) -> None:
    response = edit(api, packet_id, {"base_version": 9, "text": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BASE_VERSION_INVALID"


def test_an_unknown_section_is_not_found(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sections/sec-9/edits",
        {"base_version": 2, "text": "x"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SECTION_NOT_FOUND"


def test_an_agents_edit_becomes_a_suggestion_a_human_accepts(
    api: Api, packet_id: str
) -> None:
    response = edit(
        api,
        packet_id,
        {
            "base_version": 2,
            "ops": [{"at": 0, "delete": 0, "insert": "Per addendum A: "}],
        },
        user="bot",
    )
    assert response.status_code == 200
    suggestion_id = response.json()["suggestion_id"]
    assert suggestion_id
    assert not api.packet(packet_id)["sections"][0]["text"].startswith("Per addendum")

    accepted = api.post(
        "ben", f"/v1/packets/{packet_id}/suggestions/{suggestion_id}/accept"
    )
    assert accepted.status_code == 200
    assert accepted.json()["text"].startswith("Per addendum A: ")


def test_a_rejected_suggestion_changes_no_text(api: Api, packet_id: str) -> None:
    response = edit(
        api, packet_id, {"base_version": 2, "text": "Something else."}, user="bot"
    )
    suggestion_id = response.json()["suggestion_id"]
    rejected = api.post(
        "maya", f"/v1/packets/{packet_id}/suggestions/{suggestion_id}/reject"
    )
    assert rejected.status_code == 200
    packet = api.packet(packet_id)
    assert packet["suggestions"][0]["state"] == "rejected"
    assert packet["sections"][0]["text"].startswith("Credits accrue monthly.")
    again = api.post(
        "maya", f"/v1/packets/{packet_id}/suggestions/{suggestion_id}/accept"
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "SUGGESTION_NOT_OPEN"


def test_sections_are_retitled_moved_and_removed(api: Api, packet_id: str) -> None:
    api.post(
        "ben", f"/v1/packets/{packet_id}/sections", {"heading": "Scope", "text": ""}
    )
    base = f"/v1/packets/{packet_id}/sections"
    assert (
        api.post(
            "ben", f"{base}/sec-2/retitle", {"heading": "Scope of work"}
        ).status_code
        == 200
    )
    assert api.post("ben", f"{base}/sec-2/move", {"position": 0}).status_code == 200
    packet = api.packet(packet_id)
    assert [s["heading"] for s in packet["sections"]] == [
        "Scope of work",
        "Entitlement",
    ]
    removed = api.post("ben", f"{base}/sec-2/remove", {})
    assert removed.status_code == 200
    assert [s["id"] for s in api.packet(packet_id)["sections"]] == ["sec-1"]
    gone = api.post("ben", f"{base}/sec-2/retitle", {"heading": "again"})
    assert gone.status_code == 404
