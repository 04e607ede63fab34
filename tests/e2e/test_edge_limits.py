"""Size limits as ordinary clients meet them on a real `quire serve`
(issue 9, items 17 and 18): a 12 MB POST from Python's urllib gets the 413
and its JSON body, not a connection reset; a live message over the limit
gets `error TOO_LARGE` and the socket stays open (no close 1009)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from tests.e2e.conftest import ServerFactory
from tests.e2e.live_client import LiveClient, answer_to, op

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

TWELVE_MB = 12 * 1024 * 1024


def _post(url: str, token: str, body: bytes) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_12_mb_post_from_urllib_gets_the_413_not_a_reset(
    quire_server: ServerFactory,
) -> None:
    server = quire_server("sqlite")
    ben = server.database.add_user("ben", "Ben Ortiz")
    body = b'{"kind": "k", "title": "' + b"x" * TWELVE_MB + b'", "release_owner": "b"}'
    for _ in range(3):  # a reset is a race: one lucky answer proves little
        status, answer = _post(f"{server.url}/v1/packets", ben, body)
        assert status == 413
        assert answer["error"]["code"] == "TOO_LARGE"  # type: ignore[index]
    # The server still answers an ordinary request afterwards.
    status, answer = _post(
        f"{server.url}/v1/packets",
        ben,
        json.dumps({"kind": "k", "title": "t", "release_owner": "ben"}).encode(),
    )
    assert status == 201, answer


def test_a_live_message_over_the_limit_is_an_error_and_the_socket_stays(
    quire_server: ServerFactory,
) -> None:
    limit = 64 * 1024
    server = quire_server("sqlite", QUIRE_REQUEST_MAX_BYTES=str(limit))
    ben = server.database.add_user("ben", "Ben Ortiz")
    with server.client("ben") as http:
        packet_id = http.post(
            "/v1/packets",
            json={"kind": "k", "title": "Plan", "release_owner": "ben"},
        ).json()["id"]
        http.post(f"/v1/packets/{packet_id}/sections", json={"heading": "P"})

    async def scenario() -> None:
        client = await LiveClient.open(f"ws://127.0.0.1:{server.port}", packet_id, ben)
        big = op("sec-1", 2, text="x" * (limit + 1), client_id="c", client_seq=1)
        await client.send(big)
        error = (await client.until(lambda m: m["type"] == "error"))[-1]
        assert error["code"] == "TOO_LARGE"
        assert error["limit"] == limit
        await client.send(op("sec-1", 2, text="fits", client_id="c", client_seq=2))
        answer = (await client.until(answer_to(2)))[-1]
        assert answer["type"] == "ack", answer
        assert not client.closed.done()
        await client.close()

    asyncio.run(scenario())
