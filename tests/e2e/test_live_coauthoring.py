"""Live co-authoring across two real `quire serve` processes on one PostgreSQL
database (a fresh schema): concurrent edits, conflicts, resuming on the other
process, presence, idempotent retries, and a process killed mid-stream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    DatabaseFactory,
    QuireDatabase,
    QuireServer,
    open_credit_packet,
    read_packet,
)
from tests.e2e.live_client import LiveClient, answer_to, op, presence_handover

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(180)]

TEXT = "Credits accrue monthly.\n\nClaims close after 30 days."


@dataclass
class Pair:
    database: QuireDatabase
    one: QuireServer
    two: QuireServer

    def token(self, user: str) -> str:
        return self.database.tokens[user]


@pytest.fixture(scope="module")
def pair(quire_database_module: DatabaseFactory) -> Iterator[Pair]:
    database = quire_database_module("postgres")
    database.add_user("maya", "Maya Chen", passphrase="correct horse")
    database.add_user("ben", "Ben Ortiz")
    database.add_user("ana", "Ana Lima")
    one = database.serve()
    two = database.serve()
    yield Pair(database, one, two)


def new_packet(pair: Pair, text: str = TEXT) -> tuple[str, int]:
    return open_credit_packet(pair.one, text)


def read(server: QuireServer, packet_id: str) -> dict[str, Any]:
    return read_packet(server, packet_id)


def ws_base(server: QuireServer) -> str:
    return f"ws://127.0.0.1:{server.port}"


def versions(client: LiveClient) -> list[int]:
    return [e["version"] for e in client.events()]


async def see_version(client: LiveClient, version: int) -> None:
    await client.until(lambda m: m["type"] == "event" and m["version"] == version)


def mark(server: QuireServer, packet_id: str) -> int:
    """One more write, so that anything sent twice would show before it."""
    with server.client("ben") as http:
        response = http.post(
            f"/v1/packets/{packet_id}/sections", json={"heading": "Marker", "text": ""}
        )
        assert response.status_code == 201, response.text
        version: int = response.json()["version"]
        return version


def edit_at_once(
    pair: Pair,
    packet_id: str,
    base: int,
    ops_a: list[dict[str, Any]],
    ops_b: list[dict[str, Any]],
    marker_on: QuireServer,
) -> tuple[LiveClient, LiveClient, list[Any]]:
    """Ben on process one and Maya on process two send one op each, at once,
    on the same base; returns both clients (having seen a later marker write,
    made on `marker_on`) and their answers."""

    async def scenario() -> tuple[LiveClient, LiveClient, list[Any]]:
        a = await LiveClient.open(ws_base(pair.one), packet_id, pair.token("ben"))
        b = await LiveClient.open(ws_base(pair.two), packet_id, pair.token("maya"))
        await asyncio.gather(
            a.send(op("sec-1", base, ops_a, client_id="a", client_seq=1)),
            b.send(op("sec-1", base, ops_b, client_id="b", client_seq=1)),
        )
        answers = await asyncio.gather(a.until(answer_to(1)), b.until(answer_to(1)))
        marker = await asyncio.to_thread(mark, marker_on, packet_id)
        await asyncio.gather(see_version(a, marker), see_version(b, marker))
        await a.close()
        await b.close()
        return a, b, [x[-1] for x in answers]

    return asyncio.run(scenario())


def test_edits_to_different_paragraphs_from_two_processes_both_land(
    pair: Pair,
) -> None:
    packet_id, base = new_packet(pair)
    monthly = TEXT.index("monthly")
    thirty = TEXT.index("30")
    a, b, answers = edit_at_once(
        pair,
        packet_id,
        base,
        [{"at": monthly, "delete": 7, "insert": "weekly"}],
        [{"at": thirty, "delete": 2, "insert": "45"}],
        marker_on=pair.one,
    )
    assert [x["type"] for x in answers] == ["ack", "ack"]
    assert versions(a) == versions(b) == [base + 1, base + 2, base + 3]
    expected = "Credits accrue weekly.\n\nClaims close after 45 days."
    assert read(pair.one, packet_id)["sections"][0]["text"] == expected
    assert read(pair.two, packet_id)["sections"][0]["text"] == expected


def test_rewrites_of_the_same_sentence_give_one_ack_and_one_conflict(
    pair: Pair,
) -> None:
    packet_id, base = new_packet(pair)
    monthly = TEXT.index("monthly")
    a, b, answers = edit_at_once(
        pair,
        packet_id,
        base,
        [{"at": monthly, "delete": 7, "insert": "weekly"}],
        [{"at": monthly, "delete": 7, "insert": "daily"}],
        marker_on=pair.two,
    )
    assert sorted(x["type"] for x in answers) == ["ack", "conflict"]
    conflict = next(x for x in answers if x["type"] == "conflict")
    assert conflict["section_id"] == "sec-1"
    assert conflict["conflict_id"]
    assert versions(a) == versions(b) == [base + 1, base + 2, base + 3]
    kinds = [e["event_type"] for e in a.events()]
    assert sorted(kinds[:2]) == ["EditConflictRecorded", "SectionTextEdited"]
    winner = "weekly" if answers[0]["type"] == "ack" else "daily"
    one, two = read(pair.one, packet_id), read(pair.two, packet_id)
    assert one["sections"][0]["text"] == two["sections"][0]["text"]
    assert (
        one["sections"][0]["text"]
        == f"Credits accrue {winner}.\n\nClaims close after 30 days."
    )
    assert [c["id"] for c in one["conflicts"]] == [conflict["conflict_id"]]


def test_a_client_resumes_on_the_other_process_without_gaps_or_duplicates(
    pair: Pair,
) -> None:
    packet_id, base = new_packet(pair, text="")
    edits = 40

    a_third_acked = asyncio.Event()

    async def writer(server: QuireServer, user: str, n: int, acked: list[int]) -> None:
        client = await LiveClient.open(ws_base(server), packet_id, pair.token(user))
        for seq in range(1, n + 1):
            await client.send(
                op(
                    "sec-1",
                    base,
                    [{"at": 0, "delete": 0, "insert": f"[{user}{seq}]"}],
                    client_id=user,
                    client_seq=seq,
                )
            )
            answer = (await client.until(answer_to(seq)))[-1]
            assert answer["type"] == "ack", answer
            acked.append(answer["version"])
            if len(acked) >= edits // 3:
                a_third_acked.set()
        await client.close()

    async def scenario() -> tuple[LiveClient, LiveClient, list[int]]:
        watcher = await LiveClient.open(
            ws_base(pair.one), packet_id, pair.token("ben"), since=base
        )
        await watcher.close()  # gone before the first of the 40 edits
        acked: list[int] = []
        a_third_acked.clear()
        writers = asyncio.gather(
            writer(pair.one, "ana", edits // 2, acked),
            writer(pair.two, "maya", edits // 2, acked),
        )
        # Reconnect to the other process while the edits are still landing.
        await asyncio.wait_for(a_third_acked.wait(), timeout=60)
        resumed = await LiveClient.open(
            ws_base(pair.two), packet_id, pair.token("ben"), since=base
        )
        await writers
        await see_version(resumed, base + edits)
        await resumed.close()
        return watcher, resumed, acked

    watcher, resumed, acked = asyncio.run(scenario())
    assert watcher.events() == []
    assert sorted(acked) == list(range(base + 1, base + edits + 1))
    assert versions(resumed) == list(range(base + 1, base + edits + 1))
    assert resumed.subscribed_version > base  # it really joined mid-stream


def test_presence_crosses_processes(pair: Pair) -> None:
    packet_id, _ = new_packet(pair)

    async def scenario() -> list[Any]:
        a = await LiveClient.open(ws_base(pair.one), packet_id, pair.token("ben"))
        b = await LiveClient.open(ws_base(pair.two), packet_id, pair.token("maya"))
        return await presence_handover(a, b)

    seen, left = asyncio.run(scenario())
    assert seen["section_id"] == "sec-1"
    assert left["conn"] == seen["conn"]


def test_a_retried_post_is_applied_once_whichever_process_receives_it(
    pair: Pair,
) -> None:
    packet_id, _ = new_packet(pair)
    body = {"label": "PSE-Clarification-v1"}
    headers = {"Idempotency-Key": f"cut-{packet_id}"}
    with pair.one.client("ben") as one, pair.two.client("ben") as two:
        first = one.post(
            f"/v1/packets/{packet_id}/revisions", json=body, headers=headers
        )
        again = two.post(
            f"/v1/packets/{packet_id}/revisions", json=body, headers=headers
        )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotency-replayed"] == "true"
    assert len(read(pair.two, packet_id)["revisions"]) == 1


def test_concurrent_duplicates_on_two_processes_run_once(pair: Pair) -> None:
    packet_id, _ = new_packet(pair)
    headers = {"Idempotency-Key": f"dup-{packet_id}", **_auth(pair, "ben")}

    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=20) as http:
            return list(
                await asyncio.gather(
                    *[
                        http.post(
                            f"{server.url}/v1/packets/{packet_id}/revisions",
                            json={},
                            headers=headers,
                        )
                        for server in (pair.one, pair.two, pair.one, pair.two)
                    ]
                )
            )

    responses = asyncio.run(scenario())
    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1  # byte-for-byte the first answer
    assert len(read(pair.one, packet_id)["revisions"]) == 1


def test_killing_one_process_loses_no_acknowledged_edit(pair: Pair) -> None:
    packet_id, base = new_packet(pair, text="")
    doomed = pair.database.serve()
    pipelined = 40  # within the per-connection message burst

    async def scenario() -> tuple[list[Any], list[Any]]:
        a = await LiveClient.open(ws_base(doomed), packet_id, pair.token("ana"))
        b = await LiveClient.open(ws_base(pair.two), packet_id, pair.token("maya"))
        for seq in range(1, pipelined + 1):  # sent without waiting for acks
            await a.send(
                op(
                    "sec-1",
                    base,
                    [{"at": 0, "delete": 0, "insert": f"[a{seq}]"}],
                    client_id="ana",
                    client_seq=seq,
                )
            )
            await b.send(
                op(
                    "sec-1",
                    base,
                    [{"at": 0, "delete": 0, "insert": f"[b{seq}]"}],
                    client_id="maya",
                    client_seq=seq,
                )
            )
        await a.until(lambda m: m["type"] == "ack" and m["client_seq"] >= 5)
        await asyncio.to_thread(doomed.kill)  # SIGKILL, mid-stream
        await asyncio.wait_for(a.closed, 10)
        answered: set[int] = set()
        while len(answered) < pipelined:
            answer = (await b.until(lambda m: m["type"] in ("ack", "error")))[-1]
            assert answer["type"] == "ack", answer
            answered.add(answer["client_seq"])
        await b.close()
        acks_a = [m for m in a.history if m["type"] == "ack"]
        acks_b = [m for m in b.history if m["type"] == "ack"]
        return acks_a, acks_b

    acks_a, acks_b = asyncio.run(scenario())
    assert len(acks_a) >= 5
    assert len(acks_b) == pipelined
    text = read(pair.two, packet_id)["sections"][0]["text"]
    for ack in acks_a:
        assert f"[a{ack['client_seq']}]" in text
    for ack in acks_b:
        assert f"[b{ack['client_seq']}]" in text

    async def replay() -> LiveClient:
        c = await LiveClient.open(
            ws_base(pair.two), packet_id, pair.token("ben"), since=0
        )
        await see_version(c, c.subscribed_version)
        await c.close()
        return c

    stored = replay_events = asyncio.run(replay()).events()
    assert [e["version"] for e in stored] == list(range(1, len(stored) + 1))
    seqs = {(e["client_id"], e["client_seq"]) for e in replay_events if e["client_id"]}
    assert {("ana", a["client_seq"]) for a in acks_a} <= seqs
    assert {("maya", b["client_seq"]) for b in acks_b} <= seqs


def _auth(pair: Pair, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair.token(user)}"}
