"""Benchmark: projection catch-up, full rebuild, audit export plus verify.

Each figure is printed beside a raw read of the event table measured in the
same run (psycopg / sqlite3 SELECT in notification order, plus json decoding),
as a ratio. Targets (2-core machine, local PostgreSQL): catch-up >= 10,000
events/s; export plus verify of 10,000 events <= 2 s.

Run: `.venv/bin/python bench/bench_projections.py [postgres|sqlite|both]`
(QUIRE_BENCH_POSTGRES_URL picks the server; QUIRE_BENCH_EVENTS and
QUIRE_BENCH_EXPORT_EVENTS change the sizes). PostgreSQL is skipped if down.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from projections.audit_export import export_packet
from projections.audit_verify import verify_export
from projections.checkpoints import load_or_create_private_key
from projections.driver import Driver
from projections.runner import (
    ProjectionRunner,
    all_projections,
    create_read_models,
)
from projections.store import ReadStore
from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.config import Settings, persistence_env
from workspace.rebase import Op

PG_URL = os.environ.get(
    "QUIRE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
EVENTS = int(os.environ.get("QUIRE_BENCH_EVENTS", "50000"))
EXPORT_EVENTS = int(os.environ.get("QUIRE_BENCH_EXPORT_EVENTS", "10000"))
SAVE_CHUNK = 500


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# ------------------------------------------------------------------ the log
def fill_packet(app: Workspace, who: Principal, events: int, rng: random.Random) -> str:
    """A packet with `events` events: 5% new sections, 80% edits, 15%
    objections raised or resolved, 0.2% revision cuts (each carries the whole
    content, as a cut does)."""
    packet = app.open_packet(
        who,
        kind="bench",
        title="Bench",
        release_owner=who.user_id,
        authors=[],
        reviewers=[],
    )
    written = 1
    while written < events:
        packet = app.get_packet(packet.id)
        for _ in range(min(SAVE_CHUNK, events - written)):
            meta = app.meta(who)
            roll = rng.random()
            live = packet.section_order
            if not live or roll < 0.05:
                packet.add_section(
                    meta, heading="Section", text="Credits accrue.\n", max_bytes=10**6
                )
            elif roll < 0.85:
                sid = rng.choice(live)
                packet.edit_section(
                    meta,
                    section_id=sid,
                    base_version=packet.version,
                    ops=[Op(at=0, delete=0, insert="word ")],
                    max_bytes=10**6,
                )
            elif roll < 0.93:
                packet.raise_objection(meta, target={}, text="Which cap applies?")
            elif roll < 0.998:
                open_ = [
                    o for o, v in packet.objections.items() if v["state"] == "open"
                ]
                if open_:
                    packet.resolve_objection(meta, open_[0], "the addendum's")
                else:
                    packet.raise_objection(meta, target={}, text="Why?")
            else:
                packet.cut_revision(meta, None)
            written += 1
        app.save(packet)
    return str(packet.id)


def build_log(app: Workspace) -> str:
    """EVENTS events in all; one packet holds EXPORT_EVENTS of them."""
    app.add_user("ben", "Ben", roles=[])
    ben = app.get_user("ben").principal()
    rng = random.Random(7)
    exported = fill_packet(app, ben, EXPORT_EVENTS, rng)
    while (app.recorder.max_notification_id() or 0) < EVENTS:
        remaining = EVENTS - int(app.recorder.max_notification_id() or 0)
        fill_packet(app, ben, min(2000, max(remaining, 2)), rng)
    return exported


# ------------------------------------------------------------ raw baselines
def raw_read(store: ReadStore, originator: str | None = None) -> int:
    """SELECT the event table in notification order, decode each state."""
    if store.backend == "postgres":
        conn: Any = psycopg.connect(make_conninfo(**store.conninfo))
        column, table = "notification_id", "quire_events"
        where = " WHERE originator_id = %s" if originator else ""
        params: tuple[Any, ...] = (uuid.UUID(originator),) if originator else ()
    else:
        path = persistence_env(store.settings.database_url, create_table=False)
        conn = sqlite3.connect(path["SQLITE_DBNAME"])
        column, table = "rowid", "stored_events"
        where = " WHERE originator_id = ?" if originator else ""
        params = (uuid.UUID(originator).hex,) if originator else ()
    try:
        cur = conn.cursor()
        cur.execute(
            f"SELECT {column}, originator_id, originator_version, topic, state "
            f"FROM {table}{where} ORDER BY {column}",
            params,
        )
        count = 0
        while rows := cur.fetchmany(1000):
            for row in rows:
                json.loads(bytes(row[4]))
                count += 1
        return count
    finally:
        conn.close()


# ------------------------------------------------------------------- phases
def reset(store: ReadStore) -> None:
    session = store.session()
    try:
        for projection in all_projections():
            Driver(store, projection).reset(session)
        with session.transaction() as tx:
            tx.execute("DELETE FROM audit_log")
            tx.execute("DELETE FROM audit_checkpoints")
    finally:
        session.close()


def run(backend: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="quire-bench-"))
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    if backend == "postgres":
        try:
            with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as c:
                c.execute(f'CREATE SCHEMA "{schema}"')
        except psycopg.Error as e:
            print(f"postgres: skipped ({e})")
            return
        url = f"{PG_URL}?schema={schema}"
    else:
        url = f"sqlite:///{folder / 'bench.db'}"
    settings = Settings(
        database_url=url,
        signing_key_path=folder / "key.pem",
        snapshot_interval=1_000_000,
        checkpoint_interval_seconds=5.0,
    )
    app = Workspace({"CREATE_TABLE": "y"}, settings=settings)
    store = ReadStore(settings, app)
    try:
        create_read_models(store)
        took, exported = timed(lambda: build_log(app))
        head = store.head()
        print(f"\n== {backend}: {head:,} events written in {took:.1f} s")

        raw_s, count = timed(lambda: raw_read(store))
        raw_rate = count / raw_s
        print(f"raw read of the event table    {raw_rate:>10,.0f} events/s")

        # Catch-up as `quire worker` runs it: every projection on its thread.
        runner = ProjectionRunner(store, all_projections(settings))
        start = time.perf_counter()
        runner.start()
        if not runner.wait(head, timeout=600):
            raise SystemExit("catch-up did not finish")
        catch_up_s = time.perf_counter() - start
        runner.stop()
        rate = head / catch_up_s
        print(
            f"catch-up, all 5 projections    {rate:>10,.0f} events/s "
            f"({catch_up_s:.2f} s; {rate / raw_rate:.2f}x raw read; "
            f"target >= 10,000)"
        )

        # Each projection alone, from zero, one after another.
        reset(store)
        session = store.session()
        per: list[str] = []
        for projection in all_projections(settings):
            start = time.perf_counter()
            Driver(store, projection).catch_up(session)
            took = time.perf_counter() - start
            per.append(f"{projection.name} {head / took:,.0f}/s")
        print("  each projection alone:        " + "; ".join(per))

        # `quire projections rebuild`: reset + replay (one read per batch for
        # all projections), the audit log checked against its kept rows.
        rebuild_start = time.perf_counter()
        driver = Driver(store, all_projections(settings))
        driver.reset(session)
        driver.catch_up(session)
        rebuild_s = time.perf_counter() - rebuild_start
        print(
            f"full rebuild (5 projections)   {rebuild_s:>10.2f} s "
            f"({head / rebuild_s:,.0f} events/s; {raw_s:.2f} s raw read, "
            f"{rebuild_s / raw_s:.1f}x)"
        )

        key = load_or_create_private_key(settings.signing_key_path)
        raw_packet_s, raw_count = timed(lambda: raw_read(store, exported))
        for full in (False, True):
            out = io.StringIO()
            start = time.perf_counter()
            summary = export_packet(store, session, exported, key, out, full=full)
            export_s = time.perf_counter() - start
            lines = out.getvalue().splitlines()
            start = time.perf_counter()
            verdict = verify_export(lines)
            verify_s = time.perf_counter() - start
            if not verdict.ok:
                raise SystemExit(f"verify failed: {verdict.message}")
            total = export_s + verify_s
            what = (
                f"recomputing all {head:,} leaves"
                if full
                else "recomputing the packet's leaves, hashing all recorded"
            )
            print(
                f"export{' --full' if full else ''} + verify {summary.events:,} "
                f"events {total:>6.2f} s (export {export_s:.2f} s {what}; verify "
                f"{verify_s:.2f} s; raw read of the packet's {raw_count:,} events "
                f"{raw_packet_s:.3f} s, {total / raw_packet_s:.0f}x; target <= 2 s)"
            )
        session.close()
    finally:
        store.close()
        app.close()
        if backend == "postgres":
            with psycopg.connect(PG_URL, autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "both"
    backends = ["postgres", "sqlite"] if which == "both" else [which]
    for backend in backends:
        run(backend)


if __name__ == "__main__":
    main()
