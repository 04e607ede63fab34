"""Two simultaneous approvals by one owner (issue 9, item 17).

Attack: the release owner sends the same correct approval twice at the same
instant, through two `quire serve` processes on one PostgreSQL database (a
double click, or a client retrying on another node). Before the fix one of
them could answer 500; now one signs (200) and the other is refused with a
409 (the release is no longer open), and exactly one ReleaseApproved event is
stored.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.conftest import (
    DatabaseFactory,
    QuireServer,
    add_review_lane,
    request_credit_release,
)
from workspace.application import Workspace
from workspace.config import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(240)]

PASSPHRASE = "correct horse"
ROUNDS = 3


def approve_twice(
    servers: list[QuireServer], token: str, path: str, body: dict[str, str]
) -> list[httpx.Response]:
    start = threading.Barrier(len(servers))

    def approve(server: QuireServer) -> httpx.Response:
        with httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as client:
            client.get("/healthz")  # connected before the barrier
            start.wait()
            return client.post(path, json=body)

    with ThreadPoolExecutor(len(servers)) as pool:
        return list(pool.map(approve, servers))


def test_one_owner_approving_twice_at_once_gets_one_200_and_one_409(
    quire_database: DatabaseFactory,
) -> None:
    database = quire_database("postgres")
    database.add_user("root", "Root Admin", "--admin")
    database.add_user("ben", "Ben Ortiz")
    maya = database.add_user("maya", "Maya Chen", passphrase=PASSPHRASE)
    database.add_user("lars", "Lars Lane")
    servers = [database.serve(), database.serve()]
    add_review_lane(servers[0])

    releases: list[tuple[str, str]] = []
    for n in range(ROUNDS):  # a few packets: the race is not won the same way
        pid, rid, revision = request_credit_release(servers[n % 2], f"Credit {n}")
        responses = approve_twice(
            servers,
            maya,
            f"/v1/packets/{pid}/releases/{rid}/approve",
            {
                "content_hash": revision["content_hash"],
                "meaning": "approved",
                "passphrase": PASSPHRASE,
            },
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 409], [r.text for r in responses]
        refused = next(r for r in responses if r.status_code == 409)
        assert refused.json()["error"]["code"] in (
            "RELEASE_NOT_OPEN",
            "ALREADY_APPROVED",
        ), refused.text
        releases.append((pid, rid))

    app = Workspace(settings=Settings(database_url=database.url))
    try:
        for pid, rid in releases:
            approved = [
                e
                for e in app.events.get(app.get_packet(pid).id)
                if type(e).__name__ == "ReleaseApproved"
                and str(getattr(e, "release_id", "")) == rid
            ]
            assert len(approved) == 1, approved
    finally:
        app.close()
