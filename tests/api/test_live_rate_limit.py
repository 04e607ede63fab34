"""A socket that sends faster than the per-connection rate gets errors for the
messages it sent over the limit, and keeps its connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Api
from tests.api.live_client import receive, receive_until
from tests.conftest import database_url_for, drop_pg_schema
from workspace.config import Settings

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def api_settings(
    api_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    tmp: Path = tmp_path_factory.mktemp(f"rate-{api_backend}")
    url, schema = database_url_for(api_backend, tmp)
    yield Settings(
        database_url=url,
        signing_key_path=tmp / "signing-key.pem",
        ws_max_messages_per_second=5.0,
    )
    if schema:
        drop_pg_schema(schema)


def test_messages_over_the_rate_are_refused_one_by_one(
    api: Api, packet_id: str
) -> None:
    with api.client.websocket_connect(
        f"/v1/packets/{packet_id}/live?token={api.tokens['ben']}"
    ) as ws:
        assert receive(ws)["type"] == "subscribed"
        for n in range(20):
            ws.send_json({"type": "ping", "client_seq": n})
        answers = receive_until(
            ws,
            lambda m: m["type"] in ("pong", "error"),
        )
        while len([m for m in answers if m["type"] in ("pong", "error")]) < 20:
            answers.append(receive(ws))
    pongs = [m for m in answers if m["type"] == "pong"]
    limited = [m for m in answers if m.get("code") == "RATE_LIMITED"]
    assert 5 <= len(pongs) < 20
    assert len(pongs) + len(limited) == 20
