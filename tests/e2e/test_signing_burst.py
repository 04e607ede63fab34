"""The signing lock against a burst of approvals over HTTP (issue 9, item 1).

Attack: about twenty approvals with wrong passphrases plus one with the right
one, all at once, spread over two `quire serve` processes on one PostgreSQL
database. Before the fix, most wrong attempts failed with 500 (a clash on the
user record) without being counted, and the right one then signed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.e2e.conftest import (
    DatabaseFactory,
    QuireServer,
    add_review_lane,
    request_credit_release,
)
from workspace.accounts import User, user_aggregate_id
from workspace.application import Workspace
from workspace.config import Settings

PASSPHRASE = "correct horse"
WRONG = 20


def approve_burst(
    servers: list[QuireServer], token: str, path: str, body: dict[str, str]
) -> list[httpx.Response]:
    passphrases = [f"guess {n}" for n in range(WRONG)]
    passphrases.insert(WRONG // 2, PASSPHRASE)
    start = threading.Barrier(len(passphrases))

    def approve(n: int) -> httpx.Response:
        server = servers[n % len(servers)]
        with httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as client:
            start.wait()
            return client.post(path, json={**body, "passphrase": passphrases[n]})

    with ThreadPoolExecutor(len(passphrases)) as pool:
        return list(pool.map(approve, range(len(passphrases))))


def test_a_burst_of_wrong_passphrases_cannot_unlock_signing_on_postgres(
    quire_database: DatabaseFactory,
) -> None:
    database = quire_database("postgres")
    database.add_user("root", "Root Admin", "--admin")
    database.add_user("ben", "Ben Ortiz")
    maya = database.add_user("maya", "Maya Chen", passphrase=PASSPHRASE)
    database.add_user("lars", "Lars Lane")
    servers = [database.serve(), database.serve()]
    add_review_lane(servers[0])
    pid, rid, revision = request_credit_release(servers[0], "Credit")

    responses = approve_burst(
        servers,
        maya,
        f"/v1/packets/{pid}/releases/{rid}/approve",
        {"content_hash": revision["content_hash"], "meaning": "approved"},
    )

    statuses = [r.status_code for r in responses]
    assert all(s in (200, 409) for s in statuses), [r.text for r in responses]
    with servers[1].client("maya") as client:
        # A release that was never signed has no manifest (404).
        got = client.get(f"/v1/packets/{pid}/releases/{rid}/manifest")
    assert got.status_code in (200, 404), got.text
    released = got.status_code == 200 and got.json()["status"] == "released"
    app = Workspace(settings=Settings(database_url=database.url))
    try:
        attempts = [
            type(e)
            for e in app.events.get(user_aggregate_id("maya"))
            if isinstance(e, User.SigningFailed | User.SigningSucceeded)
        ]
        assert app.get_user("maya").signing_locked
    finally:
        app.close()
    assert len(attempts) == WRONG + 1  # every attempt counted exactly once
    if released:
        assert statuses.count(200) == 1
        # It was decided before the fifth failure in a row locked signing.
        assert attempts.index(User.SigningSucceeded) < 5
    else:
        assert statuses == [409] * (WRONG + 1)
        assert User.SigningSucceeded not in attempts
