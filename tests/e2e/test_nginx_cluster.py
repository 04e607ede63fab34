"""A load-balanced cluster: Debian's nginx in front of two `quire serve`
processes and a `quire worker` on PostgreSQL, running deploy/nginx/quire.conf,
the very file compose mounts (only its upstream addresses and listen port are
replaced by this test's). The live co-authoring checks run through nginx:
websocket upgrades, edits from both processes, resuming on the other process,
presence, and kill -9 of one process with no acknowledged edit lost.

nginx runs as a child of the test (`daemon off`, its own prefix, pid and logs
under tmp). `.ci/ensure-nginx` installs it; without it the test skips, or fails
when CI=true.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    QUIRE,
    DatabaseFactory,
    QuireDatabase,
    QuireServer,
    open_credit_packet,
    read_packet,
)
from tests.e2e.live_client import LiveClient, answer_to, op, presence_handover
from tests.processes import free_port, start_serve

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx" / "quire.conf"
UPSTREAM = "X-Quire-Upstream"
TEXT = "Credits accrue monthly.\n\nClaims close after 30 days."


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("CI=true but nginx is missing (.ci/ensure-nginx installs it)")
    pytest.skip("nginx is missing: apt-get install -y nginx")


def render_quire_conf(api_ports: list[int], listen_port: int) -> str:
    """deploy/nginx/quire.conf with this test's addresses, nothing else."""
    conf = NGINX_CONF.read_text()
    names = re.findall(r"^\s*server (api-\d+:8000)\b", conf, re.M)
    assert len(names) == len(api_ports), names
    for name, port in zip(names, api_ports, strict=True):
        conf = conf.replace(f"server {name}", f"server 127.0.0.1:{port}", 1)
    conf, listens = re.subn(
        r"^(\s*)listen 8080;",
        rf"\g<1>listen 127.0.0.1:{listen_port};",
        conf,
        flags=re.M,
    )
    assert listens == 1
    return conf


def nginx_main_conf(tmp: Path, include: Path) -> str:
    """The outer nginx.conf of a private nginx; it includes the Quire config.
    The one header it adds (which process answered) lets the test see where
    a request or socket landed."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 1024; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    add_header {UPSTREAM} $upstream_addr always;
    include {include};
}}
"""


@dataclass
class Cluster:
    database: QuireDatabase
    one: QuireServer
    two: QuireServer
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def token(self, user: str) -> str:
        return self.database.tokens[user]

    def client(self, user: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token(user)}"},
            timeout=15,
        )


