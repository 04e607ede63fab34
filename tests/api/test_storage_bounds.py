"""Storage bounds: a save too large is refused (413 SAVE_TOO_LARGE) before it
takes the event table's lock; a lock held too long makes /readyz fail and
other writes answer 503 within the lock timeout, never hang (SQLite and
PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import build_services
from tests.conftest import PG_URL, database_url_for, drop_pg_schema
from workspace.config import Settings, persistence_env

KB = 1024


@pytest.fixture(params=["sqlite", "postgres"])
def bounded(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[TestClient, dict[str, str], Settings]]:
    url, schema = database_url_for(str(request.param), tmp_path)
    settings = Settings(
        database_url=url,
        signing_key_path=tmp_path / "key.pem",
        section_max_bytes=40 * KB,
        request_max_bytes=256 * KB,
        save_max_bytes=64 * KB,
        db_lock_timeout_seconds=1,
        pool_size=3,
    )
    services = build_services(settings, create_table=True, role="serve")
    token = services.app.add_user("ben", "Ben", roles=[])
    try:
        with TestClient(create_app(settings, services)) as client:
            yield client, {"Authorization": f"Bearer {token}"}, settings
    finally:
        services.close()
        if schema:
            drop_pg_schema(schema)


def test_a_revision_cut_larger_than_one_save_may_hold_is_refused_with_413(
    bounded: tuple[TestClient, dict[str, str], Settings],
) -> None:
    client, auth, _ = bounded
    body = {"kind": "k", "title": "Big", "release_owner": "ben", "authors": []}
    packet = client.post("/v1/packets", json=body, headers=auth)
    assert packet.status_code == 201, packet.text
    pid = packet.json()["id"]
    for n in range(2):
        added = client.post(
            f"/v1/packets/{pid}/sections",
            json={"heading": f"Part {n}", "text": "x" * (38 * KB)},
            headers=auth,
        )
        assert added.status_code == 201, added.text

    cut = client.post(f"/v1/packets/{pid}/revisions", json={}, headers=auth)
    assert cut.status_code == 413, cut.text
    error = cut.json()["error"]
    assert error["code"] == "SAVE_TOO_LARGE"
    assert error["details"]["max_bytes"] == 64 * KB
    assert error["details"]["bytes"] > 64 * KB
    assert client.get(f"/v1/packets/{pid}", headers=auth).json()["revisions"] == []
    # Every other write goes on.
    small = client.post(
        f"/v1/packets/{pid}/sections",
        json={"heading": "Small", "text": "ok"},
        headers=auth,
    )
    assert small.status_code == 201, small.text


def test_a_lock_held_past_the_lock_timeout_fails_readiness_and_bounds_writes(
    bounded: tuple[TestClient, dict[str, str], Settings],
) -> None:
    client, auth, settings = bounded
    body = {"kind": "k", "title": "Plan", "release_owner": "ben", "authors": []}
    assert client.post("/v1/packets", json=body, headers=auth).status_code == 201
    assert client.get("/readyz").status_code == 200

    env = persistence_env(settings.database_url, create_table=False)
    table = client.app.state.services.app.recorder.events_table_name  # type: ignore[attr-defined]
    locked = threading.Event()
    release = threading.Event()

    def hold_the_lock() -> None:
        if "SQLITE_DBNAME" in env:
            import sqlite3

            conn = sqlite3.connect(env["SQLITE_DBNAME"], isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(30)
            conn.execute("ROLLBACK")
            conn.close()
            return
        with psycopg.connect(PG_URL.split("?")[0]) as conn:
            conn.execute(
                f'LOCK TABLE "{env["POSTGRES_SCHEMA"]}"."{table}" IN EXCLUSIVE MODE'
            )
            # The lock must be held longer than the lock timeout (1 s).
            conn.execute("SELECT pg_sleep(1.5)")
            locked.set()
            release.wait(30)
            conn.rollback()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(30)
        started = time.monotonic()
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert time.monotonic() - started < 5
        started = time.monotonic()
        blocked = client.post("/v1/packets", json=body, headers=auth)
        # SQLite waits its own lock timeout (10 s) before answering.
        assert time.monotonic() - started < 15
        assert blocked.status_code == 503, blocked.text
        assert blocked.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    finally:
        release.set()
        holder.join()
    assert client.get("/readyz").status_code == 200
    assert client.post("/v1/packets", json=body, headers=auth).status_code == 201
