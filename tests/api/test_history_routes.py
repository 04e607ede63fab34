"""History over HTTP: revisions and diffs, the objection ledger, the events
with their leaf hashes, and the packet list, for members and auditors only.

Reads come right after writes: the routes wait for the projections (run
in-process on memory and SQLite, and by a stand-in worker on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.cli_projections import init_read_models
from api.main import create_app
from api.services import Services, build_services
from projections.runner import ProjectionRunner, all_projections
from projections.store import read_models_for
from tests.conftest import database_url_for, drop_pg_schema
from workspace.config import Settings

CAST: dict[str, list[str]] = {
    "maya": [],  # release owner
    "ben": [],  # co-author
    "rita": [],  # reviewer
    "aud": ["auditor"],
    "olga": [],  # outsider
}


@dataclass
class Http:
    client: TestClient
    services: Services
    tokens: dict[str, str]

    def get(self, user: str | None, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return self.client.get(path, headers=headers)

    def post(self, user: str, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.tokens[user]}"}
        )
        assert response.status_code in (200, 201), response.text
        return response.json()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def http(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Http]:
    url, schema = database_url_for(str(request.param), tmp_path)
    settings = Settings(
        database_url=url,
        signing_key_path=tmp_path / "signing-key.pem",
        pool_size=3,
    )
    setup = build_services(settings, create_table=True)
    init_read_models(setup)
    setup.close()
    try:
        with TestClient(create_app(settings)) as client:
            services: Services = client.app.state.services  # type: ignore[attr-defined]
            tokens = {
                user: services.app.add_user(user, user.title(), roles=roles)
                for user, roles in CAST.items()
            }
            worker = None
            if request.param == "postgres":  # what `quire worker` runs
                worker = ProjectionRunner(
                    read_models_for(services), all_projections(settings)
                )
                worker.start()
            try:
                yield Http(client, services, tokens)
            finally:
                if worker is not None:
                    worker.stop()
    finally:
        if schema:
            drop_pg_schema(schema)


@pytest.fixture
def packet_id(http: Http) -> str:
    created = http.post(
        "ben",
        "/v1/packets",
        {
            "kind": "service-credit-clarification",
            "title": "Service-credit calculation clarification",
            "release_owner": "maya",
            "authors": ["ben"],
            "reviewers": ["rita"],
        },
    )
    pid: str = created["id"]
    http.post(
        "ben",
        f"/v1/packets/{pid}/sections",
        {"heading": "Entitlement", "text": "Credits accrue monthly.\n"},
    )
    http.post("ben", f"/v1/packets/{pid}/revisions", {"label": "v1"})
    http.post(
        "maya",
        f"/v1/packets/{pid}/sections",
        {"heading": "Claims", "text": "Claims close after 30 days.\n"},
    )
    http.post("maya", f"/v1/packets/{pid}/revisions", {})
    return pid


def test_members_read_the_revision_history_right_after_a_cut(
    http: Http, packet_id: str
) -> None:
    response = http.get("rita", f"/v1/packets/{packet_id}/revisions")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["revision"], i["label"], i["cut_by"]) for i in items] == [
        (1, "v1", "ben"),
        (2, None, "maya"),
    ]
    assert items[0]["contributors"] == ["ben"]
    assert items[1]["contributors"] == ["maya"]
    assert all(i["content_hash"].startswith("sha256:") and i["cut_at"] for i in items)


def test_a_diff_between_revisions_is_unified_per_section(
    http: Http, packet_id: str
) -> None:
    response = http.get("ben", f"/v1/packets/{packet_id}/revisions/1/diff/2")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == (1, 2)
    changes = {s["section_id"]: s for s in body["sections"]}
    assert changes["sec-1"]["change"] == "unchanged"
    assert changes["sec-2"]["change"] == "added"
    assert "+Claims close after 30 days." in changes["sec-2"]["diff"].splitlines()
    missing = http.get("ben", f"/v1/packets/{packet_id}/revisions/1/diff/9")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "REVISION_NOT_FOUND"


def test_the_objection_ledger_shows_each_objection_with_its_history(
    http: Http, packet_id: str
) -> None:
    raised = http.post(
        "rita", f"/v1/packets/{packet_id}/objections", {"text": "Which cap applies?"}
    )
    oid = raised["objection_id"]
    http.post(
        "rita",
        f"/v1/packets/{packet_id}/objections/{oid}/resolve",
        {"resolution": "The addendum's"},
    )
    response = http.get("maya", f"/v1/packets/{packet_id}/objections")
    assert response.status_code == 200, response.text
    (objection,) = response.json()["items"]
    assert objection["id"] == oid
    assert objection["state"] == "resolved"
    assert [h["action"] for h in objection["history"]] == ["raised", "resolved"]
    assert objection["history"][1]["resolution"] == "The addendum's"


def test_every_event_is_listed_with_actor_time_type_data_and_leaf_hash(
    http: Http, packet_id: str
) -> None:
    response = http.get("ben", f"/v1/packets/{packet_id}/events")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["version"] for i in items] == list(range(1, len(items) + 1))
    assert items[0]["type"] == "quire.packet.Opened"
    assert items[0]["actor"] == "ben"
    assert items[0]["data"]["title"] == "Service-credit calculation clarification"
    assert all(i["at"] and len(i["leaf_hash"]) == 64 for i in items)
    assert len({i["leaf_index"] for i in items}) == len(items)


def test_an_auditor_reads_history_and_the_read_is_recorded(
    http: Http, packet_id: str
) -> None:
    assert http.get("aud", f"/v1/packets/{packet_id}/events").status_code == 200
    assert http.get("aud", f"/v1/packets/{packet_id}/revisions").status_code == 200
    app = http.services.app
    views = [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(
            start=1, limit=1000, topics=["quire.trail.Viewed"]
        )
    ]
    seen = [(v.actor, v.what, v.packet_id) for v in views]  # type: ignore[attr-defined]
    assert ("aud", "events", packet_id) in seen
    assert ("aud", "revisions", packet_id) in seen


@pytest.mark.parametrize(
    "path",
    ["revisions", "revisions/1/diff/2", "objections", "events"],
)
def test_outsiders_are_refused_and_unknown_packets_are_not_found(
    http: Http, packet_id: str, path: str
) -> None:
    refused = http.get("olga", f"/v1/packets/{packet_id}/{path}")
    assert refused.status_code == 403
    unknown = http.get(
        "ben", f"/v1/packets/00000000-0000-4000-8000-000000000000/{path}"
    )
    assert unknown.status_code == 404
    assert http.get(None, f"/v1/packets/{packet_id}/{path}").status_code == 401


def test_the_packet_list_shows_members_their_packets_with_status(
    http: Http, packet_id: str
) -> None:
    mine = http.get("rita", "/v1/packets").json()["items"]
    assert [(p["id"], p["status"], p["open_objections"]) for p in mine] == [
        (packet_id, "in review", 0)
    ]
    assert mine[0]["last_activity"]
    assert http.get("olga", "/v1/packets").json()["items"] == []
    assert [p["id"] for p in http.get("aud", "/v1/packets").json()["items"]] == [
        packet_id
    ]
