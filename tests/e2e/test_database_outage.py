"""A database outage (issue 9, item 15), on a PostgreSQL cluster of the test's own.

Attack: the database goes away under a serving process. Before the fix, API
calls hung for half a minute (the library retries each read ten times, each
waiting for a pooled connection) and the live channel answered an edit with
INTERNAL_ERROR after the same wait. Now: API calls answer 503
DATABASE_UNAVAILABLE in the JSON envelope within a few seconds, /readyz
answers 503, /healthz stays 200, every live socket is told
DATABASE_UNAVAILABLE with `reconnect: true`, an edit sent meanwhile gets that
error (not an ack), a socket opened meanwhile is refused with it (close 1013);
and when the database returns the process recovers without a restart: it is
ready again, writes succeed, and an edit made through one socket reaches the
other through the process's LISTEN subscription, which reconnected.

The cluster is created on a free port (127.0.0.1 only, trust auth), stopped
and started by the test, and dropped afterwards whatever happens; the shared
server is never touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import QuireDatabase, QuireServer
from tests.e2e.live_client import LiveClient, Message, answer_to, op
from tests.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(240)]

#: Every answer during the outage comes within this many seconds.
BOUND_S = 6.0
#: How long the process may take to be ready again once the database is back.
RECOVERY_S = 45.0
#: The server's own connect and pool timeout (seconds) in this test.
CONNECT_TIMEOUT = "1"
ETC = Path("/etc/postgresql")


@dataclass
class Cluster:
    """A PostgreSQL cluster made by `pg_createcluster` for this test only."""

    version: str
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/quire"

    def ctl(self, *args: str) -> None:
        done = subprocess.run(
            ["pg_ctlcluster", self.version, self.name, *args],
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")

    def start(self) -> None:
        self.ctl("start")

    def stop(self) -> None:
        self.ctl("stop", "-m", "fast")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    if shutil.which("pg_createcluster") is None or not ETC.is_dir():
        _unavailable("pg_createcluster (postgresql-common) is not installed")
    if os.geteuid() != 0:
        _unavailable("pg_createcluster needs root")
    versions = sorted((p.name for p in ETC.iterdir() if p.name.isdigit()), key=int)
    if not versions:
        _unavailable("no PostgreSQL version under /etc/postgresql")
    cluster = Cluster(versions[-1], f"quire_outage_{secrets.token_hex(4)}", free_port())
    try:
        created = subprocess.run(
            [
                "pg_createcluster",
                cluster.version,
                cluster.name,
                "-p",
                str(cluster.port),
                "--",
                "--auth=trust",
            ],
            capture_output=True,
            timeout=180,
            check=False,
        )
        assert created.returncode == 0, created.stderr.decode(errors="replace")
        conf = ETC / cluster.version / cluster.name / "conf.d" / "quire-test.conf"
        conf.write_text(
            "listen_addresses = '127.0.0.1'\nfsync = off\nshared_buffers = 16MB\n"
        )
        cluster.start()
        with psycopg.connect(
            host="127.0.0.1",
            port=cluster.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute("CREATE DATABASE quire")
        yield cluster
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", cluster.version, cluster.name],
            capture_output=True,
            timeout=180,
            check=False,
        )


@pytest.fixture
def outage_database(own_cluster: Cluster, tmp_path: Path) -> Iterator[QuireDatabase]:
    database = QuireDatabase(
        backend="postgres",
        url=own_cluster.url,
        home=tmp_path,
        extra_env={"QUIRE_DB_CONNECT_TIMEOUT_SECONDS": CONNECT_TIMEOUT},
    )
    try:
        database.quire("db", "init")
        database.add_user("maya", "Maya Chen")
        database.add_user("ben", "Ben Ortiz")
        database.add_user("ana", "Ana Lima")
        yield database
    finally:
        database.close()  # the servers go before the cluster does


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response, elapsed: float, what: str) -> None:
    assert elapsed < BOUND_S, f"{what} took {elapsed:.1f} s"
    assert response.status_code == 503, (what, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE", response.text
    assert response.headers.get("retry-after"), what


def new_packet(server: QuireServer) -> tuple[str, int]:
    with server.client("ben") as http:
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
        packet_id: str = created.json()["id"]
        section = http.post(
            f"/v1/packets/{packet_id}/sections",
            json={"heading": "Terms", "text": "Credits accrue monthly."},
        )
        assert section.status_code == 201, section.text
        version: int = section.json()["version"]
    return packet_id, version


def is_reconnect_notice(message: Message) -> bool:
    return (
        message["type"] == "error"
        and message.get("code") == "DATABASE_UNAVAILABLE"
        and message.get("reconnect") is True
    )


async def open_during_outage(server: QuireServer, packet_id: str) -> Message:
    """A socket opened while the database is away: the error, then 1013."""
    token = server.database.tokens["ana"]
    async with connect(
        server.ws_url(f"/v1/packets/{packet_id}/live?token={token}"),
        open_timeout=BOUND_S,
    ) as ws:
        first: Message = json.loads(await asyncio.wait_for(ws.recv(), BOUND_S))
        await asyncio.wait_for(ws.wait_closed(), BOUND_S)
        assert ws.close_code == 1013, (ws.close_code, ws.close_reason)
    return first


async def until_acked(client: LiveClient, message: Message, deadline: float) -> Message:
    """Sends `message` (one client_seq) until the server acknowledges it; each
    refusal must be the outage's error."""
    while True:
        await client.send(message)
        answer = (await client.until(answer_to(message["client_seq"]), BOUND_S))[-1]
        if answer["type"] == "ack":
            return answer
        assert is_reconnect_notice(answer), answer
        assert time.monotonic() < deadline, "the live edit was never accepted"
        # The server's answer paced this loop; ask its readiness before resending.
        await asyncio.to_thread(wait_ready, client_server_url(client), deadline)


