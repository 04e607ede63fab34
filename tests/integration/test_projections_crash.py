"""A `quire worker` killed with SIGKILL in the middle of a catch-up resumes with
no read-model row missing or duplicated (PostgreSQL, real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from projections.driver import Driver
from projections.runner import (
    PROJECTION_NAMES,
    all_projections,
    create_read_models,
    read_model_tables,
)
from projections.store import ReadStore
from tests.conftest import database_url_for, drop_pg_schema
from workspace.application import Workspace
from workspace.config import Settings

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 8
SECTIONS_PER_SAVE = 500


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[Workspace, ReadStore, Settings]]:
    url, schema = database_url_for("postgres", tmp_path)
    cfg = Settings(
        database_url=url,
        signing_key_path=tmp_path / "key.pem",
        snapshot_interval=1_000_000,  # bulk saves: no snapshot per hundred
    )
    app = Workspace({"CREATE_TABLE": "y"}, settings=cfg)
    store = ReadStore(cfg, app)
    create_read_models(store)
    yield app, store, cfg
    store.close()
    app.close()
    if schema:
        drop_pg_schema(schema)


def write_many_events(app: Workspace) -> int:
    """About six thousand events, saved a few hundred at a time."""
    app.add_user("ben", "Ben", roles=[])
    ben = app.get_user("ben").principal()
    packet = app.open_packet(
        ben, kind="k", title="Bulk", release_owner="ben", authors=[], reviewers=[]
    )
    for round_ in range(ROUNDS):
        packet = app.get_packet(packet.id)
        for i in range(SECTIONS_PER_SAVE):
            packet.add_section(
                app.meta(ben), heading=f"S{round_}.{i}", text="x", max_bytes=100
            )
        packet.cut_revision(app.meta(ben), None)
        app.save(packet)
    return int(app.recorder.max_notification_id() or 0)


def start_worker(cfg: Settings, tmp: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "QUIRE_DATABASE_URL": cfg.database_url,
        "QUIRE_SIGNING_KEY_PATH": str(cfg.signing_key_path),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", *args],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def positions(store: ReadStore) -> dict[str, int]:
    with store.read() as tx:
        rows = tx.all("SELECT name, position FROM projection_tracking")
    return {name: int(position) for name, position in rows}


def dump(store: ReadStore) -> dict[str, list[tuple[Any, ...]]]:
    tables = [t for t in read_model_tables() if t != "audit_checkpoints"]
    with store.read() as tx:
        return {t: sorted(tx.all(f"SELECT * FROM {t}"), key=repr) for t in tables}


def test_a_worker_killed_mid_catch_up_resumes_without_losing_or_repeating_rows(
    pg: tuple[Workspace, ReadStore, Settings], tmp_path: Path
) -> None:
    app, store, cfg = pg
    head = write_many_events(app)

    worker = start_worker(cfg, tmp_path, "--batch-size", "20")
    try:
        assert store.wait_for(["audit_log"], 400, timeout=60), "the first batches"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    at_kill = positions(store)
    assert 0 < at_kill["audit_log"] < head, f"not mid-way at the kill: {at_kill}"

    restarted = start_worker(cfg, tmp_path)
    try:
        assert store.wait_for(PROJECTION_NAMES, head, timeout=60), (
            "the restarted worker to reach the head"
        )
    finally:
        restarted.send_signal(signal.SIGTERM)
        _, err = restarted.communicate(timeout=30)
    assert restarted.returncode == 0, err.decode()

    resumed = dump(store)
    with store.read() as tx:
        leaves = tx.all("SELECT leaf_index, notification_id FROM audit_log")
    assert sorted(i for i, _ in leaves) == list(range(head))
    assert len({n for _, n in leaves}) == head
    assert len(resumed["revision_history"]) == ROUNDS
    assert [r[10] for r in resumed["packet_list"]] == [head - 3]  # its version

    session = store.session()
    try:
        with session.transaction() as tx:
            for table in read_model_tables():
                tx.execute(f"DELETE FROM {table}")
            tx.execute("DELETE FROM projection_tracking")
        for projection in all_projections(cfg):
            Driver(store, projection).catch_up(session)
    finally:
        session.close()
    assert dump(store) == resumed
