"""The HTTP API through FastAPI's TestClient, on a fresh database per module.

Each test module runs once per backend in `API_BACKENDS` (memory and SQLite;
the cross-process behaviour on PostgreSQL is covered by tests/e2e). The cast
of users is the same everywhere: a release owner, a co-author, a reviewer, an
agent listed as an author, an auditor, an outsider and an admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import Services, build_services
from tests.conftest import database_url_for, drop_pg_schema
from workspace.config import Settings

API_BACKENDS = ["memory", "sqlite"]

#: user id -> (display name, roles)
CAST: dict[str, tuple[str, list[str]]] = {
    "maya": ("Maya Chen", []),  # release owner
    "ben": ("Ben Ortiz", []),  # co-author
    "rita": ("Rita Reviewer", []),  # reviewer
    "bot": ("Reconciler", ["agent"]),  # agent listed as an author
    "aud": ("Ada Auditor", ["auditor"]),
    "olga": ("Olga Outsider", []),  # no part in any packet
    "root": ("Root Admin", ["admin"]),
}


@dataclass
class Api:
    """A client plus the tokens of the cast, with small helpers."""

    client: TestClient
    services: Services
    tokens: dict[str, str]

    def headers(self, user: str | None, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        return headers

    def post(
        self, user: str | None, path: str, body: Any = None, **headers: str
    ) -> Any:
        return self.client.post(
            path,
            json=body if body is not None else {},
            headers=self.headers(user, **headers),
        )

    def get(self, user: str | None, path: str) -> Any:
        return self.client.get(path, headers=self.headers(user))

    def packet(self, packet_id: str, user: str = "ben") -> dict[str, Any]:
        response = self.get(user, f"/v1/packets/{packet_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def open_packet(self, **overrides: Any) -> str:
        body = {
            "kind": "service-credit-clarification",
            "title": "Service-credit calculation clarification",
            "release_owner": "maya",
            "authors": ["ben", "bot"],
            "reviewers": ["rita"],
            **overrides,
        }
        response = self.post("ben", "/v1/packets", body)
        assert response.status_code == 201, response.text
        packet_id: str = response.json()["id"]
        return packet_id

    def stored_count(self) -> int:
        return self.services.app.recorder.max_notification_id() or 0

    def refusals(self) -> list[Any]:
        """Every audit-trail refusal so far, oldest first (repeats still only
        counted in memory are recorded first: workspace/refusals.py)."""
        app = self.services.app
        app.flush_refusals()
        notes = app.recorder.select_notifications(
            start=1, limit=100_000, topics=["quire.trail.Refused"]
        )
        return [app.mapper.to_domain_event(n) for n in notes]


@pytest.fixture(scope="module", params=API_BACKENDS)
def api_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def api_settings(
    api_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    tmp: Path = tmp_path_factory.mktemp(f"api-{api_backend}")
    url, schema = database_url_for(api_backend, tmp)
    yield Settings(
        database_url=url,
        signing_key_path=tmp / "signing-key.pem",
        snapshot_interval=5,
        pool_size=3,
        request_max_bytes=64 * 1024,
        max_ops_per_edit=50,
        ws_max_messages_per_second=200.0,
    )
    if schema:
        drop_pg_schema(schema)


@pytest.fixture(scope="module")
def api(api_settings: Settings) -> Iterator[Api]:
    services = build_services(api_settings, create_table=True, role="serve")
    tokens = {
        user: services.app.add_user(
            user,
            name,
            roles=roles,
            passphrase="correct horse" if user == "maya" else None,
        )
        for user, (name, roles) in CAST.items()
    }
    try:
        with TestClient(create_app(api_settings, services)) as client:
            yield Api(client=client, services=services, tokens=tokens)
    finally:
        services.close()


@pytest.fixture
def packet_id(api: Api) -> str:
    """A fresh packet: owner maya, authors ben and bot, reviewer rita, with
    one section (sec-1) holding two paragraphs."""
    packet_id = api.open_packet()
    response = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sections",
        {
            "heading": "Entitlement",
            "text": "Credits accrue monthly.\n\nClaims close after 30 days.",
        },
    )
    assert response.status_code == 201, response.text
    return packet_id
