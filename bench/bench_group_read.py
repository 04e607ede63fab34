"""Benchmark: the group lock's read of what the held packets' cached copies
lack (issue 18, workspace/pg_saves.py), PostgreSQL.

Quire reads every held packet's events after its cached version in one
statement over two arrays (`unnest` + a LATERAL index read). The baseline,
measured in the same run on the same table, is what it replaced: a UNION ALL
of one select per packet. The table holds 50 packets of 400 events; each read
asks for the last 2 events of 27 packets. Then both are planned with
parallel plans forced: the UNION gets a Gather (parallel workers, whose start
cost 9 ms a read in the live benchmark), the LATERAL read cannot.

Run: `.venv/bin/python bench/bench_group_read.py` (QUIRE_BENCH_POSTGRES_URL
picks the server; skipped if it is down).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.services import build_services
from workspace.config import Settings
from workspace.pg_saves import _events_table, _select_after

PG_URL = os.environ.get(
    "QUIRE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PACKETS, EVENTS, READ, READS = 50, 400, 27, 300


def timed(conn: psycopg.Connection[Any], query: str, params: list[Any]) -> float:
    """Microseconds per read (wall), and checks each read's row count."""
    with psycopg.ClientCursor(conn) as cur:
        start = time.perf_counter()
        for _ in range(READS):
            rows = cur.execute(query, params).fetchall()
            assert len(rows) == 2 * READ, len(rows)
        return (time.perf_counter() - start) / READS * 1e6


def plan(conn: psycopg.Connection[Any], query: str, params: list[Any]) -> str:
    with psycopg.ClientCursor(conn) as cur:
        rows = cur.execute("EXPLAIN " + query, params).fetchall()
    return "Gather" if any("Gather" in row[0] for row in rows) else "no Gather"


def main() -> None:
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        print(f"PostgreSQL is not available, skipped: {e}")
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    home = Path(tempfile.mkdtemp())
    services = build_services(
        Settings(
            database_url=f"{PG_URL}?schema={schema}",
            signing_key_path=home / "key.pem",
        ),
        create_table=True,
    )
    try:
        recorder = services.app.recorder
        table = _events_table(recorder)
        ids = [uuid.uuid4() for _ in range(PACKETS)]
        for pid in ids:
            admin.execute(
                f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
                " SELECT %s, g, 'bench', decode(repeat('ab', 150), 'hex')"
                " FROM generate_series(1, %s) AS g",
                [pid, EVENTS],
            )
        admin.execute(f"ANALYZE {table}")
        read = ids[:READ]
        after = EVENTS - 2
        lateral = _select_after(recorder)
        lateral_params: list[Any] = [read, [after] * READ]
        union = " UNION ALL ".join(
            [
                f"(SELECT * FROM {table} WHERE originator_id = %s"
                " AND originator_version > %s ORDER BY originator_version ASC)"
            ]
            * READ
        )
        union_params = [part for pid in read for part in (pid, after)]
        conn = psycopg.connect(PG_URL, autocommit=True)
        # The baseline without its parallel workers, to compare the reads.
        conn.execute("SET max_parallel_workers_per_gather = 0")
        for _ in range(2):  # warm, then measured
            base = timed(conn, union, union_params)
            ours = timed(conn, lateral, lateral_params)
        print(f"{READ} packets' missing events, {PACKETS * EVENTS:,} rows, per read:")
        print(f"  one statement (unnest + LATERAL)  {ours:7.0f} us")
        print(f"  UNION ALL of one select each      {base:7.0f} us")
        print(f"  ratio                             {ours / base:7.2f}x")
        conn.execute("RESET max_parallel_workers_per_gather")
        forced = (
            "debug_parallel_query"
            if conn.info.server_version >= 160000
            else "force_parallel_mode"
        )
        conn.execute(f"SET {forced} = on")
        ours_plan = plan(conn, lateral, lateral_params)
        base_plan = plan(conn, union, union_params)
        print(f"  with parallel plans forced: LATERAL {ours_plan}, UNION {base_plan}")
        conn.close()
    finally:
        services.close()
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


if __name__ == "__main__":
    main()
