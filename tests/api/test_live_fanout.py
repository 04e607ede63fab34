"""Fan-out: a slow consumer is cut off without slowing the others; the
message rate limiter; the PostgreSQL feed survives a dropped connection."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from starlette.websockets import WebSocketDisconnect

from api.limits import LiveSettings, RateLimiter
from api.live.hub import LiveHub, Subscriber
from api.services import build_services
from tests.api.conftest import Api
from tests.api.live_client import of_type, receive, receive_until
from tests.conftest import PG_URL, database_url_for, drop_pg_schema
from workspace.commands import AddSection
from workspace.config import Settings

pytestmark = pytest.mark.timeout(60)


def test_a_slow_consumer_is_disconnected_and_the_others_keep_receiving(
    api: Api, packet_id: str
) -> None:
    hub: LiveHub = api.services.extras["live"]
    path = f"/v1/packets/{packet_id}/live?token="
    with (
        api.client.websocket_connect(path + api.tokens["ben"]) as slow,
        api.client.websocket_connect(path + api.tokens["maya"]) as brisk,
    ):
        assert receive(slow)["type"] == "subscribed"
        assert receive(brisk)["type"] == "subscribed"
        receive_until(brisk, lambda m: m["type"] == "presence" and m["user"] == "ben")
        (laggard,) = [
            s for s in hub.subscribers[packet_id] if s.principal.user_id == "ben"
        ]

        def flood() -> None:  # more than its queue holds, in one loop tick
            for n in range(hub.limits.ws_queue_max + 1):
                laggard.offer({"type": "pong", "n": n})

        api.client.portal.call(flood)
        messages: list[dict[str, Any]] = []
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                messages.append(receive(slow))
        assert closed.value.code == 4008
        assert messages[-1]["code"] == "SLOW_CONSUMER"

        api.post(
            "ben", f"/v1/packets/{packet_id}/sections", {"heading": "More", "text": ""}
        )
        events = of_type(receive_until(brisk, lambda m: m["type"] == "event"), "event")
        assert events[0]["version"] == 3
    assert all(s.principal.user_id != "ben" for s in hub.subscribers.get(packet_id, ()))


def test_a_full_queue_marks_only_that_subscriber() -> None:
    overflowed: list[Subscriber] = []

    async def scenario() -> None:
        queue_a: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=2)
        queue_b: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10)
        principal: Any = object()
        a = Subscriber("p", principal, queue_a, overflowed.append)
        b = Subscriber("p", principal, queue_b, overflowed.append)
        for n in range(5):
            a.offer({"n": n})
            b.offer({"n": n})
        assert overflowed == [a]
        assert a.overflowed and not b.overflowed
        assert queue_b.qsize() == 5

    asyncio.run(scenario())


def test_the_rate_limiter_allows_a_burst_then_the_steady_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(10.0, burst=5.0, clock=lambda: now[0])
    assert [limiter.allow() for _ in range(6)] == [True] * 5 + [False]
    now[0] += 0.1  # one more token
    assert [limiter.allow(), limiter.allow()] == [True, False]
    now[0] += 100.0  # never more than the burst
    assert sum(limiter.allow() for _ in range(10)) == 5


@pytest.mark.postgres
def test_the_postgres_feed_reconnects_and_catches_up_after_a_dropped_connection(
    tmp_path: Path,
) -> None:
    url, schema = database_url_for("postgres", tmp_path)
    settings = Settings(
        database_url=url, signing_key_path=tmp_path / "k.pem", pool_size=2
    )
    services = build_services(settings, create_table=True, role="serve")
    hub = LiveHub(services, LiveSettings(feed_idle_poll_seconds=30.0))
    app = services.app
    app.add_user("ben", "Ben", roles=[])
    ben = app.get_user("ben").principal()
    packet = app.open_packet(
        ben, kind="k", title="t", release_owner="ben", authors=[], reviewers=[]
    )
    pid = str(packet.id)

    async def scenario() -> None:
        hub.start()
        feed: Any = hub.feed
        try:
            sub = hub.subscribe(pid, ben, lambda s: None)
            await asyncio.to_thread(feed.listening.wait, 10)

            async def next_event() -> dict[str, Any]:
                while True:
                    message = await asyncio.wait_for(sub.queue.get(), 10)
                    if message["type"] == "event":
                        return message

            await asyncio.to_thread(
                app.execute, pid, ben, AddSection(heading="A", text="")
            )
            assert (await next_event())["version"] == 2

            with psycopg.connect(PG_URL, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    (feed.application_name,),
                )
            # Written while the feed may be reconnecting: caught up, not lost.
            for n in range(3):
                await asyncio.to_thread(
                    app.execute, pid, ben, AddSection(heading=f"B{n}", text="")
                )
            versions = [(await next_event())["version"] for _ in range(3)]
            assert versions == [3, 4, 5]
            assert feed.connections >= 2
        finally:
            await asyncio.to_thread(hub.stop)

    try:
        asyncio.run(scenario())
    finally:
        services.close()
        if schema:
            drop_pg_schema(schema)


def test_presence_from_another_process_is_shown_and_lapses(
    api: Api, packet_id: str
) -> None:
    """What a PostgreSQL NOTIFY from another server delivers to this one."""
    hub: LiveHub = api.services.extras["live"]
    note = {
        "op": "set",
        "origin": uuid.uuid4().hex,
        "packet_id": packet_id,
        "conn": "remote-1",
        "user": "maya",
        "name": "Maya Chen",
        "section_id": "sec-1",
        "state": "editing",
    }
    with api.client.websocket_connect(
        f"/v1/packets/{packet_id}/live?token={api.tokens['ben']}"
    ) as ws:
        assert receive(ws)["type"] == "subscribed"
        api.client.portal.call(hub.apply_remote_presence, json.dumps(note))
        shown = receive_until(
            ws, lambda m: m["type"] == "presence" and m["user"] == "maya"
        )
        assert shown[-1]["section_id"] == "sec-1"
        api.client.portal.call(
            hub.apply_remote_presence, json.dumps({**note, "op": "leave"})
        )
        left = receive_until(ws, lambda m: m["type"] == "presence_leave")
        assert left[-1]["conn"] == "remote-1"
