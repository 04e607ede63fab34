"""The webhook outbox survives kill -9 of the sending process (issue 14).

Real processes on PostgreSQL: a `quire serve` takes the writes, a `quire
worker` sends the webhooks, and a local HTTP receiver fails twice, then
takes the first delivery and holds its answer while the test kills the
worker with SIGKILL: the receiver has the delivery, the worker never
recorded it. More releases and a supersession are saved while no sender
runs; a new worker sends everything. The receiver, de-duplicating by
delivery id, sees each notice exactly once, every body signed.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import QUIRE, DatabaseFactory
from tests.processes import start_serve
from tests.webhook_receiver import Receiver

KEY = "webhook key of the e2e deployment"
SECRET = "intake-routing-shared-secret"
PASSPHRASE = "maya signs carefully"
KIND = "clarification"


def worker(home: Path, env: dict[str, str], n: int) -> subprocess.Popen[bytes]:
    return start_serve(
        [str(QUIRE), "worker"],
        env=env,
        cwd=home,
        log=home / f"worker-{n}.log",
        ready_line=b"worker running on",
    )


def approve(maya: httpx.Client, ben: httpx.Client, pid: str) -> str:
    revision = ben.post(f"/v1/packets/{pid}/revisions", json={}).json()
    requested = ben.post(
        f"/v1/packets/{pid}/releases",
        json={"revision": revision["revision"], "lane": "intake"},
    )
    assert requested.status_code == 201, requested.text
    rid: str = requested.json()["release_id"]
    approved = maya.post(
        f"/v1/packets/{pid}/releases/{rid}/approve",
        json={
            "content_hash": revision["content_hash"],
            "meaning": "approved",
            "passphrase": PASSPHRASE,
        },
    )
    assert approved.status_code == 200, approved.text
    return rid


def backlog(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("quire_webhook_backlog "):
            return float(line.split()[1])
    raise AssertionError("no quire_webhook_backlog series")


def test_kill_9_of_the_sender_loses_no_delivery_and_duplicates_only_by_id(
    quire_database: DatabaseFactory,
) -> None:
    db = quire_database(
        "postgres",
        QUIRE_WEBHOOK_SECRET_KEY=KEY,
        QUIRE_WEBHOOK_BACKOFF_BASE_SECONDS="0.05",
        QUIRE_WEBHOOK_BACKOFF_CAP_SECONDS="0.2",
        QUIRE_WEBHOOK_POLL_SECONDS="0.1",
        QUIRE_WEBHOOK_TIMEOUT_SECONDS="60",
    )
    db.add_user("root", "Root Admin", "--admin")
    db.add_user("ben", "Ben Ortiz")
    db.add_user("maya", "Maya Chen", passphrase=PASSPHRASE)
    db.add_user("lars", "Lars Lane")
    server = db.serve()
    receiver = Receiver(fail_first=2, hold_first_success=True).start()
    first_worker = worker(db.home, db.env, 1)
    try:
        with (
            server.client("root") as root,
            server.client("ben") as ben,
            server.client("maya") as maya,
        ):
            lane = {"id": "intake", "title": "Intake", "members": ["lars"]}
            assert root.post("/v1/lanes", json={**lane, "accepts_kinds": [KIND]})
            hooked = root.post(
                "/v1/lanes/intake/webhooks",
                json={"url": receiver.url, "secret": SECRET},
            )
            assert hooked.status_code == 201, hooked.text
            assert SECRET not in hooked.text
            opened = ben.post(
                "/v1/packets",
                json={"kind": KIND, "title": "Credit", "release_owner": "maya"},
            )
            pid = opened.json()["id"]
            ben.post(f"/v1/packets/{pid}/sections", json={"heading": "H", "text": "t"})
            source = ben.post(
                f"/v1/packets/{pid}/sources",
                json={
                    "kind": "telemetry",
                    "title": "Extract",
                    "reference": "ref-1",
                    "digest": "sha256:1",
                    "precedence": 1,
                },
            ).json()["source_id"]
            first = approve(maya, ben, pid)

            # the receiver took the delivery and holds its answer: kill -9 now
            assert receiver.held.wait(60), "the worker never delivered"
            first_worker.send_signal(signal.SIGKILL)
            first_worker.wait(timeout=15)
            receiver.release_hold.set()

            # saved while no sender runs: a supersession and a new release
            refreshed = ben.post(
                f"/v1/packets/{pid}/sources/{source}/refresh",
                json={"digest": "sha256:2", "reason": "new extract"},
            )
            assert refreshed.json()["superseded_releases"] == [first]
            second = approve(maya, ben, pid)
            assert backlog(server.client()) >= 3

            restarted = worker(db.home, db.env, 2)
            try:
                assert receiver.wait_for(lambda: len(receiver.unique()) == 3, 60)
                # every delivery recorded as delivered: the backlog drains
                deadline = time.monotonic() + 60
                with server.client() as anon:
                    while backlog(anon) != 0:  # each scrape is a round trip
                        assert time.monotonic() < deadline, "backlog never drained"
            finally:
                restarted.send_signal(signal.SIGTERM)
                restarted.wait(timeout=30)
    finally:
        receiver.stop()
        if first_worker.poll() is None:
            first_worker.kill()

    unique = receiver.unique()
    got = sorted((r.payload["type"], r.payload["release_id"]) for r in unique.values())
    assert got == sorted(
        [("release", first), ("supersession", first), ("release", second)]
    )
    accepted = receiver.accepted
    held = next(r for r in accepted if r.payload["release_id"] == first)
    copies = [r for r in accepted if r.delivery_id == held.delivery_id]
    assert len(copies) == 2 and copies[0].body == copies[1].body  # resent, same id
    assert len(accepted) == 4  # nothing else duplicated
    assert all(r.verifies(SECRET) for r in receiver.requests)
    assert [r.status for r in receiver.requests[:2]] == [500, 500]
    assert {r.delivery_id for r in receiver.requests[:3]} == {held.delivery_id}


pytestmark = pytest.mark.e2e
