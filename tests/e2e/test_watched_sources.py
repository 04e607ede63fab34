"""Issue 16 end to end with real servers: a `quire serve` (embedded SQLite,
whose process runs the source watcher) watches a local HTTP server whose
document changes, fails and is slow; a watched file drives the reconciler
(`quire agents run reconciler`, a real process with its own token); and the
agent's token is refused whatever it tries to decide.

Every wait is on an event of the packet's live channel, never a sleep."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from release.connectors import digest_of
from tests.doc_server import Document, doc_server
from tests.e2e.conftest import QUIRE, DatabaseFactory, QuireServer
from tests.e2e.live_client import LiveClient
from tests.processes import start_serve

pytestmark = pytest.mark.timeout(180)

PASSPHRASE = "correct horse"
KIND = "service-credit-clarification"
FIRST = b"start,end\n2025-02-03T02:00:00Z,2025-02-03T03:00:00Z\n"
SECOND = (
    b'{"windows": [{"start": "2025-02-03T02:00:00Z", "end": "2025-02-03T03:30:00Z"},'
    b' {"start": "2025-02-10T02:00:00Z", "end": "2025-02-10T02:45:00Z"}]}'
)

Match = Callable[[dict[str, Any]], bool]


def wait_for(
    server: QuireServer, pid: str, token: str, since: int, match: Match
) -> dict[str, Any]:
    """The first event after `since` for which `match` holds (live channel)."""

    async def run() -> dict[str, Any]:
        client = await LiveClient.open(
            server.ws_url("").rstrip("/"), pid, token, since=since
        )
        try:
            seen = await client.until(
                lambda m: m["type"] == "event" and match(m), timeout=60
            )
            return seen[-1]
        finally:
            await client.close()

    return asyncio.run(run())


def of(event_type: str, actor: str | None = None) -> Match:
    return lambda m: (
        m["event_type"] == event_type and (actor is None or m["actor"] == actor)
    )


@pytest.fixture
def world(
    quire_database: DatabaseFactory, tmp_path: Path
) -> Iterator[tuple[QuireServer, Path]]:
    roots = tmp_path / "sources"
    roots.mkdir()
    database = quire_database(
        "sqlite",
        QUIRE_SOURCE_ALLOW_LOOPBACK="true",
        QUIRE_SOURCE_FILE_ROOTS=str(roots),
        QUIRE_SOURCE_FETCH_TIMEOUT_SECONDS="1",
        QUIRE_WATCH_SCAN_SECONDS="0.2",
    )
    database.add_user("root", "Root Admin", "--admin")
    database.add_user("ben", "Ben Ortiz")
    database.add_user("maya", "Maya Chen", passphrase=PASSPHRASE)
    database.add_user("lars", "Lars Lane")
    database.add_user("reconciler", "Reconciler", "--agent")
    server = database.serve()
    with server.client("root") as root:
        lane = {"id": "review", "title": "Review", "members": ["lars"]}
        created = root.post("/v1/lanes", json={**lane, "accepts_kinds": [KIND]})
        assert created.status_code == 201, created.text
    yield server, roots


def open_packet(ben: httpx.Client) -> str:
    opened = ben.post(
        "/v1/packets",
        json={
            "kind": KIND,
            "title": "Service-credit clarification",
            "release_owner": "maya",
            "authors": ["ben", "reconciler"],
        },
    )
    assert opened.status_code == 201, opened.text
    pid: str = opened.json()["id"]
    section = {"heading": "Incident chronology", "text": "Outage 10:00-11:30 UTC."}
    assert ben.post(f"/v1/packets/{pid}/sections", json=section).is_success
    return pid


def cite(ben: httpx.Client, pid: str, reference: str, body: bytes, **watch: int) -> str:
    cited = ben.post(
        f"/v1/packets/{pid}/sources",
        json={
            "kind": "maintenance",
            "title": "Maintenance calendar",
            "reference": reference,
            "digest": digest_of(body),
            "precedence": 1,
            "watch": {"poll_seconds": 1, **watch},
        },
    )
    assert cited.status_code == 201, cited.text
    return str(cited.json()["source_id"])


def release(server: QuireServer, ben: httpx.Client, pid: str) -> tuple[str, int]:
    revision = ben.post(f"/v1/packets/{pid}/revisions", json={}).json()
    requested = ben.post(
        f"/v1/packets/{pid}/releases",
        json={"revision": revision["revision"], "lane": "review"},
    )
    assert requested.status_code == 201, requested.text
    rid = requested.json()["release_id"]
    with server.client("maya") as maya:
        approved = maya.post(
            f"/v1/packets/{pid}/releases/{rid}/approve",
            json={
                "content_hash": revision["content_hash"],
                "meaning": "approved",
                "passphrase": PASSPHRASE,
            },
        )
    assert approved.status_code == 200, approved.text
    return rid, int(revision["revision"])


def test_a_watched_document_that_changes_fails_and_is_slow_drives_drift_end_to_end(
    world: tuple[QuireServer, Path],
) -> None:
    server, _ = world
    token = server.database.tokens["ben"]
    with doc_server(Document(body=FIRST)) as docs, server.client("ben") as ben:
        refused = ben.post(
            f"/v1/packets/{open_packet(ben)}/sources",
            json={
                "kind": "telemetry",
                "title": "Elsewhere",
                "reference": "https://telemetry.example.net/w.csv",
                "digest": "sha256:0",
                "precedence": 1,
                "watch": {"poll_seconds": 1},
            },
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "SOURCE_HOST_NOT_ALLOWED"

        pid = open_packet(ben)
        sid = cite(ben, pid, docs.url(), FIRST, tolerance_seconds=2)
        rid, revision = release(server, ben, pid)
        since = ben.get(f"/v1/packets/{pid}").json()["version"]

        # 1. The document changes: a material refresh by source-watcher and
        # the release superseded in the same save.
        docs.document.set(SECOND)
        refreshed = wait_for(server, pid, token, since, of("SourceRefreshed"))
        assert refreshed["actor"] == "source-watcher"
        assert refreshed["data"]["digest"] == digest_of(SECOND)
        superseded = wait_for(
            server, pid, token, refreshed["version"], of("ReleaseSuperseded")
        )
        assert superseded["version"] == refreshed["version"] + 1
        packet = ben.get(f"/v1/packets/{pid}").json()
        assert (
            next(r for r in packet["releases"] if r["release_id"] == rid)["status"]
            == "superseded"
        )

        # 2. It fails: recorded and shown, the digest kept; past its tolerance
        # a new request is held SOURCE_UNREADABLE.
        docs.document.mode = "fail"
        failed = wait_for(
            server, pid, token, superseded["version"], of("SourceFetchFailed")
        )
        assert failed["data"]["error_code"] == "FETCH_STATUS"
        beyond = wait_for(
            server,
            pid,
            token,
            failed["version"],
            lambda m: (
                m["event_type"] == "SourceFetchFailed" and m["data"]["beyond_tolerance"]
            ),
        )
        source = next(
            s for s in ben.get(f"/v1/packets/{pid}").json()["sources"] if s["id"] == sid
        )
        assert source["digest"] == digest_of(SECOND)
        assert source["fetch"]["state"] == "failing"
        revision = ben.post(f"/v1/packets/{pid}/revisions", json={}).json()
        held = ben.post(
            f"/v1/packets/{pid}/releases",
            json={"revision": revision["revision"], "lane": "review"},
        ).json()
        assert "SOURCE_UNREADABLE" in [h["code"] for h in held["hold_reasons"]], held

        # 3. It recovers, then is slow: a timeout is recorded as a failure.
        docs.document.mode = "ok"
        recovered = wait_for(
            server, pid, token, beyond["version"], of("SourceFetchRecovered")
        )
        docs.document.mode = "slow"
        slow = wait_for(
            server, pid, token, recovered["version"], of("SourceFetchFailed")
        )
        assert slow["data"]["error_code"] == "FETCH_TIMEOUT"
        docs.document.release_slow.set()


def agent(server: QuireServer, home: Path) -> subprocess.Popen[bytes]:
    """`quire agents run reconciler`, returned once its first pass is done
    (it says so: `reconciler running against ...`)."""
    env = {
        **server.database.env,
        "QUIRE_AGENT_TOKEN": server.database.tokens["reconciler"],
        "QUIRE_AGENT_URL": server.url,
    }
    return start_serve(
        [str(QUIRE), "agents", "run", "reconciler", "--interval", "0.2"],
        env=env,
        cwd=home,
        log=home / "reconciler.log",
        ready_line=b"reconciler running against",
    )


def test_a_watched_file_drives_the_reconciler_to_a_suggestion_a_human_accepts(
    world: tuple[QuireServer, Path],
) -> None:
    server, roots = world
    token = server.database.tokens["ben"]
    calendar = roots / "maintenance.csv"
    calendar.write_bytes(FIRST)
    with server.client("ben") as ben:
        pid = open_packet(ben)
        sid = cite(ben, pid, f"file://{calendar}", FIRST)
        since = ben.get(f"/v1/packets/{pid}").json()["version"]
        process = agent(server, server.database.home)
        try:
            wait_log = server.database.home / "reconciler.log"
            calendar.write_bytes(SECOND)
            refreshed = wait_for(
                server, pid, token, since, of("SourceRefreshed", "source-watcher")
            )
            proposed = wait_for(
                server,
                pid,
                token,
                refreshed["version"],
                of("SuggestionProposed", "reconciler"),
            )
        finally:
            process.terminate()
            process.wait(timeout=15)
        assert proposed["data"]["boundary_flags"] == [], wait_log.read_text()
        sug = proposed["data"]["suggestion_id"]
        packet = ben.get(f"/v1/packets/{pid}").json()
        assert packet["sections"][0]["text"] == "Outage 10:00-11:30 UTC."  # not yet
        accepted = ben.post(f"/v1/packets/{pid}/suggestions/{sug}/accept")
        assert accepted.status_code == 200, accepted.text
        text = accepted.json()["text"]
        assert text.startswith("Outage 10:00-11:30 UTC.\n\nMaintenance windows per")
        assert f"per {sid} (Maintenance calendar" in text
        assert "- 2025-02-03T02:00:00Z to 2025-02-03T03:30:00Z (90 min)" in text
        assert "- 2025-02-10T02:00:00Z to 2025-02-10T02:45:00Z (45 min)" in text


def test_the_agent_never_signs_resolves_or_accepts(
    world: tuple[QuireServer, Path],
) -> None:
    server, _ = world
    with server.client("ben") as ben, server.client("reconciler") as bot:
        pid = open_packet(ben)
        revision = ben.post(f"/v1/packets/{pid}/revisions", json={}).json()
        rid = ben.post(
            f"/v1/packets/{pid}/releases",
            json={"revision": revision["revision"], "lane": "review"},
        ).json()["release_id"]
        objection = ben.post(
            f"/v1/packets/{pid}/objections", json={"target": {}, "text": "Cap?"}
        ).json()["objection_id"]
        version = ben.get(f"/v1/packets/{pid}").json()["version"]
        suggested = bot.post(
            f"/v1/packets/{pid}/sections/sec-1/edits",
            json={"base_version": version, "text": "Outage 10:00-11:45 UTC."},
        ).json()["suggestion_id"]
        attempts = {
            "sign": (
                f"/v1/packets/{pid}/releases/{rid}/approve",
                {
                    "content_hash": revision["content_hash"],
                    "meaning": "approved",
                    "passphrase": PASSPHRASE,
                },
            ),
            "accept": (f"/v1/packets/{pid}/suggestions/{suggested}/accept", {}),
            "accept with an override": (
                f"/v1/packets/{pid}/suggestions/{suggested}/accept",
                {"override_reason": "I am sure"},
            ),
            "resolve": (
                f"/v1/packets/{pid}/objections/{objection}/resolve",
                {"resolution": "monthly cap"},
            ),
            "accept a residual": (
                f"/v1/packets/{pid}/releases/{rid}/residuals",
                {"objection_id": objection, "rationale": "fine"},
            ),
        }
        before = ben.get(f"/v1/packets/{pid}").json()["version"]
        for what, (path, body) in attempts.items():
            refused = bot.post(path, json=body)
            assert refused.status_code == 403, (what, refused.text)
            assert refused.json()["error"]["code"] in (
                "AGENT_NOT_ALLOWED",
                "ROLE_NOT_ALLOWED",  # signing: only the named release owner
            ), what
        ranking = bot.post(
            f"/v1/packets/{pid}/ranking",
            json={"order": [], "because": {"comment": "agent ranks"}},
        )
        # Ranking is another helper's route: refused when it exists.
        assert ranking.status_code in (403, 404), ranking.text
        if ranking.status_code == 404:
            assert ranking.json()["error"]["code"] in ("NOT_FOUND", "HTTP_ERROR")
        assert ben.get(f"/v1/packets/{pid}").json()["version"] == before
