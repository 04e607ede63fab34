"""`quire db migrate` and the schema check of serving processes (issue 17,
item 5), with the real `quire` command on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest

from projections.migrations import READ_MODEL_VERSIONS, VERSION_TABLE
from tests.conftest import PG_URL
from tests.e2e.conftest import QUIRE, DatabaseFactory, QuireDatabase
from tests.e2e.test_operations import new_packet
from tests.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def sql(
    database: QuireDatabase, statement: str, params: Sequence[Any] = ()
) -> list[Any]:
    """Runs one statement on the database itself (as an operator would)."""
    if database.backend == "sqlite":
        conn = sqlite3.connect(database.url[len("sqlite:///") :])
        try:
            rows = conn.execute(statement, tuple(params)).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()
    with psycopg.connect(PG_URL, autocommit=True) as pg:
        pg.execute(f'SET search_path TO "{database.schema}"')
        cur = pg.execute(statement.replace("?", "%s"), tuple(params))
        return cur.fetchall() if cur.description else []


def run(database: QuireDatabase, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(QUIRE), *args],
        env=database.env,
        cwd=database.home,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def serve_refuses(database: QuireDatabase, code: str) -> None:
    port = str(free_port())
    done = run(database, "serve", "--host", "127.0.0.1", "--port", port)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"error: {code}:" in done.stderr, done.stderr


def version_of(database: QuireDatabase, component: str) -> int:
    rows = sql(
        database,
        f"SELECT version FROM {VERSION_TABLE} WHERE component = ?",
        [component],
    )
    return int(rows[0][0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrate_rebuilds_an_outdated_read_model_and_serve_waits_for_it(
    quire_database: DatabaseFactory, backend: str
) -> None:
    database = quire_database(backend)
    if backend == "sqlite":
        database.quire("db", "init")
    for user, name in (
        ("maya", "Maya Chen"),
        ("ben", "Ben Ortiz"),
        ("ana", "Ana Lima"),
    ):
        database.add_user(user, name)
    server = database.serve()
    packet_id, _, _ = new_packet(server.url, database.tokens["ben"])
    server.kill(signal.SIGTERM)
    database.quire("projections", "rebuild")  # no worker: up to the head
    packets = sql(database, "SELECT packet_id FROM packet_list")
    assert [str(r[0]) for r in packets] == [packet_id]
    assert version_of(database, "packet_list") == READ_MODEL_VERSIONS["packet_list"]

    # An older database: the packet list at version 0, its rows gone.
    sql(
        database,
        f"UPDATE {VERSION_TABLE} SET version = 0 WHERE component = 'packet_list'",
    )
    sql(database, "DELETE FROM packet_list")
    serve_refuses(database, "SCHEMA_BEHIND")

    migrated = database.quire("db", "migrate")
    assert "packet_list 0 -> 1" in migrated
    assert version_of(database, "packet_list") == 1
    assert [str(r[0]) for r in sql(database, "SELECT packet_id FROM packet_list")] == [
        packet_id
    ]
    again = database.quire("db", "init", "--migrate")  # what deploy/ runs
    assert "nothing to migrate" in again and "->" not in again

    with database.serve().client("ben") as http:
        assert [p["id"] for p in http.get("/v1/packets").json()["items"]] == [packet_id]


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_and_migrate_refuse_a_database_newer_than_the_code(
    quire_database: DatabaseFactory, backend: str
) -> None:
    database = quire_database(backend)
    database.quire("db", "init")
    sql(
        database,
        f"UPDATE {VERSION_TABLE} SET version = 99 WHERE component = 'event_store'",
    )
    serve_refuses(database, "SCHEMA_AHEAD")
    done = run(database, "db", "migrate")
    assert done.returncode == 2 and "error: SCHEMA_AHEAD:" in done.stderr
    assert version_of(database, "event_store") == 99  # nothing was changed


@pytest.mark.postgres
def test_a_database_from_before_versioning_is_the_baseline(
    quire_database: DatabaseFactory,
) -> None:
    database = quire_database("postgres")
    sql(database, f"DROP TABLE {VERSION_TABLE}")
    database.serve()  # version 1 of everything: what this code needs
    assert "nothing to migrate" in database.quire("db", "migrate")
    assert version_of(database, "event_store") == 1
    # ...and once the table exists, an older row is enforced again.
    sql(
        database, f"UPDATE {VERSION_TABLE} SET version = 0 WHERE component = 'releases'"
    )
    serve_refuses(database, "SCHEMA_BEHIND")
