"""Group commit of live edits: several edits of one packet decided in order
and saved in one atomic save, each answered on its own."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from api.live.hub import LiveHub, hub_of
from api.live.writer import PacketWriter
from tests.api.conftest import Api
from tests.api.live_client import of_type, receive, receive_until
from workspace.application import EditOutcome, EditRequest
from workspace.errors import EditConflictError, NotAllowedError

pytestmark = pytest.mark.timeout(60)

TEXT = "Credits accrue monthly.\n\nClaims close after 30 days."


def test_a_batch_is_decided_in_order_and_saved_at_once(
    api: Api, packet_id: str
) -> None:
    app = api.services.app
    ben, maya, rita, bot = (
        app.get_user(u).principal() for u in ("ben", "maya", "rita", "bot")
    )
    monthly = TEXT.index("monthly")
    thirty = TEXT.index("30")
    weekly = EditRequest(
        ben,
        "sec-1",
        2,
        ops=[{"at": monthly, "delete": 7, "insert": "weekly"}],
        client_id="ben",
        client_seq=1,
    )
    batch = [
        weekly,
        # same base, another paragraph: rebased over the edit just before it
        EditRequest(
            maya,
            "sec-1",
            2,
            ops=[{"at": thirty, "delete": 2, "insert": "45"}],
            client_id="maya",
            client_seq=1,
        ),
        # same base, the same words: a kept conflict
        EditRequest(
            maya,
            "sec-1",
            2,
            ops=[{"at": monthly, "delete": 7, "insert": "daily"}],
            client_id="maya",
            client_seq=2,
        ),
        weekly,  # resent within the batch: answered like the first
        EditRequest(rita, "sec-1", 2, text="x", client_id="rita", client_seq=1),
        EditRequest(
            bot, "sec-1", 2, text="Per addendum.", client_id="bot", client_seq=1
        ),
    ]
    before = api.stored_count()

    results = app.edit_sections(packet_id, batch)

    first, second, conflict, resent, refused, suggested = results
    assert isinstance(first, EditOutcome) and first.version == 3
    assert isinstance(second, EditOutcome) and second.version == 4
    assert second.text == "Credits accrue weekly.\n\nClaims close after 45 days."
    assert isinstance(conflict, EditConflictError)
    assert conflict.details["conflict_id"] == "conf-1"
    assert isinstance(resent, EditOutcome)
    assert (resent.version, resent.replayed) == (3, True)
    assert isinstance(refused, NotAllowedError)
    assert isinstance(suggested, EditOutcome) and suggested.suggestion_id == "sug-1"
    assert (
        api.stored_count() == before + 4
    )  # one save: edit, edit, conflict, suggestion
    packet = app.get_packet(packet_id)
    assert packet.version == 6
    assert packet.sections["sec-1"]["text"] == second.text


def test_a_batch_resent_after_it_was_saved_changes_nothing(
    api: Api, packet_id: str
) -> None:
    app = api.services.app
    ben = app.get_user("ben").principal()
    batch = [
        EditRequest(
            ben,
            "sec-1",
            2,
            ops=[{"at": 0, "delete": 0, "insert": f"{n}"}],
            client_id="ben",
            client_seq=n,
        )
        for n in range(1, 4)
    ]
    first = app.edit_sections(packet_id, batch)
    stored = api.stored_count()
    again = app.edit_sections(packet_id, batch)
    assert [r.version for r in again] == [r.version for r in first]  # type: ignore[union-attr]
    assert api.stored_count() == stored


def test_ops_pipelined_on_one_socket_are_acked_in_order(
    api: Api, packet_id: str
) -> None:
    with api.client.websocket_connect(
        f"/v1/packets/{packet_id}/live?token={api.tokens['ben']}"
    ) as ws:
        assert receive(ws)["type"] == "subscribed"
        for seq in range(1, 11):
            ws.send_json(
                {
                    "type": "op",
                    "section_id": "sec-1",
                    "base_version": 2,
                    "ops": [{"at": 0, "delete": 0, "insert": f"[{seq}]"}],
                    "client_id": "ben-tab",
                    "client_seq": seq,
                }
            )
        messages = receive_until(
            ws, lambda m: m["type"] == "ack" and m["client_seq"] == 10
        )
    acks = of_type(messages, "ack")
    assert [a["client_seq"] for a in acks] == list(range(1, 11))
    assert [a["version"] for a in acks] == list(range(3, 13))
    text = api.packet(packet_id)["sections"][0]["text"]
    assert text.startswith("".join(f"[{n}]" for n in range(1, 11)))


class GatedHub:
    """The process's hub, with a packet lock the test holds, releases or
    breaks (another process saving; a lock connection that drops)."""

    def __init__(self, hub: LiveHub, *, fail_take: bool = False) -> None:
        self.hub = hub
        self.services = hub.services
        self.gate = threading.Lock()
        self.waiting = threading.Event()
        self.fail_take = fail_take
        self.fail_release = False
        self.group = None  # each packet saved alone (the group: test_live_group.py)

    def wake(self) -> None:
        self.hub.wake()

    def writer_idle(self, writer: PacketWriter) -> None:
        pass

    @contextlib.contextmanager
    def packet_lock(self, packet_id: str) -> Iterator[None]:
        self.waiting.set()
        if self.fail_take:
            raise OSError("the lock's connection is down")
        with self.gate:
            yield
            if self.fail_release:
                raise OSError("the lock's connection dropped while unlocking")


def gated_writer(api: Api, packet_id: str, **kwargs: bool) -> GatedHub:
    hub = hub_of(api.services)
    assert hub is not None
    return GatedHub(hub, **kwargs)


def insert(api: Api, seq: int) -> EditRequest:
    ben = api.services.app.get_user("ben").principal()
    return EditRequest(
        ben,
        "sec-1",
        2,
        ops=[{"at": 0, "delete": 0, "insert": f"[{seq}]"}],
        client_id="gated",
        client_seq=seq,
    )


def test_edits_arriving_while_the_lock_is_awaited_join_the_next_save(
    api: Api, packet_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = api.services.app
    saves: list[int] = []
    real = app.edit_sections

    def counted(pid: str, requests: list[EditRequest]) -> list[Any]:
        saves.append(len(requests))
        return real(pid, requests)

    monkeypatch.setattr(app, "edit_sections", counted)
    hub = gated_writer(api, packet_id)

    async def scenario() -> list[Any]:
        writer = PacketWriter(hub, packet_id)  # type: ignore[arg-type]
        hub.gate.acquire()  # another process is saving this packet
        first = writer.submit(insert(api, 1))
        assert await asyncio.to_thread(hub.waiting.wait, 10)
        later = [writer.submit(insert(api, seq)) for seq in (2, 3)]
        hub.gate.release()
        return [await future for future in (first, *later)]

    results = asyncio.run(scenario())

    assert saves == [3]  # one save, taken once the lock was held
    assert [r.version for r in results] == [3, 4, 5]
    assert api.packet(packet_id)["sections"][0]["text"].startswith("[1][2][3]")


def test_a_saved_batch_is_answered_even_when_releasing_the_lock_fails(
    api: Api, packet_id: str
) -> None:
    hub = gated_writer(api, packet_id)
    hub.fail_release = True

    async def scenario() -> Any:
        writer = PacketWriter(hub, packet_id)  # type: ignore[arg-type]
        return await writer.submit(insert(api, 1))

    result = asyncio.run(scenario())

    assert isinstance(result, EditOutcome) and result.version == 3
    assert api.packet(packet_id)["sections"][0]["text"].startswith("[1]")


def test_an_edit_whose_lock_cannot_be_taken_fails_and_stores_nothing(
    api: Api, packet_id: str
) -> None:
    hub = gated_writer(api, packet_id, fail_take=True)
    before = api.stored_count()

    async def scenario() -> Any:
        writer = PacketWriter(hub, packet_id)  # type: ignore[arg-type]
        return await writer.submit(insert(api, 1))

    result = asyncio.run(scenario())

    assert isinstance(result, OSError)
    assert api.stored_count() == before
