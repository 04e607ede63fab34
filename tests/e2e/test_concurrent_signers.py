"""Several named signers through two real `quire serve` processes on one
PostgreSQL database (issue 13 item 4): after the owner signs, the two other
named signers sign at the same instant, one through each process. Both
signatures are recorded exactly once, on the same manifest hash, and the
release is approved and delivered to its lane exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from release.application import ReleaseApp
from tests.e2e.conftest import DatabaseFactory, QuireServer
from workspace.config import Settings

KIND = "service-credit-clarification"
PASSPHRASES = {"maya": "maya signs", "nora": "nora signs", "rhea": "rhea signs"}
ROUNDS = 3


def sign_at_once(
    servers: list[QuireServer],
    tokens: dict[str, str],
    path: str,
    revision: dict[str, Any],
) -> list[httpx.Response]:
    signers = ["nora", "rhea"]
    start = threading.Barrier(len(signers))

    def sign(n: int) -> httpx.Response:
        user = signers[n]
        with httpx.Client(
            base_url=servers[n].url,
            headers={"Authorization": f"Bearer {tokens[user]}"},
            timeout=60,
        ) as client:
            start.wait()
            return client.post(
                path,
                json={
                    "content_hash": revision["content_hash"],
                    "meaning": f"{user} approves",
                    "passphrase": PASSPHRASES[user],
                },
            )

    with ThreadPoolExecutor(len(signers)) as pool:
        return list(pool.map(sign, range(len(signers))))


def test_two_signers_at_the_same_instant_through_two_processes_on_postgres(
    quire_database: DatabaseFactory,
) -> None:
    database = quire_database("postgres")
    database.add_user("root", "Root Admin", "--admin")
    database.add_user("ben", "Ben Ortiz")
    database.add_user("lars", "Lars Lane")
    tokens = {
        user: database.add_user(user, user.title(), passphrase=passphrase)
        for user, passphrase in PASSPHRASES.items()
    }
    servers = [database.serve(), database.serve()]
    with servers[0].client("root") as root:
        lane = {"id": "review", "title": "Review", "members": ["lars"]}
        created = root.post("/v1/lanes", json={**lane, "accepts_kinds": [KIND]})
        assert created.status_code == 201, created.text
    released: list[tuple[str, str]] = []
    for _ in range(ROUNDS):
        with servers[0].client("ben") as ben, servers[1].client("maya") as maya:
            opened = ben.post(
                "/v1/packets",
                json={
                    "kind": KIND,
                    "title": "Credit",
                    "release_owner": "maya",
                    "reviewers": ["nora", "rhea"],
                },
            )
            assert opened.status_code == 201, opened.text
            pid = opened.json()["id"]
            section = {"heading": "Calculation", "text": "412 outage minutes"}
            assert ben.post(f"/v1/packets/{pid}/sections", json=section).is_success
            named = maya.post(
                f"/v1/packets/{pid}/signers", json={"signers": ["nora", "rhea"]}
            )
            assert named.status_code == 200, named.text
            revision = ben.post(f"/v1/packets/{pid}/revisions", json={}).json()
            requested = ben.post(
                f"/v1/packets/{pid}/releases",
                json={"revision": revision["revision"], "lane": "review"},
            )
            assert requested.status_code == 201, requested.text
            rid = requested.json()["release_id"]
            path = f"/v1/packets/{pid}/releases/{rid}/approve"
            first = maya.post(
                path,
                json={
                    "content_hash": revision["content_hash"],
                    "meaning": "maya approves",
                    "passphrase": PASSPHRASES["maya"],
                },
            )
            assert first.status_code == 200, first.text
            assert first.json()["status"] == "held"

        responses = sign_at_once(servers, tokens, path, revision)
        assert [r.status_code for r in responses] == [200, 200], [
            r.text for r in responses
        ]
        assert sorted(r.json()["status"] for r in responses) == ["held", "released"]
        released.append((pid, rid))

    app = ReleaseApp(settings=Settings(database_url=database.url))
    try:
        for pid, rid in released:
            packet = app.get_packet(pid)
            kinds = [type(e).__name__ for e in app.events.get(packet.id)]
            assert kinds.count("ReleaseSigned") == 3
            assert kinds.count("ReleaseApproved") == 1
            assert kinds.count("SignaturesVoided") == 0
            release = packet.release(rid)
            assert release["status"] == "released"
            manifest = release["manifest"]
            assert sorted(s["signer"] for s in manifest["signatures"]) == [
                "maya",
                "nora",
                "rhea",
            ]
            assert {s["manifest_hash"] for s in manifest["signatures"]} == {
                manifest["signed_manifest_hash"]
            }
        deliveries = app.get_lane("review").deliveries
        assert sorted((d["packet_id"], d["release_id"]) for d in deliveries) == sorted(
            released
        )
    finally:
        app.close()
