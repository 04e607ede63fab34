"""Benchmark: one-edit save rate and 10,000-event replay, SQLite and PostgreSQL.

Each figure is printed beside a raw INSERT+COMMIT loop (sqlite3 / psycopg)
measured in the same run, as a ratio. Run: `.venv/bin/python bench/bench_store.py`
(set QUIRE_BENCH_POSTGRES_URL to change the server; PostgreSQL is skipped if down).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from workspace.commands import AddSection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.config import Settings
from workspace.domain import Packet

PG_URL = os.environ.get(
    "QUIRE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SAVES = int(os.environ.get("QUIRE_BENCH_SAVES", "500"))
REPLAY_EVENTS = int(os.environ.get("QUIRE_BENCH_REPLAY_EVENTS", "10000"))


def raw_sqlite_rate(path: Path, n: int) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")  # as the event store sets it
    conn.execute("CREATE TABLE raw (id INTEGER PRIMARY KEY, body BLOB)")
    conn.commit()
    start = time.perf_counter()
    for i in range(n):
        conn.execute(
            "INSERT INTO raw (body) VALUES (?)", (b"x" * 200 + str(i).encode(),)
        )
        conn.commit()
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def raw_postgres_rate(schema: str, n: int) -> float:
    with psycopg.connect(PG_URL, options=f"-c search_path={schema}") as conn:
        conn.execute("CREATE TABLE raw (id BIGSERIAL PRIMARY KEY, body BYTEA)")
        conn.commit()
        start = time.perf_counter()
        for i in range(n):
            conn.execute(
                "INSERT INTO raw (body) VALUES (%s)", (b"x" * 200 + str(i).encode(),)
            )
            conn.commit()
        return n / (time.perf_counter() - start)


def setup(url: str) -> tuple[Workspace, Principal, Any, str]:
    app = Workspace({"CREATE_TABLE": "y"}, settings=Settings(database_url=url))
    app.add_user("bench", "Bench", roles=[])
    who = app.get_user("bench").principal()
    packet = app.open_packet(
        who,
        kind="bench",
        title="Bench",
        release_owner="bench",
        authors=[],
        reviewers=[],
    )
    sid = app.execute(packet.id, who, AddSection(heading="H", text="")).result
    return app, who, packet.id, sid


def edit_rate(app: Workspace, who: Principal, packet_id: Any, sid: str) -> float:
    version = app.get_packet(packet_id).version
    start = time.perf_counter()
    for i in range(SAVES):
        out = app.edit_section(
            packet_id,
            who,
            sid,
            base_version=version,
            ops=[{"at": 0, "delete": 0, "insert": f"{i} "}],
        )
        version = out.version
    return SAVES / (time.perf_counter() - start)


def replay_times(app: Workspace, who: Principal) -> tuple[float, float]:
    packet = app.open_packet(
        who,
        kind="bench",
        title="Replay",
        release_owner="bench",
        authors=[],
        reviewers=[],
    )
    sid = packet.add_section(who.meta(), heading="H", text="", max_bytes=1 << 20)
    while packet.version < REPLAY_EVENTS:
        for _ in range(min(100, REPLAY_EVENTS - packet.version)):
            packet.edit_section(
                who.meta(),
                section_id=sid,
                base_version=packet.version,
                ops=[{"at": 0, "delete": 0, "insert": "x"}],
                max_bytes=1 << 20,
            )
        app.save(packet)  # ten-to-a-hundred events per save, snapshots every 100
    start = time.perf_counter()
    aggregate: Any = None
    for event in app.events.get(packet.id):
        aggregate = event.mutate(aggregate)
    cold = time.perf_counter() - start
    assert isinstance(aggregate, Packet) and aggregate.version == REPLAY_EVENTS
    # A second application without the aggregate cache: snapshot plus tail.
    uncached = Workspace({"AGGREGATE_CACHE_MAXSIZE": ""}, settings=app.settings)
    start = time.perf_counter()
    warm = uncached.repository.get(packet.id)
    snap = time.perf_counter() - start
    assert warm.version == REPLAY_EVENTS
    uncached.close()
    return cold, snap


def report(
    name: str, raw: float, app: Workspace, who: Principal, pid: Any, sid: str
) -> None:
    rate = edit_rate(app, who, pid, sid)
    cold, snap = replay_times(app, who)
    print(f"[{name}] raw INSERT+COMMIT:      {raw:9.0f} /s")
    print(
        f"[{name}] one-edit saves:         {rate:9.0f} /s  "
        f"(ratio to raw {rate / raw:.2f})"
    )
    print(f"[{name}] replay {REPLAY_EVENTS} events cold: {cold * 1000:8.1f} ms")
    print(
        f"[{name}] replay with snapshot:   {snap * 1000:8.1f} ms  "
        f"(cold/snapshot {cold / snap:.0f}x)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = raw_sqlite_rate(Path(tmp) / "raw.db", SAVES)
        app, who, pid, sid = setup(f"sqlite:///{tmp}/quire.db")
        report("sqlite", raw, app, who, pid, sid)
        app.close()
    try:
        with psycopg.connect(PG_URL, connect_timeout=3, autocommit=True) as conn:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error as e:
        print(f"[postgres] skipped: {e}")
        return
    try:
        raw = raw_postgres_rate(schema, SAVES)
        app, who, pid, sid = setup(f"{PG_URL}?schema={schema}")
        report("postgres", raw, app, who, pid, sid)
        app.close()
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
