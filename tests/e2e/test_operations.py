"""Operations (issue 17, item 5) on real `quire serve` processes: JSON logs
with a request id on every line, and a graceful shutdown on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import uuid
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import QUIRE, DatabaseFactory, QuireDatabase, QuireServer
from tests.e2e.live_client import LiveClient, answer_to, op
from tests.e2e.test_token_redaction import ServerOutput
from tests.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

KEYS = {"time", "level", "logger", "message", "request_id"}


def new_packet(url: str, token: str) -> tuple[str, str, int]:
    """A packet (owner maya, author ben) with one section: (id, section, version)."""
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        created = http.post(
            "/v1/packets",
            json={
                "kind": "service-credit-clarification",
                "title": "Service-credit clarification",
                "release_owner": "maya",
                "authors": ["ben", "ana"],
                "reviewers": [],
            },
        )
        assert created.status_code == 201, created.text
        packet_id = created.json()["id"]
        section = http.post(
            f"/v1/packets/{packet_id}/sections",
            json={"heading": "Terms", "text": "Credits accrue monthly."},
        )
        assert section.status_code == 201, section.text
        body = section.json()
    return packet_id, body["section_id"], body["version"]


# ------------------------------------------------------------------ logs
def test_json_logs_carry_the_request_id_on_every_line_and_no_token(
    quire_database: DatabaseFactory,
) -> None:
    database = quire_database("sqlite")
    token = database.add_user("ben", "Ben Ortiz")
    database.add_user("maya", "Maya Chen")
    database.add_user("ana", "Ana Lima")
    port = free_port()
    process = subprocess.Popen(
        [str(QUIRE), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**database.env, "QUIRE_LOG_FORMAT": "json"},
        cwd=database.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = ServerOutput(process)
    try:
        output.wait_for("Uvicorn running on")
        url = f"http://127.0.0.1:{port}"
        packet_id, _, _ = new_packet(url, token)
        http_id = f"ops-http-{uuid.uuid4().hex}"
        live_id = f"ops-live-{uuid.uuid4().hex}"
        with httpx.Client(base_url=url, timeout=30) as http:
            answer = http.get(
                "/v1/packets",
                headers={"Authorization": f"Bearer {token}", "X-Request-Id": http_id},
            )
            assert answer.status_code == 200
            assert answer.headers["x-request-id"] == http_id
            # An id that is not a sane token is replaced, never echoed or logged.
            insane = "evil id\twith spaces" + "x" * 200
            other = http.get("/healthz", headers={"X-Request-Id": insane[:150]})
            assert other.headers["x-request-id"] != insane[:150]
            assert len(other.headers["x-request-id"]) == 32
        with connect(
            f"ws://127.0.0.1:{port}/v1/packets/{packet_id}/live?token={token}",
            additional_headers={"X-Request-Id": live_id},
        ) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "subscribed"
            assert ws.response is not None
            assert ws.response.headers["x-request-id"] == live_id
        output.wait_for(live_id, "live socket closed")
    finally:
        process.kill()
        process.wait(timeout=15)

    lines = [json.loads(line) for line in output.lines if line.strip()]
    assert all(isinstance(line, dict) and line.keys() >= KEYS for line in lines)
    access = [
        line
        for line in lines
        if line["logger"] == "uvicorn.access" and line["request_id"] == http_id
    ]
    assert len(access) == 1
    assert access[0]["path"] == "/v1/packets" and access[0]["status"] == 200
    live_lines = [line for line in lines if line["request_id"] == live_id]
    loggers = {line["logger"] for line in live_lines}
    assert "api.live.session" in loggers  # Quire's own log of that socket
    assert "uvicorn.error" in loggers  # uvicorn's "WebSocket ... [accepted]"
    opened = [line for line in live_lines if "live socket opened" in line["message"]]
    assert opened and packet_id in opened[0]["message"]
    assert token not in "".join(output.lines)
    assert "[REDACTED]" in "".join(json.dumps(line) for line in live_lines)


# -------------------------------------------------------------- shutdown
def read_packet(server: QuireServer, packet_id: str) -> dict[str, Any]:
    with server.client("maya") as http:
        response = http.get(f"/v1/packets/{packet_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


async def edits_then_sigterm(
    server: QuireServer, packet_id: str, section_id: str, version: int
) -> tuple[list[dict[str, Any]], list[tuple[int | None, str]], int, float]:
    database = server.database
    base = f"ws://127.0.0.1:{server.port}"
    ben = await LiveClient.open(base, packet_id, database.tokens["ben"])
    ana = await LiveClient.open(base, packet_id, database.tokens["ana"])

    def edit(seq: int) -> dict[str, Any]:
        insert = [{"at": 0, "delete": 0, "insert": f"<M{seq}>"}]
        return op(section_id, version, insert, client_id="ben-1", client_seq=seq)

    # One edit acknowledged before the signal, a burst in flight at it.
    await ben.send(edit(1))
    await ben.until(answer_to(1))
    for seq in range(2, 12):
        await ben.send(edit(seq))
    await ben.until(lambda m: m.get("client_seq") == 2)  # the server is on it
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    closes = [await asyncio.wait_for(client.closed, 15) for client in (ben, ana)]
    status = await asyncio.to_thread(server.process.wait, 15)
    took = time.monotonic() - started
    answers = [
        m
        for m in ben.history
        if m["type"] in ("ack", "conflict", "error") and m.get("client_seq")
    ]
    restart = [m for m in ana.history if m.get("code") == "SERVICE_RESTART"]
    assert restart and restart[0]["reconnect"] is True
    return answers, closes, status, took


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_sigterm_drains_edits_and_tells_every_socket_to_reconnect(
    quire_database: DatabaseFactory, backend: str
) -> None:
    database: QuireDatabase = quire_database(backend)
    database.add_user("maya", "Maya Chen")
    database.add_user("ben", "Ben Ortiz")
    database.add_user("ana", "Ana Lima")
    server = database.serve(QUIRE_SHUTDOWN_GRACE_SECONDS="5")
    packet_id, section_id, version = new_packet(server.url, database.tokens["ben"])

    answers, closes, status, took = asyncio.run(
        edits_then_sigterm(server, packet_id, section_id, version)
    )

    assert closes == [(1012, closes[0][1]), (1012, closes[1][1])], closes
    assert status == 0, server.log_tail()
    assert took < 10, took
    by_seq = {m["client_seq"]: m for m in answers}
    assert by_seq[1]["type"] == "ack"
    for message in answers:  # never an answer that hides a failure
        assert message["type"] == "ack" or (
            message["type"] == "error" and message.get("reconnect") is True
        ), message
    # Whatever was acknowledged is in the database; what was refused is not.
    text = json.dumps(read_packet(database.serve(), packet_id))
    for seq, message in by_seq.items():
        assert (f"<M{seq}>" in text) == (message["type"] == "ack"), (seq, message)
    assert "Shutting down" in server.log_tail(20000)