def upstream(server: QuireServer) -> str:
    return f"127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def cluster(
    quire_database_module: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    nginx = nginx_binary()
    database = quire_database_module("postgres")
    database.add_user("maya", "Maya Chen", passphrase="correct horse")
    database.add_user("ben", "Ben Ortiz")
    database.add_user("ana", "Ana Lima")
    one = database.serve()
    two = database.serve()
    worker = start_serve(
        [str(QUIRE), "worker"],
        env=database.env,
        cwd=database.home,
        log=database.home / "worker.log",
        ready_line=b"worker running on",
    )
    tmp = tmp_path_factory.mktemp("nginx")
    port = free_port()
    include = tmp / "quire.conf"
    include.write_text(render_quire_conf([one.port, two.port], port))
    (tmp / "nginx.conf").write_text(nginx_main_conf(tmp, include))
    proxy = start_serve(
        [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", "stderr"],
        env=dict(os.environ),
        cwd=tmp,
        log=tmp / "nginx.log",
        ready_line=b"start worker process ",
    )
    try:
        yield Cluster(database, one, two, port)
    finally:
        for process in (proxy, worker):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def new_packet(cluster: Cluster, text: str = TEXT) -> tuple[str, int]:
    return open_credit_packet(cluster, text)


def read(cluster: Cluster, packet_id: str) -> dict[str, Any]:
    return read_packet(cluster, packet_id)


async def open_on(
    cluster: Cluster,
    server: QuireServer,
    packet_id: str,
    user: str,
    since: int | None = None,
) -> LiveClient:
    """A socket through nginx that landed on `server` (round robin, no
    stickiness: a few tries at most). Open sockets one at a time: two opens
    racing each other can alternate in lockstep, each landing on the process
    the other one wanted, every try."""
    for _ in range(8):
        client = await LiveClient.open(
            cluster.ws_base, packet_id, cluster.token(user), since=since
        )
        if client.ws.response.headers.get(UPSTREAM) == upstream(server):
            return client
        await client.close()
    raise AssertionError(f"nginx never sent a socket to {upstream(server)}")


def mark(cluster: Cluster, packet_id: str) -> int:
    """One more write through nginx; returns its version."""
    with cluster.client("ben") as http:
        response = http.post(
            f"/v1/packets/{packet_id}/sections", json={"heading": "Marker", "text": ""}
        )
        assert response.status_code == 201, response.text
        version: int = response.json()["version"]
        return version


def versions(client: LiveClient) -> list[int]:
    return [e["version"] for e in client.events()]


def test_requests_are_spread_over_both_processes_with_no_stickiness(
    cluster: Cluster,
) -> None:
    with httpx.Client(base_url=cluster.url, timeout=10) as http:
        answers = [http.get("/readyz") for _ in range(6)]
    assert {a.status_code for a in answers} == {200}
    assert {a.headers[UPSTREAM] for a in answers} == {
        upstream(cluster.one),
        upstream(cluster.two),
    }


def test_edits_through_nginx_from_sockets_on_both_processes_both_land(
    cluster: Cluster,
) -> None:
    packet_id, base = new_packet(cluster)
    monthly, thirty = TEXT.index("monthly"), TEXT.index("30")

    async def scenario() -> tuple[LiveClient, LiveClient, list[Any]]:
        a = await open_on(cluster, cluster.one, packet_id, "ben")
        b = await open_on(cluster, cluster.two, packet_id, "maya")
        await asyncio.gather(
            a.send(
                op(
                    "sec-1",
                    base,
                    [{"at": monthly, "delete": 7, "insert": "weekly"}],
                    client_id="a",
                    client_seq=1,
                )
            ),
            b.send(
                op(
                    "sec-1",
                    base,
                    [{"at": thirty, "delete": 2, "insert": "45"}],
                    client_id="b",
                    client_seq=1,
                )
            ),
        )
        answers = await asyncio.gather(a.until(answer_to(1)), b.until(answer_to(1)))
        # One more write: whatever either socket was sent shows before it.
        marker = await asyncio.to_thread(mark, cluster, packet_id)
        for client in (a, b):
            await client.until(
                lambda m: m["type"] == "event" and m["version"] == marker
            )
        await a.close()
        await b.close()
        return a, b, [x[-1] for x in answers]

    a, b, answers = asyncio.run(scenario())
    assert [x["type"] for x in answers] == ["ack", "ack"]
    assert versions(a) == versions(b) == [base + 1, base + 2, base + 3]
    expected = "Credits accrue weekly.\n\nClaims close after 45 days."
    assert read(cluster, packet_id)["sections"][0]["text"] == expected


def test_a_client_resumes_on_the_other_process_through_nginx(cluster: Cluster) -> None:
    packet_id, base = new_packet(cluster, text="")
    edits = 30
    a_third_acked = asyncio.Event()

    async def writer(client: LiveClient, user: str, acked: list[int]) -> None:
        for seq in range(1, edits // 2 + 1):
            insert = [{"at": 0, "delete": 0, "insert": f"[{user}{seq}]"}]
            await client.send(op("sec-1", base, insert, client_id=user, client_seq=seq))
            answer = (await client.until(answer_to(seq)))[-1]
            assert answer["type"] == "ack", answer
            acked.append(answer["version"])
            if len(acked) >= edits // 3:
                a_third_acked.set()
        await client.close()

    async def scenario() -> tuple[LiveClient, LiveClient, list[int]]:
        watcher = await open_on(cluster, cluster.one, packet_id, "ben", since=base)
        await watcher.close()
        acked: list[int] = []
        # Opened one after the other (see open_on), then written concurrently.
        ana = await open_on(cluster, cluster.one, packet_id, "ana")
        maya = await open_on(cluster, cluster.two, packet_id, "maya")
        writers = asyncio.ensure_future(
            asyncio.gather(writer(ana, "ana", acked), writer(maya, "maya", acked))
        )
        third = asyncio.ensure_future(a_third_acked.wait())
        await asyncio.wait({writers, third}, timeout=60, return_when="FIRST_COMPLETED")
        if writers.done():
            writers.result()  # a writer that failed says why
        assert a_third_acked.is_set(), "a third of the edits not acked in 60 s"
        # The same client comes back through nginx and lands on the other process.
        resumed = await open_on(cluster, cluster.two, packet_id, "ben", since=base)
        await writers
        await resumed.until(
            lambda m: m["type"] == "event" and m["version"] == base + edits
        )
        await resumed.close()
        return watcher, resumed, acked

    watcher, resumed, acked = asyncio.run(scenario())
    assert watcher.events() == []
    assert sorted(acked) == list(range(base + 1, base + edits + 1))
    assert versions(resumed) == list(range(base + 1, base + edits + 1))
    assert resumed.subscribed_version > base  # it really joined mid-stream


def test_presence_crosses_processes_through_nginx(cluster: Cluster) -> None:
    packet_id, _ = new_packet(cluster)

    async def scenario() -> list[Any]:
        a = await open_on(cluster, cluster.one, packet_id, "ben")
        b = await open_on(cluster, cluster.two, packet_id, "maya")
        return await presence_handover(a, b)

    seen, left = asyncio.run(scenario())
    assert left["conn"] == seen["conn"]


def test_the_worker_projects_what_the_cluster_writes(cluster: Cluster) -> None:
    packet_id, _ = new_packet(cluster)
    # Waits (on the audit log's tracking position) for the worker's projection,
    # then verifies every event against its signed checkpoints.
    export = cluster.database.quire("audit", "export", packet_id, "--wait", "60")
    assert packet_id in export


# Last in the module: it leaves the cluster with one process.
def test_kill_9_of_one_process_behind_nginx_loses_no_acknowledged_edit(
    cluster: Cluster,
) -> None:
    packet_id, base = new_packet(cluster, text="")
    pipelined = 40  # within the per-connection message burst
    doomed, survivor = cluster.one, cluster.two

    async def scenario() -> tuple[list[Any], list[Any]]:
        a = await open_on(cluster, doomed, packet_id, "ana")
        b = await open_on(cluster, survivor, packet_id, "maya")
        for seq in range(1, pipelined + 1):  # sent without waiting for acks
            for client, name in ((a, "ana"), (b, "maya")):
                insert = [{"at": 0, "delete": 0, "insert": f"[{name[0]}{seq}]"}]
                await client.send(
                    op("sec-1", base, insert, client_id=name, client_seq=seq)
                )
        await a.until(lambda m: m["type"] == "ack" and m["client_seq"] >= 5)
        await asyncio.to_thread(doomed.kill)  # SIGKILL, mid-stream
        await asyncio.wait_for(a.closed, 15)  # nginx closes the client's side
        answered: set[int] = set()
        while len(answered) < pipelined:
            answer = (await b.until(lambda m: m["type"] in ("ack", "error")))[-1]
            assert answer["type"] == "ack", answer
            answered.add(answer["client_seq"])
        await b.close()
        return (
            [m for m in a.history if m["type"] == "ack"],
            [m for m in b.history if m["type"] == "ack"],
        )

    acks_a, acks_b = asyncio.run(scenario())
    assert len(acks_a) >= 5
    assert len(acks_b) == pipelined
    # nginx now sends everything to the survivor, and it has every acked edit.
    with httpx.Client(base_url=cluster.url, timeout=10) as http:
        landed = {
            http.get("/readyz").headers[UPSTREAM].split(", ")[-1] for _ in range(4)
        }
    assert landed == {upstream(survivor)}
    text = read(cluster, packet_id)["sections"][0]["text"]
    for ack in acks_a:
        assert f"[a{ack['client_seq']}]" in text
    for ack in acks_b:
        assert f"[m{ack['client_seq']}]" in text

    async def replay() -> LiveClient:
        c = await LiveClient.open(
            cluster.ws_base, packet_id, cluster.token("ben"), since=0
        )
        assert c.ws.response.headers[UPSTREAM].endswith(upstream(survivor))
        await c.until(
            lambda m: m["type"] == "event" and m["version"] == c.subscribed_version
        )
        await c.close()
        return c

    stored = asyncio.run(replay()).events()
    assert [e["version"] for e in stored] == list(range(1, len(stored) + 1))
    seqs = {(e["client_id"], e["client_seq"]) for e in stored if e["client_id"]}
    assert {("ana", a["client_seq"]) for a in acks_a} <= seqs
    assert {("maya", b["client_seq"]) for b in acks_b} <= seqs
