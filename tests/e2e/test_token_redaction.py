"""No bearer token is ever written to the server's log (issue 9, item 14).

Attack: the live channel takes its token in the query string
(`/v1/packets/{id}/live?token=...`), and uvicorn logs every request line in
full, so anyone who reads the server log could sign in as that user.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import QUIRE, DatabaseFactory
from tests.processes import free_port

WAIT_S = 45.0


class ServerOutput:
    """A `quire serve` process whose output lines the test waits on."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self._queue.put(raw.decode(errors="replace"))
        self._queue.put(None)

    def wait_for(self, *needles: str) -> str:
        """Returns the first line holding every needle (waits on the server)."""
        while True:
            line = self._queue.get(timeout=WAIT_S)
            if line is None:
                raise AssertionError("the server exited:\n" + "".join(self.lines))
            self.lines.append(line)
            if all(n in line for n in needles):
                return line


@pytest.fixture
def served(quire_database: DatabaseFactory) -> Iterator[tuple[ServerOutput, int, str]]:
    database = quire_database("sqlite")
    token = database.add_user("ben", "Ben Ortiz")
    port = free_port()
    process = subprocess.Popen(
        [str(QUIRE), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=database.env,
        cwd=database.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = ServerOutput(process)
    try:
        output.wait_for("Uvicorn running on")
        yield output, port, token
    finally:
        process.kill()
        process.wait(timeout=15)


def test_the_live_channels_query_token_never_reaches_the_log(
    served: tuple[ServerOutput, int, str],
) -> None:
    output, port, token = served
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        opened = client.post(
            "/v1/packets",
            json={
                "kind": "service-credit-clarification",
                "title": "Credit",
                "release_owner": "ben",
            },
        )
        assert opened.status_code == 201, opened.text
        pid = opened.json()["id"]
        # An HTTP request that carries a token in its query too.
        assert client.get(f"/v1/packets/{pid}?token={token}").status_code == 200

    url = f"ws://127.0.0.1:{port}/v1/packets/{pid}/live?since=0&token={token}"
    with connect(url) as ws:
        first = json.loads(ws.recv(timeout=WAIT_S))
        assert first["type"] == "subscribed", first

    # The server's own lines about both requests, then a marker after them.
    output.wait_for(f"/v1/packets/{pid}?token=[REDACTED]", "200")
    accepted = output.wait_for("WebSocket", "/live?")
    assert "token=[REDACTED]" in accepted
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as anonymous:
        assert anonymous.get("/healthz?marker=done").status_code == 200
    output.wait_for("/healthz?marker=done")
    log = "".join(output.lines)
    assert token not in log
    assert token[3:] not in log  # not even without its prefix
