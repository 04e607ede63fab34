"""Packets over HTTP: open, list, read now, at a version and at a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import Api

MISSING = "00000000-0000-4000-8000-000000000000"


def test_opening_a_packet_returns_its_id_and_first_version(api: Api) -> None:
    response = api.post(
        "ben",
        "/v1/packets",
        {
            "kind": "recovery-plan",
            "title": "Maintenance-window recovery plan",
            "release_owner": "maya",
            "authors": ["ben"],
            "reviewers": ["rita"],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1
    packet = api.packet(body["id"])
    assert packet["title"] == "Maintenance-window recovery plan"
    assert packet["release_owner"] == "maya"
    assert packet["reviewers"] == ["rita"]


def test_a_packet_reads_in_the_shape_of_the_public_contract(
    api: Api, packet_id: str
) -> None:
    packet = api.packet(packet_id)
    assert set(packet) >= {
        "id",
        "kind",
        "title",
        "version",
        "release_owner",
        "authors",
        "reviewers",
        "sections",
        "sources",
        "prerequisites",
        "objections",
        "revisions",
        "releases",
    }
    assert packet["id"] == packet_id
    assert packet["version"] == 2
    assert packet["sections"] == [
        {
            "id": "sec-1",
            "heading": "Entitlement",
            "text": "Credits accrue monthly.\n\nClaims close after 30 days.",
        }
    ]


def test_an_earlier_version_reads_as_it_stood(api: Api, packet_id: str) -> None:
    api.post(
        "ben",
        f"/v1/packets/{packet_id}/sections/sec-1/edits",
        {"base_version": 2, "text": "Credits accrue weekly."},
    )
    then = api.get("ben", f"/v1/packets/{packet_id}?version=2").json()
    now = api.packet(packet_id)
    assert then["version"] == 2
    assert then["sections"][0]["text"].startswith("Credits accrue monthly.")
    assert now["sections"][0]["text"] == "Credits accrue weekly."


def test_a_moment_reads_the_packet_as_it_stood_then(api: Api, packet_id: str) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = api.client.get(
        f"/v1/packets/{packet_id}", params={"at": later}, headers=api.headers("ben")
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2
    before = api.client.get(
        f"/v1/packets/{packet_id}",
        params={"at": "2000-01-01T00:00:00+00:00"},
        headers=api.headers("ben"),
    )
    assert before.status_code == 404
    assert before.json()["error"]["code"] == "VERSION_NOT_FOUND"


def test_asking_for_a_version_and_a_moment_at_once_is_bad_input(
    api: Api, packet_id: str
) -> None:
    response = api.client.get(
        f"/v1/packets/{packet_id}",
        params={"version": 1, "at": "2030-01-01T00:00:00+00:00"},
        headers=api.headers("ben"),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "QUERY_INVALID"


def test_a_version_the_packet_never_had_is_not_found(api: Api, packet_id: str) -> None:
    response = api.get("ben", f"/v1/packets/{packet_id}?version=99")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "VERSION_NOT_FOUND"


def test_unknown_and_malformed_packet_ids_are_not_found(api: Api) -> None:
    for packet_id in (MISSING, "not-a-uuid"):
        response = api.get("ben", f"/v1/packets/{packet_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "PACKET_NOT_FOUND"
    response = api.post(
        "ben", f"/v1/packets/{MISSING}/sections", {"heading": "H", "text": ""}
    )
    assert response.status_code == 404


def test_the_list_shows_only_packets_the_caller_may_see(
    api: Api, packet_id: str
) -> None:
    def ids(user: str) -> set[str]:
        response = api.get(user, "/v1/packets")
        assert response.status_code == 200
        return {item["id"] for item in response.json()["items"]}

    assert packet_id in ids("ben")
    assert packet_id in ids("rita")
    assert packet_id in ids("aud")
    assert packet_id not in ids("olga")


def test_an_auditor_reading_a_packet_is_recorded(api: Api, packet_id: str) -> None:
    app = api.services.app
    before = len(
        app.recorder.select_notifications(1, 100_000, topics=["quire.trail.Viewed"])
    )
    assert api.get("aud", f"/v1/packets/{packet_id}").status_code == 200
    views = app.recorder.select_notifications(1, 100_000, topics=["quire.trail.Viewed"])
    assert len(views) == before + 1
    view = app.mapper.to_domain_event(views[-1])
    assert view.actor == "aud"
    assert view.packet_id == packet_id


def test_the_release_owner_changes_the_members(api: Api, packet_id: str) -> None:
    response = api.post(
        "maya",
        f"/v1/packets/{packet_id}/members",
        {"release_owner": "maya", "authors": ["ben"], "reviewers": ["rita", "olga"]},
    )
    assert response.status_code == 200
    assert response.json()["version"] == 3
    assert api.packet(packet_id, "olga")["reviewers"] == ["rita", "olga"]


def test_members_must_be_known_users(api: Api, packet_id: str) -> None:
    response = api.post(
        "maya",
        f"/v1/packets/{packet_id}/members",
        {"release_owner": "maya", "authors": ["nobody"], "reviewers": []},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "USER_UNKNOWN"


def test_a_stale_expected_version_is_a_version_clash(api: Api, packet_id: str) -> None:
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sections",
        {"heading": "Scope", "text": "", "expected_version": 1},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "VERSION_CLASH"
    assert response.json()["error"]["details"]["current_version"] == 2


def test_openapi_and_docs_are_served(api: Api) -> None:
    spec = api.client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in (
        "/v1/packets",
        "/v1/packets/{packet_id}",
        "/v1/packets/{packet_id}/sections",
        "/v1/packets/{packet_id}/sections/{section_id}/edits",
        "/v1/packets/{packet_id}/sources/{source_id}/refresh",
        "/v1/packets/{packet_id}/revisions",
    ):
        assert path in paths
    schemas = spec.json()["components"]["schemas"]
    assert {"PacketCreate", "PacketPublic", "EditCreate", "EditResult"} <= set(schemas)
    assert api.client.get("/docs").status_code == 200


def test_health_and_readiness_need_no_token(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").status_code == 200