def client_server_url(client: LiveClient) -> str:
    host, port = client.ws.remote_address[:2]
    return f"http://{host}:{port}"


def wait_ready(base_url: str, deadline: float) -> None:
    """Polls /readyz (each answer is bounded) until it says 200."""
    with httpx.Client(base_url=base_url, timeout=BOUND_S) as http:
        while True:
            response = http.get("/readyz")
            if response.status_code == 200:
                return
            assert response.status_code == 503, response.text
            assert time.monotonic() < deadline, f"never ready again: {response.text}"


def test_a_database_outage_answers_promptly_and_the_process_recovers(
    own_cluster: Cluster, outage_database: QuireDatabase
) -> None:
    server = outage_database.serve()
    packet_id, version = new_packet(server)
    ben_http = server.client("ben", timeout=BOUND_S * 3)
    anonymous = server.client(timeout=BOUND_S * 3)

    async def scenario() -> None:
        ben = await LiveClient.open(
            server.ws_url(""), packet_id, server.database.tokens["ben"]
        )
        ana = await LiveClient.open(
            server.ws_url(""), packet_id, server.database.tokens["ana"]
        )

        await asyncio.to_thread(own_cluster.stop)
        stopped = time.monotonic()

        # Every open socket is told, without asking.
        for client in (ben, ana):
            notice = (await client.until(lambda m: m["type"] == "error", BOUND_S))[-1]
            assert is_reconnect_notice(notice), notice
        assert time.monotonic() - stopped < BOUND_S

        # API calls: 503 in the envelope, promptly, reads and writes alike.
        calls: list[tuple[str, Callable[[], httpx.Response]]] = [
            ("GET packet", lambda: ben_http.get(f"/v1/packets/{packet_id}")),
            (
                "POST section",
                lambda: ben_http.post(
                    f"/v1/packets/{packet_id}/sections",
                    json={"heading": "During", "text": "x"},
                ),
            ),
            ("GET packets", lambda: ben_http.get("/v1/packets")),
        ]
        for what, call in calls:
            response, elapsed = await asyncio.to_thread(timed, call)
            assert_unavailable(response, elapsed, what)
        ready, elapsed = await asyncio.to_thread(
            timed, lambda: anonymous.get("/readyz")
        )
        assert elapsed < BOUND_S, f"/readyz took {elapsed:.1f} s"
        assert ready.status_code == 503, ready.text
        alive = await asyncio.to_thread(anonymous.get, "/healthz")
        assert alive.status_code == 200, alive.text

        # An edit sent meanwhile is refused with the same error, not acked.
        edit = op(
            "sec-1",
            version,
            text="Credits accrue monthly, in arrears.",
            client_id="ben",
            client_seq=1,
        )
        sent = time.monotonic()
        await ben.send(edit)
        answer = (await ben.until(answer_to(1), BOUND_S))[-1]
        assert time.monotonic() - sent < BOUND_S
        assert is_reconnect_notice(answer), answer
        assert answer["client_seq"] == 1

        # A socket opened meanwhile is refused: the error, then close 1013.
        refused = await open_during_outage(server, packet_id)
        assert is_reconnect_notice(refused), refused

        # The database returns: the process recovers without a restart.
        await asyncio.to_thread(own_cluster.start)
        deadline = time.monotonic() + RECOVERY_S
        await asyncio.to_thread(wait_ready, server.url, deadline)
        acked = await until_acked(ben, edit, deadline)
        # The other socket, open all along, sees it through the LISTEN feed.
        seen = await ana.until(
            lambda m: m["type"] == "event" and m["version"] == acked["version"],
            RECOVERY_S,
        )
        assert (seen[-1]["client_id"], seen[-1]["client_seq"]) == ("ben", 1)
        await ben.close()
        await ana.close()

    try:
        asyncio.run(scenario())
        posted = ben_http.post(
            f"/v1/packets/{packet_id}/sections", json={"heading": "After", "text": "y"}
        )
        assert posted.status_code == 201, posted.text
    finally:
        ben_http.close()
        anonymous.close()
