"""The embedded default: one `quire serve` on an SQLite file fans live edits
out in-process, over real websockets."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import ServerFactory
from tests.e2e.live_client import LiveClient, answer_to, op

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_co_authors_on_one_embedded_server_see_each_others_edits(
    quire_server: ServerFactory,
) -> None:
    server = quire_server("sqlite")
    maya = server.database.add_user("maya", "Maya Chen")
    ben = server.database.add_user("ben", "Ben Ortiz")
    with server.client("ben") as http:
        packet_id = http.post(
            "/v1/packets",
            json={
                "kind": "k",
                "title": "Recovery plan",
                "release_owner": "maya",
                "authors": ["ben"],
            },
        ).json()["id"]
        http.post(
            f"/v1/packets/{packet_id}/sections", json={"heading": "Plan", "text": ""}
        )
    ws = f"ws://127.0.0.1:{server.port}"

    async def scenario() -> tuple[LiveClient, LiveClient]:
        a = await LiveClient.open(ws, packet_id, ben)
        b = await LiveClient.open(ws, packet_id, maya, since=0)
        for seq in range(1, 6):
            await a.send(
                op(
                    "sec-1",
                    2,
                    [{"at": 0, "delete": 0, "insert": f"[{seq}]"}],
                    client_id="ben",
                    client_seq=seq,
                )
            )
        await a.until(answer_to(5))
        await b.until(lambda m: m["type"] == "event" and m["version"] == 7)
        await a.close()
        await b.close()
        return a, b

    a, b = asyncio.run(scenario())
    assert [m["type"] for m in a.history if m["type"] in ("ack", "error")] == [
        "ack"
    ] * 5
    assert [e["version"] for e in b.events()] == list(range(1, 8))
