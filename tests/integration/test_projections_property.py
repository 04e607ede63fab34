"""Property: read models built incrementally, across interrupted runs (fresh
drivers, random batch sizes, batches that fail mid-transaction), equal the
read models rebuilt from zero, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.driver import Driver, Projection
from projections.events import EventRecord
from projections.runner import all_projections, create_read_models, read_model_tables
from projections.store import ReadStore, Tx
from tests.conftest import database_url_for, drop_pg_schema
from workspace.application import Workspace
from workspace.commands import (
    AddSection,
    CutRevision,
    RaiseObjection,
    ReopenObjection,
    ResolveObjection,
)
from workspace.config import Settings
from workspace.errors import QuireError

TEXT = st.text(alphabet="ab \n", max_size=6)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.just(0)),
        st.tuples(st.just("section"), TEXT),
        st.tuples(st.just("edit"), TEXT),
        st.tuples(st.just("object"), st.sampled_from(["rita", "ben"])),
        st.tuples(st.just("resolve"), st.integers(1, 3)),
        st.tuples(st.just("reopen"), st.integers(1, 3)),
        st.tuples(st.just("cut"), st.sampled_from(["ben", "maya"])),
        st.tuples(st.just("retitle"), TEXT),
        st.tuples(st.just("run"), st.tuples(st.integers(1, 5), st.integers(1, 3))),
        st.tuples(st.just("crash"), st.integers(0, 4)),
    ),
    min_size=1,
    max_size=18,
)


class FailingAfterApply(Projection):
    def __init__(self, inner: Projection) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]

    def load(self, tx: Tx) -> None:
        self.inner.load(tx)

    def apply(self, tx: Tx, events: Sequence[EventRecord]) -> None:
        self.inner.apply(tx, events)
        raise RuntimeError("killed mid-batch")


@contextlib.contextmanager
def fresh(backend: str) -> Iterator[tuple[Workspace, ReadStore, Settings]]:
    folder = Path(tempfile.mkdtemp(prefix="quire-prop-"))
    url, schema = database_url_for(backend, folder)
    cfg = Settings(
        database_url=url,
        signing_key_path=folder / "key.pem",
        snapshot_interval=4,
        pool_size=2,
    )
    app = Workspace({"CREATE_TABLE": "y"}, settings=cfg)
    store = ReadStore(cfg, app)
    try:
        create_read_models(store)
        yield app, store, cfg
    finally:
        store.close()
        app.close()
        if schema:
            drop_pg_schema(schema)
        shutil.rmtree(folder, ignore_errors=True)


class World:
    def __init__(self, app: Workspace) -> None:
        self.app = app
        for user in ("ben", "maya", "rita"):
            app.add_user(user, user.title(), roles=[])
        self.p = {u: app.get_user(u).principal() for u in ("ben", "maya", "rita")}
        self.packets: list[str] = []
        self.sections: dict[str, list[str]] = {}
        self.objections: dict[str, int] = {}

    def do(self, step: str, arg: Any) -> None:
        app, p = self.app, self.p
        if step == "open" or not self.packets:
            packet = app.open_packet(
                p["ben"],
                kind="k",
                title="T",
                release_owner="maya",
                authors=["ben"],
                reviewers=["rita"],
            )
            self.packets.append(str(packet.id))
            self.sections[str(packet.id)] = []
            self.objections[str(packet.id)] = 0
            if step == "open":
                return
        pid = self.packets[-1]
        if step == "section":
            sid = app.execute(pid, p["ben"], AddSection(heading="H", text=arg)).result
            self.sections[pid].append(sid)
        elif step == "edit" and self.sections[pid]:
            version = app.get_packet(pid).version
            app.edit_section(
                pid, p["maya"], self.sections[pid][-1], base_version=version, text=arg
            )
        elif step == "object":
            app.execute(pid, p[arg], RaiseObjection(target={}, text="why"))
            self.objections[pid] += 1
        elif step == "resolve" and arg <= self.objections[pid]:
            app.execute(
                pid,
                p["maya"],
                ResolveObjection(objection_id=f"obj-{arg}", resolution="done"),
            )
        elif step == "reopen" and arg <= self.objections[pid]:
            app.execute(
                pid,
                p["rita"],
                ReopenObjection(objection_id=f"obj-{arg}", reason="again"),
            )
        elif step == "cut":
            app.execute(pid, p[arg], CutRevision(None))
        elif step == "retitle":
            app.update_packet(
                pid,
                p["ben"],
                "edit",
                lambda k: k.retitle(app.meta(p["ben"]), arg + "t"),
            )


def dump(store: ReadStore) -> dict[str, list[tuple[Any, ...]]]:
    tables = [t for t in read_model_tables() if t != "audit_checkpoints"]
    with store.read() as tx:
        return {t: sorted(tx.all(f"SELECT * FROM {t}"), key=repr) for t in tables}


def check(backend: str, steps: list[tuple[str, Any]]) -> None:
    with fresh(backend) as (app, store, cfg):
        world = World(app)
        session = store.session()
        try:
            for step, arg in steps:
                if step == "run":
                    batch, batches = arg
                    for projection in all_projections(cfg):
                        driver = Driver(store, projection, batch_size=batch)
                        for _ in range(batches):
                            driver.run_batch(session)
                elif step == "crash":
                    projection = all_projections(cfg)[arg]
                    with contextlib.suppress(RuntimeError):
                        Driver(store, FailingAfterApply(projection)).run_batch(session)
                else:
                    with contextlib.suppress(QuireError):
                        world.do(step, arg)
            for projection in all_projections(cfg):
                Driver(store, projection, batch_size=3).catch_up(session)
            incremental = dump(store)
            with session.transaction() as tx:
                for table in read_model_tables():
                    tx.execute(f"DELETE FROM {table}")
                tx.execute("DELETE FROM projection_tracking")
            for projection in all_projections(cfg):
                Driver(store, projection).catch_up(session)
            assert dump(store) == incremental
            head = app.recorder.max_notification_id()
            assert len(incremental["audit_log"]) == head
        finally:
            session.close()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_incremental_projections_equal_a_rebuild_on_sqlite(
    steps: list[tuple[str, Any]],
) -> None:
    check("sqlite", steps)


@pytest.mark.postgres
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_incremental_projections_equal_a_rebuild_on_postgres(
    steps: list[tuple[str, Any]],
) -> None:
    check("postgres", steps)
